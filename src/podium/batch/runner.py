"""``podium.batch.run``: many agent tasks, locally or on Ray, with results as they finish.

::

    from podium import Agent
    from podium.batch import run

    def make_agent() -> Agent:          # called in each worker (Ray: importable, or sent with cloudpickle)
        return Agent("openai:gpt-4o-mini", instructions="Answer in one word.")

    with run(make_agent, ["Capital of France?", "Capital of Peru?"], out="results.jsonl") as batch:
        for result in batch:            # a TaskResult as each task finishes
            print(result.id, result.status, result.output)
        print(batch.stats.summary())
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from podium.batch.engines import Engine, LocalEngine, Settings
from podium.batch.results import Recorder, TaskResult
from podium.batch.tasks import Task, finished_ids, load_tasks, tasks_from
from podium.batch.worker import AgentFactory, Outcome
from podium.exceptions import UserError
from podium.store import SQLiteStore
from podium.trace import Trace

__all__ = ["BatchRun", "BatchStats", "run"]

logger = logging.getLogger("podium.batch")


def _no_limits() -> dict[str, Any]:
    return {}


@dataclass
class BatchStats:
    """Where a batch stands (updated as tasks start and finish; read from any thread)."""

    total: int = 0
    """Tasks in the batch, finished ones from an earlier run included."""
    skipped: int = 0
    """Tasks already finished by an earlier run (in the results file or the store): not run again."""
    completed: int = 0
    """Tasks completed in this run."""
    failed: int = 0
    """Tasks failed in this run (after their retries)."""
    running: int = 0
    """Tasks running now."""
    retried: int = 0
    """Attempts beyond the first, over all tasks."""
    cost: float = 0.0
    """USD spent by this run's tasks (whose price is known)."""
    unpriced: int = 0
    """Tasks whose cost is unknown (no price for their model)."""
    rate_limited: int = 0
    """429 answers over all tasks (each waited and went again)."""
    limits: dict[str, Any] = field(default_factory=_no_limits)
    """The shared rate limiter's counters (``requests``, ``rate_limited``, ``waited``, ``cuts``, ``rate``,
    ``lowest_rate``)."""
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def finished(self) -> int:
        """Completed plus failed in this run."""
        return self.completed + self.failed

    @property
    def seconds(self) -> float:
        """Wall time of this run so far."""
        return (self.ended or time.monotonic()) - self.started

    @property
    def throughput(self) -> float:
        """Tasks finished per second in this run."""
        return self.finished / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line: counts, time, throughput, cost, rate limiting."""
        cost = f"${self.cost:.4f}" + (f" (+{self.unpriced} unpriced)" if self.unpriced else "")
        limits = self.limits
        backoff = (
            f"rate limits: {limits.get('rate_limited', self.rate_limited)} x 429, waited "
            f"{limits.get('waited', 0.0):.1f} s in total, lowest rate {limits.get('lowest_rate')} req/s"
            if limits.get("rate_limited") or self.rate_limited
            else "no rate limiting"
        )
        return (
            f"{self.total} tasks: {self.completed} completed, {self.failed} failed, {self.skipped} skipped "
            f"(done before), {self.total - self.skipped - self.finished} not run; {self.seconds:.1f} s, "
            f"{self.throughput:.1f} tasks/s; {self.retried} retries; cost {cost}; {backoff}"
        )


_DONE = object()


class BatchRun(Iterator[TaskResult]):
    """A batch that runs in its own thread; iterate it for results as they finish.

    Every finished task is written to the results file and the store before it is yielded, whether or not
    anyone iterates. :meth:`stop` (or leaving the ``with`` block early, or Ctrl-C in the caller) abandons the
    tasks still running; run the same batch again to finish it.
    """

    def __init__(self, engine: Engine, tasks: list[Task], recorder: Recorder, stats: BatchStats) -> None:
        self.engine = engine
        self.tasks = tasks
        self.recorder = recorder
        self.stats = stats
        self.error: BaseException | None = None
        """What stopped the engine, if it failed."""
        self._lock = threading.Lock()
        self._results: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="podium-batch", daemon=True)
        self._thread.start()

    # -- the engine's thread

    def _work(self) -> None:
        try:
            self.engine.run(self.tasks, self)
        except BaseException as exc:
            logger.debug("the batch engine failed", exc_info=True)
            self.error = exc
        finally:
            self.recorder.close()
            with self._lock:
                self.stats.ended = time.monotonic()
                self.stats.running = 0
            self._results.put(_DONE)

    def started(self, task: Task) -> None:
        """Hook: a task started."""
        with self._lock:
            self.stats.running += 1

    def trace_factory(self, task: Task) -> Callable[[], Trace]:
        """Hook: each attempt's trace, into the store when there is one."""
        store = self.recorder.store
        if store is None:
            return Trace
        conversation_id = self.recorder.conversation(task)
        return lambda: Trace(sinks=[store.traces.sink(conversation_id)])

    def finished(self, task: Task, outcome: Outcome) -> None:
        """Hook: record a finished task, then hand it to the iterator."""
        result = self.recorder.record(task, outcome)
        with self._lock:
            self.stats.running = max(0, self.stats.running - 1)
            if result.status == "completed":
                self.stats.completed += 1
            else:
                self.stats.failed += 1
            self.stats.retried += max(0, result.attempts - 1)
            self.stats.rate_limited += result.rate_limited
            if result.cost is None:
                self.stats.unpriced += 1
            else:
                self.stats.cost += result.cost
        self._results.put(result)

    def limits(self, stats: dict[str, Any]) -> None:
        """Hook: the shared limiter's counters."""
        with self._lock:
            self.stats.limits = dict(stats)

    # -- the caller's side

    def __iter__(self) -> BatchRun:
        return self

    def __next__(self) -> TaskResult:
        while True:
            try:  # a short timeout keeps the caller's thread responsive to Ctrl-C and signals
                item = self._results.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is _DONE:
                self._results.put(_DONE)
                if self.error is not None:
                    error, self.error = self.error, None
                    raise error
                raise StopIteration
            assert isinstance(item, TaskResult)
            return item

    def stop(self) -> None:
        """Stop: no task is started and the running ones are abandoned (a restart runs them again)."""
        self.engine.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the engine's thread to end; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def wait(self) -> list[TaskResult]:
        """Every remaining result, once the batch is over."""
        return list(self)

    def __enter__(self) -> BatchRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self.join()


