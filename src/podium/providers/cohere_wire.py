"""Universal <-> Cohere v2 chat (``/v2/chat``) wire format: pure functions, no SDK, no I/O.

Used by :mod:`podium.providers.cohere`. Mapping rules:

* **Tool plan**: Cohere's ``tool_plan`` (what the model says it will do before calling tools) becomes
  a :class:`Text` part marked ``provider_details={"cohere_tool_plan": True}``; it goes back to Cohere
  as the assistant message's ``tool_plan`` and to other providers as ordinary text.
* **Thinking**: ``thinking`` content items (reasoning models) become :class:`Thinking` parts with
  ``provider="cohere"`` and are sent back as ``thinking`` content. ``ModelSettings.thinking`` maps to
  ``thinking={"type": "enabled" | "disabled", "token_budget": N}``.
* **Tool calls** keep Cohere's ids (any string is accepted back). Tool results are ``role: "tool"``
  messages with ``tool_call_id``; their content is text (images in tool results are refused), starting with
  ``Error:`` for a failed result (``is_error``; the API has no error flag).
* An assistant message with nothing to send (say another provider's turn that held only its thinking)
  is left out.
* **tool_choice**: ``required`` -> ``REQUIRED``, ``none`` -> ``NONE``; naming a tool sends only that
  tool with ``REQUIRED`` (Cohere cannot name one). ``parallel_tool_calls`` has no equivalent.
* **Structured output**: ``response_format={"type": "json_object", "json_schema": ...}``.
* **Usage**: ``usage.tokens`` are the token counts; ``usage.billed_units`` (and ``search_units``,
  ``classifications``) go to ``Usage.details`` as ``billed_*``; ``cached_tokens`` to cache reads. When
  ``tokens`` is missing, the billed input and output tokens are the counts.
* **Finish reasons**: ``COMPLETE``/``STOP_SEQUENCE`` -> ``stop``, ``MAX_TOKENS`` -> ``length``,
  ``TOOL_CALL`` -> ``tool_calls``, ``ERROR``/``TIMEOUT`` -> ``error``.
* **Cost** is priced on ``billed_units`` (what Cohere bills), not on the token counts, which include
  Cohere's own system prompt; without billed tokens (only ``search_units``, say), on the token counts.
* Citations are kept in the response's ``provider_details["citations"]``.
"""

from __future__ import annotations

import base64
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
from podium.messages import Text
from podium.messages import Thinking
from podium.messages import ToolCall
from podium.messages import ToolResult
from podium.providers.base import WireCall
from podium.providers.conversion import error_text
from podium.providers.conversion import offered_tools
from podium.providers.conversion import role_messages
from podium.providers.pricing import cost_of
from podium.providers.transport.errors import embedded_status
from podium.providers.transport.errors import http_error
from podium.settings import ModelSettings
from podium.streaming import ResponseBuilder
from podium.streaming import StreamDelta
from podium.streaming import parse_tool_args
from podium.usage import CostValue
from podium.usage import Usage

__all__ = ["PROVIDER", "CohereStreamState", "build_body", "parse_response", "parse_usage"]

PROVIDER = "cohere"
TOOL_PLAN = "cohere_tool_plan"

_FINISH: dict[str, FinishReason] = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR": "error",
    "TIMEOUT": "error",
}


# --------------------------------------------------------------------------- request


def _text_of_file(part: File) -> str:
    media = (part.media_type or "").split(";")[0]
    if part.data is not None and (media.startswith("text/") or media == "application/json"):
        return part.data.decode("utf-8", "replace")
    raise UserError(f"Cohere's chat takes no {part.media_type or 'URL'} files; extract the text and send it as Text")


