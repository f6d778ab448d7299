"""Conversation store timings: append latency (FULL vs NORMAL), load, list, concurrent appends.

Run: ``python bench/store_bench.py [DIR]`` (DIR defaults to a temp dir; put it on the disk you care about).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from podium.messages import Message, Text, ToolCall, ToolResult
from podium.store import SQLiteStore
from podium.usage import Usage

TURN = [
    Message.user("Please look at the build log and tell me what failed " * 3),
    Message(
        "assistant",
        (Text("Let me read it."), ToolCall("c1", "read_file", {"path": "build.log"})),
        usage=Usage(900, 40, requests=1),
        cost=0.001,
    ),
    Message("tool", (ToolResult("c1", "read_file", (Text("error: x\n" * 200),)),)),
    Message.assistant("The linker failed because ... " * 20),
]


def appends(store: SQLiteStore, n: int) -> list[float]:
    conv = store.create()
    times = []
    for i in range(n):
        started = time.perf_counter()
        store.append(conv.id, TURN[i % 4])
        times.append(time.perf_counter() - started)
    return times


def ms(values: list[float]) -> str:
    values = sorted(values)
    p99 = values[int(len(values) * 0.99) - 1]
    return f"median {statistics.median(values) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"


WRITER = """
import sys
from podium.messages import Message
from podium.store import SQLiteStore
with SQLiteStore(sys.argv[1]) as s:
    for i in range(int(sys.argv[3])):
        s.append(sys.argv[2], Message.user(str(i)))
"""


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    for sync in ("FULL", "NORMAL"):
        with SQLiteStore(root / f"bench-{sync}.db", synchronous=sync) as store:  # type: ignore[arg-type]
            print(f"append one message, synchronous={sync}: {ms(appends(store, 400))}")

    with SQLiteStore(root / "load.db") as store:
        conv = store.create()
        for _ in range(250):
            store.append_many(conv.id, TURN)
        started = time.perf_counter()
        history = store.messages(conv.id)
        print(f"load {len(history)} messages: {(time.perf_counter() - started) * 1000:.1f} ms")
        for _ in range(999):
            other = store.create()
            store.append_many(other.id, TURN[:2])
        started = time.perf_counter()
        listed = store.list_conversations(limit=50)
        print(f"list 50 of {1000} conversations: {(time.perf_counter() - started) * 1000:.1f} ms ({len(listed)})")
        started = time.perf_counter()
        store.undo(conv.id)
        store.redo(conv.id)
        print(f"undo + redo on {len(history)} messages: {(time.perf_counter() - started) * 1000:.1f} ms")

    with SQLiteStore(root / "concurrent.db") as store:
        conv = store.create()
        n = 200
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(store.path), conv.id, str(n)]) for _ in range(2)]
        threads = [threading.Thread(target=lambda: [store.append(conv.id, Message.user("t")) for _ in range(n)])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for p in procs:
            p.wait()
        elapsed = time.perf_counter() - started
        total = len(store.stored_messages(conv.id))
        print(f"2 processes + 1 thread, {total} appends: {elapsed:.2f} s ({total / elapsed:.0f}/s incl. start-up)")


if __name__ == "__main__":
    main()
