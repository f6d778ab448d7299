"""The agent loop, written once, with no I/O (sans-IO).

:func:`agent_loop` is a generator. It yields two kinds of values:

* **events** (:mod:`podium.agent.events`), which a driver passes on to the user, and
* **effects** (:mod:`podium.agent.effects`: :class:`RequestModel`, :class:`StartTools`, :class:`AwaitTool`,
  :class:`AbandonTools`, :class:`AskApproval`, :class:`RunAwaitable`), which a driver performs and answers
  by ``send()``-ing the result back.

Drivers (:mod:`podium.agent.drivers`) perform effects synchronously (threads) or asynchronously
(tasks); a replay driver can answer them from a recording. Whatever the driver, the loop owns the
conversation: it decides what goes into the history and keeps it valid when a run is cancelled or a
provider fails (every tool call gets a result, interrupted ones marked), and it gives every tool call an id
unique in the conversation, so an approval given for one call (``approvals=`` with ``resume=``) can never
answer another.

Answers a driver sends: a ``ModelResponse`` for ``RequestModel``, ``None`` for ``StartTools`` and
``AbandonTools``, a ``ToolOutcome`` for ``AwaitTool``, ``{call_id: Decision}`` for ``AskApproval``, the
awaited value for ``RunAwaitable``; :class:`Interrupted` for a model request or a tool once the run is
cancelled. A provider exception, or one raised while awaiting, is thrown into the generator
(``gen.throw``).

Retry budgets count model turns: a tool's count goes up by one for a turn in which every call of it
failed, and back to zero in a turn where one succeeded; the run stops with ``ToolRetriesExceeded`` when
the count passes the tool's budget. Calls to unknown tools count the same way, per turn.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias

from podium.agent.approval import Allow, ApprovalRequest, Ask, Decision, Deny, PausedRun
from podium.agent.binding import bind, check_unique_ids, pending_approvals, unique_ids
from podium.agent.effects import (
    AbandonTools,
    AskApproval,
    AwaitTool,
    Effect,
    Interrupted,
    LoopGen,
    RequestModel,
    RunAwaitable,
    StartTools,
)
from podium.agent.events import (
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    ModelRequestStarted,
    ModelResponseFinished,
    RunFinished,
    RunPaused,
    RunStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from podium.agent.hooks import AgentHooks
from podium.agent.output import FINAL_RESULT_TOOL, OutputHandler, OutputMode
from podium.agent.result import OutputT, RunResult
from podium.exceptions import (
    AgentRunError,
    BudgetExceeded,
    MaxStepsExceeded,
    OutputValidationError,
    PodiumError,
    RunCancelled,
    ToolRetriesExceeded,
    UnexpectedModelBehavior,
    UserError,
)
from podium.messages import Message, ModelResponse, Part, Text, ToolCall, ToolResult
from podium.providers.profiles import ModelProfile
from podium.settings import ModelSettings, OutputSchema
from podium.tools.context import RunContext
from podium.tools.executor import ToolInvocation, ToolOutcome, interrupted_result, skipped_result
from podium.tools.tool import Tool
from podium.usage import CostValue, Usage, add_costs, resolve_cost, stored_cost

if TYPE_CHECKING:
    from podium.agent.budget import Budget
    from podium.agent.rules import ApprovalPolicy

__all__ = [
    "AbandonTools",
    "AskApproval",
    "AwaitTool",
    "Effect",
    "Interrupted",
    "LoopGen",
    "LoopSpec",
    "RequestModel",
    "RunAwaitable",
    "StartTools",
    "agent_loop",
]


# --------------------------------------------------------------------------- the loop


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
    repeated_calls: Literal["answer", "allow"] = "answer"
    """``answer``: a message that only repeats calls already answered in this run gets the earlier
    results and the next request goes out with tools off, so the model answers (tools can opt out with
    ``metadata={"repeatable": True}``). ``allow``: run them again."""


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


class _Run(Generic[OutputT]):
    """Mutable state of one run; the generator methods below are the loop."""

    def __init__(self, spec: LoopSpec[OutputT]) -> None:
        self.spec = spec
        self.run_id = spec.run_id or os.urandom(16).hex()
        self.tools: Mapping[str, Tool[..., Any]] = spec.tools if isinstance(spec.tools, Mapping) else {}
        self.history: list[Message] = list(spec.history)
        self.new: list[Message] = []
        self.usage = Usage()
        self.cost: CostValue = 0.0  # deferred while no one reads it (see podium.usage.DeferredCost)
        self.step = 0
        self.started = time.monotonic()
        self.tool_calls = 0
        self.tool_failures: dict[str, int] = {}  # tool name -> failing turns in a row
        self.unknown_turns = 0  # turns in a row with a call to an unknown tool
        self.output_failures = 0
        self.mode: OutputMode = spec.output.mode_for(spec.profile)
        self.interrupted = False
        self.announced = 0  # messages of self.new already reported by an event
        self.answered: dict[str, ToolResult] = {}
        self.tools_off = False
        self.call_ids: set[str] = {c.id for m in self.history for c in m.tool_calls}
        self.call_ids.update(r.call_id for m in self.history for r in m.tool_results)
        if spec.resume is not None:
            self.run_id = spec.resume.run_id or self.run_id
            self.usage = spec.resume.usage
            self.step = spec.resume.steps
            self.cost = spec.resume.cost

    # -- helpers

    def ctx(self) -> RunContext[Any]:
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
        self.history.append(message)
        self.new.append(message)

    def fail(self, exc: PodiumError) -> PodiumError:
        """Attach the history (valid to continue from) to an error passing through the loop."""
        exc.messages = list(self.history)
        if isinstance(exc, AgentRunError):
            exc.new_messages = list(self.new)
        return exc

    def run_error(self, cls: type[AgentRunError], message: str) -> AgentRunError:
        return cls(message, messages=self.history, new_messages=self.new, usage=self.usage)

    def hook(self, value: Any) -> Generator[Effect | AgentEvent, Any, Any]:
        """What a hook returned; a hook written as a coroutine is awaited by the driver."""
        if inspect.isawaitable(value):
            value = yield RunAwaitable(value)
        return value

    def request(self) -> RequestModel:
        spec = self.spec
        messages: list[Message] = []
        instructions = spec.instructions
        if callable(instructions):
            instructions = instructions(self.ctx())
        if instructions:
            messages.append(Message.system(instructions))
        messages.extend(self.history)
        tools = [t.definition for t in self.tools.values()]
        settings = spec.settings
        if self.tools_off:  # the model repeated a call it already has the result of: ask for the answer
            self.tools_off = False
            tools = []
            settings = replace(settings, tool_choice="none" if self.mode != "tool" else None)
        output: OutputSchema | None = None
        if self.mode == "tool":
            tools.append(spec.output.tool_definition())
            if settings.tool_choice is None:
                settings = replace(settings, tool_choice="required")
        elif self.mode == "native":
            output = spec.output.schema
        return RequestModel(self.step, messages, tools, settings, output)

    def finish(self, output: OutputT) -> RunResult[OutputT]:
        return RunResult(
            output=output,
            messages=self.history,
            new_messages=self.new,
            usage=self.usage,
            cost=self.cost,
            run_id=self.run_id,
            steps=self.step,
        )

    # -- the loop

    def run(self) -> Generator[Effect | AgentEvent, Any, RunResult[OutputT]]:
        spec = self.spec
        dangling = self.begin()
        approvals = pending_approvals(spec.resume, spec.approvals, dangling)
        if not isinstance(spec.tools, Mapping):
            self.tools = spec.tools(self.ctx())
        yield RunStarted(self.run_id)
        for hook in spec.hooks:
            yield from self.hook(hook.on_run_start(self.ctx()))
        if dangling:  # resuming a paused run (or a history cut after a model turn)
            completed = spec.resume.completed if spec.resume is not None else ()
            outcome = yield from self.run_tools(dangling, completed, approvals)
            finished = yield from self.conclude(outcome)
            if finished is not None:
                return finished
        while True:
            finished = yield from self.model_turn()
            if finished is not None:
                return finished

    def begin(self) -> list[ToolCall]:
        """Check what the run starts from and add the prompt; returns the history's unanswered calls."""
        spec = self.spec
        dangling = _dangling_calls(self.history)
        if spec.approvals and spec.resume is None:
            pending_approvals(None, spec.approvals, dangling)  # raises: approvals need the paused run
        if spec.prompt is not None:
            if dangling:
                raise UserError(
                    "the history ends with tool calls that have no results (a paused run?); resume it with "
                    "agent.run(resume=..., approvals=...) or run(None, message_history=...) before a new prompt"
                )
            self.add(Message("user", tuple(spec.prompt)))
        elif not self.history:
            raise self.run_error(UnexpectedModelBehavior, "nothing to run: give a prompt or a message history")
        if dangling:
            check_unique_ids(dangling)
        return dangling

    def model_turn(self) -> Generator[Effect | AgentEvent, Any, RunResult[OutputT] | None]:
        """One request and what follows from its answer; the run's result when it ends the run."""
        response = yield from self.ask_model()
        calls = response.tool_calls
        if not calls:
            return (yield from self.conclude(self.text_output(response)))
        if self.spec.repeated_calls == "answer" and self.all_repeated(calls):
            yield from self.answer_repeats(calls)
            return None
        outcome = yield from self.run_tools(calls)
        return (yield from self.conclude(outcome))

    def over_budget(self, name: str, limit: float, reached: float, what: str) -> BudgetExceeded:
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
            ("max_seconds", budget.max_seconds, time.monotonic() - self.started, "seconds since the start"),
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

    def ask_model(self) -> Generator[Effect | AgentEvent, Any, ModelResponse]:
        """Send the next request; returns the response, already in the history."""
        spec = self.spec
        self.check_budget()
        if self.step >= spec.max_steps:
            raise self.run_error(
                MaxStepsExceeded,
                f"the run made {self.step} model requests (max_steps={spec.max_steps}) without finishing; "
                "raise max_steps or check why the model keeps calling tools. `.messages` has the history.",
            )
        self.step += 1
        effect = self.request()
        for hook in spec.hooks:
            yield from self.hook(hook.on_model_request(self.ctx(), effect.messages))
        appended = tuple(self.new[self.announced :])
        self.announced = len(self.new)
        yield ModelRequestStarted(self.step, appended)
        try:
            reply = yield effect
        except PodiumError as exc:
            raise self.fail(exc) from None
        if isinstance(reply, Interrupted):
            if reply.partial is not None and reply.partial.text:
                self.add(unique_ids(reply.partial, self.call_ids).to_message())
            raise self.run_error(RunCancelled, "the run was cancelled")
        response: ModelResponse = unique_ids(reply, self.call_ids)
        self.usage = self.usage + response.usage
        self.cost = add_costs(self.cost, stored_cost(response))
        self.add(response.to_message())
        self.announced = len(self.new)
        for hook in spec.hooks:
            yield from self.hook(hook.on_model_response(self.ctx(), response))
        yield ModelResponseFinished(self.step, response)
        return response

    def all_repeated(self, calls: list[ToolCall]) -> bool:
        """Whether every call repeats one already answered in this run (same tool, same arguments)."""
        for call in calls:
            tool = self.tools.get(call.name)
            if tool is None or tool.metadata.get("repeatable") or _call_key(call) not in self.answered:
                return False
        return True

    def answer_repeats(self, calls: list[ToolCall]) -> Generator[Effect | AgentEvent, Any, None]:
        """Answer repeated calls with their earlier results and turn tools off for the next request.

        Small models often call the same tool again after getting its result instead of answering;
        this ends such loops without running the tool twice.
        """
        results = []
        for call in calls:
            previous = self.answered[_call_key(call)]
            note = Text("\n(Same call as before, not run again; its result is above. Answer the user now.)")
            result = ToolResult(call.id, call.name, (*previous.content, note), is_error=previous.is_error)
            yield ToolCallStarted(call)
            yield ToolCallFinished(call, result, 0.0)
            results.append(result)
        self.add(Message("tool", tuple(results)))
        self.tools_off = True

    def conclude(
        self, outcome: tuple[OutputT] | PausedRun | None
    ) -> Generator[Effect | AgentEvent, Any, RunResult[OutputT] | None]:
        """The run's result when ``outcome`` ends it (a final output, or a pause), else ``None``."""
        if isinstance(outcome, PausedRun):
            yield RunPaused(outcome)
            return RunResult(
                output=None,
                messages=self.history,
                new_messages=self.new,
                usage=self.usage,
                cost=self.cost,
                run_id=self.run_id,
                steps=self.step,
                status="paused",
                paused=outcome,
            )
        if outcome is not None:
            result = self.finish(outcome[0])
            for hook in self.spec.hooks:
                yield from self.hook(hook.on_run_end(self.ctx(), result))
            yield RunFinished(result)
            return result
        return None

    def text_output(self, response: ModelResponse) -> tuple[OutputT] | None:
        """The output from a response without tool calls, or ``None`` after queueing a retry."""
        handler = self.spec.output
        text = response.text
        if handler.is_text:
            return (handler.validate_text(text),)
        try:
            return (handler.validate_text(text),)
        except ValueError as exc:  # includes pydantic ValidationError and JSONDecodeError
            self.output_failures += 1
            if self.output_failures > self.spec.output_retries:
                raise self.run_error(
                    OutputValidationError,
                    f"the model's output did not validate after {self.output_failures} attempts: {exc}",
                ) from exc
            if self.mode == "tool":
                hint = f"Call the `{FINAL_RESULT_TOOL}` tool with the final answer."
            else:
                hint = "Answer again with only a JSON object that matches the schema."
            self.add(Message.user(f"Your answer could not be used: {_short(exc)}\n{hint}"))
            return None

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
        if waiting:
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
            text = f"Invalid final result: {_short(exc)}"
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
        invocation = ToolInvocation(tool, call, ctx)
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
            if isinstance(outcome, Interrupted):
                self.interrupted = True
                yield AbandonTools()
                turn.results[i] = interrupted_result(inv.call)
                continue
            assert isinstance(outcome, ToolOutcome)
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

    def pause(self, turn: _Turn, waiting: _Waiting) -> PausedRun:
        """The paused run: calls wait for a person; the results so far are kept with it."""
        return PausedRun(
            messages=list(self.history),
            pending=[req for _, req, _ in waiting],
            completed=[r for r in turn.results if r is not None],
            usage=self.usage,
            run_id=self.run_id,
            steps=self.step,
            cost=resolve_cost(self.cost),
        )

    def close(self, turn: _Turn) -> None:
        """Add the turn's results to the history; settle the retry budgets (raising when one ran out)."""
        self.add(Message("tool", turn.filled()))
        for call, result in zip(turn.calls, turn.results, strict=True):
            if result is not None and not result.is_error:
                self.answered[_call_key(call)] = result
        if self.interrupted:
            raise self.run_error(RunCancelled, "the run was cancelled during tool calls")
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


def _denied(call: ToolCall, decision: Deny) -> ToolResult:
    return ToolResult(call.id, call.name, (Text(f"Denied: {decision.reason}"),), is_error=True)


def _call_key(call: ToolCall) -> str:
    return call.name + "\0" + (call.raw_args if call.raw_args is not None else json.dumps(call.args, sort_keys=True))


def _dangling_calls(history: Sequence[Message]) -> list[ToolCall]:
    """Tool calls of the last message when nothing answered them yet."""
    if history and history[-1].role == "assistant":
        return history[-1].tool_calls
    return []


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 2000 else text[:2000] + "..."


def agent_loop(spec: LoopSpec[OutputT]) -> Generator[Effect | AgentEvent, Any, RunResult[OutputT]]:
    """The loop for one run as a generator (see the module docstring for the protocol)."""
    return _Run(spec).run()
