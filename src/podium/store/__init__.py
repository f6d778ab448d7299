"""Persistence: conversations, messages, runs, usage and undo/redo, with a SQLite implementation; memories.

:class:`ConversationStore` is the protocol; :class:`SQLiteStore` implements it on one SQLite file
(WAL, append-only migrations). The store knows messages, usage and paused runs (core data) and never
imports the agent: :class:`podium.agent.recording.RunRecorder` records an agent run into a store from its
events. :class:`MemoryStore` keeps the notes an agent remembers across conversations, in the same file or
its own (the tools that use it are :class:`podium.agent.memory.Memory`).
"""

from __future__ import annotations

from podium.store.base import (
    Conversation,
    ConversationStore,
    ConversationSummary,
    ConversationUsage,
    NotFoundError,
    ReadOnlyDatabaseError,
    Run,
    RunStatus,
    StoredMessage,
    StoreError,
    UnusableDatabaseError,
)
from podium.store.memory import MemoryScope, MemoryStore, Note, NoteStore, SavedNote
from podium.store.memory_text import InvalidNoteError
from podium.store.sqlite import SQLiteStore, default_db_path

__all__ = [
    "Conversation",
    "ConversationStore",
    "ConversationSummary",
    "ConversationUsage",
    "InvalidNoteError",
    "MemoryScope",
    "MemoryStore",
    "NotFoundError",
    "Note",
    "NoteStore",
    "ReadOnlyDatabaseError",
    "Run",
    "RunStatus",
    "SQLiteStore",
    "SavedNote",
    "StoreError",
    "StoredMessage",
    "UnusableDatabaseError",
    "default_db_path",
]

_MOVED = {"RunRecorder", "record_result", "record_stream"}


def __getattr__(name: str) -> object:
    if name in _MOVED:
        raise AttributeError(
            f"{name} moved to podium.agent.recording (the store does not import the agent layer); "
            f"write `from podium.agent.recording import {name}`"
        )
    raise AttributeError(f"module 'podium.store' has no attribute {name!r}")
