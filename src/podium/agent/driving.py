"""What both drivers share: the tool thread pool, calls that carry context variables, partial responses."""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import functools
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from podium.exceptions import UnexpectedModelBehavior
from podium.messages import ModelResponse, Text
from podium.providers.base import Model

__all__ = [
    "Progress",
    "ToolThreads",
    "in_context",
    "no_final_response",
    "partial_response",
    "report_done",
    "tool_pool",
]

logger = logging.getLogger("podium.agent")


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


def in_context(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """``fn(*args)`` to run in another thread with this thread's context variables (as an inline call had)."""
    return functools.partial(contextvars.copy_context().run, fn, *args)


def partial_response(texts: dict[int, list[str]]) -> ModelResponse | None:
    """What a model had streamed (text by part index) when the run stopped it; ``None`` when nothing."""
    if not texts:
        return None
    parts = tuple(Text("".join(texts[i])) for i in sorted(texts))
    return ModelResponse(parts, finish_reason="cancelled")


def no_final_response(model: Model) -> Exception:
    """The error for a stream that ended without its final response."""
    return UnexpectedModelBehavior(f"{model!r}: the stream ended without a final response")


class Progress:
    """The progress reports of one batch of tool calls, kept until the driver yields them (thread-safe).

    Each call gets a reporter in its context (:attr:`RunContext.report_progress`); a report wakes the driver
    waiting for the batch, which yields it as a :class:`~podium.agent.events.ToolCallProgress`. Reports of a
    call whose result the driver already has are dropped (its ``ToolCallFinished`` is out).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Any] = []
        self._finished: set[str] = set()
        self._wakers: list[Callable[[], None]] = []

    def attach(self, inv: Any) -> Any:
        """``inv`` (a ``ToolInvocation``) with a reporter for its call in its context."""
        from dataclasses import replace

        return replace(inv, ctx=replace(inv.ctx, report_progress=self._reporter(inv.call)))

    def _reporter(self, call: Any) -> Callable[[float, float | None, str | None], None]:
        from podium.agent.events import ToolCallProgress

        def report(progress: float, total: float | None = None, message: str | None = None) -> None:
            with self._lock:
                if call.id in self._finished:
                    return
                self._queue.append(ToolCallProgress(call, float(progress), total, message))
                wakers = list(self._wakers)
            for wake in wakers:
                wake()

        return report

    def watch(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` (from any thread) at each report, at once if some wait; returns the unwatch function."""
        with self._lock:
            self._wakers.append(wake)
            pending = bool(self._queue)
        if pending:
            wake()

        def unwatch() -> None:
            with self._lock:
                if wake in self._wakers:
                    self._wakers.remove(wake)

        return unwatch

    def take(self) -> list[Any]:
        """The reports so far (of calls not finished), oldest first."""
        with self._lock:
            out = [e for e in self._queue if e.call.id not in self._finished]
            self._queue.clear()
        return out

    def finish(self, call_id: str) -> None:
        """The driver has the result of call ``call_id``: drop its later reports."""
        with self._lock:
            self._finished.add(call_id)


def report_done(on_done: Callable[[int, Any], None], index: int, future: Any) -> None:
    """Tell ``on_done`` the outcome of call ``index`` once its future is done (not when cancelled or failed)."""
    if future.cancelled() or future.exception() is not None:
        return
    try:
        on_done(index, future.result())
    except Exception:
        logger.exception("recording the end of tool call %d failed; the run goes on", index)
