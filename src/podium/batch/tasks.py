"""Batch tasks: what one line of a tasks file holds, how the file is read, and which tasks are done.

A tasks file is JSON Lines, one task per line::

    {"id": "q1", "prompt": "What is 2 + 3?", "model": "openai:gpt-4o-mini", "metadata": {"split": "dev"}}
    {"prompt": "Summarise ...", "agent": "my_pkg.agents:summariser"}

Fields: ``prompt`` (required, a non-empty string), ``id`` (a string or an integer; default: a hash of the
line's task, so the same line keeps its id when lines are added or moved), ``model`` (``provider:model``,
over the agent's), ``agent`` (``"module:function"``, a function that returns an
:class:`~podium.agent.Agent`, imported where the task runs), ``metadata`` (any JSON object, copied to the
result). Blank lines and lines starting with ``#`` are skipped.

The whole file is checked before anything starts: a line that is not JSON, a task without a prompt, an
unknown field or an id given twice raises :class:`TaskFileError` naming every bad line (up to 20).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.exceptions import UserError

__all__ = ["FIELDS", "Task", "TaskFileError", "finished_ids", "load_tasks", "parse_task", "tasks_from"]

logger = logging.getLogger("podium.batch")

FIELDS = frozenset({"id", "prompt", "model", "agent", "metadata"})
"""The fields a task line may have."""

_MAX_SHOWN = 20


def _no_metadata() -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class Task:
    """One task of a batch."""

    id: str
    """Unique within the batch; the key that says whether the task is done (out file, store)."""
    prompt: str
    """The user message the agent runs on."""
    model: str | None = None
    """``provider:model`` to use instead of the agent's model."""
    agent: str | None = None
    """``"module:function"`` returning the agent for this task, instead of the batch's agent factory."""
    metadata: dict[str, Any] = field(default_factory=_no_metadata)
    """Free JSON data, copied into the task's result and its stored conversation."""
    line: int | None = None
    """Line of the tasks file it came from (``None`` when given in code)."""
    auto_id: bool = False
    """Whether the id was made from the task's content (no ``id`` given)."""

    def to_dict(self) -> dict[str, Any]:
        """The task as JSON data (what is shipped to a Ray worker)."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "model": self.model,
            "agent": self.agent,
            "metadata": self.metadata,
            "line": self.line,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """The task :meth:`to_dict` gave."""
        return cls(
            id=str(data["id"]),
            prompt=str(data["prompt"]),
            model=data.get("model"),
            agent=data.get("agent"),
            metadata=dict(data.get("metadata") or {}),
            line=data.get("line"),
        )


class TaskFileError(UserError):
    """A tasks file (or list of tasks) has bad entries; ``problems`` lists them as ``(line, message)``."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        shown = "; ".join(f"line {line}: {message}" for line, message in problems[:_MAX_SHOWN])
        more = f"; and {len(problems) - _MAX_SHOWN} more" if len(problems) > _MAX_SHOWN else ""
        super().__init__(
            f"{source} has {len(problems)} bad task line(s), nothing was started: {shown}{more}. "
            'Each line must be a JSON object like {"id": "t1", "prompt": "..."}'
        )
        self.problems = problems


def _default_id(data: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: data[k] for k in sorted(data) if k != "id"}, sort_keys=True, ensure_ascii=False)
    return "t-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def parse_task(data: Any, line: int | None = None) -> Task:
    """A :class:`Task` from one decoded line (a dict) or a plain prompt string.

    Raises:
        ValueError: the entry is not a valid task; the message says what is wrong.
    """
    if isinstance(data, str):
        data = {"prompt": data}
    if not isinstance(data, dict):
        raise ValueError(f"a task must be a JSON object with a prompt, not {type(data).__name__}")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(FIELDS))}")
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError('"prompt" must be a non-empty string')
    raw_id = data.get("id")
    if raw_id is None:
        task_id = _default_id(data)
    elif isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        raise ValueError(f'"id" must be a non-empty string or an integer, not {raw_id!r}')
    else:
        task_id = str(raw_id)
    for key in ("model", "agent"):
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f'"{key}" must be a non-empty string')
    agent = data.get("agent")
    if agent is not None and ":" not in agent:
        raise ValueError(f'"agent" must be "module:function", not {agent!r}')
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError('"metadata" must be a JSON object')
    return Task(task_id, prompt, data.get("model"), agent, dict(metadata or {}), line, raw_id is None)


def tasks_from(entries: Iterable[Any], source: str = "the tasks") -> list[Task]:
    """Tasks from strings, dicts or :class:`Task` objects, checked together (ids unique).

    Default ids of identical entries get ``-2``, ``-3`` ... in order, so each stays one task.

    Raises:
        TaskFileError: an entry is not a task or an id is given twice.
    """
    tasks: list[Task] = []
    problems: list[tuple[int, str]] = []
    for index, entry in enumerate(entries, 1):
        try:
            tasks.append(entry if isinstance(entry, Task) else parse_task(entry, index))
        except ValueError as exc:
            problems.append((index, str(exc)))
    return _unique(tasks, problems, source)


def _unique(tasks: list[Task], problems: list[tuple[int, str]], source: str) -> list[Task]:
    seen: dict[str, int | None] = {}
    out: list[Task] = []
    for task in tasks:
        if task.id in seen:
            if task.auto_id:  # an identical line without an id: a task of its own
                n = 2
                while f"{task.id}-{n}" in seen:
                    n += 1
                task = Task(f"{task.id}-{n}", task.prompt, task.model, task.agent, task.metadata, task.line, True)
            else:
                problems.append((task.line or 0, f"id {task.id!r} was already given on line {seen[task.id]}"))
                continue
        seen[task.id] = task.line
        out.append(task)
    if problems:
        raise TaskFileError(source, sorted(problems))
    return out


def load_tasks(path: str | Path) -> list[Task]:
    """Read and check a tasks file (see the module docstring).

    Raises:
        TaskFileError: a line is not a valid task, or an id is given twice (every bad line is named).
        UserError: the file cannot be read, or holds no task.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the tasks file {path}: {exc.strerror or exc}") from exc
    tasks: list[Task] = []
    problems: list[tuple[int, str]] = []
    for number, line in enumerate(raw.split(b"\n"), 1):
        text = line.strip()
        if not text or text.startswith(b"#"):
            continue
        try:
            data = json.loads(text.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append((number, "not UTF-8 text"))
            continue
        except ValueError as exc:
            problems.append((number, f"not valid JSON ({exc})"))
            continue
        try:
            tasks.append(parse_task(data, number))
        except ValueError as exc:
            problems.append((number, str(exc)))
    tasks = _unique(tasks, problems, str(path))
    if not tasks:
        raise UserError(f'the tasks file {path} holds no task; write one JSON object per line: {{"prompt": "..."}}')
    return tasks


def finished_ids(out: str | Path, *, include_failed: bool = True) -> dict[str, str]:
    """Task ids already written to a results file, with their status (later lines win).

    A line cut short by a killed process is skipped; so are lines that are not results. ``include_failed``:
    count failed tasks as finished (a restart does not run them again).
    """
    path = Path(out)
    if not path.exists():
        return {}
    done: dict[str, str] = {}
    for number, line in enumerate(path.read_bytes().split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            task_id, status = str(data["id"]), str(data["status"])
        except (ValueError, KeyError, TypeError):
            logger.warning("%s line %d is not a result (cut short by a stop?); ignored", path, number)
            continue
        done[task_id] = status
    return {k: v for k, v in done.items() if v == "completed" or (include_failed and v == "failed")}
