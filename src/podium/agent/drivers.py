"""Drivers perform the loop's effects: a synchronous one (threads) and an asynchronous one (tasks).

Both turn the loop generator into a stream of events and return the run's result. They are the only
place where models are called and tools run.

Tools: in the sync driver every tool call runs on the tool thread pool (:func:`tool_pool`), never in the
caller's thread, so a cancel comes back at once however many calls a turn has; async tools run there on a
private event loop, which also makes them work when the caller's thread runs an event loop (Jupyter). In
the async driver tools are tasks (sync tools on the same pool). A call the run abandons (cancelled, or
timed out) is told through ``RunContext.abandoned``; Python cannot stop a thread, so a sync tool keeps
running until it returns, on a daemon thread that does not hold up the process's exit.

Interrupts in the sync driver: the model request runs in the calling thread, so Ctrl-C reaches it
directly. A ``KeyboardInterrupt`` while the driver waits on the model or on tools becomes a cancellation
(the run raises :class:`~podium.exceptions.RunInterrupted`, a ``RunCancelled`` and ``KeyboardInterrupt``
with a valid ``.messages``). A cancel token triggered *in the driver's thread* while it blocks on the
model (a SIGINT handler such as the CLI's calls ``token.cancel()``) interrupts the request at once; one
triggered from another thread takes effect at the next stream event, or when the request's read timeout
ends a stalled answer.

Steering (:mod:`podium.agent.inbox`): both drivers answer ``TakeMessages`` from the run's inbox and close
it when the run ends. A message sent with ``interrupt=True`` stops the wait on tools or on a model stream
the same way a cancel does (the sync driver sees it at the next stream event), but the run goes on:
the answer is ``Interrupted(steered=True)``. Tools a model message asks for while such a message waits
are not started.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import contextvars
import functools
import inspect
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from podium.agent.approval import Approver, Decision, decision_from
from podium.agent.cancel import CancelToken
from podium.agent.children import AsyncChildren, SyncChildren
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
from podium.exceptions import RunCancelled, RunInterrupted, UnexpectedModelBehavior
from podium.messages import Message, ModelResponse, Text
from podium.providers.base import Model
from podium.streaming import TextDelta
from podium.tools.executor import (
    DEFAULT_MAX_OUTPUT,
    ToolInvocation,
    ToolOutcome,
    run_async,
    run_coroutine,
    run_sync,
    timeout_outcome,
)

__all__ = ["ToolThreads", "drive_async", "drive_sync", "tool_pool"]

ResultT = TypeVar("ResultT")
"""What the driven generator returns (a ``RunResult`` for a run)."""


class ToolThreads(cf.Executor):
    """A thread pool for sync tools whose threads are daemons.

    A call the run abandoned keeps its thread until the tool returns (a thread cannot be stopped). The
    standard pool's threads are joined when the interpreter exits, so a Ctrl-C'd script would hang until
    such a tool ended; these are not. Threads start on demand, up to ``max_workers``, and are reused.
    """

    def __init__(self, max_workers: int, name: str = "podium-tool") -> None:
        """A pool of at most ``max_workers`` threads named ``{name}_{n}``."""
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max = max_workers
        self._name = name
        self._work: queue.SimpleQueue[tuple[cf.Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Run ``fn(*args, **kwargs)`` on a pool thread."""
        future: cf.Future[Any] = cf.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._work.put((future, functools.partial(fn, *args, **kwargs)))
            if not self._idle.acquire(blocking=False) and self._threads < self._max:
                self._threads += 1
                name = f"{self._name}_{self._threads}"
                threading.Thread(target=self._serve, name=name, daemon=True).start()
        return future

    def _serve(self) -> None:
        while (item := self._work.get()) is not None:
            future, fn = item
            del item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn()
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, fn
            self._idle.release()
        self._work.put(None)  # wake the next thread to stop too

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more work; threads end once the queued work is done (``wait`` is not supported)."""
        with self._lock:
            self._closed = True
            if cancel_futures:
                while True:
                    try:
                        item = self._work.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            self._work.put(None)


_pool: ToolThreads | None = None
_pool_lock = threading.Lock()


def tool_pool() -> ToolThreads:
    """The shared pool that runs sync tools (created on first use; ``PODIUM_TOOL_THREADS`` threads, 64 by default)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ToolThreads(int(os.environ.get("PODIUM_TOOL_THREADS", "0")) or 64)
    return _pool


