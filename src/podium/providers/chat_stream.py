"""OpenAI Chat Completions responses and stream chunks -> universal. Pure, no I/O.

One path for both: a whole response is fed to the same :class:`ChatTranslator` as a stream chunk
is (a message is a delta that arrives at once), so streaming and non-streaming give the same
:class:`~podium.messages.ModelResponse` for the same content.

Where things land:

* ``content`` -> :class:`~podium.messages.Text`; a leading ``<think>...</think>`` block (dialects with
  ``think_tags``) -> :class:`~podium.messages.Thinking` with ``provider_details["inline_tags"] =
  {"open": "<think>", "close": "</think>", "leading": <whitespace before it>}``, so
  ``leading + open + thinking + close + text`` is the text the model wrote (``close`` is ``""`` when the
  block never closed; an empty block still makes an empty thinking part). ``refusal`` -> a ``Text`` with
  ``provider_details={"refusal": True}`` and finish reason ``content_filter``. ``annotations`` (URL
  citations) -> that text's ``provider_details``.
* ``reasoning_content`` / ``reasoning`` -> ``Thinking(text, provider=<provider>)``; OpenRouter's
  ``reasoning_details`` -> ``Thinking.provider_details["reasoning_details"]`` (merged by index and type when
  streamed); with a ``reasoning.encrypted`` item and no readable reasoning the thinking is redacted
  (``redaction="encrypted"``).
* ``tool_calls`` -> :class:`~podium.messages.ToolCall` (the exact argument string in
  ``provider_details["arguments"]`` when it differs from ``ToolCall.args_json``, so it goes back byte for byte).
* ``audio`` -> ``ProviderPart(provider, {"type": "audio", ...})``.
* usage -> :class:`~podium.usage.Usage` (``cached_tokens`` / DeepSeek ``prompt_cache_hit_tokens`` as cache
  reads, ``cache_write_tokens`` as cache writes, ``reasoning_tokens``; other integer counters in
  ``Usage.details``, such as ``input_audio_tokens``; non-integer ones such as Groq timings or OpenRouter's
  ``cost`` in ``provider_details["usage"]``). Groq's ``x_groq.usage`` is read too.
* ``id``, ``created``, ``system_fingerprint``, ``service_tier``, the raw ``finish_reason``, ``logprobs`` and
  any other top-level field (``x_groq``, OpenRouter ``provider``, ``native_finish_reason``) -> the response's
  ``provider_details``. The ``obfuscation`` padding of stream chunks is dropped. Only choice 0 is read;
  other choices (``n > 1``) are kept verbatim in ``provider_details["choices"]`` (whole responses only).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from podium.exceptions import ProviderHTTPError
from podium.messages import FinishReason
from podium.messages import ModelResponse
from podium.messages import ProviderPart
from podium.providers.chat_dialect import ChatDialect
from podium.providers.transport.errors import embedded_status
from podium.providers.transport.errors import http_error
from podium.streaming import ResponseBuilder
from podium.streaming import StreamDelta
from podium.usage import CostValue
from podium.usage import Usage

__all__ = ["INLINE_TAGS", "ChatTranslator", "ThinkSplitter", "finish_reason_of", "usage_of"]

JsonDict = dict[str, Any]
INLINE_TAGS = "inline_tags"
"""``Thinking.provider_details`` key of thinking that was cut out of the text: ``{"open": "<think>", "close":
"</think>", "leading": ""}`` (see :attr:`ThinkSplitter.tags`)."""
CostFn = Callable[[str | None, Usage, Mapping[str, Any] | None], CostValue]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
    "end_turn": "stop",
    "eos": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}
_META_SKIP = frozenset(("choices", "usage", "model", "object", "obfuscation"))
_CHOICE_SKIP = frozenset(("index", "message", "delta", "finish_reason", "logprobs"))
_MESSAGE_KNOWN = frozenset(
    (
        "role",
        "content",
        "tool_calls",
        "refusal",
        "annotations",
        "audio",
        "reasoning_content",
        "reasoning",
        "reasoning_details",
    )
)
_USAGE_STANDARD = frozenset(
    ("prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details")
)


def finish_reason_of(raw: str | None) -> FinishReason | None:
    """The normalized finish reason for a wire value (``None`` when unknown or absent)."""
    return _FINISH.get(raw) if raw else None


def usage_of(raw: JsonDict | None) -> tuple[Usage, JsonDict | None]:
    """A wire ``usage`` object as :class:`Usage` (one request), plus its non-integer extras."""
    if not raw:
        return Usage(requests=1), None
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    details: dict[str, int] = {}
    extra: JsonDict = {}
    for key, value in prompt_details.items():
        if key not in ("cached_tokens", "cache_write_tokens") and type(value) is int and value:
            details[f"input_{key}"] = value
    for key, value in completion_details.items():
        if key != "reasoning_tokens" and type(value) is int and value:
            details[f"output_{key}"] = value
    for key, value in raw.items():
        if key in _USAGE_STANDARD or value is None:
            continue
        if type(value) is int:
            if value:
                details[key] = value
        else:
            extra[key] = value
    usage = Usage(
        input_tokens=raw.get("prompt_tokens") or 0,
        output_tokens=raw.get("completion_tokens") or 0,
        cache_read_tokens=prompt_details.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0,
        cache_write_tokens=prompt_details.get("cache_write_tokens") or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
        requests=1,
        details=details,
    )
    return usage, extra or None


class ThinkSplitter:
    """Splits a leading ``<think>...</think>`` block out of text that arrives in pieces.

    Only a block at the very start of the text (after whitespace) counts, so a model that writes about
    ``<think>`` tags later in its answer is not cut. :meth:`feed` returns ``(is_thinking, text)`` pieces.
    What was cut away (the whitespace before the block, the tags) is kept in :attr:`tags`, so the original
    text can be rebuilt; :attr:`opened` says a block started (it may stay empty).
    """

    __slots__ = ("_pending", "_state", "closed", "leading", "opened")
    _OPEN = "<think>"
    _CLOSE = "</think>"

    def __init__(self) -> None:
        self._state = 0  # 0: start, 1: inside the block, 2: after it (plain text)
        self._pending = ""
        self.leading = ""
        """The whitespace before ``<think>``."""
        self.opened = False
        """Whether the text started with a ``<think>`` block."""
        self.closed = False
        """Whether that block's ``</think>`` arrived."""

    @property
    def tags(self) -> JsonDict | None:
        """How the thinking was written inline, or ``None`` when the text had no block.

        ``leading + open + thinking + close + text`` is the original text (``close`` is ``""`` when the
        block never closed).
        """
        if not self.opened:
            return None
        return {"open": self._OPEN, "close": self._CLOSE if self.closed else "", "leading": self.leading}

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """The pieces of ``text`` that are certain so far."""
        if self._state == 2:
            return [(False, text)]
        buf = self._pending + text
        self._pending = ""
        out: list[tuple[bool, str]] = []
        if self._state == 0:
            stripped = buf.lstrip()
            if not stripped or (len(stripped) < len(self._OPEN) and self._OPEN.startswith(stripped)):
                self._pending = buf
                return out
            if not stripped.startswith(self._OPEN):
                self._state = 2
                return [(False, buf)]
            self._state = 1
            self.opened = True
            self.leading = buf[: len(buf) - len(stripped)]
            buf = stripped[len(self._OPEN) :]
        end = buf.find(self._CLOSE)
        if end >= 0:
            if end:
                out.append((True, buf[:end]))
            self.closed = True
            self._state = 2
            rest = buf[end + len(self._CLOSE) :]
            if rest:
                out.append((False, rest))
            return out
        keep = 0
        for size in range(min(len(self._CLOSE) - 1, len(buf)), 0, -1):
            if self._CLOSE.startswith(buf[-size:]):
                keep = size
                break
        if keep:
            self._pending = buf[-keep:]
            buf = buf[:-keep]
        if buf:
            out.append((True, buf))
        return out

    def flush(self) -> list[tuple[bool, str]]:
        """What is still held back, at the end of the text."""
        pending, self._pending = self._pending, ""
        if not pending:
            return []
        return [(self._state == 1, pending)]


