"""The context a tool receives: dependencies, the conversation so far, usage, the call itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    """How many times in a row this tool has failed before this call."""
    inject: Mapping[str, Any] = field(default_factory=_no_inject)
    """Values for parameters marked ``Injected``."""
    agent_name: str | None = None
    """Name of the agent running."""
    agent_id: str = ""
    """Unique id of the :class:`~podium.agent.Agent` object running (tools key per-agent state on it)."""
    approved: bool = False
    """True when a person approved this call after the tool raised ``ApprovalRequired``."""

    def for_call(self, call: ToolCall, retry: int, approved: bool = False) -> RunContext[DepsT]:
        """This context for one tool call."""
        return replace(self, tool_call=call, retry=retry, approved=approved)
