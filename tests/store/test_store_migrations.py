"""Migrations: applied once, recorded, idempotent, append-only."""

from __future__ import annotations

import hashlib
import inspect
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from podium.store import SQLiteStore
from podium.store.migrations import MIGRATIONS, applied_migrations, migrate

# The source hash of every released migration. A migration must never change once released (databases
# in the wild already ran it): to change the schema, append a new migration and add its hash here.
PINNED = {
    "m001_initial": "85b08489d305ddce",
    "m002_memories": "5b9b8fc4135a15ae",
    "m003_traces": "5c1b8bc9c7c698b6",
    "m004_trace_keys": "9d812cc136e394a7",
}


def source_hash(fn: object) -> str:
    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:16]  # type: ignore[arg-type]


def test_released_migrations_are_never_edited() -> None:
    names = [m.__name__ for m in MIGRATIONS]
    assert names[: len(PINNED)] == list(PINNED), "migrations were removed or reordered; only append new ones"
    for fn in MIGRATIONS[: len(PINNED)]:
        assert source_hash(fn) == PINNED[fn.__name__], (
            f"migration {fn.__name__} was edited; restore it and append a new migration instead"
        )
    assert len(names) == len(PINNED), f"pin the new migrations' hashes in PINNED: {names[len(PINNED) :]}"
    assert all(re.fullmatch(r"m\d{3}_[a-z0-9_]+", n) for n in names)
    assert len(set(names)) == len(names)


def test_applied_once_and_recorded(db_path: Path) -> None:
    with SQLiteStore(db_path):
        pass
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert applied_migrations(conn) == [m.__name__ for m in MIGRATIONS]
        assert migrate(conn) == []  # idempotent
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"conversations", "messages", "runs", "_podium_migrations"} <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    with SQLiteStore(db_path) as again:  # reopening applies nothing and keeps the data
        conv = again.create(title="kept")
    with SQLiteStore(db_path) as third:
        assert third.get(conv.id).title == "kept"
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM _podium_migrations").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_a_failing_migration_leaves_nothing_half_done(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)

    def m999_broken(c: sqlite3.Connection) -> None:
        c.execute("CREATE TABLE half (x)")
        raise RuntimeError("boom")

    MIGRATIONS.append(m999_broken)
    try:
        try:
            migrate(conn)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the migration error was swallowed")
        assert applied_migrations(conn) == [m.__name__ for m in MIGRATIONS[:-1]]
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchone() is None
    finally:
        MIGRATIONS.remove(m999_broken)
        conn.close()


CHILD = """
import sys
from podium.store import SQLiteStore
s = SQLiteStore(sys.argv[1])
s.create(title=sys.argv[2])
s.close()
"""


def test_two_processes_opening_a_new_database_at_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(path), f"p{i}"]) for i in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM _podium_migrations")]
    titles = sorted(r[0] for r in conn.execute("SELECT title FROM conversations"))
    conn.close()
    assert names == [m.__name__ for m in MIGRATIONS]
    assert titles == ["p0", "p1", "p2"]
