"""The SQLite conversation store (stdlib ``sqlite3``).

One database file, by default ``podium.db`` in the user's data directory (:func:`default_db_path`:
``~/.local/share/podium/podium.db`` on Linux); the ``PODIUM_DB`` environment variable or a ``path``
argument choose another. The file is in WAL mode (readers never block the writer), with foreign keys on
and a busy timeout, so several threads and several processes can use it at once: each thread gets its own
connection, and every write is one ``BEGIN IMMEDIATE`` transaction. Each appended message is committed on
its own; with the default ``synchronous=FULL`` a commit survives a killed process and a power cut.

Messages are stored as the core's versioned JSON (:func:`podium.messages.message_to_dict`), one row
per message, with usage and cost in their own columns for model responses. See
:mod:`podium.store.base` for what the store guarantees (valid history on load, undo/redo).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from podium.exceptions import UserError
from podium.messages import FORMAT_VERSION, Message, ToolCall, message_to_dict
from podium.paused import PausedRun
from podium.store.base import (
    Conversation,
    ConversationSummary,
    ConversationUsage,
    NotFoundError,
    Run,
    RunStatus,
    StoredMessage,
    StoreError,
    dump_metadata,
)
from podium.store.clean import error_text, json_text, plain_text
from podium.store.connection import Database, check_database_path, database_error
from podium.store.history import exchange_start, interrupted_message, preview_text, repair_history, unanswered_calls
from podium.store.migrations import migrate
from podium.store.rows import (
    conversation_row,
    decode_message,
    refuse_foreign,
    run_row,
    stored_row,
    unreadable,
)
from podium.store.traces import TraceRows
from podium.usage import Usage

__all__ = ["SQLiteStore", "default_db_path"]

logger = logging.getLogger("podium.store")

_VISIBLE = "undo_step IS NULL AND discarded = 0"
_TITLE_CHARS = 60


def default_db_path() -> Path:
    """``$PODIUM_DB`` if set, else ``podium.db`` in the user's data directory.

    The directory comes from ``platformdirs`` (a base dependency, so the store works without the CLI):
    ``$XDG_DATA_HOME/podium`` or ``~/.local/share/podium`` on Linux, ``~/Library/Application Support/podium``
    on macOS, the local application data folder on Windows.
    """
    env = os.environ.get("PODIUM_DB")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir  # imported here: ``import podium.store`` does not need it

    return Path(user_data_dir("podium", appauthor=False)) / "podium.db"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _new_id() -> str:
    return uuid.uuid4().hex


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _text(value: str | None) -> str | None:
    return None if value is None else plain_text(value)


class SQLiteStore:
    """A :class:`~podium.store.base.ConversationStore` in one SQLite file.

    Example (the recorder is :class:`podium.agent.recording.RunRecorder`)::

        store = SQLiteStore("chats.db")
        conv = store.create(model="anthropic:claude-sonnet-4-5")
        with RunRecorder(store, conv.id) as recorder:
            for event in agent.stream("Hello", message_history=store.messages(conv.id)):
                recorder.record(event)

    Args:
        path: The database file (created with its directory when missing); default
            :func:`default_db_path`.
        timeout: Seconds to wait for another writer before giving up.
        synchronous: ``FULL`` (default) makes each commit survive a power cut; ``NORMAL`` is faster and
            still survives a killed process, but a power cut may lose the last commits.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 30.0,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise UserError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        if str(self.path) == ":memory:":
            raise UserError("SQLiteStore needs a file (it is shared by threads and processes); use a temp file")
        check_database_path(self.path)
        self.db = Database(self.path, timeout=timeout, synchronous=synchronous)
        """The underlying database (per-thread connections and transactions), for custom queries."""
        self._host = socket.gethostname()
        try:
            conn = self.db.connection()
            refuse_foreign(conn, self.path)
            migrate(conn)
        except sqlite3.Error as exc:
            self.db.close()
            raise database_error(exc, self.path, opening=True) from exc
        except BaseException:
            self.db.close()
            raise
        self.traces = TraceRows(self.db)
        """The runs' traces (:class:`~podium.store.traces.TraceRows`)."""
        self.recover_runs()

    def close(self) -> None:
        """Close every connection; the store cannot be used afterwards."""
        self.db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # ------------------------------------------------------------------ conversations

    def _require(self, conn: sqlite3.Connection, conversation_id: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no conversation {conversation_id!r} in {self.path}")
        return row  # type: ignore[no-any-return]

    def create(
        self, *, title: str | None = None, model: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> Conversation:
        """Create an empty conversation."""
        now = _now()
        cid = _new_id()
        meta = dump_metadata(metadata)
        with self.db.transaction(write=True) as conn:
            conn.execute(
                "INSERT INTO conversations (id, title, created, updated, model, metadata) VALUES (?, ?, ?, ?, ?, ?)",
                (cid, _text(title), now, now, _text(model), json_text(meta)),
            )
            return conversation_row(self._require(conn, cid))

    def get(self, conversation_id: str) -> Conversation:
        """The conversation with this id, or with a unique id prefix (at least 4 characters)."""
        with self.db.transaction(write=False) as conn:
            row = conn.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            if row is None and len(conversation_id) >= 4 and conversation_id.isalnum():
                rows = conn.execute(
                    "SELECT * FROM conversations WHERE id LIKE ? ORDER BY updated DESC LIMIT 6",
                    (conversation_id.lower() + "%",),
                ).fetchall()
                if len(rows) > 1:
                    ids = ", ".join(r["id"][:12] for r in rows[:5])
                    raise NotFoundError(
                        f"conversation id {conversation_id!r} is ambiguous ({ids} ...); give more of it"
                    )
                row = rows[0] if rows else None
            if row is None:
                raise NotFoundError(f"no conversation {conversation_id!r} in {self.path}")
            return conversation_row(row)

    def list_conversations(self, *, limit: int = 50, offset: int = 0) -> list[ConversationSummary]:
        """Conversations, most recently updated first, with visible message counts and previews."""
        sql = f"""
            SELECT c.*,
                (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND {_VISIBLE}) AS n,
                (SELECT preview FROM messages m WHERE m.conversation_id = c.id AND {_VISIBLE}
                    AND m.role IN ('user', 'assistant') AND m.preview != ''
                    ORDER BY m.position DESC LIMIT 1) AS preview
            FROM conversations c ORDER BY c.updated DESC, c.rowid DESC LIMIT ? OFFSET ?
        """
        with self.db.transaction(write=False) as conn:
            rows = conn.execute(sql, (limit, offset)).fetchall()
        return [ConversationSummary(conversation_row(r), r["n"], r["preview"] or "") for r in rows]

    def latest(self, *, with_messages: bool = False) -> Conversation | None:
        """The most recently updated conversation (only among those with visible messages, if asked)."""
        where = (
            f"WHERE EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND {_VISIBLE})"
            if with_messages
            else ""
        )
        with self.db.transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT * FROM conversations c {where} ORDER BY c.updated DESC, c.rowid DESC LIMIT 1"
            ).fetchone()
        return conversation_row(row) if row is not None else None

    def update(
        self,
        conversation_id: str,
        *,
        title: str | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Conversation:
        """Change the fields given (``None`` keeps a field); returns the updated conversation."""
        with self.db.transaction(write=True) as conn:
            self._require(conn, conversation_id)
            for column, value in (
                ("title", _text(title)),
                ("model", _text(model)),
                ("metadata", None if metadata is None else json_text(dump_metadata(metadata))),
            ):
                if value is not None:
                    conn.execute(f"UPDATE conversations SET {column} = ? WHERE id = ?", (value, conversation_id))
            conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (_now(), conversation_id))
            return conversation_row(self._require(conn, conversation_id))

    def rename(self, conversation_id: str, title: str) -> Conversation:
        """Set the title."""
        if not title.strip():
            raise UserError("a conversation title cannot be empty")
        return self.update(conversation_id, title=title)

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation with its messages and runs (forks of it keep their copies)."""
        with self.db.transaction(write=True) as conn:
            self._require(conn, conversation_id)
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def fork(self, conversation_id: str, *, up_to: str | None = None, title: str | None = None) -> Conversation:
        """Copy the visible history up to and including message ``up_to`` (default: all) into a new conversation.

        The new conversation records its origin (``parent_id``, ``fork_message_id``). Copied responses
        keep their usage but count toward the parent's spending, not the fork's.
        """
        with self.db.transaction(write=True) as conn:
            parent = conversation_row(self._require(conn, conversation_id))
            rows = conn.execute(
                f"SELECT * FROM messages WHERE conversation_id = ? AND {_VISIBLE} ORDER BY position",
                (conversation_id,),
            ).fetchall()
            if up_to is not None:
                ids = [r["id"] for r in rows]
                if up_to not in ids:
                    raise NotFoundError(
                        f"message {up_to!r} is not in the visible history of conversation {conversation_id!r}; "
                        "fork from one of its stored_messages()"
                    )
                rows = rows[: ids.index(up_to) + 1]
            now = _now()
            cid = _new_id()
            conn.execute(
                "INSERT INTO conversations (id, title, created, updated, model, parent_id, fork_message_id, metadata) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cid,
                    _text(title or (f"{parent.title} (fork)" if parent.title else None)),
                    now,
                    now,
                    parent.model,
                    parent.id,
                    rows[-1]["id"] if rows else None,
                    json_text(dump_metadata(parent.metadata)),
                ),
            )
            for position, row in enumerate(rows):
                conn.execute(
                    "INSERT INTO messages (id, conversation_id, position, role, format, data, preview, created, "
                    "input_tokens, output_tokens, usage, cost, copied_from) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        _new_id(),
                        cid,
                        position,
                        row["role"],
                        row["format"],
                        row["data"],
                        row["preview"],
                        row["created"],
                        row["input_tokens"],
                        row["output_tokens"],
                        row["usage"],
                        row["cost"],
                        row["id"],
                    ),
                )
            return conversation_row(self._require(conn, cid))

    # ------------------------------------------------------------------ messages

    def append(self, conversation_id: str, message: Message, *, run_id: str | None = None) -> StoredMessage:
        """Append one message, committed at once.

        Appending drops the redo stack. When the history ends with tool calls that have no results and
        ``message`` is not a tool message, their interrupted results are stored first (and a paused run
        waiting on them is marked cancelled), so the stored history stays valid.
        """
        return self.append_many(conversation_id, [message], run_id=run_id)[0]

    def append_many(
        self, conversation_id: str, messages: Sequence[Message], *, run_id: str | None = None
    ) -> list[StoredMessage]:
        """Append several messages in one transaction (all or none); see :meth:`append`."""
        if not messages:
            return []
        for message in messages:
            if not isinstance(message, Message):
                raise UserError(f"append takes podium.messages.Message values, got {type(message).__name__}")
        with self.db.transaction(write=True) as conn:
            conv = self._require(conn, conversation_id)
            self._check_no_run_elsewhere(conn, conversation_id, "append to")
            if run_id is not None:
                run = conn.execute("SELECT conversation_id FROM runs WHERE id = ?", (run_id,)).fetchone()
                if run is None or run["conversation_id"] != conversation_id:
                    raise NotFoundError(f"no run {run_id!r} in conversation {conversation_id!r}; start_run() first")
            self._drop_redo(conn, conversation_id)
            pending, pending_run = self._pending_calls(conn, conversation_id)
            position = conn.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM messages WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()[0]
            title = conv["title"]
            stored: list[StoredMessage] = []
            for message in messages:
                if message.role == "tool":
                    answered = {r.call_id for r in message.tool_results}
                    pending = [c for c in pending if c.id not in answered]
                elif pending:
                    repair = interrupted_message(pending)
                    self._insert(conn, conversation_id, position, repair, pending_run)
                    self._abandon_paused(conn, pending_run)
                    position += 1
                    pending = []
                stored.append(self._insert(conn, conversation_id, position, message, run_id))
                position += 1
                if message.role == "assistant":
                    pending, pending_run = list(message.tool_calls), run_id
                if title is None and message.role == "user" and message.text.strip():
                    title = plain_text(message.text.strip().splitlines()[0][:_TITLE_CHARS])
                    conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
            conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (_now(), conversation_id))
            return stored

    def _drop_redo(self, conn: sqlite3.Connection, conversation_id: str) -> None:
        """Discard the undone messages for good (they stay in the file, hidden); paused runs among them end."""
        where = "WHERE conversation_id = ? AND undo_step IS NOT NULL AND discarded = 0"
        runs = conn.execute(f"SELECT DISTINCT run_id FROM messages {where}", (conversation_id,)).fetchall()
        conn.execute(f"UPDATE messages SET discarded = 1 {where}", (conversation_id,))
        for (run_id,) in runs:
            self._abandon_paused(conn, run_id)

    def _insert(
        self, conn: sqlite3.Connection, conversation_id: str, position: int, message: Message, run_id: str | None
    ) -> StoredMessage:
        mid = _new_id()
        now = _now()
        usage = message.usage
        conn.execute(
            "INSERT INTO messages (id, conversation_id, position, role, format, data, preview, run_id, created, "
            "input_tokens, output_tokens, usage, cost) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                mid,
                conversation_id,
                position,
                message.role,
                FORMAT_VERSION,
                json_text(json.dumps(message_to_dict(message), ensure_ascii=False)),
                plain_text(preview_text(message)),
                run_id,
                now,
                usage.input_tokens if usage is not None else None,
                usage.output_tokens if usage is not None else None,
                json.dumps(usage.to_dict()) if usage is not None else None,
                message.cost,
            ),
        )
        return StoredMessage(mid, conversation_id, position, message, run_id, datetime.fromisoformat(now))

    def _pending_calls(self, conn: sqlite3.Connection, conversation_id: str) -> tuple[list[ToolCall], str | None]:
        """Unanswered tool calls at the end of the visible history, and the run of their message."""
        last = conn.execute(
            f"SELECT position FROM messages WHERE conversation_id = ? AND {_VISIBLE} AND role != 'tool' "
            "ORDER BY position DESC LIMIT 1",
            (conversation_id,),
        ).fetchone()
        if last is None:
            return [], None
        rows = conn.execute(
            f"SELECT role, format, data, run_id FROM messages WHERE conversation_id = ? AND {_VISIBLE} "
            "AND position >= ? ORDER BY position",
            (conversation_id, last[0]),
        ).fetchall()
        if rows[0]["role"] != "assistant":
            return [], None
        tail = [decode_message(r["format"], r["data"]) for r in rows]
        return unanswered_calls(tail, 0), rows[0]["run_id"]

    def _abandon_paused(self, conn: sqlite3.Connection, run_id: str | None) -> None:
        if run_id is None:
            return
        conn.execute(
            "UPDATE runs SET status = 'cancelled', finished = ?, paused = NULL, "
            "error = 'abandoned: the conversation went on without answering its pending approvals' "
            "WHERE id = ? AND status = 'paused'",
            (_now(), run_id),
        )

    def messages(self, conversation_id: str) -> list[Message]:
        """The visible history, valid to continue from: unanswered tool calls get interrupted results."""
        return repair_history([s.message for s in self.stored_messages(conversation_id)])

    def stored_messages(self, conversation_id: str, *, include_hidden: bool = False) -> list[StoredMessage]:
        """The messages as stored (no repair), with ids, in order; undone ones only with ``include_hidden``."""
        where = "" if include_hidden else f"AND {_VISIBLE}"
        with self.db.transaction(write=False) as conn:
            self._require(conn, conversation_id)
            rows = conn.execute(
                f"SELECT * FROM messages WHERE conversation_id = ? {where} ORDER BY position", (conversation_id,)
            ).fetchall()
        return [stored_row(r) for r in rows]

    # ------------------------------------------------------------------ undo / redo

    def undo(self, conversation_id: str) -> list[Message]:
        """Hide the last exchange (its user message and everything after); returns what was hidden."""
        with self.db.transaction(write=True) as conn:
            self._require(conn, conversation_id)
            rows = conn.execute(
                f"SELECT position, role, run_id FROM messages WHERE conversation_id = ? AND {_VISIBLE} "
                "ORDER BY position",
                (conversation_id,),
            ).fetchall()
            start = exchange_start([r["role"] for r in rows], [r["run_id"] for r in rows])
            if start is None:
                return []
            step = conn.execute(
                "SELECT COALESCE(MAX(undo_step), 0) + 1 FROM messages WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()[0]
            conn.execute(
                f"UPDATE messages SET undo_step = ? WHERE conversation_id = ? AND {_VISIBLE} AND position >= ?",
                (step, conversation_id, rows[start]["position"]),
            )
            conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (_now(), conversation_id))
            return self._step_messages(conn, conversation_id, step)

    def redo(self, conversation_id: str) -> list[Message]:
        """Show the last undone exchange again; returns it (empty when there is nothing to redo)."""
        with self.db.transaction(write=True) as conn:
            self._require(conn, conversation_id)
            step = conn.execute(
                "SELECT MAX(undo_step) FROM messages WHERE conversation_id = ? AND discarded = 0",
                (conversation_id,),
            ).fetchone()[0]
            if step is None:
                return []
            restored = self._step_messages(conn, conversation_id, step)
            conn.execute(
                "UPDATE messages SET undo_step = NULL WHERE conversation_id = ? AND undo_step = ? AND discarded = 0",
                (conversation_id, step),
            )
            conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (_now(), conversation_id))
            return restored

    def _step_messages(self, conn: sqlite3.Connection, conversation_id: str, step: int) -> list[Message]:
        rows = conn.execute(
            "SELECT format, data FROM messages WHERE conversation_id = ? AND undo_step = ? AND discarded = 0 "
            "ORDER BY position",
            (conversation_id, step),
        ).fetchall()
        return [decode_message(r["format"], r["data"]) for r in rows]

    # ------------------------------------------------------------------ runs

    def start_run(self, conversation_id: str, *, model: str | None = None, run_id: str | None = None) -> Run:
        """Record a run as ``running``; giving a paused run's id resumes that run."""
        rid = run_id or _new_id()
        with self.db.transaction(write=True) as conn:
            self._require(conn, conversation_id)
            self._check_no_run_elsewhere(conn, conversation_id, "start a run in")
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (rid,)).fetchone()
            if row is not None:
                if row["status"] != "paused" or row["conversation_id"] != conversation_id:
                    raise StoreError(
                        f"run {rid!r} already exists ({row['status']}, conversation {row['conversation_id']!r}); "
                        "only a paused run of the same conversation can be started again"
                    )
                conn.execute(
                    "UPDATE runs SET status = 'running', finished = NULL, paused = NULL, pid = ?, host = ?, "
                    "model = COALESCE(?, model) WHERE id = ?",
                    (os.getpid(), self._host, _text(model), rid),
                )
            else:
                conn.execute(
                    "INSERT INTO runs (id, conversation_id, model, status, started, pid, host) "
                    "VALUES (?, ?, ?, 'running', ?, ?, ?)",
                    (rid, conversation_id, _text(model), _now(), os.getpid(), self._host),
                )
            return run_row(conn.execute("SELECT * FROM runs WHERE id = ?", (rid,)).fetchone())

    def _end(
        self,
        run_id: str,
        status: RunStatus,
        allowed: tuple[RunStatus, ...],
        *,
        usage: Usage | None,
        cost: float | None,
        error: str | None = None,
        paused: str | None = None,
    ) -> Run:
        with self.db.transaction(write=True) as conn:
            row = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no run {run_id!r}; start_run() first")
            if row["status"] not in allowed:
                raise StoreError(f"run {run_id!r} is {row['status']}; it cannot become {status}")
            conn.execute(
                "UPDATE runs SET status = ?, finished = ?, usage = COALESCE(?, usage), cost = ?, error = ?, "
                "paused = ? WHERE id = ?",
                (
                    status,
                    _now(),
                    None if usage is None else json.dumps(usage.to_dict()),
                    cost,
                    None if error is None else error_text(error),
                    None if paused is None else json_text(paused),
                    run_id,
                ),
            )
            return run_row(conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())

    def reopen_run(self, run_id: str) -> Run:
        """Mark a run whose process died running again, in this process (a durable run being resumed).

        The run must be ``failed`` or ``cancelled`` (recovery marks a run whose process is gone ``failed``); see
        :mod:`podium.agent.durable`.
        """
        with self.db.transaction(write=True) as conn:
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no run {run_id!r}")
            self._recover(conn, row["conversation_id"])
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row["status"] not in ("failed", "cancelled"):
                raise StoreError(f"run {run_id!r} is {row['status']}; only a run whose process stopped can be resumed")
            self._check_no_run_elsewhere(conn, row["conversation_id"], "resume a run in")
            conn.execute(
                "UPDATE runs SET status = 'running', finished = NULL, error = NULL, pid = ?, host = ? WHERE id = ?",
                (os.getpid(), self._host, run_id),
            )
            return run_row(conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())

    def finish_run(self, run_id: str, *, usage: Usage | None = None, cost: float | None = None) -> Run:
        """Mark a running run completed, with its total usage (``None`` keeps what is stored) and cost."""
        return self._end(run_id, "completed", ("running",), usage=usage, cost=cost)

    def fail_run(self, run_id: str, error: str, *, usage: Usage | None = None, cost: float | None = None) -> Run:
        """Mark a running or paused run failed, with the error."""
        return self._end(run_id, "failed", ("running", "paused"), usage=usage, cost=cost, error=error)

    def cancel_run(
        self, run_id: str, reason: str = "cancelled", *, usage: Usage | None = None, cost: float | None = None
    ) -> Run:
        """Mark a running or paused run cancelled, with the reason."""
        return self._end(run_id, "cancelled", ("running", "paused"), usage=usage, cost=cost, error=reason)

    def pause_run(self, run_id: str, paused: PausedRun, *, cost: float | None = None) -> Run:
        """Mark a running run paused, keeping ``paused`` (its JSON) to resume from."""
        return self._end(run_id, "paused", ("running",), usage=paused.usage, cost=cost, paused=paused.to_json())

    def get_run(self, run_id: str) -> Run:
        """The run with this id."""
        with self.db.transaction(write=False) as conn:
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no run {run_id!r} in {self.path}")
        return run_row(row)

    def runs(self, conversation_id: str) -> list[Run]:
        """The conversation's runs, oldest first."""
        with self.db.transaction(write=False) as conn:
            self._require(conn, conversation_id)
            rows = conn.execute(
                "SELECT * FROM runs WHERE conversation_id = ? ORDER BY started, rowid", (conversation_id,)
            ).fetchall()
        return [run_row(r) for r in rows]

    def paused_run(self, conversation_id: str) -> PausedRun | None:
        """The paused run whose pending calls end the visible history, if any (undo hides it, redo shows it)."""
        with self.db.transaction(write=False) as conn:
            self._require(conn, conversation_id)
            tail = conn.execute(
                f"SELECT role, run_id FROM messages WHERE conversation_id = ? AND {_VISIBLE} "
                "ORDER BY position DESC LIMIT 1",
                (conversation_id,),
            ).fetchone()
            if tail is None or tail["role"] != "assistant" or tail["run_id"] is None:
                return None
            row = conn.execute(
                "SELECT paused FROM runs WHERE id = ? AND status = 'paused'", (tail["run_id"],)
            ).fetchone()
        if row is None or row["paused"] is None:
            return None
        try:
            return PausedRun.from_json(row["paused"])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise unreadable("paused run", exc) from exc

    def recover_runs(self) -> list[str]:
        """Mark runs left ``running`` by a process of this host that no longer exists as failed; returns their ids."""
        with self.db.transaction(write=False) as conn:
            stale = self._stale(conn, None)
        if not stale:
            return []
        with self.db.transaction(write=True) as conn:
            return self._recover(conn, None)

    def _stale(self, conn: sqlite3.Connection, conversation_id: str | None) -> list[str]:
        sql = "SELECT id, pid, host FROM runs WHERE status = 'running'"
        args: tuple[str, ...] = ()
        if conversation_id is not None:
            sql += " AND conversation_id = ?"
            args = (conversation_id,)
        return [
            r["id"]
            for r in conn.execute(sql, args)
            if r["host"] == self._host and r["pid"] is not None and r["pid"] != os.getpid() and not _pid_alive(r["pid"])
        ]

    def _check_no_run_elsewhere(self, conn: sqlite3.Connection, conversation_id: str, doing: str) -> None:
        """Refuse to write while another live process runs an agent in the conversation (runs would interleave)."""
        self._recover(conn, conversation_id)
        for row in conn.execute(
            "SELECT id, pid, host FROM runs WHERE conversation_id = ? AND status = 'running'", (conversation_id,)
        ):
            if row["host"] != self._host or row["pid"] != os.getpid():
                raise StoreError(
                    f"cannot {doing} conversation {conversation_id!r}: run {row['id']!r} is in progress in process "
                    f"{row['pid']} on {row['host']!r}. Wait for it to end, or end it with cancel_run() if that "
                    "process is gone."
                )

    def _recover(self, conn: sqlite3.Connection, conversation_id: str | None) -> list[str]:
        stale = self._stale(conn, conversation_id)
        for rid in stale:
            logger.info("run %s: its process is gone; marking it failed", rid)
            conn.execute(
                "UPDATE runs SET status = 'failed', finished = ?, "
                "error = 'interrupted: the process running it stopped before it finished' WHERE id = ?",
                (_now(), rid),
            )
        return stale

    # ------------------------------------------------------------------ usage

    def usage(self, conversation_id: str) -> ConversationUsage:
        """What the conversation spent: its own model responses (undone ones included, fork copies not)."""
        with self.db.transaction(write=False) as conn:
            self._require(conn, conversation_id)
            rows = conn.execute(
                "SELECT usage, cost FROM messages WHERE conversation_id = ? AND role = 'assistant' "
                "AND usage IS NOT NULL AND usage != '{}' AND copied_from IS NULL",
                (conversation_id,),
            ).fetchall()
            runs = conn.execute("SELECT COUNT(*) FROM runs WHERE conversation_id = ?", (conversation_id,)).fetchone()
        total = Usage()
        cost: float | None = None
        complete = True
        for row in rows:
            try:
                total = total + Usage.from_dict(json.loads(row["usage"]))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise unreadable("usage record", exc) from exc
            if row["cost"] is None:
                complete = False
            else:
                cost = (cost or 0.0) + row["cost"]
        return ConversationUsage(total, cost, complete, len(rows), runs[0])