def _tasks(tasks: str | Path | Iterable[Task | dict[str, Any] | str]) -> list[Task]:
    if isinstance(tasks, (str, Path)):
        return load_tasks(tasks)
    listed = tasks_from(tasks)
    if not listed:
        raise UserError("no tasks given")
    return listed


def _engine(
    name: str, settings: Settings, address: str | None, workers: int | None, env: Mapping[str, str] | None
) -> Engine:
    if name == "local":
        if address is not None:
            raise UserError("address is for the ray engine; the local engine runs in this process")
        return LocalEngine(settings)
    if name == "ray":
        from podium.batch.ray_engine import RayEngine, import_ray

        import_ray()  # say how to install it before anything starts
        return RayEngine(settings, address=address, workers=workers, env=env)
    raise UserError(f"unknown engine {name!r}: use 'local' or 'ray'")


def run(
    agent_factory: AgentFactory | str | None,
    tasks: str | Path | Iterable[Task | dict[str, Any] | str],
    *,
    engine: Literal["local", "ray"] = "local",
    concurrency: int = 8,
    out: str | Path | None = None,
    store: SQLiteStore | str | Path | None = None,
    retries: int = 2,
    retry_delay: float = 1.0,
    rate: float | None = None,
    address: str | None = None,
    workers: int | None = None,
    batch_id: str | None = None,
    retry_failed: bool = False,
    worker_env: Mapping[str, str] | None = None,
) -> BatchRun:
    """Run ``tasks`` with agents from ``agent_factory``; iterate the returned :class:`BatchRun` for results.

    Args:
        agent_factory: Returns the :class:`~podium.agent.Agent` to run tasks with; called once in each
            worker. A ``"module:function"`` string is imported in the worker; with ``engine="ray"`` a
            callable is sent to the workers with cloudpickle (a function of an importable module is sent
            by reference, so the module must be importable there too). ``None``: every task names its agent.
        tasks: A JSONL tasks file (see :mod:`podium.batch.tasks`), or tasks as prompts, dicts or
            :class:`~podium.batch.tasks.Task` objects.
        engine: ``local`` (this process, the async driver) or ``ray`` (``pip install 'podium[ray]'``).
        concurrency: Tasks running at once over the whole batch.
        out: The results file (JSON Lines, appended): tasks already in it are not run again.
        store: A :class:`~podium.store.SQLiteStore` or a database path: a conversation, run and trace per task;
            tasks whose run completed there are not run again either.
        retries: More attempts for a task that failed with an error worth retrying (provider errors, a tool
            or the model misbehaving); not for bad configuration, budgets or step limits.
        retry_delay: Seconds before a task's first retry, doubling after each.
        rate: Model requests per second at most, over the whole batch; 429s slow it down further.
        address: The Ray cluster to join (``engine="ray"``); default: a local one.
        workers: Ray actors (default: the cluster's CPUs).
        batch_id: Names the batch in the store, the same across restarts (default: the results file's path,
            else a new id).
        retry_failed: Run again the tasks that failed in an earlier run (default: they count as finished).
        worker_env: Environment variables for the Ray workers (an existing cluster's workers do not see this
            process's environment: provider keys, base URLs).

    Raises:
        TaskFileError: the tasks file has bad lines or repeated ids (nothing is started).
        UserError: bad arguments, or Ray is not installed.
    """
    if concurrency < 1:
        raise UserError(f"concurrency must be at least 1, not {concurrency}")
    if retries < 0:
        raise UserError(f"retries must be 0 or more, not {retries}")
    listed = _tasks(tasks)
    settings = Settings(agent_factory, concurrency, retries, retry_delay, rate)
    chosen = _engine(engine, settings, address, workers, worker_env)
    out_path = Path(out) if out is not None else None
    if isinstance(store, (str, Path)):
        store = SQLiteStore(store, synchronous="NORMAL")
    batch = batch_id or (str(out_path.resolve()) if out_path is not None else uuid.uuid4().hex)
    recorder = Recorder(out_path, store, batch)
    done = finished_ids(out_path, include_failed=not retry_failed) if out_path is not None else {}
    for task in listed:  # completed in the store but its results line was lost: write it again
        if task.id in recorder.completed_in_store and task.id not in done:
            recorder.write(recorder.rebuilt(task))
            done[task.id] = "completed"
    todo = [task for task in listed if task.id not in done]
    known = {task.id for task in listed}
    strangers = [i for i in done if i not in known]
    if strangers:
        logger.warning("%d result(s) in %s are of tasks not in this batch (ignored)", len(strangers), out_path)
    stats = BatchStats(total=len(listed), skipped=len(listed) - len(todo))
    return BatchRun(chosen, todo, recorder, stats)
