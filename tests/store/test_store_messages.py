"""Messages round-trip through the store exactly; usage and cost columns; paths; bad data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from podium.exceptions import SerializationError, UserError
from podium.messages import (
    CachePoint,
    File,
    Image,
    Message,
    ProviderPart,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
)
from podium.store import ConversationStore, NotFoundError, SQLiteStore, StoreError, default_db_path
from podium.usage import Usage

EVERY_PART = [
    Message.system("Be brief."),
    Message.user(
        "look at these",
        Image(data=b"\x89PNG\r\n\x1a\n\x00\xff", media_type="image/png", provider_details={"detail": "high"}),
        Image(url="https://example.com/a.png"),
        File(data=b"%PDF-1.4 \x00\x01", media_type="application/pdf", filename="a.pdf"),
        File(url="https://example.com/b.txt", media_type="text/plain"),
        CachePoint(ttl="1h"),
        CachePoint(),
    ),
    Message(
        "assistant",
        (
            Thinking("let me think", signature="sig==", provider="anthropic"),
            Thinking("", encrypted="opaque", provider="openai", id="rs_1", provider_details={"summary": []}),
            Text("Calling tools — ünïcode ✓", provider_details={"citations": [1]}),
            ToolCall("c1", "add", {"a": 1, "b": [2, {"x": None}]}, provider_details={"sig": "t"}),
            ToolCall("c2", "broken", {}, raw_args='{"a": 1'),
            ProviderPart("openai", {"type": "web_search_call", "id": "ws_1"}),
        ),
        provider="anthropic",
        model="claude-x",
        finish_reason="tool_calls",
        usage=Usage(100, 20, 50, 5, 7, 1, {"audio": 2}),
        cost=0.0123,
        provider_details={"id": "msg_1"},
    ),
    Message(
        "tool",
        (
            ToolResult("c1", "add", (Text("3"), Image(data=b"img", media_type="image/jpeg"))),
            ToolResult("c2", "broken", (Text("bad args"),), is_error=True, provider_details={"k": "v"}),
        ),
    ),
    Message("tool", (ToolResult("c3", "slow", (Text("stopped"),), is_error=True, interrupted=True),)),
]


def test_every_part_type_round_trips(store: SQLiteStore, db_path: Path) -> None:
    conv = store.create()
    for message in EVERY_PART:
        store.append(conv.id, message)
    assert store.stored_messages(conv.id)[2].message == EVERY_PART[2]
    store.close()
    with SQLiteStore(db_path) as reopened:
        loaded = [s.message for s in reopened.stored_messages(conv.id)]
        assert loaded == EVERY_PART
        assert reopened.messages(conv.id) == EVERY_PART  # nothing dangling: no repair


def test_data_is_the_cores_json_with_usage_columns(store: SQLiteStore, db_path: Path) -> None:
    conv = store.create()
    stored = store.append(conv.id, EVERY_PART[2])
    conn = sqlite3.connect(db_path)
    row = conn.execute(
        "SELECT role, format, data, input_tokens, output_tokens, usage, cost FROM messages WHERE id = ?",
        (stored.id,),
    ).fetchone()
    conn.close()
    role, fmt, data, inp, out, usage, cost = row
    assert (role, fmt, inp, out, cost) == ("assistant", 1, 100, 20, 0.0123)
    assert json.loads(usage)["cache_read_tokens"] == 50
    assert json.loads(data)["parts"][3] == {
        "type": "tool_call",
        "id": "c1",
        "name": "add",
        "args": {"a": 1, "b": [2, {"x": None}]},
        "provider_details": {"sig": "t"},
    }


def test_positions_and_ids(store: SQLiteStore) -> None:
    conv = store.create()
    a = store.append(conv.id, Message.user("one"))
    b, c = store.append_many(conv.id, [Message.assistant("two"), Message.user("three")])
    assert [a.position, b.position, c.position] == [0, 1, 2]
    assert len({a.id, b.id, c.id}) == 3
    assert [s.id for s in store.stored_messages(conv.id)] == [a.id, b.id, c.id]


def test_a_newer_format_gives_a_clear_error(store: SQLiteStore, db_path: Path) -> None:
    conv = store.create()
    store.append(conv.id, Message.user("hi"))
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE messages SET format = 99")
    conn.commit()
    conn.close()
    with pytest.raises(SerializationError, match=r"unknown format version 99.*upgrade"):
        store.messages(conv.id)


def test_bad_input_errors(store: SQLiteStore) -> None:
    with pytest.raises(NotFoundError, match="no conversation 'nope'"):
        store.append("nope", Message.user("x"))
    conv = store.create()
    with pytest.raises(UserError, match="Message values, got str"):
        store.append(conv.id, "hello")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="start_run"):
        store.append(conv.id, Message.user("x"), run_id="norun")
    assert store.messages(conv.id) == []  # the failed appends left nothing
    with pytest.raises(UserError, match="temp file"):
        SQLiteStore(":memory:")
    with pytest.raises(UserError, match="synchronous"):
        SQLiteStore(conv.id, synchronous="OFF")  # type: ignore[arg-type]


def test_default_path_env_and_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_DB", str(tmp_path / "env" / "chosen.db"))
    assert default_db_path() == tmp_path / "env" / "chosen.db"
    with SQLiteStore() as s:
        assert s.path == tmp_path / "env" / "chosen.db"
        assert s.path.exists()
    with SQLiteStore(tmp_path / "arg.db") as s:  # an argument wins over the environment
        assert s.path == tmp_path / "arg.db"
    monkeypatch.delenv("PODIUM_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "podium" / "podium.db"


def test_the_sqlite_store_is_a_conversation_store(store: SQLiteStore) -> None:
    assert isinstance(store, ConversationStore)


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("these are my notes, not a database " * 100)
    with pytest.raises(StoreError, match=r"cannot open .*notes\.db as a SQLite database"):
        SQLiteStore(bad)
