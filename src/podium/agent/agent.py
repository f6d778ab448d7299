"""``Agent``: a model, tools and instructions, run by the sans-IO loop with a sync or async driver."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, overload

from podium.agent.approval import Approver, DecisionLike, PausedRun, decision_from
from podium.agent.budget import Budget
from podium.agent.cancel import CancelToken
from podium.agent.compaction import DEFAULT_COMPACTION, Compaction, CompactionResult, Strategy, Summarize
from podium.agent.drivers import drive_async, drive_sync
from podium.agent.events import AgentEvent, ContextCompacted
from podium.agent.hooks import AgentHooks
from podium.agent.inbox import Inbox, user_message
from podium.agent.loop import LoopSpec, agent_loop, compaction_loop
from podium.agent.output import OutputHandler, OutputMode
from podium.agent.result import OutputT, RunResult
from podium.agent.window import ContextWindow
from podium.exceptions import UserError
from podium.messages import Message, Part, Text
from podium.providers.base import Model
from podium.settings import ModelSettings
from podium.tools.context import RunContext
from podium.tools.executor import DEFAULT_MAX_OUTPUT
from podium.tools.toolset import ToolResolver, ToolsetLike

if TYPE_CHECKING:
    from podium.agent.memory import Memory
    from podium.agent.replay import Replayer
    from podium.agent.rules import ApprovalPolicy
    from podium.agent.subagent import Scope, SubAgentTool
    from podium.agent.tracing import TraceRecorder
    from podium.store.sqlite import SQLiteStore
    from podium.trace import Trace, TraceMonitor, TraceSink

__all__ = ["Agent", "AsyncRunStream", "Prompt", "RunStream"]

Prompt = str | Sequence["str | Part"]


def _prompt_parts(prompt: Prompt | None) -> tuple[Part, ...] | None:
    if prompt is None:
        return None
    if isinstance(prompt, str):
        return (Text(prompt),)
    return tuple(Text(p) if isinstance(p, str) else p for p in prompt)


def _no_inbox() -> Inbox:
    """An inbox for a stream whose driver takes no messages: ``send`` says so instead of losing the message."""
    inbox = Inbox()
    inbox.close("no way to take messages (its driver was given no inbox)")
    return inbox


def _resolve_model(model: Model | str | None) -> Model:
    if model is None:
        raise UserError("no model: pass model= to the Agent or to run(), e.g. Agent('openai:gpt-4o')")
    if isinstance(model, str):
        from podium.providers.registry import model as resolve

        return resolve(model)
    return model


class Agent(Generic[OutputT]):
    """An LLM agent: a model, tools, instructions, and the loop that runs them.

    Example::

        agent = Agent("anthropic:claude-sonnet-4-5", tools=[add], instructions="Be brief.")
        result = agent.run("What is 2 + 3?")
        print(result.output)

    Tool calls of one model turn run concurrently. A call that fails (bad arguments, an exception from
    the tool, ``ModelRetry``, a timeout) goes back to the model as an error result, within a retry budget
    that counts model turns, not calls: a tool's count goes up by one for a turn in which every call of it
    failed, and back to zero in a turn where one of its calls succeeded. The run raises
    ``ToolRetriesExceeded`` once a tool has failed in more consecutive turns than its budget (``retries``
    here, or the tool's own); a model that reads three missing files in parallel spends one retry, not
    three. Calls to unknown tools count the same way, per turn, against ``retries + 1``.

    A running run can be steered: ``stream.send("also do X")`` (``await astream.send(...)``) from any thread
    or task adds a user message that the model sees in its next request, after the current turn's tool
    results (see :mod:`podium.agent.inbox`).

    Cancelling a run (``cancel=`` token, ``stream.cancel()``, Ctrl-C) returns at once with every unfinished
    call marked interrupted. Python cannot stop a thread: a sync tool still running goes on in the
    background until it returns; it is told through ``RunContext.abandoned`` and should check it if it
    runs for long (the built-in shell tools kill their command).
    """

    @overload
    def __init__(
        self: Agent[str],
        model: Model | str | None = None,
        *,
        tools: Sequence[ToolsetLike | Agent[Any]] = (),
        instructions: str | Callable[[RunContext[Any]], str] | None = None,
        settings: ModelSettings | None = None,
        max_steps: int = 50,
        output_type: None = None,
        output_mode: OutputMode = "auto",
        hooks: Sequence[AgentHooks] = (),
        name: str | None = None,
        retries: int = 2,
        output_retries: int = 2,
        inject: Mapping[str, Any] | None = None,
        max_tool_output: int = DEFAULT_MAX_OUTPUT,
        policy: ApprovalPolicy | None = None,
        approver: Approver | None = None,
        repeated_calls: Literal["answer", "allow"] = "answer",
        budget: Budget | None = None,
        compaction: Compaction | None = DEFAULT_COMPACTION,
        memory: Memory | None = None,
        trace_sinks: Sequence[TraceSink] = (),
        contracts: Sequence[TraceMonitor] = (),
    ) -> None: ...

    @overload
    def __init__(
        self,
        model: Model | str | None = None,
        *,
        tools: Sequence[ToolsetLike | Agent[Any]] = (),
        instructions: str | Callable[[RunContext[Any]], str] | None = None,
        settings: ModelSettings | None = None,
        max_steps: int = 50,
        output_type: type[OutputT],
        output_mode: OutputMode = "auto",
        hooks: Sequence[AgentHooks] = (),
        name: str | None = None,
        retries: int = 2,
        output_retries: int = 2,
        inject: Mapping[str, Any] | None = None,
        max_tool_output: int = DEFAULT_MAX_OUTPUT,
        policy: ApprovalPolicy | None = None,
        approver: Approver | None = None,
        repeated_calls: Literal["answer", "allow"] = "answer",
        budget: Budget | None = None,
        compaction: Compaction | None = DEFAULT_COMPACTION,
        memory: Memory | None = None,
        trace_sinks: Sequence[TraceSink] = (),
        contracts: Sequence[TraceMonitor] = (),
    ) -> None: ...

    def __init__(
        self,
        model: Model | str | None = None,
        *,
        tools: Sequence[ToolsetLike | Agent[Any]] = (),
        instructions: str | Callable[[RunContext[Any]], str] | None = None,
        settings: ModelSettings | None = None,
        max_steps: int = 50,
        output_type: type[OutputT] | None = None,
        output_mode: OutputMode = "auto",
        hooks: Sequence[AgentHooks] = (),
        name: str | None = None,
        retries: int = 2,
        output_retries: int = 2,
        inject: Mapping[str, Any] | None = None,
        max_tool_output: int = DEFAULT_MAX_OUTPUT,
        policy: ApprovalPolicy | None = None,
        approver: Approver | None = None,
        repeated_calls: Literal["answer", "allow"] = "answer",
        budget: Budget | None = None,
        compaction: Compaction | None = DEFAULT_COMPACTION,
        memory: Memory | None = None,
        trace_sinks: Sequence[TraceSink] = (),
        contracts: Sequence[TraceMonitor] = (),
    ) -> None:
        """Create an agent.

        Args:
            model: A :class:`~podium.providers.base.Model` or a ``"provider:model"`` string.
            tools: Tools, plain functions and toolsets the model may call. A toolset's ``get_tools`` is
                called once per run, as it starts, with the run's context (``deps``, ``run_id``, history).
                An :class:`Agent` here is a sub-agent (``agent.as_tool()``; it needs a ``name``).
            instructions: System instructions (or a function of the run context returning them).
            settings: Default model settings.
            max_steps: Maximum model requests per run.
            output_type: Type of the final output; ``str`` (text) when not given.
            output_mode: How structured output is obtained (``auto``, ``native``, ``tool``).
            hooks: Lifecycle hooks, run in order.
            name: A name for logs and traces.
            retries: Failing model turns in a row allowed per tool (unless the tool sets ``retries``); see above.
            output_retries: Invalid final outputs allowed before the run fails.
            inject: Values for tool parameters marked ``Injected``.
            max_tool_output: Characters of tool output kept by default.
            policy: Decides per tool call: allow, ask, deny or rewrite (see :mod:`podium.agent.approval`).
            approver: Answers "ask" decisions at once (a terminal prompt, a UI); without one the run pauses.
            repeated_calls: ``answer`` (default): when the model only repeats calls it already has results
                for, send those results again and ask for the answer with tools off; ``allow``: run them again.
            budget: Limits of each run (requests, tokens, cost, tool calls, wall time; see
                :mod:`podium.agent.budget`); a run's own ``budget=`` replaces it.
            compaction: When and how to compact what is sent once a conversation nears the model's context
                window (:class:`~podium.agent.compaction.Compaction`; by default at 80% of the window, when
                the model's window is known); ``None`` never compacts.
            memory: Notes kept across conversations (:class:`~podium.agent.memory.Memory`): adds the
                ``remember``, ``recall``, ``forget`` and ``list_memories`` tools and recalls the notes that
                match the prompt into the instructions, once per run.
            trace_sinks: Every run records its trace (:mod:`podium.trace`) and hands each record to these as
                it is written (a file, the store, OpenTelemetry).
            contracts: Rules checked on each trace record as the run goes (:mod:`podium.trace.contracts`); a
                violation stops the run with ``ContractViolation`` before the next model request or tool.
        """
        if max_steps < 1:
            raise UserError("max_steps must be at least 1")
        self.model = model
        self.tools: list[ToolsetLike] = [t.as_tool() if isinstance(t, Agent) else t for t in tools]
        self.instructions = instructions
        self.settings = settings or ModelSettings()
        self.max_steps = max_steps
        self.output_type = output_type
        self.hooks = list(hooks)
        self.name = name
        self.retries = retries
        self.output_retries = output_retries
        self.inject: Mapping[str, Any] = dict(inject or {})
        self.max_tool_output = max_tool_output
        self.policy = policy
        self.budget = budget
        """Limits of each run (:class:`~podium.agent.budget.Budget`), unless a run gives its own."""
        self.memory = memory
        """Notes kept across conversations (:class:`~podium.agent.memory.Memory`), or ``None``."""
        self.compaction = compaction
        """When and how runs compact what they send (``None``: never)."""
        self._summarizers: dict[str, Model] = {}
        self.approver = approver
        self.id = os.urandom(16).hex()
        """Unique id of this agent (``RunContext.agent_id``), so tools can keep state per agent."""
        self.repeated_calls: Literal["answer", "allow"] = repeated_calls
        self._output: OutputHandler[OutputT] = OutputHandler(output_type, output_mode)
        self._resolved: Model | None = model if isinstance(model, Model) else None
        self.trace_sinks: list[TraceSink] = list(trace_sinks)
        """Called with every trace record of every run."""
        self.contracts: list[TraceMonitor] = list(contracts)
        """Checked on every trace record of every run."""

    # -- set-up shared by all entry points

    def _model(self, override: Model | str | None) -> Model:
        if override is not None:
            return _resolve_model(override)
        if self._resolved is None:
            self._resolved = _resolve_model(self.model)
        return self._resolved

    def _spec(
        self,
        model: Model,
        prompt: Prompt | None,
        message_history: Sequence[Message] | None,
        deps: Any,
        settings: ModelSettings | None,
        inject: Mapping[str, Any] | None,
        approvals: Mapping[str, DecisionLike] | None = None,
        resume: PausedRun | None = None,
        budget: Budget | None = None,
        compaction: Compaction | Literal[False] | None = None,
        scope: Scope | None = None,
    ) -> LoopSpec[OutputT]:
        if resume is not None:
            if message_history is not None:
                raise UserError("give either resume= or message_history=, not both")
            if prompt is not None:
                raise UserError("a resumed run continues the paused one: pass prompt=None")
            message_history = resume.messages
            unknown = set(approvals or {}) - {r.call_id for r in resume.pending}
            if unknown:
                raise UserError(
                    f"approvals for calls that are not pending: {sorted(unknown)}; "
                    f"pending: {[r.call_id for r in resume.pending]}"
                )
        parts = _prompt_parts(prompt)
        history = list(message_history or ())
        tools: tuple[ToolsetLike, ...] = tuple(self.tools)
        instructions = self.instructions
        if self.memory is not None:  # the recall is computed here, once: every request of the run is the same
            from podium.agent.memory import recall_query

            if self.memory.toolset is not None:
                tools += (self.memory.toolset,)
            instructions = self.memory.instructions(instructions, recall_query(parts, history))
        return LoopSpec(
            prompt=parts,
            history=history,
            tools=ToolResolver(tools),
            output=self._output,
            profile=model.profile,
            instructions=instructions,
            settings=self.settings.merge(settings),
            max_steps=self.max_steps,
            tool_retries=self.retries,
            output_retries=self.output_retries,
            hooks=self.hooks,
            deps=deps,
            inject={**self.inject, **(inject or {})},
            agent_name=self.name,
            agent_id=self.id,
            policy=self.policy,
            approvals={k: decision_from(v) for k, v in (approvals or {}).items()},
            resume=resume,
            repeated_calls=self.repeated_calls,
            budget=budget if budget is not None else self.budget,
            compaction=self._compaction(compaction),
            token_counter=model.token_counter(),
            scope=scope,
        )

    def _run_trace(self, trace: Trace | None) -> Trace | None:
        """The trace a run records into: ``trace``, or a new one when the agent has sinks or contracts."""
        if not (self.trace_sinks or self.contracts):
            return trace
        if trace is None:
            from podium.trace import Trace

            trace = Trace()
        trace.sinks.extend(s for s in self.trace_sinks if s not in trace.sinks)
        trace.monitors.extend(c for c in self.contracts if c not in trace.monitors)
        return trace

    def _compaction(self, override: Compaction | Literal[False] | None) -> Compaction | None:
        """The run's compaction, with summariser models given as strings resolved (once per agent)."""
        chosen = self.compaction if override is None else override or None
        if chosen is None:
            return None
        strategies: list[Strategy] = []
        for strategy in chosen.strategies:
            if isinstance(strategy, Summarize) and isinstance(strategy.model, str):
                name = strategy.model
                if name not in self._summarizers:
                    self._summarizers[name] = _resolve_model(name)
                strategy = dataclasses.replace(strategy, model=self._summarizers[name])
            strategies.append(strategy)
        return dataclasses.replace(chosen, strategies=tuple(strategies))

    # -- sync

    def run(
        self,
        prompt: Prompt | None = None,
        *,
        message_history: Sequence[Message] | None = None,
        deps: Any = None,
        settings: ModelSettings | None = None,
        model: Model | str | None = None,
        cancel: CancelToken | None = None,
        inject: Mapping[str, Any] | None = None,
        approvals: Mapping[str, DecisionLike] | None = None,
        resume: PausedRun | None = None,
        approver: Approver | None = None,
        budget: Budget | None = None,
        compaction: Compaction | Literal[False] | None = None,
        trace: Trace | None = None,
    ) -> RunResult[OutputT]:
        """Run to completion in this thread and return the result.

        The model is called from this thread; tool calls run on the tool thread pool. Async tools, hooks
        and approvers run on a private event loop, so this also works where an event loop already runs in
        this thread (a Jupyter cell, a sync function called from async code).

        Args:
            prompt: The new user message (text or parts); ``None`` continues ``message_history``.
            message_history: The conversation so far.
            deps: Passed to tools as ``RunContext.deps``.
            settings: Settings for this run, over the agent's.
            model: Use another model for this run.
            cancel: A token to cancel the run from another thread (or a signal handler).
            inject: Values for injected tool parameters, over the agent's.
            approvals: Decisions for calls waiting for approval (call id -> True/False/Allow/Deny).
            resume: A paused run to continue (``result.paused``, possibly loaded from JSON).
            approver: Answers "ask" decisions for this run (over the agent's).
            budget: Limits of this run, replacing the agent's (:class:`~podium.agent.budget.Budget`).
            compaction: Compaction for this run, replacing the agent's; ``False`` turns it off.
            trace: Record the run's Message-Action Trace into this :class:`~podium.trace.Trace` (every model
                request and response, tool call and result, decision; see ``docs/traces.md``).

        Raises:
            RunCancelled: ``cancel`` was triggered; ``.messages`` is a valid history.
            MaxStepsExceeded: the run needed more than ``max_steps`` requests.
            BudgetExceeded: the run reached a limit of its budget; ``.messages`` is a valid history.
            ProviderError: the provider failed; ``.messages`` is the history up to the failure.
        """
        stream = self.stream(
            prompt,
            message_history=message_history,
            deps=deps,
            settings=settings,
            model=model,
            cancel=cancel,
            inject=inject,
            approvals=approvals,
            resume=resume,
            approver=approver,
            budget=budget,
            compaction=compaction,
            trace=trace,
            _stream_model=False,
        )
        for _ in stream:
            pass
        return stream.result

    def stream(
        self,
        prompt: Prompt | None = None,
        *,
        message_history: Sequence[Message] | None = None,
        deps: Any = None,
        settings: ModelSettings | None = None,
        model: Model | str | None = None,
        cancel: CancelToken | None = None,
        inject: Mapping[str, Any] | None = None,
        approvals: Mapping[str, DecisionLike] | None = None,
        resume: PausedRun | None = None,
        approver: Approver | None = None,
        budget: Budget | None = None,
        compaction: Compaction | Literal[False] | None = None,
        trace: Trace | None = None,
        _stream_model: bool = True,
        _scope: Scope | None = None,
        _replay: Replayer | None = None,
        _run_id: str | None = None,
    ) -> RunStream[OutputT]:
        """Run in this thread, yielding events as they happen; ``.result`` holds the result afterwards.

        ``stream.send(message)`` steers the run from any thread (see :meth:`RunStream.send`).
        """
        resolved = self._model(model)
        scope = _scope if _scope is not None or _stream_model else self._quiet_scope()
        spec = self._spec(
            resolved, prompt, message_history, deps, settings, inject, approvals, resume, budget, compaction, scope
        )
        if _run_id:
            spec.run_id = _run_id
        token = cancel or CancelToken()
        inbox = Inbox()
        loop, recorder = _traced(
            spec, resolved, self._run_trace(trace), _replay, stream=_stream_model, settings=settings
        )
        drive = _replay.drive_sync if _replay is not None else drive_sync
        gen = drive(
            loop,
            resolved,
            stream=_stream_model,
            cancel=token,
            max_output=self.max_tool_output,
            approver=approver or self.approver,
            inbox=inbox,
        )
        if recorder is not None:
            gen = recorder.watch(gen)
        if isinstance(spec.tools, ToolResolver) and spec.tools.has_toolsets:
            gen = _ending(gen, spec.tools)
        return RunStream(gen, token, inbox)

    # -- async

    async def arun(
        self,
        prompt: Prompt | None = None,
        *,
        message_history: Sequence[Message] | None = None,
        deps: Any = None,
        settings: ModelSettings | None = None,
        model: Model | str | None = None,
        cancel: CancelToken | None = None,
        inject: Mapping[str, Any] | None = None,
        approvals: Mapping[str, DecisionLike] | None = None,
        resume: PausedRun | None = None,
        approver: Approver | None = None,
        budget: Budget | None = None,
        compaction: Compaction | Literal[False] | None = None,
        trace: Trace | None = None,
    ) -> RunResult[OutputT]:
        """Async twin of :meth:`run`: tools run as tasks (sync tools on a thread pool)."""
        stream = self.astream(
            prompt,
            message_history=message_history,
            deps=deps,
            settings=settings,
            model=model,
            cancel=cancel,
            inject=inject,
            approvals=approvals,
            resume=resume,
            approver=approver,
            budget=budget,
            compaction=compaction,
            trace=trace,
            _stream_model=False,
        )
        async for _ in stream:
            pass
        return stream.result

    def astream(
        self,
        prompt: Prompt | None = None,
        *,
        message_history: Sequence[Message] | None = None,
        deps: Any = None,
        settings: ModelSettings | None = None,
        model: Model | str | None = None,
        cancel: CancelToken | None = None,
        inject: Mapping[str, Any] | None = None,
        approvals: Mapping[str, DecisionLike] | None = None,
        resume: PausedRun | None = None,
        approver: Approver | None = None,
        budget: Budget | None = None,
        compaction: Compaction | Literal[False] | None = None,
        trace: Trace | None = None,
        _stream_model: bool = True,
        _scope: Scope | None = None,
        _replay: Replayer | None = None,
        _run_id: str | None = None,
    ) -> AsyncRunStream[OutputT]:
        """Async twin of :meth:`stream`: ``async for event in agent.astream(...)``; ``await stream.send(...)``."""
        resolved = self._model(model)
        scope = _scope if _scope is not None or _stream_model else self._quiet_scope()
        spec = self._spec(
            resolved, prompt, message_history, deps, settings, inject, approvals, resume, budget, compaction, scope
        )
        if _run_id:
            spec.run_id = _run_id
        token = cancel or CancelToken()
        box: list[RunResult[OutputT]] = []
        inbox = Inbox()
        loop, recorder = _traced(
            spec, resolved, self._run_trace(trace), _replay, stream=_stream_model, settings=settings
        )
        drive = _replay.drive_async if _replay is not None else drive_async
        agen = drive(
            loop,
            resolved,
            stream=_stream_model,
            cancel=token,
            max_output=self.max_tool_output,
            result_box=box,
            approver=approver or self.approver,
            inbox=inbox,
        )
        if recorder is not None:
            agen = recorder.awatch(agen)
        if isinstance(spec.tools, ToolResolver) and spec.tools.has_toolsets:
            agen = _aending(agen, spec.tools)
        return AsyncRunStream(agen, token, box, inbox)

    # -- durable runs

    def resume(self, run_id: str, *, store: SQLiteStore, **options: Any) -> RunResult[OutputT]:
        """Continue a durable run whose process died, from its trace in ``store`` (:mod:`podium.agent.durable`).

        Completed model requests and tool calls are not repeated; a tool call that was in flight runs again
        only if its tool is ``idempotent``, else it gets an error result. ``options``: ``deps``, ``inject``,
        ``approver``, ``approvals`` (for a paused run), ``cancel``.
        """
        from podium.agent.durable import resume

        return resume(self, run_id, store=store, **options)

    # -- compaction on demand

    def compact(
        self,
        messages: Sequence[Message],
        *,
        model: Model | str | None = None,
        compaction: Compaction | None = None,
        settings: ModelSettings | None = None,
        deps: Any = None,
    ) -> CompactionResult:
        """Compact a conversation now, as a run would before a request that nears the window.

        The strategies of ``compaction`` (else the agent's, else the default) run until what would be sent
        is under the target share of the window and at most half its current size. ``messages`` is not
        changed: the result's ``messages`` are ``messages`` plus a compaction record (continue the
        conversation from them), and ``view`` is what the next request will send.
        """
        resolved = self._model(model)
        spec = self._compaction_spec(resolved, messages, compaction, settings, deps)
        steps = drive_sync(compaction_loop(spec), resolved, stream=False)
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                return _compaction_result(spec, stop.value)

    async def acompact(
        self,
        messages: Sequence[Message],
        *,
        model: Model | str | None = None,
        compaction: Compaction | None = None,
        settings: ModelSettings | None = None,
        deps: Any = None,
    ) -> CompactionResult:
        """Async twin of :meth:`compact`."""
        resolved = self._model(model)
        spec = self._compaction_spec(resolved, messages, compaction, settings, deps)
        box: list[Any] = []
        async for _ in drive_async(compaction_loop(spec), resolved, stream=False, result_box=box):
            pass
        return _compaction_result(spec, box[0] if box else None)

    def _compaction_spec(
        self,
        model: Model,
        messages: Sequence[Message],
        compaction: Compaction | None,
        settings: ModelSettings | None,
        deps: Any,
    ) -> LoopSpec[OutputT]:
        if not messages:
            raise UserError("nothing to compact: give the conversation's messages")
        chosen = compaction or self.compaction or DEFAULT_COMPACTION
        return self._spec(model, None, messages, deps, settings, None, compaction=chosen)

    # -- as a sub-agent

    def _quiet_scope(self) -> Scope:
        """The scope of a top-level run that does not stream: its sub-agents do not stream either."""
        from podium.agent.subagent import CallIds, Scope

        return Scope(self.name or "agent", 0, CallIds(), stream=False)

    def as_tool(
        self,
        name: str | None = None,
        description: str | None = None,
        *,
        budget: Budget | None = None,
        max_depth: int | None = None,
        timeout: float | None = None,
        max_output: int | None = None,
        retries: int | None = None,
    ) -> SubAgentTool:
        """This agent as a tool of another agent: a call runs it on the task the calling model writes.

        The child run has this agent's model, tools, instructions and conversation (it starts fresh, with
        the task as its prompt, and gets the parent run's ``deps``). Its events come out of the parent's
        stream as :class:`~podium.agent.events.SubAgentEvent`; its usage and cost add to the parent's;
        its approvals go to the parent's approver, or pause the parent; cancelling the parent cancels it.
        The calling model gets its final output (text, or JSON of a structured output), or an error result
        saying why it failed. See :mod:`podium.agent.subagent`.

        Args:
            name: The tool's name; this agent's ``name`` by default.
            description: What the calling model is told the sub-agent does.
            budget: Limits of each of its runs (:class:`~podium.agent.budget.Budget`); a run also never
                gets more tokens, cost or time than its parent has left.
            max_depth: The deepest nesting at which it runs (default 5; 1: only as a top-level run's
                sub-agent). Deeper calls get an error result (an agent that calls itself stops there).
            timeout: Seconds a call may take; the child run is cancelled after that.
            max_output: Characters of its output kept in the result.
            retries: Failing turns in a row allowed for this tool (as for any tool).
        """
        from podium.agent.subagent import DEFAULT_MAX_DEPTH, SubAgentTool

        tool_name = name or self.name
        if not tool_name:
            raise UserError("a sub-agent needs a name: Agent(..., name='researcher') or agent.as_tool(name=...)")
        return SubAgentTool(
            self,
            name=tool_name,
            description=description,
            budget=budget,
            max_depth=max_depth if max_depth is not None else DEFAULT_MAX_DEPTH,
            timeout=timeout,
            max_output=max_output,
            retries=retries,
        )

    def __repr__(self) -> str:
        return f"Agent(model={self.model!r}, tools={len(self.tools)}, name={self.name!r})"


class RunStream(Generic[OutputT]):
    """Iterator over a run's events; :attr:`result` once exhausted; :meth:`cancel` and :meth:`send` from any thread."""

    def __init__(
        self, gen: Generator[AgentEvent, None, RunResult[OutputT]], token: CancelToken, inbox: Inbox | None = None
    ) -> None:
        self._gen = gen
        self._token = token
        self._inbox = inbox if inbox is not None else _no_inbox()
        self._result: RunResult[OutputT] | None = None

    def __iter__(self) -> Iterator[AgentEvent]:
        return self

    def __next__(self) -> AgentEvent:
        try:
            return next(self._gen)
        except StopIteration as stop:
            self._result = stop.value
            raise StopIteration from None

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel the run at the next effect boundary."""
        self._token.cancel(reason)

    def send(self, message: str | Sequence[str | Part] | Message, *, interrupt: bool = False) -> None:
        """Send a user message into the running run (steering); safe from any thread or task.

        The message is delivered at the next effect boundary, before the next model request: it goes into
        the history after the current turn's tool results, with a ``MessageDelivered`` event, and the model
        sees it in that request. Messages keep the order they were sent in. A message sent before the run
        starts follows the prompt; one sent while the final answer streams makes the run go on with another
        request instead of ending; one waiting when the run pauses for approvals is kept in
        ``PausedRun.queued`` and delivered when the run resumes. Budgets and ``max_steps`` still apply.

        Args:
            message: Text, a sequence of text, ``Image`` and ``File`` parts (like a prompt), or a user ``Message``.
            interrupt: Stop waiting at once: tool calls still running are abandoned and marked interrupted
                (as with a cancel), an answer being streamed stops where it is (its text so far is kept), and
                the run goes on with the message. By default started tool calls finish first.

        Raises:
            UserError: the run has ended (finished, failed, cancelled or paused), so the message would never
                reach the model; or the message is empty or holds parts a user message cannot.
        """
        self._inbox.put(user_message(message), interrupt=interrupt)

    @property
    def undelivered(self) -> tuple[Message, ...]:
        """Messages sent but never delivered because the run failed or was cancelled before its next request."""
        return self._inbox.undelivered

    @property
    def result(self) -> RunResult[OutputT]:
        """The run's result (after the events are exhausted)."""
        if self._result is None:
            raise UserError("the run has not finished: iterate over all events first")
        return self._result


class AsyncRunStream(Generic[OutputT]):
    """Async iterator over a run's events; :attr:`result` once exhausted."""

    def __init__(
        self,
        agen: AsyncIterator[AgentEvent],
        token: CancelToken,
        box: list[RunResult[OutputT]],
        inbox: Inbox | None = None,
    ) -> None:
        self._agen = agen
        self._token = token
        self._box = box
        self._inbox = inbox if inbox is not None else _no_inbox()

    def __aiter__(self) -> AsyncIterator[AgentEvent]:
        return self._agen

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel the run at the next effect boundary."""
        self._token.cancel(reason)

    async def send(self, message: str | Sequence[str | Part] | Message, *, interrupt: bool = False) -> None:
        """Send a user message into the running run (steering), from any task or thread; see :meth:`RunStream.send`.

        Raises:
            UserError: the run has ended, or the message is empty or holds parts a user message cannot.
        """
        self._inbox.put(user_message(message), interrupt=interrupt)

    @property
    def undelivered(self) -> tuple[Message, ...]:
        """Messages sent but never delivered because the run failed or was cancelled before its next request."""
        return self._inbox.undelivered

    @property
    def result(self) -> RunResult[OutputT]:
        """The run's result (after the events are exhausted)."""
        if not self._box:
            raise UserError("the run has not finished: iterate over all events first")
        return self._box[0]


def _compaction_result(spec: LoopSpec[Any], event: ContextCompacted | None) -> CompactionResult:
    history = list(spec.history)
    window = ContextWindow(history, spec.profile, spec.compaction, spec.token_counter)
    if event is None:
        view = window.view(history)
        tokens = window.count(view, ()).tokens
        return CompactionResult(history, view, tokens, tokens)
    messages = [*history, event.record]
    window = ContextWindow(messages, spec.profile, spec.compaction, spec.token_counter)
    return CompactionResult(messages, window.view(messages), event.tokens_before, event.tokens_after, event.strategies)


def _traced(
    spec: LoopSpec[OutputT],
    model: Model,
    trace: Trace | None,
    replay: Replayer | None,
    *,
    stream: bool,
    settings: ModelSettings | None,
) -> tuple[Generator[Any, Any, RunResult[OutputT]], TraceRecorder | None]:
    """The run's loop generator, recording into ``trace`` when one is given (and replaying's set-up)."""
    if replay is not None:
        replay.prepare(spec)
    if trace is None:
        return agent_loop(spec), None
    from podium.agent.tracing import TraceRecorder, run_header

    if not spec.run_id:  # the run's id, known before it starts (a resumed run keeps the paused run's)
        spec.run_id = (spec.resume.run_id if spec.resume is not None else "") or os.urandom(16).hex()
    resuming = replay if replay is not None and hasattr(replay, "replayed") else None
    recorder = TraceRecorder(trace, resuming=resuming)
    if replay is None:
        spec.clock = recorder.clock
    else:
        spec.clock = replay.recording_clock(recorder)
    if spec.token_counter is not None:
        spec.token_counter = recorder.counter(spec.token_counter)
    injected = (v for v in spec.inject.values() if isinstance(v, str) and len(v) >= 4)
    trace.secrets = sorted({*trace.secrets, *injected}, key=len, reverse=True)
    if resuming is None:  # a resumed run goes on writing the trace it started
        header = run_header(spec, model, stream=stream, run_id=spec.run_id, settings=settings)
        if trace.meta:
            header["meta"] = trace.meta
        trace.append("run", header)
    return recorder.wrap(agent_loop(spec)), recorder


def _ending(
    gen: Generator[AgentEvent, None, RunResult[OutputT]], tools: ToolResolver
) -> Generator[AgentEvent, None, RunResult[OutputT]]:
    """``gen``, then the toolsets hear that the run ended (whichever way it ended)."""
    try:
        return (yield from gen)
    finally:
        tools.end_run()


async def _aending(agen: AsyncIterator[AgentEvent], tools: ToolResolver) -> AsyncIterator[AgentEvent]:
    """``agen``, then the toolsets hear that the run ended (off the event loop: ending may wait on a process)."""
    import asyncio

    try:
        async for event in agen:
            yield event
    finally:
        await asyncio.get_running_loop().run_in_executor(None, tools.end_run)
