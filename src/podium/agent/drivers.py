"""Drivers perform the loop's effects: a synchronous one (threads) and an asynchronous one (tasks).

Both turn the loop generator into a stream of events and return the run's result. They are the only
place where models are called and tools run.

Interrupts in the sync driver: the model request runs in the calling thread, so Ctrl-C reaches it
directly. A ``KeyboardInterrupt`` while the driver waits on the model or on tools becomes a cancellation
(the run raises :class:`~podium.exceptions.RunInterrupted`, a ``RunCancelled`` and ``KeyboardInterrupt``
with a valid ``.messages``). A cancel token triggered *in the driver's thread* while it blocks on the
model (a SIGINT handler such as the CLI's calls ``token.cancel()``) interrupts the request at once; one
triggered from another thread takes effect at the next stream event, or when the request's read timeout
ends a stalled answer.
"""

from __future__ import annotations

import concurrent.futures as cf
import inspect
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

from podium.agent.approval import Approver, Decision, decision_from
from podium.agent.cancel import CancelToken
from podium.agent.events import AgentEvent
from podium.agent.loop import AbandonTools, AskApproval, AwaitTool, Effect, Interrupted, RequestModel, StartTools
from podium.agent.result import OutputT, RunResult
from podium.exceptions import RunCancelled, RunInterrupted, UserError
from podium.messages import ModelResponse, Text
from podium.providers.base import Model
from podium.streaming import TextDelta
from podium.tools.executor import (
    DEFAULT_MAX_OUTPUT,
    ToolInvocation,
    ToolOutcome,
    run_async,
    run_sync,
    timeout_outcome,
)

__all__ = ["drive_async", "drive_sync", "tool_pool"]

logger = logging.getLogger("podium.agent")

_pool: cf.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def tool_pool() -> cf.ThreadPoolExecutor:
    """The shared thread pool that runs sync tools (created on first use)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                workers = int(os.environ.get("PODIUM_TOOL_THREADS", "0")) or 64
                _pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="podium-tool")
    return _pool


LoopGen = Generator["Effect | AgentEvent", Any, "RunResult[OutputT]"]


def _partial(texts: dict[int, list[str]], request: RequestModel) -> ModelResponse | None:
    if not texts:
        return None
    parts = tuple(Text("".join(texts[i])) for i in sorted(texts))
    return ModelResponse(parts, finish_reason="cancelled")


class _SyncTools:
    """The running tool calls of one ``StartTools`` effect (sync driver)."""

    def __init__(self, invocations: list[ToolInvocation], max_output: int) -> None:
        self.invocations = invocations
        self.max_output = max_output
        self.started = time.perf_counter()
        # One call without a timeout runs inline when awaited: no thread hop.
        self.inline = len(invocations) == 1 and invocations[0].tool.timeout is None
        self.futures: list[cf.Future[ToolOutcome]] = []
        if not self.inline:
            pool = tool_pool()
            self.futures = [pool.submit(run_sync, inv, max_output) for inv in invocations]

    def wait(self, index: int, cancel: CancelToken | None) -> ToolOutcome | Interrupted:
        inv = self.invocations[index]
        if self.inline:
            return run_sync(inv, self.max_output)
        future = self.futures[index]
        timeout = inv.tool.timeout
        remaining = None if timeout is None else max(0.0, self.started + timeout - time.perf_counter())
        if cancel is None:
            try:
                return future.result(timeout=remaining)
            except cf.TimeoutError:
                return timeout_outcome(inv, timeout or 0.0, self.started)
        waker: cf.Future[Any] = cf.Future()

        def wake() -> None:
            if not waker.done():
                waker.set_result(None)

        unregister = cancel.on_cancel(wake)
        try:
            done, _ = cf.wait([future, waker], timeout=remaining, return_when=cf.FIRST_COMPLETED)
        finally:
            unregister()
        if future in done:
            return future.result()
        if waker in done:
            return Interrupted()
        return timeout_outcome(inv, timeout or 0.0, self.started)

    def abandon(self) -> None:
        for future in self.futures:
            future.cancel()  # not-yet-started calls never start; running threads cannot be killed


class _Interrupt(KeyboardInterrupt):
    """Raised in the driver's thread by a cancel that arrives there while a model request blocks it."""


