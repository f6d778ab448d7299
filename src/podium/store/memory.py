"""Memories: short notes kept across conversations, scoped per user and project, searched with SQLite FTS5.

A note belongs to a **user** and a **project** (any key: the CLI uses the workspace's resolved path), or to
the user alone (``project=''``: "for every project of mine"). Reading from a scope (search, list, get,
delete) sees the project's notes and the user's own ones, never another project's or another user's: an
id from elsewhere is simply not found there.

The notes live in the ``memories`` table of a Podium database (by default the conversation database, so one
file holds both; any other path gives memory a file of its own). The connection handling is the
conversation store's (:class:`~podium.store.connection.Database`: WAL, a busy timeout, every write one
``BEGIN IMMEDIATE`` transaction), so several processes can save and forget notes at once without losing
any or failing with "database is locked".

Searching: :func:`podium.store.memory_text.match_expression` quotes every word of the query, so no text is
ever parsed as FTS5 syntax; results rank by bm25 (notes with more of the words, and rarer ones, first), ties
newest first, then by id.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from podium.exceptions import UserError
from podium.secrets import scrub
from podium.store.base import NotFoundError, StoreError
from podium.store.connection import Database, check_database_path, database_error
from podium.store.memory_base import MemoryScope, Note, NoteStore, SavedNote
from podium.store.memory_text import (
    MAX_QUERY_CHARS,
    InvalidNoteError,
    clean_note,
    index_terms,
    match_expression,
    note_digest,
)
from podium.store.migrations import migrate
from podium.store.rows import refuse_foreign

__all__ = ["MemoryScope", "MemoryStore", "Note", "NoteStore", "SavedNote", "check_id"]

logger = logging.getLogger("podium.store")

_ID = re.compile(r"[0-9a-f]{12}")
_FTS = "memories_fts"
_TOKENIZER = "porter unicode61 remove_diacritics 2"
MAX_LIMIT = 200
"""The most notes one search or listing returns."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _note(row: sqlite3.Row, score: float | None = None) -> Note:
    return Note(row["id"], row["text"], row["user"], row["project"], datetime.fromisoformat(row["created"]), score)


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidNoteError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def check_id(note_id: object) -> str:
    """A note id as stored (lower case), or :class:`InvalidNoteError` saying what an id looks like."""
    if isinstance(note_id, str):
        candidate = note_id.strip().lower()
        if _ID.fullmatch(candidate):
            return candidate
    shown = repr(note_id)[:40]
    raise InvalidNoteError(
        f"{shown} is not a memory id; ids are 12 hex digits such as 3f9a2c1b7d0e, as shown by recall or list_memories"
    )


