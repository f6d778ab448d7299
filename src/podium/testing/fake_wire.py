"""Answers in each vendor's wire format, for :mod:`podium.testing.fake_server` (pure functions, no I/O).

:func:`vendor_of` tells the API from a request path; :func:`render` turns an answer (text and tool calls)
into what that API sends: a JSON body, or a stream as a list of pieces (one SSE event, NDJSON line or AWS
event-stream frame each) whose last ``terminal`` pieces are the stream's end signal (``[DONE]``,
``message_stop``, ``response.completed``, the chunk with ``finishReason``, ``messageStop`` + ``metadata``,
``message-end`` + ``[DONE]``, the line with ``done: true``). :func:`error_body` gives each API's error shape.

The shapes follow the recorded exchanges in ``tests/cassettes`` (see its INDEX.md), cut down to what the
provider modules read.
"""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = ["Rendered", "Vendor", "error_body", "render", "vendor_of"]

Vendor: TypeAlias = Literal[
    "openai-chat", "openai-responses", "anthropic", "google", "bedrock", "cohere", "ollama", "ollama-generate"
]
Call: TypeAlias = tuple[str, Mapping[str, Any]]


@dataclass
class Rendered:
    """One answer in a vendor's format."""

    content_type: str
    """The ``content-type`` the API sends with it."""
    body: bytes = b""
    """The whole body (a non-streamed answer)."""
    pieces: list[bytes] = field(default_factory=list)
    """The stream, one event (or line, or frame) per item."""
    terminal: int = 0
    """How many of the last ``pieces`` make up the end signal of the stream."""


def vendor_of(path: str) -> Vendor | None:
    """The API a request path belongs to, or ``None``."""
    if path.endswith("/chat/completions"):
        return "openai-chat"
    if path.endswith("/responses"):
        return "openai-responses"
    if path.endswith("/messages"):
        return "anthropic"
    if path.endswith((":generateContent", ":streamGenerateContent")):
        return "google"
    if path.endswith(("/converse", "/converse-stream")):
        return "bedrock"
    if path.endswith("/v2/chat"):
        return "cohere"
    if path.endswith("/api/chat"):
        return "ollama"
    if path.endswith("/api/generate"):
        return "ollama-generate"
    return None


def _pieces(text: str, size: int = 8) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def render(vendor: Vendor, text: str, calls: Sequence[Call], *, stream: bool, model: str) -> Rendered:
    """``text`` and tool ``calls`` as ``vendor`` sends them (streamed or whole)."""
    return _RENDERERS[vendor](text, list(calls), stream, model or "fake-model")


# --------------------------------------------------------------------------- OpenAI Chat Completions


