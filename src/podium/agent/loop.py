"""The agent loop, written once, with no I/O (sans-IO).

:func:`agent_loop` is a generator. It yields two kinds of values:

* **events** (:mod:`podium.agent.events`), which a driver passes on to the user, and
* **effects** (:mod:`podium.agent.effects`: :class:`RequestModel`, :class:`StartTools`, :class:`AwaitTool`,
  :class:`AbandonTools`, :class:`AskApproval`, :class:`RunAwaitable`, :class:`TakeMessages`), which a driver
  performs and answers by ``send()``-ing the result back.

Drivers (:mod:`podium.agent.drivers`) perform effects synchronously (threads) or asynchronously
(tasks); a replay driver can answer them from a recording. Whatever the driver, the loop owns the
conversation: it decides what goes into the history and keeps it valid when a run is cancelled or a
provider fails (every tool call gets a result, interrupted ones marked), and it gives every tool call an id
unique in the conversation, so an approval given for one call (``approvals=`` with ``resume=``) can never
answer another.

Answers a driver sends: a ``ModelResponse`` for ``RequestModel``, ``None`` for ``StartTools`` and
``AbandonTools`` (for a batch with sub-agents, what they used), a ``ToolOutcome`` for ``AwaitTool``,
``{call_id: Decision}`` for ``AskApproval``, the
awaited value for ``RunAwaitable``, the user messages sent into the run for ``TakeMessages`` (steering, see
:mod:`podium.agent.inbox`); :class:`Interrupted` for a model request or a tool once the run is cancelled, or
``Interrupted(steered=True)`` when a message sent with ``interrupt=True`` stops the wait (the run goes on).
A provider exception, or one raised while awaiting, is thrown into the generator (``gen.throw``).

Retry budgets count model turns: a tool's count goes up by one for a turn in which every call of it
failed, and back to zero in a turn where one succeeded; the run stops with ``ToolRetriesExceeded`` when
the count passes the tool's budget. Calls to unknown tools count the same way, per turn.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from podium.agent.approval import PausedRun
from podium.agent.binding import check_unique_ids, pending_approvals
from podium.agent.compaction import (
    Origins,
    Strategy,
    SummaryRequest,
    compaction_record,
    with_cache_points,
)
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
    TakeMessages,
)
from podium.agent.events import (
    AgentEvent,
    ContextCompacted,
    MessageDelivered,
    ModelRequestStarted,
    ModelResponseFinished,
    RunFinished,
    RunPaused,
    RunStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from podium.agent.output import FINAL_RESULT_TOOL
from podium.agent.result import OutputT, RunResult
from podium.agent.spec import LoopSpec
from podium.agent.turns import RunState, call_key, short
from podium.exceptions import (
    ContextWindowExceeded,
    MaxStepsExceeded,
    OutputValidationError,
    PodiumError,
    RunCancelled,
    UnexpectedModelBehavior,
    UserError,
)
from podium.messages import Message, ModelResponse, Text, ToolCall, ToolResult
from podium.providers.base import Model
from podium.settings import ModelSettings, OutputSchema
from podium.usage import CostValue, Usage, add_costs, resolve_cost, stored_cost

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
    "TakeMessages",
    "agent_loop",
    "compaction_loop",
]

# --------------------------------------------------------------------------- the loop

_TAKE = TakeMessages()
_TAKE_FINAL = TakeMessages(final=True)


class _Run(RunState[OutputT]):
    """One run; the generator methods below are the loop (the tool-call side is in :class:`RunState`)."""

    def request(self) -> RequestModel:
        spec = self.spec
        messages: list[Message] = []
        instructions = spec.instructions
        if callable(instructions):
            instructions = instructions(self.ctx())
        if instructions:
            messages.append(Message.system(instructions))
        messages.extend(self.window.view(self.history))
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
            agents=self.subagents.by_agent(self.usage, self.cost),
            requests=self.window.requests,
        )

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
        if response is None:  # a sent message interrupted the answer: the next request has it
            return None
        calls = response.tool_calls
        if not calls:
            return (yield from self.conclude(self.text_output(response)))
        if self.spec.repeated_calls == "answer" and self.all_repeated(calls):
            yield from self.answer_repeats(calls)
            return None
        outcome = yield from self.run_tools(calls)
        changed = getattr(self.spec.tools, "changed", None)
        if changed is not None and changed():  # e.g. an MCP server's tools/list_changed: list them again
            self.tools = self.spec.tools(self.ctx())  # type: ignore[operator]
        return (yield from self.conclude(outcome))

    def ask_model(self) -> Generator[Effect | AgentEvent, Any, ModelResponse | None]:
        """Send the next request (after delivering sent messages); returns the response, already in the history.

        ``None`` when a message sent with ``interrupt=True`` cut the request short.
        """
        spec = self.spec
        sent = yield _TAKE
        if sent or self.queued:
            yield from self.deliver(sent)
        self.check_budget()
        if self.step >= spec.max_steps:
            raise self.run_error(
                MaxStepsExceeded,
                f"the run made {self.step} model requests (max_steps={spec.max_steps}) without finishing; "
                "raise max_steps or check why the model keeps calling tools. `.messages` has the history.",
            )
        self.step += 1
        effect = yield from self.prepare()
        recovered = False
        while True:
            for hook in spec.hooks:
                yield from self.hook(hook.on_model_request(self.ctx(), effect.messages))
            appended = tuple(self.new[self.announced :])
            self.announced = len(self.new)
            yield ModelRequestStarted(self.step, appended)
            try:
                reply = yield effect
                break
            except ContextWindowExceeded as exc:  # the count was too low: compact deeper, try once more
                if recovered or self.spec.compaction is None or self.window.window is None:
                    raise self.fail(exc) from None
                recovered = True
                self.window.calibration.ratio *= 1.3
                effect = yield from self.prepare(deeper=exc)
            except PodiumError as exc:
                raise self.fail(exc) from None
        if isinstance(reply, Interrupted):
            if reply.partial is not None and reply.partial.text:
                self.add(self.unique(reply.partial).to_message())
            if reply.steered:
                return None
            raise self.run_error(RunCancelled, "the run was cancelled")
        response: ModelResponse = self.unique(reply)
        self.usage = self.usage + response.usage
        self.cost = add_costs(self.cost, stored_cost(response))
        if self.counted is not None:
            self.window.observe(self.step, "answer", self.counted, response.usage)
        self.add(response.to_message())
        self.announced = len(self.new)
        for hook in spec.hooks:
            yield from self.hook(hook.on_model_response(self.ctx(), response))
        yield ModelResponseFinished(self.step, response)
        return response

    # -- context: token accounting and compaction

    def prepare(self, deeper: ContextWindowExceeded | None = None) -> Generator[Effect | AgentEvent, Any, RequestModel]:
        """The next request, counted; compacted first when it would pass the threshold of the window.

        ``deeper``: the provider refused the request as too long although the count said it fits; compact
        now, to half the usual target (or fail with that error when nothing can be shortened).
        """
        effect = self.request()
        counted = self.window.count(effect.messages, effect.tools)
        compaction = self.spec.compaction
        usable = self.window.usable(effect.settings)
        if deeper is not None and compaction is not None and usable is not None:
            event = yield from self.compact(effect, counted.tokens, usable, compaction.target * usable / 2)
            if event is None:
                raise self.fail(deeper)
            effect = self.request()
            counted = self.window.count(effect.messages, effect.tools)
        elif compaction is not None and usable is not None and counted.tokens > compaction.threshold * usable:
            yield from self.compact(effect, counted.tokens, usable)
            effect = self.request()
            counted = self.window.count(effect.messages, effect.tools)
            if counted.tokens > usable and (counted.exact or counted.tokens > (self.window.window or usable)):
                raise self.fail(self.too_long(counted.tokens, usable))
        self.counted = counted
        if compaction is not None and compaction.cache_points and self.spec.profile.cache_points:
            effect = replace(effect, messages=with_cache_points(effect.messages))
        return effect

    def compact(
        self, effect: RequestModel, before: int, usable: int, target: float | None = None
    ) -> Generator[Effect | AgentEvent, Any, ContextCompacted | None]:
        """Run the strategies until the request fits the target; append the record; announce it."""
        compaction = self.spec.compaction
        assert compaction is not None
        view = self.window.view(self.history)
        system = effect.messages[: len(effect.messages) - len(view)]  # the instructions
        if target is None:
            target = compaction.target * usable
        used: list[str] = []
        errors: list[str] = []
        after = before
        origins = Origins(self.history)
        for strategy in compaction.strategies:
            shorter = yield from self.apply(strategy, view, errors)
            if len(shorter) == len(view) and all(a is b for a, b in zip(shorter, view, strict=True)):
                continue
            view = origins.follow(view, shorter)
            used.append(strategy.name)
            after = self.window.count([*system, *view], effect.tools).tokens
            if after <= target:
                break
        if not used:
            return None
        info = {"step": self.step, "tokens_before": before, "tokens_after": after, "strategies": used}
        record = compaction_record(self.history, view, info=info)
        self.add(record)
        self.window.reset(len(self.history) - 1, view)
        usage = sum((r.usage for r in self.summaries), Usage())
        spent: CostValue = 0.0
        for response in self.summaries:
            spent = add_costs(spent, stored_cost(response))
        cost = resolve_cost(spent)
        self.summaries.clear()
        event = ContextCompacted(
            self.step, before, after, usable, tuple(used), record, tuple(errors), usage=usage, cost=cost
        )
        yield event
        return event

    def apply(
        self, strategy: Strategy, view: list[Message], errors: list[str]
    ) -> Generator[Effect | AgentEvent, Any, list[Message]]:
        """Run one strategy, answering its summary requests with model requests."""
        steps = strategy.apply(view)
        try:
            ask = next(steps)
            while True:
                summary = yield from self.summary(ask, errors)
                ask = steps.send(summary)
        except StopIteration as stop:
            result: list[Message] = stop.value
            return result

    def summary(self, ask: SummaryRequest, errors: list[str]) -> Generator[Effect | AgentEvent, Any, str | None]:
        """The summary a strategy asked for, from a model request (``None`` when the model failed)."""
        text, max_tokens, window = ask.text, ask.max_tokens, self.window.window
        if ask.model is None and window is not None:  # the agent's own model: prompt and summary must fit its window
            max_tokens = min(max_tokens, max(64, window // 4))
            room = max(300, (window - max_tokens - 300) * 3)  # characters, at ~3 per token to be safe
            if len(text) > room:  # keep the start (earlier summaries, the task) and the end (the latest turns)
                text = text[: room // 2] + "\n[...]\n" + text[-(room // 2) :]
        model = ask.model if isinstance(ask.model, Model) else None
        messages = [Message.system(ask.prompt), Message.user(text)]
        # marked for test doubles (podium.testing answers summary requests itself); no provider sends "podium"
        settings = ModelSettings(max_tokens=max_tokens, extra={"podium": {"purpose": "compaction"}})
        counted = self.window.count(messages, ())
        try:
            reply = yield RequestModel(
                self.step, messages, [], settings, None, model=model, stream=False, purpose="compaction"
            )
        except PodiumError as exc:
            errors.append(f"summary failed: {exc}")
            return None
        if isinstance(reply, Interrupted):
            if reply.steered:  # a message sent with interrupt=True: go on without this summary
                errors.append("summary interrupted by a message sent into the run")
                return None
            raise self.run_error(RunCancelled, "the run was cancelled while compacting its context")
        self.usage = self.usage + reply.usage
        self.cost = add_costs(self.cost, stored_cost(reply))
        self.summaries.append(reply)
        self.window.observe(self.step, "compaction", counted, reply.usage)
        return str(reply.text)

    def too_long(self, tokens: int, usable: int) -> PodiumError:
        window = self.window.window
        return ContextWindowExceeded(
            f"the request takes {tokens:,} tokens after compaction, over the {usable:,} a prompt may take in this "
            f"model's window of {window:,} tokens: the instructions, the first message or the last turn alone "
            "are too long. Shorten them, raise Compaction(reserve=...) or use a model with a larger window.",
            status=400,
        )

    def all_repeated(self, calls: list[ToolCall]) -> bool:
        """Whether every call repeats one already answered in this run (same tool, same arguments)."""
        for call in calls:
            tool = self.tools.get(call.name)
            if tool is None or tool.metadata.get("repeatable") or call_key(call) not in self.answered:
                return False
        return True

    def answer_repeats(self, calls: list[ToolCall]) -> Generator[Effect | AgentEvent, Any, None]:
        """Answer repeated calls with their earlier results and turn tools off for the next request.

        Small models often call the same tool again after getting its result instead of answering;
        this ends such loops without running the tool twice.
        """
        results = []
        for call in calls:
            previous = self.answered[call_key(call)]
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
        """The run's result when ``outcome`` ends it (a final output, or a pause), else ``None``.

        Messages sent into the run before it ends keep it going (with a final output; the model answers
        again with them in view) or travel with the pause (``PausedRun.queued``).
        """
        if outcome is None:
            return None
        sent = yield _TAKE_FINAL
        if isinstance(outcome, PausedRun):
            queued = [*self.queued]
            while sent:  # until a look finds none (and closes the inbox): nothing sent is left behind
                queued += self.checked(sent)
                sent = yield _TAKE_FINAL
            if queued:
                outcome = replace(outcome, queued=queued)
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
                agents=self.subagents.by_agent(self.usage, self.cost),
                requests=self.window.requests,
            )
        if sent or self.queued:
            yield from self.deliver(sent)
            return None
        result = self.finish(outcome[0])
        for hook in self.spec.hooks:
            yield from self.hook(hook.on_run_end(self.ctx(), result))
        yield RunFinished(result)
        return result

    def deliver(self, sent: Sequence[Message] | None) -> Generator[Effect | AgentEvent, Any, None]:
        """Add the messages sent into the run (``TakeMessages``' answer) to the history, after the tool results."""
        if not sent and not self.queued:
            return
        messages = [*self.queued, *self.checked(sent)]
        self.queued = []
        for message in messages:
            self.add(message)
            yield MessageDelivered(message)

    def checked(self, sent: Sequence[Message] | None) -> list[Message]:
        """The answer to ``TakeMessages``, checked: user messages only (a replay driver may feed anything)."""
        if not sent:
            return []
        messages = list(sent)
        for message in messages:
            if not isinstance(message, Message) or message.role != "user":
                raise UserError(f"TakeMessages must be answered with user messages, got {message!r:.200}")
        return messages

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
            self.add(Message.user(f"Your answer could not be used: {short(exc)}\n{hint}"))
            return None


def _dangling_calls(history: Sequence[Message]) -> list[ToolCall]:
    """Tool calls of the last message when nothing answered them yet."""
    if history and history[-1].role == "assistant":
        return history[-1].tool_calls
    return []


def compaction_loop(spec: LoopSpec[Any]) -> Generator[Effect | AgentEvent, Any, ContextCompacted | None]:
    """Compact ``spec.history`` now (``agent.compact``), with the protocol of :func:`agent_loop`.

    The target is the compaction's share of the window, and at most half the current size. Returns the
    event, or ``None`` when no strategy found anything to shorten.
    """
    run = _Run(spec)
    if not isinstance(spec.tools, Mapping):
        run.tools = spec.tools(run.ctx())
    effect = run.request()
    counted = run.window.count(effect.messages, effect.tools)
    usable = run.window.usable(effect.settings) or counted.tokens
    compaction = spec.compaction
    assert compaction is not None
    target = min(compaction.target * usable, counted.tokens / 2)
    return (yield from run.compact(effect, counted.tokens, usable, target))


def agent_loop(spec: LoopSpec[OutputT]) -> Generator[Effect | AgentEvent, Any, RunResult[OutputT]]:
    """The loop for one run as a generator (see the module docstring for the protocol)."""
    return _Run(spec).run()
