"""Undo and redo are store operations: they hide and restore, survive restarts, and a new message drops redo."""

from __future__ import annotations

from pathlib import Path

from podium.messages import Message
from podium.store import SQLiteStore
from podium.testing.models import call
from podium.tools.executor import interrupted_result


def texts(store: SQLiteStore, cid: str) -> list[str]:
    return [m.text or m.role for m in store.messages(cid)]


def exchange(store: SQLiteStore, cid: str, n: int) -> None:
    store.append_many(cid, [Message.user(f"q{n}"), Message.assistant(f"a{n}")])


def test_undo_hides_the_last_exchange_and_redo_restores_it(store: SQLiteStore) -> None:
    conv = store.create()
    store.append(conv.id, Message.system("rules"))
    exchange(store, conv.id, 1)
    store.append_many(
        conv.id,
        [
            Message.user("q2"),
            Message("assistant", (call("ls", id="c1"),)),
            Message("tool", (interrupted_result(call("ls", id="c1")),)),
            Message.assistant("a2"),
        ],
    )
    hidden = store.undo(conv.id)
    assert [m.role for m in hidden] == ["user", "assistant", "tool", "assistant"]
    assert texts(store, conv.id) == ["rules", "q1", "a1"]
    assert len(store.stored_messages(conv.id, include_hidden=True)) == 7
    assert [s.hidden for s in store.stored_messages(conv.id, include_hidden=True)][-4:] == [True] * 4
    assert [m.text for m in store.undo(conv.id)] == ["q1", "a1"]
    assert texts(store, conv.id) == ["rules"]
    assert store.undo(conv.id) == []  # no user message left: nothing to undo
    assert [m.text for m in store.redo(conv.id)] == ["q1", "a1"]
    assert store.redo(conv.id)[0].text == "q2"
    assert store.redo(conv.id) == []
    assert texts(store, conv.id) == ["rules", "q1", "a1", "q2", "assistant", "tool", "a2"]
    assert store.list_conversations()[0].message_count == 7


def test_a_new_message_after_undo_drops_the_redo_stack(store: SQLiteStore) -> None:
    conv = store.create()
    for n in (1, 2, 3):
        exchange(store, conv.id, n)
    store.undo(conv.id)
    store.undo(conv.id)
    exchange(store, conv.id, 9)
    assert store.redo(conv.id) == []
    assert texts(store, conv.id) == ["q1", "a1", "q9", "a9"]
    # the dropped messages are kept in the file (never deleted) but stay hidden
    assert len(store.stored_messages(conv.id, include_hidden=True)) == 8
    store.undo(conv.id)
    assert texts(store, conv.id) == ["q1", "a1"]
    assert [m.text for m in store.redo(conv.id)] == ["q9", "a9"]


def test_undo_and_redo_survive_a_restart(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        conv = store.create()
        exchange(store, conv.id, 1)
        exchange(store, conv.id, 2)
        store.undo(conv.id)
    with SQLiteStore(db_path) as store:
        assert texts(store, conv.id) == ["q1", "a1"]
        store.undo(conv.id)
    with SQLiteStore(db_path) as store:
        assert texts(store, conv.id) == []
        store.redo(conv.id)
    with SQLiteStore(db_path) as store:
        assert texts(store, conv.id) == ["q1", "a1"]
        assert [m.text for m in store.redo(conv.id)] == ["q2", "a2"]
        exchange(store, conv.id, 3)
        store.undo(conv.id)
    with SQLiteStore(db_path) as store:
        assert texts(store, conv.id) == ["q1", "a1", "q2", "a2"]


def test_an_exchange_starts_at_the_runs_prompt_not_at_a_retry_request(store: SQLiteStore) -> None:
    conv = store.create()
    exchange(store, conv.id, 1)
    run = store.start_run(conv.id)
    store.append_many(
        conv.id,
        [
            Message.user("give JSON"),
            Message.assistant("not json"),
            Message.user("Your answer could not be used: ..."),  # the loop's retry request, same run
            Message.assistant('{"ok": true}'),
        ],
        run_id=run.id,
    )
    assert [m.text for m in store.undo(conv.id)][:2] == ["give JSON", "not json"]
    assert texts(store, conv.id) == ["q1", "a1"]


def test_undo_touches_the_conversation(store: SQLiteStore) -> None:
    old = store.create()
    exchange(store, old.id, 1)
    new = store.create()
    store.undo(old.id)
    assert store.latest() is not None and store.latest().id == old.id  # type: ignore[union-attr]
    assert new.id != old.id


def test_a_paused_run_dropped_from_the_redo_stack_ends(store: SQLiteStore) -> None:
    from podium.agent.approval import ApprovalRequest, PausedRun

    conv = store.create()
    run = store.start_run(conv.id)
    calls = Message("assistant", (call("deploy", id="c1"),))
    store.append_many(conv.id, [Message.user("ship"), calls], run_id=run.id)
    store.pause_run(run.id, PausedRun([Message.user("ship"), calls], [ApprovalRequest(calls.tool_calls[0])]))
    store.undo(conv.id)
    assert store.get_run(run.id).status == "paused"  # redo could still bring it back
    store.append(conv.id, Message.user("something else"))
    ended = store.get_run(run.id)
    assert ended.status == "cancelled" and ended.paused is None
    assert store.messages(conv.id) == [Message.user("something else")]
