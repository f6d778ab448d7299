"""Persistence: conversations, messages, runs, usage and undo/redo, with a SQLite implementation.

:class:`ConversationStore` is the protocol; :class:`SQLiteStore` implements it on one SQLite file
(WAL, append-only migrations); :class:`RunRecorder` records an agent run from its events.

Importing this package stays light (no pydantic, no agent): the recorder is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from podium.store.sqlite import SQLiteStore, default_db_path

if TYPE_CHECKING:
    from podium.store.recorder import RunRecorder, record_result, record_stream

__all__ = [
    "Conversation",
    "ConversationStore",
    "ConversationSummary",
    "ConversationUsage",
    "NotFoundError",
    "ReadOnlyDatabaseError",
    "Run",
    "RunRecorder",
    "RunStatus",
    "SQLiteStore",
    "StoreError",
    "StoredMessage",
    "UnusableDatabaseError",
    "default_db_path",
    "record_result",
    "record_stream",
]

_LAZY = {"RunRecorder", "record_result", "record_stream"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module("podium.store.recorder"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'podium.store' has no attribute {name!r}")
