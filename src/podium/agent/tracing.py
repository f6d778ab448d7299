"""Record a run's Message-Action Trace: every effect the loop asks for and its answer, in order.

A :class:`TraceRecorder` sits on both sides of a driver. :meth:`~TraceRecorder.wrap` wraps the loop
generator (between the loop and the driver): it sees each effect go out and its answer (or the exception
thrown back) come in, and writes one record per effect. :meth:`~TraceRecorder.watch` wraps the driver's
event stream: events the loop did not yield (stream deltas, tool progress, sub-agents' events) are the
driver's, and are kept with the effect they came from, so a replay can give them out again at the same
place. The loop's clock readings are recorded too (``spec.clock``), so budgets and a paused run's
``seconds`` replay to the same values.

Each effect's record is written when its answer arrives; a ``tools`` record (the calls a turn starts)
and a ``request`` record (what is sent) are written before they run, so a trace read after a crash
says what was in flight. Record kinds and fields: ``docs/traces.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

from podium.agent.effects import (
    AbandonTools,
    AskApproval,
    AwaitTool,
    Interrupted,
    RequestModel,
    RunAwaitable,
    StartTools,
    TakeMessages,
)
from podium.agent.events import AgentEvent, ApprovalDecided, ContextCompacted, RunPaused
from podium.agent.spec import LoopSpec
from podium.agent.subagent import SubAgentOutcome, Tally
from podium.messages import Message, message_to_dict, part_to_dict
from podium.providers.base import Model
from podium.settings import ModelSettings, ToolDefinition
from podium.tools.executor import ToolOutcome
from podium.trace.codec import decode, encode, encode_error
from podium.trace.format import TRACE_VERSION, Trace

__all__ = ["TraceRecorder", "decode_answer_tally", "decode_tally", "run_header"]

ResultT = TypeVar("ResultT")


class Resuming(Protocol):
    """What a resumed run's replay tells the recorder: whether the next record is already in the trace."""

    def replayed(self, phase: str) -> bool:
        """Whether the record of this phase is already in the trace.

        ``before``: the effect about to run has its record; ``after``: its answer came from the trace;
        ``event``: the loop event happened in the replayed part.
        """
        ...


_EFFECTS = (RequestModel, StartTools, AwaitTool, AbandonTools, AskApproval, RunAwaitable, TakeMessages)


_CACHE: dict[int, tuple[Any, Any]] = {}
_CACHE_SIZE = 512


def encode_cached(value: Any) -> Any:
    """``encode(value)`` for immutable values met again and again (settings, tool definitions): kept by identity.

    The encoded form is shared between records; records are never changed once written.
    """
    # a tool's definition is made anew for each run, from the same parameters schema: key on that schema
    key: Any = (
        (value.name, value.description, id(value.parameters), value.strict)
        if type(value) is ToolDefinition
        else id(value)
    )
    hit = _CACHE.get(key)
    if hit is not None and (
        hit[0] is value or (type(value) is ToolDefinition and hit[0].parameters is value.parameters)
    ):
        return hit[1]
    encoded = encode(value)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[key] = (value, encoded)  # the value is kept alive with it: its ids cannot be reused meanwhile
    return encoded


def run_header(
    spec: LoopSpec[Any], model: Model, *, stream: bool, run_id: str, settings: ModelSettings | None = None
) -> dict[str, Any]:
    """The ``run`` record: what the run was given (everything a replay needs but ``deps`` and tools)."""
    return {
        "version": TRACE_VERSION,
        "run_id": run_id,
        "started": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "agent": spec.agent_name,
        "model": f"{model.provider}:{model.model_name}",
        "stream": stream,
        "prompt": [part_to_dict(p) for p in spec.prompt] if spec.prompt is not None else None,
        "history": [message_to_dict(m) for m in spec.history] if spec.resume is None else None,
        "resume": spec.resume.to_json() if spec.resume is not None else None,
        "approvals": encode(dict(spec.approvals)) if spec.approvals else {},
        "settings": encode_cached(spec.settings),
        "max_steps": spec.max_steps,
        "exact_counts": spec.token_counter is not None,
        "options": {"settings": encode(settings) if settings is not None else None},
    }


