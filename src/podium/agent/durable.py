"""Durable runs: a run whose process dies is resumed from its trace, where it stopped.

A durable run records its trace into the store record by record (every effect and its answer, and each tool
call the moment it finishes), and its messages into its conversation. :func:`resume` (``agent.resume(run_id,
store=...)``, ``podium resume RUN``) continues it in another process:

1. the recorded part is replayed -- the loop asks the same questions and gets the recorded answers, so no
   model request and no tool call that completed is repeated (a call that finished but was not yet awaited
   is known from its ``done`` record);
2. a tool call that was in flight when the process died is run again only if its tool is marked
   ``idempotent=True``; any other gets an error result the model sees ("it may or may not have happened");
3. from the first question the trace cannot answer, the run goes on live with the normal driver, writing
   the rest of the same trace and the rest of the conversation.

A paused run (waiting for approvals, its own or a sub-agent's) resumes through its stored paused state.
A run started with an idempotency ``key`` starts once: submitting the same key again resumes that run
(when its process died), or gives back its result (when it ended).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podium.agent.effects import AbandonTools, AwaitTool, RunAwaitable
from podium.agent.events import AgentEvent
from podium.agent.recording import RunRecorder
from podium.agent.replay import Replayer, _inputs, _Step
from podium.agent.result import RunResult
from podium.agent.subagent import ChildInvocation
from podium.exceptions import UserError
from podium.messages import Text, ToolResult
from podium.store.sqlite import SQLiteStore
from podium.store.traces import KeyTaken
from podium.tools.executor import ToolOutcome
from podium.trace.format import Trace

if TYPE_CHECKING:
    from podium.agent.agent import Agent, RunStream
    from podium.agent.approval import Approver, DecisionLike
    from podium.agent.cancel import CancelToken

__all__ = ["DurableStream", "ResumingReplayer", "resume", "resume_stream", "start", "start_stream"]

IN_FLIGHT = (
    "Interrupted: the process running this tool call stopped before it returned, so it may or may not have "
    "taken effect. Check before calling it again."
)


class ResumingReplayer(Replayer):
    """Replays a durable run's trace, then hands the run to the live driver (see the module docstring)."""

    def __init__(self, trace: Trace) -> None:
        super().__init__(trace, tools="trace")
        self.live = False
        """Whether the run has gone past its recorded part."""
        self.from_trace = True
        self.done = {(int(r["batch"]), int(r["index"])): r for r in trace.of_kind("done")}
        self.batch: list[Any] = []
        self.batch_seq = -1
        self._live_clock: tuple[float, float] | None = None
        self.counts_run_out_live = True

    # -- what the recorder asks (podium.agent.tracing.Resuming)

    def replayed(self, phase: str) -> bool:
        """Whether the record of this phase is already in the trace (the recorder does not write it again)."""
        if self.live:
            return False
        if phase == "after":
            return self.from_trace
        return self.position < len(self.records)

    # -- replay, then live

    def clock(self) -> float:
        """The recorded readings, then this process's clock continuing from the last of them."""
        if self._reading < len(self.readings) or not self.readings:
            return super().clock() if self.readings else time.monotonic()
        if self._live_clock is None:
            self._live_clock = (self.readings[-1], time.monotonic())
        last, since = self._live_clock
        return last + (time.monotonic() - since)

    def _handle(self, item: Any) -> _Step:
        self.from_trace = True
        if self.position >= len(self.records) and isinstance(item, RunAwaitable):
            self.from_trace = False
            return _Step("await")
        return super()._handle(item)

    def _start(self, effect: Any, record: dict[str, Any]) -> None:
        super()._start(effect, record)
        self.batch = list(effect.invocations)
        self.batch_seq = int(record["seq"])

    def _exhausted(self, item: Any) -> _Step:
        self.from_trace = False
        if isinstance(item, AwaitTool):
            return self._in_flight(item.index)
        if isinstance(item, AbandonTools):
            return _Step("answer", None)
        self.live = True
        return _Step("live")

    def _in_flight(self, index: int) -> _Step:
        """The answer for a call of the last recorded batch that has no recorded result."""
        done = self.done.get((self.batch_seq, index))
        if done is not None:  # it finished before the process died: its result, not a second run
            answer, throw = self._answer(AwaitTool(index), done)
            return _Step("answer", answer, throw)
        inv = self.batch[index]
        if not isinstance(inv, ChildInvocation) and getattr(inv.tool, "idempotent", False):
            return _Step("run", inv)
        result = ToolResult(inv.call.id, inv.call.name, (Text(IN_FLIGHT),), is_error=True, interrupted=True)
        return _Step("answer", ToolOutcome(result, "interrupted"))


@dataclass
class DurableStream:
    """A durable run's events, each recorded into the store as it goes; ``.result`` once they are all read."""

    stream: RunStream[Any]
    recorder: RunRecorder
    trace: Trace
    conversation_id: str
    _done: bool = field(default=False, repr=False)

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.trace.run_id

    def __iter__(self) -> Iterator[AgentEvent]:
        with self.recorder:
            for event in self.stream:
                self.recorder.record(event)
                yield event
        self._done = True

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel the run (it can be resumed again only if its process dies; a cancelled run has ended)."""
        self.stream.cancel(reason)

    @property
    def result(self) -> RunResult[Any]:
        """The run's result (after the events are exhausted)."""
        return self.stream.result


