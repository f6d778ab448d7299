"""Typed events of an agent run, in the order a run emits them.

``RunStarted``; then per step ``MessageDelivered`` for each message sent into the run since the last
request (``stream.send``), ``ModelRequestStarted``, the model's deltas (``TextDelta``,
``ThinkingDelta``, ``ToolCallDelta``; only when streaming), ``ModelResponseFinished``, then the
approval decisions (``ApprovalDecided``, ``ApprovalRequested``) when a policy is set, then per tool call
``ToolCallStarted`` and ``ToolCallFinished`` (results in call order), with the ``ToolCallProgress`` a call
reports between the two (not in a batch with sub-agent calls); finally ``RunFinished``, or
``RunPaused`` when calls wait for a person.
``ContextCompacted`` comes before a ``ModelRequestStarted`` when the loop compacted what it sends. The events
of sub-agents (:mod:`podium.agent.subagent`) come wrapped in ``SubAgentEvent`` as they happen, while their
call runs: after its ``ToolCallStarted`` and before its ``ToolCallFinished``.
Every event has a ``kind`` string for serialization.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias

from podium.messages import Message, ModelResponse, ToolCall, ToolResult
from podium.streaming import TextDelta, ThinkingDelta, ToolCallDelta
from podium.usage import Usage

if TYPE_CHECKING:
    from podium.agent.approval import ApprovalRequest, Decision, PausedRun
    from podium.agent.result import RunResult

__all__ = [
    "AgentEvent",
    "ApprovalDecided",
    "ApprovalRequested",
    "ContextCompacted",
    "MessageDelivered",
    "ModelRequestStarted",
    "ModelResponseFinished",
    "RunFinished",
    "RunPaused",
    "RunStarted",
    "SubAgentEvent",
    "TextDelta",
    "ThinkingDelta",
    "ToolCallDelta",
    "ToolCallFinished",
    "ToolCallProgress",
    "ToolCallStarted",
]


@dataclass(frozen=True, slots=True)
class RunStarted:
    """A run began."""

    run_id: str
    """Id of the run."""
    kind: ClassVar[Literal["run_started"]] = "run_started"


@dataclass(frozen=True, slots=True)
class MessageDelivered:
    """A message sent into the running run (``stream.send``) entered the history; the next request has it."""

    message: Message
    """The user message, as added to the history (also in the next ``ModelRequestStarted.appended``)."""
    kind: ClassVar[Literal["message_delivered"]] = "message_delivered"


@dataclass(frozen=True, slots=True)
class ModelRequestStarted:
    """The loop is about to send request number ``step`` to the model."""

    step: int
    """1 for the first request of the run."""
    appended: tuple[Message, ...] = ()
    """Messages the loop added to the history since the previous model response (or since the run
    started): the user prompt, the previous turn's tool results, messages sent into the run (after those
    results), a request to fix an invalid output, the text of an answer an interrupting message cut short.
    With each ``ModelResponseFinished``'s response they are the run's messages in order, so a store
    can commit them as the run goes."""
    kind: ClassVar[Literal["model_request_started"]] = "model_request_started"


@dataclass(frozen=True, slots=True)
class ModelResponseFinished:
    """The model's whole response for ``step``."""

    step: int
    """Which request this answers."""
    response: ModelResponse
    """The response."""
    kind: ClassVar[Literal["model_response_finished"]] = "model_response_finished"

    @property
    def usage(self) -> Usage:
        """Usage of this request."""
        return self.response.usage


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """A tool call is about to run."""

    call: ToolCall
    """The call, with the arguments that will be used."""
    kind: ClassVar[Literal["tool_call_started"]] = "tool_call_started"


@dataclass(frozen=True, slots=True)
class ToolCallProgress:
    """A running tool call reported progress (``ctx.report_progress``; an MCP server's progress notification)."""

    call: ToolCall
    """The call."""
    progress: float
    """Done so far (grows with each report)."""
    total: float | None = None
    """The total, when known."""
    message: str | None = None
    """What the tool says it is doing."""
    kind: ClassVar[Literal["tool_call_progress"]] = "tool_call_progress"


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    """A tool call's result (emitted in call order)."""

    call: ToolCall
    """The call."""
    result: ToolResult
    """What goes back to the model."""
    duration: float = 0.0
    """Seconds the tool ran."""
    kind: ClassVar[Literal["tool_call_finished"]] = "tool_call_finished"