class TraceRecorder:
    """Writes one run's records into ``trace`` (see the module docstring)."""

    def __init__(self, trace: Trace, *, resuming: Resuming | None = None) -> None:
        self.trace = trace
        self.resuming = resuming
        """When a run resumes from its trace: what the replay still answers from records (not written again)."""
        self._phase = "before"
        self._tools_seq = -1
        self._own: Any = None  # the last event the loop yielded (the watcher tells loop and driver events apart)
        self._events: list[Any] = []  # the driver's events since the last record
        self._clock: list[float] = []  # clock readings since the last record
        self._counts: list[int] = []  # exact token counts since the last record
        self._started: float = 0.0
        self._last_messages: list[Message] | None = None
        self._last_request: int | None = None
        self._last_tools: Sequence[Any] | None = None
        self._last_tools_seq: int | None = None
        self._calls: list[str] = []
        self._thrown = False

    def counter(self, inner: Any) -> Any:
        """``inner`` (the model's exact token counter), each count recorded (a replay needs no tokenizer)."""
        recorder = self

        class _Counter:
            def count_tokens(self, messages: Any, tools: Any) -> int:
                count = int(inner.count_tokens(messages, tools))
                recorder._counts.append(count)
                return count

        return _Counter()

    def clock(self) -> float:
        """The loop's clock: ``time.monotonic()``, each reading recorded."""
        now = time.monotonic()
        self._clock.append(now)
        return now

    def _muted(self) -> bool:
        """Whether the record about to be written is already in the trace (a resumed run's replayed part)."""
        if self.resuming is None:
            return False
        return self.resuming.replayed(self._phase)

    def _write(self, kind: str, data: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        if not force and self._muted():
            self._events, self._clock, self._counts = [], [], []
            self._last_messages = None
            return {"seq": -1}
        if self._events:
            data["events"] = self._events
            self._events = []
        if self._clock:
            data["clock"] = self._clock
            self._clock = []
        if self._counts:
            data["counts"] = self._counts
            self._counts = []
        return self.trace.append(kind, data)

    # -- the loop side

    def wrap(self, gen: Generator[Any, Any, ResultT]) -> Generator[Any, Any, ResultT]:
        """``gen`` with every effect and answer recorded (put it between the loop and the driver)."""
        answer: Any = None
        throw: BaseException | None = None
        while True:
            try:
                item = gen.throw(throw) if throw is not None else gen.send(answer)
            except StopIteration as stop:
                self._end(stop.value, None)
                return stop.value  # type: ignore[no-any-return]
            except BaseException as exc:
                self._end(None, exc)
                raise
            answer, throw = None, None
            if not isinstance(item, _EFFECTS):
                self._own = item
                self._phase = "event"
                self._loop_event(item)
                yield item
                continue
            self._phase = "before"
            self._before(item)
            if isinstance(item, StartTools) and self.trace.durable:
                item = dataclasses.replace(item, on_done=functools.partial(self._tool_done, self._tools_seq))
            self._phase = "after"
            if isinstance(item, RequestModel) and (throw := self._violation()) is not None:
                continue  # a contract stops the run before the request is sent
            self._started = time.perf_counter()
            try:
                answer = yield item
            except GeneratorExit:
                raise
            except BaseException as exc:
                self._after(item, None, exc)
                throw = exc
                continue
            self._after(item, answer, None)
            if isinstance(item, RequestModel) and (throw := self._violation()) is not None:
                answer = None  # ... or instead of the response that broke it (its tool calls never run)

    def _tool_done(self, batch: int, index: int, outcome: ToolOutcome) -> None:
        """A call finished (any thread): a ``done`` record, so a resumed run never runs a finished call again."""
        call_id = self._calls[index] if index < len(self._calls) else None
        self.trace.append(
            "done", {"batch": batch, "index": index, "call_id": call_id, "answer": _answer(outcome, None)}
        )

    def _violation(self) -> BaseException | None:
        """A contract's violation not yet thrown into the run."""
        found = self.trace.violation
        if found is None or self._thrown:
            return None
        self._thrown = True
        return found

    def _before(self, effect: Any) -> None:
        if isinstance(effect, RequestModel):
            self._request(effect)
        elif isinstance(effect, StartTools):
            self._calls = [inv.call.id for inv in effect.invocations]
            calls = [
                {"id": inv.call.id, "name": inv.call.name, "args": encode(inv.call.args)} for inv in effect.invocations
            ]
            self._tools_seq = self._write("tools", {"calls": calls})["seq"]

    def _request(self, effect: RequestModel) -> None:
        messages = effect.messages
        data: dict[str, Any] = {"step": effect.step, "purpose": effect.purpose}
        if effect.model is not None:
            data["model"] = f"{effect.model.provider}:{effect.model.model_name}"
        if effect.stream is False:
            data["stream"] = False
        prev = self._last_messages
        keep = 0
        if prev is not None:
            limit = min(len(prev), len(messages))
            while keep < limit and (prev[keep] is messages[keep] or prev[keep] == messages[keep]):
                keep += 1
        if prev is None or keep == 0:
            data["messages"] = {"all": [message_to_dict(m) for m in messages]}
        else:
            data["messages"] = {
                "base": self._last_request,
                "keep": keep,
                "add": [message_to_dict(m) for m in messages[keep:]],
            }
        if self._last_tools is not None and (self._last_tools is effect.tools or self._last_tools == effect.tools):
            data["tools"] = {"same_as": self._last_tools_seq}
        else:
            data["tools"] = [encode_cached(t) for t in effect.tools]
        data["settings"] = encode_cached(effect.settings)
        if effect.output is not None:
            data["output"] = encode(effect.output)
        record = self._write("request", data)
        if record["seq"] < 0:  # already in the trace (a resumed run's replayed part): the next one is written whole
            self._last_messages = self._last_tools = None
            return
        self._last_messages, self._last_request = list(messages), record["seq"]
        if not (isinstance(data["tools"], dict)):
            self._last_tools, self._last_tools_seq = effect.tools, record["seq"]

    def _after(self, effect: Any, answer: Any, error: BaseException | None) -> None:
        seconds = round(time.perf_counter() - self._started, 6)
        data: dict[str, Any]
        if isinstance(effect, RequestModel):
            data = {"step": effect.step, "answer": _answer(answer, error), "seconds": seconds}
            self._write("response", data)
        elif isinstance(effect, StartTools):
            if error is not None:
                self._write("tools_error", {"answer": _answer(None, error)})
        elif isinstance(effect, AwaitTool):
            call_id = self._calls[effect.index] if effect.index < len(self._calls) else None
            self._write("tool", {"index": effect.index, "call_id": call_id, "answer": _answer(answer, error)})
        elif isinstance(effect, AbandonTools):
            self._write("abandon", {"answer": _answer(_tallies(answer), error)})
        elif isinstance(effect, AskApproval):
            asked = [r.call_id for r in effect.requests]
            self._write("approval", {"calls": asked, "answer": _answer(answer, error)})
        elif isinstance(effect, RunAwaitable):
            self._write("await", {"answer": _answer(answer, error)})
        elif isinstance(effect, TakeMessages) and (answer or error is not None):  # nothing delivered: no record
            self._write("take", {"final": effect.final, "answer": _answer(list(answer or ()), error)})

    def _loop_event(self, event: Any) -> None:
        if isinstance(event, ApprovalDecided):
            self._write(
                "decision",
                {
                    "call_id": event.call.id,
                    "tool": event.call.name,
                    "decision": encode(event.decision),
                    "source": event.source,
                },
            )
        elif isinstance(event, ContextCompacted):
            self._write(
                "compaction",
                {
                    "step": event.step,
                    "tokens_before": event.tokens_before,
                    "tokens_after": event.tokens_after,
                    "strategies": list(event.strategies),
                    "errors": list(event.errors),
                    "usage": event.usage.to_dict(),
                },
            )
        elif isinstance(event, RunPaused):
            self._write("paused", {"pending": [r.call_id for r in event.paused.pending]})

    def _end(self, result: Any, error: BaseException | None) -> None:
        data: dict[str, Any]
        if error is not None:
            status = "cancelled" if type(error).__name__ in ("RunCancelled", "RunInterrupted") else "error"
            usage = getattr(error, "usage", None)
            data = {"status": status, "error": encode_error(error)}
            if usage is not None:
                data["usage"] = usage.to_dict()
        else:
            data = {
                "status": getattr(result, "status", "completed"),
                "steps": getattr(result, "steps", None),
                "usage": result.usage.to_dict() if hasattr(result, "usage") else None,
                "cost": getattr(result, "cost", None),
                "output": encode(result.output) if getattr(result, "status", "") == "completed" else None,
            }
        self._write("end", data, force=True)

    # -- the driver side

    def watch(self, events: Iterator[AgentEvent]) -> Generator[AgentEvent, None, Any]:
        """The driver's events, passed on; those the loop did not yield are kept for the next record."""
        it = iter(events)
        while True:
            try:
                event = next(it)
            except StopIteration as stop:
                return stop.value
            if event is not self._own:
                self._events.append(encode(event))
            yield event

    async def awatch(self, events: AsyncIterator[AgentEvent]) -> AsyncIterator[AgentEvent]:
        """Async twin of :meth:`watch`."""
        async for event in events:
            if event is not self._own:
                self._events.append(encode(event))
            yield event


def _answer(answer: Any, error: BaseException | None) -> dict[str, Any]:
    """An effect's answer as a record field: ``{"value"}``, ``{"error"}`` or ``{"interrupted"}``."""
    if error is not None:
        return {"error": encode_error(error)}
    if isinstance(answer, Interrupted):
        partial = answer.partial.to_dict() if answer.partial is not None else None
        return {"interrupted": {"partial": partial, "steered": answer.steered}}
    if isinstance(answer, ToolOutcome):
        out = {"result": encode(answer.result), "kind": answer.kind, "duration": answer.duration}
        if answer.error is not None:
            out["error"] = encode_error(answer.error)
        if isinstance(answer, SubAgentOutcome):
            out["tally"] = _tally(answer.tally)
            if answer.paused is not None:
                out["paused"] = answer.paused.to_json()
        return {"outcome": out}
    return {"value": encode(answer)}


def _tallies(answer: Any) -> Any:
    if not isinstance(answer, dict):
        return answer
    return {
        call_id: {"tally": _tally(tally)} if isinstance(tally, Tally) else tally for call_id, tally in answer.items()
    }


def _tally(tally: Tally) -> dict[str, Any]:
    return {k: [tally.usage[k].to_dict(), tally.cost.get(k)] for k in tally.usage}


def decode_tally(data: dict[str, Any]) -> Tally:
    """The :class:`Tally` :func:`_tally` wrote."""
    from podium.usage import Usage

    tally = Tally()
    for key, (usage, cost) in data.items():
        tally.add(key, Usage.from_dict(usage), cost)
    return tally


def decode_answer_tally(value: Any) -> Any:
    """The ``{call_id: Tally}`` an ``abandon`` record holds, rebuilt."""
    if not isinstance(value, dict):
        return decode(value)
    out: dict[str, Any] = {}
    for call_id, item in value.items():
        if isinstance(item, dict) and "tally" in item:
            out[call_id] = decode_tally(item["tally"])
        else:
            out[call_id] = decode(item)
    return out
