"""Store write failures (disk I/O error, disk full, a real lock) on a real SQLite file: the recorder raises a
clear StoreError, the failed transaction leaves nothing half-written, the stored conversation stays valid and
continues, and the run is marked failed."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fault_support import add, assert_valid

from podium import Agent
from podium.agent.recording import RunRecorder
from podium.messages import Message
from podium.store.base import ReadOnlyDatabaseError, StoreError
from podium.store.sqlite import SQLiteStore
from podium.testing import FaultPlan, FaultRecord, ScriptedModel, StoreFault, call


def agent() -> Agent[str]:
    return Agent(ScriptedModel([[call("add", {"a": 2, "b": 3})], "It is 5."]), tools=[add])


def rows(store: SQLiteStore, conversation_id: str) -> int:
    """Every message row of the conversation, hidden ones included."""
    with store.db.transaction(write=False) as conn:
        count: int = conn.execute(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (conversation_id,)
        ).fetchone()[0]
    return count


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with SQLiteStore(tmp_path / "chats.db", timeout=5) as opened:
        yield opened


def record(store: SQLiteStore, conversation_id: str, run_agent: Agent[str]) -> None:
    with RunRecorder(store, conversation_id) as recorder:
        for event in run_agent.stream("What is 2 + 3?"):
            recorder.record(event)


CASES = {
    "io_error": (StoreFault.io_error(on="append", at=2), ReadOnlyDatabaseError, "disk I/O error"),
    "full": (StoreFault.full(on="append", at=3), ReadOnlyDatabaseError, "disk is full"),
    "locked": (StoreFault.locked(on="append", at=2), StoreError, "locked"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_failed_append_raises_a_clear_error_and_leaves_a_valid_conversation(store: SQLiteStore, case: str) -> None:
    fault, error, text = CASES[case]
    conv = store.create()
    plan = FaultPlan(seed=5, store=[fault])
    with pytest.raises(error, match=text) as info:
        record(plan.store(store), conv.id, agent())
    assert "try again" in str(info.value) or "--db" in str(info.value) or "Free some space" in str(info.value)
    stored = store.messages(conv.id)
    position = min(fault.at)
    assert rows(store, conv.id) == position - 1  # the messages before the failed write: nothing half-written
    assert_valid(stored)
    if len(stored) == position:  # loading answered the call whose results were lost, as interrupted
        assert stored[-1].role == "tool" and all(r.interrupted for r in stored[-1].tool_results)
    (run,) = store.runs(conv.id)
    assert run.status == "failed" and type(info.value).__name__ in (run.error or "")
    assert plan.log == [FaultRecord("store", position, fault.kind, "append", fault.describe())]
    result = agent().run(None if stored else "What is 2 + 3?", message_history=stored or None)  # it goes on
    assert_valid(result.messages)


def test_a_lock_is_sqlites_own_error(store: SQLiteStore) -> None:
    conv = store.create()
    faulty = FaultPlan(store=[StoreFault.locked(at=1)]).store(store)
    with pytest.raises(StoreError) as info:
        faulty.append(conv.id, Message.user("hi"))
    cause = info.value.__cause__
    assert isinstance(cause, sqlite3.OperationalError) and str(cause) == "database is locked"
    faulty.append(conv.id, Message.user("hi"))  # the lock was let go, the busy timeout restored
    assert [m.text for m in store.messages(conv.id)] == ["hi"]


def test_a_failed_commit_rolls_back_every_message_of_the_transaction(store: SQLiteStore) -> None:
    conv = store.create()
    store.append(conv.id, Message.user("first"))
    faulty = FaultPlan(store=[StoreFault.io_error(on="append_many", at=1)]).store(store)
    batch = [Message.assistant("a"), Message.user("b"), Message.assistant("c")]
    with pytest.raises(ReadOnlyDatabaseError, match="disk I/O error"):
        faulty.append_many(conv.id, batch)
    assert rows(store, conv.id) == 1
    stored = faulty.append_many(conv.id, batch)
    assert [s.position for s in stored] == [1, 2, 3]  # no gap where the failed rows were
    assert [m.text for m in store.messages(conv.id)] == ["first", "a", "b", "c"]


def test_when_marking_the_run_finished_fails_the_run_is_marked_failed_not_left_running(store: SQLiteStore) -> None:
    conv = store.create()
    plan = FaultPlan(store=[StoreFault.full(on="finish_run", at=1)])
    with pytest.raises(ReadOnlyDatabaseError, match="disk is full"):
        record(plan.store(store), conv.id, agent())
    assert [m.role for m in store.messages(conv.id)] == ["user", "assistant", "tool", "assistant"]
    (run,) = store.runs(conv.id)
    assert run.status == "failed" and "disk is full" in (run.error or "")


def test_a_store_that_keeps_failing_raises_the_first_error_and_keeps_the_history_valid(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    conv = store.create()
    plan = FaultPlan(seed=1, store=[StoreFault.locked(on="append", rate=1.0), StoreFault.io_error(on="fail_run", at=1)])
    with pytest.raises(StoreError, match="locked"):
        record(plan.store(store), conv.id, agent())
    assert "could not record the end of run" in caplog.text  # marking it failed failed too: logged, not raised
    assert store.messages(conv.id) == []
    assert [(r.kind, r.target) for r in plan.log] == [("locked", "append"), ("io_error", "fail_run")]
    (run,) = store.runs(conv.id)
    assert run.status == "running"  # left for the store's recovery once this process is gone


def test_the_async_driver_with_a_failing_store(store: SQLiteStore) -> None:
    conv = store.create()
    plan = FaultPlan(store=[StoreFault.io_error(on="append", at=3)])
    faulty = plan.store(store)

    async def main() -> None:
        with RunRecorder(faulty, conv.id) as recorder:
            async for event in agent().astream("What is 2 + 3?"):
                recorder.record(event)

    with pytest.raises(ReadOnlyDatabaseError):
        asyncio.run(main())
    assert rows(store, conv.id) == 2  # the user's message and the call; the results' write failed
    stored = store.messages(conv.id)
    assert [m.role for m in stored] == ["user", "assistant", "tool"]  # the call answered as interrupted on load
    assert_valid(stored)


def test_writes_are_counted_per_method_and_the_copy_shares_the_file(store: SQLiteStore) -> None:
    conv = store.create()
    plan = FaultPlan(store=[StoreFault.io_error(on="rename", at=2)])
    faulty = plan.store(store)
    assert isinstance(faulty, SQLiteStore) and faulty.path == store.path
    faulty.append(conv.id, Message.user("hi"))
    faulty.rename(conv.id, "one")
    with pytest.raises(ReadOnlyDatabaseError):
        faulty.rename(conv.id, "two")
    assert store.get(conv.id).title == "one"
    assert [(r.position, r.target) for r in plan.log] == [(2, "rename")]
    with pytest.raises(Exception, match="takes a SQLiteStore"):
        plan.store(object())
