"""What one run sends to the model: the compacted view of its history, and the tokens it takes.

:class:`ContextWindow` is the loop's bookkeeping for token accounting and compaction: it builds the messages
of a request from the history (the view described by the last compaction record, then every message after
it), counts their tokens (exactly with the model's :class:`~podium.providers.tokens.TokenCounter`, else an
estimate calibrated on the ``input`` usage of the run's earlier responses), and keeps one
:class:`RequestRecord` per request for the run's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from podium.agent.compaction import Compaction, last_record, view_of
from podium.messages import Message
from podium.providers.profiles import ModelProfile
from podium.providers.tokens import Calibration, TokenCounter, estimate_message, estimate_tools
from podium.settings import ModelSettings, ToolDefinition
from podium.usage import Usage

__all__ = ["ContextWindow", "RequestRecord"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One model request of a run: what the loop counted before sending it, and what the provider reported."""

    step: int
    """The run's request number (a compaction's summary request carries the step it was made for)."""
    purpose: Literal["answer", "compaction"]
    """``answer`` for the run's own requests, ``compaction`` for a summary written to save context."""
    counted_tokens: int
    """Prompt tokens the loop counted before sending (exact, or a calibrated estimate)."""
    exact: bool
    """Whether ``counted_tokens`` came from the model's own tokenizer."""
    context_window: int | None
    """The window the count was checked against (``None``: unknown, nothing was checked)."""
    usage: Usage
    """Usage the provider reported for the request."""


@dataclass(slots=True)
class Counted:
    """Tokens of a request about to be sent."""

    tokens: int
    """Exact count, or calibrated estimate."""
    raw: int
    """The uncalibrated estimate (equal to ``tokens`` when exact)."""
    exact: bool


class ContextWindow:
    """Per run: the view of the history that is sent, its token count, and a record per request."""

    __slots__ = (
        "calibration",
        "compaction",
        "counter",
        "estimates",
        "prefix",
        "profile",
        "requests",
        "start",
        "tool_tokens",
        "window",
    )

    def __init__(
        self,
        history: Sequence[Message],
        profile: ModelProfile,
        compaction: Compaction | None,
        counter: TokenCounter | None,
    ) -> None:
        """Start from ``history`` (whose last compaction record, if any, gives the view)."""
        self.profile = profile
        self.compaction = compaction
        self.counter = counter
        self.window = (compaction.window if compaction is not None else None) or profile.context_window
        """The context window in tokens, when known."""
        self.calibration = Calibration()
        self.requests: list[RequestRecord] = []
        self.tool_tokens: dict[tuple[str, ...], int] = {}
        self.estimates: dict[int, tuple[Message, int]] = {}
        """Estimates by message id, for this run (the message is kept with it, so an id is never reused)."""
        self.prefix: list[Message] = []
        self.start = 0
        at = last_record(history)
        if at >= 0:
            view = view_of(history, at)
            if view is not None:
                self.reset(at, view)

    def reset(self, at: int, view: list[Message]) -> None:
        """A record at ``history[at]`` now describes the history before it as ``view``."""
        self.prefix = view
        self.start = at + 1

    def view(self, history: Sequence[Message]) -> list[Message]:
        """What is sent of ``history``: the compacted prefix, then the messages after the last record."""
        if not self.start:
            return list(history)
        return [*self.prefix, *history[self.start :]]

    def count(self, messages: Sequence[Message], tools: Sequence[ToolDefinition]) -> Counted:
        """Tokens of a request with ``messages`` and ``tools``."""
        if self.counter is not None:
            exact = self.counter.count_tokens(messages, tools)
            return Counted(exact, exact, True)
        key = tuple(t.name for t in tools)
        tool_tokens = self.tool_tokens.get(key)
        if tool_tokens is None:
            tool_tokens = self.tool_tokens[key] = estimate_tools(tools)
        raw = tool_tokens
        estimates = self.estimates
        for message in messages:
            hit = estimates.get(id(message))
            if hit is None or hit[0] is not message:
                hit = estimates[id(message)] = (message, estimate_message(message))
            raw += hit[1]
        return Counted(self.calibration.scale(raw), raw, False)

    def usable(self, settings: ModelSettings) -> int | None:
        """Tokens a prompt may take (the window minus room for the answer); ``None`` when the window is unknown."""
        if self.window is None:
            return None
        compaction = self.compaction or Compaction()
        return compaction.usable(self.window, settings.max_tokens, self.profile.max_output_tokens)

    def observe(self, step: int, purpose: Literal["answer", "compaction"], counted: Counted, usage: Usage) -> None:
        """Keep the record of a request, and calibrate the estimate on the usage the provider reported."""
        if not counted.exact and purpose == "answer":
            self.calibration.observe(counted.raw, usage.input_tokens)
        self.requests.append(RequestRecord(step, purpose, counted.tokens, counted.exact, self.window, usage))
