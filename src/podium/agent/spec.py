"""What one run is given: :class:`LoopSpec`, fixed when the run starts."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal

from podium.agent.approval import Decision, PausedRun
from podium.agent.hooks import AgentHooks
from podium.agent.output import OutputHandler
from podium.agent.result import OutputT
from podium.messages import Message, Part
from podium.providers.profiles import ModelProfile
from podium.settings import ModelSettings
from podium.tools.context import RunContext
from podium.tools.tool import Tool

if TYPE_CHECKING:
    from podium.agent.budget import Budget
    from podium.agent.compaction import Compaction
    from podium.agent.rules import ApprovalPolicy
    from podium.agent.subagent import Scope
    from podium.providers.tokens import TokenCounter

__all__ = ["LoopSpec"]


def _no_inject() -> Mapping[str, Any]:
    return {}


@dataclass(slots=True)
class LoopSpec(Generic[OutputT]):
    """Everything one run needs, fixed at its start."""

    prompt: Sequence[Part] | None
    """The new user message's parts, or ``None`` to continue the history as is."""
    history: Sequence[Message]
    """The conversation before this run."""
    tools: Mapping[str, Tool[..., Any]] | Callable[[RunContext[Any]], Mapping[str, Tool[..., Any]]]
    """Tools by name, or a function that gives them from the run's context (called once, as the run
    starts: toolsets see the run's ``deps``)."""
    output: OutputHandler[OutputT]
    """Output validation."""
    profile: ModelProfile = field(default_factory=ModelProfile)
    """The model's capabilities."""
    instructions: str | Callable[[RunContext[Any]], str] | None = None
    """System instructions, prepended to every request (not stored in the history)."""
    settings: ModelSettings = field(default_factory=ModelSettings)
    """Settings for every request."""
    max_steps: int = 50
    """Maximum number of model requests."""
    tool_retries: int = 2
    """Model turns in a row in which every call of a tool failed, allowed per tool (a tool's own ``retries``
    wins)."""
    output_retries: int = 2
    """Invalid final outputs allowed."""
    hooks: Sequence[AgentHooks] = ()
    """Lifecycle hooks."""
    deps: Any = None
    """``RunContext.deps``."""
    inject: Mapping[str, Any] = field(default_factory=_no_inject)
    """Values for injected tool parameters."""
    agent_name: str | None = None
    """Name of the agent."""
    agent_id: str = ""
    """Unique id of the agent object."""
    run_id: str = ""
    """Id of the run (generated when empty)."""
    policy: ApprovalPolicy | None = None
    """Decides allow/ask/deny/rewrite per call; ``None`` allows everything."""
    approvals: Mapping[str, Decision] = field(default_factory=dict)
    """The person's decisions for the calls pending in ``resume`` (call id -> decision). Each applies only to
    that pending call, and only if the call about to run is the one shown (same id, tool and arguments);
    never to calls the model makes later. Needs ``resume``."""
    resume: PausedRun | None = None
    """The paused run this run continues."""
    budget: Budget | None = None
    """Limits that end the run with :class:`~podium.exceptions.BudgetExceeded` (see :mod:`podium.agent.budget`)."""
    compaction: Compaction | None = None
    """When and how to compact what is sent (``None``: never; requests are still counted)."""
    token_counter: TokenCounter | None = None
    """The model's exact token counter, if it has one (else counts are calibrated estimates)."""
    repeated_calls: Literal["answer", "allow"] = "answer"
    """``answer``: a message that only repeats calls already answered in this run gets the earlier
    results and the next request goes out with tools off, so the model answers (tools can opt out with
    ``metadata={"repeatable": True}``). ``allow``: run them again."""
    scope: Scope | None = None
    """Where the run sits in a tree of runs (given to a sub-agent's run by its parent; ``None``: top level)."""
    clock: Callable[[], float] = time.monotonic
    """The run's clock (seconds): budgets and a paused run's ``seconds`` read it (a trace records its readings)."""
