"""kill -9 during a run: every committed message is intact and the history is valid to continue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podium import Agent
from podium.agent.events import RunFinished
from podium.agent.recording import RunRecorder
from podium.messages import Message, Text
from podium.store import SQLiteStore
from podium.testing import ScriptedModel

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import kill_child  # noqa: E402

sys.path.remove(str(HERE))


def run_child_and_kill(db: Path, cid: str, where: str, marker: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "kill_child.py"), str(db), cid, str(marker), where],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the child exited early: {proc.communicate()[1].decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the child never reached the blocking point")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


@pytest.mark.parametrize("prompt", ["are you there?", None])
@pytest.mark.parametrize("where", ["tool", "model"])
def test_kill_9_mid_run_then_continue(tmp_path: Path, where: str, prompt: str | None) -> None:
    db = tmp_path / "podium.db"
    with SQLiteStore(db) as store:
        cid = store.create(model="test:scripted").id
    run_child_and_kill(db, cid, where, tmp_path / "marker")

    with SQLiteStore(db) as store:
        stored = [s.message for s in store.stored_messages(cid)]
        committed = [Message.user("hello"), Message.user("check things")]
        assert stored[0] == committed[0]
        assert stored[1].text == "Hello! How can I help?" and stored[1].role == "assistant"
        assert stored[2] == committed[1]
        if where == "tool":
            # the response with the calls was committed before the tools ran, exactly as the model sent it
            calls = stored[3]
            assert calls.parts == kill_child.FIRST_CALLS.parts
            assert (calls.usage, calls.cost) == (kill_child.FIRST_CALLS.usage, kill_child.FIRST_CALLS.cost)
            assert (calls.provider, calls.model, calls.finish_reason) == ("test", "scripted", "tool_calls")
            assert len(stored) == 4
        else:
            assert len(stored) == 3
        first_run, second_run = store.runs(cid)
        assert first_run.status == "completed"
        assert second_run.status == "failed"  # recovered: its process is gone
        assert second_run.error is not None and "process running it stopped" in second_run.error

        history = store.messages(cid)
        if where == "tool":
            results = history[-1].tool_results
            assert [r.call_id for r in results] == ["call_quick", "call_sleepy"]
            assert all(r.interrupted and r.is_error for r in results)
        else:
            assert history == stored

        # the history is valid to continue: run the agent on it and record the run
        model = ScriptedModel(["Still here."])
        with RunRecorder(store, cid) as recorder:
            events = list(Agent(model).stream(prompt, message_history=history))
            for event in events:
                recorder.record(event)
        assert isinstance(events[-1], RunFinished)
        sent = model.requests[0][0]
        assert sent == (history if prompt is None else [*history, Message.user(prompt)])
        final = store.messages(cid)
        assert final[-1].parts == (Text("Still here."),)
        assert final == events[-1].result.messages
        # the repair is now stored, so the stored rows alone are valid too
        assert [s.message for s in store.stored_messages(cid)] == final


HAMMER = """
import sys
from podium.messages import Message
from podium.store import SQLiteStore
store = SQLiteStore(sys.argv[1])
i = 0
while True:
    store.append(sys.argv[2], Message.user(f"m{i}" + "x" * (i % 7) * 500))
    print(i, flush=True)
    i += 1
"""


def test_kill_9_during_a_stream_of_commits(tmp_path: Path) -> None:
    db = tmp_path / "podium.db"
    with SQLiteStore(db) as store:
        cid = store.create().id
    proc = subprocess.Popen([sys.executable, "-c", HAMMER, str(db), cid], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acknowledged = [int(proc.stdout.readline()) for _ in range(150)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with SQLiteStore(db) as store:
        conn = store.db.connection()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        texts = [m.text for m in store.messages(cid)]
    assert len(texts) >= len(acknowledged)  # every acknowledged commit survived (and maybe one more)
    assert texts == [f"m{i}" + "x" * (i % 7) * 500 for i in range(len(texts))]
