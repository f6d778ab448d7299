"""Universal <-> Mistral chat-completions wire format: pure functions, no SDK, no I/O.

Used by :mod:`podium.providers.mistral` for requests and streams, sync and async alike.

Mapping rules (documented fallbacks):

* **Thinking**: Mistral's ``thinking`` content chunks (Magistral) become :class:`Thinking` parts with
  ``provider="mistral"`` and the chunk's ``signature``; on later turns they are sent back as
  ``thinking`` chunks. Thinking from other providers follows :func:`prepare_parts` (dropped, or sent
  as text with ``foreign_thinking="text"``).
* **Tool-call ids** must be 9 alphanumeric characters; other ids (from another provider) are mapped
  with :func:`map_tool_call_id`, so a call and its result get the same id.
* An assistant message with nothing to send (no content, no tool calls: say another provider's turn
  that held only its thinking) is left out; the API rejects it.
* **Failed tool results**: Mistral's tool messages have no error flag; the text of a result with
  ``is_error`` starts with ``Error:`` (:func:`~podium.providers.conversion.error_text`).
* **Tool results with images or files**: Mistral's tool messages take text only. The text goes in
  the ``tool`` message with ``See file <id>.``; the files follow in a user message
  (``This is file <id>:`` + the file), preceded by an assistant ``OK`` message because the API does
  not accept a user message right after a tool message. ``<id>`` is the first 6 hex digits of the
  file's SHA-1. (The same scheme as pydantic-ai, so recorded requests compare equal.)
* **Files**: PDFs and other documents go as ``document_url`` chunks (a ``data:`` URL for bytes).
* **Cache points** are ignored: Mistral caches prompt prefixes by itself (``prompt_cache_key`` can be
  passed with ``ModelSettings(extra={"mistral": {"prompt_cache_key": ...}})``).
* **Thinking setting**: ``thinking=False`` sends ``reasoning_effort="none"``, an effort level is sent as
  is, ``True`` or a token budget (Mistral has none) sends ``"high"``. Magistral models always reason.
* Content chunks with no universal meaning (references and others) become :class:`ProviderPart` and
  go back verbatim to Mistral.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from podium.exceptions import UserError
from podium.messages import CachePoint
from podium.messages import File
from podium.messages import FinishReason
from podium.messages import Image
from podium.messages import JsonDict
from podium.messages import Message
from podium.messages import ModelResponse
from podium.messages import Part
from podium.messages import ProviderPart
from podium.messages import Text
from podium.messages import Thinking
from podium.messages import ToolCall
from podium.messages import ToolResult
from podium.providers.base import WireCall
from podium.providers.conversion import error_text
from podium.providers.conversion import map_tool_call_id
from podium.providers.conversion import role_messages
from podium.providers.conversion import sampling
from podium.providers.pricing import cost_of
from podium.providers.transport.errors import embedded_status
from podium.providers.transport.errors import http_error
from podium.settings import ModelSettings
from podium.settings import ToolDefinition
from podium.streaming import ResponseBuilder
from podium.streaming import StreamDelta
from podium.usage import Usage

__all__ = [
    "PROVIDER",
    "MistralStreamState",
    "build_body",
    "map_finish_reason",
    "parse_response",
    "parse_usage",
    "tool_call_id",
]

PROVIDER = "mistral"

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "model_length": "length",
    "tool_calls": "tool_calls",
    "error": "error",
    "content_filter": "content_filter",
}

_USAGE_KEYS = frozenset(("prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details"))


def tool_call_id(call_id: str) -> str:
    """The id Mistral accepts for ``call_id`` (9 alphanumeric characters), mapped deterministically."""
    return map_tool_call_id(call_id, pattern=r"^[a-zA-Z0-9]{9}$", length=9, alphabet=_ALNUM)


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def file_ident(data: bytes) -> str:
    """A short id for a file sent after a tool result: 6 hex digits of its SHA-1."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()[:6]


# --------------------------------------------------------------------------- request


def _data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _media_chunk(part: Image | File) -> JsonDict:
    if isinstance(part, Image):
        url = part.url if part.url is not None else _data_url(part.data or b"", part.media_type or "image/png")
        return {"type": "image_url", "image_url": {"url": url}}
    url = part.url if part.url is not None else _data_url(part.data or b"", part.media_type or "application/pdf")
    chunk: JsonDict = {"type": "document_url", "document_url": url}
    if part.filename:
        chunk["document_name"] = part.filename
    return chunk


