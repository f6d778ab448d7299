"""Traces in the SQLite store: written record by record as the run goes, append-only, read back whole.

Real SQLite files; a real child process killed mid-run shows that what was written before the kill stays.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from podium import Agent, tool
from podium.agent.recording import RunRecorder
from podium.agent.replay import replay
from podium.store.base import NotFoundError, StoreError
from podium.store.sqlite import SQLiteStore
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.trace import Trace
from podium.trace.codec import encode


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def agent() -> Agent:
    return Agent(ScriptedModel([[call("add", {"a": 1, "b": 2})], "3"]), tools=[add])


def test_a_run_recorded_into_the_store_reads_back_and_replays(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "c.db") as store:
        conv = store.create()
        trace = Trace(sinks=[store.traces.sink(conv.id)])
        with RunRecorder(store, conv.id) as recorder:
            stream = agent().stream("add", trace=trace)
            events = []
            for event in stream:
                recorder.record(event)
                events.append(encode(event))
        stored = store.traces.list(conversation_id=conv.id)
        assert [(t.run_id, t.records, t.status) for t in stored] == [(trace.run_id, len(trace), "completed")]
        lines = store.traces.lines(stored[0].id)
        assert lines == trace.lines
        assert store.traces.find(trace.run_id) == store.traces.find(trace.run_id[:8]) == stored[0].id
        assert store.traces.find("latest") == stored[0].id
        loaded = Trace.from_jsonl("\n".join(lines))
        again = replay(agent(), loaded)
        assert [encode(e) for e in again] == events


def test_records_are_append_only_and_go_with_their_conversation(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with SQLiteStore(path) as store:
        conv = store.create()
        trace = Trace(sinks=[store.traces.sink(conv.id)])
        agent().run("add", trace=trace)
        trace_id = store.traces.find("latest")
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE trace_records SET data = '{}' WHERE trace_id = ?", (trace_id,))
    conn.close()
    with SQLiteStore(path) as store:
        store.delete(conv.id)
        with pytest.raises(NotFoundError):
            store.traces.lines(trace_id)
        assert conn_count(path, "trace_records") == 0


def conn_count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_an_unknown_or_ambiguous_reference_is_a_clear_error(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "c.db") as store:
        with pytest.raises(NotFoundError, match="no trace is stored yet"):
            store.traces.find("latest")
        with pytest.raises(NotFoundError, match="no trace or run 'zz%_'"):
            store.traces.find("zz%_")
        with pytest.raises(StoreError, match="`run` record"):
            store.traces.write(['{"seq":0,"kind":"request"}'])


def test_a_failing_store_sink_does_not_stop_the_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    sink = store.traces.sink()
    store.close()  # every write fails from now on
    trace = Trace(sinks=[sink])
    result = agent().run("add", trace=trace)
    assert result.output == "3" and trace.end is not None  # the run and the in-memory trace are whole
    assert "trace sink failed" in caplog.text


CHILD = """
import sys, time
from podium import Agent, tool
from podium.store.sqlite import SQLiteStore
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.trace import Trace

@tool
def slow(n: int) -> str:
    '''Wait a long time.'''
    print("RUNNING", flush=True)
    time.sleep(60)
    return "never"

store = SQLiteStore(sys.argv[1])
trace = Trace(sinks=[store.traces.sink(store.create().id)])
Agent(ScriptedModel([[call("slow", {"n": 1})], "done"]), tools=[slow]).run("go", trace=trace)
"""


def test_a_killed_run_leaves_every_record_written_before_the_kill(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "RUNNING"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    time.sleep(0.05)
    with SQLiteStore(db) as store:
        stored = store.traces.list()
        assert len(stored) == 1 and stored[0].status is None  # the run never ended
        trace = Trace.from_jsonl("\n".join(store.traces.lines(stored[0].id)))
    kinds = [r["kind"] for r in trace.records]
    assert kinds[-1] == "tools" and "end" not in kinds  # the call in flight is known; its result is not
    assert trace.of_kind("tools")[0]["calls"][0]["name"] == "slow"
