"""Pure translation between Podium's universal messages and the OpenAI Responses API (no I/O).

Shared by the sync and async paths and by requests and streams of :mod:`podium.providers.openai_responses`:

* :func:`build_request` turns messages, tools, settings and an output schema into the JSON body.
* :func:`parse_response` turns a ``response`` object into a :class:`ModelResponse`.
* :class:`StreamAccumulator` returns the delta for each stream event and keeps the finished output
  items (``response.output_item.done``) and the final ``response``; the final response of a stream is
  ``parse_response`` of those, so streamed and non-streamed responses are built by the same code.

Items, both directions:

====================================  ===========================================================================
Responses item                        Podium part
====================================  ===========================================================================
``message`` (``output_text``)         one :class:`Text` per content part; item ``id``, ``status``, ``phase``
                                      and the part's ``annotations``/``logprobs`` in ``provider_details``
``message`` (``refusal``)             :class:`Text` with ``provider_details["refusal"] = True``
``reasoning``                         one :class:`Thinking` per summary part (one with empty text and
                                      ``redaction="encrypted"`` when there is no summary), all with the item ``id``;
                                      the first carries ``encrypted_content``
``function_call``                     :class:`ToolCall` (``call_id`` is the id; item ``id``, ``status`` in details)
``function_call_output``              :class:`ToolResult` (``output`` is a string, or a list when it has media)
``web_search_call`` and other items   :class:`ProviderPart`, sent back verbatim (``web_search_call.action.sources``,
                                      an output-only field, is left out)
====================================  ===========================================================================

Rules worth knowing:

* Leading system messages become ``instructions`` (joined by blank lines); later ones stay in place as
  ``system`` messages.
* Consecutive :class:`Thinking` parts with the same id go back as one ``reasoning`` item, consecutive
  :class:`Text` parts with the same item id as one ``message`` item. Thinking without an id cannot be
  sent back and is dropped; thinking and ``provider_details`` from other providers follow
  :mod:`podium.providers.conversion`.
* With ``store=False`` the ids of ``message`` and ``function_call`` items are left out (the API has not
  stored them), so assistant text goes back as plain assistant messages (with ``phase``, without
  annotations); ``reasoning`` items keep their ids and carry ``encrypted_content`` (a reasoning item without
  encrypted content cannot be resolved then, and is left out).
* A :class:`CachePoint` becomes ``prompt_cache_breakpoint`` on the content part before it, on models
  with explicit cache breakpoints (gpt-5.6 and later); other models cache automatically and ignore it.
* The response's ``provider_details`` keep its id (``previous_response_id`` uses it), status, service tier,
  billing, errors and the like; the fields that only echo the request (tools, instructions, sampling
  settings ...) are not kept. Each item's fields land on its parts (see the table).
* Tool-call ids that do not match ``^[a-zA-Z0-9_-]{1,64}$`` are mapped with
  :func:`~podium.providers.conversion.map_tool_call_id`, the same way for a call and its result.
* ``function_call_output`` has no error flag: a failed :class:`ToolResult` (``is_error``) has its output
  start with ``Error:`` (:func:`~podium.providers.conversion.error_text`).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from podium.exceptions import ProviderHTTPError
from podium.exceptions import UserError
from podium.messages import CachePoint
from podium.messages import File
from podium.messages import FinishReason
from podium.messages import Image
from podium.messages import Message
from podium.messages import ModelResponse
from podium.messages import Part
from podium.messages import ProviderPart
from podium.messages import Redaction
from podium.messages import Text
from podium.messages import Thinking
from podium.messages import ToolCall
from podium.messages import ToolResult
from podium.providers.conversion import error_text
from podium.providers.conversion import map_tool_call_id
from podium.providers.conversion import prepare_parts
from podium.providers.conversion import same_provider
from podium.providers.jsonbody import deep_merge
from podium.providers.pricing import cost_of
from podium.providers.profiles import ModelProfile
from podium.providers.transport.errors import embedded_status
from podium.providers.transport.errors import http_error
from podium.settings import ModelSettings
from podium.settings import OutputSchema
from podium.settings import ToolDefinition
from podium.streaming import StreamDelta
from podium.streaming import TextDelta
from podium.streaming import ThinkingDelta
from podium.streaming import ToolCallDelta
from podium.streaming import parse_tool_args
from podium.usage import Usage

__all__ = [
    "PROVIDER",
    "StreamAccumulator",
    "build_request",
    "is_reasoning_model",
    "parse_response",
    "profile_for",
    "response_error",
    "usage_of",
]

logger = logging.getLogger("podium.providers.openai_responses")

PROVIDER = "openai-responses"
ENCRYPTED_REASONING = "reasoning.encrypted_content"

_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_REASONING_NAME = re.compile(r"^(o\d|gpt-5|gpt-6|gpt-oss|codex)|codex")
_GPT_VERSION = re.compile(r"gpt-(\d+)(?:\.(\d+))?")
_ECHO = frozenset(
    (
        "output",
        "usage",
        "model",
        "object",
        "instructions",
        "tools",
        "text",
        "tool_choice",
        "parallel_tool_calls",
        "temperature",
        "top_p",
        "truncation",
        "metadata",
        "max_output_tokens",
        "max_tool_calls",
        "previous_response_id",
        "prompt_cache_key",
        "prompt_cache_options",
        "user",
        "safety_identifier",
        "top_logprobs",
        "store",
        "frequency_penalty",
        "presence_penalty",
        "moderation",
        "background",
    )
)

# --------------------------------------------------------------------------- model families


def _base_name(model_name: str) -> str:
    return model_name.lower().rsplit("/", 1)[-1]


def is_reasoning_model(model_name: str) -> bool:
    """Whether the model reasons (o-series, gpt-5 and later, codex, gpt-oss)."""
    name = _base_name(model_name)
    return bool(_REASONING_NAME.search(name)) and "chat-latest" not in name


def _gpt_version(model_name: str) -> tuple[int, int]:
    match = _GPT_VERSION.search(_base_name(model_name))
    return (int(match.group(1)), int(match.group(2) or 0)) if match else (0, 0)


def _cache_breakpoints(model_name: str) -> bool:
    return _gpt_version(model_name) >= (5, 6)


def profile_for(model_name: str) -> ModelProfile:
    """The capability profile of an OpenAI model used through the Responses API."""
    name = _base_name(model_name)
    reasoning = is_reasoning_model(name)
    if name.startswith("gpt-4.1"):
        window, max_out = 1_047_576, 32_768
    elif name.startswith(("gpt-4o", "gpt-4-turbo")):
        window, max_out = 128_000, 16_384
    elif name.startswith("o"):
        window, max_out = 200_000, 100_000
    elif _gpt_version(name) >= (5, 0):
        window, max_out = 400_000, 128_000
    else:
        window, max_out = 128_000, 16_384
    return ModelProfile(
        context_window=window,
        max_output_tokens=max_out,
        vision=True,
        files=True,
        thinking=reasoning,
        structured_output=not name.startswith(("o1-mini", "o1-preview", "gpt-3.5")),
    )


# --------------------------------------------------------------------------- request


def _data_url(media_type: str | None, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


_EXTENSIONS = {"application/pdf": ".pdf", "text/plain": ".txt", "text/markdown": ".md", "text/csv": ".csv"}


def _input_part(part: Text | Image | File) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, Image):
        detail = (part.provider_details or {}).get("detail", "auto")
        url = part.url if part.url is not None else _data_url(part.media_type, part.data or b"")
        return {"type": "input_image", "image_url": url, "detail": detail}
    if part.url is not None:
        return {"type": "input_file", "file_url": part.url}
    filename = part.filename or "file" + _EXTENSIONS.get((part.media_type or "").lower(), "")
    return {"type": "input_file", "file_data": _data_url(part.media_type, part.data or b""), "filename": filename}


def _breakpoint(point: CachePoint) -> dict[str, Any]:
    return {"mode": "explicit", "ttl": point.ttl} if point.ttl in ("30m", "12h") else {"mode": "explicit"}


def _function_output(part: ToolResult, call_id: str) -> dict[str, Any]:
    content = part.content
    output: str | list[dict[str, Any]]
    if all(isinstance(item, Text) for item in content):
        output = "".join(item.text for item in content if isinstance(item, Text))
        if part.is_error:
            output = error_text(output)
    else:
        output = [_input_part(item) for item in content]
        if part.is_error:  # the item has no error flag: say it in the text
            first = output[0] if output[0]["type"] == "input_text" else None
            if first is not None:
                first["text"] = error_text(first["text"])
            else:
                output.insert(0, {"type": "input_text", "text": "Error:"})
    return {"type": "function_call_output", "call_id": call_id, "output": output}


class _Converter:
    """Builds the ``input`` list from universal messages."""

    def __init__(self, settings: ModelSettings, *, breakpoints: bool, store: bool | None) -> None:
        self.settings = settings
        self.breakpoints = breakpoints
        self.keep_ids = store is not False
        self.items: list[dict[str, Any]] = []
        self.last_content: dict[str, Any] | None = None
        self.skipped_reasoning: str | None = None

    def cache_point(self, point: CachePoint) -> None:
        if self.breakpoints and self.last_content is not None:
            self.last_content["prompt_cache_breakpoint"] = _breakpoint(point)

    def input_message(self, role: str, parts: list[Text | Image | File | CachePoint]) -> None:
        content: list[dict[str, Any]] = []
        for part in parts:
            if isinstance(part, CachePoint):
                self.cache_point(part)
                continue
            entry = _input_part(part)
            content.append(entry)
            self.last_content = entry
        if not content:
            return
        if len(content) == 1 and content[0]["type"] == "input_text" and len(content[0]) == 2:
            self.items.append({"role": role, "content": content[0]["text"]})
        else:
            self.items.append({"role": role, "content": content})

    def user(self, message: Message) -> None:
        pending: list[Text | Image | File | CachePoint] = []
        for part in message.parts:
            if isinstance(part, ToolResult):
                self.input_message("user", pending)
                pending = []
                self.items.append(_function_output(part, map_tool_call_id(part.call_id, pattern=_ID_PATTERN)))
            elif isinstance(part, (Text, Image, File, CachePoint)):
                pending.append(part)
            else:
                raise UserError(f"a {message.role} message cannot hold a {part.type} part for openai-responses")
        self.input_message("user", pending)

    def assistant(self, message: Message) -> None:
        own = same_provider(message, PROVIDER)
        items = self.items
        for part in prepare_parts(message, PROVIDER, foreign_thinking=self.settings.foreign_thinking):
            details: Mapping[str, Any] = (getattr(part, "provider_details", None) or {}) if own else {}
            if isinstance(part, Text):
                self._assistant_text(part, details)
            elif isinstance(part, Thinking):
                self._reasoning(part)
            elif isinstance(part, ToolCall):
                item: dict[str, Any] = {
                    "type": "function_call",
                    "call_id": map_tool_call_id(part.id, pattern=_ID_PATTERN),
                    "name": part.name,
                    "arguments": _arguments(part),
                }
                if self.keep_ids and details.get("id"):
                    item["id"] = details["id"]
                for key in ("namespace", "caller"):
                    if key in details:
                        item[key] = details[key]
                items.append(item)
            elif isinstance(part, ProviderPart):
                items.append(_provider_item(part.data))
            elif isinstance(part, CachePoint):
                self.cache_point(part)
            elif isinstance(part, ToolResult):
                items.append(_function_output(part, map_tool_call_id(part.call_id, pattern=_ID_PATTERN)))
            else:
                raise UserError(f"openai-responses cannot take a {part.type} part in an assistant message")

    def _assistant_text(self, part: Text, details: Mapping[str, Any]) -> None:
        item_id = details.get("id")
        if item_id is None or not self.keep_ids:
            # An output message item needs its id; without one the text goes as a plain assistant message.
            if part.text:
                easy: dict[str, Any] = {"role": "assistant", "content": part.text}
                if details.get("phase") is not None:
                    easy["phase"] = details["phase"]
                self.items.append(easy)
            return
        if details.get("refusal"):
            content: dict[str, Any] = {"type": "refusal", "refusal": part.text}
        else:
            content = {"type": "output_text", "text": part.text, "annotations": details.get("annotations", [])}
        last = self.items[-1] if self.items else None
        if last is not None and last.get("type") == "message" and last.get("_podium_id") == item_id:
            last["content"].append(content)
            return
        item: dict[str, Any] = {"type": "message", "role": "assistant", "content": [content], "_podium_id": item_id}
        if self.keep_ids:
            item["id"] = item_id
        item["status"] = details.get("status", "completed")
        if details.get("phase") is not None:
            item["phase"] = details["phase"]
        self.items.append(item)

    def _reasoning(self, part: Thinking) -> None:
        if part.id is None or part.id == self.skipped_reasoning:
            return
        last = self.items[-1] if self.items else None
        if last is not None and last.get("type") == "reasoning" and last.get("id") == part.id:
            last["summary"].append({"type": "summary_text", "text": part.text})
            if part.encrypted is not None:
                last["encrypted_content"] = part.encrypted
            return
        if not self.keep_ids and part.encrypted is None:
            # Not stored and not encrypted: the API could only look it up by id, and would not find it.
            self.skipped_reasoning = part.id
            return
        item: dict[str, Any] = {"type": "reasoning", "id": part.id, "summary": []}
        if part.text:
            item["summary"].append({"type": "summary_text", "text": part.text})
        if part.encrypted is not None:
            item["encrypted_content"] = part.encrypted
        for key, value in (part.provider_details or {}).items():
            if key == "content":
                item[key] = value
        self.items.append(item)

    def finish(self) -> list[dict[str, Any]]:
        for item in self.items:
            item.pop("_podium_id", None)
        return self.items


def _arguments(call: ToolCall) -> str:
    """The argument string as OpenAI models write it (compact JSON), so a resent prefix stays cacheable."""
    if call.raw_args is not None:
        return call.raw_args
    return json.dumps(call.args, ensure_ascii=False, separators=(",", ":"))


def _provider_item(data: Mapping[str, Any]) -> dict[str, Any]:
    item = dict(data)
    action = item.get("action")
    if item.get("type") == "web_search_call" and isinstance(action, Mapping) and "sources" in action:
        item["action"] = {k: v for k, v in action.items() if k != "sources"}
    return item


def _split_history(messages: Sequence[Message], auto_previous: bool) -> tuple[Sequence[Message], str | None]:
    """Messages to send and the ``previous_response_id`` to continue from (auto mode)."""
    if not auto_previous:
        return messages, None
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role == "assistant":
            response_id = (message.provider_details or {}).get("id") if same_provider(message, PROVIDER) else None
            if isinstance(response_id, str):
                rest = list(messages[index + 1 :])
                system = [m for m in messages[:index] if m.role == "system"]
                return [*system, *rest], response_id
            return messages, None
    return messages, None


def _reasoning_effort(setting: bool | str | int, model_name: str) -> str | None:
    name = _base_name(model_name)
    family5 = name.startswith("gpt-5") and _gpt_version(name) == (5, 0)
    if setting is True:
        return None
    if setting is False:
        if name.startswith("o"):
            logger.warning("%s cannot turn reasoning off; using effort 'low'", model_name)
            return "low"
        return "minimal" if family5 else "none"
    if isinstance(setting, int):
        return "low" if setting <= 2048 else "medium" if setting <= 8192 else "high"
    if setting not in ("minimal", "low", "medium", "high"):
        raise UserError(f"unknown thinking level {setting!r}; use minimal, low, medium, high, a bool or an int")
    if setting == "minimal" and not family5:
        return "low"
    return setting


def build_request(
    messages: Sequence[Message],
    *,
    model_name: str,
    store: bool | None = None,
    previous_response_id: str | None = None,
    tools: Sequence[ToolDefinition] | None = None,
    settings: ModelSettings | None = None,
    output: OutputSchema | None = None,
) -> dict[str, Any]:
    """The Responses API body for a request.

    Args:
        messages: The conversation.
        model_name: The model.
        tools: Function tools to offer.
        settings: Portable settings; ``extra["openai-responses"]`` is merged in last, nested objects key
            by key; its ``tools`` (built-in tools such as ``web_search``) are added after the function
            tools, and its ``store`` and ``previous_response_id`` override the arguments below.
        output: Structured output schema (``text.format`` JSON schema).
        store: ``store`` to send (``None`` leaves the API default, which stores responses).
        previous_response_id: ``"auto"`` continues from the last response of this provider in ``messages``
            (``previous_response_id`` set to its id, only the messages after it sent; system messages still
            become ``instructions``); a response id is sent as is, with all of ``messages``.
    """
    s = settings or ModelSettings()
    extra = dict(s.for_provider(PROVIDER))
    wanted = extra.pop("previous_response_id", previous_response_id)
    store = extra.get("store", store)
    history, previous = _split_history(messages, wanted == "auto")
    if wanted is not None and wanted != "auto":
        previous = wanted
    body: dict[str, Any] = {"model": model_name}
    instructions: list[str] = []
    converter = _Converter(s, breakpoints=_cache_breakpoints(model_name), store=store)
    leading = True
    for message in history:
        if message.role == "system":
            text = "".join(p.text for p in message.parts if isinstance(p, Text))
            if leading:
                instructions.append(text)
            else:
                converter.input_message("system", [p for p in message.parts if isinstance(p, (Text, CachePoint))])
            continue
        leading = False
        if message.role == "assistant":
            converter.assistant(message)
        else:
            converter.user(message)
    if instructions:
        body["instructions"] = "\n\n".join(instructions)
    body["input"] = converter.finish()
    if previous is not None:
        body["previous_response_id"] = previous
    if store is not None:
        body["store"] = store
    reasoning = is_reasoning_model(model_name)
    if reasoning and s.thinking is not False:
        body["include"] = [ENCRYPTED_REASONING]
    if s.thinking is not None:
        if reasoning:
            effort = _reasoning_effort(s.thinking, model_name)
            if effort is not None:
                body["reasoning"] = {"effort": effort}
        elif s.thinking is not False:
            logger.debug("%s does not reason; thinking=%r is ignored", model_name, s.thinking)
    if s.max_tokens is not None:
        body["max_output_tokens"] = s.max_tokens
    if s.temperature is not None:
        body["temperature"] = s.temperature
    if s.top_p is not None:
        body["top_p"] = s.top_p
    if s.stop:
        raise UserError(
            "the OpenAI Responses API has no stop sequences; remove stop= "
            "or use the 'openai' (Chat Completions) provider"
        )
    if output is not None:
        fmt: dict[str, Any] = {"type": "json_schema", "name": output.name, "schema": dict(output.schema)}
        if output.description:
            fmt["description"] = output.description
        fmt["strict"] = output.strict
        body["text"] = {"format": fmt}
    wire_tools: list[dict[str, Any]] = [
        {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "strict": bool(tool.strict),
        }
        for tool in tools or ()
    ]
    wire_tools.extend(extra.pop("tools", None) or ())
    if wire_tools:
        body["tools"] = wire_tools
    if s.tool_choice is not None:
        if s.tool_choice in ("auto", "required", "none"):
            body["tool_choice"] = s.tool_choice
        else:
            names = {tool.name for tool in tools or ()}
            if s.tool_choice not in names:
                raise UserError(f"tool_choice={s.tool_choice!r} names no tool offered; tools: {sorted(names)}")
            body["tool_choice"] = {"type": "function", "name": s.tool_choice}
    if s.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = s.parallel_tool_calls
    if extra:
        deep_merge(body, extra)
    return body


# --------------------------------------------------------------------------- response


def _nonempty(value: Any) -> bool:
    return value is not None and value != [] and value != {}


def _item_parts(item: Mapping[str, Any]) -> list[Part]:
    kind = item.get("type")
    if kind == "message":
        base = {k: v for k, v in item.items() if k not in ("type", "role", "content") and _nonempty(v)}
        parts: list[Part] = []
        for content in item.get("content") or ():
            details = dict(base)
            details.update({k: v for k, v in content.items() if k not in ("type", "text", "refusal") and _nonempty(v)})
            if content.get("type") == "refusal":
                details["refusal"] = True
                parts.append(Text(content.get("refusal", ""), details))
            else:
                parts.append(Text(content.get("text", ""), details))
        return parts
    if kind == "reasoning":
        texts = [summary.get("text", "") for summary in item.get("summary") or ()] or [""]
        # no readable summary: the reasoning is encrypted (in ``encrypted_content``, or held by the API by id)
        hidden: Redaction | None = None if any(texts) else "encrypted"
        extras = {
            k: v for k, v in item.items() if k not in ("type", "id", "summary", "encrypted_content") and _nonempty(v)
        }
        return [
            Thinking(
                text,
                encrypted=item.get("encrypted_content") if i == 0 else None,
                provider=PROVIDER,
                id=item.get("id"),
                provider_details=(extras or None) if i == 0 else None,
                redaction=hidden if i == 0 else None,
            )
            for i, text in enumerate(texts)
        ]
    if kind == "function_call":
        args, raw = parse_tool_args(item.get("arguments"))
        details = {k: v for k, v in item.items() if k not in ("type", "call_id", "name", "arguments") and _nonempty(v)}
        return [ToolCall(item.get("call_id", ""), item.get("name", ""), args, raw, details or None)]
    return [ProviderPart(PROVIDER, dict(item))]


def _part_count(item: Mapping[str, Any]) -> int:
    kind = item.get("type")
    if kind == "message":
        return len(item.get("content") or ())
    if kind == "reasoning":
        return len(item.get("summary") or ()) or 1
    return 1


def usage_of(data: Mapping[str, Any] | None) -> Usage:
    """Podium usage from a Responses ``usage`` object (and its ``*_details``)."""
    if not data:
        return Usage(requests=1)
    inputs = data.get("input_tokens_details") or {}
    outputs = data.get("output_tokens_details") or {}
    details: dict[str, int] = {}
    for group, skip in ((inputs, ("cached_tokens", "cache_write_tokens")), (outputs, ("reasoning_tokens",))):
        for key, value in group.items():
            if key not in skip and isinstance(value, int) and not isinstance(value, bool) and value:
                details[key] = value
    return Usage(
        input_tokens=data.get("input_tokens") or 0,
        output_tokens=data.get("output_tokens") or 0,
        cache_read_tokens=inputs.get("cached_tokens") or 0,
        cache_write_tokens=inputs.get("cache_write_tokens") or 0,
        reasoning_tokens=outputs.get("reasoning_tokens") or 0,
        requests=1,
        details=details,
    )


def _finish(data: Mapping[str, Any], parts: Sequence[Part]) -> tuple[FinishReason | None, str | None]:
    status = data.get("status")
    incomplete = data.get("incomplete_details")
    reason = incomplete.get("reason") if isinstance(incomplete, Mapping) else None
    if status == "incomplete":
        return ("content_filter" if reason == "content_filter" else "length"), reason or status
    if status == "failed":
        return "error", status
    if status == "cancelled":
        return "cancelled", status
    if status in (None, "in_progress", "queued"):
        return None, status
    return ("tool_calls" if any(isinstance(p, ToolCall) for p in parts) else "stop"), status


def parse_response(data: Mapping[str, Any], *, model_name: str) -> ModelResponse:
    """The universal response for a Responses API ``response`` object."""
    parts: list[Part] = []
    for item in data.get("output") or ():
        parts.extend(_item_parts(item))
    finish, raw = _finish(data, parts)
    details: dict[str, Any] = {k: v for k, v in data.items() if k not in _ECHO and _nonempty(v)}
    tool_usage = data.get("tool_usage")
    if isinstance(tool_usage, Mapping):
        details.pop("tool_usage", None)
        searches = (tool_usage.get("web_search") or {}).get("num_requests")
        if searches:
            details["tool_usage"] = tool_usage
    if raw is not None:
        details["finish_reason"] = raw
    usage = usage_of(data.get("usage"))
    model = data.get("model") or model_name
    return ModelResponse(
        parts,
        model=model,
        provider=PROVIDER,
        finish_reason=finish,
        usage=usage,
        cost=cost_of(PROVIDER, model, usage),
        provider_details=details or None,
    )


def response_error(error: Mapping[str, Any] | None, model: str | None) -> ProviderHTTPError:
    """The Podium error for a ``response.failed`` or ``error`` stream event (the HTTP status was 200)."""
    body: dict[str, Any] = dict(error or {})
    wrapped = body if isinstance(body.get("error"), Mapping) else {"error": body}
    return http_error(embedded_status(wrapped, 500), wrapped, provider=PROVIDER, model=model)


# --------------------------------------------------------------------------- stream


_NOTHING: list[StreamDelta] = []
"""What :meth:`StreamAccumulator.feed` returns for an event with nothing to show (shared, never changed)."""


class StreamAccumulator:
    """Keeps what a Responses stream adds up to, and turns its events into deltas.

    Part indices of the deltas are the positions of the parts in the final response: items are
    streamed one after another, so an item's first part comes after all parts of the items before it.

    Args:
        model_name: The model asked (the response names the one the stream names, if any).
    """

    __slots__ = ("_base", "_done", "complete", "items", "model_name", "response")

    def __init__(self, model_name: str) -> None:
        self.complete = False
        """Whether ``response.completed`` or ``response.incomplete`` arrived (a stream without either was cut off)."""
        self.model_name = model_name
        self.items: dict[int, dict[str, Any]] = {}
        self.response: dict[str, Any] = {}
        self._base: dict[int, int] = {}
        self._done = 0

    def feed(self, event: dict[str, Any]) -> list[StreamDelta]:
        """Apply one event; the deltas for the user (none when the event carries no visible content)."""
        kind = event.get("type")
        if kind == "response.output_text.delta":
            return [TextDelta(self._base[event["output_index"]] + event["content_index"], event["delta"])]
        if kind == "response.function_call_arguments.delta":
            return [ToolCallDelta(self._base[event["output_index"]], args_delta=event["delta"])]
        if kind == "response.reasoning_summary_text.delta":
            return [ThinkingDelta(self._base[event["output_index"]] + event["summary_index"], event["delta"])]
        if kind == "response.output_item.added":
            self._base[event["output_index"]] = self._done
            item = event["item"]
            if item.get("type") == "function_call":
                return [ToolCallDelta(self._done, item.get("call_id"), item.get("name"))]
        elif kind == "response.output_item.done":
            item = event["item"]
            index = event["output_index"]
            if index not in self._base:
                self._base[index] = self._done
            self.items[index] = item
            self._done += _part_count(item)
        elif kind in ("response.completed", "response.incomplete", "response.created", "response.in_progress"):
            self.response = event.get("response") or {}
            if kind in ("response.completed", "response.incomplete"):
                self.complete = True
        elif kind == "response.failed":
            response = event.get("response") or {}
            raise response_error(response.get("error"), response.get("model") or self.model_name)
        elif kind == "error":
            raise response_error(event, self.response.get("model") or self.model_name)
        return _NOTHING

    def finish(self) -> ModelResponse:
        """The final response: the last ``response`` object, its ``output`` made of the finished items."""
        final = dict(self.response)
        final["output"] = [self.items[index] for index in sorted(self.items)]
        return parse_response(final, model_name=self.model_name)
