"""Processes saving, searching and forgetting notes in one database at once (and a conversation writer)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from podium.store import MemoryScope, MemoryStore, SQLiteStore

N = 60

NOTE_WRITER = """
import sys
from podium.store import MemoryScope, MemoryStore
path, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
scope = MemoryScope("ada", "proj")
with MemoryStore(path, timeout=60) as store:
    for i in range(n):
        saved = store.add(f"{name} note number {i}", scope)
        store.add(f"shared note {i % 5}", scope)  # both writers save these: kept once each
        if i % 3 == 0:
            store.delete(store.add(f"{name} scratch {i}", scope).note.id, scope)
        store.search(f"{name} number", scope)
"""

CONVERSATION_WRITER = """
import sys
from podium.messages import Message
from podium.store import SQLiteStore
path, n = sys.argv[1], int(sys.argv[2])
with SQLiteStore(path, timeout=60) as store:
    cid = store.create().id
    for i in range(n):
        store.append(cid, Message.user(f"message {i}"))
"""


def test_two_processes_write_notes_while_a_third_writes_a_conversation(tmp_path: Path) -> None:
    path = tmp_path / "podium.db"
    with MemoryStore(path):
        pass  # created once, so the processes race on writes, not on creating the file
    procs = [
        subprocess.Popen([sys.executable, "-c", NOTE_WRITER, str(path), name, str(N)], stderr=subprocess.PIPE)
        for name in ("alpha", "beta")
    ]
    procs.append(
        subprocess.Popen([sys.executable, "-c", CONVERSATION_WRITER, str(path), str(N)], stderr=subprocess.PIPE)
    )
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert b"locked" not in err
    scope = MemoryScope("ada", "proj")
    with MemoryStore(path) as store:
        notes = [n.text for n in store.notes(scope, limit=200)]
        for name in ("alpha", "beta"):
            assert sorted(t for t in notes if t.startswith(f"{name} note")) == sorted(
                f"{name} note number {i}" for i in range(N)
            )
            assert not [t for t in notes if "scratch" in t]
        assert sorted(t for t in notes if t.startswith("shared")) == [f"shared note {i}" for i in range(5)]
        assert len(notes) == 2 * N + 5
        assert len(store.search("alpha", scope, limit=200)) == N  # the index holds every note, and no more
    with SQLiteStore(path) as conversations:
        [conv] = conversations.list_conversations()
        assert conv.message_count == N
