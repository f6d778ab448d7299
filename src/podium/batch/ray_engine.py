"""The Ray engine: a pool of async actors, each holding the agents and running many tasks at once.

Why actors and not one Ray task per batch task: an agent task mostly waits on the model. A Ray task holds
a worker process (and by default a CPU) for its whole life, so running 32 tasks at once would take 32
processes; an async actor runs ``max_concurrency`` tasks on one event loop, like the local engine, and
keeps its agents and HTTP connections from task to task. Each task is still one Ray call (an actor
method), collected with ``ray.wait`` as it finishes; Ray restarts a crashed actor and retries its calls.

What crosses to the workers: the agent factory (a ``"module:function"`` string, imported there, or a
callable, sent with cloudpickle), the tasks as JSON data, and a handle to the shared rate limiter (a Ray
actor holding a :class:`~podium.batch.limiter.RateState`). What comes back: each task's outcome as JSON
data -- its result, its messages and its traces' lines -- which the driver writes to the results file and
the store. Workers never open the store: SQLite is a file on the driver's machine, and one writer avoids
lock contention between processes (see ``docs/batch.md``).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

from podium.batch.engines import Hooks, Settings
from podium.batch.limiter import RateState
from podium.batch.tasks import Task
from podium.batch.worker import Agents, Outcome, run_task
from podium.exceptions import UserError
from podium.trace import Trace

__all__ = ["RateActor", "RayEngine", "RayLimiter", "RayWorker", "import_ray"]

logger = logging.getLogger("podium.batch")


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`UserError` saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise UserError("the ray engine needs Ray: pip install 'podium[ray]' (or pip install ray)") from exc
    return ray


class RateActor:
    """The shared :class:`RateState` as a Ray actor (methods called one at a time)."""

    def __init__(self, rate: float | None) -> None:
        self.state = RateState(rate)

    def reserve(self) -> float:
        """See :meth:`RateState.reserve`."""
        return self.state.reserve()

    def throttled(self, retry_after: float | None) -> None:
        """See :meth:`RateState.throttled`."""
        self.state.throttled(retry_after)

    def succeeded(self) -> None:
        """See :meth:`RateState.succeeded`."""
        self.state.succeeded()

    def stats(self) -> dict[str, Any]:
        """See :meth:`RateState.stats`."""
        return self.state.stats()


class RayLimiter:
    """A :class:`~podium.batch.limiter.Limiter` that asks the :class:`RateActor` (awaiting its answers)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def reserve(self) -> float:
        """See :meth:`RateState.reserve`."""
        wait: float = await self.handle.reserve.remote()
        return wait

    async def throttled(self, retry_after: float | None) -> None:
        """See :meth:`RateState.throttled`."""
        await self.handle.throttled.remote(retry_after)

    async def succeeded(self) -> None:
        """See :meth:`RateState.succeeded`; not awaited (nothing depends on it)."""
        self.handle.succeeded.remote()


class RayWorker:
    """One async actor: makes its agents once and runs the tasks it is sent (``max_concurrency`` at once)."""

    def __init__(self, settings: Settings, limiter: Any) -> None:
        self.settings = settings
        self.agents = Agents(settings.factory)
        self.limiter = RayLimiter(limiter)

    async def run(self, task: dict[str, Any]) -> dict[str, Any]:
        """Run one task (its JSON data); its outcome as JSON data, traces included."""
        outcome = await run_task(
            self.agents,
            Task.from_dict(task),
            self.limiter,
            retries=self.settings.retries,
            retry_delay=self.settings.retry_delay,
            new_trace=Trace,
            keep_traces=True,
        )
        return outcome.to_dict()


class RayEngine:
    """Runs tasks on a Ray cluster (see the module docstring).

    Args:
        settings: How tasks run.
        address: An existing cluster (``ray://host:10001``, ``host:6379`` or ``auto``); ``None`` starts a
            local one (or uses the one this process already joined).
        workers: Actors in the pool (default: the cluster's CPUs).
        env: Environment variables set in the workers (an existing cluster's workers do not see this
            process's environment: pass the provider keys they need here).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        address: str | None = None,
        workers: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.address = address
        self.workers = workers
        self.env = dict(env or {})
        self._stopped = threading.Event()

    def stop(self) -> None:
        """See :class:`~podium.batch.engines.Engine`."""
        self._stopped.set()

    def _connect(self, ray: Any) -> bool:
        """Join or start the cluster; whether this engine started the connection (and ends it)."""
        if ray.is_initialized():
            return False
        paths = [os.getcwd(), *(p for p in sys.path if p and os.path.isdir(p) and "site-packages" not in p)]
        env = {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), **self.env}  # agent modules beside the tasks
        ray.init(
            address=self.address,
            runtime_env={"env_vars": env},
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        return True

    def run(self, tasks: list[Task], hooks: Hooks) -> None:
        """See :class:`~podium.batch.engines.Engine`."""
        ray = import_ray()
        owns = self._connect(ray)
        try:
            self._run(ray, tasks, hooks)
        finally:
            if owns:
                ray.shutdown()

    def _run(self, ray: Any, tasks: list[Task], hooks: Hooks) -> None:
        count = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        concurrency = max(1, self.settings.concurrency)
        count = min(count, concurrency)
        per_worker = math.ceil(concurrency / count)
        limiter = ray.remote(RateActor).options(num_cpus=0).remote(self.settings.rate)
        actor = ray.remote(RayWorker).options(
            num_cpus=0, max_concurrency=per_worker, max_restarts=2, max_task_retries=2
        )
        pool = [actor.remote(self.settings, limiter) for _ in range(count)]
        load = [0] * count
        pending: dict[Any, tuple[Task, int]] = {}
        queue = list(reversed(tasks))
        stats_ref: Any = None
        try:
            while (queue or pending) and not self._stopped.is_set():
                while queue and len(pending) < concurrency:
                    task = queue.pop()
                    index = load.index(min(load))
                    load[index] += 1
                    pending[pool[index].run.remote(task.to_dict())] = (task, index)
                    hooks.started(task)
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for ref in ready:
                    task, index = pending.pop(ref)
                    load[index] -= 1
                    hooks.finished(task, self._outcome(ray, ref, task))
                stats_ref = self._poll_stats(ray, limiter, stats_ref, hooks)
            hooks.limits(ray.get(limiter.stats.remote()))
        finally:
            for ref in pending:
                ray.cancel(ref)
            for handle in [*pool, limiter]:
                ray.kill(handle)

    @staticmethod
    def _outcome(ray: Any, ref: Any, task: Task) -> Outcome:
        try:
            return Outcome(**ray.get(ref))
        except Exception as exc:  # the actor died for good, or the task could not be sent
            logger.warning("task %s: the Ray worker failed: %s", task.id, exc)
            return Outcome(task.id, "failed", error=f"{type(exc).__name__}: {exc}", attempts=1)

    @staticmethod
    def _poll_stats(ray: Any, limiter: Any, ref: Any, hooks: Hooks) -> Any:
        if ref is None:
            return limiter.stats.remote()
        ready, _ = ray.wait([ref], timeout=0)
        if ready:
            hooks.limits(ray.get(ref))
            return limiter.stats.remote()
        return ref
