"""The state of one run, and the tool calls of one model message on their way to results.

:class:`RunState` holds what a run keeps between effects (history, usage, counters) and the parts of the
loop that handle one model message's tool calls: hooks and the approval policy decide each call, the
approver is asked about the ones a person must decide, the rest run concurrently through the driver, and
the results go into the history in call order (every call gets one, so the history stays valid). The
request/response side of the loop is :mod:`podium.agent.loop`.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeAlias

from podium.agent.approval import Allow, ApprovalRequest, Ask, Decision, Deny, PausedRun
from podium.agent.binding import bind
from podium.agent.budget import Budget
from podium.agent.effects import AbandonTools, AskApproval, AwaitTool, Effect, Interrupted, RunAwaitable, StartTools
from podium.agent.events import AgentEvent, ApprovalDecided, ApprovalRequested, ToolCallFinished, ToolCallStarted
from podium.agent.output import FINAL_RESULT_TOOL, OutputMode
from podium.agent.result import OutputT
from podium.agent.spec import LoopSpec
from podium.agent.subagent import SubAgentOutcome, SubAgents, budget_left, usage_minus
from podium.agent.window import ContextWindow, Counted
from podium.exceptions import (
    AgentRunError,
    BudgetExceeded,
    OutputValidationError,
    PodiumError,
    RunCancelled,
    ToolRetriesExceeded,
    UnexpectedModelBehavior,
)
from podium.messages import Message, ModelResponse, Text, ToolCall, ToolResult
from podium.tools.context import RunContext
from podium.tools.executor import ToolInvocation, ToolOutcome, interrupted_result, skipped_result
from podium.tools.tool import Tool
from podium.usage import CostValue, Usage, add_costs, resolve_cost

__all__ = ["RunState", "call_key", "short"]


DecisionSource: TypeAlias = Literal["policy", "hook", "user", "approver"]
_Waiting: TypeAlias = list[tuple[int, ApprovalRequest, ToolInvocation]]
_ToRun: TypeAlias = list[tuple[int, ToolInvocation]]


@dataclass(slots=True)
class _Turn:
    """The tool calls of one model message on their way to results (in call order)."""

    calls: list[ToolCall]
    results: list[ToolResult | None] = field(init=False)
    to_run: _ToRun = field(default_factory=list)
    asks: _Waiting = field(default_factory=list)
    """Calls the policy or a hook wants a person to decide."""
    late: list[tuple[int, ToolInvocation, str]] = field(default_factory=list)
    """Calls that raised ``ApprovalRequired`` while running, with the reason."""
    final: tuple[Any] | None = None
    final_seen: bool = False
    unknown: bool = False
    failed: dict[str, tuple[Tool[..., Any], ToolResult]] = field(default_factory=dict)
    """Tools with a failed call in this turn: the tool and its last failed result."""
    succeeded: set[str] = field(default_factory=set)
    """Tools with a call that succeeded in this turn."""

    def __post_init__(self) -> None:
        self.results = [None] * len(self.calls)

    def filled(self) -> tuple[ToolResult, ...]:
        """Every call's result; a call that got none says it was not run."""
        calls, results = self.calls, self.results
        return tuple(r if r is not None else skipped_result(c, "Not run.") for r, c in zip(results, calls, strict=True))

    def record(self, tool: Tool[..., Any], outcome: ToolOutcome, result: ToolResult) -> None:
        """Note how a call of ``tool`` went, for its retry budget."""
        if outcome.failed:
            self.failed[tool.name] = (tool, result)
        elif outcome.kind == "ok":
            self.succeeded.add(tool.name)


