"""Where a batch's results go: one JSON line per task in the results file, a conversation per task in the store.

The results file is append-only and flushed after every line: a batch stopped at any point (Ctrl-C, a
kill) has every finished task in it, and a restart skips them. A line cut short by a kill is removed when
the file is opened again.

In the store each task gets a conversation (metadata ``batch``, ``batch_task``, ``task_metadata``) with
the last attempt's run and messages, and every attempt's trace. A restart finds the conversations of the
batch again: a task whose run completed there is done even if its results line was lost (the line is
written again from the store), and an unfinished task's new attempt goes into the same conversation.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from podium.batch.tasks import Task
from podium.batch.worker import Outcome
from podium.messages import Message, message_from_dict
from podium.store import SQLiteStore
from podium.usage import Usage

__all__ = ["Recorder", "TaskResult"]

logger = logging.getLogger("podium.batch")


def _no_metadata() -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class TaskResult:
    """A finished task, as yielded by :func:`podium.batch.run` and written to the results file."""

    id: str
    """The task's id."""
    status: str
    """``completed`` or ``failed`` (after its retries)."""
    output: Any = None
    """The agent's output (text, or the structured output as JSON data); ``None`` when it failed."""
    usage: dict[str, Any] | None = None
    """Tokens and requests of the last attempt (``Usage.to_dict``)."""
    cost: float | None = None
    """USD of the last attempt, ``None`` when the price is unknown."""
    error: str | None = None
    """``ErrorType: message`` of the last attempt, when it failed."""
    attempts: int = 0
    """Attempts made (1 + retries used)."""
    seconds: float = 0.0
    """Wall time from the first attempt's start to the end, retries and waits included."""
    run_id: str | None = None
    """The last attempt's run (its trace in the store: ``podium trace show RUN``)."""
    conversation_id: str | None = None
    """The task's conversation in the store (``None`` without a store)."""
    rate_limited: int = 0
    """429 answers the task's requests got (each waited and went again)."""
    waited: float = 0.0
    """Seconds the task's requests waited for the shared rate limit."""
    metadata: dict[str, Any] = field(default_factory=_no_metadata)
    """The task's metadata, as given."""

    def to_dict(self) -> dict[str, Any]:
        """The results-file line, as JSON data."""
        return dict(self.__dict__)


class Recorder:
    """Writes results to the results file and the store, from the thread that runs the engine.

    Args:
        out: The results file (``None``: none).
        store: The conversation database (``None``: none).
        batch_id: Names the batch in the store, the same across restarts.
    """

    def __init__(self, out: Path | None, store: SQLiteStore | None, batch_id: str) -> None:
        self.out = out
        self.store = store
        self.batch_id = batch_id
        self._file: TextIO | None = None
        self._conversations: dict[str, str] = {}
        self.completed_in_store: dict[str, dict[str, Any]] = {}
        """Tasks whose run completed in the store (id -> the run's row, as a dict), read on open."""
        if store is not None:
            self._load(store)
        if out is not None:
            self._file = _open_results(out)

    def _load(self, store: SQLiteStore) -> None:
        query = (
            "SELECT c.id, json_extract(c.metadata, '$.batch_task'), r.id, r.status, r.usage, r.cost "
            "FROM conversations c LEFT JOIN runs r ON r.conversation_id = c.id "
            "WHERE json_extract(c.metadata, '$.batch') = ? ORDER BY r.started"
        )
        with store.db.transaction(write=False) as conn:
            rows = conn.execute(query, (self.batch_id,)).fetchall()
        for conv_id, task_id, run_id, status, usage, cost in rows:
            self._conversations[str(task_id)] = str(conv_id)
            if status == "completed":
                self.completed_in_store[str(task_id)] = {"run_id": run_id, "usage": usage, "cost": cost}
            else:
                self.completed_in_store.pop(str(task_id), None)

    def conversation(self, task: Task) -> str | None:
        """The task's conversation (made on first use; the same one after a restart)."""
        if self.store is None:
            return None
        if task.id not in self._conversations:
            metadata = {"batch": self.batch_id, "batch_task": task.id, "task_metadata": task.metadata}
            self._conversations[task.id] = self.store.create(model=task.model, metadata=metadata).id
        return self._conversations[task.id]

    def record(self, task: Task, outcome: Outcome) -> TaskResult:
        """Store the outcome (conversation, run, messages, shipped traces), then write its results line."""
        conversation_id = self._store(task, outcome) if self.store is not None else None
        result = TaskResult(
            id=task.id,
            status=outcome.status,
            output=outcome.output,
            usage=outcome.usage,
            cost=outcome.cost,
            error=outcome.error,
            attempts=outcome.attempts,
            seconds=outcome.seconds,
            run_id=outcome.run_id,
            conversation_id=conversation_id,
            rate_limited=outcome.rate_limited,
            waited=outcome.waited,
            metadata=task.metadata,
        )
        self.write(result)
        return result

    def write(self, result: TaskResult) -> None:
        """Append one line to the results file and flush it."""
        if self._file is not None:
            self._file.write(json.dumps(result.to_dict(), ensure_ascii=False, default=str) + "\n")
            self._file.flush()

    def _store(self, task: Task, outcome: Outcome) -> str | None:
        store = self.store
        assert store is not None
        conversation_id = self.conversation(task)
        assert conversation_id is not None
        if store.messages(conversation_id):  # a failed task run again (--retry-failed): a fresh conversation
            del self._conversations[task.id]
            conversation_id = self.conversation(task)
            assert conversation_id is not None
        for lines in outcome.traces:
            if lines:
                store.traces.write(lines, conversation_id)
        run = store.start_run(conversation_id, model=task.model, run_id=_fresh_run_id(store, outcome.run_id))
        messages: list[Message] = [message_from_dict(m) for m in outcome.messages]
        store.append_many(conversation_id, messages, run_id=run.id)
        usage = Usage.from_dict(outcome.usage) if outcome.usage else None
        if outcome.status == "completed":
            store.finish_run(run.id, usage=usage, cost=outcome.cost)
        else:
            store.fail_run(run.id, outcome.error or "failed", usage=usage, cost=outcome.cost)
        return conversation_id

    def rebuilt(self, task: Task) -> TaskResult:
        """The results line of a task the store says completed (its line was lost to a kill)."""
        row = self.completed_in_store[task.id]
        conversation_id = self._conversations[task.id]
        assert self.store is not None
        messages = self.store.messages(conversation_id)
        output = messages[-1].text if messages and messages[-1].role == "assistant" else None
        usage = json.loads(row["usage"]) if row["usage"] else None
        return TaskResult(
            id=task.id,
            status="completed",
            output=output,
            usage=usage,
            cost=row["cost"],
            attempts=1,
            run_id=row["run_id"],
            conversation_id=conversation_id,
            metadata=task.metadata,
        )

    def close(self) -> None:
        """Close the results file."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _fresh_run_id(store: SQLiteStore, run_id: str | None) -> str | None:
    """``run_id`` unless the store has it already (a restart re-recording the same run): then a new one."""
    if run_id is None:
        return None
    with store.db.transaction(write=False) as conn:
        taken = conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None
    return None if taken else run_id


def _open_results(path: Path) -> TextIO:
    """The results file opened for appending, after removing a last line cut short by a kill."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with open(path, "rb+") as raw:
            data = raw.read()
            if data and not data.endswith(b"\n"):
                keep = data.rfind(b"\n") + 1
                logger.warning("%s: removing a last line cut short (%d bytes)", path, len(data) - keep)
                raw.truncate(keep)
                os.fsync(raw.fileno())
    return open(path, "a", encoding="utf-8")