def _merge_reasoning_details(acc: list[JsonDict], items: list[Any]) -> None:
    """Merge streamed ``reasoning_details`` pieces: same index and type -> strings concatenated."""
    for item in items:
        if not isinstance(item, dict):
            continue
        last = acc[-1] if acc else None
        if last is not None and last.get("index") == item.get("index") and last.get("type") == item.get("type"):
            for key, value in item.items():
                if isinstance(value, str) and isinstance(last.get(key), str) and key in ("text", "summary", "data"):
                    last[key] += value
                elif value is not None:
                    last[key] = value
        else:
            acc.append(dict(item))


class ChatTranslator:
    """Accumulates one Chat Completions response (whole, or chunk by chunk) into a ``ModelResponse``."""

    __slots__ = (
        "_args",
        "_audio",
        "_builder",
        "_calls",
        "_details",
        "_dialect",
        "_finish",
        "_logprobs",
        "_meta",
        "_model",
        "_next",
        "_reasoning_details",
        "_refusal",
        "_splitter",
        "_text",
        "_think",
        "_usage",
        "_usage_extra",
    )

    def __init__(self, dialect: ChatDialect) -> None:
        self._dialect = dialect
        self._builder = ResponseBuilder()
        self._next = 0
        self._text: int | None = None
        self._think: int | None = None
        self._refusal: int | None = None
        self._audio: tuple[int, JsonDict] | None = None
        self._calls: dict[int, tuple[int, str | None]] = {}
        self._args: dict[int, list[str]] = {}
        self._reasoning_details: list[JsonDict] = []
        self._details: JsonDict | None = None
        self._logprobs: list[Any] = []
        self._meta: JsonDict | None = None
        self._model: str | None = None
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._usage_extra: JsonDict | None = None
        self._splitter = ThinkSplitter() if dialect.think_tags else None

    # -- feeding

    def _slot(self) -> int:
        index = self._next
        self._next += 1
        return index

    def _add_text(self, text: str, out: list[StreamDelta]) -> None:
        if self._splitter is None:
            if self._text is None:
                self._text = self._slot()
            out.append(self._builder.text(self._text, text))
            return
        pieces = self._splitter.feed(text)
        if self._think is None and self._splitter.opened:  # a block makes a thinking part, even an empty one
            self._think = self._slot()
            self._builder.thinking(self._think, provider=self._dialect.provider)
        for thinking, piece in pieces:
            self._add_piece(thinking, piece, out)

    def _add_piece(self, thinking: bool, piece: str, out: list[StreamDelta]) -> None:
        if thinking:
            self._add_thinking(piece, out)
        else:
            if self._text is None:
                self._text = self._slot()
            out.append(self._builder.text(self._text, piece))

    def _add_thinking(self, text: str, out: list[StreamDelta]) -> None:
        if self._think is None:
            self._think = self._slot()
        delta = self._builder.thinking(self._think, text, provider=self._dialect.provider)
        if text:
            out.append(delta)

    def _add_call(self, call: JsonDict, position: int, out: list[StreamDelta]) -> None:
        wire = call.get("index")
        if not isinstance(wire, int):
            wire = position
        call_id = call.get("id") or None
        known = self._calls.get(wire)
        if known is None or (call_id is not None and known[1] is not None and call_id != known[1]):
            # a new call (some compatible servers reuse index 0 for every call: a new id starts a new one)
            known = (self._slot(), call_id)
            self._calls[wire] = known
            self._args[known[0]] = []
        elif call_id is not None and known[1] is None:
            known = (known[0], call_id)
            self._calls[wire] = known
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        if arguments:
            self._args[known[0]].append(arguments)
        out.append(self._builder.tool_call(known[0], id=call_id, name=function.get("name"), args_delta=arguments))

    def feed_message(self, message: JsonDict, out: list[StreamDelta]) -> None:
        """Feed a ``message`` (whole response) or a ``delta`` (stream chunk) of choice 0."""
        content = message.get("content")
        if len(message) == 1 and content is not None:  # the common text delta
            if content:
                self._add_text(content, out)
            return
        for field in self._dialect.reasoning_fields:
            reasoning = message.get(field)
            if reasoning and isinstance(reasoning, str):
                self._add_thinking(reasoning, out)
                break
        details = message.get("reasoning_details")
        if details:
            if self._think is None:
                self._think = self._slot()
                self._builder.thinking(self._think, provider=self._dialect.provider)
            _merge_reasoning_details(self._reasoning_details, details)
        if content:
            if isinstance(content, str):
                self._add_text(content, out)
            else:  # a list of content parts (some compatible servers)
                for item in content:
                    if isinstance(item, dict) and isinstance(item.get("text"), str):
                        self._add_text(item["text"], out)
        refusal = message.get("refusal")
        if refusal:
            if self._refusal is None:
                self._refusal = self._slot()
            out.append(self._builder.text(self._refusal, refusal))
        calls = message.get("tool_calls")
        if calls:
            for position, call in enumerate(calls):
                self._add_call(call, position, out)
        annotations = message.get("annotations")
        if annotations:
            if self._text is None:
                self._text = self._slot()
                self._builder.text(self._text, "")
            self._builder.details(self._text, {"annotations": annotations})
        audio = message.get("audio")
        if audio:
            if self._audio is None:
                self._audio = (self._slot(), {"type": "audio"})
            acc = self._audio[1]
            for key, value in audio.items():
                if key in ("data", "transcript") and isinstance(value, str) and isinstance(acc.get(key), str):
                    acc[key] += value
                elif value is not None:
                    acc[key] = value
        unknown = message.keys() - _MESSAGE_KNOWN
        if unknown:
            for key in sorted(unknown):
                value = message[key]
                if value is not None:
                    if self._details is None:
                        self._details = {}
                    self._details.setdefault("message", {})[key] = value

    def _meta_of(self, data: JsonDict) -> None:
        meta: JsonDict = {}
        for key, value in data.items():
            if key not in _META_SKIP and value is not None:
                meta[key] = value
        self._meta = meta
        self._model = data.get("model")

    def _choice_extras(self, choice: JsonDict) -> None:
        logprobs = choice.get("logprobs")
        if logprobs:
            content = logprobs.get("content") if isinstance(logprobs, dict) else None
            self._logprobs.extend(content or [])
        if not _CHOICE_SKIP.issuperset(choice):
            for key, value in choice.items():
                if key not in _CHOICE_SKIP and value is not None:
                    if self._details is None:
                        self._details = {}
                    self._details[key] = value

    def feed_chunk(self, chunk: JsonDict) -> list[StreamDelta]:
        """Feed one stream chunk; returns the deltas to forward."""
        out: list[StreamDelta] = []
        if self._meta is None:
            self._meta_of(chunk)
        elif "x_groq" in chunk or "provider" in chunk:
            self._merge_meta(chunk)
        choices = chunk.get("choices")
        if choices:
            choice = choices[0]
            if choice.get("index", 0) == 0:
                delta = choice.get("delta")
                if delta:
                    self.feed_message(delta, out)
                finish = choice.get("finish_reason")
                if finish:
                    self._finish = finish
                if choice.get("logprobs") or not _CHOICE_SKIP.issuperset(choice):
                    self._choice_extras(choice)
        usage = chunk.get("usage")
        if usage:
            self._usage, self._usage_extra = usage_of(usage)
        elif "x_groq" in chunk:
            groq_usage = (chunk["x_groq"] or {}).get("usage")
            if groq_usage:
                self._usage, self._usage_extra = usage_of(groq_usage)
        if chunk.get("error"):
            raise self.error_for(chunk)
        return out

    def _merge_meta(self, chunk: JsonDict) -> None:
        assert self._meta is not None
        for key in ("x_groq", "provider"):
            value = chunk.get(key)
            if isinstance(value, dict) and isinstance(self._meta.get(key), dict):
                self._meta[key] = {**self._meta[key], **value}
            elif value is not None:
                self._meta[key] = value

    def feed_completion(self, data: JsonDict) -> None:
        """Feed a whole (non-streamed) response body."""
        if not data.get("choices") and data.get("error"):
            raise self.error_for(data)
        self._meta_of(data)
        choices = data.get("choices") or []
        if choices:
            choice = choices[0]
            message = choice.get("message") or {}
            self.feed_message(message, [])
            self._finish = choice.get("finish_reason")
            self._choice_extras(choice)
            if len(choices) > 1:
                assert self._meta is not None
                self._meta["choices"] = choices[1:]
        self._usage, self._usage_extra = usage_of(data.get("usage"))

    def error_for(self, data: JsonDict) -> ProviderHTTPError:
        """The error for an error sent with status 200 (in a stream, or as a whole body without choices).

        Its status is the one the body gives (:func:`~podium.providers.transport.errors.embedded_status`), so it maps
        to the same exception as the HTTP error would; 502 when the body gives none.
        """
        status = embedded_status(data, 502)
        return http_error(status, data, provider=self._dialect.provider, model=data.get("model"))

    # -- result

    def build(self, cost: CostFn | None = None) -> ModelResponse:
        """The final response; ``cost(model, usage, usage_extras)`` prices it."""
        builder = self._builder
        if self._splitter is not None:
            tail: list[StreamDelta] = []
            for thinking, piece in self._splitter.flush():
                self._add_piece(thinking, piece, tail)
        if self._think is not None:
            if self._reasoning_details:
                builder.details(self._think, {"reasoning_details": self._reasoning_details})
                if any(item.get("type") == "reasoning.encrypted" for item in self._reasoning_details):
                    # encrypted reasoning: redacted unless readable reasoning came with it
                    builder.thinking(self._think, redaction="encrypted")
            tags = self._splitter.tags if self._splitter is not None else None
            if tags is not None:
                builder.details(self._think, {INLINE_TAGS: tags})
        if self._refusal is not None:
            builder.details(self._refusal, {"refusal": True})
        if self._audio is not None:
            builder.part(self._audio[0], ProviderPart(self._dialect.provider, self._audio[1]))
        for index, pieces in self._args.items():
            raw = "".join(pieces)
            if raw and raw[0] == "{":
                try:
                    compact = json.dumps(json.loads(raw), ensure_ascii=False)
                except ValueError:
                    continue
                if compact != raw:
                    builder.details(index, {"arguments": raw})
        usage = self._usage or Usage(requests=1)
        details: JsonDict = dict(self._meta or {})
        if self._finish is not None:
            details["finish_reason"] = self._finish
        if self._usage_extra:
            details["usage"] = self._usage_extra
        if self._logprobs:
            details["logprobs"] = {"content": self._logprobs}
        if self._details:
            details.update(self._details)
        finish = finish_reason_of(self._finish)
        if self._refusal is not None and self._text is None and finish == "stop":
            finish = "content_filter"
        model = self._model
        return builder.build(
            model=model,
            provider=self._dialect.provider,
            finish_reason=finish,
            usage=usage,
            cost=cost(model, usage, self._usage_extra) if cost is not None else None,
            provider_details=details or None,
        )
