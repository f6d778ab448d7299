"""The conversation store: plain-data records and the :class:`ConversationStore` protocol.

A store keeps conversations, their messages (in the core's versioned JSON, one record per message,
each committed on its own), the runs that produced them (status, usage, cost, errors, paused approval
state), and an undo/redo history. Messages are pure values (:class:`~podium.messages.Message`); their
identity (id, position, run) lives in :class:`StoredMessage`.

Guarantees every implementation gives:

* :meth:`ConversationStore.messages` always returns a history that is valid to continue from: an
  assistant tool call without a result (a run killed during a tool call, a paused run) gets an error
  result marked ``interrupted`` (:func:`podium.tools.executor.interrupted_result`). This repair is a
  view; it is written to the store only when something else is appended after those calls, so a run
  that is still going in another process is never cut short and a paused run can still be resumed.
* While a run is in progress in one process, other processes cannot append to its conversation or
  start a run in it (their messages would interleave); a run left ``running`` by a process that died
  is marked ``failed`` (interrupted) when the store is opened or the conversation is next written.
* Undo hides the last exchange (the last user message that began an exchange and everything after
  it) without deleting it; redo shows it again; appending a message after an undo drops the redo
  stack, as in an editor. Both survive restarts.

Errors::

    PodiumError
    └── StoreError                 the store cannot do what was asked (and says why)
        ├── NotFoundError          no conversation, message or run with that id (also a ``LookupError``)
        ├── UnusableDatabaseError  the file is damaged, is not a SQLite database, or is another program's
        └── ReadOnlyDatabaseError  the file cannot be written: read-only file system, permissions, full disk

Every SQLite failure is raised as one of these, never as a bare ``sqlite3`` exception. Every text the
store writes is scrubbed of known secrets first (:mod:`podium.secrets`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

from podium.exceptions import PodiumError
from podium.messages import Message
from podium.paused import PausedRun
from podium.usage import Usage

__all__ = [
    "Conversation",
    "ConversationStore",
    "ConversationSummary",
    "ConversationUsage",
    "NotFoundError",
    "ReadOnlyDatabaseError",
    "Run",
    "RunStatus",
    "StoreError",
    "StoredMessage",
    "UnusableDatabaseError",
]

RunStatus: TypeAlias = Literal["running", "completed", "failed", "cancelled", "paused"]
"""Where a run is: ``running`` until it ends as ``completed``, ``failed`` or ``cancelled``, or
``paused`` while tool calls wait for a person's approval."""

RUN_STATUSES: tuple[RunStatus, ...] = ("running", "completed", "failed", "cancelled", "paused")


class StoreError(PodiumError):
    """The store cannot do what was asked; the message says why and what to do."""


class NotFoundError(StoreError, LookupError):
    """No conversation, message or run with the given id."""


class UnusableDatabaseError(StoreError):
    """The database file is damaged, is not a SQLite database, or belongs to another program."""


class ReadOnlyDatabaseError(StoreError):
    """The database cannot be written: a read-only file system, missing permissions, or a full disk."""


def _no_metadata() -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation's own data (its messages are loaded separately)."""

    id: str
    """Unique id (32 hex characters)."""
    title: str | None
    """A name to show; set from the first user message unless given or renamed."""
    created: datetime
    """When it was created (UTC)."""
    updated: datetime
    """When it last changed: a message, a rename, an undo or redo (UTC)."""
    model: str | None = None
    """The ``provider:model`` string it runs with, when set."""
    parent_id: str | None = None
    """The conversation this one was forked from (``None`` when not a fork, or the parent is deleted)."""
    fork_message_id: str | None = None
    """The parent's message up to which this fork copied the history."""
    metadata: Mapping[str, Any] = field(default_factory=_no_metadata)
    """Free JSON-able data for the application (settings, tags ...)."""


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """A conversation as listed: with its number of messages and a short preview."""

    conversation: Conversation
    """The conversation."""
    message_count: int
    """Visible messages (undone ones are not counted)."""
    preview: str
    """The start of the last visible user or assistant text, or ``""``."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message with the identity the store gives it."""

    id: str
    """Unique id (32 hex characters)."""
    conversation_id: str
    """The conversation it belongs to."""
    position: int
    """Order in the conversation (increasing, not necessarily contiguous)."""
    message: Message
    """The message itself."""
    run_id: str | None
    """The run that added it, when it was recorded from a run."""
    created: datetime
    """When it was stored (UTC)."""
    hidden: bool = False
    """True when an undo hid it (only listed with ``include_hidden=True``)."""


@dataclass(frozen=True, slots=True)
class Run:
    """One agent run in a conversation."""

    id: str
    """The run's id (the agent loop's ``run_id`` when recorded from events)."""
    conversation_id: str
    """The conversation it ran in."""
    model: str | None
    """The model it ran with, when known."""
    status: RunStatus
    """``running``, ``completed``, ``failed``, ``cancelled`` or ``paused``."""
    started: datetime
    """When it started (UTC)."""
    finished: datetime | None = None
    """When it ended or paused (UTC); ``None`` while running."""
    usage: Usage = field(default_factory=Usage)
    """Tokens used by the run so far."""
    cost: float | None = None
    """Cost in USD; ``None`` when a price was unknown or nothing was recorded."""
    error: str | None = None
    """Why it failed or was cancelled."""
    paused: str | None = None
    """The paused approval state as JSON (:meth:`PausedRun.to_json`) while ``status == "paused"``."""

    def paused_run(self) -> PausedRun | None:
        """The paused state to resume from, or ``None`` when the run is not paused."""
        if self.paused is None:
            return None
        return PausedRun.from_json(self.paused)