def _user_content(parts: Sequence[Part]) -> str | list[JsonDict]:
    chunks: list[JsonDict] = []
    for part in parts:
        if isinstance(part, Text):
            chunks.append({"type": "text", "text": part.text})
        elif isinstance(part, (Image, File)):
            chunks.append(_media_chunk(part))
        elif isinstance(part, ProviderPart):
            chunks.append(dict(part.data))
        elif isinstance(part, CachePoint):
            continue
        else:
            raise UserError(
                f"a user message cannot hold a {part.type} part for Mistral; put it in an assistant message"
            )
    if len(chunks) == 1 and chunks[0]["type"] == "text":
        return str(chunks[0]["text"])
    return chunks


def _thinking_chunk(part: Thinking) -> JsonDict:
    chunk: JsonDict = {"type": "thinking", "thinking": [{"type": "text", "text": part.text}]}
    extra = (part.provider_details or {}).get("thinking_extra")
    if isinstance(extra, list):
        chunk["thinking"].extend(extra)
    if part.signature is not None:
        chunk["signature"] = part.signature
    return chunk


def _assistant_message(parts: Sequence[Part]) -> JsonDict:
    content: list[JsonDict] = []
    calls: list[JsonDict] = []
    for part in parts:
        if isinstance(part, Text):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, Thinking):
            content.append(_thinking_chunk(part))
        elif isinstance(part, ToolCall):
            calls.append(
                {
                    "id": tool_call_id(part.id),
                    "type": "function",
                    "function": {"name": part.name, "arguments": part.args_json},
                    "index": len(calls),
                }
            )
        elif isinstance(part, ProviderPart):
            content.append(dict(part.data))
        elif isinstance(part, (Image, File)):
            content.append(_media_chunk(part))
    message: JsonDict = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_messages(parts: Sequence[Part]) -> list[JsonDict]:
    out: list[JsonDict] = []
    files: list[JsonDict] = []
    for part in parts:
        if isinstance(part, CachePoint):
            continue
        if not isinstance(part, ToolResult):
            raise UserError(f"a tool message holds tool results only, got a {part.type} part")
        texts = [p.text for p in part.content if isinstance(p, Text)]
        media = [p for p in part.content if isinstance(p, (Image, File))]
        for item in media:
            ident = file_ident(item.data) if item.data is not None else file_ident((item.url or "").encode())
            texts.append(f"See file {ident}.")
            files.append({"type": "text", "text": f"This is file {ident}:"})
            files.append(_media_chunk(item))
        text = "\n".join(texts)
        out.append(
            {
                "role": "tool",
                "tool_call_id": tool_call_id(part.call_id),
                "content": error_text(text) if part.is_error else text,
            }
        )
    if files:
        out.append({"role": "assistant", "content": [{"type": "text", "text": "OK"}]})
        out.append({"role": "user", "content": files})
    return out


def _nonempty_assistant(parts: list[Part]) -> JsonDict | None:
    assistant = _assistant_message(parts)
    return assistant if assistant["content"] or assistant.get("tool_calls") else None  # Mistral rejects an empty one


def _messages(messages: Sequence[Message], settings: ModelSettings) -> list[JsonDict]:
    rules = (_user_content, _nonempty_assistant, _tool_messages)
    return role_messages(messages, PROVIDER, settings.foreign_thinking, *rules)


def _tool_choice(choice: str, tools: Sequence[ToolDefinition] | None) -> Any:
    if choice in ("auto", "none"):
        return choice
    if choice == "required":
        return "any"
    if not any(t.name == choice for t in tools or ()):
        raise UserError(f"tool_choice={choice!r} names no tool given to this request")
    return {"type": "function", "function": {"name": choice}}


_EFFORT = {"minimal": "minimal", "low": "low", "medium": "medium", "high": "high"}