class RunState(Generic[OutputT]):
    """Mutable state of one run, and the handling of one model message's tool calls."""

    def __init__(self, spec: LoopSpec[OutputT]) -> None:
        self.spec = spec
        self.run_id = spec.run_id or os.urandom(16).hex()
        self.tools: Mapping[str, Tool[..., Any]] = spec.tools if isinstance(spec.tools, Mapping) else {}
        self.history: list[Message] = list(spec.history)
        self.new: list[Message] = []
        self.usage = Usage()
        self.cost: CostValue = 0.0  # deferred while no one reads it (see podium.usage.DeferredCost)
        self.step = 0
        self.started = spec.clock()
        self.tool_calls = 0
        self.tool_failures: dict[str, int] = {}  # tool name -> failing turns in a row
        self.unknown_turns = 0  # turns in a row with a call to an unknown tool
        self.output_failures = 0
        self.mode: OutputMode = spec.output.mode_for(spec.profile)
        self.interrupted = False
        self.preempted = False  # a message sent with interrupt=True stopped this turn's tools
        self.queued: list[Message] = list(spec.resume.queued) if spec.resume is not None else []
        """Sent messages not delivered yet (those a paused run kept, until the resumed run's next request)."""
        self.announced = 0  # messages of self.new already reported by an event
        self.answered: dict[str, ToolResult] = {}
        self.tools_off = False
        self.window = ContextWindow(self.history, spec.profile, spec.compaction, spec.token_counter)
        self.counted: Counted | None = None  # tokens of the request in flight
        self.summaries: list[ModelResponse] = []  # summary responses of the compaction under way
        self.subagents = SubAgents(spec.scope, spec.agent_name, spec.resume)
        """Sub-agent bookkeeping; its ``ids`` are the call ids of the whole tree of runs."""
        self.subagents.ids.add(c.id for m in self.history for c in m.tool_calls)
        self.subagents.ids.add(r.call_id for m in self.history for r in m.tool_results)
        if spec.resume is not None:
            self.run_id = spec.resume.run_id or self.run_id
            self.usage = spec.resume.usage
            self.step = spec.resume.steps
            self.cost = spec.resume.cost
            self.tool_calls = spec.resume.tool_calls
            self.started -= spec.resume.seconds  # the budget's wall time counts the time before the pause

    def unique(self, response: ModelResponse) -> ModelResponse:
        """``response`` with tool call ids unique across the run and its sub-agents."""
        return self.subagents.ids.unique(response)

    def budget_left(self, resuming: PausedRun | None = None) -> Budget | None:
        """What a sub-agent started now may use of this run's budget (a resumed one: plus what it used already)."""
        if resuming is None:
            return budget_left(self.spec.budget, self.usage, self.cost, self.started)
        cost = add_costs(self.cost, -resuming.cost if resuming.cost is not None else None)
        return budget_left(self.spec.budget, usage_minus(self.usage, resuming.usage), cost, self.started)

    def ctx(self) -> RunContext[Any]:
        """The run's context as tools and hooks see it now."""
        return RunContext(
            deps=self.spec.deps,
            run_id=self.run_id,
            step=self.step,
            messages=tuple(self.history),
            usage=self.usage,
            inject=self.spec.inject,
            agent_name=self.spec.agent_name,
            agent_id=self.spec.agent_id,
        )

    def add(self, message: Message) -> None:
        """Append ``message`` to the history (and to the run's new messages)."""
        self.history.append(message)
        self.new.append(message)

    def fail(self, exc: PodiumError) -> PodiumError:
        """Attach the history (valid to continue from) to an error passing through the loop."""
        exc.messages = list(self.history)
        if isinstance(exc, AgentRunError):
            exc.new_messages = list(self.new)
        return exc

    def run_error(self, cls: type[AgentRunError], message: str) -> AgentRunError:
        """A run error of type ``cls`` carrying the history and usage so far."""
        return cls(message, messages=self.history, new_messages=self.new, usage=self.usage)

    def hook(self, value: Any) -> Generator[Effect | AgentEvent, Any, Any]:
        """What a hook returned; a hook written as a coroutine is awaited by the driver."""
        if inspect.isawaitable(value):
            value = yield RunAwaitable(value)
        return value

    def over_budget(self, name: str, limit: float, reached: float, what: str) -> BudgetExceeded:
        """The error that ends a run whose budget ``name`` is used up."""
        return BudgetExceeded(
            f"the run reached its budget {name}={limit:g} ({what}: {reached:g}); raise it or give the run less "
            "to do. `.messages` has the history.",
            budget=name,
            limit=limit,
            reached=reached,
            messages=self.history,
            new_messages=self.new,
            usage=self.usage,
        )

    def check_budget(self) -> None:
        """Raise :class:`BudgetExceeded` when a limit is reached, before the next model request."""
        budget = self.spec.budget
        if budget is None:
            return
        usage = self.usage
        checks: list[tuple[str, float | None, float, str]] = [
            ("max_requests", budget.max_requests, self.step, "model requests made"),
            ("max_input_tokens", budget.max_input_tokens, usage.input_tokens, "input tokens used"),
            ("max_output_tokens", budget.max_output_tokens, usage.output_tokens, "output tokens used"),
            ("max_seconds", budget.max_seconds, self.spec.clock() - self.started, "seconds since the start"),
        ]
        if budget.max_cost is not None:
            spent = resolve_cost(self.cost)
            self.cost = spent
            checks.append(("max_cost", budget.max_cost, spent or 0.0, "USD spent"))
        for name, limit, reached, what in checks:
            if limit is not None and reached >= limit:
                raise self.over_budget(name, limit, reached, what)

    def check_tool_budget(self, calls: list[ToolCall], completed: Sequence[ToolResult]) -> None:
        """Count this turn's calls; over ``max_tool_calls`` none is started, each gets a result saying why."""
        budget = self.spec.budget
        limit = budget.max_tool_calls if budget is not None else None
        if limit is not None and self.tool_calls + len(calls) > limit:
            reason = f"Not run: the run's budget of {limit:g} tool calls is used up."
            done = {r.call_id for r in completed}
            self.add(Message("tool", (*completed, *(skipped_result(c, reason) for c in calls if c.id not in done))))
            raise self.over_budget("max_tool_calls", limit, self.tool_calls + len(calls), "tool calls asked for")
        self.tool_calls += len(calls)

    # -- the tool calls of one model message

    def run_tools(
        self,
        calls: list[ToolCall],
        completed: Sequence[ToolResult] = (),
        approvals: Mapping[str, tuple[ApprovalRequest, Decision]] | None = None,
    ) -> Generator[Effect | AgentEvent, Any, tuple[OutputT] | PausedRun | None]:
        """Decide, approve and run the calls of one model message; add their results to the history.

        Returns the final output when a ``final_result`` call validated, a :class:`PausedRun` when calls
        wait for a person, else ``None``. ``completed`` holds results of these calls from before a pause;
        ``approvals`` the person's decisions for them, each with the request it answers (only when
        resuming a paused run).
        """
        self.check_tool_budget(calls, completed)
        turn = _Turn(calls)
        yield from self.plan(turn, completed, approvals or {})
        if turn.final is not None:  # the answer is in: the other calls are not run (their results say so)
            for i, inv in turn.to_run + [(i, inv) for i, _, inv in turn.asks]:
                turn.results[i] = skipped_result(inv.call, "Not run: the final result was given in the same message.")
            turn.to_run, turn.asks = [], []
        waiting: _Waiting = []
        if turn.asks:
            waiting = yield from self.ask(turn, turn.asks, turn.to_run)
        yield from self.execute(turn, turn.to_run)
        waiting += yield from self.ask_late(turn)
        if waiting or self.subagents.paused:
            return self.pause(turn, waiting)
        self.close(turn)
        return turn.final

    def plan(
        self, turn: _Turn, completed: Sequence[ToolResult], approvals: Mapping[str, tuple[ApprovalRequest, Decision]]
    ) -> Generator[Effect | AgentEvent, Any, None]:
        """Sort each call: answered before a pause, the final result, an unknown tool, or one to decide."""
        done = {r.call_id: r for r in completed}
        base = self.ctx()
        for i, call in enumerate(turn.calls):
            if call.id in done:
                turn.results[i] = done[call.id]
            elif call.id in self.subagents.resumes:  # a paused sub-agent: it goes on with the person's decisions
                ctx = base.for_call(call, self.tool_failures.get(call.name, 0))
                tool = self.tools.get(call.name)
                left = self.budget_left(self.subagents.resumes[call.id])
                inv = self.subagents.resumed(tool, call, ctx, self.spec.approvals, left)
                turn.to_run.append((i, inv))
            elif call.name == FINAL_RESULT_TOOL and self.mode == "tool":
                self.take_final(turn, i, call)
            elif call.name not in self.tools:
                turn.unknown = True
                names = ", ".join(sorted(self.tools)) or "(none)"
                turn.results[i] = skipped_result(call, f"Unknown tool {call.name!r}. Available tools: {names}.")
            else:
                yield from self.decide(turn, i, call, base, approvals)

    def take_final(self, turn: _Turn, i: int, call: ToolCall) -> None:
        """Validate the first ``final_result`` call of the message (the others are skipped)."""
        if turn.final_seen:
            turn.results[i] = skipped_result(call, "Only the first final_result call is used.")
            return
        turn.final_seen = True
        try:
            if call.raw_args is not None:
                raise ValueError(f"arguments are not a JSON object: {call.raw_args[:200]!r}")
            turn.final = (self.spec.output.validate_args(call.args),)
            turn.results[i] = ToolResult(call.id, call.name, (Text("Final result accepted."),))
        except ValueError as exc:
            self.output_failures += 1
            text = f"Invalid final result: {short(exc)}"
            turn.results[i] = ToolResult(call.id, call.name, (Text(text),), is_error=True)
            if self.output_failures > self.spec.output_retries:
                self.add(Message("tool", turn.filled()))
                raise self.run_error(
                    OutputValidationError,
                    f"the model's final_result did not validate after {self.output_failures} attempts: {exc}",
                ) from exc

    def decide(
        self,
        turn: _Turn,
        i: int,
        call: ToolCall,
        base: RunContext[Any],
        approvals: Mapping[str, tuple[ApprovalRequest, Decision]],
    ) -> Generator[Effect | AgentEvent, Any, None]:
        """Run the hooks and the policy (or the person's decision) on a call; queue it to run, ask or deny."""
        spec, tool, original = self.spec, self.tools[call.name], call
        hooked = yield from self.before_hooks(base.for_call(call, self.tool_failures.get(call.name, 0)), call)
        if isinstance(hooked, ToolResult):
            turn.results[i] = hooked
            return
        call, ctx, decision, source = hooked
        if call.id in approvals:
            request, decision = approvals[call.id]
            source = "user"
            if isinstance(decision, Allow):
                call = bind(call, tool, request, spec.policy)
        elif decision is None and spec.policy is not None:
            decision = spec.policy.decide(call, tool)
        if decision is not None and (spec.policy is not None or source != "policy"):
            yield ApprovalDecided(original, decision, source)
        if isinstance(decision, Deny):
            turn.results[i] = _denied(call, decision)
            return
        if isinstance(decision, Allow):
            if decision.args is not None:
                call = replace(call, args=dict(decision.args), raw_args=None)
            # a person's "yes" also answers an ApprovalRequired the tool may raise
            ctx = ctx.for_call(call, ctx.retry, approved=source == "user")
        invocation = self.subagents.invocation(tool, call, ctx, self.budget_left())
        if isinstance(invocation, ToolResult):  # a sub-agent too deep
            turn.results[i] = invocation
            return
        if isinstance(decision, Ask):
            turn.asks.append((i, ApprovalRequest(call, decision.reason), invocation))
        else:
            turn.to_run.append((i, invocation))

    def before_hooks(
        self, ctx: RunContext[Any], call: ToolCall
    ) -> Generator[
        Effect | AgentEvent, Any, ToolResult | tuple[ToolCall, RunContext[Any], Decision | None, DecisionSource]
    ]:
        """The hooks' say on a call: a result that replaces running it, or the (rewritten) call and a decision."""
        decision: Decision | None = None
        source: DecisionSource = "policy"
        for hook in self.spec.hooks:
            outcome = yield from self.hook(hook.before_tool_call(ctx, call))
            if isinstance(outcome, ToolResult):
                return outcome
            if isinstance(outcome, ToolCall):
                call = outcome
                ctx = ctx.for_call(call, ctx.retry)
            elif isinstance(outcome, (Allow, Deny, Ask)):
                decision, source = outcome, "hook"
        return call, ctx, decision, source

    def ask(self, turn: _Turn, asks: _Waiting, to_run: _ToRun) -> Generator[Effect | AgentEvent, Any, _Waiting]:
        """Ask the driver's approver about ``asks``; returns those still undecided (the run pauses).

        Approved calls join ``to_run`` (in call order); denied ones get their result.
        """
        for _, request, _ in asks:
            yield ApprovalRequested(request)
        answers = yield AskApproval([request for _, request, _ in asks])
        if isinstance(answers, Interrupted):
            answers = {}
        waiting = []
        for i, request, inv in asks:
            answer = answers.get(request.call_id)
            if answer is None or isinstance(answer, Ask):
                waiting.append((i, request, inv))
                continue
            yield ApprovalDecided(request.call, answer, "approver")
            if isinstance(answer, Deny):
                turn.results[i] = _denied(inv.call, answer)
            else:
                call = inv.call
                if answer.args is not None:
                    call = replace(call, args=dict(answer.args), raw_args=None)
                to_run.append((i, replace(inv, call=call, ctx=inv.ctx.for_call(call, inv.ctx.retry, approved=True))))
        to_run.sort(key=lambda item: item[0])
        return waiting

    def ask_late(self, turn: _Turn) -> Generator[Effect | AgentEvent, Any, _Waiting]:
        """Ask about calls that raised ``ApprovalRequired`` while running; run the approved ones again.

        Returns those still undecided.
        """
        late = [(i, ApprovalRequest(inv.call, reason), inv) for i, inv, reason in turn.late]
        turn.late = []
        if not late:
            return []
        rerun: _ToRun = []
        still = yield from self.ask(turn, late, rerun)
        yield from self.execute(turn, rerun)
        return still

    def execute(self, turn: _Turn, to_run: _ToRun) -> Generator[Effect | AgentEvent, Any, None]:
        """Run ``to_run`` concurrently through the driver; results land in ``turn.results`` in call order."""
        if not to_run:
            return
        for _, inv in to_run:
            yield ToolCallStarted(inv.call)
        yield StartTools([inv for _, inv in to_run])
        for n, (i, inv) in enumerate(to_run):
            if self.interrupted:
                turn.results[i] = interrupted_result(inv.call)
                continue
            outcome = yield AwaitTool(n)
            if isinstance(outcome, Interrupted) and outcome.steered:  # a sent message: the run goes on with it
                if not self.preempted:  # calls already finished keep their results (the driver answers at once)
                    self.preempted = True
                    self.count_abandoned((yield AbandonTools()))
                turn.results[i] = _steered_result(inv.call)
                continue
            if isinstance(outcome, Interrupted):
                self.interrupted = True
                self.count_abandoned((yield AbandonTools()))
                turn.results[i] = interrupted_result(inv.call)
                continue
            assert isinstance(outcome, ToolOutcome)
            if isinstance(outcome, SubAgentOutcome):
                self.count_child(outcome, inv)
                if outcome.paused is not None:  # the run pauses with it (see pause)
                    continue
            if outcome.kind == "approval" and not inv.ctx.approved:
                turn.late.append((i, inv, outcome.result.text))
                continue
            result = outcome.result
            for hook in self.spec.hooks:
                changed = yield from self.hook(hook.after_tool_call(inv.ctx, inv.call, result))
                if changed is not None:
                    result = changed
            turn.results[i] = result
            turn.record(inv.tool, outcome, result)
            yield ToolCallFinished(inv.call, result, outcome.duration)

    def count_child(self, outcome: SubAgentOutcome, inv: ToolInvocation) -> None:
        """Add what a sub-agent's run used to this run's totals."""
        self.add_used(self.subagents.record(outcome, inv))

    def count_abandoned(self, used: Any) -> None:
        """Add what the sub-agents of an abandoned batch used until then (those not counted yet)."""
        for call_id, tally in (used or {}).items():
            self.add_used(self.subagents.count(call_id, tally))

    def add_used(self, used: tuple[Usage, CostValue] | None) -> None:
        """Add a sub-agent's usage and cost to the run's totals."""
        if used is not None:
            self.usage = self.usage + used[0]
            self.cost = add_costs(self.cost, used[1])

    def pause(self, turn: _Turn, waiting: _Waiting) -> PausedRun:
        """The paused run: calls wait for a person (its own, and its paused sub-agents'); the results so far."""
        by_agent = self.subagents.by_agent(self.usage, self.cost)
        return PausedRun(
            messages=list(self.history),
            pending=[req for _, req, _ in waiting] + self.subagents.pending({c.id: c for c in turn.calls}),
            completed=[r for r in turn.results if r is not None],
            usage=self.usage,
            run_id=self.run_id,
            steps=self.step,
            cost=resolve_cost(self.cost),
            children=dict(self.subagents.paused),
            usage_by_agent={k: u for k, (u, _) in by_agent.items()} if len(by_agent) > 1 else {},
            cost_by_agent={k: resolve_cost(c) for k, (_, c) in by_agent.items()} if len(by_agent) > 1 else {},
            tool_calls=self.tool_calls - len(turn.calls),  # the resumed run counts this turn's calls again
            seconds=self.spec.clock() - self.started,
        )

    def close(self, turn: _Turn) -> None:
        """Add the turn's results to the history; settle the retry budgets (raising when one ran out)."""
        self.add(Message("tool", turn.filled()))
        for call, result in zip(turn.calls, turn.results, strict=True):
            if result is not None and not result.is_error:
                self.answered[call_key(call)] = result
        if self.interrupted:
            raise self.run_error(RunCancelled, "the run was cancelled during tool calls")
        self.preempted = False
        exhausted = self.count_failures(turn)
        if exhausted is not None:
            raise self.run_error(
                ToolRetriesExceeded,
                exhausted + ". Raise the tool's retries= or fix the tool; `.messages` has the history.",
            )
        if self.unknown_turns > self.spec.tool_retries + 1:
            raise self.run_error(
                UnexpectedModelBehavior,
                f"the model called unknown tools in {self.unknown_turns} model turns in a row; "
                f"available: {', '.join(sorted(self.tools))}",
            )

    def count_failures(self, turn: _Turn) -> str | None:
        """Count this turn against the retry budgets; says which budget ran out, if any.

        A tool all of whose calls in the turn failed gets one more failing turn; a tool with a call that
        succeeded starts again from zero. Unknown tools count the same way.
        """
        exhausted = None
        for name in turn.succeeded:
            self.tool_failures.pop(name, None)
        for name, (tool, result) in turn.failed.items():
            if name in turn.succeeded:
                continue
            count = self.tool_failures[name] = self.tool_failures.get(name, 0) + 1
            budget = tool.retries if tool.retries is not None else self.spec.tool_retries
            if count > budget and exhausted is None:
                how = "once" if count == 1 else f"{count} times in a row"
                turns = "one model turn" if count == 1 else f"{count} consecutive model turns"
                exhausted = f"tool {name!r} failed {how} (every call in {turns}): {result.text[:300]}"
        self.unknown_turns = self.unknown_turns + 1 if turn.unknown else 0
        return exhausted


def _steered_result(call: ToolCall) -> ToolResult:
    """The result of a call abandoned because the user sent a message with ``interrupt=True``."""
    text = "Interrupted: the user sent a new message before this tool call finished; it was stopped."
    return ToolResult(call.id, call.name, (Text(text),), is_error=True, interrupted=True)


def _denied(call: ToolCall, decision: Deny) -> ToolResult:
    return ToolResult(call.id, call.name, (Text(f"Denied: {decision.reason}"),), is_error=True)


def call_key(call: ToolCall) -> str:
    """What makes two calls the same call: the tool and its arguments."""
    return call.name + "\0" + (call.raw_args if call.raw_args is not None else json.dumps(call.args, sort_keys=True))


def short(exc: BaseException) -> str:
    """An error's text, cut to 2,000 characters."""
    text = str(exc)
    return text if len(text) < 2000 else text[:2000] + "..."