@dataclass(frozen=True, slots=True)
class ConversationUsage:
    """What a conversation has spent: every model response it recorded, undone ones included.

    Messages copied into a fork count for the conversation that paid for them, not the fork.
    """

    usage: Usage
    """Tokens summed over the responses."""
    cost: float | None
    """Cost in USD of the responses whose price was known; ``None`` when none was."""
    cost_complete: bool
    """False when some response had an unknown price (``cost`` is then a lower bound)."""
    responses: int
    """Number of model responses counted."""
    runs: int
    """Number of runs recorded."""


@runtime_checkable
class ConversationStore(Protocol):
    """Persistence of conversations, messages, runs, usage and undo/redo (synchronous).

    Every write is its own transaction; a process killed at any point leaves every committed
    message intact. Ids are the 32-hex-character strings the store hands out.
    """

    def create(
        self, *, title: str | None = None, model: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> Conversation:
        """Create an empty conversation."""
        ...

    def get(self, conversation_id: str) -> Conversation:
        """The conversation with this id (or a unique prefix of it); :class:`NotFoundError` otherwise."""
        ...

    def list_conversations(self, *, limit: int = 50, offset: int = 0) -> list[ConversationSummary]:
        """Conversations, most recently updated first, with message counts and previews."""
        ...

    def latest(self, *, with_messages: bool = False) -> Conversation | None:
        """The most recently updated conversation (for ``podium chat --continue``), if any.

        With ``with_messages=True``, empty conversations (and ones whose messages are all undone) are skipped.
        """
        ...

    def update(
        self,
        conversation_id: str,
        *,
        title: str | None = None,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Conversation:
        """Change what is given (``None`` keeps a field); returns the updated conversation."""
        ...

    def rename(self, conversation_id: str, title: str) -> Conversation:
        """Set the title."""
        ...

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation with its messages and runs (forks of it keep their copies)."""
        ...

    def fork(self, conversation_id: str, *, up_to: str | None = None, title: str | None = None) -> Conversation:
        """Copy the visible history, up to and including message ``up_to`` (default: all), into a new conversation."""
        ...

    def append(self, conversation_id: str, message: Message, *, run_id: str | None = None) -> StoredMessage:
        """Append one message, committed at once; drops the redo stack."""
        ...

    def append_many(
        self, conversation_id: str, messages: Sequence[Message], *, run_id: str | None = None
    ) -> list[StoredMessage]:
        """Append several messages in one transaction (all or none)."""
        ...

    def messages(self, conversation_id: str) -> list[Message]:
        """The visible history, valid to continue from (dangling tool calls get interrupted results)."""
        ...

    def stored_messages(self, conversation_id: str, *, include_hidden: bool = False) -> list[StoredMessage]:
        """The stored messages with their ids, as stored (no repair), in order."""
        ...

    def undo(self, conversation_id: str) -> list[Message]:
        """Hide the last exchange; returns the hidden messages (empty when there is nothing to undo)."""
        ...

    def redo(self, conversation_id: str) -> list[Message]:
        """Show the last undone exchange again; returns it (empty when there is nothing to redo)."""
        ...

    def start_run(self, conversation_id: str, *, model: str | None = None, run_id: str | None = None) -> Run:
        """Record that a run started; a paused run's id resumes that run."""
        ...

    def finish_run(self, run_id: str, *, usage: Usage | None = None, cost: float | None = None) -> Run:
        """Mark a run completed."""
        ...

    def fail_run(self, run_id: str, error: str, *, usage: Usage | None = None, cost: float | None = None) -> Run:
        """Mark a run failed with an error message."""
        ...

    def cancel_run(
        self, run_id: str, reason: str = "cancelled", *, usage: Usage | None = None, cost: float | None = None
    ) -> Run:
        """Mark a run cancelled."""
        ...

    def pause_run(self, run_id: str, paused: PausedRun, *, cost: float | None = None) -> Run:
        """Mark a run paused, keeping the state to resume it from."""
        ...

    def get_run(self, run_id: str) -> Run:
        """The run with this id."""
        ...

    def runs(self, conversation_id: str) -> list[Run]:
        """The conversation's runs, oldest first."""
        ...

    def paused_run(self, conversation_id: str) -> PausedRun | None:
        """The paused run the conversation's visible history ends with, if any (to resume it)."""
        ...

    def usage(self, conversation_id: str) -> ConversationUsage:
        """Total usage and cost of the conversation."""
        ...

    def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""
        ...


def dump_metadata(metadata: Mapping[str, Any] | None) -> str:
    """Metadata as JSON text; a clear error when it is not JSON-able."""
    try:
        return json.dumps(dict(metadata or {}), ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"conversation metadata must be JSON-able (str keys, plain values): {exc}") from exc
