"""Universal messages, tools and settings -> an OpenAI Chat Completions request body. Pure, no I/O.

Shared by every provider that speaks the Chat Completions wire format (see
:mod:`podium.providers.chat_dialect` for what differs between them). The other direction, wire
response and stream chunks -> universal, is in :mod:`podium.providers.chat_stream`.

Rules and fallbacks (Chat Completions has no place for some universal parts):

* **System** messages use the dialect's role (``system``, ``developer``, or ``user`` for models that take
  neither). A message whose content is one plain text is sent as a string, otherwise as a list of parts.
* **Images** go as ``image_url`` (a URL, or a ``data:`` URL for bytes); ``Image.provider_details["detail"]``
  becomes the ``detail`` field. **Audio** files (wav, mp3) go as ``input_audio`` and need bytes. **PDFs and
  other files** go as ``file`` with ``file_data`` (a ``data:`` URL) and a file name, or ``file_id`` from
  ``File.provider_details["file_id"]``; a file given only by URL raises :class:`~podium.exceptions.UserError`
  (the API cannot fetch it). Text files (``text/*``, JSON) are inlined as text.
* A :class:`File` with an ``image/*`` type goes as an image.
* **Unsupported media**: a dialect with ``images=False`` (DeepSeek) or ``files=False`` (DeepSeek, Groq) raises
  :class:`~podium.exceptions.UserError` for an image, or a PDF, audio or other binary file, in a user message
  or a tool result, before anything is sent; remove those parts (or describe them in text) when switching a
  conversation to it. Text files are inlined either way.
* **Tool results** become one ``tool`` message per call, their text joined by newlines; an error result is
  prefixed with ``Error:`` (the wire has no error flag). Tool messages take text only, so images and files
  in a result are replaced by ``See file <id>.`` and sent in a ``user`` message right after the tool
  messages, introduced by ``This is file <id>:`` (``<id>`` is the first 6 hex digits of the SHA-1 of the
  bytes, or of the URL).
* **Thinking** is sent back only as the dialect says (DeepSeek ``reasoning_content``, OpenRouter
  ``reasoning_details``); other providers do not take reasoning in the input, so it is dropped. Thinking from
  another provider follows :func:`podium.providers.conversion.prepare_parts`.
* An assistant turn of another provider with nothing left to send (only its thinking, dropped) is left out.
* **Tool-call ids** are sent as they are when they match ``[a-zA-Z0-9_-]{1,64}``, else mapped
  deterministically (:func:`~podium.providers.conversion.map_tool_call_id`), the same for a call and its result.
  The exact argument string the provider returned is sent back when it is known (kept in
  ``ToolCall.provider_details["arguments"]`` when it differs from the compact JSON), so prompt caches keep
  hitting.
* **Cache points** follow the dialect (:data:`~podium.providers.chat_dialect.CacheMarks`).
* **Provider parts** of this provider inside a user message are sent verbatim as content parts; an audio
  answer (``ProviderPart(provider, {"type": "audio", ...})``) goes back as ``audio: {"id": ...}``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from podium.exceptions import UserError
from podium.messages import CachePoint
from podium.messages import File
from podium.messages import Image
from podium.messages import Message
from podium.messages import Part
from podium.messages import ProviderPart
from podium.messages import Text
from podium.messages import Thinking
from podium.messages import ToolCall
from podium.messages import ToolResult
from podium.providers.chat_dialect import ChatDialect
from podium.providers.conversion import error_text
from podium.providers.conversion import map_tool_call_id
from podium.providers.conversion import prepare_parts
from podium.providers.conversion import same_provider
from podium.settings import ModelSettings
from podium.settings import OutputSchema
from podium.settings import ToolDefinition

__all__ = ["build_body", "effort_of", "file_id", "messages_to_wire", "strict_schema", "tool_to_wire"]

logger = logging.getLogger("podium.providers")

JsonDict = dict[str, Any]

_AUDIO_FORMATS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/yaml", "application/x-yaml")
_EXTENSIONS = {"application/pdf": "pdf", "text/plain": "txt", "text/csv": "csv", "text/markdown": "md"}


def file_id(part: Image | File) -> str:
    """A short stable id for an image or file: the first 6 hex digits of the SHA-1 of its bytes (or URL)."""
    source = part.data if part.data is not None else (part.url or "").encode()
    return hashlib.sha1(source).hexdigest()[:6]


def _data_url(data: bytes, media_type: str | None) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _image(part: Image) -> JsonDict:
    url = part.url if part.url is not None else _data_url(part.data or b"", part.media_type)
    image_url: JsonDict = {"url": url}
    detail = (part.provider_details or {}).get("detail")
    if detail is not None:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}


def _unsupported(dialect: ChatDialect, what: str, part: str, other: str) -> UserError:
    return UserError(
        f"{dialect.provider} takes no {what}: remove the {part} parts from the conversation (or describe them "
        f"in a Text part) before sending it to {dialect.provider}, or use a model that takes {other}"
    )


def _media(part: Image | File, dialect: ChatDialect) -> JsonDict:
    """The content part for an image or a file, as far as the dialect takes them."""
    media_type = (part.media_type or "").split(";")[0].strip().lower()
    if isinstance(part, File) and media_type.startswith("image/"):
        part = Image(part.data, part.url, part.media_type, part.provider_details)
    if isinstance(part, Image):
        if not dialect.images:
            raise _unsupported(dialect, "images", "Image", "images")
        return _image(part)
    if part.data is not None and media_type.startswith(_TEXT_TYPES):
        return _file(part, dialect.provider)  # inlined as text
    if not dialect.files:
        raise _unsupported(dialect, f"{media_type or 'binary'} files", "File", "them")
    return _file(part, dialect.provider)


def _file(part: File, provider: str) -> JsonDict:
    details = part.provider_details or {}
    media_type = (part.media_type or "").split(";")[0].strip().lower()
    if details.get("file_id"):
        return {"type": "file", "file": {"file_id": details["file_id"]}}
    audio_format = _AUDIO_FORMATS.get(media_type)
    if audio_format is not None:
        if part.data is None:
            raise UserError(
                f"{provider}: audio input needs the bytes (File(data=..., media_type={media_type!r})); "
                f"the Chat Completions API cannot fetch {part.url!r}. Download it first."
            )
        return {
            "type": "input_audio",
            "input_audio": {"data": base64.b64encode(part.data).decode("ascii"), "format": audio_format},
        }
    if part.data is None:
        raise UserError(
            f"{provider}: the Chat Completions API takes files as bytes or an uploaded file id, not a URL "
            f"({part.url!r}). Download it and pass File(data=..., media_type=...), or upload it and pass "
            "File(url=..., provider_details={'file_id': 'file-...'})."
        )
    if media_type.startswith(_TEXT_TYPES):
        name = part.filename or f"file {file_id(part)}"
        text = part.data.decode("utf-8", "replace")
        return {"type": "text", "text": f"<file name={name!r}>\n{text}\n</file>"}
    filename = part.filename or f"file.{_EXTENSIONS.get(media_type, media_type.rsplit('/', 1)[-1] or 'bin')}"
    return {"type": "file", "file": {"file_data": _data_url(part.data, part.media_type), "filename": filename}}


def _cache_mark(target: JsonDict, point: CachePoint, dialect: ChatDialect, explicit: bool) -> None:
    if dialect.cache_marks == "anthropic":
        control: JsonDict = {"type": "ephemeral"}
        if point.ttl:
            control["ttl"] = point.ttl
        target["cache_control"] = control
    elif dialect.cache_marks == "openai" and explicit:
        target["prompt_cache_breakpoint"] = {"mode": "explicit"}


def _content(parts: Sequence[Part], dialect: ChatDialect, explicit: bool) -> str | list[JsonDict]:
    """User or system content: a string for one plain text, else a list of content parts."""
    if len(parts) == 1 and type(parts[0]) is Text:
        return parts[0].text
    content: list[JsonDict] = []
    for part in parts:
        if isinstance(part, Text):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, (Image, File)):
            content.append(_media(part, dialect))
        elif isinstance(part, CachePoint):
            if content:
                _cache_mark(content[-1], part, dialect, explicit)
        elif isinstance(part, ProviderPart):
            content.append(dict(part.data))
        elif isinstance(part, Thinking):  # thinking turned into text is already a Text part
            continue
        else:  # pragma: no cover - ToolCall / ToolResult are handled by the caller
            raise UserError(f"{dialect.provider}: a {part.type} part cannot be sent in a user message")
    if len(content) == 1 and content[0].get("type") == "text" and len(content[0]) == 2:
        return str(content[0]["text"])
    return content


def _tool_result(part: ToolResult, media: list[Image | File]) -> str:
    pieces: list[str] = []
    for item in part.content:
        if isinstance(item, Text):
            pieces.append(item.text)
        else:
            media.append(item)
            pieces.append(f"See file {file_id(item)}.")
    text = "\n".join(pieces)
    return error_text(text) if part.is_error else text


def _assistant(message: Message, parts: Sequence[Part], dialect: ChatDialect) -> JsonDict:
    own = same_provider(message, dialect.provider)
    texts: list[str] = []
    calls: list[JsonDict] = []
    reasoning: list[str] = []
    details: list[Any] = []
    out: JsonDict = {"role": "assistant"}
    for part in parts:
        if isinstance(part, Text):
            if own and part.provider_details and part.provider_details.get("refusal"):
                out["refusal"] = part.text
            else:
                texts.append(part.text)
        elif isinstance(part, ToolCall):
            arguments = part.args_json
            if own and part.provider_details and isinstance(part.provider_details.get("arguments"), str):
                arguments = part.provider_details["arguments"]
            calls.append(
                {
                    "id": map_tool_call_id(part.id),
                    "type": "function",
                    "function": {"name": part.name, "arguments": arguments},
                }
            )
        elif isinstance(part, Thinking):
            if part.provider in (None, dialect.provider):
                reasoning.append(part.text)
                if part.provider_details and isinstance(part.provider_details.get("reasoning_details"), list):
                    details.extend(part.provider_details["reasoning_details"])
        elif isinstance(part, ProviderPart) and part.data.get("type") == "audio" and part.data.get("id"):
            out["audio"] = {"id": part.data["id"]}
    out["content"] = "".join(texts) if texts else (None if calls or "audio" in out else "")
    if calls:
        out["tool_calls"] = calls
    if dialect.reasoning_echo == "reasoning_content" and calls:
        out["reasoning_content"] = "".join(reasoning)
    elif dialect.reasoning_echo == "reasoning_details" and details:
        out["reasoning_details"] = details
    elif dialect.reasoning_echo == "reasoning" and any(reasoning):
        out["reasoning"] = "".join(reasoning)
    return out


def messages_to_wire(
    messages: Sequence[Message], dialect: ChatDialect, settings: ModelSettings | None = None
) -> list[JsonDict]:
    """The ``messages`` list of a Chat Completions request."""
    foreign = settings.foreign_thinking if settings is not None else None
    explicit = False
    if dialect.cache_marks == "openai" and settings is not None:
        options = settings.for_provider(dialect.provider).get("prompt_cache_options")
        explicit = isinstance(options, Mapping) and options.get("mode") == "explicit"
    provider = dialect.provider
    out: list[JsonDict] = []
    for message in messages:
        parts = prepare_parts(message, provider, foreign_thinking=foreign)
        role = message.role
        if role == "assistant":
            if parts or not message.parts:
                out.append(_assistant(message, parts, dialect))
            continue  # a turn of another provider with nothing left to send (only its thinking)
        if role == "system":
            out.append({"role": dialect.system_role, "content": _content(parts, dialect, explicit)})
            continue
        media: list[Image | File] = []
        rest: list[Part] = []
        for part in parts:
            if isinstance(part, ToolResult):
                content = _tool_result(part, media)
                out.append({"role": "tool", "tool_call_id": map_tool_call_id(part.call_id), "content": content})
            elif isinstance(part, ToolCall):
                raise UserError(f"{provider}: tool calls belong in assistant messages, found one in a {role} message")
            else:
                rest.append(part)
        if media:
            files: list[JsonDict] = []
            for item in media:
                files.append({"type": "text", "text": f"This is file {file_id(item)}:"})
                files.append(_media(item, dialect))
            out.append({"role": "user", "content": files})
        if rest and not all(isinstance(p, CachePoint) for p in rest):
            out.append({"role": "user", "content": _content(rest, dialect, explicit)})
    return out


def tool_to_wire(tool: ToolDefinition) -> JsonDict:
    """One ``tools`` entry."""
    function: JsonDict = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def effort_of(thinking: bool | str | int, *, can_disable: bool = True) -> str | None:
    """A ``reasoning_effort`` value for the portable thinking setting (``None``: the model's default).

    ``False`` is ``minimal`` (the lowest effort; models that cannot think less get ``low``), an integer
    budget is bucketed: under 4,096 tokens ``low``, under 16,384 ``medium``, else ``high``.
    """
    if thinking is True:
        return None
    if thinking is False:
        return "minimal" if can_disable else "low"
    if isinstance(thinking, int):
        return "low" if thinking < 4096 else "medium" if thinking < 16384 else "high"
    return thinking


def strict_schema(schema: Mapping[str, Any]) -> JsonDict | None:
    """``schema`` closed for strict mode (``additionalProperties: false`` on every object), or ``None``.

    Strict JSON-schema mode (OpenAI, Groq) needs every object closed and every property required. A schema
    whose objects list all their properties as required is closed here (a copy); one with optional
    properties or open objects cannot be strict, and ``None`` is returned (the request is then non-strict).
    """

    def close(node: Any) -> Any:
        if isinstance(node, list):
            return [close(item) for item in node]
        if not isinstance(node, Mapping):
            return node
        out: JsonDict = {}
        for key, value in node.items():
            if key in _SCHEMA_MAPS and isinstance(value, Mapping):
                out[key] = {name: close(sub) for name, sub in value.items()}
            elif key in _SCHEMA_DATA:
                out[key] = value
            else:
                out[key] = close(value)
        if node.get("type") == "object" or "properties" in node:
            properties = node.get("properties") or {}
            if set(node.get("required") or ()) != set(properties):
                raise _NotStrict
            extra = node.get("additionalProperties", False)
            if extra is not False:
                raise _NotStrict
            out["additionalProperties"] = False
        return out

    try:
        result = close(schema)
    except _NotStrict:
        return None
    return dict(result)


class _NotStrict(Exception):
    pass


_SCHEMA_MAPS = frozenset(("properties", "$defs", "definitions", "patternProperties"))
_SCHEMA_DATA = frozenset(("enum", "const", "default", "examples", "required"))


def _thinking(body: JsonDict, thinking: bool | str | int, dialect: ChatDialect) -> None:
    style = dialect.thinking_param
    if style == "reasoning_effort":
        effort = effort_of(thinking, can_disable=dialect.can_disable_thinking)
        if effort is not None:
            body["reasoning_effort"] = effort
    elif style == "openrouter":
        if isinstance(thinking, bool):
            body["reasoning"] = {"enabled": thinking}
        elif isinstance(thinking, int):
            body["reasoning"] = {"max_tokens": thinking}
        else:
            body["reasoning"] = {"effort": thinking}
    elif style == "deepseek":
        body["thinking"] = {"type": "enabled" if thinking is not False else "disabled"}
    elif style == "groq":
        if thinking is False:
            body["reasoning_format"] = "hidden"
        elif thinking is not True:
            body["reasoning_effort"] = effort_of(thinking)
    elif style == "chat_template":
        body["chat_template_kwargs"] = {"enable_thinking": thinking is not False}
        if not isinstance(thinking, bool):
            body["reasoning_effort"] = effort_of(thinking)
    else:
        logger.debug("%s: the thinking setting has no effect on this provider", dialect.provider)


def build_body(
    model_name: str,
    messages: Sequence[Message],
    dialect: ChatDialect,
    *,
    tools: Sequence[ToolDefinition] | None = None,
    settings: ModelSettings | None = None,
    output: OutputSchema | None = None,
    stream: bool = False,
) -> JsonDict:
    """The whole request body; ``settings.extra[dialect.provider]`` is merged in last."""
    body: JsonDict = {"model": model_name, "messages": messages_to_wire(messages, dialect, settings)}
    if tools:
        body["tools"] = [tool_to_wire(t) for t in tools]
    if settings is not None:
        _apply_settings(body, settings, dialect, bool(tools))
    if output is not None:
        closed = strict_schema(output.schema) if output.strict else None
        if output.strict and closed is None:
            logger.debug(
                "%s: output schema %r cannot be strict (optional fields); sent non-strict",
                dialect.provider,
                output.name,
            )
        schema: JsonDict = {"name": output.name, "schema": closed or output.schema, "strict": closed is not None}
        if output.description:
            schema["description"] = output.description
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    if stream:
        body["stream"] = True
        if dialect.stream_usage:
            body["stream_options"] = {"include_usage": True}
    if settings is not None:
        extra = settings.for_provider(dialect.provider)
        if extra:
            body.update(extra)
    return body


def _apply_settings(body: JsonDict, s: ModelSettings, dialect: ChatDialect, has_tools: bool) -> None:
    if dialect.sampling:
        if s.temperature is not None:
            body["temperature"] = s.temperature
        if s.top_p is not None:
            body["top_p"] = s.top_p
    elif s.temperature is not None or s.top_p is not None:
        logger.debug("%s: temperature/top_p left out, the model does not take them", dialect.provider)
    if s.max_tokens is not None:
        body[dialect.max_tokens_field] = s.max_tokens
    if s.stop:
        body["stop"] = [s.stop] if isinstance(s.stop, str) else list(s.stop)
    if s.seed is not None:
        body["seed"] = s.seed
    if s.tool_choice is not None:
        choice = s.tool_choice
        if choice in ("auto", "required", "none"):
            if has_tools:
                body["tool_choice"] = choice
        elif not has_tools:
            raise UserError(f"tool_choice={choice!r} names a tool, but no tools are offered in this request")
        else:
            body["tool_choice"] = {"type": "function", "function": {"name": choice}}
    if s.parallel_tool_calls is not None and has_tools:
        body["parallel_tool_calls"] = s.parallel_tool_calls
    if s.thinking is not None:
        _thinking(body, s.thinking, dialect)
