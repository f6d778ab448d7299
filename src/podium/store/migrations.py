"""The SQLite schema, as an append-only list of migrations.

Each migration is a function that takes a connection inside a transaction and changes the schema. They
run in order, each once, and each is recorded by name in ``_podium_migrations`` in the same
transaction, so a crash mid-way leaves either all of a migration or none of it. Two processes opening a
new database at once are serialized by the write lock taken before checking what is applied.

**Never edit or reorder a migration that has been released**: databases in the wild already ran it.
To change the schema, append a new function with the next number. ``tests/store/test_migrations.py``
pins a hash of every migration's source to catch accidental edits.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

__all__ = ["MIGRATIONS", "applied_migrations", "migrate", "migration"]

logger = logging.getLogger("podium.store")

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = []
"""Every migration, in the order they run."""


def migration(fn: Migration) -> Migration:
    """Register ``fn`` as the next migration (decorator)."""
    if any(m.__name__ == fn.__name__ for m in MIGRATIONS):
        raise ValueError(f"a migration named {fn.__name__!r} already exists; give the new one a new name")
    MIGRATIONS.append(fn)
    return fn


_TABLE = "_podium_migrations"


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in the database, in the order applied."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_TABLE,)).fetchone()
    if not exists:
        return []
    return [row[0] for row in conn.execute(f"SELECT name FROM {_TABLE} ORDER BY rowid")]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet recorded; returns the names applied now.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration runs in its own
    ``BEGIN IMMEDIATE`` transaction.
    """
    if not MIGRATIONS or set(applied_migrations(conn)) >= {m.__name__ for m in MIGRATIONS}:
        return []  # the common case: nothing to do, no write lock taken
    done: list[str] = []
    for fn in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
            if conn.execute(f"SELECT 1 FROM {_TABLE} WHERE name = ?", (fn.__name__,)).fetchone():
                conn.execute("COMMIT")
                continue
            fn(conn)
            conn.execute(
                f"INSERT INTO {_TABLE} (name, applied) VALUES (?, ?)",
                (fn.__name__, datetime.now(timezone.utc).isoformat()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        logger.info("applied store migration %s", fn.__name__)
        done.append(fn.__name__)
    return done


# --------------------------------------------------------------------------- the migrations (append only)


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    """Conversations, runs and messages.

    Times are ISO 8601 UTC text. ``messages.data`` is the core's message JSON (``message_to_dict``)
    in version ``messages.format``; ``usage``/``cost`` repeat a response's usage for queries.
    ``undo_step`` is set on messages an undo hid (NULL = visible); ``discarded`` = 1 once a new
    message dropped them from the redo stack. ``copied_from`` is the parent's message id in a fork.
    ``runs.pid``/``host`` say which process runs it, so a run left ``running`` by a killed process is
    found; ``runs.paused`` is the ``PausedRun`` JSON while the run waits for approvals.
    """
    conn.execute(
        """
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            title TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            model TEXT,
            parent_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
            fork_message_id TEXT,
            metadata TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    conn.execute("CREATE INDEX conversations_updated ON conversations (updated)")
    conn.execute("CREATE INDEX conversations_parent ON conversations (parent_id)")
    conn.execute(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            model TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'paused')),
            started TEXT NOT NULL,
            finished TEXT,
            usage TEXT NOT NULL DEFAULT '{}',
            cost REAL,
            error TEXT,
            paused TEXT,
            pid INTEGER,
            host TEXT
        )
        """
    )
    conn.execute("CREATE INDEX runs_conversation ON runs (conversation_id, started)")
    conn.execute("CREATE INDEX runs_status ON runs (status)")
    conn.execute(
        """
        CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
            format INTEGER NOT NULL,
            data TEXT NOT NULL,
            preview TEXT NOT NULL DEFAULT '',
            run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
            created TEXT NOT NULL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            usage TEXT,
            cost REAL,
            copied_from TEXT,
            undo_step INTEGER,
            discarded INTEGER NOT NULL DEFAULT 0,
            UNIQUE (conversation_id, position)
        )
        """
    )
    conn.execute("CREATE INDEX messages_run ON messages (run_id)")


@migration
def m002_memories(conn: sqlite3.Connection) -> None:
    """Memories: notes an agent saves and recalls across conversations (:mod:`podium.store.memory`).

    ``user`` and ``project`` are the scope; ``project`` is ``''`` for a note of the user's that every
    project sees. ``digest`` is the SHA-256 of the note's normalized text, unique per scope, so saving the
    same note twice keeps one. The full-text index (``memories_fts``, FTS5) is derived data: the memory
    store creates and fills it on first use, so a Python whose SQLite lacks FTS5 still opens the
    conversation store.
    """
    conn.execute(
        """
        CREATE TABLE memories (
            id TEXT PRIMARY KEY,
            user TEXT NOT NULL,
            project TEXT NOT NULL,
            text TEXT NOT NULL,
            digest TEXT NOT NULL,
            created TEXT NOT NULL,
            UNIQUE (user, project, digest)
        )
        """
    )
    conn.execute("CREATE INDEX memories_scope ON memories (user, project, created)")


@migration
def m003_traces(conn: sqlite3.Connection) -> None:
    """Traces: each run's Message-Action Trace, one row per record (:mod:`podium.store.traces`).

    ``traces`` has one row per recorded run part (a paused run and its resume are two traces of one run);
    ``trace_records`` holds each record's JSON line, in order. Records are append-only: a trigger refuses
    to change one. Deleting a conversation deletes its traces.
    """
    conn.execute(
        """
        CREATE TABLE traces (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            started TEXT NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX traces_run ON traces (run_id, started)")
    conn.execute("CREATE INDEX traces_conversation ON traces (conversation_id, started)")
    conn.execute(
        """
        CREATE TABLE trace_records (
            trace_id TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (trace_id, seq)
        ) WITHOUT ROWID
        """
    )
    conn.execute(
        "CREATE TRIGGER trace_records_append_only BEFORE UPDATE ON trace_records "
        "BEGIN SELECT RAISE(ABORT, 'trace records are append-only'); END"
    )


@migration
def m004_trace_keys(conn: sqlite3.Connection) -> None:
    """Idempotency keys: a durable run submitted twice with one key starts once (``traces.idempotency_key``)."""
    conn.execute("ALTER TABLE traces ADD COLUMN idempotency_key TEXT")
    conn.execute("CREATE UNIQUE INDEX traces_key ON traces (idempotency_key) WHERE idempotency_key IS NOT NULL")