def _user_content(parts: Sequence[Part]) -> str | list[JsonDict]:
    chunks: list[JsonDict] = []
    for part in parts:
        if isinstance(part, Text):
            chunks.append({"type": "text", "text": part.text})
        elif isinstance(part, Image):
            if part.data is not None:
                url = f"data:{part.media_type};base64,{base64.b64encode(part.data).decode('ascii')}"
            else:
                url = part.url or ""
            chunks.append({"type": "image_url", "image_url": {"url": url}})
        elif isinstance(part, File):
            chunks.append({"type": "text", "text": _text_of_file(part)})
    if all(c["type"] == "text" for c in chunks):
        return "".join(str(c["text"]) for c in chunks)
    return chunks


def _assistant(parts: Sequence[Part]) -> JsonDict:
    content: list[JsonDict] = []
    plan: list[str] = []
    calls: list[JsonDict] = []
    for part in parts:
        if isinstance(part, Text):
            if (part.provider_details or {}).get(TOOL_PLAN):
                plan.append(part.text)
            else:
                content.append({"type": "text", "text": part.text})
        elif isinstance(part, Thinking):
            content.append({"type": "thinking", "thinking": part.text})
        elif isinstance(part, ToolCall):
            calls.append(
                {"id": part.id, "type": "function", "function": {"name": part.name, "arguments": part.args_json}}
            )
    message: JsonDict = {"role": "assistant"}
    if calls:
        if plan:
            message["tool_plan"] = "".join(plan)
        message["tool_calls"] = calls
    elif plan:
        content.insert(0, {"type": "text", "text": "".join(plan)})
    if content:
        message["content"] = content
    return message


def _tool_result(part: ToolResult) -> JsonDict:
    texts: list[str] = []
    for item in part.content:
        if isinstance(item, Text):
            texts.append(item.text)
        elif isinstance(item, File):
            texts.append(_text_of_file(item))
        else:
            raise UserError("Cohere tool results take text only; describe the image in text or return it as a file")
    text = "".join(texts)
    return {"role": "tool", "tool_call_id": part.call_id, "content": error_text(text) if part.is_error else text}


def _tool_messages(parts: Sequence[Part]) -> list[JsonDict]:
    wire: list[JsonDict] = []
    for part in parts:
        if isinstance(part, CachePoint):
            continue
        if not isinstance(part, ToolResult):
            raise UserError(f"a tool message holds tool results only, got a {part.type} part")
        wire.append(_tool_result(part))
    return wire


def _nonempty_assistant(parts: list[Part]) -> JsonDict | None:
    assistant = _assistant(parts)
    return assistant if len(assistant) > 1 else None  # nothing but the role: a turn that held only thinking


def _messages(messages: Sequence[Message], settings: ModelSettings) -> list[JsonDict]:
    rules = (_user_content, _nonempty_assistant, _tool_messages)
    return role_messages(messages, PROVIDER, settings.foreign_thinking, *rules)


def build_body(model: str, call: WireCall) -> JsonDict:
    """The JSON body of a ``/v2/chat`` request."""
    messages, tools, settings, output, stream = call
    body: JsonDict = {"model": model, "messages": _messages(messages, settings)}
    choice = settings.tool_choice
    offered = offered_tools(tools, choice)
    if offered:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
            }
            for t in offered
        ]
        if any(t.strict for t in offered):
            body["strict_tools"] = True
    if choice == "none":
        body["tool_choice"] = "NONE"
    elif choice is not None and choice != "auto":
        body["tool_choice"] = "REQUIRED"
    body["stream"] = stream
    for key, value in (
        ("temperature", settings.temperature),
        ("max_tokens", settings.max_tokens),
        ("p", settings.top_p),
        ("seed", settings.seed),
    ):
        if value is not None:
            body[key] = value
    if settings.stop is not None:
        body["stop_sequences"] = list(settings.stop)
    thinking = settings.thinking
    if thinking is not None:
        if thinking is False:
            body["thinking"] = {"type": "disabled"}
        elif isinstance(thinking, int) and not isinstance(thinking, bool):
            body["thinking"] = {"type": "enabled", "token_budget": thinking}
        else:
            body["thinking"] = {"type": "enabled"}
    if output is not None:
        body["response_format"] = {"type": "json_object", "json_schema": dict(output.schema)}
    body.update(settings.for_provider(PROVIDER))
    return body


