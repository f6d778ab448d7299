"""Pure translation between Podium's universal messages and the Anthropic Messages API (no I/O).

Shared by the sync and async paths and by requests and streams of :mod:`podium.providers.anthropic`:

* :func:`build_request` turns messages, tools, settings and an output schema into the JSON body.
* :func:`parse_message` turns a Messages API ``message`` object into a :class:`ModelResponse`.
* :class:`StreamAccumulator` folds stream events into the ``message`` object they add up to, and returns
  the deltas to forward for each; the final response of a stream is ``parse_message`` of that object, so
  streamed and non-streamed responses are built by the same code.
* :func:`needs_stream` says when a request is too long to be made without a stream (the SDK's rule).

Wire shapes, both directions:

=======================================  ===================================================================
Anthropic block                          Podium part
=======================================  ===================================================================
``text`` (``citations``, ...)            :class:`Text`; ``citations`` and other extras in ``provider_details``
``thinking`` (``signature``)             :class:`Thinking` with ``signature``, ``provider="anthropic"``
``redacted_thinking`` (``data``)         :class:`Thinking` with ``encrypted=data``, no text, ``redaction="provider"``
``tool_use``                             :class:`ToolCall` (``caller`` etc. in ``provider_details``)
``tool_result`` (user)                   :class:`ToolResult` (text, images and PDFs; ``is_error``)
``image`` / ``document``                 :class:`Image` / :class:`File` (base64, URL, or plain text)
``server_tool_use``, ``*_tool_result``   :class:`ProviderPart` kept verbatim and sent back as is
anything else the API adds later         :class:`ProviderPart`
=======================================  ===================================================================

Rules worth knowing:

* System messages anywhere in the conversation go to the top-level ``system`` (joined by blank lines;
  as a list of blocks when a :class:`CachePoint` asks for ``cache_control``).
* A :class:`CachePoint` puts ``cache_control`` (``{"type": "ephemeral"}`` plus ``ttl``) on the block
  before it, in the previous message when it opens one.
* Consecutive messages with the same wire role are merged (tool results and a following user message
  become one ``user`` message, tool results first), as the API expects.
* Thinking blocks from Anthropic without a signature (a cut stream) cannot be sent back and are dropped;
  thinking from other providers follows :mod:`podium.providers.conversion` (dropped, or text with
  ``foreign_thinking="text"``). ``provider_details`` are sent only to Anthropic.
* Tool-call ids that do not match ``^[a-zA-Z0-9_-]+$`` (from another provider) are mapped with
  :func:`~podium.providers.conversion.map_tool_call_id`, the same way for a call and its result.
* Empty text blocks are left out (the API rejects them).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
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
from podium.messages import Text
from podium.messages import Thinking
from podium.messages import ToolCall
from podium.messages import ToolResult
from podium.providers.conversion import append_turn
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
    "API_VERSION",
    "NONSTREAMING_TOKENS",
    "PROVIDER",
    "ClaudeFamily",
    "RequestBody",
    "StreamAccumulator",
    "build_request",
    "claude_family",
    "needs_stream",
    "parse_message",
    "profile_for",
    "stream_error",
    "usage_of",
]

PROVIDER = "anthropic"
API_VERSION = "2023-06-01"
"""The ``anthropic-version`` header every request carries."""

# The output-token limits above which a request must stream, copied from the anthropic SDK
# (``anthropic._constants.MODEL_NONSTREAMING_TOKENS``, SDK 2.16): its ``messages.create`` refuses a
# non-streaming request for these models with more ``max_tokens``, as it refuses any request whose
# ``max_tokens`` could take over ten minutes (see :func:`needs_stream`).
NONSTREAMING_TOKENS: Mapping[str, int] = {
    "claude-opus-4-20250514": 8_192,
    "claude-opus-4-0": 8_192,
    "claude-4-opus-20250514": 8_192,
    "anthropic.claude-opus-4-20250514-v1:0": 8_192,
    "claude-opus-4@20250514": 8_192,
    "anthropic.claude-opus-4-1-20250805-v1:0": 8_192,
    "claude-opus-4-1@20250805": 8_192,
}
_MAX_SECONDS = 60 * 60
"""The SDK's estimate: ``128_000`` output tokens take up to an hour ..."""
_NONSTREAMING_SECONDS = 60 * 10
"""... and a request without a stream may take ten minutes."""
DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when the settings leave it unset (the API requires one); at least the thinking budget
plus 2048 when thinking has a budget."""

_EFFORT_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_ID_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
_TEXT_KEYS = frozenset(("type", "text"))
_THINKING_KEYS = frozenset(("type", "thinking", "signature"))
_TOOL_USE_KEYS = frozenset(("type", "id", "name", "input"))
_MESSAGE_SKIP = frozenset(("content", "usage", "model", "role", "type", "stop_reason"))


# --------------------------------------------------------------------------- model families


@dataclass(frozen=True, slots=True)
class ClaudeFamily:
    """What a Claude model name tells about the API features it takes."""

    version: tuple[int, int]
    """(major, minor), such as ``(4, 5)``; ``(99, 0)`` for named previews newer than any number."""
    adaptive_thinking: bool
    """Takes ``thinking: {"type": "adaptive"}`` with ``output_config.effort`` (Claude 4.6 and later)."""
    budget_thinking: bool
    """Takes ``thinking: {"type": "enabled", "budget_tokens": n}`` (removed after Claude 4.6)."""
    native_output: bool
    """Takes ``output_config.format`` (JSON schema output)."""


_NEW_NAME = re.compile(r"claude-(opus|sonnet|haiku|mythos|fable)-(\d+)(?:-(\d{1,2})(?=-|$|@|:))?")
_OLD_NAME = re.compile(r"claude-(\d)(?:-(\d))?-(opus|sonnet|haiku)")


def claude_family(model_name: str) -> ClaudeFamily:
    """Features of a Claude model, from its name (unknown names are treated as the newest models)."""
    name = model_name.lower()
    kind = ""
    version = (99, 0)
    match = _NEW_NAME.search(name)
    if match:
        kind, version = match.group(1), (int(match.group(2)), int(match.group(3) or 0))
    else:
        old = _OLD_NAME.search(name)
        if old:
            kind, version = old.group(3), (int(old.group(1)), int(old.group(2) or 0))
        elif "mythos" in name or "fable" in name:
            kind = "mythos"
    adaptive = version >= (4, 6)
    budget = version <= (4, 6) and kind not in ("mythos", "fable")
    native = version >= (4, 5) or (kind == "opus" and version >= (4, 1))
    return ClaudeFamily(version, adaptive, budget, native)


def profile_for(model_name: str) -> ModelProfile:
    """The capability profile of a Claude model."""
    family = claude_family(model_name)
    version = family.version
    name = model_name.lower()
    if version < (3, 5) and "haiku" in name:
        max_out = 4096
    elif version < (3, 7):
        max_out = 8192
    elif version >= (4, 6) and "opus" in name:
        max_out = 128_000
    elif "opus" in name and version < (4, 5):
        max_out = 32_000
    else:
        max_out = 64_000
    return ModelProfile(
        context_window=200_000,
        max_output_tokens=max_out,
        vision=True,
        files=True,
        thinking=version >= (3, 7),
        structured_output=family.native_output,
        cache_points=True,
    )


# --------------------------------------------------------------------------- request


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _cache_control(point: CachePoint) -> dict[str, Any]:
    return {"type": "ephemeral", "ttl": point.ttl} if point.ttl else {"type": "ephemeral"}


def _media_block(part: Image | File) -> dict[str, Any]:
    if isinstance(part, Image):
        if part.url is not None:
            return {"type": "image", "source": {"type": "url", "url": part.url}}
        assert part.data is not None
        return {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": _b64(part.data)}}
    block: dict[str, Any]
    media = (part.media_type or "").lower()
    if part.url is not None:
        block = {"type": "document", "source": {"type": "url", "url": part.url}}
    elif media == "application/pdf":
        assert part.data is not None
        block = {"type": "document", "source": {"type": "base64", "media_type": media, "data": _b64(part.data)}}
    elif media.startswith("text/"):
        assert part.data is not None
        text = part.data.decode("utf-8", "replace")
        block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}
    elif media.startswith("image/"):
        assert part.data is not None
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": _b64(part.data)}}
    else:
        raise UserError(
            f"Anthropic cannot take a file of type {part.media_type!r}; it takes PDFs, plain text and images. "
            "Convert the file to one of these, or pass its text as a Text part."
        )
    if part.filename:
        block["title"] = part.filename
    return block


def _tool_result_block(part: ToolResult, call_id: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
    content = part.content
    if len(content) == 1 and isinstance(content[0], Text):
        block["content"] = content[0].text
    elif content:
        blocks: list[dict[str, Any]] = []
        for item in content:
            if isinstance(item, Text):
                if item.text:
                    blocks.append({"type": "text", "text": item.text})
            else:
                blocks.append(_media_block(item))
        block["content"] = blocks
    block["is_error"] = part.is_error
    return block


def _details(part: Text | Thinking | ToolCall, own: bool) -> dict[str, Any]:
    if not own or not part.provider_details:
        return {}
    return {k: v for k, v in part.provider_details.items() if not k.startswith("podium_")}


def _blocks_of(message: Message, settings: ModelSettings) -> list[tuple[dict[str, Any] | None, CachePoint | None]]:
    """The wire blocks of one message, each with a cache point to apply after it (pairs keep order)."""
    own = message.role == "assistant" and same_provider(message, PROVIDER)
    out: list[tuple[dict[str, Any] | None, CachePoint | None]] = []
    for part in prepare_parts(message, PROVIDER, foreign_thinking=settings.foreign_thinking):
        if isinstance(part, CachePoint):
            out.append((None, part))
        elif isinstance(part, Text):
            if part.text:
                out.append(({"type": "text", "text": part.text, **_details(part, own)}, None))
        elif isinstance(part, (Image, File)):
            out.append((_media_block(part), None))
        elif isinstance(part, Thinking):
            if part.signature is not None:
                thinking = {"type": "thinking", "thinking": part.text, "signature": part.signature}
                out.append(({**thinking, **_details(part, True)}, None))
            elif part.encrypted is not None:
                out.append(({"type": "redacted_thinking", "data": part.encrypted}, None))
        elif isinstance(part, ToolCall):
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": map_tool_call_id(part.id, pattern=_ID_PATTERN),
                "name": part.name,
                "input": part.args,
            }
            out.append(({**block, **_details(part, own)}, None))
        elif isinstance(part, ToolResult):
            out.append((_tool_result_block(part, map_tool_call_id(part.call_id, pattern=_ID_PATTERN)), None))
        elif isinstance(part, ProviderPart):
            out.append((dict(part.data), None))
    return out


def _convert(messages: Sequence[Message], settings: ModelSettings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    wire: list[dict[str, Any]] = []
    last_block: dict[str, Any] | None = None
    for message in messages:
        if message.role == "system":
            for part in message.parts:
                if isinstance(part, Text):
                    system.append({"type": "text", "text": part.text})
                elif isinstance(part, CachePoint):
                    if system:
                        system[-1]["cache_control"] = _cache_control(part)
                else:
                    raise UserError(f"a system message may hold only text, got a {part.type} part")
            continue
        blocks: list[dict[str, Any]] = []
        for block, point in _blocks_of(message, settings):
            if block is not None:
                blocks.append(block)
                last_block = block
            elif point is not None and last_block is not None:
                last_block["cache_control"] = _cache_control(point)
        append_turn(wire, message, blocks)
    for item in wire:
        content = item["content"]
        if item["role"] == "user" and any(b.get("type") == "tool_result" for b in content[1:]):
            content.sort(key=lambda b: b.get("type") != "tool_result")
    return system, wire


def _thinking(setting: bool | str | int, family: ClaudeFamily) -> tuple[dict[str, Any], str | None, int]:
    """``(thinking, effort, budget)`` for the portable thinking setting (budget 0 when none)."""
    if setting is False:
        return {"type": "disabled"}, None, 0
    if setting is True:
        if family.adaptive_thinking:
            return {"type": "adaptive"}, None, 0
        setting = "medium"
    if isinstance(setting, str):
        if setting not in _EFFORT_BUDGETS:
            raise UserError(
                f"unknown thinking level {setting!r}; use one of {sorted(_EFFORT_BUDGETS)}, a bool or an int"
            )
        if family.adaptive_thinking:
            return {"type": "adaptive"}, ("low" if setting == "minimal" else setting), 0
        budget = _EFFORT_BUDGETS[setting]
        return {"type": "enabled", "budget_tokens": budget}, None, budget
    if not family.budget_thinking:
        effort = "low" if setting <= 2048 else "medium" if setting <= 8192 else "high"
        return {"type": "adaptive"}, effort, 0
    if setting < 1024:
        raise UserError(f"Anthropic needs a thinking budget of at least 1024 tokens, got {setting}")
    return {"type": "enabled", "budget_tokens": setting}, None, setting


def _tool_choice(choice: str, tool_names: set[str]) -> dict[str, Any]:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if choice not in tool_names:
        raise UserError(f"tool_choice={choice!r} names no tool offered; tools: {sorted(tool_names)}")
    return {"type": "tool", "name": choice}


def build_request(
    messages: Sequence[Message],
    *,
    model_name: str,
    profile: ModelProfile | None = None,
    tools: Sequence[ToolDefinition] | None = None,
    settings: ModelSettings | None = None,
    output: OutputSchema | None = None,
) -> tuple[dict[str, Any], str | None]:
    """The Messages API body for a request, and the name of the tool that carries the output (if any).

    ``extra["anthropic"]`` is merged into the body last (nested objects key by key), except its ``tools``,
    which are added after the function tools (server tools such as ``web_search_20250305``).

    When ``output`` is given and the model has no native JSON-schema output (``profile.structured_output``
    false), the schema is offered as a tool that the model is made to call; :func:`parse_message` turns
    that call back into the JSON text of the answer.
    """
    s = settings or ModelSettings()
    family = claude_family(model_name)
    prof = profile or profile_for(model_name)
    system, wire = _convert(messages, s)
    body: dict[str, Any] = {"model": model_name, "messages": wire}
    if system:
        if any("cache_control" in block for block in system):
            body["system"] = system
        else:
            body["system"] = "\n\n".join(block["text"] for block in system)
    wire_tools: list[dict[str, Any]] = []
    for tool in tools or ():
        entry: dict[str, Any] = {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
        if tool.strict:
            entry["strict"] = True
        wire_tools.append(entry)
    output_tool: str | None = None
    output_config: dict[str, Any] = {}
    if output is not None:
        if prof.structured_output:
            output_config["format"] = {"type": "json_schema", "schema": dict(output.schema)}
        else:
            output_tool = output.name
            wire_tools.append(
                {
                    "name": output.name,
                    "description": output.description or "Give the final answer with this tool.",
                    "input_schema": dict(output.schema),
                }
            )
    budget = 0
    if s.thinking is not None:
        thinking, effort, budget = _thinking(s.thinking, family)
        body["thinking"] = thinking
        if effort is not None:
            output_config["effort"] = effort
    if s.max_tokens is not None:
        if budget and s.max_tokens <= budget:
            raise UserError(
                f"max_tokens={s.max_tokens} leaves no room for the thinking budget of {budget} tokens; "
                "raise max_tokens or lower the thinking budget"
            )
        body["max_tokens"] = s.max_tokens
    else:
        limit = prof.max_output_tokens or DEFAULT_MAX_TOKENS
        body["max_tokens"] = min(limit, max(DEFAULT_MAX_TOKENS, budget + 2048))
    if output_config:
        body["output_config"] = output_config
    if s.stop:
        body["stop_sequences"] = list(s.stop)
    if s.temperature is not None:
        body["temperature"] = s.temperature
    if s.top_p is not None:
        body["top_p"] = s.top_p
    extra = dict(s.for_provider(PROVIDER))
    wire_tools.extend(extra.pop("tools", None) or ())
    if wire_tools:
        body["tools"] = wire_tools
    choice: dict[str, Any] | None = None
    if output_tool is not None and s.tool_choice in (None, "auto", "required"):
        thinking_on = body.get("thinking", {}).get("type") not in (None, "disabled")
        choice = {"type": "auto"} if thinking_on else {"type": "tool", "name": output_tool}
    elif s.tool_choice is not None:
        choice = _tool_choice(s.tool_choice, {t["name"] for t in wire_tools})
    if s.parallel_tool_calls is not None and wire_tools:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = not s.parallel_tool_calls
    if choice is not None:
        body["tool_choice"] = choice
    if extra:
        deep_merge(body, extra)
    return body, output_tool


class RequestBody(dict[str, Any]):
    """A request's JSON body, and what its answer's translation needs to know (never sent)."""

    __slots__ = ("output_tool",)

    def __init__(self, body: Mapping[str, Any], output_tool: str | None) -> None:
        super().__init__(body)
        self.output_tool = output_tool
        """The tool that carries the structured output (:func:`build_request`), if any."""


def needs_stream(model_name: str, max_tokens: Any) -> bool:
    """Whether a request for up to ``max_tokens`` must stream: the anthropic SDK's rule, which the API's limits follow.

    It could take over ten minutes (``max_tokens`` beyond 21,333, at the SDK's estimate of an hour for
    128,000 tokens), or the model has a lower limit without a stream (:data:`NONSTREAMING_TOKENS`).
    """
    if not isinstance(max_tokens, int):  # the API will refuse it whole or streamed: let it say why
        return False
    limit = NONSTREAMING_TOKENS.get(model_name)
    return _MAX_SECONDS * max_tokens / 128_000 > _NONSTREAMING_SECONDS or bool(limit and max_tokens > limit)


# --------------------------------------------------------------------------- response


def _extras(block: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any] | None:
    extras = {k: v for k, v in block.items() if k not in known and v is not None and v != []}
    return extras or None


def _part_of(block: dict[str, Any], output_tool: str | None) -> Part:
    kind = block.get("type")
    if kind == "text":
        return Text(block.get("text", ""), _extras(block, _TEXT_KEYS))
    if kind == "thinking":
        return Thinking(
            block.get("thinking", ""),
            signature=block.get("signature") or None,
            provider=PROVIDER,
            provider_details=_extras(block, _THINKING_KEYS),
        )
    if kind == "redacted_thinking":
        return Thinking("", encrypted=block.get("data", ""), provider=PROVIDER, redaction="provider")
    if kind == "tool_use":
        raw = block.get("input")
        if isinstance(raw, dict):
            args, raw_args = raw, None
        else:
            args, raw_args = parse_tool_args(raw if isinstance(raw, str) else json.dumps(raw))
        if output_tool is not None and block.get("name") == output_tool:
            return Text(raw_args or json.dumps(args, ensure_ascii=False), {"podium_output_tool": output_tool})
        return ToolCall(block.get("id", ""), block.get("name", ""), args, raw_args, _extras(block, _TOOL_USE_KEYS))
    return ProviderPart(PROVIDER, block)


def usage_of(data: Mapping[str, Any] | None) -> Usage:
    """Podium usage from an Anthropic ``usage`` object (input tokens include cache reads and writes)."""
    if not data:
        return Usage(requests=1)
    read = data.get("cache_read_input_tokens") or 0
    write = data.get("cache_creation_input_tokens") or 0
    details: dict[str, int] = {}
    for group in ("cache_creation", "server_tool_use"):
        values = data.get(group)
        if isinstance(values, Mapping):
            for key, value in values.items():
                if isinstance(value, int) and not isinstance(value, bool) and value:
                    details[key] = value
    return Usage(
        input_tokens=(data.get("input_tokens") or 0) + read + write,
        output_tokens=data.get("output_tokens") or 0,
        cache_read_tokens=read,
        cache_write_tokens=write,
        requests=1,
        details=details,
    )


def parse_message(data: Mapping[str, Any], *, model_name: str, output_tool: str | None = None) -> ModelResponse:
    """The universal response for a Messages API ``message`` object."""
    parts = [_part_of(block, output_tool) for block in data.get("content") or ()]
    raw_finish = data.get("stop_reason")
    details: dict[str, Any] = {k: v for k, v in data.items() if k not in _MESSAGE_SKIP and v is not None}
    usage_data = data.get("usage") or {}
    for key in ("service_tier", "inference_geo"):
        if usage_data.get(key) is not None:
            details[key] = usage_data[key]
    if raw_finish is not None:
        details["finish_reason"] = raw_finish
    usage = usage_of(usage_data)
    model = data.get("model") or model_name
    return ModelResponse(
        parts,
        model=model,
        provider=PROVIDER,
        finish_reason=_FINISH.get(raw_finish, "stop") if raw_finish else None,
        usage=usage,
        cost=cost_of(PROVIDER, model, usage),
        provider_details=details or None,
    )


# --------------------------------------------------------------------------- stream


def stream_error(event: Mapping[str, Any], model: str | None) -> ProviderHTTPError:
    """The Podium error for an ``error`` event sent inside a stream (the HTTP status was already 200).

    The status is the one the error type stands for (``overloaded_error`` -> 529, ``invalid_request_error``
    -> 400 ...; :func:`~podium.providers.transport.errors.embedded_status`), so the exception is the one the same
    error gives as an HTTP answer; 500 for an unknown type.
    """
    return http_error(embedded_status(event, 500), dict(event), provider=PROVIDER, model=model)


_NOTHING: list[StreamDelta] = []
"""What :meth:`StreamAccumulator.feed` returns for an event with nothing to show (shared, never changed)."""


class StreamAccumulator:
    """Folds Messages API stream events into the ``message`` they describe.

    :meth:`feed` takes one parsed event and returns the deltas to forward; :attr:`message` is the message
    so far, and :meth:`finish` its response. An error sent inside the stream (``{"type": "error", ...}``,
    such as ``overloaded_error``) makes :meth:`feed` raise the matching :class:`~podium.exceptions.ProviderError`.

    Args:
        model_name: The model asked (the response names the one the stream names, if any).
        output_tool: The tool that carries the structured output: its calls are not shown as deltas.
    """

    __slots__ = ("_json", "_pieces", "complete", "message", "model_name", "output_tool")

    def __init__(self, model_name: str, output_tool: str | None = None) -> None:
        self.message: dict[str, Any] = {"content": []}
        self.complete = False
        """Whether ``message_stop`` arrived (a stream without it was cut off)."""
        self.model_name = model_name
        self.output_tool = output_tool
        self._pieces: dict[int, list[str]] = {}
        self._json: dict[int, list[str]] = {}

    def feed(self, event: dict[str, Any]) -> list[StreamDelta]:
        """Apply one event; the deltas for the user (none when the event carries no visible content)."""
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event["index"], event["delta"])
        if kind == "content_block_start":
            return self._start(event["index"], dict(event["content_block"]))
        if kind == "content_block_stop":
            self._stop(event["index"])
        elif kind == "message_start":
            message = dict(event.get("message") or {})
            message["content"] = []
            self.message = message
        elif kind == "message_delta":
            self.message.update(event.get("delta") or {})
            usage = event.get("usage")
            if usage:
                merged = dict(self.message.get("usage") or {})
                merged.update({k: v for k, v in usage.items() if v is not None})
                self.message["usage"] = merged
        elif kind == "message_stop":
            self.complete = True
        elif kind == "error":
            raise stream_error(event, self.message.get("model") or self.model_name)
        return _NOTHING

    def _delta(self, index: int, delta: dict[str, Any]) -> list[StreamDelta]:
        dtype = delta.get("type")
        if dtype == "text_delta":
            text = delta["text"]
            self._pieces[index].append(text)
            return [TextDelta(index, text)]
        if dtype == "input_json_delta":
            piece = delta.get("partial_json", "")
            if not piece:
                return _NOTHING
            self._json[index].append(piece)
            block = self.message["content"][index]
            if block.get("type") != "tool_use" or block.get("name") == self.output_tool:
                return _NOTHING
            return [ToolCallDelta(index, args_delta=piece)]
        if dtype == "thinking_delta":
            text = delta["thinking"]
            if not text:
                return _NOTHING
            self._pieces[index].append(text)
            return [ThinkingDelta(index, text)]
        if dtype == "signature_delta":
            block = self.message["content"][index]
            block["signature"] = (block.get("signature") or "") + delta["signature"]
            return [ThinkingDelta(index, "", delta["signature"])]
        if dtype == "citations_delta":
            block = self.message["content"][index]
            citations = block.get("citations") or []
            citations.append(delta["citation"])
            block["citations"] = citations
        return _NOTHING

    def _start(self, index: int, block: dict[str, Any]) -> list[StreamDelta]:
        content: list[dict[str, Any]] = self.message["content"]
        while len(content) <= index:
            content.append({})
        content[index] = block
        kind = block.get("type")
        if kind == "text":
            self._pieces[index] = [block.get("text") or ""]
        elif kind == "thinking":
            self._pieces[index] = [block.get("thinking") or ""]
        elif kind in ("tool_use", "server_tool_use"):
            self._json[index] = []
            if kind == "tool_use" and block.get("name") != self.output_tool:
                return [ToolCallDelta(index, block.get("id"), block.get("name"))]
        return _NOTHING

    def _stop(self, index: int) -> None:
        block = self.message["content"][index]
        pieces = self._pieces.pop(index, None)
        if pieces is not None:
            block["thinking" if block.get("type") == "thinking" else "text"] = "".join(pieces)
        raw = self._json.pop(index, None)
        if raw is not None:
            text = "".join(raw)
            if text.strip():
                args, bad = parse_tool_args(text)
                block["input"] = args if bad is None else text
            elif not isinstance(block.get("input"), dict):
                block["input"] = {}

    def finish(self) -> ModelResponse:
        """The response: the message, with any block still open (a cut stream) closed as it stands."""
        for index in set(self._pieces) | set(self._json):
            self._stop(index)
        return parse_message(self.message, model_name=self.model_name, output_tool=self.output_tool)
