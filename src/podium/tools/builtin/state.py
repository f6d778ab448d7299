"""Per-session state of the built-in tools: which files each agent session has read, and its shell state."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podium.tools.context import RunContext

__all__ = ["ReadRecord", "SessionKey", "ToolState", "default_session_key"]

SessionKey = Callable[[RunContext[Any]], str]


def default_session_key(ctx: RunContext[Any]) -> str:
    """The agent object's id: two agents never share read records or shell state, even with one toolset."""
    return ctx.agent_id or ctx.agent_name or "<agent>"


def digest(data: bytes) -> str:
    """SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """What a session saw when it last read (or wrote) a file."""

    sha256: str
    """Hash of the whole file content."""
    size: int
    """Size in bytes."""


@dataclass
class ToolState:
    """State shared by the tools of one toolset, partitioned by session key."""

    session_key: SessionKey = default_session_key
    """Maps a run context to the session the state belongs to."""
    reads: dict[tuple[str, str], ReadRecord] = field(default_factory=dict)
    """``(session, real path) -> what was read``."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Guards the dictionaries (tools of one turn run on a thread pool)."""

    def key(self, ctx: RunContext[Any] | None) -> str:
        """The session of ``ctx`` (a fixed key when called outside a run)."""
        return self.session_key(ctx) if ctx is not None else "<direct>"

    def remember(self, ctx: RunContext[Any] | None, real: str, data: bytes) -> None:
        """Record that the session saw ``data`` as the content of ``real``."""
        with self.lock:
            self.reads[(self.key(ctx), real)] = ReadRecord(digest(data), len(data))

    def seen(self, ctx: RunContext[Any] | None, real: str) -> ReadRecord | None:
        """What the session last saw of ``real``."""
        with self.lock:
            return self.reads.get((self.key(ctx), real))
