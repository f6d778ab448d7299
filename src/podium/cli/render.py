"""Showing a run's events in a terminal: streamed text, tool calls and results, approvals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text as RichText

from podium.agent.approval import ApprovalRequest
from podium.agent.events import (
    AgentEvent,
    ApprovalDecided,
    ContextCompacted,
    MessageDelivered,
    ModelRequestStarted,
    ModelResponseFinished,
    RunFinished,
    SubAgentEvent,
    ToolCallFinished,
    ToolCallStarted,
)
from podium.secrets import scrub
from podium.streaming import TextDelta, ThinkingDelta
from podium.usage import Usage

__all__ = ["EventRenderer", "TerminalConsole", "format_usage"]


class TerminalConsole(Console):
    """A rich console whose broken pipe is Podium's to handle (rich would exit with 1, silently)."""

    def on_broken_pipe(self) -> None:
        """Stop writing and let the entry point exit with 141 (see :mod:`podium.cli.errors`)."""
        self.quiet = True
        raise BrokenPipeError("the output was closed")


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = scrub(text).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_usage(usage: Usage, cost: float | None) -> str:
    """One line: tokens in/out (cached), requests, cost."""
    parts = [f"{usage.input_tokens} in", f"{usage.output_tokens} out"]
    if usage.cache_read_tokens:
        parts.append(f"{usage.cache_read_tokens} cached")
    if usage.reasoning_tokens:
        parts.append(f"{usage.reasoning_tokens} reasoning")
    parts.append(f"{usage.requests} request{'s' if usage.requests != 1 else ''}")
    parts.append("cost unknown" if cost is None else f"${cost:.4f}")
    return ", ".join(parts)


class EventRenderer:
    """Renders events as they come. Text streams live as markdown on a terminal, plainly otherwise."""

    def __init__(self, console: Console, *, markdown: bool | None = None, show_thinking: bool = False) -> None:
        self.console = console
        self.markdown = console.is_terminal if markdown is None else markdown
        self.show_thinking = show_thinking
        self._text: list[str] = []
        self._live: Live | None = None

    def _flush(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        elif self._text and not self.markdown:
            self.console.print()
        self._text = []

    def __call__(self, event: AgentEvent) -> None:
        """Show one event."""
        if isinstance(event, TextDelta):
            self._text.append(event.text)
            if self.markdown:
                if self._live is None:
                    self._live = Live(console=self.console, refresh_per_second=12, vertical_overflow="visible")
                    self._live.start()
                self._live.update(Markdown("".join(self._text)))
            else:
                self.console.file.write(event.text)  # plain text as is: rich's per-call work is ~0.15 ms a delta
                self.console.file.flush()
        elif isinstance(event, ThinkingDelta):
            if self.show_thinking and event.text:
                self.console.print(RichText(event.text, style="dim italic"), end="")
        elif isinstance(event, ModelRequestStarted):
            self._text = []
        elif isinstance(event, MessageDelivered):
            self._flush()
            self.console.print(RichText(f"+ you: {_short(event.message.text, 300)}", style="bold"))
        elif isinstance(event, ModelResponseFinished):
            self._flush()
        elif isinstance(event, ToolCallStarted):
            self._flush()
            self.console.print(RichText(f"→ {event.call.name}({_short(event.call.args)})", style="cyan"))
        elif isinstance(event, ToolCallFinished):
            style = "red" if event.result.is_error else "green"
            self.console.print(RichText(f"← {event.call.name}: {_short(event.result.text)}", style=style))
        elif isinstance(event, ApprovalDecided) and event.decision.kind == "deny":
            self.console.print(RichText(f"✗ {event.call.name} denied: {_short(event.decision.reason)}", style="red"))
        elif isinstance(event, ContextCompacted):
            self._flush()
            line = compaction_line(event.tokens_before, event.tokens_after, event.strategies)
            self.console.print(RichText(line, style="dim"))
        elif isinstance(event, RunFinished):
            self._flush()
        elif isinstance(event, SubAgentEvent):
            self._nested(event)

    def _nested(self, event: SubAgentEvent) -> None:
        """A sub-agent's tool calls, results and denials, indented under its name (its text is its result)."""
        inner, who = event.event, "  " * event.depth + f"[{'/'.join(event.path)}] "
        if isinstance(inner, ToolCallStarted):
            self._flush()
            self.console.print(RichText(f"{who}→ {inner.call.name}({_short(inner.call.args)})", style="dim cyan"))
        elif isinstance(inner, ToolCallFinished):
            style = "red" if inner.result.is_error else "dim green"
            self.console.print(RichText(f"{who}← {inner.call.name}: {_short(inner.result.text)}", style=style))
        elif isinstance(inner, ApprovalDecided) and inner.decision.kind == "deny":
            reason = _short(inner.decision.reason)
            self.console.print(RichText(f"{who}✗ {inner.call.name} denied: {reason}", style="red"))

    def close(self) -> None:
        """Stop any live display (after an interruption)."""
        self._flush()

    def approval_prompt(self, request: ApprovalRequest) -> str:
        """The question to ask a person about a call."""
        reason = f" ({request.reason})" if request.reason else ""
        who = f"[sub-agent {request.agent}] " if request.agent else ""
        return f"{who}Allow {request.call.name}({_short(request.call.args, 300)}){reason}? [y/N] "


def compaction_line(before: int, after: int, strategies: Sequence[str]) -> str:
    """One line saying what a compaction did."""
    how = ", ".join(s.replace("_", " ") for s in strategies)
    return f"[context compacted: {before:,} -> {after:,} tokens ({how}); the full conversation stays saved]"
