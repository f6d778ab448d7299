"""Replay a run from its trace, offline: the loop's effects are answered from the records.

:func:`replay` runs an agent again with a replay driver: each model request the loop asks for is compared
with the recorded one and answered with the recorded response (or error, or interruption); tool calls are
answered with their recorded outcomes, or run again (``tools="run"``, or per tool); approvals, steering
messages and sub-agents' events come from the trace too. The events given out are the same, event by
event, as the recorded run's. Where today's code asks something else (another prompt, another tool
schema, a call to another tool, effects in another order), the replay stops with :class:`ReplayMismatch`
naming the step and showing both sides.

Hooks and async approvers are code, not I/O: they run again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from podium.agent.drivers import _as_interrupted
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
from podium.agent.events import AgentEvent, RunFinished, SubAgentEvent
from podium.agent.result import RunResult
from podium.agent.spec import LoopSpec
from podium.agent.subagent import ChildInvocation, SubAgentOutcome
from podium.agent.tracing import TraceRecorder, decode_answer_tally, decode_tally
from podium.exceptions import PodiumError, RunCancelled, RunInterrupted
from podium.messages import ModelResponse, load_messages, message_to_dict, part_from_dict
from podium.paused import PausedRun
from podium.tools.executor import DEFAULT_MAX_OUTPUT, ToolInvocation, ToolOutcome, run_coroutine, run_sync
from podium.trace.codec import decode, decode_error, encode
from podium.trace.format import Trace, TraceError
from podium.usage import Usage

if TYPE_CHECKING:
    from podium.agent.agent import Agent, AsyncRunStream, RunStream

__all__ = ["ReplayMismatch", "Replayer", "ToolMode", "areplay", "replay"]

ResultT = TypeVar("ResultT")
ToolMode = Literal["trace", "run"]
"""``trace``: answer a tool call with its recorded outcome; ``run``: run the tool again."""

_KIND = {
    RequestModel: "request",
    StartTools: "tools",
    AwaitTool: "tool",
    AbandonTools: "abandon",
    AskApproval: "approval",
    RunAwaitable: "await",
    TakeMessages: "take",
}
_ANSWERS = frozenset({*_KIND.values(), "response", "tools_error"})


class ReplayMismatch(PodiumError, AssertionError):
    """The replayed run asked for something other than what the trace recorded.

    Attributes:
        step: The model request (1-based) the run was at.
        seq: The trace record that differs.
        what: What differs (``"kind"``, ``"messages[3]"``, ``"tool add"``, ...).
        recorded: The recorded side.
        actual: What the run asked for now.
    """

    def __init__(self, *, step: int, seq: int | None, what: str, recorded: Any, actual: Any) -> None:
        self.step, self.seq, self.what, self.recorded, self.actual = step, seq, what, recorded, actual
        super().__init__(
            f"replay differs at step {step} (trace record {seq}): {what}\n"
            f"  recorded: {_show(recorded)}\n"
            f"  now:      {_show(actual)}"
        )


def _show(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
    return text if len(text) <= limit else text[: limit - 20] + f"... ({len(text)} chars)"


class Replayer:
    """Answers one run's effects from ``trace`` (give it to ``Agent.stream(_replay=...)`` through :func:`replay`).

    Args:
        trace: The recorded run.
        tools: ``"trace"`` (default), ``"run"``, or a mapping from tool name to either (others: ``"trace"``).
            Sub-agent calls are always answered from the trace.
    """

    def __init__(self, trace: Trace, *, tools: ToolMode | Mapping[str, ToolMode] = "trace") -> None:
        trace.header  # noqa: B018 - refuses a trace without its `run` record
        self.trace = trace
        self.tools = tools
        self.records = [r for r in trace.records if r.get("kind") in _ANSWERS]
        self.position = 0
        self.step = 0
        self.readings = [float(t) for r in trace.records for t in r.get("clock", ())]
        self.counts = [int(c) for r in trace.records for c in r.get("counts", ())]
        self._count = 0
        self._reading = 0
        self.real_counter: Any = None
        self.counts_run_out_live = False
        """Past the recorded counts, count with the model's own counter (a resumed run) instead of failing."""
        self._live: dict[int, ToolInvocation] = {}

    # -- set-up

    def prepare(self, spec: LoopSpec[Any]) -> None:
        """Give the run the recorded run's id, clock and token counts (no tokenizer is loaded)."""
        spec.run_id = self.trace.run_id
        spec.clock = self.clock
        self.real_counter = spec.token_counter
        if self.trace.header.get("exact_counts"):
            spec.token_counter = _ReplayCounter(self)

    def clock(self) -> float:
        """The next recorded clock reading (the last one again when the recording has no more)."""
        if not self.readings:
            return 0.0
        value = self.readings[min(self._reading, len(self.readings) - 1)]
        self._reading += 1
        return value

    def recording_clock(self, recorder: TraceRecorder) -> Callable[[], float]:
        """The replay clock, its readings recorded (a replay that writes its own trace)."""

        def clock() -> float:
            value = self.clock()
            recorder._clock.append(value)
            return value

        return clock

    # -- matching

    def _next_is(self, kind: str) -> bool:
        return self.position < len(self.records) and self.records[self.position].get("kind") == kind

    def _take(self, kind: str, effect: Any) -> dict[str, Any]:
        if self.position >= len(self.records):
            raise ReplayMismatch(
                step=self.step, seq=None, what="the trace ended", recorded="(no more records)", actual=_name(effect)
            )
        record = self.records[self.position]
        self.position += 1
        if record["kind"] != kind:
            raise ReplayMismatch(
                step=self.step,
                seq=record.get("seq"),
                what="what the run asked for",
                recorded=record["kind"],
                actual=kind,
            )
        return record

    def _expect(self, effect: Any) -> dict[str, Any]:
        """The record answering ``effect``, after checking the run asks what was recorded."""
        kind = _KIND[type(effect)]
        if isinstance(effect, RequestModel):
            self.step = effect.step
            recorded = self._take("request", effect)
            self._compare_request(recorded, effect)
            return self._take("response", effect)
        record = self._take(kind, effect)
        if isinstance(effect, StartTools):
            self._compare_calls(record, effect)
        elif isinstance(effect, AskApproval):
            asked = [r.call_id for r in effect.requests]
            if asked != record.get("calls"):
                raise ReplayMismatch(
                    step=self.step,
                    seq=record["seq"],
                    what="calls asked for approval",
                    recorded=record.get("calls"),
                    actual=asked,
                )
        elif isinstance(effect, TakeMessages) and effect.final != record.get("final"):
            raise ReplayMismatch(
                step=self.step,
                seq=record["seq"],
                what="a final look for messages",
                recorded=record.get("final"),
                actual=effect.final,
            )
        return record

    def _scrubbed(self, value: Any) -> Any:
        return self.trace.scrubbed(value)

    def _compare_request(self, record: dict[str, Any], effect: RequestModel) -> None:
        seq = record["seq"]
        if record.get("purpose", "answer") != effect.purpose:
            raise ReplayMismatch(
                step=self.step, seq=seq, what="request purpose", recorded=record.get("purpose"), actual=effect.purpose
            )
        recorded_tools = self._scrubbed(self.trace.request_tools(record))
        actual_tools = self._scrubbed([encode(t) for t in effect.tools])
        if recorded_tools != actual_tools:
            self._tools_differ(seq, recorded_tools, actual_tools)
        recorded_messages = self._scrubbed(self.trace.request_messages(record))
        actual_messages = self._scrubbed([message_to_dict(m) for m in effect.messages])
        if recorded_messages != actual_messages:
            for i, (a, b) in enumerate(zip(recorded_messages, actual_messages, strict=False)):
                if a != b:
                    raise ReplayMismatch(
                        step=self.step, seq=seq, what=f"messages[{i}] of the request", recorded=a, actual=b
                    )
            raise ReplayMismatch(
                step=self.step,
                seq=seq,
                what="number of messages in the request",
                recorded=len(recorded_messages),
                actual=len(actual_messages),
            )
        for field, actual in (("settings", encode(effect.settings)), ("output", encode(effect.output))):
            if self._scrubbed(record.get(field)) != self._scrubbed(actual):
                raise ReplayMismatch(
                    step=self.step, seq=seq, what=f"request {field}", recorded=record.get(field), actual=actual
                )

    def _tools_differ(self, seq: int, recorded: list[Any], actual: list[Any]) -> None:
        before = {t.get("name"): t for t in recorded if isinstance(t, dict)}
        now = {t.get("name"): t for t in actual if isinstance(t, dict)}
        for name in [*before, *now]:
            if before.get(name) != now.get(name):
                raise ReplayMismatch(
                    step=self.step,
                    seq=seq,
                    what=f"definition of tool {name!r}",
                    recorded=before.get(name, "(not offered)"),
                    actual=now.get(name, "(not offered)"),
                )
        raise ReplayMismatch(
            step=self.step, seq=seq, what="order of the tools offered", recorded=list(before), actual=list(now)
        )

    def _compare_calls(self, record: dict[str, Any], effect: StartTools) -> None:
        recorded = [(c["name"], self._scrubbed(c["args"])) for c in record.get("calls", [])]
        actual = [(inv.call.name, self._scrubbed(encode(inv.call.args))) for inv in effect.invocations]
        if [(n, a) for n, a in recorded] != actual:
            raise ReplayMismatch(
                step=self.step, seq=record["seq"], what="tool calls started", recorded=recorded, actual=actual
            )

    # -- answers

    def _events(self, record: dict[str, Any]) -> list[AgentEvent]:
        return [_revive(decode(e)) for e in record.get("events", ())]

    def _answer(self, effect: Any, record: dict[str, Any]) -> tuple[Any, BaseException | None]:
        answer = record.get("answer") or {}
        if "error" in answer:
            return None, decode_error(answer["error"])
        if "interrupted" in answer:
            partial = answer["interrupted"].get("partial")
            return Interrupted(
                ModelResponse.from_dict(partial) if partial else None, bool(answer["interrupted"].get("steered"))
            ), None
        if "outcome" in answer:
            out = answer["outcome"]
            error = decode_error(out["error"]) if out.get("error") else None
            result, kind, duration = decode(out["result"]), out.get("kind", "ok"), float(out.get("duration", 0.0))
            if "tally" in out:
                paused = PausedRun.from_json(out["paused"]) if out.get("paused") else None
                return SubAgentOutcome(result, kind, duration, error, decode_tally(out["tally"]), paused), None
            return ToolOutcome(result, kind, duration, error), None
        value = answer.get("value")
        if isinstance(effect, RequestModel):
            data = value["v"] if isinstance(value, dict) and "v" in value else value
            if not isinstance(data, dict):
                raise TraceError(f"trace record {record.get('seq')}: a model response is missing")
            return ModelResponse.from_dict(data), None
        if isinstance(effect, AbandonTools):
            return decode_answer_tally(value), None
        return decode(value), None

    def _mode(self, invocation: ToolInvocation) -> ToolMode:
        if isinstance(invocation, ChildInvocation):
            return "trace"
        if isinstance(self.tools, str):
            return self.tools
        return self.tools.get(invocation.call.name, "trace")

    def _start(self, effect: StartTools, record: dict[str, Any]) -> None:
        self._live = {i: inv for i, inv in enumerate(effect.invocations) if self._mode(inv) == "run"}

    # -- drivers

    def _handle(self, item: Any) -> _Step:
        """What to do with one item the loop yielded (shared by both drivers)."""
        if type(item) not in _KIND:
            return _Step("event")
        if isinstance(item, RunAwaitable):
            self._take("await", item)
            return _Step("await")
        if isinstance(item, TakeMessages) and not self._next_is("take"):
            return _Step("answer", ())  # nothing was delivered here (such looks are not recorded)
        if self.position >= len(self.records) or (isinstance(item, RequestModel) and self._request_unanswered()):
            return self._exhausted(item)
        record = self._expect(item)
        events = self._events(record)
        if isinstance(item, StartTools):
            self._start(item, record)
        if isinstance(item, AwaitTool) and item.index in self._live:
            return _Step("run", self._live[item.index], events=events)
        answer, throw = self._answer(item, record)
        return _Step("answer", answer, throw, events)

    def _request_unanswered(self) -> bool:
        """The next records are a request without its response (the trace ends there)."""
        return self._next_is("request") and self.position + 1 >= len(self.records)

    def _exhausted(self, item: Any) -> _Step:
        """The trace has no record for ``item``: a replay reports it (a resumed run goes on live instead)."""
        seq = self.records[self.position].get("seq") if self.position < len(self.records) else None
        raise ReplayMismatch(
            step=self.step, seq=seq, what="the trace ended", recorded="(no answer)", actual=_name(item)
        )

    def drive_sync(
        self,
        gen: Generator[Any, Any, ResultT],
        model: Any,
        *,
        stream: bool = False,
        cancel: Any = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
        approver: Any = None,
        inbox: Any = None,
    ) -> Generator[AgentEvent, None, ResultT]:
        """Drive ``gen`` from the trace in this thread (the signature of :func:`~podium.agent.drivers.drive_sync`)."""
        answer: Any = None
        throw: BaseException | None = None
        try:
            while True:
                try:
                    item = gen.throw(throw) if throw is not None else gen.send(answer)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                except RunCancelled as exc:
                    raise self._as_recorded(exc) from exc.__cause__
                answer, throw = None, None
                step = self._handle(item)
                yield from step.events
                if step.action == "event":
                    yield item
                elif step.action == "await":
                    answer, throw = _settle(functools.partial(run_coroutine, _returning(item.awaitable)))
                elif step.action == "run":
                    answer = run_sync(step.value, max_output)
                elif step.action == "live":
                    from podium.agent.drivers import drive_sync

                    live = drive_sync(
                        _continue(gen, item),
                        model,
                        stream=stream,
                        cancel=cancel,
                        max_output=max_output,
                        approver=approver,
                        inbox=inbox,
                    )
                    return (yield from live)
                else:
                    answer, throw = step.value, step.throw
        finally:
            gen.close()

    async def drive_async(
        self,
        gen: Generator[Any, Any, ResultT],
        model: Any,
        *,
        stream: bool = False,
        cancel: Any = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
        result_box: list[ResultT] | None = None,
        approver: Any = None,
        inbox: Any = None,
    ) -> AsyncIterator[AgentEvent]:
        """Async twin of :meth:`drive_sync` (the signature of :func:`~podium.agent.async_driver.drive_async`)."""
        answer: Any = None
        throw: BaseException | None = None
        try:
            while True:
                try:
                    item = gen.throw(throw) if throw is not None else gen.send(answer)
                except StopIteration as stop:
                    if result_box is not None:
                        result_box.append(stop.value)
                    return
                except RunCancelled as exc:
                    raise self._as_recorded(exc) from exc.__cause__
                answer, throw = None, None
                step = self._handle(item)
                for event in step.events:
                    yield event
                if step.action == "event":
                    yield item
                elif step.action == "await":
                    try:
                        answer = await item.awaitable
                    except Exception as exc:
                        throw = exc
                elif step.action == "run":
                    answer = await asyncio.to_thread(run_sync, step.value, max_output)
                elif step.action == "live":
                    from podium.agent.async_driver import drive_async

                    live = drive_async(
                        _continue(gen, item),
                        model,
                        stream=stream,
                        cancel=cancel,
                        max_output=max_output,
                        result_box=result_box,
                        approver=approver,
                        inbox=inbox,
                    )
                    async for event in live:
                        yield event
                    return
                else:
                    answer, throw = step.value, step.throw
        finally:
            gen.close()

    def _as_recorded(self, exc: RunCancelled) -> RunCancelled:
        """A cancellation as the recorded run raised it (a Ctrl-C gave :class:`RunInterrupted`)."""
        end = self.trace.end or {}
        recorded = str((end.get("error") or {}).get("type", ""))
        if recorded.endswith(":RunInterrupted") and not isinstance(exc, RunInterrupted):
            return _as_interrupted(exc)
        return exc