class _Interrupter:
    """Lets a cancel in the driver's own thread (a SIGINT handler) break into a blocking model call."""

    __slots__ = ("armed", "keyboard", "thread", "unregister")

    def __init__(self, cancel: CancelToken | None) -> None:
        self.armed = False
        self.keyboard = False
        """Whether a ``KeyboardInterrupt`` (not a cancel token) stopped the run."""
        self.thread = threading.get_ident()
        self.unregister = cancel.on_cancel(self._on_cancel) if cancel is not None else (lambda: None)

    def _on_cancel(self) -> None:
        if self.armed and threading.get_ident() == self.thread:
            self.armed = False
            raise _Interrupt("cancelled while waiting for the model")

    def interrupted(self, exc: KeyboardInterrupt, cancel: CancelToken | None) -> None:
        """Record an interrupt that reached the driver (and cancel the run's token with it)."""
        if not isinstance(exc, _Interrupt):
            self.keyboard = True
            if cancel is not None:
                cancel.cancel("interrupted (KeyboardInterrupt)")


def _next(events: Any, interrupter: _Interrupter) -> Any:
    """The next event of a model stream (``None`` at its end); a cancel in this thread interrupts the wait."""
    interrupter.armed = True
    try:
        return next(events, None)
    finally:
        interrupter.armed = False


def _request_sync(
    model: Model, item: RequestModel, stream: bool, cancel: CancelToken | None, interrupter: _Interrupter
) -> Generator[AgentEvent, None, tuple[Any, BaseException | None]]:
    """Perform one model request (yielding stream events); returns ``(answer, error to throw)``."""
    texts: dict[int, list[str]] = {}
    try:
        if not stream:
            interrupter.armed = True
            try:
                return model.request(item.messages, tools=item.tools, settings=item.settings, output=item.output), None
            finally:
                interrupter.armed = False
        events = model.stream(item.messages, tools=item.tools, settings=item.settings, output=item.output)
        try:
            while (event := _next(events, interrupter)) is not None:
                if isinstance(event, ModelResponse):
                    return event, None
                if isinstance(event, TextDelta):
                    texts.setdefault(event.index, []).append(event.text)
                yield event
                if cancel is not None and cancel.cancelled:
                    return Interrupted(_partial(texts, item)), None
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return None, _no_final_response(model)
    except KeyboardInterrupt as exc:
        interrupter.interrupted(exc, cancel)
        return Interrupted(_partial(texts, item)), None
    except Exception as exc:
        return None, exc


def drive_sync(
    gen: LoopGen[OutputT],
    model: Model,
    *,
    stream: bool,
    cancel: CancelToken | None = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    approver: Approver | None = None,
) -> Generator[AgentEvent, None, RunResult[OutputT]]:
    """Run the loop in this thread, tools on a thread pool; yields events, returns the result."""
    answer: Any = None
    throw: BaseException | None = None
    tools: _SyncTools | None = None
    interrupter = _Interrupter(cancel)
    try:
        while True:
            try:
                item = gen.throw(throw) if throw is not None else gen.send(answer)
            except StopIteration as stop:
                result: RunResult[OutputT] = stop.value
                return result
            except RunCancelled as exc:
                if interrupter.keyboard and not isinstance(exc, RunInterrupted):
                    raise _as_interrupted(exc) from exc.__cause__
                raise
            answer = None
            throw = None
            if isinstance(item, RequestModel):
                if cancel is not None and cancel.cancelled:
                    answer = Interrupted()
                    continue
                answer, throw = yield from _request_sync(model, item, stream, cancel, interrupter)
            elif isinstance(item, StartTools):
                tools = _SyncTools(item.invocations, max_output)
            elif isinstance(item, AwaitTool):
                assert tools is not None
                try:
                    answer = (
                        Interrupted() if cancel is not None and cancel.cancelled else tools.wait(item.index, cancel)
                    )
                except KeyboardInterrupt as exc:
                    interrupter.interrupted(exc, cancel)
                    answer = Interrupted()
            elif isinstance(item, AbandonTools):
                if tools is not None:
                    tools.abandon()
            elif isinstance(item, AskApproval):
                answer = _ask_sync(item, approver)
            else:
                yield item
    finally:
        interrupter.unregister()


def _as_interrupted(exc: RunCancelled) -> RunInterrupted:
    """``exc`` as the :class:`RunInterrupted` a Ctrl-C gives (same history and usage)."""
    return RunInterrupted(
        "the run was interrupted (Ctrl-C); `.messages` is a valid history to continue from",
        messages=exc.messages or (),
        new_messages=exc.new_messages,
        usage=exc.usage,
    )