def _in_context(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """``fn(*args)`` to run in another thread with this thread's context variables (as an inline call had)."""
    return functools.partial(contextvars.copy_context().run, fn, *args)


def _partial(texts: dict[int, list[str]]) -> ModelResponse | None:
    if not texts:
        return None
    parts = tuple(Text("".join(texts[i])) for i in sorted(texts))
    return ModelResponse(parts, finish_reason="cancelled")


def _no_final_response(model: Model) -> Exception:
    return UnexpectedModelBehavior(f"{model!r}: the stream ended without a final response")


# --------------------------------------------------------------------------- sync driver


class _SyncTools:
    """The running tool calls of one ``StartTools`` effect (sync driver), each on a pool thread.

    Sub-agent calls run on threads of their own (:class:`~podium.agent.children.SyncChildren`).
    """

    def __init__(
        self,
        invocations: list[ToolInvocation],
        max_output: int,
        *,
        start: bool = True,
        cancel: CancelToken | None = None,
        approver: Approver | None = None,
    ) -> None:
        self.invocations = invocations if start else []
        self.started = time.perf_counter()
        self.children: SyncChildren | None = None
        pool = tool_pool()
        self.futures: list[cf.Future[Any]] = []
        for i, inv in enumerate(self.invocations):
            if isinstance(inv, ChildInvocation):
                if self.children is None:
                    self.children = SyncChildren(cancel, approver)
                self.futures.append(self.children.start(i, inv, max_output))
            else:
                self.futures.append(pool.submit(_in_context(run_sync, inv, max_output)))

    def finished(self, index: int) -> ToolOutcome | None:
        """The outcome of call ``index`` if it has finished (not when it was never started or was cancelled)."""
        if index >= len(self.futures):
            return None
        future = self.futures[index]
        if future.done() and not future.cancelled():
            outcome: ToolOutcome = future.result()
            return outcome
        return None

    def wait(self, index: int, cancel: CancelToken | None, inbox: Inbox | None) -> ToolOutcome | Interrupted:
        """The outcome of call ``index``, or a timeout outcome.

        ``Interrupted`` as soon as ``cancel`` fires or an interrupting message arrives in ``inbox``.
        """
        inv, future = self.invocations[index], self.futures[index]
        timeout = inv.tool.timeout
        remaining = None if timeout is None else max(0.0, self.started + timeout - time.perf_counter())
        waker: cf.Future[Any] = cf.Future()

        def wake() -> None:
            if not waker.done():
                waker.set_result(None)

        unregister = cancel.on_cancel(wake) if cancel is not None else (lambda: None)
        unsteer = inbox.on_interrupt(wake) if inbox is not None else (lambda: None)
        try:
            if inbox is not None and inbox.interrupting:  # arrived before the callback was registered
                wake()
            done, _ = cf.wait([future, waker], timeout=remaining, return_when=cf.FIRST_COMPLETED)
        finally:
            unregister()
            unsteer()
        if future in done:
            outcome: ToolOutcome = future.result()
            return outcome
        if waker in done:
            return Interrupted(steered=not (cancel is not None and cancel.cancelled))
        future.cancel()  # still queued (a busy pool): it never starts
        inv.abandon()
        return timeout_outcome(inv, timeout or 0.0, self.started)

    def abandon(self) -> dict[str, Tally] | None:
        """Calls not started never start; running ones are told (``ctx.abandoned``) and left to end.

        Returns what the batch's sub-agents used so far, by call id (the loop counts each call once).
        """
        for i, (inv, future) in enumerate(zip(self.invocations, self.futures, strict=True)):
            if not future.done():
                future.cancel()
                inv.abandon()
                if self.children is not None:
                    self.children.abandon(i)
        return self.children.used() if self.children is not None else None


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
    model: Model,
    item: RequestModel,
    stream: bool,
    cancel: CancelToken | None,
    interrupter: _Interrupter,
    inbox: Inbox | None,
) -> Generator[AgentEvent, None, tuple[Any, BaseException | None]]:
    """Perform one model request (yielding stream events); returns ``(answer, error to throw)``."""
    texts: dict[int, list[str]] = {}
    if inbox is not None and inbox.interrupting:  # sent after the loop's last look: no request to cut short
        return Interrupted(steered=True), None
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
                    return Interrupted(_partial(texts)), None
                if inbox is not None and inbox.interrupting:
                    return Interrupted(_partial(texts), steered=True), None
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return None, _no_final_response(model)
    except KeyboardInterrupt as exc:
        interrupter.interrupted(exc, cancel)
        return Interrupted(_partial(texts)), None
    except Exception as exc:
        return None, exc


