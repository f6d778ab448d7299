"""A stored history is always valid to continue from: dangling tool calls get interrupted results."""

from __future__ import annotations

from podium.messages import Message, ToolResult
from podium.store import SQLiteStore
from podium.store.history import repair_history
from podium.testing.models import call
from podium.tools.executor import interrupted_result

CALLS = Message("assistant", (call("a", id="c1"), call("b", id="c2")))


def test_repair_history_is_pure_and_minimal() -> None:
    valid = [Message.user("q"), CALLS, Message("tool", (ToolResult("c1", "a"), ToolResult("c2", "b")))]
    assert repair_history(valid) == valid
    dangling = [Message.user("q"), CALLS]
    assert repair_history(dangling) == [
        *dangling,
        Message("tool", (interrupted_result(CALLS.tool_calls[0]), interrupted_result(CALLS.tool_calls[1]))),
    ]
    partial = [Message.user("q"), CALLS, Message("tool", (ToolResult("c1", "a"),)), Message.user("next")]
    repaired = repair_history(partial)
    assert [m.role for m in repaired] == ["user", "assistant", "tool", "tool", "user"]
    assert repaired[3].tool_results == [interrupted_result(CALLS.tool_calls[1])]


def test_load_repairs_as_a_view_and_append_stores_the_repair(store: SQLiteStore) -> None:
    conv = store.create()
    store.append_many(conv.id, [Message.user("q"), CALLS])
    loaded = store.messages(conv.id)
    assert [r.interrupted for r in loaded[-1].tool_results] == [True, True]
    assert len(store.stored_messages(conv.id)) == 2  # nothing written by loading
    store.append(conv.id, Message.user("go on"))
    stored = [s.message for s in store.stored_messages(conv.id)]
    assert stored == [Message.user("q"), CALLS, loaded[-1], Message.user("go on")]
    assert store.messages(conv.id) == stored


def test_a_tool_message_answering_the_calls_is_not_repaired(store: SQLiteStore) -> None:
    conv = store.create()
    store.append_many(conv.id, [Message.user("q"), CALLS])
    answer = Message("tool", (ToolResult("c1", "a"), ToolResult("c2", "b")))
    store.append(conv.id, answer)
    store.append(conv.id, Message.assistant("done"))
    assert [s.message for s in store.stored_messages(conv.id)] == [
        Message.user("q"),
        CALLS,
        answer,
        Message.assistant("done"),
    ]


def test_a_partial_answer_gets_the_rest_before_the_next_message(store: SQLiteStore) -> None:
    conv = store.create()
    store.append_many(conv.id, [Message.user("q"), CALLS, Message("tool", (ToolResult("c1", "a"),))])
    store.append(conv.id, Message.assistant("next turn"))
    roles = [s.message.role for s in store.stored_messages(conv.id)]
    assert roles == ["user", "assistant", "tool", "tool", "assistant"]
    assert store.stored_messages(conv.id)[3].message.tool_results[0].call_id == "c2"