def build_body(model: str, call: WireCall) -> JsonDict:
    """The JSON body of a ``/v1/chat/completions`` request."""
    messages, tools, settings, output, stream = call
    body: JsonDict = {"model": model, "messages": _messages(messages, settings), "stream": stream}
    if tools:
        wire_tools = []
        for tool in tools:
            function: JsonDict = {
                "name": tool.name,
                "description": tool.description,
                "parameters": dict(tool.parameters),
            }
            if tool.strict is not None:
                function["strict"] = tool.strict
            wire_tools.append({"type": "function", "function": function})
        body["tools"] = wire_tools
    if settings.tool_choice is not None:
        body["tool_choice"] = _tool_choice(settings.tool_choice, tools)
    if settings.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = settings.parallel_tool_calls
    body.update(
        sampling(
            settings, temperature="temperature", top_p="top_p", max_tokens="max_tokens", stop="stop", seed="random_seed"
        )
    )
    thinking = settings.thinking
    if thinking is not None:
        if thinking is False:
            body["reasoning_effort"] = "none"
        elif thinking is True or isinstance(thinking, int):
            body["reasoning_effort"] = "high"
        else:
            body["reasoning_effort"] = _EFFORT[thinking]
    if output is not None:
        schema: JsonDict = {"name": output.name, "schema": dict(output.schema), "strict": output.strict}
        if output.description:
            schema["description"] = output.description
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    body.update(settings.for_provider(PROVIDER))
    return body


# --------------------------------------------------------------------------- response


def map_finish_reason(raw: str | None) -> FinishReason | None:
    """The universal finish reason for Mistral's value."""
    if raw is None:
        return None
    return _FINISH.get(raw, "stop")


def parse_usage(data: Mapping[str, Any] | None) -> Usage:
    """Usage from Mistral's ``usage`` object (cached tokens from either field it has used)."""
    if not data:
        return Usage(requests=1)
    details_in = data.get("prompt_tokens_details") or {}
    cached = details_in.get("cached_tokens") or data.get("num_cached_tokens") or 0
    details = {k: v for k, v in data.items() if k not in _USAGE_KEYS and isinstance(v, int) and not isinstance(v, bool)}
    details.pop("num_cached_tokens", None)
    for key, value in details_in.items():
        if key != "cached_tokens" and isinstance(value, int):
            details[f"prompt_{key}"] = value
    return Usage(
        input_tokens=data.get("prompt_tokens") or 0,
        output_tokens=data.get("completion_tokens") or 0,
        cache_read_tokens=cached,
        requests=1,
        details=details,
    )


def _thinking_part(chunk: Mapping[str, Any]) -> Thinking:
    items = chunk.get("thinking") or []
    text = "".join(str(i.get("text", "")) for i in items if i.get("type", "text") == "text")
    others = [i for i in items if i.get("type", "text") != "text"]
    details: JsonDict | None = {"thinking_extra": others} if others else None
    return Thinking(text, chunk.get("signature"), provider=PROVIDER, provider_details=details)


def _tool_call(call: Mapping[str, Any]) -> ToolCall:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if isinstance(arguments, dict):
        return ToolCall(str(call.get("id") or ""), str(function.get("name") or ""), arguments)
    raw = arguments if isinstance(arguments, str) else ""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        value = None
    if isinstance(value, dict):
        return ToolCall(str(call.get("id") or ""), str(function.get("name") or ""), value)
    return ToolCall(str(call.get("id") or ""), str(function.get("name") or ""), {}, raw)


def _response_details(data: Mapping[str, Any], finish: str | None, logprobs: Any = None) -> JsonDict:
    details: JsonDict = {}
    if logprobs:
        details["logprobs"] = logprobs
    for key in ("id", "created"):
        if data.get(key) is not None:
            details[key] = data[key]
    if finish is not None:
        details["finish_reason"] = finish
    return details


