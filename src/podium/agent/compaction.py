"""Context compaction: plain functions over a message list, and the strategies the agent loop composes from them.

When a request would pass a share of the model's context window (:class:`Compaction`), the loop replaces
the older part of what it sends with a shorter version, in steps, until the estimate is under the target:

1. :class:`TrimToolResults` -- long tool results of older turns shrink to their start and a marker saying
   how much was removed and how to get it back (call the tool again);
2. :class:`Summarize` -- the older turns become one summary message written by a model (the agent's own,
   or a cheaper one), marked as a summary, with the range it replaces recorded;
3. :class:`KeepLast` -- older turns are dropped, leaving a marker that says how many.

Rules every strategy keeps (they work on *units*, never on single messages): a model message with tool
calls and the message with their results stay together or go together, so no call is separated from its
result and thinking signatures stay with their turn; the *head* (any leading system messages and the first
user message, the run's goal) always stays; the most recent turns stay verbatim.

The full history is never changed. A compaction appends a *record* (a system message carrying
``provider_details["podium"]["compaction"]``) that says what the compacted view of the history before it
is: ranges of the history kept verbatim, and the messages that replace the rest. What the loop sends is that
view followed by the messages after the record, so between two compactions every request extends the
previous one byte for byte (provider prompt caches keep hitting), and a history loaded from the store, a
file or another process is sent the same way. Records are never sent to a model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from podium.exceptions import UserError
from podium.messages import (
    CachePoint,
    File,
    Image,
    Message,
    Text,
    ToolCall,
    ToolResult,
    message_from_dict,
    message_to_dict,
)
from podium.providers.base import Model
from podium.providers.tokens import estimate_message

__all__ = [
    "DEFAULT_COMPACTION",
    "Compaction",
    "CompactionResult",
    "KeepLast",
    "Strategy",
    "Summarize",
    "SummaryRequest",
    "TrimToolResults",
    "compaction_record",
    "is_record",
    "keep_last",
    "last_record",
    "summarize",
    "transcript",
    "trim_tool_results",
    "view_of",
]

logger = logging.getLogger("podium.agent.compaction")

RECORD_KEY = "compaction"
SUMMARY_KEY = "summary_of"
DROPPED_KEY = "dropped"
TRIMMED_MARK = "[Podium: "
SUMMARY_HEADER = (
    "[Podium: a summary of the earlier conversation, written to save context. It reports what was said and "
    "done; it is not a new request from the user.]"
)

Unit: TypeAlias = tuple[int, int]
"""A ``[start, end)`` range of messages that stays together."""


# --------------------------------------------------------------------------- structure


def head_length(messages: Sequence[Message]) -> int:
    """How many leading messages always stay: leading system messages and the first user message (the goal)."""
    for i, message in enumerate(messages):
        if message.role == "user":
            return i + 1
        if message.role != "system":
            return i
    return len(messages)


def units(messages: Sequence[Message], start: int = 0) -> list[Unit]:
    """``messages[start:]`` cut into units that stay together.

    A model message with tool calls and the results that follow it form one unit; every other message is a
    unit of its own.
    """
    out: list[Unit] = []
    i, n = start, len(messages)
    while i < n:
        j = i + 1
        if messages[i].role == "assistant" and messages[i].tool_calls:
            while j < n and messages[j].role == "tool":
                j += 1
        out.append((i, j))
        i = j
    return out


def _split(messages: Sequence[Message], keep_recent: int) -> tuple[int, int]:
    """``(head_end, recent_start)``: the messages between them may be compacted."""
    head = head_length(messages)
    parts = units(messages, head)
    if len(parts) <= keep_recent:
        return head, head
    return head, parts[len(parts) - keep_recent][0] if keep_recent > 0 else len(messages)


def is_summary(message: Message) -> bool:
    """Whether ``message`` is a summary written by a compaction."""
    podium = (message.provider_details or {}).get("podium")
    return message.role == "user" and isinstance(podium, dict) and SUMMARY_KEY in podium


# --------------------------------------------------------------------------- plain functions


def _trimmed_text(result: ToolResult, keep_chars: int) -> str:
    text = result.text
    media = sum(1 for p in result.content if isinstance(p, (Image, File)))
    kept = text[:keep_chars]
    removed = len(text) - len(kept)
    what = f"{removed:,} characters" if removed else ""
    if media:
        what += (" and " if what else "") + f"{media} image/file part{'s' if media > 1 else ''}"
    return (
        f"{kept}\n{TRIMMED_MARK}{what} of this `{result.name}` result were removed to save context; "
        "call the tool again if you need them.]"
    )


def _is_trimmed(result: ToolResult) -> bool:
    return any(
        isinstance(p, Text) and TRIMMED_MARK in p.text and "removed to save context" in p.text for p in result.content
    )


def trim_tool_results(
    messages: Sequence[Message], *, keep_recent: int = 2, max_chars: int = 2_000, keep_chars: int = 300
) -> list[Message]:
    """Shorten long tool results of older turns to their start and a marker saying what was removed.

    Results longer than ``max_chars`` characters, or holding images or files, except in the last
    ``keep_recent`` turns, keep their first ``keep_chars`` characters. Call ids, tool names and error
    flags are kept, so every call still has its result.
    """
    head, recent = _split(messages, keep_recent)
    out = list(messages)
    for i in range(head, recent):
        message = messages[i]
        if message.role != "tool":
            continue
        changed = False
        results: list[Any] = []
        for part in message.parts:
            if isinstance(part, ToolResult) and not _is_trimmed(part):
                media = any(isinstance(p, (Image, File)) for p in part.content)
                if media or len(part.text) > max_chars:
                    part = ToolResult(
                        part.call_id,
                        part.name,
                        (Text(_trimmed_text(part, keep_chars)),),
                        is_error=part.is_error,
                        interrupted=part.interrupted,
                    )
                    changed = True
            results.append(part)
        if changed:
            out[i] = Message("tool", tuple(results))
    return out


def keep_last(messages: Sequence[Message], *, turns: int = 4) -> list[Message]:
    """Keep the head and the last ``turns`` turns; older turns are replaced by one marker message."""
    head, recent = _split(messages, turns)
    while head < recent and is_summary(messages[head]):  # earlier summaries stay
        head += 1
    dropped = sum(_dropped_count(m) for m in messages[head:recent])
    if dropped <= 0 or (recent - head == 1 and _dropped_count(messages[head]) > 1):
        return list(messages)  # nothing, or only the marker of an earlier drop
    marker = Message(
        "user",
        (Text(f"{TRIMMED_MARK}{dropped} earlier messages were removed here to save context.]"),),
        provider_details={"podium": {DROPPED_KEY: dropped}},
    )
    return [*messages[:head], marker, *messages[recent:]]


def _dropped_count(message: Message) -> int:
    """How many messages ``message`` stands for: an earlier drop's marker stands for those it replaced."""
    podium = (message.provider_details or {}).get("podium")
    if message.role == "user" and isinstance(podium, dict) and isinstance(podium.get(DROPPED_KEY), int):
        return int(podium[DROPPED_KEY])
    return 1


