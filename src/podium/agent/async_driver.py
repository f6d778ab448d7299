"""The asynchronous driver: performs the loop's effects on the running event loop, tools as tasks.

See :mod:`podium.agent.drivers` for what drivers do; this one reads a model's stream in a task of its own
(:class:`_StreamPump`), runs async tools as tasks and sync tools on the tool thread pool, races every wait
against the run's cancel token and the inbox's interrupting messages, and runs sub-agents as tasks.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from podium.agent.approval import Approver, Decision, decision_from
from podium.agent.cancel import CancelToken
from podium.agent.children import AsyncChildren
from podium.agent.driving import Progress, in_context, no_final_response, partial_response, report_done, tool_pool
from podium.agent.effects import (
    AbandonTools,
    AskApproval,
    AwaitTool,
    Effect,
    Interrupted,
    RequestModel,
    RunAwaitable,
    StartTools,
    TakeMessages,
)
from podium.agent.events import AgentEvent
from podium.agent.inbox import Inbox
from podium.agent.subagent import ChildInvocation, Tally
from podium.messages import Message, ModelResponse
from podium.providers.base import Model
from podium.streaming import TextDelta
from podium.tools.executor import (
    DEFAULT_MAX_OUTPUT,
    ToolInvocation,
    ToolOutcome,
    run_async,
)

__all__ = ["drive_async"]

ResultT = TypeVar("ResultT")
"""What the driven generator returns (a ``RunResult`` for a run)."""


async def _ask_async(effect: AskApproval, approver: Approver | None) -> dict[str, Decision]:
    """Answers of an approver that may be async."""
    if approver is None:
        return {}
    answers: dict[str, Decision] = {}
    for request in effect.requests:
        value: Any = approver(request)
        if inspect.isawaitable(value):
            value = await value
        answers[request.call_id] = decision_from(value)
    return answers


# --------------------------------------------------------------------------- async driver


class _StreamPump:
    """Reads a model's async stream in a task of its own and hands its events over in batches.

    Awaiting each ``__anext__`` in a fresh task raced against the cancel event cost two tasks and an
    ``asyncio.wait`` per stream event (a 200-chunk stream took ~3x the CPU of a plain httpx loop). Here one
    task reads the stream; the driver takes what it has buffered and waits on one future only when the
    buffer is empty. Cancelling the run cancels the reading task at once. The reader stays at most
    ``_AHEAD`` events ahead of the driver, so a slow consumer still slows the reading.
    """

    _AHEAD = 256

    def __init__(self, events: AsyncIterator[Any]) -> None:
        import asyncio
        from collections import deque

        self._events = events
        self._loop = asyncio.get_running_loop()
        self.buffer: deque[Any] = deque()
        self.error: Exception | None = None
        self.finished = False
        self._waiter: asyncio.Future[None] | None = None
        self._space: asyncio.Future[None] | None = None
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        import asyncio

        try:
            async for event in self._events:
                self.buffer.append(event)
                self._wake()
                if isinstance(event, ModelResponse):
                    break
                if len(self.buffer) >= self._AHEAD:
                    self._space = self._loop.create_future()
                    await self._space
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            self.error = exc
        finally:
            self.finished = True
            self._wake()
            await self._events.aclose()  # type: ignore[attr-defined]

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self) -> Any:
        """The next event; ``None`` once the stream ended or was stopped (see :attr:`error`)."""
        while not self.buffer:
            if self.finished:
                return None
            self._waiter = self._loop.create_future()
            await self._waiter
        if self._space is not None and not self._space.done():
            self._space.set_result(None)
        return self.buffer.popleft()

    def stop(self) -> None:
        """Stop reading (the run is cancelled)."""
        if not self.finished:
            self.task.cancel()
        self._wake()

    async def close(self) -> None:
        """Stop reading and wait until the stream is closed."""
        import asyncio

        if not self.finished:  # once finished, the task is closing the stream: let it
            self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class _Answer:
    """The answer to send into the loop (or the error to throw into it) after a model request."""

    value: Any = None
    throw: BaseException | None = None


class _AsyncEffects:
    """Performs the effects of one run on the running event loop (the async driver's state)."""

    def __init__(
        self, model: Model, cancel: CancelToken | None, max_output: int, approver: Approver | None, inbox: Inbox | None
    ) -> None:
        import asyncio

        self.model = model
        self.cancel = cancel
        self.max_output = max_output
        self.approver = approver
        self.inbox = inbox
        self.loop = asyncio.get_running_loop()
        self.cancelled = asyncio.Event()
        self.halt = asyncio.Event()
        """Set when the run is cancelled or an interrupting message arrives: stop waiting."""
        self.pump: _StreamPump | None = None
        self.invocations: list[ToolInvocation] = []
        self.tasks: list[asyncio.Future[ToolOutcome]] = []
        self.children: AsyncChildren | None = None
        self.progress = Progress()
        self.unregister: Callable[[], None] = lambda: None
        self.unsteer: Callable[[], None] = lambda: None
        if cancel is not None:
            self.unregister = cancel.on_cancel(self._wake)
        if inbox is not None:
            self.unsteer = inbox.on_interrupt(self._wake_steer)

    def _wake(self) -> None:  # from any thread
        self.loop.call_soon_threadsafe(self._on_cancel)

    def _on_cancel(self) -> None:
        self.cancelled.set()
        self._stop()

    def _wake_steer(self) -> None:  # from any thread (or task)
        with contextlib.suppress(RuntimeError):  # the run's event loop closed: nothing left to wake
            self.loop.call_soon_threadsafe(self._on_steer)

    def _on_steer(self) -> None:
        if self.inbox is not None and self.inbox.interrupting:  # not already taken by the loop
            self._stop()

    def _stop(self) -> None:
        self.halt.set()
        if self.pump is not None:
            self.pump.stop()

    def is_cancelled(self) -> bool:
        """Whether the run is cancelled (the token's flag is seen before its callback reaches the loop)."""
        return self.cancelled.is_set() or (self.cancel is not None and self.cancel.cancelled)

    def interruption(self) -> Interrupted | None:
        """The answer for a wait stopped by a cancel or by an interrupting message; ``None`` if neither."""
        if self.is_cancelled():
            return Interrupted()
        if self.inbox is not None and self.inbox.interrupting:
            return Interrupted(steered=True)
        return None

    def take(self, final: bool) -> tuple[Message, ...]:
        """Answer ``TakeMessages`` from the inbox (an interrupt it held is over)."""
        if self.inbox is None:
            return ()
        taken = self.inbox.take(final=final)
        if self.halt.is_set() and not self.is_cancelled():
            self.halt.clear()
        return taken

    async def race(self, aw: Awaitable[Any]) -> tuple[bool, Any]:
        """Await ``aw`` unless the run is cancelled or interrupted first; returns (finished, value)."""
        import asyncio

        task = asyncio.ensure_future(aw)
        if self.cancel is None and self.inbox is None:
            return True, await task
        if self.interruption() is not None:
            task.cancel()
            return False, None
        waiter = asyncio.ensure_future(self.halt.wait())
        try:
            done, _ = await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task in done:
            return True, task.result()
        task.cancel()
        return False, None

    async def request(self, item: RequestModel, stream: bool) -> AsyncIterator[AgentEvent | _Answer]:
        """Perform one model request: its stream events, then the :class:`_Answer`."""
        stopped = self.interruption()
        if stopped is not None:
            yield _Answer(stopped)
            return
        model = item.model or self.model
        try:
            if stream and item.stream is not False:
                async for event in self._streamed(model, item):
                    yield event
                return
            call = model.arequest(item.messages, tools=item.tools, settings=item.settings, output=item.output)
            finished, value = await self.race(call)
            yield _Answer(value if finished else self.interruption())
        except Exception as exc:
            yield _Answer(throw=exc)

    async def _streamed(self, model: Model, item: RequestModel) -> AsyncIterator[AgentEvent | _Answer]:
        texts: dict[int, list[str]] = {}
        response: ModelResponse | None = None
        events = model.astream(item.messages, tools=item.tools, settings=item.settings, output=item.output)
        pump = self.pump = _StreamPump(events)
        try:
            inbox = self.inbox
            while (event := await pump.next()) is not None and not self.is_cancelled():
                if isinstance(event, ModelResponse):
                    response = event
                    break
                if inbox is not None and inbox.interrupting:
                    break
                if isinstance(event, TextDelta):
                    texts.setdefault(event.index, []).append(event.text)
                yield event
        finally:
            await pump.close()
            self.pump = None
        stopped = self.interruption() if response is None else None
        if response is not None:
            yield _Answer(response)
        elif stopped is not None:
            yield _Answer(replace(stopped, partial=partial_response(texts)))
        elif pump.error is not None:
            yield _Answer(throw=pump.error)
        else:
            yield _Answer(throw=no_final_response(model))

    def _in_thread(self, fn: Callable[[], Any]) -> Awaitable[Any]:
        return self.loop.run_in_executor(tool_pool(), in_context(fn))

    async def perform(self, item: Any) -> _Answer:
        """Perform a tool, approval or awaitable effect."""
        import asyncio

        if isinstance(item, StartTools):
            steering = self.inbox is not None and self.inbox.interrupting  # the calls are not started
            self.invocations = [] if steering else item.invocations
            self.children = None
            self.tasks = []
            self.progress = Progress()
            for i, inv in enumerate(self.invocations):
                if isinstance(inv, ChildInvocation):
                    if self.children is None:
                        self.children = AsyncChildren(self.cancel, self.approver)
                    self.tasks.append(asyncio.ensure_future(self.children.start(i, inv, self.max_output)))
                else:
                    call = run_async(self.progress.attach(inv), self._in_thread, self.max_output)
                    self.tasks.append(asyncio.ensure_future(call))
            if item.on_done is not None:
                for i, task in enumerate(self.tasks):
                    task.add_done_callback(functools.partial(report_done, item.on_done, i))
        elif isinstance(item, AwaitTool):
            stopped = self.interruption()
            if stopped is not None:
                done = self.finished(item.index) if stopped.steered else None
                return _Answer(done or stopped)
            finished, value = await self.race(asyncio.shield(self.tasks[item.index]))
            return _Answer(value if finished else self.interruption())
        elif isinstance(item, AbandonTools):
            return _Answer(self.abandon())
        elif isinstance(item, AskApproval):
            return _Answer(await _ask_async(item, self.approver))
        elif isinstance(item, RunAwaitable):
            try:
                return _Answer(await item.awaitable)
            except Exception as exc:
                return _Answer(throw=exc)
        return _Answer()

    def finished(self, index: int) -> ToolOutcome | None:
        """The outcome of tool task ``index`` if it has finished (not when never started or cancelled)."""
        if index >= len(self.tasks):
            return None
        task = self.tasks[index]
        return task.result() if task.done() and not task.cancelled() else None

    async def await_tool(self, item: AwaitTool) -> AsyncIterator[AgentEvent | _Answer]:
        """Wait for a call of a batch without sub-agents: the progress it reports meanwhile, then the answer."""
        import asyncio

        while True:
            poke = asyncio.Event()

            def poked(poke: asyncio.Event = poke) -> None:  # from any thread
                with contextlib.suppress(RuntimeError):  # the loop closed: nothing left to wake
                    self.loop.call_soon_threadsafe(poke.set)

            unwatch = self.progress.watch(poked)
            try:
                answer = await self.perform_until(item, poke)
            finally:
                unwatch()
            for event in self.progress.take():
                yield event
            if answer is not None:
                if item.index < len(self.invocations):
                    self.progress.finish(self.invocations[item.index].call.id)
                yield answer
                return

    async def perform_until(self, item: AwaitTool, poke: Any) -> _Answer | None:
        """``perform(item)``, or ``None`` once ``poke`` is set first (progress to yield; the call goes on)."""
        import asyncio

        stopped = self.interruption()
        if stopped is not None:
            done = self.finished(item.index) if stopped.steered else None
            return _Answer(done or stopped)
        task = self.tasks[item.index]
        poked = asyncio.ensure_future(poke.wait())
        try:
            finished, _ = await self.race(
                asyncio.wait([asyncio.shield(task), poked], return_when=asyncio.FIRST_COMPLETED)
            )
        finally:
            poked.cancel()
        if not finished:
            return _Answer(self.interruption())
        if task.done():
            return _Answer(task.result())
        return None

    async def await_children(self, item: AwaitTool) -> AsyncIterator[AgentEvent | _Answer]:
        """Wait for a call of a batch with sub-agent calls: their events as they come, then the :class:`_Answer`."""
        assert self.children is not None
        stopped = self.interruption()
        if stopped is not None:
            yield _Answer((self.finished(item.index) if stopped.steered else None) or stopped)
            return
        async for value in self.children.wait(self.tasks[item.index], self.interruption, self.halt):
            if isinstance(value, (ToolOutcome, Interrupted)):
                yield _Answer(value)
            else:
                yield value

    def abandon(self) -> dict[str, Tally] | None:
        """Cancel the tool tasks still running (their calls are told through ``ctx.abandoned``).

        Returns what the batch's sub-agents used so far, by call id (the loop counts each call once).
        """
        for i, (inv, task) in enumerate(zip(self.invocations, self.tasks, strict=True)):
            if not task.done():
                task.cancel()
                inv.abandon()
                if self.children is not None:
                    self.children.abandon(i)
        return self.children.used() if self.children is not None else None

    def close(self) -> None:
        self.unregister()
        self.unsteer()
        if self.inbox is not None:
            self.inbox.close()
        self.abandon()


_TOOL_EFFECTS = (StartTools, AwaitTool, AbandonTools, AskApproval, RunAwaitable)


async def drive_async(
    gen: Generator[Effect | AgentEvent, Any, ResultT],
    model: Model,
    *,
    stream: bool,
    cancel: CancelToken | None = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    result_box: list[ResultT] | None = None,
    approver: Approver | None = None,
    inbox: Inbox | None = None,
) -> AsyncIterator[AgentEvent]:
    """Run the loop on the event loop, tools as tasks; yields events; the result goes to ``result_box``.

    ``inbox`` holds the messages sent into the run (steering); it is closed when the run ends.
    """
    effects = _AsyncEffects(model, cancel, max_output, approver, inbox)
    answer = _Answer()
    try:
        while True:
            try:
                item = gen.throw(answer.throw) if answer.throw is not None else gen.send(answer.value)
            except StopIteration as stop:
                if result_box is not None:
                    result_box.append(stop.value)
                return
            answer = _Answer()
            if isinstance(item, RequestModel):
                async for event in effects.request(item, stream):
                    if isinstance(event, _Answer):
                        answer = event
                    else:
                        yield event
            elif isinstance(item, AwaitTool):
                waiting = effects.await_children(item) if effects.children is not None else effects.await_tool(item)
                async for event in waiting:
                    if isinstance(event, _Answer):
                        answer = event
                    else:
                        yield event
            elif isinstance(item, TakeMessages):
                answer = _Answer(effects.take(item.final))
            elif isinstance(item, _TOOL_EFFECTS):
                answer = await effects.perform(item)
            else:
                yield item
    finally:
        effects.close()
