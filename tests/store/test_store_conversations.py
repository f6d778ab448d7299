"""Conversations: create, get, list, rename, update, delete, fork, latest, usage."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from podium.exceptions import UserError
from podium.messages import Message
from podium.store import NotFoundError, SQLiteStore, StoreError
from podium.testing.models import call
from podium.usage import Usage


def reply(text: str, *, inp: int = 10, out: int = 2, cost: float | None = 0.5) -> Message:
    return Message("assistant", Message.assistant(text).parts, usage=Usage(inp, out, requests=1), cost=cost, model="m")


def test_create_get_update_rename(store: SQLiteStore) -> None:
    conv = store.create(title=None, model="openai:gpt-4o", metadata={"tags": ["x"]})
    assert len(conv.id) == 32
    got = store.get(conv.id)
    assert got == conv
    assert got.metadata == {"tags": ["x"]}
    assert store.get(conv.id[:8]) == conv  # a unique prefix works
    renamed = store.rename(conv.id, "Trip plans")
    assert renamed.title == "Trip plans"
    assert renamed.updated >= conv.updated
    changed = store.update(conv.id, model="anthropic:claude", metadata={"a": 1})
    assert (changed.title, changed.model, changed.metadata) == ("Trip plans", "anthropic:claude", {"a": 1})
    with pytest.raises(UserError, match="cannot be empty"):
        store.rename(conv.id, "  ")
    with pytest.raises(StoreError, match="JSON-able"):
        store.create(metadata={"x": object()})
    with pytest.raises(NotFoundError):
        store.get("ffffffff")
    with pytest.raises(LookupError):  # NotFoundError is a LookupError too
        store.rename("nope", "x")


def test_ambiguous_and_short_prefixes(store: SQLiteStore, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    for suffix in ("1", "2"):
        conn.execute(
            "INSERT INTO conversations (id, created, updated) VALUES (?, '2024-01-01', '2024-01-01')",
            ("abcd" + suffix + "0" * 27,),
        )
    conn.commit()
    conn.close()
    with pytest.raises(NotFoundError, match="'abcd' is ambiguous"):
        store.get("abcd")
    assert store.get("abcd2" + "0" * 27).id == "abcd2" + "0" * 27
    assert store.get("abcd1").id == "abcd1" + "0" * 27
    with pytest.raises(NotFoundError, match="no conversation 'abc' "):
        store.get("abc")  # too short to be taken as a prefix


def test_title_from_the_first_user_message(store: SQLiteStore) -> None:
    conv = store.create()
    assert conv.title is None
    store.append(conv.id, Message.system("rules"))
    store.append(conv.id, Message.user("  Plan a trip to Lisbon\nwith details  " + "x" * 100))
    assert store.get(conv.id).title == "Plan a trip to Lisbon"
    store.append(conv.id, Message.user("second"))
    assert store.get(conv.id).title == "Plan a trip to Lisbon"
    named = store.create(title="Given")
    store.append(named.id, Message.user("hello"))
    assert store.get(named.id).title == "Given"


def test_list_most_recent_first_with_counts_and_preview(store: SQLiteStore) -> None:
    a = store.create(title="a")
    b = store.create(title="b")
    c = store.create(title="c")
    store.append_many(a.id, [Message.user("hello a"), reply("answer   for\na")])
    store.append(b.id, Message.user("hello b"))
    listed = store.list_conversations()
    assert [s.conversation.id for s in listed] == [b.id, a.id, c.id]
    assert [s.message_count for s in listed] == [1, 2, 0]
    assert [s.preview for s in listed] == ["hello b", "answer for a", ""]
    assert [s.conversation.id for s in store.list_conversations(limit=1, offset=1)] == [a.id]
    assert store.latest() == store.get(b.id)
    store.rename(c.id, "c2")
    assert store.latest() is not None and store.latest().id == c.id  # type: ignore[union-attr]


def test_latest_of_an_empty_store(store: SQLiteStore) -> None:
    assert store.latest() is None
    assert store.list_conversations() == []


def test_latest_with_messages_skips_empty_conversations(store: SQLiteStore) -> None:
    talked = store.create()
    store.append(talked.id, Message.user("hi"))
    empty = store.create()
    assert store.latest() == empty
    assert store.latest(with_messages=True) == store.get(talked.id)
    store.undo(talked.id)
    assert store.latest(with_messages=True) is None


def test_delete_cascades(store: SQLiteStore, db_path: Path) -> None:
    conv = store.create()
    run = store.start_run(conv.id)
    store.append(conv.id, Message.user("x"), run_id=run.id)
    fork = store.fork(conv.id)
    store.delete(conv.id)
    with pytest.raises(NotFoundError):
        store.get(conv.id)
    with pytest.raises(NotFoundError):
        store.get_run(run.id)
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (conv.id,)).fetchone()[0] == 0
    conn.close()
    kept = store.get(fork.id)  # the fork keeps its copies; its parent link is cleared
    assert kept.parent_id is None
    assert store.messages(fork.id) == [Message.user("x")]
    with pytest.raises(NotFoundError):
        store.delete(conv.id)


def test_fork_copies_up_to_a_message_and_records_origin(store: SQLiteStore) -> None:
    conv = store.create(title="main", model="openai:gpt-4o", metadata={"k": 1})
    stored = store.append_many(conv.id, [Message.user("q1"), reply("a1"), Message.user("q2"), reply("a2", cost=None)])
    fork = store.fork(conv.id, up_to=stored[1].id)
    assert (fork.parent_id, fork.fork_message_id) == (conv.id, stored[1].id)
    assert (fork.title, fork.model, fork.metadata) == ("main (fork)", "openai:gpt-4o", {"k": 1})
    assert store.messages(fork.id) == [Message.user("q1"), reply("a1")]
    # the two conversations then diverge independently
    store.append(fork.id, Message.user("other q2"))
    assert [m.text for m in store.messages(conv.id)] == ["q1", "a1", "q2", "a2"]
    assert [m.text for m in store.messages(fork.id)] == ["q1", "a1", "other q2"]
    copies = store.stored_messages(fork.id)
    assert {c.id for c in copies}.isdisjoint(s.id for s in stored)
    # spending stays with the conversation that paid for it
    assert store.usage(fork.id).responses == 0
    whole = store.fork(conv.id, title="copy")
    assert whole.title == "copy" and whole.fork_message_id == stored[-1].id
    assert len(store.messages(whole.id)) == 4


def test_fork_errors(store: SQLiteStore) -> None:
    conv = store.create()
    stored = store.append_many(conv.id, [Message.user("q"), reply("a")])
    store.undo(conv.id)
    with pytest.raises(NotFoundError, match="not in the visible history"):
        store.fork(conv.id, up_to=stored[1].id)
    empty = store.fork(conv.id)
    assert store.messages(empty.id) == [] and empty.fork_message_id is None


def test_usage_counts_every_response_including_undone(store: SQLiteStore) -> None:
    conv = store.create()
    store.append_many(conv.id, [Message.user("q1"), reply("a1", inp=10, out=2)])
    store.append_many(conv.id, [Message.user("q2"), reply("a2", inp=30, out=4, cost=0.25)])
    store.start_run(conv.id)
    store.undo(conv.id)
    total = store.usage(conv.id)
    assert total.usage == Usage(40, 6, requests=2)
    assert total.cost == pytest.approx(0.75)
    assert total.cost_complete and total.responses == 2 and total.runs == 1
    store.append(conv.id, reply("unpriced", cost=None))
    partial = store.usage(conv.id)
    assert partial.cost == pytest.approx(0.75) and not partial.cost_complete
    assert store.usage(store.create().id).cost is None


def test_tool_call_messages_preview(store: SQLiteStore) -> None:
    conv = store.create()
    store.append_many(conv.id, [Message.user("run it"), Message("assistant", (call("ls", id="c1"),))])
    assert store.list_conversations()[0].preview == "run it"
