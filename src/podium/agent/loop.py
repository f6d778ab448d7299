"""The agent loop, written once, with no I/O (sans-IO).

:func:`agent_loop` is a generator. It yields two kinds of values:

* **events** (:mod:`podium.agent.events`), which a driver passes on to the user, and
* **effects** (:class:`RequestModel`, :class:`StartTools`, :class:`AwaitTool`, :class:`AbandonTools`),
  which a driver performs and answers by ``send()``-ing the result back.

Drivers (:mod:`podium.agent.drivers`) perform effects synchronously (threads) or asynchronously
(tasks); a replay driver can answer them from a recording. Whatever the driver, the loop owns the
conversation: it decides what goes into the history and keeps it valid when a run is cancelled or a
provider fails (every tool call gets a result, interrupted ones marked), and it gives every tool call an id
unique in the conversation, so an approval given for one call (``approvals=`` with ``resume=``) can never
answer another.

Answers a driver sends: a ``ModelResponse`` for ``RequestModel``, ``None`` for ``StartTools`` and
``AbandonTools``, a ``ToolOutcome`` for ``AwaitTool``; :class:`Interrupted` for any effect once the
run is cancelled. A provider exception is thrown into the generator (``gen.throw``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeAlias

from podium.agent.approval import Allow, ApprovalPolicy, ApprovalRequest, Ask, Decision, Deny, PausedRun
from podium.agent.binding import bind, check_unique_ids, pending_approvals, unique_ids
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
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.tools.context import RunContext
from podium.tools.executor import ToolInvocation, ToolOutcome, interrupted_result, skipped_result
from podium.tools.tool import Tool
from podium.usage import Usage

__all__ = [
    "AbandonTools",
    "AskApproval",
    "AwaitTool",
    "Effect",
    "Interrupted",
    "LoopSpec",
    "RequestModel",
    "StartTools",
    "agent_loop",
]

logger = logging.getLogger("podium.agent")


# --------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class RequestModel:
    """Effect: send ``messages`` to the model; answer with its ``ModelResponse``."""

    step: int
    """1-based request number."""
    messages: list[Message]
    """The full prompt: instructions, history, new messages."""
    tools: list[ToolDefinition]
    """Tools offered to the model."""
    settings: ModelSettings
    """Settings for this request."""
    output: OutputSchema | None
    """Native structured output schema, if any."""


@dataclass(frozen=True, slots=True)
class StartTools:
    """Effect: start running these calls concurrently; answer ``None``."""

    invocations: list[ToolInvocation]
    """The calls to run, in call order."""


@dataclass(frozen=True, slots=True)
class AwaitTool:
    """Effect: wait for invocation ``index`` of the last ``StartTools``; answer its ``ToolOutcome``."""

    index: int
    """Position in the ``StartTools`` list."""


@dataclass(frozen=True, slots=True)
class AbandonTools:
    """Effect: the run is stopping; cancel whatever of the last ``StartTools`` still runs."""


@dataclass(frozen=True, slots=True)
class AskApproval:
    """Effect: ask the approver about these calls; answer ``{call_id: Decision}`` (missing = undecided)."""

    requests: list[ApprovalRequest]
    """The calls that need a decision."""


@dataclass(frozen=True, slots=True)
class Interrupted:
    """Answer to any effect once the run is cancelled."""

    partial: ModelResponse | None = None
    """What the model had streamed before the cancellation, if anything."""


Effect: TypeAlias = RequestModel | StartTools | AwaitTool | AbandonTools | AskApproval
LoopGen: TypeAlias = Generator["Effect | AgentEvent", Any, "RunResult[OutputT]"]


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
    tools: Mapping[str, Tool[..., Any]]
    """Tools by name."""
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
    """Failed calls in a row allowed per tool (a tool's own ``retries`` wins)."""
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
    repeated_calls: Literal["answer", "allow"] = "answer"
    """``answer``: a message that only repeats calls already answered in this run gets the earlier
    results and the next request goes out with tools off, so the model answers (tools can opt out with
    ``metadata={"repeatable": True}``). ``allow``: run them again."""


class _Run(Generic[OutputT]):
    """Mutable state of one run; the generator methods below are the loop."""

    def __init__(self, spec: LoopSpec[OutputT]) -> None:
        self.spec = spec
        self.run_id = spec.run_id or uuid.uuid4().hex
        self.history: list[Message] = list(spec.history)
        self.new: list[Message] = []
        self.usage = Usage()
        self.cost: float | None = 0.0
        self.step = 0
        self.tool_failures: dict[str, int] = {}
        self.output_failures = 0
        self.unknown_tool_failures = 0
        self.mode: OutputMode = spec.output.mode_for(spec.profile)
        self.interrupted = False
        self.announced = 0  # messages of self.new already reported by an event
        self.exhausted: str | None = None
        self.needs_approval: list[tuple[int, ToolInvocation, str]] = []
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

    def request(self) -> RequestModel:
        spec = self.spec
        messages: list[Message] = []
        instructions = spec.instructions
        if callable(instructions):
            instructions = instructions(self.ctx())
        if instructions:
            messages.append(Message.system(instructions))
        messages.extend(self.history)
        tools = [t.definition for t in spec.tools.values()]
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
        approvals = pending_approvals(spec.resume, spec.approvals, dangling)
        yield RunStarted(self.run_id)
        for hook in spec.hooks:
            hook.on_run_start(self.ctx())

        if dangling:  # resuming a paused run (or a history cut after a model turn)
            completed = spec.resume.completed if spec.resume is not None else ()
            outcome = yield from self.run_tools(dangling, completed, approvals)
            finished = yield from self.after_tools(outcome)
            if finished is not None:
                return finished

        while True:
            if self.step >= spec.max_steps:
                raise self.run_error(
                    MaxStepsExceeded,
                    f"the run made {self.step} model requests (max_steps={spec.max_steps}) without finishing; "
                    "raise max_steps or check why the model keeps calling tools. `.messages` has the history.",
                )
            self.step += 1
            effect = self.request()
            for hook in spec.hooks:
                hook.on_model_request(self.ctx(), effect.messages)
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
            if self.cost is not None:
                self.cost = None if response.cost is None else self.cost + response.cost
            self.add(response.to_message())
            self.announced = len(self.new)
            for hook in spec.hooks:
                hook.on_model_response(self.ctx(), response)
            yield ModelResponseFinished(self.step, response)

            calls = response.tool_calls
            if not calls:
                outcome = self.text_output(response)
                if outcome is not None:
                    result = self.finish(outcome[0])
                    for hook in spec.hooks:
                        hook.on_run_end(self.ctx(), result)
                    yield RunFinished(result)
                    return result
                continue
            if spec.repeated_calls == "answer" and self.all_repeated(calls):
                yield from self.answer_repeats(calls)
                continue
            outcome = yield from self.run_tools(calls)
            finished = yield from self.after_tools(outcome)
            if finished is not None:
                return finished

    def all_repeated(self, calls: list[ToolCall]) -> bool:
        """Whether every call repeats one already answered in this run (same tool, same arguments)."""
        for call in calls:
            tool = self.spec.tools.get(call.name)
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

    def after_tools(
        self, outcome: tuple[OutputT] | PausedRun | None
    ) -> Generator[Effect | AgentEvent, Any, RunResult[OutputT] | None]:
        """The run's result when a tool batch ended it (final output or pause), else ``None``."""
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
                hook.on_run_end(self.ctx(), result)
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
        spec = self.spec
        results: list[ToolResult | None] = [None] * len(calls)
        done = {r.call_id: r for r in completed}
        to_run: list[tuple[int, ToolInvocation]] = []
        asks: list[tuple[int, ApprovalRequest, ToolInvocation]] = []
        final: tuple[OutputT] | None = None
        final_seen = False
        base_ctx = self.ctx()
        for i, call in enumerate(calls):
            if call.id in done:
                results[i] = done[call.id]
                continue
            if call.name == FINAL_RESULT_TOOL and self.mode == "tool":
                if final_seen:
                    results[i] = skipped_result(call, "Only the first final_result call is used.")
                    continue
                final_seen = True
                try:
                    if call.raw_args is not None:
                        raise ValueError(f"arguments are not a JSON object: {call.raw_args[:200]!r}")
                    final = (spec.output.validate_args(call.args),)
                    results[i] = ToolResult(call.id, call.name, (Text("Final result accepted."),))
                except ValueError as exc:
                    self.output_failures += 1
                    results[i] = ToolResult(
                        call.id, call.name, (Text(f"Invalid final result: {_short(exc)}"),), is_error=True
                    )
                    if self.output_failures > spec.output_retries:
                        self.add(Message("tool", _fill(results, calls)))
                        raise self.run_error(
                            OutputValidationError,
                            f"the model's final_result did not validate after {self.output_failures} attempts: {exc}",
                        ) from exc
                continue
            tool = spec.tools.get(call.name)
            if tool is None:
                self.unknown_tool_failures += 1
                names = ", ".join(sorted(spec.tools)) or "(none)"
                results[i] = skipped_result(call, f"Unknown tool {call.name!r}. Available tools: {names}.")
                continue
            original = call
            ctx = base_ctx.for_call(call, self.tool_failures.get(call.name, 0))
            decision: Decision | None = None
            source: DecisionSource = "policy"
            short_circuit: ToolResult | None = None
            for hook in spec.hooks:
                outcome = hook.before_tool_call(ctx, call)
                if isinstance(outcome, ToolResult):
                    short_circuit = outcome
                    break
                if isinstance(outcome, ToolCall):
                    call = outcome
                    ctx = ctx.for_call(call, ctx.retry)
                elif isinstance(outcome, (Allow, Deny, Ask)):
                    decision, source = outcome, "hook"
            if short_circuit is not None:
                results[i] = short_circuit
                continue
            if approvals is not None and call.id in approvals:
                request, decision = approvals[call.id]
                source = "user"
                if isinstance(decision, Allow):
                    call = bind(call, tool, request, spec.policy)
            elif decision is None and spec.policy is not None:
                decision = spec.policy.decide(call, tool)
            if decision is not None and (spec.policy is not None or source != "policy"):
                yield ApprovalDecided(original, decision, source)
            if isinstance(decision, Deny):
                results[i] = _denied(call, decision)
                continue
            if isinstance(decision, Allow):
                if decision.args is not None:
                    call = replace(call, args=dict(decision.args), raw_args=None)
                # a person's "yes" also answers an ApprovalRequired the tool may raise
                ctx = ctx.for_call(call, ctx.retry, approved=source == "user")
            invocation = ToolInvocation(tool, call, ctx)
            if isinstance(decision, Ask):
                asks.append((i, ApprovalRequest(call, decision.reason), invocation))
            else:
                to_run.append((i, invocation))

        if final is not None:
            # The answer is in: other calls of this message are not run (their results say so).
            for i, inv in to_run + [(i, inv) for i, _, inv in asks]:
                results[i] = skipped_result(inv.call, "Not run: the final result was given in the same message.")
            to_run, asks = [], []

        waiting: list[tuple[int, ApprovalRequest, ToolInvocation]] = []
        if asks:
            waiting = yield from self.ask(asks, results, to_run)
        yield from self.execute(to_run, results, calls)
        # Tools that raised ApprovalRequired while running: ask, then run again with approval.
        late = [(i, ApprovalRequest(inv.call, reason), inv) for i, inv, reason in self.needs_approval]
        self.needs_approval = []
        if late:
            rerun: list[tuple[int, ToolInvocation]] = []
            still = yield from self.ask(late, results, rerun)
            rerun = [
                (i, replace(inv, ctx=inv.ctx.for_call(inv.call, inv.ctx.retry, approved=True))) for i, inv in rerun
            ]
            yield from self.execute(rerun, results, calls)
            waiting += [
                (i, req, replace(inv, ctx=inv.ctx.for_call(inv.call, inv.ctx.retry, approved=True)))
                for i, req, inv in still
            ]
        if waiting:
            paused = PausedRun(
                messages=list(self.history),
                pending=[req for _, req, _ in waiting],
                completed=[r for r in results if r is not None],
                usage=self.usage,
                run_id=self.run_id,
                steps=self.step,
                cost=self.cost,
            )
            return paused

        self.add(Message("tool", _fill(results, calls)))
        for call, result in zip(calls, results, strict=True):
            if result is not None and not result.is_error:
                self.answered[_call_key(call)] = result
        if self.interrupted:
            raise self.run_error(RunCancelled, "the run was cancelled during tool calls")
        if self.exhausted is not None:
            raise self.run_error(
                ToolRetriesExceeded,
                self.exhausted + ". Raise the tool's retries= or fix the tool; `.messages` has the history.",
            )
        if self.unknown_tool_failures > spec.tool_retries + 1:
            raise self.run_error(
                UnexpectedModelBehavior,
                f"the model called unknown tools {self.unknown_tool_failures} times; "
                f"available: {', '.join(sorted(spec.tools))}",
            )
        return final

    def ask(
        self,
        asks: list[tuple[int, ApprovalRequest, ToolInvocation]],
        results: list[ToolResult | None],
        to_run: list[tuple[int, ToolInvocation]],
    ) -> Generator[Effect | AgentEvent, Any, list[tuple[int, ApprovalRequest, ToolInvocation]]]:
        """Ask the driver's approver about ``asks``; returns those still undecided (the run pauses)."""
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
                results[i] = _denied(inv.call, answer)
            else:
                call = inv.call
                if answer.args is not None:
                    call = replace(call, args=dict(answer.args), raw_args=None)
                to_run.append((i, replace(inv, call=call, ctx=inv.ctx.for_call(call, inv.ctx.retry, approved=True))))
        to_run.sort(key=lambda item: item[0])
        return waiting

    def execute(
        self, to_run: list[tuple[int, ToolInvocation]], results: list[ToolResult | None], calls: list[ToolCall]
    ) -> Generator[Effect | AgentEvent, Any, None]:
        """Run ``to_run`` concurrently through the driver; results land in ``results`` in call order."""
        spec = self.spec
        if not to_run:
            return
        for _, inv in to_run:
            yield ToolCallStarted(inv.call)
        yield StartTools([inv for _, inv in to_run])
        for n, (i, inv) in enumerate(to_run):
            if self.interrupted:
                results[i] = interrupted_result(inv.call)
                continue
            outcome = yield AwaitTool(n)
            if isinstance(outcome, Interrupted):
                self.interrupted = True
                yield AbandonTools()
                results[i] = interrupted_result(inv.call)
                continue
            assert isinstance(outcome, ToolOutcome)
            if outcome.kind == "approval" and not inv.ctx.approved:
                self.needs_approval.append((i, inv, outcome.result.text))
                continue
            result = outcome.result
            for hook in spec.hooks:
                changed = hook.after_tool_call(inv.ctx, inv.call, result)
                if changed is not None:
                    result = changed
            results[i] = result
            name = inv.tool.name
            if outcome.failed:
                self.tool_failures[name] = self.tool_failures.get(name, 0) + 1
                budget = inv.tool.retries if inv.tool.retries is not None else spec.tool_retries
                if self.tool_failures[name] > budget and self.exhausted is None:
                    self.exhausted = (
                        f"tool {name!r} failed {self.tool_failures[name]} times in a row: {result.text[:300]}"
                    )
            else:
                self.tool_failures.pop(name, None)
            yield ToolCallFinished(inv.call, result, outcome.duration)


def _fill(results: list[ToolResult | None], calls: list[ToolCall]) -> tuple[ToolResult, ...]:
    return tuple(r if r is not None else skipped_result(c, "Not run.") for r, c in zip(results, calls, strict=True))


def _denied(call: ToolCall, decision: Deny) -> ToolResult:
    return ToolResult(call.id, call.name, (Text(f"Denied: {decision.reason}"),), is_error=True)


def _call_key(call: ToolCall) -> str:
    return call.name + "\0" + (call.raw_args if call.raw_args is not None else json.dumps(call.args, sort_keys=True))


def _dangling_calls(history: Sequence[Message]) -> list[ToolCall]:
    """Tool calls of the last message when nothing answered them yet."""
    if history and history[-1].role == "assistant":
        return history[-1].tool_calls
    return []


DecisionSource: TypeAlias = Literal["policy", "hook", "user", "approver"]


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 2000 else text[:2000] + "..."


def agent_loop(spec: LoopSpec[OutputT]) -> Generator[Effect | AgentEvent, Any, RunResult[OutputT]]:
    """The loop for one run as a generator (see the module docstring for the protocol)."""
    return _Run(spec).run()


def summarize(messages: Sequence[Message]) -> str:
    """A one-line-per-message summary, handy in logs and errors."""
    lines = []
    for m in messages:
        kinds = ",".join(type(p).__name__ for p in m.parts)
        lines.append(f"{m.role}: {kinds} {json.dumps(m.text[:60])}")
    return "\n".join(lines)