def start_stream(
    agent: Agent[Any],
    prompt: Any,
    *,
    store: SQLiteStore,
    conversation_id: str | None = None,
    key: str | None = None,
    deps: Any = None,
    inject: Mapping[str, Any] | None = None,
    approver: Approver | None = None,
    cancel: CancelToken | None = None,
) -> DurableStream:
    """Start a durable run of ``prompt`` in ``conversation_id`` (a new conversation when ``None``).

    With ``key``, a run already started with that key is resumed (its process died) or raises
    :class:`~podium.store.traces.KeyTaken` (use :func:`start`, which gives its result back instead).
    """
    conv = conversation_id or store.create().id
    run_id = os.urandom(16).hex()
    try:
        trace_id = store.traces.start(run_id, conv, key=key)
    except KeyTaken as taken:
        info = store.traces.info(taken.trace_id)
        if info.status is None:
            return resume_stream(agent, info.run_id, store=store, deps=deps, inject=inject, approver=approver)
        raise
    trace = Trace(sinks=[store.traces.sink(conv, trace_id=trace_id)], durable=True, meta={"conversation": conv})
    history = store.messages(conv)
    stream = agent.stream(
        prompt,
        message_history=history,
        deps=deps,
        inject=inject,
        approver=approver,
        cancel=cancel,
        trace=trace,
        _run_id=run_id,
    )
    return DurableStream(stream, RunRecorder(store, conv), trace, conv)


def start(
    agent: Agent[Any], prompt: Any, *, store: SQLiteStore, key: str | None = None, **options: Any
) -> RunResult[Any]:
    """Run ``prompt`` durably to the end; with ``key``, a second submission gives the first run's result."""
    try:
        stream = start_stream(agent, prompt, store=store, key=key, **options)
    except KeyTaken as taken:
        return _ended_result(store, taken.trace_id)
    for _ in stream:
        pass
    return stream.result


def resume_stream(
    agent: Agent[Any],
    run_id: str,
    *,
    store: SQLiteStore,
    deps: Any = None,
    inject: Mapping[str, Any] | None = None,
    approver: Approver | None = None,
    approvals: Mapping[str, DecisionLike] | None = None,
    cancel: CancelToken | None = None,
) -> DurableStream:
    """Continue run ``run_id`` from its stored trace (see the module docstring).

    Raises:
        NotFoundError: no trace of that run is stored.
        UserError: the run has ended (completed, failed, cancelled): there is nothing to resume.
    """
    infos = store.traces.list(run_id=run_id, limit=1)
    if not infos:
        infos = [store.traces.info(store.traces.find(run_id))]
    info = infos[0]
    run_id = info.run_id
    conv = info.conversation_id
    if conv is None:
        raise UserError(f"run {run_id} was not recorded in a conversation; it cannot be resumed")
    if info.status == "paused":
        paused = store.get_run(run_id).paused_run()
        if paused is None:
            raise UserError(f"run {run_id} is paused but its state is not stored; it cannot be resumed")
        trace = Trace(sinks=[store.traces.sink(conv)], durable=True, meta={"conversation": conv})
        stream = agent.stream(
            None,
            resume=paused,
            approvals=approvals,
            deps=deps,
            inject=inject,
            approver=approver,
            cancel=cancel,
            trace=trace,
        )
        return DurableStream(stream, RunRecorder(store, conv), trace, conv)
    if info.status is not None:
        raise UserError(f"run {run_id} has ended ({info.status}); there is nothing to resume")
    recorded = Trace.from_jsonl("\n".join(store.traces.lines(info.id)), source=f"trace {info.id}")
    _check_in_place(store, conv, run_id, recorded)
    trace = Trace(recorded.records, sinks=[store.traces.sink(conv, trace_id=info.id)], durable=True, meta=recorded.meta)
    replayer = ResumingReplayer(trace)
    stream = agent.stream(
        deps=deps,
        inject=inject,
        approver=approver,
        cancel=cancel,
        trace=trace,
        _stream_model=bool(trace.header.get("stream", True)),
        _replay=replayer,
        **_inputs(trace),
    )
    return DurableStream(stream, RunRecorder(store, conv, resuming=True), trace, conv)


def _check_in_place(store: SQLiteStore, conv: str, run_id: str, trace: Trace) -> None:
    """Refuse to resume a run whose conversation went on without it (its messages would interleave)."""
    stored = store.stored_messages(conv)
    mine = [i for i, m in enumerate(stored) if m.run_id == run_id]
    others = [i for i, m in enumerate(stored) if m.run_id != run_id]
    history = trace.header.get("history")
    went_on = (mine and others and max(others) > min(mine)) or (history is not None and len(others) != len(history))
    if went_on:
        raise UserError(
            f"conversation {conv} went on after run {run_id} stopped; the run cannot be resumed in place. "
            "Fork the conversation at that point, or start the task again."
        )


def resume(agent: Agent[Any], run_id: str, *, store: SQLiteStore, **options: Any) -> RunResult[Any]:
    """Resume run ``run_id`` to the end and return its result (see :func:`resume_stream`)."""
    stream = resume_stream(agent, run_id, store=store, **options)
    for _ in stream:
        pass
    return stream.result


def _ended_result(store: SQLiteStore, trace_id: str) -> RunResult[Any]:
    """The result of a durable run that ended, rebuilt from its trace and its conversation."""
    from podium.trace.codec import decode
    from podium.usage import Usage

    trace = Trace.from_jsonl("\n".join(store.traces.lines(trace_id)))
    end = trace.end
    info = store.traces.info(trace_id)
    if end is None:
        raise UserError(f"run {info.run_id} is still running in another process")
    if end.get("status") != "completed":
        raise UserError(f"run {info.run_id} ended {end.get('status')}: {(end.get('error') or {}).get('text', '')}")
    messages = store.messages(info.conversation_id) if info.conversation_id else []
    return RunResult(
        output=decode(end.get("output")),
        messages=messages,
        new_messages=[],
        usage=Usage.from_dict(end.get("usage") or {}),
        cost=end.get("cost"),
        run_id=info.run_id,
        steps=int(end.get("steps") or 0),
    )
