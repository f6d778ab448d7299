"""Sub-agents: an agent used as a tool of another agent (``agent.as_tool(...)``, or the agent in ``tools=[...]``).

A sub-agent call runs a *child run*: the sub-agent's own model, tools, instructions and conversation (it sees
only the task the parent's model wrote, never the parent's conversation). The parent's model gets the child's
final output as the call's result (text, or the JSON of a structured output); a child that fails (max steps,
a provider error, its budget) gives an error result with the reason, and the parent's run goes on.

What flows up to the parent, as the child runs:

* **events**: each child event comes out of the parent's stream at once, wrapped in
  :class:`~podium.agent.events.SubAgentEvent` (the sub-agent's name, depth, path and call ids); the parent's
  ``ToolCallFinished`` for the call comes after all of them.
* **usage and cost**: added to the parent's totals (``result.usage``, ``result.cost``), per agent in
  ``result.usage_by_agent`` / ``result.cost_by_agent``; a parent's token and cost budgets count them, and
  a child never gets more of them than the parent has left.
* **approvals**: a child's "ask" goes to whoever answers the parent's (its approver; ``podium chat``'s
  prompt). With no one to answer, the child pauses and so does the parent: the child's pending calls are
  in the parent's ``PausedRun.pending`` (with ``agent`` naming the child), and
  ``agent.run(resume=paused, approvals={child_call_id: True})`` resumes the child inside the parent, in
  this process or another one (``PausedRun`` round-trips through JSON).
* **cancellation**: cancelling the parent cancels its children; a cancelled child's call gets an
  interrupted result.

Tool call ids are unique across the whole tree of runs (:class:`CallIds`), so an approval names exactly one
call. The drivers run sub-agent calls (:mod:`podium.agent.children`); this module holds what the loop needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from podium.agent.approval import ApprovalRequest, Decision, PausedRun
from podium.agent.binding import unique_ids
from podium.agent.budget import Budget
from podium.exceptions import UserError
from podium.messages import ModelResponse, ToolCall, ToolResult
from podium.tools.context import RunContext
from podium.tools.executor import ToolInvocation, ToolOutcome, skipped_result
from podium.tools.tool import Tool
from podium.usage import CostValue, DeferredCost, Usage, add_costs, resolve_cost, stored_cost

if TYPE_CHECKING:
    from podium.agent.agent import Agent

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "CallIds",
    "ChildInvocation",
    "Scope",
    "SubAgentOutcome",
    "SubAgentTool",
    "SubAgents",
    "Tally",
    "usage_minus",
]

DEFAULT_MAX_DEPTH = 5
"""How deep sub-agents may nest by default (1: the agent's own sub-agents only)."""

_TASK_DOC = "The task, with everything the sub-agent needs to know: it does not see this conversation."


class CallIds:
    """The tool call ids of a tree of runs (a run and its sub-agents), kept unique across the whole tree.

    Each response's ids pass through :meth:`unique` (thread-safe: sibling sub-agents run at once); an id used
    anywhere in the tree before gets a new one, so an approval given for a call id answers that call only.
    """

    __slots__ = ("_ids", "_lock")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._ids: set[str] = set(ids)

    def add(self, ids: Iterable[str]) -> None:
        """Count ``ids`` as used."""
        with self._lock:
            self._ids.update(ids)

    def unique(self, response: ModelResponse) -> ModelResponse:
        """``response`` with every tool call id unused in the tree (see :func:`~podium.agent.binding.unique_ids`)."""
        with self._lock:
            return unique_ids(response, self._ids)

    def __contains__(self, call_id: object) -> bool:
        with self._lock:
            return call_id in self._ids


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a run sits in a tree of runs; given to a child run by its parent."""

    name: str
    """The run's agent as its parent knows it (the sub-agent tool's name)."""
    depth: int
    """0 for a top-level run, 1 for its sub-agents, ..."""
    ids: CallIds
    """The tree's tool call ids."""
    stream: bool = True
    """Whether the model's answers are streamed (as the top-level run's are)."""


