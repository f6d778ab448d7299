"""Run records: statuses, transitions, usage and cost, recovery of runs whose process died."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from podium.agent.approval import ApprovalRequest, PausedRun
from podium.messages import Message
from podium.store import NotFoundError, SQLiteStore, StoreError
from podium.testing.models import call
from podium.usage import Usage


def test_run_lifecycle(store: SQLiteStore) -> None:
    conv = store.create()
    run = store.start_run(conv.id, model="openai:gpt-4o")
    assert (run.status, run.model, run.conversation_id, run.finished, run.cost) == (
        "running",
        "openai:gpt-4o",
        conv.id,
        None,
        None,
    )
    done = store.finish_run(run.id, usage=Usage(5, 6, requests=1), cost=0.2)
    assert done.status == "completed" and done.usage == Usage(5, 6, requests=1) and done.cost == 0.2
    assert store.get_run(run.id) == done
    with pytest.raises(StoreError, match="is completed; it cannot become failed"):
        store.fail_run(run.id, "late")

    failed = store.fail_run(store.start_run(conv.id).id, "ProviderError: 500", usage=Usage(1, 0))
    assert (failed.status, failed.error, failed.usage) == ("failed", "ProviderError: 500", Usage(1, 0))
    cancelled = store.cancel_run(store.start_run(conv.id).id, "user pressed Ctrl-C")
    assert (cancelled.status, cancelled.error) == ("cancelled", "user pressed Ctrl-C")
    assert [r.status for r in store.runs(conv.id)] == ["completed", "failed", "cancelled"]
    with pytest.raises(NotFoundError, match="no run 'nope'"):
        store.finish_run("nope")
    with pytest.raises(NotFoundError):
        store.get_run("nope")
    with pytest.raises(NotFoundError):
        store.start_run("no-such-conversation")


def test_pause_keeps_the_state_and_only_a_paused_run_restarts(store: SQLiteStore) -> None:
    conv = store.create()
    run = store.start_run(conv.id, run_id="r1")
    assistant = Message("assistant", (call("deploy", {"env": "prod"}, id="c1"),))
    store.append_many(conv.id, [Message.user("ship"), assistant], run_id=run.id)
    paused = PausedRun(
        [Message.user("ship"), assistant],
        [ApprovalRequest(assistant.tool_calls[0], "asks")],
        usage=Usage(3, 4, requests=1),
        run_id="r1",
        steps=1,
    )
    stored = store.pause_run("r1", paused, cost=0.1)
    assert stored.status == "paused" and stored.usage == Usage(3, 4, requests=1)
    assert stored.paused_run() == paused == store.paused_run(conv.id)
    other = store.create()
    with pytest.raises(StoreError, match="only a paused run of the same conversation"):
        store.start_run(other.id, run_id="r1")
    resumed = store.start_run(conv.id, run_id="r1")
    assert resumed.status == "running" and resumed.paused is None and resumed.cost == 0.1
    assert store.paused_run(conv.id) is None
    store.finish_run("r1")
    with pytest.raises(StoreError, match=r"already exists \(completed"):
        store.start_run(conv.id, run_id="r1")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_runs_left_running_by_a_dead_process_are_failed(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        conv = store.create()
        dead = store.start_run(conv.id)
        alive = store.start_run(conv.id)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE runs SET pid = ? WHERE id = ?", (dead_pid(), dead.id))
    conn.commit()
    conn.close()
    with SQLiteStore(db_path) as store:  # opening the store recovers them
        assert store.get_run(dead.id).status == "failed"
        assert "process running it stopped" in (store.get_run(dead.id).error or "")
        assert store.get_run(alive.id).status == "running"  # this process: still alive
        assert store.recover_runs() == []


HOLDER = """
import sys, time
from podium.store import SQLiteStore
s = SQLiteStore(sys.argv[1])
run = s.start_run(sys.argv[2])
print(run.id, flush=True)
time.sleep(600)
"""


def test_one_process_at_a_time_runs_in_a_conversation(store: SQLiteStore) -> None:
    conv = store.create()
    free = store.create()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(store.path), conv.id], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        with pytest.raises(StoreError, match=f"run '{run_id}' is in progress in process {proc.pid}"):
            store.append(conv.id, Message.user("meanwhile"))
        with pytest.raises(StoreError, match="cannot start a run in"):
            store.start_run(conv.id)
        store.append(free.id, Message.user("other conversations are free"))
    finally:
        proc.kill()
        proc.wait()
    store.append(conv.id, Message.user("after"))  # its process is gone: the run is recovered, writes go on
    assert store.get_run(run_id).status == "failed"
    assert store.messages(conv.id) == [Message.user("after")]