class _ReplayCounter:
    """The recorded run's exact token counts, in order (the model's tokenizer is not loaded)."""

    def __init__(self, replayer: Replayer) -> None:
        self.replayer = replayer

    def count_tokens(self, messages: Any, tools: Any) -> int:
        r = self.replayer
        if r._count >= len(r.counts) and r.counts_run_out_live and r.real_counter is not None:
            return int(r.real_counter.count_tokens(messages, tools))  # a resumed run past its recorded part
        if r._count >= len(r.counts):
            raise ReplayMismatch(
                step=r.step,
                seq=None,
                what="a token count",
                recorded="(no more counts)",
                actual=f"{len(messages)} messages",
            )
        r._count += 1
        return r.counts[r._count - 1]


def _revive(event: Any) -> Any:
    """A decoded event with a sub-agent's run result rebuilt (the trace layer reads it back as a mapping)."""
    if isinstance(event, SubAgentEvent) and isinstance(event.event, RunFinished):
        data: Any = event.event.result
        if isinstance(data, dict):
            result: RunResult[Any] = RunResult(
                output=data.get("output"),
                messages=list(data.get("messages") or ()),
                new_messages=list(data.get("new_messages") or ()),
                usage=data.get("usage") or Usage(),
                cost=data.get("cost"),
                run_id=str(data.get("run_id", "")),
                steps=int(data.get("steps") or 0),
                status=data.get("status", "completed"),
                paused=data.get("paused"),
            )
            return dataclasses.replace(event, event=RunFinished(result))
    return event


