"""The local engine (one process, the async driver) and what every engine is given: :class:`Hooks`, :class:`Settings`.

An engine's :meth:`run` blocks in the batch's own thread until every task finished or :meth:`stop` was
called; it reports each task to the hooks as it starts and as it finishes. :meth:`stop` may be called from
any thread: tasks not finished are abandoned (not reported), so a restart runs them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from podium.batch.limiter import LocalLimiter, RateState
from podium.batch.tasks import Task
from podium.batch.worker import AgentFactory, Agents, Outcome, run_task
from podium.trace import Trace

__all__ = ["Engine", "Hooks", "LocalEngine", "Settings"]

logger = logging.getLogger("podium.batch")


@dataclass(frozen=True)
class Settings:
    """How tasks run, whatever the engine."""

    factory: AgentFactory | str | None
    """The agent factory (a callable, or ``"module:function"``)."""
    concurrency: int = 8
    """Tasks running at once, over the whole batch."""
    retries: int = 2
    """More attempts after a task fails with an error worth retrying."""
    retry_delay: float = 1.0
    """Seconds before the first retry of a task (doubling after each)."""
    rate: float | None = None
    """Model requests per second at most, over the whole batch (``None``: only what 429s impose)."""


class Hooks(Protocol):
    """What an engine reports to (the batch run, in the engine's thread)."""

    def started(self, task: Task) -> None:
        """``task`` started on a worker."""

    def trace_factory(self, task: Task) -> Callable[[], Trace]:
        """Makes the trace of each attempt of ``task`` run in this process (with the store's sink)."""
        ...

    def finished(self, task: Task, outcome: Outcome) -> None:
        """``task`` finished (completed or failed after its retries)."""

    def limits(self, stats: dict[str, Any]) -> None:
        """The shared rate limiter's counters, now."""


class Engine(Protocol):
    """Runs a batch's tasks."""

    def run(self, tasks: list[Task], hooks: Hooks) -> None:
        """Run every task, reporting to ``hooks``; returns when all finished or :meth:`stop` was called."""

    def stop(self) -> None:
        """Stop soon (from any thread): running tasks are abandoned, none is started."""


class LocalEngine:
    """Every task in this process on one event loop: ``concurrency`` workers share one agent per factory.

    Agents are made once (the factory's, and one per ``agent`` reference) and run many tasks at once
    with ``agent.arun``; the rate limiter is a :class:`RateState` in this process.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = RateState(settings.rate)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._stopped = threading.Event()

    def run(self, tasks: list[Task], hooks: Hooks) -> None:
        """See :class:`Engine`."""
        if self._stopped.is_set():
            return
        asyncio.run(self._main(iter(tasks), hooks))

    async def _main(self, tasks: Iterator[Task], hooks: Hooks) -> None:
        self._loop = asyncio.get_running_loop()
        agents = Agents(self.settings.factory)
        limiter = LocalLimiter(self.state)
        ticker = asyncio.create_task(self._tick(hooks))

        async def worker() -> None:
            for task in tasks:  # one shared iterator: each task is taken by one worker
                hooks.started(task)
                outcome = await run_task(
                    agents,
                    task,
                    limiter,
                    retries=self.settings.retries,
                    retry_delay=self.settings.retry_delay,
                    new_trace=hooks.trace_factory(task),
                    keep_traces=False,
                )
                hooks.finished(task, outcome)

        self._workers = [asyncio.create_task(worker()) for _ in range(max(1, self.settings.concurrency))]
        if self._stopped.is_set():
            self._cancel()
        try:
            await asyncio.gather(*self._workers)
        except asyncio.CancelledError:
            if not self._stopped.is_set():
                raise
        finally:
            ticker.cancel()
            hooks.limits(self.state.stats())

    async def _tick(self, hooks: Hooks) -> None:
        while True:
            hooks.limits(self.state.stats())
            await asyncio.sleep(0.5)

    def _cancel(self) -> None:
        for worker in self._workers:
            worker.cancel()

    def stop(self) -> None:
        """See :class:`Engine`."""
        self._stopped.set()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing runs
                loop.call_soon_threadsafe(self._cancel)
