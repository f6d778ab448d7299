"""Reading the store's rows into records, and refusing files that are not Podium's database.

A row that cannot be read (bad JSON, a bad timestamp, a message format from a newer Podium) is an
:class:`~podium.store.base.UnusableDatabaseError` that says so, never a bare ``ValueError``.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from podium.exceptions import SerializationError
from podium.messages import Message, load_messages
from podium.store.base import Conversation, Run, RunStatus, StoredMessage, UnusableDatabaseError
from podium.usage import Usage

__all__ = [
    "UnreadableRowError",
    "conversation_row",
    "decode_message",
    "refuse_foreign",
    "run_row",
    "stored_row",
    "unreadable",
]


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def decode_message(fmt: int, data: str) -> Message:
    """A message from its stored JSON and format version."""
    try:
        return load_messages({"version": fmt, "messages": [json.loads(data)]})[0]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # SerializationError is a ValueError
        raise unreadable("message", exc) from exc


class UnreadableRowError(UnusableDatabaseError, SerializationError):
    """A row that cannot be read: the file is damaged, or a newer Podium wrote it (also a ``SerializationError``)."""


def unreadable(kind: str, exc: BaseException) -> UnusableDatabaseError:
    """The error for a row of ``kind`` that cannot be read because of ``exc``."""
    return UnreadableRowError(
        f"the conversation database holds a {kind} that cannot be read ({exc}): the file is damaged or was "
        "written by a newer Podium. Move it aside (or restore a backup), or upgrade Podium."
    )


_Row = TypeVar("_Row")


def _readable(kind: str) -> Callable[[Callable[[sqlite3.Row], _Row]], Callable[[sqlite3.Row], _Row]]:
    """Turn a failure to read a row into :class:`UnusableDatabaseError` (a damaged or newer database)."""

    def wrap(convert: Callable[[sqlite3.Row], _Row]) -> Callable[[sqlite3.Row], _Row]:
        @functools.wraps(convert)
        def checked(row: sqlite3.Row) -> _Row:
            try:
                return convert(row)
            except UnusableDatabaseError:
                raise
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise unreadable(kind, exc) from exc

        return checked

    return wrap


def refuse_foreign(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a SQLite file of another program: Podium would otherwise add its tables to it."""
    tables = [
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    ]
    if tables and "_podium_migrations" not in tables:
        shown = ", ".join(sorted(tables)[:5]) + (" ..." if len(tables) > 5 else "")
        raise UnusableDatabaseError(
            f"{path} is a SQLite database of another program (tables: {shown}); Podium will not add its tables "
            "to it. Give the path of a Podium database or of a new file with --db FILE or PODIUM_DB=FILE."
        )


@_readable("conversation")
def conversation_row(row: sqlite3.Row) -> Conversation:
    """A ``conversations`` row as a record."""
    return Conversation(
        id=row["id"],
        title=row["title"],
        created=_dt(row["created"]),
        updated=_dt(row["updated"]),
        model=row["model"],
        parent_id=row["parent_id"],
        fork_message_id=row["fork_message_id"],
        metadata=json.loads(row["metadata"]),
    )


@_readable("run")
def run_row(row: sqlite3.Row) -> Run:
    """A ``runs`` row as a record."""
    status: RunStatus = row["status"]
    return Run(
        id=row["id"],
        conversation_id=row["conversation_id"],
        model=row["model"],
        status=status,
        started=_dt(row["started"]),
        finished=_dt(row["finished"]) if row["finished"] else None,
        usage=Usage.from_dict(json.loads(row["usage"])),
        cost=row["cost"],
        error=row["error"],
        paused=row["paused"],
    )


@_readable("message")
def stored_row(row: sqlite3.Row) -> StoredMessage:
    """A ``messages`` row as a record."""
    return StoredMessage(
        id=row["id"],
        conversation_id=row["conversation_id"],
        position=row["position"],
        message=decode_message(row["format"], row["data"]),
        run_id=row["run_id"],
        created=_dt(row["created"]),
        hidden=row["undo_step"] is not None or bool(row["discarded"]),
    )
