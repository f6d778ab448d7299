"""The context a tool receives: dependencies, the conversation so far, usage, the call itself."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic

from typing_extensions import TypeVar

from podium.messages import Message, ToolCall
from podium.usage import Usage

__all__ = ["DepsT", "RunContext"]

DepsT = TypeVar("DepsT", default=None)


def _no_inject() -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class RunContext(Generic[DepsT]):
    """Passed to tools (and hooks) that ask for it as their first parameter.

    Example::

        @tool
        def balance(ctx: RunContext[Bank], account: str) -> float:
            return ctx.deps.balance(account)
    """

    deps: DepsT
    """The ``deps`` object given to ``agent.run(...)``."""
    run_id: str
    """Id of the current run."""
    step: int
    """Number of model requests made so far in this run."""
    messages: Sequence[Message] = ()
    """The conversation up to this point (read-only)."""
    usage: Usage = field(default_factory=Usage)
    """Usage of the run so far."""
    tool_call: ToolCall | None = None
    """The call being executed (for tools)."""
    retry: int = 0
    """How many model turns in a row, before this call's turn, every call of this tool failed in."""
    inject: Mapping[str, Any] = field(default_factory=_no_inject)
    """Values for parameters marked ``Injected``."""
    agent_name: str | None = None
    """Name of the agent running."""
    agent_id: str = ""
    """Unique id of the :class:`~podium.agent.Agent` object running (tools key per-agent state on it)."""
    approved: bool = False
    """True when a person approved this call after the tool raised ``ApprovalRequired``."""
    abandoned: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    """Set when Podium stops waiting for this call: the run was cancelled, or the call ran out of time.

    Python cannot stop a thread, so a sync tool that runs for long should check it now and then
    (``ctx.abandoned.is_set()``, or wait on it instead of sleeping) and return; its result is discarded.
    Async tools are cancelled instead; the built-in shell tools kill their command. Each call has its own."""
    report_progress: Callable[[float, float | None, str | None], None] | None = field(
        default=None, compare=False, repr=False
    )
    """Set by the drivers for each call: ``ctx.report_progress(done, total, message)`` from any thread makes
    the run emit a :class:`~podium.agent.events.ToolCallProgress` event (MCP servers' progress notifications
    arrive this way). ``None`` outside a run."""

    def for_call(self, call: ToolCall, retry: int, approved: bool = False) -> RunContext[DepsT]:
        """This context for one tool call (with its own :attr:`abandoned` signal)."""
        return replace(self, tool_call=call, retry=retry, approved=approved, abandoned=threading.Event())
