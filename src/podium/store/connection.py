"""One SQLite file shared by threads and processes: a connection per thread, WAL, explicit transactions.

Every ``sqlite3`` failure leaves this module as a :class:`~podium.store.base.StoreError` that says what is
wrong with the file and what to do (:func:`database_error`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import stat
import tempfile
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from podium.store.base import ReadOnlyDatabaseError, StoreError, UnusableDatabaseError

__all__ = ["Database", "check_database_path", "database_error"]

logger = logging.getLogger("podium.store")


class _Holder:
    """Owns one thread's connection; when the thread ends its holder goes, and the connection closes."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


class Database:
    """A SQLite file opened in WAL mode, with foreign keys on and a busy timeout.

    Each thread gets its own connection (opened on first use, in autocommit mode). A forked child
    process opens fresh connections instead of sharing its parent's. :meth:`transaction` wraps work in
    ``BEGIN IMMEDIATE`` (writes: takes the write lock at once, so two writers never deadlock on a lock
    upgrade) or ``BEGIN`` (reads: one consistent snapshot) and commits, or rolls back on any error.

    Args:
        path: The database file.
        timeout: Seconds to wait for another writer's lock.
        synchronous: SQLite's ``synchronous`` setting (``FULL`` or ``NORMAL``).
    """

    def __init__(self, path: Path, *, timeout: float, synchronous: Literal["FULL", "NORMAL"]) -> None:
        self.path = path
        self.timeout = timeout
        self.synchronous = synchronous
        self._lock = threading.Lock()
        self._local = threading.local()
        self._holders: weakref.WeakSet[_Holder] = weakref.WeakSet()
        self._pid = os.getpid()
        self._closed = False

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        if os.getpid() != self._pid:  # forked: never use the parent's connections
            with self._lock:
                self._local = threading.local()
                self._holders = weakref.WeakSet()
                self._pid = os.getpid()
        holder: _Holder | None = getattr(self._local, "holder", None)
        if holder is None:
            holder = _Holder(self._open())
            self._local.holder = holder
            with self._lock:
                self._holders.add(holder)
        return holder.conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise database_error(exc, self.path, opening=True) from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                logger.warning("%s: WAL unavailable (journal_mode=%s); concurrent use is slower", self.path, mode)
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.Error as exc:
            conn.close()
            raise database_error(exc, self.path, opening=True) from exc
        return conn

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A transaction on this thread's connection, committed on success and rolled back on error."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # a damaged file may refuse even this
                        conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise database_error(exc, self.path) from exc

    def close(self) -> None:
        """Close every thread's connection; the database cannot be used afterwards."""
        with self._lock:
            holders = list(self._holders)
            self._holders = weakref.WeakSet()
            self._closed = True
        for holder in holders:
            holder.conn.close()


_ADVICE_MOVE = (
    "Move it aside (or restore a backup) and run again: Podium then starts a new database there. "
    "`sqlite3 {path} .recover` may rescue what it holds."
)
_ADVICE_PATH = "Choose a writable place with --db FILE or PODIUM_DB=FILE."


def database_error(exc: sqlite3.Error, path: Path, *, opening: bool = False) -> StoreError:
    """The :class:`StoreError` for a ``sqlite3`` failure on ``path``: what is wrong, and what to do."""
    name = str(getattr(exc, "sqlite_errorname", ""))  # Python 3.11+
    text = str(exc)
    lower = text.lower()
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in lower or "not a database" in lower:
        what = f"cannot open {path} as a SQLite database" if opening else f"the conversation database {path} is damaged"
        return UnusableDatabaseError(f"{what} ({text}). {_ADVICE_MOVE.format(path=path)}")
    if name == "SQLITE_FULL" or "disk is full" in lower:
        full = "the disk is full. Free some space, or use another place with --db FILE"
        return ReadOnlyDatabaseError(f"cannot write the conversation database {path}: {full}")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_IOERR", "SQLITE_AUTH")) or any(
        word in lower for word in ("readonly", "read-only", "unable to open", "disk i/o error")
    ):
        reason = why_unwritable(path)
        return ReadOnlyDatabaseError(
            f"cannot write the conversation database {path}: {reason} ({text}). {_ADVICE_PATH}"
        )
    if name.startswith("SQLITE_BUSY") or "locked" in lower:
        return StoreError(
            f"the conversation database {path} is locked by another process ({text}); try again once it is done"
        )
    return StoreError(f"the conversation database {path} failed: {text}")


def why_unwritable(path: Path) -> str:
    """Why SQLite cannot create or write ``path`` (or its journal files beside it), in words."""
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        readonly = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
    except OSError:
        readonly = False
    if readonly:
        return f"{existing} is on a read-only file system"
    if path.exists():
        try:
            os.close(os.open(path, os.O_RDWR))
        except OSError as exc:
            return f"the file cannot be opened for writing ({exc.strerror})"
    try:  # the journal files need the directory too: try what SQLite does
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".podium-probe-")
    except OSError as exc:
        return f"files cannot be created in {existing} ({exc.strerror})"
    os.close(fd)
    os.unlink(probe)
    return "SQLite could not open it for writing"


def check_database_path(path: Path) -> None:
    """Refuse paths SQLite cannot use as a database file, before it blocks or fails obscurely.

    A directory, a FIFO (opening it would wait forever), a device such as ``/dev/full``, a socket: each is
    a :class:`StoreError` that names it. The parent directory is created when missing.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a parent is a file, a directory cannot be searched ...
        raise StoreError(
            f"cannot use the conversation database {path}: {exc.strerror or exc}. Give the path of a file in a "
            "directory you can write, with --db FILE or PODIUM_DB=FILE."
        ) from exc
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, device or socket)"
        raise StoreError(f"the conversation database {path} is {kind}; give the path of a file, e.g. --db chats.db")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = (
            why_unwritable(path) if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else exc.strerror or str(exc)
        )
        raise ReadOnlyDatabaseError(
            f"cannot create the directory of the conversation database {path}: {reason}. {_ADVICE_PATH}"
        ) from exc
