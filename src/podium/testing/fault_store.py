"""The store side of a :class:`~podium.testing.faults.FaultPlan`: SQLite write transactions that fail as SQLite does.

:func:`faulty_store` copies a :class:`~podium.store.sqlite.SQLiteStore`: the copy works on the same file
with connections of its own, whose write transactions meet the plan's store faults at the statement where
SQLite itself would fail:

* ``io_error`` / ``full``: ``COMMIT`` raises ``sqlite3.OperationalError`` (``disk I/O error``, ``database or
  disk is full``, with SQLite's error code and name), after the transaction's statements ran, so the
  store's real rollback undoes them and its real error mapping turns the failure into a
  :class:`~podium.store.base.StoreError` that says what to do;
* ``locked``: another connection takes the write lock and this one's ``BEGIN IMMEDIATE`` is made with no busy
  wait, so SQLite raises its own ``database is locked``.

The store method a write belongs to (``append``, ``start_run``, ``finish_run`` ...) is the outermost one of the
copy's methods that made it, so ``StoreFault.io_error(on="append")`` picks the writes of ``append``.
"""

from __future__ import annotations

import copy
import inspect
import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from typing_extensions import override

from podium.exceptions import UserError
from podium.store.connection import Database
from podium.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from podium.testing.faults import FaultPlan, StoreFault

__all__ = ["faulty_store"]

_ERRORS = {
    "io_error": ("disk I/O error", 10, "SQLITE_IOERR"),
    "full": ("database or disk is full", 13, "SQLITE_FULL"),
}


def _sqlite_error(kind: str) -> sqlite3.OperationalError:
    text, code, name = _ERRORS[kind]
    error = sqlite3.OperationalError(f"{text} (injected)")
    carried: Any = error  # the code and name SQLite's own errors carry (Python 3.11+)
    carried.sqlite_errorcode = code
    carried.sqlite_errorname = name
    return error


class _Faults:
    """What the copy's connections share: the plan, the methods running in each thread, the pending failure."""

    def __init__(self, plan: FaultPlan, path: Any, timeout: float) -> None:
        self.plan = plan
        self.path = path
        self.timeout = timeout
        self.local = threading.local()

    def ops(self) -> list[str]:
        stack: list[str] | None = getattr(self.local, "ops", None)
        if stack is None:
            stack = self.local.ops = []
        return stack

    def choose(self) -> StoreFault | None:
        """The fault the write transaction starting now meets (logged), if any."""
        from podium.testing.faults import FaultRecord

        ops = self.ops()
        target = ops[0] if ops else "(direct)"
        faults = self.plan.store_faults
        positions: dict[str | None, int] = {}
        seq = 0
        for on in dict.fromkeys(f.on for f in faults):
            if on is None or on in ops:
                positions[on], seq = self.plan.tick(f"store:{on}")
        if not positions:
            return None
        for index, fault in enumerate(faults):
            position = positions.get(fault.on)
            if position is not None and self.plan.fires(
                "store", fault.on or "*", position, index, fault.at, fault.rate
            ):
                self.plan.record(
                    FaultRecord("store", position, fault.kind, target, fault.describe(), order=(seq, 0, 0))
                )
                return fault
        return None


class _Connection:
    """A thread's connection, failing the statements a plan picks; everything else goes to the real one."""

    def __init__(self, conn: sqlite3.Connection, faults: _Faults) -> None:
        self._conn = conn
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        """``sql`` on the real connection, unless the plan fails it."""
        statement = sql.strip().upper()
        if statement == "BEGIN IMMEDIATE" and self._faults.plan.store_faults:
            fault = self._faults.choose()
            self._faults.local.pending = fault
            if fault is not None and fault.kind == "locked":
                self._faults.local.pending = None
                return self._locked_begin()
        elif statement == "COMMIT":
            fault = getattr(self._faults.local, "pending", None)
            self._faults.local.pending = None
            if fault is not None:
                raise _sqlite_error(fault.kind)
        return self._conn.execute(sql, *args)

    def _locked_begin(self) -> sqlite3.Cursor:
        """``BEGIN IMMEDIATE`` while another connection holds the write lock: SQLite's own "database is locked"."""
        blocker = sqlite3.connect(self._faults.path, timeout=0, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            self._conn.execute("PRAGMA busy_timeout = 0")
            try:
                return self._conn.execute("BEGIN IMMEDIATE")
            finally:
                self._conn.execute(f"PRAGMA busy_timeout = {int(self._faults.timeout * 1000)}")
        finally:
            if blocker.in_transaction:
                blocker.execute("ROLLBACK")
            blocker.close()


class FaultyDatabase(Database):
    """A store's database whose connections fail the writes a fault plan picks."""

    def __init__(self, db: Database, faults: _Faults) -> None:
        super().__init__(db.path, timeout=db.timeout, synchronous=db.synchronous)
        self.faults = faults

    @override
    def connection(self) -> sqlite3.Connection:
        return cast(sqlite3.Connection, _Connection(super().connection(), self.faults))


def _traced(faults: _Faults, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        ops = faults.ops()
        ops.append(name)
        try:
            return method(*args, **kwargs)
        finally:
            ops.pop()

    call.__name__ = name
    call.__doc__ = method.__doc__
    return call


def faulty_store(plan: FaultPlan, store: SQLiteStore) -> SQLiteStore:
    """A copy of ``store`` on the same file whose writes meet ``plan``'s store faults."""
    if not isinstance(store, SQLiteStore):
        raise UserError(f"plan.store() takes a SQLiteStore (a store over a SQLite file), got {store!r}")
    faults = _Faults(plan, store.db.path, store.db.timeout)
    clone = copy.copy(store)
    clone.db = FaultyDatabase(store.db, faults)
    for name, _member in inspect.getmembers(SQLiteStore, inspect.isfunction):
        if not name.startswith("_"):
            setattr(clone, name, _traced(faults, name, getattr(clone, name)))
    return clone