class SubAgentTool(Tool[..., Any]):
    """A tool whose call runs another agent (made by :meth:`Agent.as_tool <podium.agent.Agent.as_tool>`).

    The model calls it with one argument, ``task``. The drivers run it as a child run; calling the object
    directly is an error.
    """

    def __init__(
        self,
        agent: Agent[Any],
        *,
        name: str,
        description: str | None = None,
        budget: Budget | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
        timeout: float | None = None,
        max_output: int | None = None,
        retries: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """See :meth:`Agent.as_tool <podium.agent.Agent.as_tool>`."""
        if max_depth < 1:
            raise UserError(f"max_depth={max_depth}: give at least 1 (the parent's own sub-agents)")
        super().__init__(
            _delegate,
            name=name,
            description=description or f"Ask the {name} agent to do a task; it answers with its result.",
            timeout=timeout,
            max_output=max_output,
            retries=retries,
            metadata={"subagent": True, **(metadata or {})},
        )
        self.agent = agent
        """The sub-agent."""
        self.budget = budget
        """Limits of each of its runs (within what the parent has left)."""
        self.max_depth = max_depth
        """The deepest level at which a call of this tool runs (1: called by a top-level run)."""

    def renamed(self, name: str) -> SubAgentTool:
        """This sub-agent under another tool name (prefixed toolsets)."""
        return SubAgentTool(
            self.agent,
            name=name,
            description=self._description,
            budget=self.budget,
            max_depth=self.max_depth,
            timeout=self.timeout,
            max_output=self.max_output,
            retries=self.retries,
            metadata=self.metadata,
        )

    def __repr__(self) -> str:
        return f"SubAgentTool({self.name!r}, agent={self.agent!r})"


def _delegate(task: str) -> str:
    """Run the sub-agent on a task.

    Args:
        task: The task, with everything the sub-agent needs to know: it does not see this conversation.
    """
    raise UserError("a sub-agent tool runs inside an agent run; call agent.run(task) to run the agent directly")


def task_of(call: ToolCall) -> str | None:
    """The task of a sub-agent call: its ``task`` argument (or its only string argument, under any name)."""
    if call.raw_args is not None:
        return None
    task = call.args.get("task")
    if isinstance(task, str):
        return task
    values = list(call.args.values())
    if len(values) == 1 and isinstance(values[0], str):
        return values[0]
    return None


@dataclass(frozen=True, slots=True)
class ChildInvocation(ToolInvocation):
    """A sub-agent call ready to run: what the driver needs to start (or resume) the child run."""

    scope: Scope
    """The child run's place in the tree."""
    budget: Budget | None = None
    """The child's limits: its tool's budget within what the parent has left."""
    resume: PausedRun | None = None
    """The child's paused run, when the parent resumes."""
    approvals: Mapping[str, Decision] = field(default_factory=dict)
    """The person's decisions for the child's pending calls (and its sub-agents')."""

    @property
    def subagent(self) -> SubAgentTool:
        """The tool (always a :class:`SubAgentTool`)."""
        assert isinstance(self.tool, SubAgentTool)
        return self.tool


class Tally:
    """Usage and cost of the model responses of sub-agents, per agent path (``"child"``, ``"child/grandchild"``)."""

    __slots__ = ("_lock", "cost", "usage")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.usage: dict[str, Usage] = {}
        self.cost: dict[str, CostValue] = {}

    def add(self, key: str, usage: Usage, cost: CostValue) -> None:
        """Count ``usage`` and ``cost`` for the agent ``key``."""
        with self._lock:
            self.usage[key] = self.usage.get(key, Usage()) + usage
            self.cost[key] = add_costs(self.cost.get(key, 0.0), cost)

    def snapshot(self) -> Tally:
        """A copy (of a tally a child run may still add to)."""
        copy = Tally()
        with self._lock:
            copy.usage, copy.cost = dict(self.usage), dict(self.cost)
        return copy

    def add_response(self, key: str, response: ModelResponse) -> None:
        """Count a model response of the agent ``key``."""
        self.add(key, response.usage, stored_cost(response))

    def merge(self, other: Tally, prefix: str) -> None:
        """Count ``other``'s entries under ``prefix/``."""
        for key, usage in other.usage.items():
            self.add(f"{prefix}/{key}", usage, other.cost.get(key, 0.0))

    def total(self) -> tuple[Usage, CostValue]:
        """The sum over all agents."""
        usage = Usage()
        cost: CostValue = 0.0
        for key, u in self.usage.items():
            usage = usage + u
            cost = add_costs(cost, self.cost.get(key, 0.0))
        return usage, cost


@dataclass(frozen=True, slots=True)
class SubAgentOutcome(ToolOutcome):
    """How a sub-agent call went: its result, and what the child run used (and its pause, if it paused)."""

    tally: Tally = field(default_factory=Tally)
    """Usage and cost of the child's responses (and its sub-agents') in this run, by agent path."""
    paused: PausedRun | None = None
    """The child's paused run when it waits for approvals (the parent pauses too)."""


def usage_minus(a: Usage, b: Usage) -> Usage:
    """``a - b``, counter by counter."""
    details = {k: v - b.details.get(k, 0) for k, v in a.details.items() if v - b.details.get(k, 0)}
    return Usage(
        a.input_tokens - b.input_tokens,
        a.output_tokens - b.output_tokens,
        a.cache_read_tokens - b.cache_read_tokens,
        a.cache_write_tokens - b.cache_write_tokens,
        a.reasoning_tokens - b.reasoning_tokens,
        a.requests - b.requests,
        details,
    )


def budget_left(budget: Budget | None, usage: Usage, cost: CostValue, started: float) -> Budget | None:
    """What is left of a run's token, cost and time limits (for a sub-agent it starts)."""
    if budget is None:
        return None

    def left(limit: float | None, used: float) -> Any:
        return None if limit is None else max(0, limit - used)

    spent = resolve_cost(cost) if budget.max_cost is not None else 0.0
    return Budget(
        max_input_tokens=left(budget.max_input_tokens, usage.input_tokens),
        max_output_tokens=left(budget.max_output_tokens, usage.output_tokens),
        max_cost=left(budget.max_cost, spent or 0.0),
        max_seconds=left(budget.max_seconds, time.monotonic() - started),
    )


def tighter(a: Budget | None, b: Budget | None) -> Budget | None:
    """Each limit the lower of ``a``'s and ``b``'s."""
    if a is None or b is None:
        return a or b
    values: dict[str, Any] = {}
    for name in Budget.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        values[name] = y if x is None else x if y is None else min(x, y)
    return Budget(**values)


def _join(*names: str) -> str:
    return "/".join(n for n in names if n)


class SubAgents:
    """What one run keeps about its sub-agents (the loop's side, no I/O): ids, paused children, their usage."""

    def __init__(self, scope: Scope | None, agent_name: str | None, resume: PausedRun | None) -> None:
        self.key = scope.name if scope is not None else (agent_name or "agent")
        """This run's own entry in ``usage_by_agent``; its sub-agents' are under ``key/...``."""
        self.depth = scope.depth if scope is not None else 0
        self.ids = scope.ids if scope is not None else CallIds()
        self.stream = scope.stream if scope is not None else True
        self.tally = Tally()
        """Usage and cost of the sub-agents, keyed by their path under :attr:`key`."""
        self.paused: dict[str, PausedRun] = {}
        """Children paused in the current turn, by call id."""
        self.counted: set[str] = set()
        """Calls whose child's usage was counted."""
        self.resumes: dict[str, PausedRun] = {}
        """Children to resume (from the paused run this run continues), by call id."""
        if resume is not None:
            check_paused_tree(resume, {c.id: c for c in _dangling(resume)})
            self.resumes = dict(resume.children)
            for key, usage in resume.usage_by_agent.items():
                if key != self.key and key.startswith(self.key + "/"):
                    self.tally.add(key, usage, resume.cost_by_agent.get(key, 0.0))
            self.ids.add(_tree_ids(resume))

    def invocation(
        self, tool: Tool[..., Any], call: ToolCall, ctx: RunContext[Any], left: Budget | None
    ) -> ToolInvocation | ToolResult:
        """How to run ``call``: a plain invocation, a child run, or (too deep) the error result."""
        if not isinstance(tool, SubAgentTool):
            return ToolInvocation(tool, call, ctx)
        depth = self.depth + 1
        if depth > tool.max_depth:
            return skipped_result(
                call,
                f"Not run: the sub-agent {tool.name!r} would run at depth {depth}, deeper than its max_depth="
                f"{tool.max_depth} (does an agent call itself?). Do the task without it.",
            )
        scope = Scope(tool.name, depth, self.ids, self.stream)
        return ChildInvocation(tool, call, ctx, scope, tighter(tool.budget, left))

    def resumed(
        self,
        tool: Tool[..., Any] | None,
        call: ToolCall,
        ctx: RunContext[Any],
        approvals: Mapping[str, Decision],
        left: Budget | None,
    ) -> ChildInvocation:
        """The invocation that resumes the paused child of ``call``, with the decisions for its calls."""
        paused = self.resumes[call.id]
        if not isinstance(tool, SubAgentTool):
            raise UserError(
                f"the paused run has a paused sub-agent under call {call.id!r} of {call.name!r}, but this agent's "
                f"tool {call.name!r} is {'missing' if tool is None else 'not a sub-agent'}; resume with the agent "
                "that paused"
            )
        mine = {r.call_id for r in paused.pending}
        scope = Scope(tool.name, self.depth + 1, self.ids, self.stream)
        return ChildInvocation(
            tool,
            call,
            ctx,
            scope,
            tighter(tool.budget, left),
            resume=paused,
            approvals={k: v for k, v in approvals.items() if k in mine},
        )

    def record(self, outcome: SubAgentOutcome, inv: ToolInvocation) -> tuple[Usage, CostValue] | None:
        """Keep a child's paused run when it paused; count what it used (see :meth:`count`)."""
        if outcome.paused is not None:
            self.paused[inv.call.id] = outcome.paused
        return self.count(inv.call.id, outcome.tally)

    def count(self, call_id: str, tally: Tally) -> tuple[Usage, CostValue] | None:
        """Count what the child of ``call_id`` used; the totals to add to the run's (``None``: counted already).

        Each call counts once: an abandoned batch reports all its children, some of which may be counted.
        """
        if call_id in self.counted:
            return None
        self.counted.add(call_id)
        self.tally.merge(tally, self.key)
        return tally.total()

    def pending(self, calls: Mapping[str, ToolCall]) -> list[ApprovalRequest]:
        """The pending calls of the paused children, each naming its sub-agent (relative to this run)."""
        out: list[ApprovalRequest] = []
        for call_id, paused in self.paused.items():
            name = calls[call_id].name
            out.extend(replace(r, agent=_join(name, r.agent)) for r in paused.pending)
        return out

    def by_agent(self, usage: Usage, cost: CostValue) -> dict[str, tuple[Usage, CostValue]]:
        """Usage and cost per agent: this run's own (the totals less its sub-agents'), then each sub-agent's."""
        child_usage, child_cost = self.tally.total()
        if not self.tally.usage:
            return {self.key: (usage, cost)}
        own_cost: CostValue = DeferredCost(lambda: _cost_minus(resolve_cost(cost), resolve_cost(child_cost)))
        out = {self.key: (usage_minus(usage, child_usage), own_cost)}
        for key, u in self.tally.usage.items():
            out[key] = (u, self.tally.cost.get(key, 0.0))
        return out


def _cost_minus(total: float | None, part: float | None) -> float | None:
    return None if total is None or part is None else max(0.0, total - part)


def _tree_ids(paused: PausedRun) -> list[str]:
    """Every tool call id in a paused run and its paused children."""
    ids = [c.id for m in paused.messages for c in m.tool_calls]
    for child in paused.children.values():
        ids.extend(_tree_ids(child))
    return ids


def check_paused_tree(paused: PausedRun, calls: Mapping[str, ToolCall]) -> None:
    """Refuse a paused run whose children do not match its pending calls (so no approval can stray).

    ``calls`` are the unanswered calls of its last message. Each child must belong to one of them, and the
    pending requests that name a sub-agent must be exactly the children's, with the same calls.
    """
    if not {r.call_id for r in paused.own_pending} <= set(calls):
        raise UserError(
            "the paused run is inconsistent: its pending calls are not unanswered calls of its last message; "
            "it cannot be resumed"
        )
    shown = [r for r in paused.pending if r.agent]
    expected: list[ApprovalRequest] = []
    for call_id, child in paused.children.items():
        call = calls.get(call_id)
        if call is None or call_id in {r.call_id for r in paused.own_pending}:
            raise UserError(
                f"the paused run is inconsistent: a paused sub-agent is under call {call_id!r}, which is not an "
                "unanswered call of its last message; it cannot be resumed"
            )
        check_paused_tree(child, {c.id: c for c in _dangling(child)})
        expected.extend(replace(r, agent=_join(call.name, r.agent)) for r in child.pending)
    key = [(r.call_id, r.agent, r.call) for r in shown]
    if key != [(r.call_id, r.agent, r.call) for r in expected]:
        raise UserError(
            "the paused run is inconsistent: the pending calls it shows for its sub-agents are not the calls "
            "its paused sub-agents wait on; it cannot be resumed (answer the paused run as stored)"
        )
    ids = [r.call_id for r in paused.pending]
    if len(set(ids)) != len(ids):
        raise UserError(f"the paused run is inconsistent: pending call ids repeat ({sorted(ids)}); it cannot resume")


def _dangling(paused: PausedRun) -> list[ToolCall]:
    messages = paused.messages
    return messages[-1].tool_calls if messages and messages[-1].role == "assistant" else []