# --------------------------------------------------------------------------- response


def parse_usage(data: Mapping[str, Any] | None) -> Usage:
    """Usage from Cohere's ``usage`` (token counts, billed units in ``details``)."""
    if not data:
        return Usage(requests=1)
    tokens = data.get("tokens")
    billed_units = data.get("billed_units")
    details: dict[str, int] = {}
    for key, value in (billed_units if isinstance(billed_units, Mapping) else {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            details[f"billed_{key}"] = int(value)
    # ``tokens`` are the counts; an answer without them (older API versions, some proxies) still has the
    # billed counts, which are then the best there is (they leave out Cohere's own system prompt).
    counts = tokens if isinstance(tokens, Mapping) and tokens else None
    return Usage(
        input_tokens=_count(counts, "input_tokens") if counts else details.get("billed_input_tokens", 0),
        output_tokens=_count(counts, "output_tokens") if counts else details.get("billed_output_tokens", 0),
        cache_read_tokens=_count(data, "cached_tokens"),
        requests=1,
        details=details,
    )


def _count(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _cost(model: str, usage: Usage) -> CostValue:
    """Priced on the billed tokens when Cohere gave them, else on the token counts (never a silent zero)."""
    details = usage.details
    if "billed_input_tokens" not in details and "billed_output_tokens" not in details:
        return cost_of(PROVIDER, model, usage)
    billed = Usage(
        input_tokens=details.get("billed_input_tokens", 0),
        output_tokens=details.get("billed_output_tokens", 0),
    )
    return cost_of(PROVIDER, model, billed)


def _finish(raw: str | None) -> FinishReason | None:
    return _FINISH.get(raw, "stop") if raw else None


def _details(response_id: Any, finish: str | None, citations: list[Any], logprobs: Any = None) -> JsonDict | None:
    details: JsonDict = {}
    if logprobs:
        details["logprobs"] = logprobs
    if response_id is not None:
        details["id"] = response_id
    if finish is not None:
        details["finish_reason"] = finish
    if citations:
        details["citations"] = citations
    return details or None


def _tool_call(call: Mapping[str, Any]) -> ToolCall:
    function = call.get("function") or {}
    args, raw = parse_tool_args(function.get("arguments"))
    return ToolCall(str(call.get("id") or ""), str(function.get("name") or ""), args, raw)


def parse_response(data: Mapping[str, Any], model: str) -> ModelResponse:
    """The universal response for a non-streaming ``/v2/chat`` response body (it does not name the model)."""
    message = data.get("message") or {}
    content = message.get("content") or []
    parts: list[Part] = [
        Thinking(str(item.get("thinking") or ""), provider=PROVIDER)
        for item in content
        if item.get("type") == "thinking"
    ]
    if message.get("tool_plan"):
        parts.append(Text(message["tool_plan"], {TOOL_PLAN: True}))
    parts += [Text(str(item.get("text") or "")) for item in content if item.get("type") == "text" and item.get("text")]
    parts += [_tool_call(call) for call in message.get("tool_calls") or ()]
    usage = parse_usage(data.get("usage"))
    finish = data.get("finish_reason")
    return ModelResponse(
        parts,
        model=model,
        provider=PROVIDER,
        finish_reason=_finish(finish),
        usage=usage,
        cost=_cost(model, usage),
        provider_details=_details(data.get("id"), finish, list(message.get("citations") or ()), data.get("logprobs")),
    )


class CohereStreamState:
    """Turns Cohere v2 stream events into deltas and the final response.

    Content items (by their ``index``), the tool plan and tool calls (by their ``index``) each get a
    part, numbered in the order they first appear.
    """

    __slots__ = (
        "_builder",
        "_citations",
        "_finish",
        "_id",
        "_index",
        "_kinds",
        "_logprobs",
        "_model",
        "_parts",
        "_usage",
        "complete",
    )

    def __init__(self, model: str) -> None:
        self.complete = False
        """Whether ``message-end`` arrived (a stream without it, or ``[DONE]``, was cut off)."""
        self._builder = ResponseBuilder()
        self._model = model
        self._parts: dict[tuple[str, int], int] = {}
        self._kinds: dict[int, str] = {}
        self._index = -1
        self._id: Any = None
        self._finish: str | None = None
        self._usage: Mapping[str, Any] | None = None
        self._citations: list[Any] = []
        self._logprobs: list[Any] = []

    def _part(self, kind: str, wire_index: int) -> int:
        index = self._parts.get((kind, wire_index))
        if index is None:
            self._index += 1
            index = self._parts[(kind, wire_index)] = self._index
        return index

    def feed(self, event: Mapping[str, Any]) -> list[StreamDelta]:
        """Take one parsed event; return the deltas to forward."""
        kind = event.get("type")
        if kind is None and ("message" in event or "error" in event):
            # an error body sent inside the stream: the status it gives, as the HTTP answer would have
            raise http_error(embedded_status(event, 500), dict(event), provider=PROVIDER, model=self._model)
        builder = self._builder
        if kind == "tool-call-delta":
            function = event["delta"]["message"]["tool_calls"]["function"]
            index = self._part("tool", event.get("index") or 0)
            return [builder.tool_call(index, args_delta=function.get("arguments") or "")]
        if kind == "content-delta" or kind == "content-start":
            if event.get("logprobs"):
                self._logprobs.append(event["logprobs"])
            return self._content(event, kind == "content-start")
        if kind == "tool-plan-delta":
            plan = self._parts.get(("plan", 0))
            if plan is None:
                plan = self._part("plan", 0)
                builder.text(plan, "")
                builder.details(plan, {TOOL_PLAN: True})
            return [builder.text(plan, str(event["delta"]["message"].get("tool_plan") or ""))]
        delta = event.get("delta") or {}
        if kind == "tool-call-start":
            call = (delta.get("message") or {}).get("tool_calls") or {}
            function = call.get("function") or {}
            index = self._part("tool", event.get("index") or 0)
            return [
                builder.tool_call(
                    index, id=call.get("id"), name=function.get("name"), args_delta=function.get("arguments") or ""
                )
            ]
        if kind == "message-start":
            self._id = event.get("id")
        elif kind == "citation-start":
            citations = (delta.get("message") or {}).get("citations")
            if citations:
                self._citations.append(citations)
        elif kind == "message-end":
            self.complete = True
            self._finish = delta.get("finish_reason")
            self._usage = delta.get("usage")
            if delta.get("error"):
                raise http_error(500, dict(event), provider=PROVIDER, model=self._model, message=str(delta["error"]))
        return []

    def _content(self, event: Mapping[str, Any], start: bool) -> list[StreamDelta]:
        wire_index = event.get("index") or 0
        content = ((event.get("delta") or {}).get("message") or {}).get("content") or {}
        if content.get("type") == "thinking" or "thinking" in content:
            self._kinds[wire_index] = "thinking"
        if self._kinds.get(wire_index) == "thinking":
            text = str(content.get("thinking") or "")
            if start and not text:
                return []
            return [self._builder.thinking(self._part("content", wire_index), text, provider=PROVIDER)]
        text = str(content.get("text") or "")
        return [self._builder.text(self._part("content", wire_index), text)] if text else []

    def finish(self) -> ModelResponse:
        """The final response."""
        usage = parse_usage(self._usage)
        return self._builder.build(
            model=self._model,
            provider=PROVIDER,
            finish_reason=_finish(self._finish),
            usage=usage,
            cost=_cost(self._model, usage),
            provider_details=_details(self._id, self._finish, self._citations, self._logprobs),
        )
