"""One SQLite file shared by threads and processes: a connection per thread, WAL, explicit transactions."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from podium.store.base import StoreError

__all__ = ["Database"]

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
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                logger.warning("%s: WAL unavailable (journal_mode=%s); concurrent use is slower", self.path, mode)
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"cannot open {self.path} as a SQLite database: {exc}") from exc
        return conn

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A transaction on this thread's connection, committed on success and rolled back on error."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close every thread's connection; the database cannot be used afterwards."""
        with self._lock:
            holders = list(self._holders)
            self._holders = weakref.WeakSet()
            self._closed = True
        for holder in holders:
            holder.conn.close()
