"""Universal <-> Ollama native API (``/api/chat``, ``/api/generate``): pure functions, no SDK, no I/O.

Used by :mod:`podium.providers.ollama`. Mapping rules:

* **Messages**: ``system``/``user``/``assistant`` messages with text ``content``; images go in the
  message's ``images`` list as base64 (Ollama takes no image URLs: pass bytes). Text files
  (``text/*``, JSON) are inlined as text; other files (PDF ...) are refused with a clear error,
  since the native API has no document input.
* An assistant message with nothing to send (another provider's turn that held only its thinking) is
  left out rather than sent as an empty turn.
* **Thinking**: the message's ``thinking`` field becomes a :class:`Thinking` part
  (``provider="ollama"``) and is sent back in ``thinking`` on later turns. ``ModelSettings.thinking``
  maps to ``think`` (``True``/``False``, or an effort level for models that take one).
* **Tool calls**: the native API's ``tool_calls`` carry arguments as a JSON object and, in older
  servers, no id. A missing id is derived deterministically from the call (``ollama_`` + a hash of
  the response time, position, name and arguments), so ids stay unique across a conversation.
  Tool results are ``role: "tool"`` messages with ``tool_name``; a failed one (``is_error``) starts with
  ``Error:`` (the API has no error flag). Ollama has no ``tool_choice``:
  ``none`` leaves the tools out, ``auto`` is the default, ``required`` offers the tools without
  forcing one (logged), and naming a tool offers only that tool. ``parallel_tool_calls`` has no
  equivalent and is ignored.
* **Tool schemas** are fitted to the part of JSON Schema the API reads (:mod:`podium.providers.ollama_schema`):
  unions, ``$ref`` s and nested objects it would drop silently are said in the parameter's description.
* **Structured output**: ``format`` set to the JSON schema.
* **Settings** go in ``options`` (``temperature``, ``top_p``, ``num_predict``, ``stop``, ``seed``);
  ``ModelSettings(extra={"ollama": {...}})`` is merged into the body last, and its ``options`` into
  ``options``.
* **Usage**: ``prompt_eval_count`` -> input tokens, ``eval_count`` -> output tokens. The durations
  (nanoseconds) and ``created_at`` go to the response's ``provider_details``. Cost is ``0.0``
  (a local model).
* **Finish reason**: ``done_reason`` ``stop`` is ``tool_calls`` when the message has tool calls;
  ``length`` is ``length``; the raw value is in ``provider_details["finish_reason"]``.
* **/api/generate** (``OllamaModel(..., endpoint="generate")``): a single-turn completion API. The
  system message becomes ``system``, one user message becomes ``prompt`` (with its images); more
  turns, tools or assistant messages raise :class:`~podium.exceptions.UserError` (use ``/api/chat``).
  The ``response`` is the text; the returned token ``context`` is kept in ``provider_details``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
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
from podium.providers.conversion import prepare_parts
from podium.providers.conversion import sampling
from podium.providers.ollama_schema import ollama_parameters
from podium.providers.pricing import cost_of
from podium.providers.transport.errors import http_error
from podium.settings import ModelSettings
from podium.settings import OutputSchema
from podium.streaming import ResponseBuilder
from podium.streaming import StreamDelta
from podium.usage import Usage

__all__ = [
    "PROVIDER",
    "OllamaStreamState",
    "build_chat_body",
    "build_generate_body",
    "parse_chat_response",
    "parse_generate_response",
]

PROVIDER = "ollama"

logger = logging.getLogger("podium.providers.ollama")

_DETAIL_KEYS = ("created_at", "total_duration", "load_duration", "prompt_eval_duration", "eval_duration")
_TEXT_TYPES = ("application/json", "application/xml", "application/yaml", "application/x-yaml")


# --------------------------------------------------------------------------- request


def _image(part: Image) -> str:
    if part.data is None:
        raise UserError(
            f"Ollama takes images as bytes, not URLs ({part.url}); download it and pass Image(data=..., media_type=...)"
        )
    return base64.b64encode(part.data).decode("ascii")


def _file_text(part: File) -> str:
    media = (part.media_type or "").split(";")[0]
    if part.data is not None and (media.startswith("text/") or media in _TEXT_TYPES):
        name = f' name="{part.filename}"' if part.filename else ""
        return f"<file{name} type={media}>\n{part.data.decode('utf-8', 'replace')}\n</file>"
    raise UserError(
        f"Ollama's native API takes no {part.media_type or 'URL'} files; extract the text and send it as Text"
    )


def _content(parts: Sequence[Part], message: JsonDict) -> None:
    texts: list[str] = []
    images: list[str] = []
    for part in parts:
        if isinstance(part, Text):
            texts.append(part.text)
        elif isinstance(part, Image):
            images.append(_image(part))
        elif isinstance(part, File):
            texts.append(_file_text(part))
    message["content"] = "".join(texts)
    if images:
        message["images"] = images


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
                result: JsonDict = {"role": "tool", "tool_name": part.name}
                _content(part.content, result)
                if part.is_error:  # no error flag on the wire
                    result["content"] = error_text(result["content"])
                wire.append(result)
            continue
        out: JsonDict = {"role": message.role}
        _content(parts, out)
        if message.role == "assistant":
            thinking = "".join(p.text for p in parts if isinstance(p, Thinking))
            if thinking:
                out["thinking"] = thinking
            calls = [p for p in parts if isinstance(p, ToolCall)]
            if calls:
                out["tool_calls"] = [{"function": {"name": c.name, "arguments": c.args}} for c in calls]
            if not (out["content"] or out.get("images") or len(out) > 2):
                continue  # nothing to send (another provider's turn that held only thinking)
        wire.append(out)
    return wire


def _think(value: bool | str | int) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value > 0
    return "low" if value == "minimal" else value


def _options(settings: ModelSettings) -> JsonDict:
    return sampling(
        settings, temperature="temperature", top_p="top_p", max_tokens="num_predict", stop="stop", seed="seed"
    )


def _finish_body(body: JsonDict, settings: ModelSettings, output: OutputSchema | None) -> JsonDict:
    if settings.thinking is not None:
        body["think"] = _think(settings.thinking)
    if output is not None:
        body["format"] = dict(output.schema)
    options = _options(settings)
    extra = dict(settings.for_provider(PROVIDER))
    if isinstance(extra.get("options"), Mapping):
        options.update(extra.pop("options"))
    if options:
        body["options"] = options
    body.update(extra)
    return body


def build_chat_body(model: str, call: WireCall) -> JsonDict:
    """The JSON body of an ``/api/chat`` request."""
    messages, tools, settings, output, stream = call
    body: JsonDict = {"model": model, "messages": _messages(messages, settings), "stream": stream}
    choice = settings.tool_choice
    offered = offered_tools(tools, choice)
    if choice not in (None, "auto", "none"):
        logger.info("Ollama cannot force a tool call (tool_choice=%r): the tools are offered, not required", choice)
    if offered and choice != "none":
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": ollama_parameters(t.parameters),
                },
            }
            for t in offered
        ]
    return _finish_body(body, settings, output)


def build_generate_body(model: str, call: WireCall) -> JsonDict:
    """The JSON body of an ``/api/generate`` request (one system and one user message at most)."""
    messages, tools, settings, output, stream = call
    if tools:
        raise UserError("Ollama's /api/generate takes no tools; use the chat endpoint (the default)")
    system = [m for m in messages if m.role == "system"]
    users = [m for m in messages if m.role == "user"]
    if len(users) != 1 or len(system) + len(users) != len(messages):
        raise UserError(
            "Ollama's /api/generate completes one prompt: give one user message (and an optional system "
            "message), or use the chat endpoint (the default) for conversations"
        )
    prompt: JsonDict = {}
    _content(users[0].parts, prompt)
    body: JsonDict = {"model": model, "prompt": prompt["content"], "stream": stream}
    if system:
        body["system"] = "".join(m.text for m in system)
    if "images" in prompt:
        body["images"] = prompt["images"]
    return _finish_body(body, settings, output)


# --------------------------------------------------------------------------- response


def _call_id(call: Mapping[str, Any], position: int, created_at: Any) -> str:
    wire_id = call.get("id")
    if isinstance(wire_id, str) and wire_id:
        return wire_id
    function = call.get("function") or {}
    key = json.dumps([created_at, position, function.get("name"), function.get("arguments")], sort_keys=True)
    return "ollama_" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _tool_call(call: Mapping[str, Any], position: int, created_at: Any) -> ToolCall:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    name = str(function.get("name") or "")
    call_id = _call_id(call, position, created_at)
    if isinstance(arguments, dict):
        return ToolCall(call_id, name, arguments)
    if isinstance(arguments, str):
        try:
            value = json.loads(arguments)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return ToolCall(call_id, name, value)
        return ToolCall(call_id, name, {}, arguments)
    return ToolCall(call_id, name, {})


def _usage(data: Mapping[str, Any]) -> Usage:
    return Usage(
        input_tokens=int(data.get("prompt_eval_count") or 0),
        output_tokens=int(data.get("eval_count") or 0),
        requests=1,
    )


def _finish(raw: Any, has_calls: bool) -> FinishReason | None:
    if raw is None:
        return None
    if raw == "length":
        return "length"
    if has_calls:
        return "tool_calls"
    return "stop"


def _details(data: Mapping[str, Any], raw_finish: Any) -> JsonDict:
    details: JsonDict = {key: data[key] for key in _DETAIL_KEYS if data.get(key) is not None}
    if raw_finish is not None:
        details["finish_reason"] = raw_finish
    return details


def _response(parts: list[Part], data: Mapping[str, Any], raw_finish: Any, details: JsonDict) -> ModelResponse:
    usage = _usage(data)
    model = data.get("model")
    has_calls = any(isinstance(p, ToolCall) for p in parts)
    return ModelResponse(
        parts,
        model=model,
        provider=PROVIDER,
        finish_reason=_finish(raw_finish, has_calls),
        usage=usage,
        cost=cost_of(PROVIDER, model, usage),
        provider_details=details or None,
    )


def _check_error(data: Mapping[str, Any]) -> None:
    error = data.get("error")
    if error:
        raise http_error(500, dict(data), provider=PROVIDER, model=data.get("model"), message=str(error))


def parse_chat_response(data: Mapping[str, Any]) -> ModelResponse:
    """The universal response for a non-streaming ``/api/chat`` response body."""
    _check_error(data)
    message = data.get("message") or {}
    parts: list[Part] = []
    if message.get("thinking"):
        parts.append(Thinking(message["thinking"], provider=PROVIDER))
    if message.get("content"):
        parts.append(Text(message["content"]))
    created = data.get("created_at")
    for position, call in enumerate(message.get("tool_calls") or ()):
        parts.append(_tool_call(call, position, created))
    raw_finish = data.get("done_reason")
    details = _details(data, raw_finish)
    if data.get("logprobs"):
        details["logprobs"] = data["logprobs"]
    return _response(parts, data, raw_finish, details)


def parse_generate_response(data: Mapping[str, Any]) -> ModelResponse:
    """The universal response for a non-streaming ``/api/generate`` response body."""
    _check_error(data)
    parts: list[Part] = []
    if data.get("thinking"):
        parts.append(Thinking(data["thinking"], provider=PROVIDER))
    if data.get("response"):
        parts.append(Text(data["response"]))
    raw_finish = data.get("done_reason")
    details = _details(data, raw_finish)
    if data.get("context") is not None:
        details["context"] = data["context"]
    return _response(parts, data, raw_finish, details)


class OllamaStreamState:
    """Turns NDJSON stream lines (``/api/chat`` or ``/api/generate``) into deltas and the response.

    Thinking comes before text in Ollama's streams; each kind gets one part, in the order it first
    appears, and every tool call a part of its own.
    """

    __slots__ = (
        "_builder",
        "_calls",
        "_done",
        "_generate",
        "_index",
        "_kinds",
        "_logprobs",
        "_text_index",
        "_text_key",
        "complete",
    )

    def __init__(self, *, generate: bool = False) -> None:
        self.complete = False
        """Whether the line with ``done: true`` arrived (a stream without it was cut off)."""
        self._builder = ResponseBuilder()
        self._kinds: dict[str, int] = {}
        self._index = -1
        self._calls = 0
        self._done: Mapping[str, Any] = {}
        self._generate = generate
        self._logprobs: list[Any] = []
        self._text_key = "response" if generate else "content"
        self._text_index: int | None = None

    def _part(self, kind: str) -> int:
        index = self._kinds.get(kind)
        if index is None:
            self._index += 1
            index = self._kinds[kind] = self._index
        return index

    def feed(self, chunk: Mapping[str, Any]) -> list[StreamDelta]:
        """Take one parsed line; return the deltas to forward."""
        if "error" in chunk:
            _check_error(chunk)
        message = chunk if self._generate else (chunk.get("message") or {})
        text = message.get(self._text_key)
        if (
            text
            and len(message) <= 2
            and "thinking" not in message
            and "tool_calls" not in message
            and not chunk.get("done")
            and "logprobs" not in chunk
        ):  # the common line: a piece of text and nothing else
            index = self._text_index
            if index is None:
                index = self._text_index = self._part("text")
            return [self._builder.text(index, text)]
        return self._feed_rest(chunk, message, text)

    def _feed_rest(self, chunk: Mapping[str, Any], message: Mapping[str, Any], text: Any) -> list[StreamDelta]:
        out: list[StreamDelta] = []
        builder = self._builder
        thinking = message.get("thinking")
        if thinking:
            out.append(builder.thinking(self._part("thinking"), thinking, provider=PROVIDER))
        if text:
            out.append(builder.text(self._part("text"), text))
        for call in message.get("tool_calls") or ():
            parsed = _tool_call(call, self._calls, chunk.get("created_at"))
            self._calls += 1
            self._index += 1
            out.append(builder.tool_call(self._index, id=parsed.id, name=parsed.name, args_delta=parsed.args_json))
        if chunk.get("logprobs"):
            self._logprobs.extend(chunk["logprobs"])
        if chunk.get("done"):
            self.complete = True
            self._done = chunk
        return out

    def finish(self) -> ModelResponse:
        """The final response."""
        parts = list(self._builder.build().parts)
        raw_finish = self._done.get("done_reason")
        details = _details(self._done, raw_finish)
        if self._logprobs:
            details["logprobs"] = self._logprobs
        if self._generate and self._done.get("context") is not None:
            details["context"] = self._done["context"]
        return _response(parts, self._done, raw_finish, details)
