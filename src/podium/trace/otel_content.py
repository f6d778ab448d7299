"""Message contents in the shapes of the OpenTelemetry GenAI conventions (for :mod:`podium.trace.otel`).

Trace records hold Podium's message dicts (``{"role", "parts": [{"type": "text", "text"}, ...]}``); the
conventions' opt-in attributes hold JSON of their own shapes: messages ``{"role", "parts", "finish_reason"?}``
with parts ``text`` (``content``), ``tool_call`` (``id``, ``name``, ``arguments``), ``tool_call_response``
(``id``, ``response``), ``reasoning`` (``content``), ``uri`` and ``blob`` (``modality``, ``mime_type``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["input_messages", "output_messages", "system_instructions", "tool_definitions"]

BLOB_LIMIT = 65_536
"""Inline media larger than this (base64 characters) is written without its bytes (``content`` is ``None``)."""


def input_messages(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The conversation sent, system messages left out (they are :func:`system_instructions`)."""
    out = []
    for message in messages:
        role = str(message.get("role") or "user")
        if role == "system":
            continue
        out.append({"role": role, "parts": convert_parts(message.get("parts"))})
    return out


def system_instructions(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The parts of the system messages."""
    parts: list[dict[str, Any]] = []
    for message in messages:
        if message.get("role") == "system":
            parts.extend(convert_parts(message.get("parts")))
    return parts


def output_messages(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A model response (its dict) as the one output message of the conventions."""
    message: dict[str, Any] = {"role": "assistant", "parts": convert_parts(response.get("parts"))}
    if isinstance(response.get("finish_reason"), str):
        message["finish_reason"] = response["finish_reason"]
    return [message]


def tool_definitions(tools: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Encoded :class:`~podium.settings.ToolDefinition` dicts as the conventions' tool definitions."""
    return [
        {
            "type": "function",
            "name": tool.get("name"),
            "description": tool.get("description"),
            "parameters": tool.get("parameters"),
        }
        for tool in tools
    ]


def convert_parts(parts: Any) -> list[dict[str, Any]]:
    """Podium part dicts as the conventions' parts (parts with no meaning to them are left out)."""
    out: list[dict[str, Any]] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, Mapping):
            continue
        converted = _part(part)
        if converted is not None:
            out.append(converted)
    return out


def _part(part: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "content": part.get("text", "")}
    if kind == "thinking":
        return {"type": "reasoning", "content": part.get("text", "")}
    if kind == "tool_call":
        return {"type": "tool_call", "id": part.get("id"), "name": part.get("name"), "arguments": part.get("args")}
    if kind == "tool_result":
        content = convert_parts(part.get("content"))
        texts = [p["content"] for p in content if p.get("type") == "text"]
        response: Any = "\n".join(texts) if len(texts) == len(content) else content
        out = {"type": "tool_call_response", "id": part.get("call_id"), "response": response}
        if part.get("is_error"):
            out["is_error"] = True
        return out
    if kind in ("image", "file"):
        return _media(part, str(kind))
    return None


def _media(part: Mapping[str, Any], kind: str) -> dict[str, Any]:
    mime = part.get("media_type")
    modality = "image" if kind == "image" else _modality(mime)
    if isinstance(part.get("url"), str):
        return {"type": "uri", "modality": modality, "mime_type": mime, "uri": part["url"]}
    data = part.get("data")
    content = data if isinstance(data, str) and len(data) <= BLOB_LIMIT else None
    return {"type": "blob", "modality": modality, "mime_type": mime, "content": content}


def _modality(mime: Any) -> str:
    if isinstance(mime, str):
        for modality in ("image", "video", "audio"):
            if mime.startswith(modality + "/"):
                return modality
    return "file"
