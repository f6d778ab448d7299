"""A run's Message-Action Trace: its records, their JSONL form, and scrubbing.

A trace is a list of records, each a JSON object with ``seq`` (0, 1, 2, ...) and ``kind``. The first
record (``kind == "run"``) says what the run was given; then, in the order they happened, one record per
effect the loop asked for and its answer, plus the loop's decisions, compactions and the run's end. The
kinds and their fields are listed in ``docs/traces.md``; :data:`TRACE_VERSION` changes when they do.

Every record is scrubbed when it leaves the process (a sink's line, a JSONL file): registered secrets
(API keys of models made in this process, :func:`podium.secrets.register`), credential shapes
(``Authorization: Bearer ...``, ``sk-...``) and the trace's own ``secrets`` (the values of injected tool
parameters) become ``[REDACTED:name]`` markers. In memory, records keep the real values.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from podium.exceptions import PodiumError
from podium.secrets import scrub_json

__all__ = ["TRACE_VERSION", "Trace", "TraceError", "TraceMonitor", "TraceSink"]

logger = logging.getLogger("podium.trace")

TRACE_VERSION = 1
"""Version of the record format written by this Podium (readers refuse newer ones)."""

TraceSink = Callable[[dict[str, Any], str], None]
"""Called with each new record and its JSON line (already scrubbed), e.g. to store it as it happens."""

TraceMonitor = Callable[["Trace", dict[str, Any]], "BaseException | None"]
"""Called with the trace and each new record; returns the error that must stop the run (a contract's
violation), or ``None``. The recorder throws it into the run at the next point where the run can stop
with a valid history: before the next model request is sent, or instead of a model response."""

EFFECT_KINDS = frozenset({"request", "tools", "tool", "abandon", "approval", "await", "take"})
"""Record kinds that answer one effect of the loop (what a replay answers from)."""


class TraceError(PodiumError, ValueError):
    """A trace file or record that cannot be read (the message says where and why)."""


class Trace:
    """The records of one run, in order; append-only.

    Args:
        records: Records read back from somewhere (a file, the store).
        sinks: Called with every record appended from now on.
        monitors: Checked on every record appended from now on (contracts at run time).
        secrets: Values never written (replaced by ``[REDACTED:secret]``), besides the registered ones.
        meta: JSON data written into the ``run`` record as ``meta`` (the CLI notes its model and options).
        durable: Also record tool calls as they finish (for :mod:`podium.agent.durable`).
    """

    def __init__(
        self,
        records: Iterable[dict[str, Any]] = (),
        *,
        sinks: Sequence[TraceSink] = (),
        monitors: Sequence[TraceMonitor] = (),
        secrets: Iterable[str] = (),
        meta: dict[str, Any] | None = None,
        durable: bool = False,
    ) -> None:
        self.durable = durable
        """Record each tool call as it finishes (``done``), so a run resumed after a crash never repeats one."""
        self._lock = threading.Lock()
        self.meta: dict[str, Any] = dict(meta or {})
        """What the caller wants in the ``run`` record (``"meta"``): how the agent was built, for a replay."""
        self.records: list[dict[str, Any]] = list(records)
        self.sinks: list[TraceSink] = list(sinks)
        self.monitors: list[TraceMonitor] = list(monitors)
        self.violation: BaseException | None = None
        """The first error a monitor returned (the run stops with it), or ``None``."""
        self.secrets: list[str] = sorted({s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len)[::-1]
        self._lines: list[str] = []  # the JSON lines of records[: len(_lines)], scrubbed

    # -- writing

    def append(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """Add a record of ``kind`` with ``data``; returns it.

        In memory the record is kept as given (checks such as contracts see the real values); what leaves
        the process -- a sink's line, :meth:`to_jsonl`, :meth:`save` -- is scrubbed.
        """
        with self._lock:  # a durable run's tool calls report from their own threads
            record = {"seq": len(self.records), "kind": kind, **data}
            self.records.append(record)
            if self.sinks:
                line = self._line(record)
                if len(self._lines) == record["seq"]:
                    self._lines.append(line)
                self._sink(record, line)
        for monitor in self.monitors:
            found = monitor(self, record)
            if found is not None and self.violation is None:
                self.violation = found
        return record

    def _sink(self, record: dict[str, Any], line: str) -> None:
        for sink in self.sinks:
            try:
                sink(record, line)
            except Exception:
                logger.exception(
                    "a trace sink failed on record %d (%s); the run goes on", record["seq"], record["kind"]
                )

    @property
    def lines(self) -> list[str]:
        """Each record as a scrubbed JSON line (what a sink or a file gets)."""
        while len(self._lines) < len(self.records):
            self._lines.append(self._line(self.records[len(self._lines)]))
        return self._lines

    def _line(self, record: dict[str, Any]) -> str:
        return self._scrub(json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_refuse))

    def scrubbed(self, value: Any) -> Any:
        """``value`` (JSON data) as it would be written: secrets scrubbed, JSON types (lists, not tuples)."""
        return json.loads(self._scrub(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_refuse)))

    def _scrub(self, line: str) -> str:
        clean = scrub_json(line, shapes=True)
        if not self.secrets or not any(s in clean for s in self.secrets):
            return clean
        data = json.loads(clean)
        return json.dumps(_replace(data, self.secrets), ensure_ascii=False, separators=(",", ":"))

    # -- reading

    @property
    def header(self) -> dict[str, Any]:
        """The ``run`` record: what the run was given."""
        if not self.records or self.records[0].get("kind") != "run":
            raise TraceError("the trace has no `run` record first; it is empty or not a Podium trace")
        return self.records[0]

    @property
    def run_id(self) -> str:
        """Id of the traced run."""
        return str(self.header.get("run_id", ""))

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        """The records of these kinds, in order."""
        return [r for r in self.records if r.get("kind") in kinds]

    def effects(self) -> list[dict[str, Any]]:
        """The records a replay answers the loop's effects from, in order."""
        return [r for r in self.records if r.get("kind") in EFFECT_KINDS]

    @property
    def end(self) -> dict[str, Any] | None:
        """The ``end`` record (``None`` when the run did not end: still running, or its process died)."""
        ends = self.of_kind("end")
        return ends[-1] if ends else None

    def request_messages(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The whole prompt of a ``request`` record (message dicts), rebuilt from the requests before it."""
        spec = record.get("messages") or {}
        if "all" in spec:
            return list(spec["all"])
        base = self.records[int(spec["base"])] if spec.get("base") is not None else None
        kept = self.request_messages(base)[: int(spec.get("keep", 0))] if base is not None else []
        return kept + list(spec.get("add", []))

    def request_tools(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The tool definitions offered in a ``request`` record."""
        tools = record.get("tools")
        if isinstance(tools, dict) and "same_as" in tools:
            return self.request_tools(self.records[int(tools["same_as"])])
        return list(tools or [])

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    # -- JSONL

    def to_jsonl(self) -> str:
        """The trace as JSON lines (one record per line)."""
        return "".join(line + "\n" for line in self.lines)

    def save(self, path: str | Path) -> Path:
        """Write the trace to ``path`` as JSONL (replacing it); returns the path."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(self.to_jsonl(), encoding="utf-8")
        tmp.replace(target)
        return target

    @classmethod
    def from_jsonl(cls, text: str, *, source: str = "trace") -> Trace:
        """Read a trace written by :meth:`to_jsonl` (a clear :class:`TraceError` names a bad line)."""
        records: list[dict[str, Any]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise TraceError(
                    f"{source}, line {number}: not JSON ({exc}); is this a Podium trace (JSONL)?"
                ) from None
            if not isinstance(record, dict) or "kind" not in record:
                raise TraceError(f"{source}, line {number}: a record must be a JSON object with a `kind`")
            records.append(record)
        trace = cls(records)
        trace._lines = [line for line in text.splitlines() if line.strip()]
        version = trace.header.get("version")
        if not isinstance(version, int) or version > TRACE_VERSION:
            raise TraceError(
                f"{source}: trace format version {version!r}; this Podium reads versions up to {TRACE_VERSION} "
                "(upgrade Podium to read it)"
            )
        for index, record in enumerate(records):
            if record.get("seq") != index:
                raise TraceError(f"{source}, line {index + 1}: record out of order (seq {record.get('seq')!r})")
        return trace

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        """Read a JSONL trace file."""
        target = Path(path)
        try:
            text = target.read_text(encoding="utf-8")
        except OSError as exc:
            raise TraceError(f"cannot read the trace {target}: {exc.strerror or exc}") from None
        return cls.from_jsonl(text, source=str(target))

    def __repr__(self) -> str:
        return f"Trace(run_id={self.run_id if self.records else None!r}, records={len(self.records)})"


def _refuse(value: Any) -> Any:
    raise TypeError(f"a trace record holds a {type(value).__name__}, which is not JSON (encode it first)")


def _replace(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, "[REDACTED:secret]")
        return value
    if isinstance(value, list):
        return [_replace(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, secrets) for k, v in value.items()}
    return value