class MemoryStore:
    """Notes in a SQLite file with an FTS5 index (a :class:`~podium.store.memory_base.NoteStore`).

    Threads and processes share it safely.

    Example::

        store = MemoryStore()  # the conversation database (PODIUM_DB or the default)
        scope = MemoryScope(user="ada", project="engine")
        saved = store.add("The build needs Rust 1.80", scope)
        [note] = store.search("which rust version?", scope)
        store.delete(note.id, scope)

    Args:
        path: The database file (a Podium database, new or existing); default
            :func:`~podium.store.sqlite.default_db_path`, the conversation database.
        timeout: Seconds to wait for another process's write lock.

    Raises:
        StoreError: the file cannot be used (see :mod:`podium.store.base`), or this Python's SQLite was
            built without FTS5.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 30.0) -> None:
        if path is None:
            from podium.store.sqlite import default_db_path

            path = default_db_path()
        self.path = Path(path).expanduser()
        if str(self.path) == ":memory:":
            raise UserError("MemoryStore needs a file (it is shared by threads and processes); use a temp file")
        check_database_path(self.path)
        self.db = Database(self.path, timeout=timeout, synchronous="FULL")
        try:
            conn = self.db.connection()
            refuse_foreign(conn, self.path)
            migrate(conn)
            self._ensure_index(conn)
        except sqlite3.Error as exc:
            self.db.close()
            raise database_error(exc, self.path, opening=True) from exc
        except BaseException:
            self.db.close()
            raise

    @staticmethod
    def _index_state(conn: sqlite3.Connection) -> tuple[bool, bool]:
        """Whether the index exists, and whether it holds exactly the notes."""
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (_FTS,)).fetchone():
            return False, False
        notes = conn.execute("SELECT COUNT(*) FROM memories").fetchone()[0]
        return True, notes == conn.execute(f"SELECT COUNT(*) FROM {_FTS}").fetchone()[0]

    def _ensure_index(self, conn: sqlite3.Connection) -> None:
        """Create the FTS5 index when missing, and rebuild it when it does not hold every note.

        The common case (the index is there and whole) is one read: no write lock is taken.
        """
        if self._index_state(conn) == (True, True):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            exists, whole = self._index_state(conn)  # again, under the lock: another process may have done it
            if not exists:
                try:
                    conn.execute(f"CREATE VIRTUAL TABLE {_FTS} USING fts5(terms, tokenize = '{_TOKENIZER}')")
                except sqlite3.OperationalError as exc:
                    if "fts5" not in str(exc).lower():
                        raise
                    raise StoreError(
                        f"memory needs SQLite's full-text search (FTS5), and the SQLite of this Python "
                        f"({sqlite3.sqlite_version}) was built without it; use a Python whose sqlite3 has FTS5 "
                        "(python.org, Debian/Ubuntu, Homebrew and conda builds do)"
                    ) from exc
            if not whole:
                logger.info("%s: building the memory index", self.path)
                conn.execute(f"DELETE FROM {_FTS}")
                for rowid, text in conn.execute("SELECT rowid, text FROM memories").fetchall():
                    conn.execute(f"INSERT INTO {_FTS} (rowid, terms) VALUES (?, ?)", (rowid, index_terms(text)))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close every connection; the store cannot be used afterwards."""
        self.db.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MemoryStore({str(self.path)!r})"

    # ------------------------------------------------------------------ writing

    def add(self, text: str, scope: MemoryScope, *, level: Literal["project", "user"] = "project") -> SavedNote:
        """Save a note in ``scope`` (``level="user"``: for every project of the user).

        The same note (same words, ignoring case and spacing) saved again where ``scope`` already sees it
        (the same level, or a project note the user already has for every project) is not duplicated: the
        existing note comes back with ``created=False``. Known secrets and what looks like a
        credential are replaced by a marker before the note is written (``scrubbed=True``).

        Raises:
            InvalidNoteError: empty, longer than :data:`~podium.store.memory_text.MAX_NOTE_CHARS`, not
                text, or with control characters; the message says which.
        """
        if level not in ("project", "user"):
            raise InvalidNoteError(f"level must be 'project' or 'user', got {level!r}")
        clean = clean_note(text)
        safe = scrub(clean, shapes=True)
        project = scope.project if level == "project" else ""
        digest = note_digest(safe)
        with self.db.transaction(write=True) as conn:  # a project note the user already has for all projects: kept
            row = conn.execute(
                "SELECT * FROM memories WHERE user = ? AND project IN (?, '') AND digest = ? ORDER BY project DESC",
                (scope.user, project, digest),
            ).fetchone()
            if row is not None:
                return SavedNote(_note(row), created=False, scrubbed=safe != clean)
            note_id = self._new_id(conn)
            cursor = conn.execute(
                "INSERT INTO memories (id, user, project, text, digest, created) VALUES (?, ?, ?, ?, ?, ?)",
                (note_id, scope.user, project, safe, digest, _now()),
            )
            conn.execute(f"INSERT INTO {_FTS} (rowid, terms) VALUES (?, ?)", (cursor.lastrowid, index_terms(safe)))
            row = conn.execute("SELECT * FROM memories WHERE id = ?", (note_id,)).fetchone()
            return SavedNote(_note(row), created=True, scrubbed=safe != clean)

    @staticmethod
    def _new_id(conn: sqlite3.Connection) -> str:
        while True:
            note_id = uuid.uuid4().hex[:12]
            if not conn.execute("SELECT 1 FROM memories WHERE id = ?", (note_id,)).fetchone():
                return note_id

    def delete(self, note_id: str, scope: MemoryScope) -> Note:
        """Forget the note ``note_id`` seen from ``scope``; returns it.

        Raises:
            InvalidNoteError: ``note_id`` is not an id (12 hex digits).
            NotFoundError: no such note in this scope (never saved, already forgotten, or another
                project's or user's: the message does not say which).
        """
        note_id = check_id(note_id)
        with self.db.transaction(write=True) as conn:
            row = self._visible(conn, note_id, scope)
            conn.execute(f"DELETE FROM {_FTS} WHERE rowid = ?", (row["rowid"],))
            conn.execute("DELETE FROM memories WHERE rowid = ?", (row["rowid"],))
            return _note(row)

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _visible(conn: sqlite3.Connection, note_id: str, scope: MemoryScope) -> sqlite3.Row:
        row = conn.execute(
            "SELECT rowid, * FROM memories WHERE id = ? AND user = ? AND project IN (?, '')",
            (note_id, scope.user, scope.project),
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"there is no memory {note_id} here (it may have been forgotten already); list_memories shows "
                "the ids of the notes this conversation can see"
            )
        return row  # type: ignore[no-any-return]

    def get(self, note_id: str, scope: MemoryScope) -> Note:
        """The note ``note_id`` as seen from ``scope`` (same errors as :meth:`delete`)."""
        note_id = check_id(note_id)
        with self.db.transaction(write=False) as conn:
            return _note(self._visible(conn, note_id, scope))

    def search(self, query: str, scope: MemoryScope, *, limit: int = 5) -> list[Note]:
        """The notes of ``scope`` that share words with ``query``, most relevant first (at most ``limit``).

        Any text is a valid query: its words are searched for, never its punctuation or FTS5 syntax. A query
        with no words (only punctuation or symbols) finds nothing.

        Raises:
            InvalidNoteError: the query is empty, longer than
                :data:`~podium.store.memory_text.MAX_QUERY_CHARS`, or not text; ``limit`` is not 1 to 200.
        """
        clean = clean_note(query, what="query", limit=MAX_QUERY_CHARS)
        limit = _limit(limit)
        expression = match_expression(clean)
        if expression is None:
            return []
        sql = f"""
            SELECT m.*, bm25({_FTS}) AS score FROM {_FTS} JOIN memories m ON m.rowid = {_FTS}.rowid
            WHERE {_FTS} MATCH ? AND m.user = ? AND m.project IN (?, '')
            ORDER BY score, m.created DESC, m.id LIMIT ?
        """
        with self.db.transaction(write=False) as conn:
            rows = conn.execute(sql, (expression, scope.user, scope.project, limit)).fetchall()
        return [_note(r, float(r["score"])) for r in rows]

    def notes(self, scope: MemoryScope, *, limit: int = 50, offset: int = 0) -> list[Note]:
        """The notes ``scope`` sees (its project's and the user's own), newest first."""
        limit = _limit(limit)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidNoteError(f"offset must be a whole number, 0 or more, got {offset!r}")
        with self.db.transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT * FROM memories WHERE user = ? AND project IN (?, '') "
                "ORDER BY created DESC, id LIMIT ? OFFSET ?",
                (scope.user, scope.project, limit, offset),
            ).fetchall()
        return [_note(r) for r in rows]

    def count(self, scope: MemoryScope) -> int:
        """How many notes ``scope`` sees."""
        with self.db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM memories WHERE user = ? AND project IN (?, '')", (scope.user, scope.project)
            ).fetchone()
        return int(row[0])
