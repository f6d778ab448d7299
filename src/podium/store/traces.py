"""Runs' traces in the conversation database: one row per trace, one per record (migration ``m003``).

The store keeps trace records as the JSON lines the trace wrote; it does not read them (the store knows
nothing of the agent or of :mod:`podium.trace`). :meth:`TraceRows.sink` gives a trace sink that writes each
record as it is appended, in its own transaction, so a trace read after a crash holds everything up to the
last record written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from podium.store.base import NotFoundError, StoreError
from podium.store.connection import Database

__all__ = ["KeyTaken", "StoredTrace", "TraceRows"]


class KeyTaken(StoreError):
    """A run with this idempotency key was already started (its trace is ``trace_id``)."""

    def __init__(self, key: str, trace_id: str) -> None:
        super().__init__(f"a run was already started with the idempotency key {key!r} (trace {trace_id})")
        self.key = key
        self.trace_id = trace_id


@dataclass(frozen=True, slots=True)
class StoredTrace:
    """One stored trace: which run, which conversation, when, and how many records."""

    id: str
    run_id: str
    conversation_id: str | None
    started: str
    records: int
    status: str | None
    """The ``end`` record's status (``None``: the run had not ended when its process stopped)."""


class TraceRows:
    """The traces of one database (``SQLiteStore.traces``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def sink(
        self, conversation_id: str | None = None, *, trace_id: str | None = None
    ) -> Callable[[dict[str, Any], str], None]:
        """A trace sink storing every record, linked to ``conversation_id``.

        Without ``trace_id`` a new trace starts at each ``run`` record; with it (a trace made by
        :meth:`start`, or one a resumed run continues) every record goes there.
        """
        state: dict[str, str] = {"id": trace_id} if trace_id is not None else {}

        def write(record: dict[str, Any], line: str) -> None:
            if record.get("kind") == "run" and trace_id is None:
                state["id"] = self.start(str(record.get("run_id", "")), conversation_id, int(record.get("version", 1)))
            if "id" not in state:
                raise StoreError("a trace sink got a record before the trace's `run` record")
            self.append(state["id"], int(record["seq"]), str(record["kind"]), line)

        return write

    def start(self, run_id: str, conversation_id: str | None, version: int = 1, *, key: str | None = None) -> str:
        """Create a trace of ``run_id``; returns its id.

        Raises:
            KeyTaken: another trace holds the idempotency ``key`` (its id is ``.trace_id``).
        """
        trace_id = uuid.uuid4().hex
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        try:
            with self.db.transaction(write=True) as conn:
                conn.execute(
                    "INSERT INTO traces (id, run_id, conversation_id, version, started, idempotency_key) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (trace_id, run_id, conversation_id, version, now, key),
                )
        except StoreError as exc:
            existing = self.find_key(key) if key is not None else None
            if existing is not None:
                raise KeyTaken(key or "", existing) from exc
            raise
        return trace_id

    def find_key(self, key: str) -> str | None:
        """The trace started with idempotency ``key``, if any."""
        with self.db.transaction(write=False) as conn:
            row = conn.execute("SELECT id FROM traces WHERE idempotency_key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def info(self, trace_id: str) -> StoredTrace:
        """What is stored about one trace."""
        for row in self.list(limit=1, trace_id=trace_id):
            return row
        raise NotFoundError(f"no trace {trace_id!r}; `podium trace list` shows the stored ones")

    def append(self, trace_id: str, seq: int, kind: str, line: str) -> None:
        """Store one record (committed at once)."""
        with self.db.transaction(write=True) as conn:
            conn.execute(
                "INSERT INTO trace_records (trace_id, seq, kind, data) VALUES (?, ?, ?, ?)", (trace_id, seq, kind, line)
            )

    def write(self, lines: Iterable[str], conversation_id: str | None = None) -> str:
        """Store a whole trace (an imported JSONL file) in one transaction; returns its id."""
        records = [json.loads(line) for line in lines if line.strip()]
        if not records or records[0].get("kind") != "run":
            raise StoreError("a trace must start with its `run` record")
        trace_id = uuid.uuid4().hex
        with self.db.transaction(write=True) as conn:
            conn.execute(
                "INSERT INTO traces (id, run_id, conversation_id, version, started) VALUES (?, ?, ?, ?, ?)",
                (
                    trace_id,
                    str(records[0].get("run_id", "")),
                    conversation_id,
                    int(records[0].get("version", 1)),
                    str(records[0].get("started", "")),
                ),
            )
            conn.executemany(
                "INSERT INTO trace_records (trace_id, seq, kind, data) VALUES (?, ?, ?, ?)",
                [
                    (trace_id, i, str(r.get("kind")), json.dumps(r, ensure_ascii=False, separators=(",", ":")))
                    for i, r in enumerate(records)
                ],
            )
        return trace_id

    def lines(self, trace_id: str) -> list[str]:
        """The records of a trace, as JSON lines in order."""
        with self.db.transaction(write=False) as conn:
            if conn.execute("SELECT 1 FROM traces WHERE id = ?", (trace_id,)).fetchone() is None:
                raise NotFoundError(f"no trace {trace_id!r}; `podium trace list` shows the stored ones")
            rows = conn.execute("SELECT data FROM trace_records WHERE trace_id = ? ORDER BY seq", (trace_id,))
            return [row[0] for row in rows]

    def list(
        self,
        *,
        run_id: str | None = None,
        conversation_id: str | None = None,
        limit: int = 50,
        trace_id: str | None = None,
    ) -> list[StoredTrace]:
        """Stored traces, newest first (of one run or conversation when given)."""
        where, args = [], []
        if trace_id is not None:
            where.append("t.id = ?")
            args.append(trace_id)
        if run_id is not None:
            where.append("t.run_id = ?")
            args.append(run_id)
        if conversation_id is not None:
            where.append("t.conversation_id = ?")
            args.append(conversation_id)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        query = (
            "SELECT t.id, t.run_id, t.conversation_id, t.started, "
            "(SELECT COUNT(*) FROM trace_records r WHERE r.trace_id = t.id), "
            "(SELECT data FROM trace_records r WHERE r.trace_id = t.id AND r.kind = 'end' ORDER BY seq DESC LIMIT 1) "
            f"FROM traces t {clause} ORDER BY t.started DESC, t.rowid DESC LIMIT ?"
        )
        with self.db.transaction(write=False) as conn:
            rows = conn.execute(query, (*args, limit)).fetchall()
        return [StoredTrace(r[0], r[1], r[2], r[3], r[4], _status(r[5])) for r in rows]

    def find(self, ref: str) -> str:
        """The trace ``ref`` names: a trace id, a run id (its latest trace), a unique prefix, or ``latest``."""
        with self.db.transaction(write=False) as conn:
            if ref == "latest":
                row = conn.execute("SELECT id FROM traces ORDER BY started DESC, rowid DESC LIMIT 1").fetchone()
                if row is None:
                    raise NotFoundError("no trace is stored yet: run `podium run` or `podium chat` first")
                return str(row[0])
            for query in (
                "SELECT id FROM traces WHERE id = ?",
                "SELECT id FROM traces WHERE run_id = ? ORDER BY started DESC, rowid DESC",
            ):
                row = conn.execute(query, (ref,)).fetchone()
                if row is not None:
                    return str(row[0])
            like = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = conn.execute(
                "SELECT DISTINCT id FROM traces WHERE id LIKE ? ESCAPE '\\' OR run_id LIKE ? ESCAPE '\\' LIMIT 2",
                (like, like),
            ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if rows:
            raise NotFoundError(f"{ref!r} names more than one trace; give more characters")
        raise NotFoundError(f"no trace or run {ref!r}; `podium trace list` shows the stored ones")


def _status(line: str | None) -> str | None:
    if not line:
        return None
    try:
        return str(json.loads(line).get("status"))
    except ValueError:
        return None
