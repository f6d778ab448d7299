"""Persistence: conversations, messages, runs, usage and undo/redo, with a SQLite implementation.

:class:`ConversationStore` is the protocol; :class:`SQLiteStore` implements it on one SQLite file
(WAL, append-only migrations); :class:`RunRecorder` records an agent run from its events.
"""

from podium.store.base import (
    Conversation,
    ConversationStore,
    ConversationSummary,
    ConversationUsage,
    NotFoundError,
    Run,
    RunStatus,
    StoredMessage,
    StoreError,
)
from podium.store.recorder import RunRecorder, record_result, record_stream
from podium.store.sqlite import SQLiteStore, default_db_path

__all__ = [
    "Conversation",
    "ConversationStore",
    "ConversationSummary",
    "ConversationUsage",
    "NotFoundError",
    "Run",
    "RunRecorder",
    "RunStatus",
    "SQLiteStore",
    "StoreError",
    "StoredMessage",
    "default_db_path",
    "record_result",
    "record_stream",
]
