"""Memories as records, and :class:`NoteStore`, what :class:`podium.agent.memory.Memory` needs from a store.

:class:`~podium.store.memory.MemoryStore` (SQLite with FTS5) is the implementation Podium ships; another one (a
vector database, a service) only has to provide these six methods with the same scoping rules: a scope sees
its project's notes and the user's own (``project=''``), never another project's or user's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from podium.exceptions import UserError
from podium.store.memory_text import InvalidNoteError, clean_note

__all__ = ["MemoryScope", "Note", "NoteStore", "SavedNote"]


@dataclass(frozen=True, slots=True)
class MemoryScope:
    """Whose notes: a user, and a project of theirs.

    Example::

        scope = MemoryScope(user="ada", project="/home/ada/src/engine")
    """

    user: str
    """The user the notes belong to (the CLI uses the OS user name)."""
    project: str
    """The project (the CLI uses the workspace's resolved path); ``''`` sees only the user's own notes."""

    def __post_init__(self) -> None:
        for name in ("user", "project"):
            value = getattr(self, name)
            if name == "project" and value == "":
                continue  # the user's own notes only
            try:
                clean_note(value, what=f"memory {name} key", limit=1000)
            except InvalidNoteError as exc:
                raise UserError(f"MemoryScope: {exc}") from None
            if value != value.strip():
                raise UserError(f"MemoryScope: the {name} key {value!r} has whitespace around it; give it trimmed")


@dataclass(frozen=True, slots=True)
class Note:
    """One remembered note."""

    id: str
    """Twelve hex digits, e.g. ``3f9a2c1b7d0e``."""
    text: str
    """The note."""
    user: str
    """The user it belongs to."""
    project: str
    """The project it belongs to; ``''`` for a note every project of the user sees."""
    created: datetime
    """When it was saved (UTC)."""
    score: float | None = None
    """Relevance to the search that found it (bm25: lower is better); ``None`` outside a search."""

    @property
    def level(self) -> Literal["project", "user"]:
        """``user`` for a note every project of the user sees, else ``project``."""
        return "user" if self.project == "" else "project"


@dataclass(frozen=True, slots=True)
class SavedNote:
    """What :meth:`MemoryStore.add` did."""

    note: Note
    """The stored note (the existing one when it was a duplicate)."""
    created: bool
    """``False`` when the same note was already saved in that scope (nothing new was written)."""
    scrubbed: bool = False
    """``True`` when a secret (an API key, a password ...) in the text was replaced by a marker."""


@runtime_checkable
class NoteStore(Protocol):
    """Where notes are kept.

    Bad input raises :class:`~podium.store.memory_text.InvalidNoteError`; an id the scope does not see raises
    :class:`~podium.store.base.NotFoundError` (the same for every such id).
    """

    def add(self, text: str, scope: MemoryScope, *, level: Literal["project", "user"] = "project") -> SavedNote:
        """Save a note for the scope's project (or, ``level="user"``, for every project of the user)."""
        ...

    def search(self, query: str, scope: MemoryScope, *, limit: int = 5) -> list[Note]:
        """The notes the scope sees that match ``query``, most relevant first."""
        ...

    def notes(self, scope: MemoryScope, *, limit: int = 50, offset: int = 0) -> list[Note]:
        """The notes the scope sees, newest first."""
        ...

    def count(self, scope: MemoryScope) -> int:
        """How many notes the scope sees."""
        ...

    def get(self, note_id: str, scope: MemoryScope) -> Note:
        """One note the scope sees."""
        ...

    def delete(self, note_id: str, scope: MemoryScope) -> Note:
        """Forget one note the scope sees; returns it."""
        ...