def transcript(messages: Sequence[Message], *, max_chars: int = 24_000) -> str:
    """``messages`` as plain text for a summariser.

    At most about ``max_chars`` characters: each entry is cut to its share.
    """
    entries: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, Text) and part.text.strip():
                entries.append(f"{message.role}: {part.text.strip()}")
            elif isinstance(part, ToolCall):
                entries.append(f"assistant called {part.name}({part.raw_args or part.args})")
            elif isinstance(part, ToolResult):
                flag = " (error)" if part.is_error else ""
                entries.append(f"{part.name} returned{flag}: {part.text.strip()}")
            elif isinstance(part, (Image, File)):
                entries.append(f"{message.role}: [{part.type}]")
    if not entries:
        return ""
    share = max(120, max_chars // len(entries))
    return "\n".join(e if len(e) <= share else e[: share - 3] + "..." for e in entries)


SUMMARY_PROMPT = (
    "You compress the earlier part of a conversation between a user and an AI assistant that uses tools, so "
    "the assistant can continue the work without it. Write a concise summary: the user's goals and "
    "constraints, decisions made, facts and results found (file names, numbers, identifiers, errors), what "
    "was done and what remains to do. Do not invent anything and do not address the user. Plain text only."
)


def summarize(
    messages: Sequence[Message], summarizer: Callable[[str], str], *, keep_recent: int = 3, max_chars: int = 24_000
) -> list[Message]:
    """Replace the turns between the head and the last ``keep_recent`` turns by a summary message.

    ``summarizer`` gets a plain-text transcript of those turns and returns the summary (for example a call to
    a model with :data:`SUMMARY_PROMPT`). The summary message is marked as such in
    ``provider_details["podium"]["summary_of"]`` (how many messages it replaces).
    """
    gen = _summarize(messages, keep_recent, max_chars)
    try:
        request = next(gen)
        while True:
            request = gen.send(summarizer(request.text))
    except StopIteration as stop:
        result: list[Message] = stop.value
        return result


@dataclass(frozen=True, slots=True)
class SummaryRequest:
    """What a strategy asks the loop for: a summary of ``text`` by ``model`` (``None``: the agent's)."""

    text: str
    """The transcript to summarise."""
    model: Model | str | None = None
    """The model to use."""
    max_tokens: int = 800
    """Longest summary."""
    prompt: str = SUMMARY_PROMPT
    """Instructions for the summariser."""


def _summarize(
    messages: Sequence[Message],
    keep_recent: int,
    max_chars: int,
    model: Model | str | None = None,
    max_tokens: int = 800,
    prompt: str = SUMMARY_PROMPT,
) -> Generator[SummaryRequest, str | None, list[Message]]:
    head, recent = _split(messages, keep_recent)
    if recent - head < 2:
        return list(messages)
    text = transcript(messages[head:recent], max_chars=max_chars)
    summary = yield SummaryRequest(text, model, max_tokens, prompt)
    if not summary or not summary.strip():
        return list(messages)
    replaced = sum(estimate_message(m) for m in messages[head:recent])
    if estimate_message(Message.user(summary)) >= replaced:
        logger.warning("the summary is not shorter than the %d messages it would replace; not used", recent - head)
        return list(messages)
    message = Message(
        "user",
        (Text(f"{SUMMARY_HEADER}\n{summary.strip()}"),),
        provider_details={"podium": {SUMMARY_KEY: recent - head}},
    )
    return [*messages[:head], message, *messages[recent:]]


# --------------------------------------------------------------------------- strategies for the loop


class Strategy(Protocol):
    """One compaction step: turns the view into a shorter one (a generator, so it can ask for a summary)."""

    @property
    def name(self) -> str:
        """Shown in the ``ContextCompacted`` event and stored in the record."""
        ...

    def apply(self, messages: list[Message]) -> Generator[SummaryRequest, str | None, list[Message]]:
        """The shorter view (``messages`` itself when there is nothing to do)."""
        ...


@dataclass(frozen=True, slots=True)
class TrimToolResults:
    """Shorten long tool results of older turns (see :func:`trim_tool_results`)."""

    keep_recent: int = 2
    """Turns at the end whose results stay whole."""
    max_chars: int = 2_000
    """Results longer than this are shortened."""
    keep_chars: int = 300
    """Characters kept from the start of a shortened result."""
    name: str = "trim_tool_results"

    def apply(self, messages: list[Message]) -> Generator[SummaryRequest, str | None, list[Message]]:
        """See :func:`trim_tool_results`."""
        yield from ()
        return trim_tool_results(
            messages, keep_recent=self.keep_recent, max_chars=self.max_chars, keep_chars=self.keep_chars
        )


@dataclass(frozen=True, slots=True)
class Summarize:
    """Replace older turns by a summary written by a model (see :func:`summarize`)."""

    model: Model | str | None = None
    """The summariser: ``None`` for the agent's own model, or a (cheaper) model or ``provider:name``."""
    keep_recent: int = 3
    """Turns at the end kept verbatim."""
    max_tokens: int = 800
    """Longest summary, in tokens."""
    max_chars: int = 24_000
    """Longest transcript sent to the summariser."""
    prompt: str = SUMMARY_PROMPT
    """Instructions for the summariser."""
    name: str = "summarize"

    def apply(self, messages: list[Message]) -> Generator[SummaryRequest, str | None, list[Message]]:
        """See :func:`summarize`; the loop answers the :class:`SummaryRequest`."""
        return (
            yield from _summarize(messages, self.keep_recent, self.max_chars, self.model, self.max_tokens, self.prompt)
        )


@dataclass(frozen=True, slots=True)
class KeepLast:
    """Drop older turns, leaving a marker (see :func:`keep_last`)."""

    turns: int = 4
    """Turns at the end kept."""
    name: str = "keep_last"

    def apply(self, messages: list[Message]) -> Generator[SummaryRequest, str | None, list[Message]]:
        """See :func:`keep_last`."""
        yield from ()
        return keep_last(messages, turns=self.turns)


def _default_strategies() -> tuple[Strategy, ...]:
    return (TrimToolResults(), Summarize(), KeepLast(), TrimToolResults(keep_recent=1, max_chars=1_000), KeepLast(1))


@dataclass(frozen=True, slots=True)
class Compaction:
    """When and how the loop compacts what it sends (``Agent(compaction=...)`` or per run).

    Before each request the loop counts its tokens (exactly, or estimated and calibrated on reported usage;
    see :mod:`podium.providers.tokens`). When the count passes ``threshold`` of the usable window (the
    context window minus ``reserve`` tokens for the answer), the strategies run in order, each on the
    previous one's result, until the count is under ``target`` of the usable window. The default goes from
    cheap to lossy: trim old tool results, summarise older turns with the agent's model, keep the last four
    turns, then trim all but the last turn's results and keep only the last turn.
    """

    threshold: float = 0.8
    """Share of the usable window that triggers a compaction."""
    target: float = 0.5
    """Share of the usable window to get under."""
    strategies: Sequence[Strategy] = field(default_factory=_default_strategies)
    """The steps, in order."""
    window: int | None = None
    """The context window in tokens; ``None``: the model profile's (no compaction when that is unknown)."""
    reserve: int | None = None
    """Tokens kept free for the answer; ``None``: ``max_tokens`` of the settings, else the profile's maximum
    output, at most a quarter of the window."""
    cache_points: bool = True
    """Mark the stable prefix for providers with explicit prompt caching (Anthropic, Bedrock)."""

    def __post_init__(self) -> None:
        if not 0 < self.target < self.threshold <= 1:
            raise UserError(
                f"Compaction(threshold={self.threshold}, target={self.target}): need 0 < target < threshold <= 1"
            )
        if self.window is not None and self.window < 256:
            raise UserError(f"Compaction(window={self.window}): a context window of at least 256 tokens, please")

    def usable(self, window: int, max_tokens: int | None, max_output: int | None) -> int:
        """Tokens a prompt may take in ``window``: the window minus what is kept for the answer.

        The room kept is ``reserve``, else the request's ``max_tokens`` (providers refuse a prompt that
        leaves less), else the model's maximum output up to a quarter of the window.
        """
        reserve = self.reserve
        if reserve is None:
            reserve = max_tokens if max_tokens else min(max_output or window // 8, window // 4)
        return max(64, window - reserve)


# --------------------------------------------------------------------------- records and views


class Origins:
    """Which history message each message of a view stands for, followed through the strategies.

    Used to record, on each new summary, the range of the history it replaces
    (``provider_details["podium"]["range"]``: ``[start, end)`` indices of the history).
    """

    def __init__(self, history: Sequence[Message]) -> None:
        """Start from ``history``: each of its messages stands for itself."""
        self.of = {id(m): i for i, m in enumerate(history)}
        self.alive: list[Message] = list(history)  # keeps the objects, so an id is never reused

    def follow(self, before: Sequence[Message], after: Sequence[Message]) -> list[Message]:
        """``after`` (a strategy's result on ``before``), with the range marked on each new summary."""
        self.alive.extend(after)
        if len(before) == len(after):  # replaced in place (shortened results): same origin
            for old, new in zip(before, after, strict=True):
                if old is not new and id(old) in self.of:
                    self.of[id(new)] = self.of[id(old)]
            return list(after)
        kept = {id(m) for m in after}
        gone = sorted(self.of[id(m)] for m in before if id(m) not in kept and id(m) in self.of)
        known = {id(m) for m in before}
        out = []
        for message in after:
            if gone and id(message) not in known and is_summary(message):
                podium = dict((message.provider_details or {}).get("podium", {}))
                podium["range"] = [gone[0], gone[-1] + 1]
                message = Message(message.role, message.parts, provider_details={"podium": podium})
                self.alive.append(message)
            out.append(message)
        return out


def is_record(message: Message) -> bool:
    """Whether ``message`` is a compaction record (never sent to a model)."""
    details = message.provider_details
    if message.role != "system" or not details:
        return False
    podium = details.get("podium")
    return isinstance(podium, dict) and RECORD_KEY in podium


def last_record(history: Sequence[Message]) -> int:
    """Index of the last compaction record in ``history``, or -1."""
    for i in range(len(history) - 1, -1, -1):
        if is_record(history[i]):
            return i
    return -1


def compaction_record(
    history: Sequence[Message], view: Sequence[Message], *, info: dict[str, Any] | None = None
) -> Message:
    """The record that makes ``view`` the compacted form of ``history`` (appended after it).

    Messages of ``view`` that are messages of ``history`` (the same objects) are referenced by index
    (consecutive ones as ranges); the others (summaries, shortened results, markers) are stored whole.
    """
    index = {id(m): i for i, m in enumerate(history)}
    items: list[Any] = []
    for message in view:
        i = index.get(id(message))
        if i is not None and history[i] is message:
            last = items[-1] if items else None
            if isinstance(last, list) and last[1] == i:
                last[1] = i + 1
            else:
                items.append([i, i + 1])
        else:
            items.append({"message": message_to_dict(message)})
    record = {"version": 1, "covers": len(history), "items": items, **(info or {})}
    return Message(
        "system",
        (Text("[Podium: the conversation before this point was compacted]"),),
        provider_details={"podium": {RECORD_KEY: record}},
    )


def view_of(history: Sequence[Message], at: int) -> list[Message] | None:
    """The compacted view of ``history[:at]`` that the record ``history[at]`` describes.

    ``None`` when the record does not fit the history (edited by hand): the history is then sent whole.
    """
    record = (history[at].provider_details or {}).get("podium", {}).get(RECORD_KEY)
    try:
        if not isinstance(record, dict) or record.get("version") != 1 or record.get("covers") != at:
            raise ValueError("not a version-1 record covering the messages before it")
        out: list[Message] = []
        for item in record["items"]:
            if isinstance(item, list):
                start, end = item
                if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= at):
                    raise ValueError(f"range {item!r} outside the history")
                out.extend(m for m in history[start:end] if not is_record(m))
            else:
                out.append(message_from_dict(item["message"]))
        return out
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring a compaction record that does not fit its history (%s); sending it whole", exc)
        return None


def info_of(record: Message) -> dict[str, Any]:
    """The numbers a record carries (tokens before and after, strategies used ...)."""
    data = (record.provider_details or {}).get("podium", {}).get(RECORD_KEY, {})
    return {k: v for k, v in data.items() if k not in ("items", "version", "covers")}


def with_cache_points(messages: list[Message]) -> list[Message]:
    """``messages`` with a :class:`CachePoint` after the instructions and at the end of the last message.

    Between compactions each request extends the previous one, so the end of one request is the start of
    the next: providers with explicit caching (Anthropic ``cache_control``, Bedrock ``cachePoint``) read it
    back. Messages that already carry cache points are left alone (the caller placed their own).
    """
    if not messages or any(isinstance(p, CachePoint) for m in (messages[0], messages[-1]) for p in m.parts):
        return messages
    out = list(messages)
    if out[0].role == "system":
        out[0] = Message("system", (*out[0].parts, CachePoint()))
    last = out[-1]
    if last.role in ("user", "tool") and len(out) > 1:
        out[-1] = Message(last.role, (*last.parts, CachePoint()), provider_details=last.provider_details)
    return out


DEFAULT_COMPACTION = Compaction()
"""What agents use unless told otherwise."""


@dataclass(frozen=True, slots=True)
class CompactionResult:
    """What ``agent.compact(messages)`` did."""

    messages: list[Message]
    """The history to continue from: the messages given, and the compaction record when one was made."""
    view: list[Message]
    """What the next request will send of it (without the instructions)."""
    tokens_before: int
    """Prompt tokens before (exact, or estimated)."""
    tokens_after: int
    """Prompt tokens after."""
    strategies: tuple[str, ...] = ()
    """The strategies that changed something (empty: there was nothing to shorten)."""

    @property
    def compacted(self) -> bool:
        """Whether anything was compacted."""
        return bool(self.strategies)
