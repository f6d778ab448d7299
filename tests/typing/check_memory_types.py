"""Static checks of the memory's public types (run by mypy in CI; never executed)."""

from __future__ import annotations

from typing import Literal

from typing_extensions import assert_type

from podium import Agent, Memory
from podium.agent.memory import MemoryToolset
from podium.store import MemoryScope, MemoryStore, Note, SavedNote


def check(store: MemoryStore) -> None:
    scope = MemoryScope(user="ada", project="engine")
    saved = store.add("a note", scope, level="user")
    assert_type(saved, SavedNote)
    assert_type(saved.note, Note)
    assert_type(saved.created, bool)
    assert_type(store.search("note", scope, limit=3), list[Note])
    assert_type(store.notes(scope), list[Note])
    assert_type(store.delete(saved.note.id, scope), Note)
    assert_type(store.count(scope), int)
    assert_type(saved.note.level, Literal["project", "user"])
    assert_type(saved.note.score, float | None)
    memory = Memory(store, user="ada", project="engine", auto_recall=3)
    assert_type(memory.scope, MemoryScope)
    assert_type(memory.toolset, MemoryToolset | None)
    assert_type(memory.recalled("note"), str)
    agent = Agent("openai:gpt-4o", memory=memory)
    assert_type(agent.memory, Memory | None)
