"""Several threads and several processes writing to one store at once."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from podium.messages import Message
from podium.store import SQLiteStore, StoreError

N = 60

WRITER = """
import sys
from podium.messages import Message
from podium.store import SQLiteStore
path, cid, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with SQLiteStore(path, timeout=60) as store:
    for i in range(n):
        store.append(cid, Message.user(f"{name} {i}"))
        if i % 10 == 0:
            store.messages(cid)
"""


def check_interleaved(store: SQLiteStore, cid: str, writers: list[str], n: int) -> None:
    stored = store.stored_messages(cid)
    assert len(stored) == len(writers) * n
    assert [s.position for s in stored] == list(range(len(stored)))
    for name in writers:
        mine = [int(s.message.text.split()[1]) for s in stored if s.message.text.startswith(name + " ")]
        assert mine == list(range(n)), f"{name}'s messages are missing or out of order"


def test_two_threads_share_one_store(store: SQLiteStore) -> None:
    conv = store.create()
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            for i in range(N):
                store.append(conv.id, Message.user(f"{name} {i}"))
                store.list_conversations()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"t{k}",)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check_interleaved(store, conv.id, ["t0", "t1"], N)


def test_two_processes_and_a_thread_append_to_one_conversation(store: SQLiteStore) -> None:
    conv = store.create()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(store.path), conv.id, f"p{k}", str(N)]) for k in range(2)
    ]
    for i in range(N):
        store.append(conv.id, Message.user(f"main {i}"))
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    check_interleaved(store, conv.id, ["p0", "p1", "main"], N)


def test_readers_are_not_blocked_by_a_long_write(store: SQLiteStore) -> None:
    conv = store.create()
    store.append(conv.id, Message.user("before"))
    conn = store.db.connection()  # hold the write lock from this thread
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE conversations SET title = 'locked' WHERE id = ?", (conv.id,))
    seen: list[list[Message]] = []
    elapsed: list[float] = []

    def read() -> None:
        started = time.perf_counter()
        with SQLiteStore(store.path, timeout=0.2) as other:
            seen.append(other.messages(conv.id))
        elapsed.append(time.perf_counter() - started)

    reader = threading.Thread(target=read)
    reader.start()
    reader.join()
    conn.execute("ROLLBACK")
    assert seen == [[Message.user("before")]]
    assert elapsed[0] < 5


def test_connections_of_finished_threads_are_released(store: SQLiteStore) -> None:
    import gc

    conv = store.create()

    def touch() -> None:
        store.messages(conv.id)

    for _ in range(20):
        t = threading.Thread(target=touch)
        t.start()
        t.join()
    gc.collect()
    assert len(store.db._holders) <= 2  # this thread's, plus at most one not yet collected


def test_a_closed_store_says_so(store: SQLiteStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.create()
