"""The agent loop, written once, with no I/O (sans-IO).

:func:`agent_loop` is a generator. It yields two kinds of values:

* **events** (:mod:`podium.agent.events`), which a driver passes on to the user, and
* **effects** (:class:`RequestModel`, :class:`StartTools`, :class:`AwaitTool`, :class:`AbandonTools`),
  which a driver performs and answers by ``send()``-ing the result back.

Drivers (:mod:`podium.agent.drivers`) perform effects synchronously (threads) or asynchronously
(tasks); a replay driver can answer them from a recording. Whatever the driver, the loop owns the
conversation: it decides what goes into the history and keeps it valid when a run is cancelled or a
provider fails (every tool call gets a result, interrupted ones marked).

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
from typing import Any, Generic, TypeAlias

from podium.agent.events import (
    AgentEvent,
    ModelRequestStarted,
    ModelResponseFinished,
    RunFinished,
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
class Interrupted:
    """Answer to any effect once the run is cancelled."""

    partial: ModelResponse | None = None
    """What the model had streamed before the cancellation, if anything."""


Effect: TypeAlias = RequestModel | StartTools | AwaitTool | AbandonTools
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
    run_id: str = ""
    """Id of the run (generated when empty)."""


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
        if spec.prompt is not None:
            self.add(Message("user", tuple(spec.prompt)))
        elif not self.history:
            raise self.run_error(UnexpectedModelBehavior, "nothing to run: give a prompt or a message history")
        yield RunStarted(self.run_id)
        for hook in spec.hooks:
            hook.on_run_start(self.ctx())

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
            yield ModelRequestStarted(self.step)
            try:
                reply = yield effect
            except PodiumError as exc:
                raise self.fail(exc) from None
            if isinstance(reply, Interrupted):
                if reply.partial is not None and reply.partial.text:
                    self.add(reply.partial.to_message())
                raise self.run_error(RunCancelled, "the run was cancelled")
            response: ModelResponse = reply
            self.usage = self.usage + response.usage
            if self.cost is not None:
                self.cost = None if response.cost is None else self.cost + response.cost
            self.add(response.to_message())
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
            final = yield from self.run_tools(calls)
            if final is not None:
                result = self.finish(final[0])
                for hook in spec.hooks:
                    hook.on_run_end(self.ctx(), result)
                yield RunFinished(result)
                return result

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

    def run_tools(self, calls: list[ToolCall]) -> Generator[Effect | AgentEvent, Any, tuple[OutputT] | None]:
        spec = self.spec
        results: list[ToolResult | None] = [None] * len(calls)
        to_run: list[tuple[int, ToolInvocation]] = []
        final: tuple[OutputT] | None = None
        final_seen = False
        base_ctx = self.ctx()
        for i, call in enumerate(calls):
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
                        self.add(
                            Message(
                                "tool",
                                tuple(r or skipped_result(c, "Not run.") for r, c in zip(results, calls, strict=True)),
                            )
                        )
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
            ctx = base_ctx.for_call(call, self.tool_failures.get(call.name, 0))
            decided: ToolCall | ToolResult | None = None
            for hook in spec.hooks:
                decided = hook.before_tool_call(ctx, call)
                if isinstance(decided, ToolResult):
                    break
                if isinstance(decided, ToolCall):
                    call = decided
                    ctx = ctx.for_call(call, ctx.retry)
            if isinstance(decided, ToolResult):
                results[i] = decided
                continue
            to_run.append((i, ToolInvocation(tool, call, ctx)))

        if final is not None:
            # The answer is in: other calls of this message are not run (their results say so).
            for i, inv in to_run:
                results[i] = skipped_result(inv.call, "Not run: the final result was given in the same message.")
            to_run = []

        for _, inv in to_run:
            yield ToolCallStarted(inv.call)
        if to_run:
            yield StartTools([inv for _, inv in to_run])
        interrupted = False
        exhausted: str | None = None
        for n, (i, inv) in enumerate(to_run):
            if interrupted:
                results[i] = interrupted_result(inv.call)
                continue
            outcome = yield AwaitTool(n)
            if isinstance(outcome, Interrupted):
                interrupted = True
                yield AbandonTools()
                results[i] = interrupted_result(inv.call)
                continue
            assert isinstance(outcome, ToolOutcome)
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
                if self.tool_failures[name] > budget and exhausted is None:
                    exhausted = f"tool {name!r} failed {self.tool_failures[name]} times in a row: {result.text[:300]}"
            else:
                self.tool_failures.pop(name, None)
            yield ToolCallFinished(inv.call, result, outcome.duration)

        final_results = tuple(
            r if r is not None else skipped_result(c, "Not run.") for r, c in zip(results, calls, strict=True)
        )
        self.add(Message("tool", final_results))
        if interrupted:
            raise self.run_error(RunCancelled, "the run was cancelled during tool calls")
        if exhausted is not None:
            raise self.run_error(
                ToolRetriesExceeded,
                exhausted + ". Raise the tool's retries= or fix the tool; `.messages` has the history.",
            )
        if self.unknown_tool_failures > spec.tool_retries + 1:
            raise self.run_error(
                UnexpectedModelBehavior,
                f"the model called unknown tools {self.unknown_tool_failures} times; "
                f"available: {', '.join(sorted(spec.tools))}",
            )
        return final


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