def parse_response(data: Mapping[str, Any]) -> ModelResponse:
    """The universal response for a non-streaming chat-completions response body."""
    choice = (data.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    parts: list[Part] = []
    content = message.get("content")
    if isinstance(content, str):
        if content:
            parts.append(Text(content))
    elif isinstance(content, list):
        for chunk in content:
            kind = chunk.get("type")
            if kind == "text":
                if chunk.get("text"):
                    parts.append(Text(chunk["text"]))
            elif kind == "thinking":
                parts.append(_thinking_part(chunk))
            else:
                parts.append(ProviderPart(PROVIDER, dict(chunk)))
    for call in message.get("tool_calls") or ():
        parts.append(_tool_call(call))
    usage = parse_usage(data.get("usage"))
    model = data.get("model")
    finish = choice.get("finish_reason")
    return ModelResponse(
        parts,
        model=model,
        provider=PROVIDER,
        finish_reason=map_finish_reason(finish),
        usage=usage,
        cost=cost_of(PROVIDER, model, usage),
        provider_details=_response_details(data, finish, choice.get("logprobs")) or None,
    )


class MistralStreamState:
    """Turns ``chat.completion.chunk`` payloads into deltas and, at the end, the response.

    Parts are numbered in the order they start; consecutive text (or thinking) pieces extend the same
    part, and every tool call (by its wire ``index``) is a part of its own.
    """

    __slots__ = (
        "_builder",
        "_calls",
        "_finish",
        "_index",
        "_kind",
        "_logprobs",
        "_meta",
        "_thinking_extra",
        "_usage",
        "complete",
    )

    def __init__(self) -> None:
        self.complete = False
        """Mistral ends its streams with ``data: [DONE]``, which the transport reads; never set here."""
        self._builder = ResponseBuilder()
        self._index = -1
        self._kind = ""
        self._calls: dict[int, int] = {}
        self._usage: Mapping[str, Any] | None = None
        self._finish: str | None = None
        self._meta: JsonDict = {}
        self._logprobs: list[Any] = []
        self._thinking_extra: list[Any] = []

    def _part(self, kind: str) -> int:
        if kind != self._kind or kind == "part":
            self._index += 1
            self._kind = kind
        return self._index

    def feed(self, chunk: Mapping[str, Any]) -> list[StreamDelta]:
        """Take one parsed chunk; return the deltas to forward."""
        if "choices" not in chunk and (chunk.get("object") == "error" or "message" in chunk or "error" in chunk):
            raise http_error(embedded_status(chunk, 500), dict(chunk), provider=PROVIDER, model=None)
        if not self._meta:
            self._meta = {k: chunk[k] for k in ("id", "created", "model") if chunk.get(k) is not None}
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        out: list[StreamDelta] = []
        builder = self._builder
        for choice in chunk.get("choices") or ():
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
            if choice.get("logprobs"):
                self._logprobs.extend(choice["logprobs"].get("content") or ())
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if isinstance(content, str):
                if content:
                    out.append(builder.text(self._part("text"), content))
            elif isinstance(content, list):
                for item in content:
                    kind = item.get("type")
                    if kind == "text":
                        if item.get("text"):
                            out.append(builder.text(self._part("text"), item["text"]))
                    elif kind == "thinking":
                        out.append(self._thinking(item))
                    else:
                        builder.part(self._part("part"), ProviderPart(PROVIDER, dict(item)))
            for call in delta.get("tool_calls") or ():
                out.append(self._tool_call(call))
        return out

    def _thinking(self, item: Mapping[str, Any]) -> StreamDelta:
        index = self._part("thinking")
        pieces = item.get("thinking") or []
        text = "".join(str(p.get("text", "")) for p in pieces if p.get("type", "text") == "text")
        others = [p for p in pieces if p.get("type", "text") != "text"]
        delta = self._builder.thinking(index, text, item.get("signature"), provider=PROVIDER)
        if others:
            self._thinking_extra.extend(others)
            self._builder.details(index, {"thinking_extra": list(self._thinking_extra)})
        return delta

    def _tool_call(self, call: Mapping[str, Any]) -> StreamDelta:
        wire_index = int(call.get("index") or 0)
        index = self._calls.get(wire_index)
        if index is None:
            self._index += 1
            self._kind = "tool_call"
            index = self._calls[wire_index] = self._index
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        if isinstance(arguments, dict):
            arguments = json.dumps(arguments, ensure_ascii=False)
        return self._builder.tool_call(index, id=call.get("id"), name=function.get("name"), args_delta=arguments)

    def finish(self) -> ModelResponse:
        """The final response."""
        usage = parse_usage(self._usage)
        model = self._meta.get("model")
        return self._builder.build(
            model=model,
            provider=PROVIDER,
            finish_reason=map_finish_reason(self._finish),
            usage=usage,
            cost=cost_of(PROVIDER, model, usage),
            provider_details=_response_details(
                self._meta, self._finish, {"content": self._logprobs} if self._logprobs else None
            )
            or None,
        )