def _chat(text: str, calls: list[Call], stream: bool, model: str) -> Rendered:
    finish = "tool_calls" if calls else "stop"
    usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    wire_calls: list[dict[str, Any]] = [
        {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for n, (name, args) in enumerate(calls)
    ]
    base = {"id": "chatcmpl-fake", "created": 1, "model": model}
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if wire_calls:
            message["tool_calls"] = wire_calls
        body = {
            **base,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        return Rendered("application/json", json.dumps({**body, "usage": usage}).encode())

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return _sse({**base, "object": "chat.completion.chunk", "choices": [choice]})

    pieces = [chunk({"role": "assistant", "content": ""})]
    if text:
        pieces += [chunk({"content": piece}) for piece in _pieces(text)]
    for n, call in enumerate(wire_calls):
        function = call["function"]
        head = {
            "index": n,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": ""},
        }
        pieces.append(chunk({"tool_calls": [head]}))
        for piece in _pieces(function["arguments"]):
            pieces.append(chunk({"tool_calls": [{"index": n, "function": {"arguments": piece}}]}))
    pieces.append(chunk({}, finish))
    pieces.append(_sse({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}))
    pieces.append(_sse("[DONE]"))
    return Rendered("text/event-stream; charset=utf-8", pieces=pieces, terminal=1)


# --------------------------------------------------------------------------- OpenAI Responses


def _responses(text: str, calls: list[Call], stream: bool, model: str) -> Rendered:
    items: list[dict[str, Any]] = []
    if text or not calls:
        content = [{"type": "output_text", "text": text, "annotations": []}]
        items.append(
            {"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant", "content": content}
        )
    for n, (name, args) in enumerate(calls):
        items.append(
            {
                "type": "function_call",
                "id": f"fc_{n}",
                "call_id": f"call_{n}",
                "name": name,
                "arguments": json.dumps(args),
                "status": "completed",
            }
        )
    usage = {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}
    response = {"id": "resp_fake", "object": "response", "created_at": 1, "model": model, "usage": usage}
    done = {**response, "status": "completed", "output": items}
    if not stream:
        return Rendered("application/json", json.dumps(done).encode())
    seq = iter(range(10_000))

    def event(kind: str, **data: Any) -> bytes:
        return _sse({"type": kind, "sequence_number": next(seq), **data}, kind)

    pieces = [event("response.created", response={**response, "status": "in_progress", "output": []})]
    for index, item in enumerate(items):
        if item["type"] == "message":
            added = {**item, "status": "in_progress", "content": []}
            pieces.append(event("response.output_item.added", output_index=index, item=added))
            part = {"type": "output_text", "text": "", "annotations": []}
            pieces.append(event("response.content_part.added", output_index=index, content_index=0, part=part))
            for piece in _pieces(item["content"][0]["text"]) if item["content"][0]["text"] else []:
                pieces.append(
                    event(
                        "response.output_text.delta",
                        item_id=item["id"],
                        output_index=index,
                        content_index=0,
                        delta=piece,
                    )
                )
        else:
            added = {**item, "status": "in_progress", "arguments": ""}
            pieces.append(event("response.output_item.added", output_index=index, item=added))
            for piece in _pieces(item["arguments"]):
                pieces.append(
                    event("response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=piece)
                )
        pieces.append(event("response.output_item.done", output_index=index, item=item))
    pieces.append(event("response.completed", response=done))
    return Rendered("text/event-stream; charset=utf-8", pieces=pieces, terminal=1)


# --------------------------------------------------------------------------- Anthropic Messages


def _anthropic(text: str, calls: list[Call], stream: bool, model: str) -> Rendered:
    blocks: list[dict[str, Any]] = []
    if text or not calls:
        blocks.append({"type": "text", "text": text})
    for n, (name, args) in enumerate(calls):
        blocks.append({"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": dict(args)})
    stop = "tool_use" if calls else "end_turn"
    usage = {"input_tokens": 5, "output_tokens": 7}
    message = {"id": "msg_fake", "type": "message", "role": "assistant", "model": model}
    if not stream:
        whole = {**message, "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage}
        return Rendered("application/json", json.dumps(whole).encode())
    start: dict[str, Any] = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    pieces = [_sse({"type": "message_start", "message": start}, "message_start"), _sse({"type": "ping"}, "ping")]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"])] if block["text"] else []
        else:
            opening = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _pieces(json.dumps(block["input"]))]
        pieces.append(
            _sse({"type": "content_block_start", "index": index, "content_block": opening}, "content_block_start")
        )
        pieces += [
            _sse({"type": "content_block_delta", "index": index, "delta": d}, "content_block_delta") for d in deltas
        ]
        pieces.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": 7},
    }
    pieces.append(_sse(delta, "message_delta"))
    pieces.append(_sse({"type": "message_stop"}, "message_stop"))
    return Rendered("text/event-stream; charset=utf-8", pieces=pieces, terminal=1)


# --------------------------------------------------------------------------- Google Gemini


def _google(text: str, calls: list[Call], stream: bool, model: str) -> Rendered:
    usage = {"promptTokenCount": 5, "candidatesTokenCount": 7, "totalTokenCount": 12}
    parts: list[dict[str, Any]] = [{"text": text}] if text else []
    parts += [{"functionCall": {"name": name, "args": dict(args)}} for name, args in calls]

    def chunk(chunk_parts: list[dict[str, Any]], finish: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": chunk_parts, "role": "model"}, "index": 0}
        data: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake"}
        if finish:
            candidate["finishReason"] = "STOP"
            data["usageMetadata"] = usage
        return data

    if not stream:
        return Rendered("application/json; charset=UTF-8", json.dumps(chunk(parts, True)).encode())
    pieces = [
        _sse(chunk([{"text": piece}], False)).replace(b"\n", b"\r\n") for piece in (_pieces(text) if text else [])
    ]
    pieces += [_sse(chunk([part], False)).replace(b"\n", b"\r\n") for part in parts if "functionCall" in part]
    pieces.append(_sse(chunk([{"text": ""}], True)).replace(b"\n", b"\r\n"))
    return Rendered("text/event-stream", pieces=pieces, terminal=1)


# --------------------------------------------------------------------------- AWS Bedrock Converse


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def event_frame(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """One AWS event-stream frame: prelude, string headers, JSON payload, CRC32 checksums."""
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def _bedrock(text: str, calls: list[Call], stream: bool, model: str) -> Rendered:
    stop = "tool_use" if calls else "end_turn"
    usage = {"inputTokens": 5, "outputTokens": 7, "totalTokens": 12}
    content: list[dict[str, Any]] = [{"text": text}] if text or not calls else []
    content += [
        {"toolUse": {"toolUseId": f"tooluse_{n}", "name": name, "input": dict(args)}}
        for n, (name, args) in enumerate(calls)
    ]
    if not stream:
        whole = {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": usage,
            "metrics": {"latencyMs": 1},
        }
        return Rendered("application/json", json.dumps(whole).encode())
    pieces = [event_frame("messageStart", {"role": "assistant"})]
    for index, block in enumerate(content):
        if "text" in block:
            for piece in _pieces(block["text"]) if block["text"] else []:
                pieces.append(event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}))
        else:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            pieces.append(event_frame("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            for piece in _pieces(json.dumps(use["input"])):
                delta = {"toolUse": {"input": piece}}
                pieces.append(event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        pieces.append(event_frame("contentBlockStop", {"contentBlockIndex": index}))
    pieces.append(event_frame("messageStop", {"stopReason": stop}))
    pieces.append(event_frame("metadata", {"usage": usage, "metrics": {"latencyMs": 1}}))
    return Rendered("application/vnd.amazon.eventstream", pieces=pieces, terminal=2)


# --------------------------------------------------------------------------- Cohere v2


def _cohere(text: str, calls: list[Call], stream: bool, model: str) -> Rendered:
    finish = "TOOL_CALL" if calls else "COMPLETE"
    usage = {"billed_units": {"input_tokens": 5, "output_tokens": 7}, "tokens": {"input_tokens": 5, "output_tokens": 7}}
    wire_calls: list[dict[str, Any]] = [
        {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for n, (name, args) in enumerate(calls)
    ]
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": [{"type": "text", "text": text}] if text else []}
        if wire_calls:
            message["tool_calls"] = wire_calls
        whole = {"id": "fake", "message": message, "finish_reason": finish, "usage": usage}
        return Rendered("application/json", json.dumps(whole).encode())

    def event(kind: str, **data: Any) -> bytes:
        return _sse({"type": kind, **data}, kind)

    start: dict[str, Any] = {
        "message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
    }
    pieces = [event("message-start", id="fake", delta=start)]
    if text:
        pieces.append(event("content-start", index=0, delta={"message": {"content": {"type": "text", "text": ""}}}))
        for piece in _pieces(text):
            pieces.append(event("content-delta", index=0, delta={"message": {"content": {"text": piece}}}))
        pieces.append(event("content-end", index=0))
    for n, call in enumerate(wire_calls):
        head = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        pieces.append(event("tool-call-start", index=n, delta={"message": {"tool_calls": head}}))
        for piece in _pieces(call["function"]["arguments"]):
            tool_delta = {"message": {"tool_calls": {"function": {"arguments": piece}}}}
            pieces.append(event("tool-call-delta", index=n, delta=tool_delta))
        pieces.append(event("tool-call-end", index=n))
    pieces.append(event("message-end", delta={"finish_reason": finish, "usage": usage}))
    pieces.append(_sse("[DONE]"))
    return Rendered("text/event-stream", pieces=pieces, terminal=2)


# --------------------------------------------------------------------------- Ollama native


def _ollama(text: str, calls: list[Call], stream: bool, model: str, *, generate: bool = False) -> Rendered:
    stamp = {"model": model, "created_at": "2026-01-01T00:00:00Z"}
    end = {"done": True, "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 7, "total_duration": 1}
    wire_calls = [{"function": {"name": name, "arguments": dict(args)}} for name, args in calls]

    def line(content: str, tool_calls: list[Any] | None = None, final: bool = False) -> dict[str, Any]:
        if generate:
            data: dict[str, Any] = {**stamp, "response": content}
        else:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if tool_calls:
                message["tool_calls"] = tool_calls
            data = {**stamp, "message": message}
        return {**data, **end} if final else {**data, "done": False}

    if not stream:
        return Rendered("application/json; charset=utf-8", json.dumps(line(text, wire_calls, True)).encode())
    pieces = [(json.dumps(line(piece)) + "\n").encode() for piece in (_pieces(text) if text else [])]
    if wire_calls and not generate:
        pieces.append((json.dumps(line("", wire_calls)) + "\n").encode())
    pieces.append((json.dumps(line("", None, True)) + "\n").encode())
    return Rendered("application/x-ndjson", pieces=pieces, terminal=1)


def _ollama_generate(text: str, calls: list[Call], stream: bool, model: str) -> Rendered:
    return _ollama(text, calls, stream, model, generate=True)


_RENDERERS = {
    "openai-chat": _chat,
    "openai-responses": _responses,
    "anthropic": _anthropic,
    "google": _google,
    "bedrock": _bedrock,
    "cohere": _cohere,
    "ollama": _ollama,
    "ollama-generate": _ollama_generate,
}


_ERROR_KINDS = {429: ("rate_limit_error", "RESOURCE_EXHAUSTED", "ThrottlingException")}


def error_body(vendor: Vendor | None, status: int, message: str) -> tuple[bytes, dict[str, str]]:
    """An error body in ``vendor``'s shape, and the extra headers that go with it."""
    anthropic_kind, google_status, aws_code = _ERROR_KINDS.get(
        status,
        ("api_error", "INTERNAL", "InternalServerException")
        if status >= 500
        else ("invalid_request_error", "INVALID_ARGUMENT", "ValidationException"),
    )
    if status == 529:
        anthropic_kind = "overloaded_error"
    headers: dict[str, str] = {}
    body: Any
    if vendor == "anthropic":
        body = {"type": "error", "error": {"type": anthropic_kind, "message": message}}
    elif vendor == "google":
        body = {"error": {"code": status, "message": message, "status": google_status}}
    elif vendor == "bedrock":
        body = {"message": message}
        headers["x-amzn-ErrorType"] = f"{aws_code}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    elif vendor == "cohere":
        body = {"id": "fake", "message": message}
    elif vendor in ("ollama", "ollama-generate"):
        body = {"error": message}
    else:
        body = {"error": {"message": message, "type": anthropic_kind, "code": None}}
    return json.dumps(body).encode(), headers