def drive_sync(
    gen: Generator[Effect | AgentEvent, Any, ResultT],
    model: Model,
    *,
    stream: bool,
    cancel: CancelToken | None = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    approver: Approver | None = None,
    inbox: Inbox | None = None,
) -> Generator[AgentEvent, None, ResultT]:
    """Run the loop in this thread, tools on the tool pool; yields events, returns the result.

    ``inbox`` holds the messages sent into the run (steering); it is closed when the run ends.
    """
    answer: Any = None
    throw: BaseException | None = None
    tools: _SyncTools | None = None
    interrupter = _Interrupter(cancel)
    try:
        while True:
            try:
                item = gen.throw(throw) if throw is not None else gen.send(answer)
            except StopIteration as stop:
                result: ResultT = stop.value
                return result
            except RunCancelled as exc:
                if interrupter.keyboard and not isinstance(exc, RunInterrupted):
                    raise _as_interrupted(exc) from exc.__cause__
                raise
            answer, throw = None, None
            if isinstance(item, RequestModel):
                if cancel is not None and cancel.cancelled:
                    answer = Interrupted()
                    continue
                answer, throw = yield from _request_sync(
                    item.model or model, item, stream and item.stream is not False, cancel, interrupter, inbox
                )
            elif isinstance(item, TakeMessages):
                answer = inbox.take(final=item.final) if inbox is not None else ()
            elif isinstance(item, StartTools):
                start = inbox is None or not inbox.interrupting
                tools = _SyncTools(item.invocations, max_output, start=start, cancel=cancel, approver=approver)
            elif isinstance(item, AwaitTool):
                assert tools is not None
                answer = yield from _await_tool_sync(tools, item.index, cancel, interrupter, inbox)
            elif isinstance(item, AbandonTools):
                answer = tools.abandon() if tools is not None else None
            elif isinstance(item, AskApproval):
                answer, throw = _settle(functools.partial(_ask_sync, item, approver))
            elif isinstance(item, RunAwaitable):
                answer, throw = _settle(functools.partial(_await_sync, item.awaitable))
            else:
                yield item
    finally:
        interrupter.unregister()
        if inbox is not None:
            inbox.close()
        if tools is not None:
            tools.abandon()  # the run ended early (an error, or the caller stopped iterating)


def _await_tool_sync(
    tools: _SyncTools, index: int, cancel: CancelToken | None, interrupter: _Interrupter, inbox: Inbox | None
) -> Generator[AgentEvent, None, ToolOutcome | Interrupted]:
    """Wait for call ``index``; in a batch with sub-agent calls, yield their events meanwhile."""
    if cancel is not None and cancel.cancelled:
        return Interrupted()
    if inbox is not None and inbox.interrupting:  # a call that already finished keeps its result
        return tools.finished(index) or Interrupted(steered=True)
    try:
        if tools.children is None:
            return tools.wait(index, cancel, inbox)
        inv, future = tools.invocations[index], tools.futures[index]
        return (yield from tools.children.wait(index, inv, future, tools.started, inbox))
    except KeyboardInterrupt as exc:
        interrupter.interrupted(exc, cancel)
        return Interrupted()


def _await_sync(aw: Awaitable[Any]) -> Any:
    """The value of ``aw`` (a hook or approver written as a coroutine), awaited on a private event loop."""
    return run_coroutine(lambda: aw)


def _settle(fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """``(fn(), None)``, or ``(None, exc)`` to throw into the loop where the awaited code was called."""
    try:
        return fn(), None
    except Exception as exc:
        return None, exc


def _as_interrupted(exc: RunCancelled) -> RunInterrupted:
    """``exc`` as the :class:`RunInterrupted` a Ctrl-C gives (same history and usage)."""
    return RunInterrupted(
        "the run was interrupted (Ctrl-C); `.messages` is a valid history to continue from",
        messages=exc.messages or (),
        new_messages=exc.new_messages,
        usage=exc.usage,
    )


def _ask_sync(effect: AskApproval, approver: Approver | None) -> dict[str, Decision]:
    """Answers of an approver (none: nothing is decided and the run pauses); an async one runs on a private loop."""
    if approver is None:
        return {}
    answers: dict[str, Decision] = {}
    for request in effect.requests:
        value: Any = approver(request)
        if inspect.isawaitable(value):
            value = _await_sync(value)
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
            yield _Answer(replace(stopped, partial=_partial(texts)))
        elif pump.error is not None:
            yield _Answer(throw=pump.error)
        else:
            yield _Answer(throw=_no_final_response(model))

    def _in_thread(self, fn: Callable[[], Any]) -> Awaitable[Any]:
        return self.loop.run_in_executor(tool_pool(), _in_context(fn))

    async def perform(self, item: Any) -> _Answer:
        """Perform a tool, approval or awaitable effect."""
        import asyncio

        if isinstance(item, StartTools):
            steering = self.inbox is not None and self.inbox.interrupting  # the calls are not started
            self.invocations = [] if steering else item.invocations
            self.children = None
            self.tasks = []
            for i, inv in enumerate(self.invocations):
                if isinstance(inv, ChildInvocation):
                    if self.children is None:
                        self.children = AsyncChildren(self.cancel, self.approver)
                    self.tasks.append(asyncio.ensure_future(self.children.start(i, inv, self.max_output)))
                else:
                    self.tasks.append(asyncio.ensure_future(run_async(inv, self._in_thread, self.max_output)))
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
            elif isinstance(item, AwaitTool) and effects.children is not None:
                async for event in effects.await_children(item):
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