def _ask_sync(effect: AskApproval, approver: Approver | None) -> dict[str, Decision]:
    """Answers of a synchronous approver (no approver: nothing is decided and the run pauses)."""
    if approver is None:
        return {}
    answers: dict[str, Decision] = {}
    for request in effect.requests:
        value = approver(request)
        if inspect.isawaitable(value):
            raise UserError("an async approver needs the async driver (arun/astream)")
        answers[request.call_id] = decision_from(value)
    return answers


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


def _no_final_response(model: Model) -> Exception:
    from podium.exceptions import UnexpectedModelBehavior

    return UnexpectedModelBehavior(f"{model!r}: the stream ended without a final response")


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


async def drive_async(
    gen: LoopGen[OutputT],
    model: Model,
    *,
    stream: bool,
    cancel: CancelToken | None = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    result_box: list[RunResult[OutputT]] | None = None,
    approver: Approver | None = None,
) -> AsyncIterator[AgentEvent]:
    """Run the loop on the event loop, tools as tasks; yields events; the result goes to ``result_box``."""
    import asyncio

    loop = asyncio.get_running_loop()
    cancelled = asyncio.Event()
    unregister: Callable[[], None] = lambda: None  # noqa: E731
    pump: _StreamPump | None = None

    def on_cancel() -> None:
        cancelled.set()
        if pump is not None:
            pump.stop()

    if cancel is not None:

        def wake() -> None:
            loop.call_soon_threadsafe(on_cancel)

        unregister = cancel.on_cancel(wake)

    def in_thread(fn: Callable[[], Any]) -> asyncio.Future[Any]:
        return loop.run_in_executor(tool_pool(), fn)

    async def race(aw: Any) -> tuple[bool, Any]:
        """Await ``aw`` unless cancelled first; returns (finished, value)."""
        task = asyncio.ensure_future(aw)
        if cancel is None:
            return True, await task
        if cancelled.is_set():
            task.cancel()
            return False, None
        waiter = asyncio.ensure_future(cancelled.wait())
        try:
            done, _ = await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task in done:
            return True, task.result()
        task.cancel()
        return False, None

    answer: Any = None
    throw: BaseException | None = None
    tasks: list[asyncio.Future[ToolOutcome]] = []
    try:
        while True:
            try:
                item = gen.throw(throw) if throw is not None else gen.send(answer)
            except StopIteration as stop:
                if result_box is not None:
                    result_box.append(stop.value)
                return
            answer = None
            throw = None
            if isinstance(item, RequestModel):
                if cancelled.is_set():
                    answer = Interrupted()
                    continue
                try:
                    if stream:
                        texts: dict[int, list[str]] = {}
                        response: ModelResponse | None = None
                        pump = _StreamPump(
                            model.astream(item.messages, tools=item.tools, settings=item.settings, output=item.output)
                        )
                        try:
                            while True:
                                event = await pump.next()
                                if event is None:
                                    if pump.error is not None:
                                        raise pump.error
                                    break
                                if cancelled.is_set():
                                    break
                                if isinstance(event, ModelResponse):
                                    response = event
                                    break
                                if isinstance(event, TextDelta):
                                    texts.setdefault(event.index, []).append(event.text)
                                yield event
                        finally:
                            await pump.close()
                            pump = None
                        if response is not None:
                            answer = response
                        elif cancelled.is_set():
                            answer = Interrupted(_partial(texts, item))
                        else:
                            throw = _no_final_response(model)
                    else:
                        finished, value = await race(
                            model.arequest(item.messages, tools=item.tools, settings=item.settings, output=item.output)
                        )
                        answer = value if finished else Interrupted()
                except Exception as exc:
                    throw = exc
            elif isinstance(item, StartTools):
                tasks = [asyncio.ensure_future(run_async(inv, in_thread, max_output)) for inv in item.invocations]
            elif isinstance(item, AwaitTool):
                finished, value = await race(asyncio.shield(tasks[item.index]))
                answer = value if finished else Interrupted()
            elif isinstance(item, AbandonTools):
                for task in tasks:
                    task.cancel()
            elif isinstance(item, AskApproval):
                answer = await _ask_async(item, approver)
            else:
                yield item
    finally:
        unregister()
        for task in tasks:
            if not task.done():
                task.cancel()
