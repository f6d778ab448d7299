"""MCP values to Podium values: content blocks to parts, tool results to ``ToolResult`` s, schemas kept whole.

* ``text`` -> :class:`~podium.messages.Text`; ``image`` -> :class:`~podium.messages.Image` (bytes and media
  type); ``audio`` -> :class:`~podium.messages.File` with its audio media type.
* ``resource`` (embedded): text contents -> ``Text`` headed by the resource's URI; a blob -> ``Text`` when
  its media type is text (and it is UTF-8), ``Image`` when it is an image, else ``File`` (named after the URI).
* ``resource_link`` -> ``Text`` naming the link (URI, name, media type): the model can read it with the
  ``read_resource`` tool when resources are exposed; providers cannot fetch ``file://`` or custom schemes.
* ``structuredContent`` is kept in ``ToolResult.provider_details["mcp_structured_content"]``; when the
  server sent no text besides, its JSON becomes a ``Text`` part too, so the model sees it.
* ``isError`` -> ``ToolResult(is_error=True)`` with the same parts: the model sees what went wrong.

Input schemas are passed on as the server wrote them (``anyOf``, ``oneOf``, nullable types, enums, nested
objects, ``$defs`` and ``$ref`` s); the provider layer fits them to each vendor.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from podium.messages import ContentPart, File, Image, Text, ToolResult
from podium.tools.schema import FunctionSchema

__all__ = ["MCPArgs", "mcp_function_schema", "to_parts", "to_tool_result"]

logger = logging.getLogger("podium.mcp")

STRUCTURED_KEY = "mcp_structured_content"
"""Key of ``ToolResult.provider_details`` that keeps a result's ``structuredContent``."""


def _bytes(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"the server sent {what} that is not valid base64") from exc


_TEXT_TYPES = frozenset({"application/json", "application/xml", "application/yaml", "application/x-yaml"})


def _filename(uri: str) -> str | None:
    path = urlsplit(uri).path
    name = posixpath.basename(path.rstrip("/"))
    return name or None


def _resource_part(resource: Any) -> ContentPart:
    uri = str(resource.uri)
    mime = resource.mime_type
    text = getattr(resource, "text", None)
    if isinstance(text, str):
        return Text(f"[resource {uri}{f' ({mime})' if mime else ''}]\n{text}")
    data = _bytes(resource.blob, f"the resource {uri!r}")
    if mime and (mime.startswith("text/") or mime in _TEXT_TYPES):
        try:  # text sent as a blob: most providers take text, few take text files
            return Text(f"[resource {uri} ({mime})]\n{data.decode('utf-8')}")
        except UnicodeDecodeError:
            pass
    if mime and mime.startswith("image/"):
        return Image(data=data, media_type=mime)
    return File(data=data, media_type=mime or "application/octet-stream", filename=_filename(uri))


def to_parts(blocks: Sequence[Any]) -> list[ContentPart]:
    """Podium parts for MCP content blocks (tool results, prompt messages)."""
    parts: list[ContentPart] = []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(Text(block.text))
        elif kind == "image":
            parts.append(Image(data=_bytes(block.data, "an image"), media_type=block.mime_type))
        elif kind == "audio":
            parts.append(File(data=_bytes(block.data, "audio"), media_type=block.mime_type))
        elif kind == "resource":
            parts.append(_resource_part(block.resource))
        elif kind == "resource_link":
            facts = [f"uri: {block.uri}", f"name: {block.name}"]
            if block.mime_type:
                facts.append(f"type: {block.mime_type}")
            if block.description:
                facts.append(f"description: {block.description}")
            parts.append(Text("[resource link] " + "; ".join(facts)))
        else:  # a block type from a later protocol revision: keep what it says
            dump = block.model_dump(mode="json", by_alias=True) if isinstance(block, BaseModel) else block
            parts.append(Text(json.dumps(dump, ensure_ascii=False, default=str)))
    return parts


def to_tool_result(result: Any) -> ToolResult:
    """A :class:`ToolResult` (call id and name left empty: the executor fills them in) for a CallToolResult."""
    parts = to_parts(result.content)
    details: dict[str, Any] | None = None
    structured = result.structured_content
    if structured is not None:
        details = {STRUCTURED_KEY: structured}
        if not any(isinstance(p, Text) for p in parts):
            parts.append(Text(json.dumps(structured, ensure_ascii=False, default=str)))
    if not parts:
        parts.append(Text("(the tool returned no content)" if not result.is_error else "(the tool failed)"))
    return ToolResult("", "", tuple(parts), is_error=bool(result.is_error), provider_details=details)


class MCPArgs(BaseModel):
    """Arguments of an MCP tool: any JSON object (the server's schema is checked separately)."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True, slots=True)
class _MCPSchema(FunctionSchema):
    """A tool schema given by a server: validated with JSON Schema, passed on as a whole dict."""

    validator: Any = None

    def validate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``args`` against the server's schema; raises pydantic ``ValidationError`` listing each error."""
        if self.validator is not None:
            errors = sorted(self.validator.iter_errors(dict(args)), key=lambda e: list(e.absolute_path))
            if errors:
                raise ValidationError.from_exception_data(
                    "arguments",
                    [
                        {
                            "type": "value_error",
                            "loc": tuple(e.absolute_path) or ("(arguments)",),
                            "input": e.instance,
                            "ctx": {"error": ValueError(e.message)},
                        }
                        for e in errors[:10]
                    ],
                )
        return {"arguments": dict(args)}


def _object_schema(name: str, schema: Any) -> dict[str, Any]:
    """The server's input schema, with the one thing every provider needs: an object at the root."""
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        logger.warning("MCP tool %r: its input schema is not an object schema; any arguments are sent", name)
        return {"type": "object", "properties": {}, "additionalProperties": True}
    out = dict(schema)
    out["type"] = "object"
    out.setdefault("properties", {})
    return out


def _validator(schema: Mapping[str, Any]) -> Any:
    """A JSON Schema validator for ``schema``, or ``None`` when the schema is itself invalid (the server decides)."""
    try:
        import jsonschema
        from jsonschema import validators
    except ImportError:  # pragma: no cover - the mcp SDK depends on jsonschema
        return None
    try:
        cls = validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(dict(schema))
        return cls(schema)
    except Exception:  # an invalid or unresolvable schema: leave validation to the server
        return None


def mcp_function_schema(name: str, description: str, input_schema: Mapping[str, Any]) -> FunctionSchema:
    """The :class:`FunctionSchema` of an MCP tool: the server's schema as the parameters, a context parameter.

    The tool function is called as ``fn(ctx, arguments=dict)``.
    """
    parameters = _object_schema(name, input_schema)
    return _MCPSchema(
        name=name,
        description=description,
        parameters=parameters,
        args_model=MCPArgs,
        field_names=("arguments",),
        context_param="ctx",
        injected={},
        positional=(),
        is_async=True,
        validator=_validator(parameters),
    )