@dataclass(frozen=True, slots=True)
class ApprovalRequested:
    """A call needs a person's decision."""

    request: ApprovalRequest
    """The call and why it needs approval."""
    kind: ClassVar[Literal["approval_requested"]] = "approval_requested"


@dataclass(frozen=True, slots=True)
class ApprovalDecided:
    """A decision was made about a call."""

    call: ToolCall
    """The call as the model made it."""
    decision: Decision
    """Allow (possibly with rewritten arguments), deny, or ask."""
    source: Literal["policy", "hook", "user", "approver"]
    """Who decided: the policy, a hook, ``approvals=`` given to the run, or the approver callback."""
    kind: ClassVar[Literal["approval_decided"]] = "approval_decided"


@dataclass(frozen=True, slots=True)
class ContextCompacted:
    """What is sent was compacted before request ``step`` (see :mod:`podium.agent.compaction`)."""

    step: int
    """The request the compaction made room for."""
    tokens_before: int
    """Prompt tokens before (exact, or the calibrated estimate)."""
    tokens_after: int
    """Prompt tokens after."""
    limit: int
    """Tokens a prompt may take (the window minus room for the answer)."""
    strategies: tuple[str, ...]
    """The strategies that changed something, in order."""
    record: Message
    """The record appended to the history (it says what the view of the earlier history is)."""
    errors: tuple[str, ...] = ()
    """Why a strategy could not do its part (a summariser that failed), if any."""
    usage: Usage = field(default_factory=Usage)
    """Usage of the summary requests this compaction made (already in the run's usage)."""
    cost: float | None = 0.0
    """Their cost in USD (``None``: a price was unknown)."""
    kind: ClassVar[Literal["context_compacted"]] = "context_compacted"


@dataclass(frozen=True, slots=True)
class RunPaused:
    """The run stopped to wait for approvals; resume it from ``paused``."""

    paused: PausedRun
    """The state to resume from."""
    kind: ClassVar[Literal["run_paused"]] = "run_paused"


@dataclass(frozen=True, slots=True)
class RunFinished:
    """The run produced its output."""

    result: RunResult[Any]
    """The run's result."""
    kind: ClassVar[Literal["run_finished"]] = "run_finished"


@dataclass(frozen=True, slots=True)
class SubAgentEvent:
    """An event of a sub-agent's run, passed up through its parent's stream as it happens.

    Grandchildren's events are not wrapped twice: ``path`` names every agent between this run and the one
    that emitted ``event``, which is never itself a ``SubAgentEvent``.
    """

    agent: str
    """Name of the sub-agent that emitted ``event`` (its tool name)."""
    depth: int
    """1 for a sub-agent this run called, 2 for one that sub-agent called, ..."""
    path: tuple[str, ...]
    """Names of the sub-agents from this run's child down to ``agent`` (``len(path) == depth``)."""
    call_path: tuple[str, ...]
    """Ids of the calls that started each sub-agent on ``path``: the first is a call of this run."""
    event: AgentEvent
    """The sub-agent's own event."""
    kind: ClassVar[Literal["subagent_event"]] = "subagent_event"

    @property
    def call_id(self) -> str:
        """Id of the call (in its parent) whose run emitted ``event``; unique across the whole run tree."""
        return self.call_path[-1]


AgentEvent: TypeAlias = (
    RunStarted
    | MessageDelivered
    | ModelRequestStarted
    | TextDelta
    | ThinkingDelta
    | ToolCallDelta
    | ModelResponseFinished
    | ToolCallStarted
    | ToolCallProgress
    | ToolCallFinished
    | ApprovalRequested
    | ApprovalDecided
    | ContextCompacted
    | RunPaused
    | RunFinished
    | SubAgentEvent
)