@dataclasses.dataclass(slots=True)
class _Step:
    """What a replay driver does with one item.

    Pass an ``event`` on, ``await`` a hook, ``run`` a tool again, ``answer`` from the trace, or go ``live``
    (a resumed run whose trace ran out).
    """

    action: Literal["event", "await", "run", "answer", "live"]
    value: Any = None
    throw: BaseException | None = None
    events: list[Any] = dataclasses.field(default_factory=list)


def _continue(gen: Generator[Any, Any, ResultT], pending: Any) -> Generator[Any, Any, ResultT]:
    """``gen`` as a fresh generator whose first item is ``pending`` (already taken from ``gen``).

    A live driver takes over a run the replay driver started.
    """
    item = pending
    while True:
        try:
            sent = yield item
        except GeneratorExit:
            gen.close()
            raise
        except BaseException as exc:
            try:
                item = gen.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        try:
            item = gen.send(sent)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def _settle(fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return fn(), None
    except Exception as exc:
        return None, exc


def _returning(awaitable: Any) -> Callable[[], Any]:
    return lambda: awaitable


def _name(effect: Any) -> str:
    return _KIND.get(type(effect), type(effect).__name__)


def _inputs(trace: Trace) -> dict[str, Any]:
    """The recorded run's inputs, as ``Agent.stream`` keyword arguments."""
    header = trace.header
    kwargs: dict[str, Any] = {}
    if header.get("resume"):
        kwargs["resume"] = PausedRun.from_json(header["resume"])
    else:
        kwargs["message_history"] = load_messages({"version": 1, "messages": header.get("history") or []})
    if header.get("prompt") is not None:
        kwargs["prompt"] = [part_from_dict(p) for p in header["prompt"]]
    approvals = decode(header.get("approvals") or {})
    if approvals:
        kwargs["approvals"] = approvals
    options = header.get("options") or {}
    if options.get("settings") is not None:
        kwargs["settings"] = decode(options["settings"])
    return kwargs


def replay(
    agent: Agent[Any],
    trace: Trace,
    *,
    tools: ToolMode | Mapping[str, ToolMode] = "trace",
    deps: Any = None,
    inject: Mapping[str, Any] | None = None,
    record: Trace | None = None,
) -> RunStream[Any]:
    """Run ``agent`` again from ``trace`` with no model called: iterate the events, then read ``.result``.

    The run gets the recorded prompt, history (or paused run), approvals and settings; ``deps`` and
    ``inject`` are not in traces (give them again when tools run). ``record`` writes the replay's own trace.

    Raises (while iterating):
        ReplayMismatch: the run asked for something else than the trace recorded (see its message).
        Whatever the recorded run raised (a provider error, ``RunCancelled``), at the same point.
    """
    try:
        kwargs = _inputs(trace)
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceError(f"the trace's `run` record cannot be read: {exc}") from None
    return agent.stream(
        deps=deps,
        inject=inject,
        trace=record,
        _stream_model=bool(trace.header.get("stream", True)),
        _replay=Replayer(trace, tools=tools),
        **kwargs,
    )


def areplay(
    agent: Agent[Any],
    trace: Trace,
    *,
    tools: ToolMode | Mapping[str, ToolMode] = "trace",
    deps: Any = None,
    inject: Mapping[str, Any] | None = None,
    record: Trace | None = None,
) -> AsyncRunStream[Any]:
    """Async twin of :func:`replay`; iterate it with ``async for``."""
    try:
        kwargs = _inputs(trace)
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceError(f"the trace's `run` record cannot be read: {exc}") from None
    return agent.astream(
        deps=deps,
        inject=inject,
        trace=record,
        _stream_model=bool(trace.header.get("stream", True)),
        _replay=Replayer(trace, tools=tools),
        **kwargs,
    )
