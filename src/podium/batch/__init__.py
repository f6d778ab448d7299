"""Batch runs: many agent tasks from a JSONL file or a list, locally (async) or on a Ray cluster.

``podium batch tasks.jsonl`` on the command line, :func:`run` in code. Results come back as each task
finishes, go to a results file and the conversation store, and a stopped batch restarts where it was.
A rate limit shared by every worker turns the provider's 429s into waiting (:mod:`podium.batch.limiter`).
See ``docs/batch.md``.
"""

from __future__ import annotations

from podium.batch.limiter import LimitedModel, RateState
from podium.batch.results import TaskResult
from podium.batch.runner import BatchRun, BatchStats, run
from podium.batch.tasks import Task, TaskFileError, load_tasks

__all__ = [
    "BatchRun",
    "BatchStats",
    "LimitedModel",
    "RateState",
    "Task",
    "TaskFileError",
    "TaskResult",
    "load_tasks",
    "run",
]
