"""Universal <-> Ollama's OpenAI-compatible endpoint (``/v1/chat/completions``): pure functions.

Used by :mod:`podium.providers.ollama` with ``api="openai"`` (ollama.com cloud models or servers that
expose only ``/v1``). It covers what Ollama's compatibility layer implements: text, images
(``image_url`` data URLs), tools and ``tool_choice``, tool results (``role: "tool"`` with
``tool_call_id``), the ``reasoning`` field (a :class:`Thinking` part with ``provider="ollama"``, sent
back in ``reasoning``), ``response_format`` JSON schema, usage and finish reasons. Files other than
images are refused with a clear error. ``ModelSettings.thinking`` maps to ``reasoning_effort``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from podium.exceptions import UserError
from podium.messages import (
    CachePoint,
    File,
    FinishReason,
    Image,
    JsonDict,
    Message,
    ModelResponse,
    Part,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
)
from podium.providers.conversion import prepare_parts
from podium.providers.errors import http_error
from podium.providers.pricing import cost_of
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import ResponseBuilder, StreamDelta
from podium.usage import Usage

__all__ = ["OpenAIStreamState", "build_openai_body", "parse_openai_response"]

PROVIDER = "ollama"

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}


def _content(parts: Sequence[Part]) -> str | list[JsonDict]:
    chunks: list[JsonDict] = []
    for part in parts:
        if isinstance(part, Text):
            chunks.append({"type": "text", "text": part.text})
        elif isinstance(part, Image):
            if part.data is not None:
                encoded = base64.b64encode(part.data).decode("ascii")
                url = f"data:{part.media_type};base64,{encoded}"
            else:
                url = part.url or ""
            chunks.append({"type": "image_url", "image_url": {"url": url}})
        elif isinstance(part, File):
            raise UserError(f"Ollama's OpenAI-compatible API takes no {part.media_type} files; send the text instead")
    if all(c["type"] == "text" for c in chunks):
        return "".join(str(c["text"]) for c in chunks)
    return chunks


def _messages(messages: Sequence[Message], settings: ModelSettings) -> list[JsonDict]:
    wire: list[JsonDict] = []
    for message in messages:
        parts = prepare_parts(message, PROVIDER, foreign_thinking=settings.foreign_thinking)
        if message.role == "tool":
            for part in parts:
                if isinstance(part, CachePoint):
                    continue
                if not isinstance(part, ToolResult):
                    raise UserError(f"a tool message holds tool results only, got a {part.type} part")
                wire.append({"role": "tool", "tool_call_id": part.call_id, "content": _content(part.content)})
            continue
        out: JsonDict = {"role": message.role, "content": _content(parts)}
        if message.role == "assistant":
            reasoning = "".join(p.text for p in parts if isinstance(p, Thinking))
            if reasoning:
                out["reasoning"] = reasoning
            calls = [p for p in parts if isinstance(p, ToolCall)]
            if calls:
                out["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.args_json}}
                    for c in calls
                ]
        wire.append(out)
    return wire


def build_openai_body(
    model: str,
    messages: Sequence[Message],
    tools: Sequence[ToolDefinition] | None,
    settings: ModelSettings,
    output: OutputSchema | None,
    *,
    stream: bool,
) -> JsonDict:
    """The JSON body of a ``/v1/chat/completions`` request to Ollama."""
    body: JsonDict = {"model": model, "messages": _messages(messages, settings), "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    if tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
            }
            for t in tools
        ]
    choice = settings.tool_choice
    if choice is not None:
        if choice in ("auto", "none", "required"):
            body["tool_choice"] = choice
        else:
            body["tool_choice"] = {"type": "function", "function": {"name": choice}}
    if settings.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = settings.parallel_tool_calls
    for key, value in (
        ("temperature", settings.temperature),
        ("top_p", settings.top_p),
        ("max_tokens", settings.max_tokens),
        ("seed", settings.seed),
    ):
        if value is not None:
            body[key] = value
    if settings.stop is not None:
        body["stop"] = list(settings.stop)
    thinking = settings.thinking
    if thinking is not None:
        if thinking is False:
            body["reasoning_effort"] = "none"
        elif isinstance(thinking, str):
            body["reasoning_effort"] = "low" if thinking == "minimal" else thinking
        else:
            body["reasoning_effort"] = "high" if thinking is True else "medium"
    if output is not None:
        schema: JsonDict = {"name": output.name, "schema": dict(output.schema)}
        if output.description:
            schema["description"] = output.description
        if output.strict:
            schema["strict"] = True
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    body.update(settings.for_provider(PROVIDER))
    return body


def _usage(data: Mapping[str, Any] | None) -> Usage:
    if not data:
        return Usage(requests=1)
    prompt = data.get("prompt_tokens_details") or {}
    completion = data.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=int(data.get("prompt_tokens") or 0),
        output_tokens=int(data.get("completion_tokens") or 0),
        cache_read_tokens=int(prompt.get("cached_tokens") or 0),
        reasoning_tokens=int(completion.get("reasoning_tokens") or 0),
        requests=1,
    )


def _details(meta: Mapping[str, Any], finish: Any) -> JsonDict | None:
    details: JsonDict = {k: meta[k] for k in ("id", "created", "system_fingerprint") if meta.get(k) is not None}
    if finish is not None:
        details["finish_reason"] = finish
    return details or None


def _tool_call(call: Mapping[str, Any]) -> ToolCall:
    function = call.get("function") or {}
    raw = function.get("arguments")
    text = raw if isinstance(raw, str) else json.dumps(raw or {})
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        value = None
    if isinstance(value, dict):
        return ToolCall(str(call.get("id") or ""), str(function.get("name") or ""), value)
    return ToolCall(str(call.get("id") or ""), str(function.get("name") or ""), {}, text)


def parse_openai_response(data: Mapping[str, Any]) -> ModelResponse:
    """The universal response for a non-streaming ``/v1/chat/completions`` response body."""
    choice = (data.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    parts: list[Part] = []
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    if reasoning:
        parts.append(Thinking(reasoning, provider=PROVIDER))
    if message.get("content"):
        parts.append(Text(message["content"]))
    for call in message.get("tool_calls") or ():
        parts.append(_tool_call(call))
    usage = _usage(data.get("usage"))
    model = data.get("model")
    finish = choice.get("finish_reason")
    return ModelResponse(
        parts,
        model=model,
        provider=PROVIDER,
        finish_reason=_FINISH.get(finish, "stop") if finish else None,
        usage=usage,
        cost=cost_of(PROVIDER, model, usage),
        provider_details=_details(data, finish),
    )


class OpenAIStreamState:
    """Turns ``chat.completion.chunk`` payloads into deltas and the final response."""

    __slots__ = ("_builder", "_calls", "_finish", "_index", "_kinds", "_meta", "_usage")

    def __init__(self) -> None:
        self._builder = ResponseBuilder()
        self._kinds: dict[str, int] = {}
        self._calls: dict[int, int] = {}
        self._index = -1
        self._meta: JsonDict = {}
        self._usage: Mapping[str, Any] | None = None
        self._finish: str | None = None

    def _part(self, kind: str) -> int:
        index = self._kinds.get(kind)
        if index is None:
            self._index += 1
            index = self._kinds[kind] = self._index
        return index

    def feed(self, chunk: Mapping[str, Any]) -> list[StreamDelta]:
        """Take one parsed chunk; return the deltas to forward."""
        if "error" in chunk and "choices" not in chunk:
            raise http_error(500, dict(chunk), provider=PROVIDER, model=None)
        if not self._meta:
            self._meta = {k: chunk[k] for k in ("id", "created", "model", "system_fingerprint") if chunk.get(k)}
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        out: list[StreamDelta] = []
        builder = self._builder
        for choice in chunk.get("choices") or ():
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning") or delta.get("reasoning_content")
            if reasoning:
                out.append(builder.thinking(self._part("thinking"), reasoning, provider=PROVIDER))
            if delta.get("content"):
                out.append(builder.text(self._part("text"), delta["content"]))
            for call in delta.get("tool_calls") or ():
                wire_index = int(call.get("index") or 0)
                index = self._calls.get(wire_index)
                if index is None:
                    self._index += 1
                    index = self._calls[wire_index] = self._index
                function = call.get("function") or {}
                out.append(
                    builder.tool_call(
                        index, id=call.get("id"), name=function.get("name"), args_delta=function.get("arguments") or ""
                    )
                )
        return out

    def finish(self) -> ModelResponse:
        """The final response."""
        usage = _usage(self._usage)
        model = self._meta.get("model")
        return self._builder.build(
            model=model,
            provider=PROVIDER,
            finish_reason=_FINISH.get(self._finish, "stop") if self._finish else None,
            usage=usage,
            cost=cost_of(PROVIDER, model, usage),
            provider_details=_details(self._meta, self._finish),
        )
