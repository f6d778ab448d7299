"""Static checks of the store's public types (run by mypy in CI; never executed)."""

from __future__ import annotations

from collections.abc import Iterator

from typing_extensions import assert_type

import podium.paused
from podium.agent.approval import PausedRun
from podium.agent.events import AgentEvent
from podium.agent.recording import RunRecorder, record_stream
from podium.messages import Message
from podium.store import (
    Conversation,
    ConversationStore,
    ConversationSummary,
    ConversationUsage,
    Run,
    SQLiteStore,
    StoredMessage,
)


def check(store: ConversationStore) -> None:
    sqlite: ConversationStore = SQLiteStore("x.db")  # the SQLite store satisfies the protocol
    conv = store.create(title="t")
    assert_type(conv, Conversation)
    assert_type(store.list_conversations(), list[ConversationSummary])
    assert_type(store.latest(), Conversation | None)
    assert_type(store.messages(conv.id), list[Message])
    assert_type(store.append(conv.id, Message.user("hi")), StoredMessage)
    assert_type(store.undo(conv.id), list[Message])
    assert_type(store.start_run(conv.id), Run)
    assert_type(store.paused_run(conv.id), PausedRun | None)
    assert_type(store.paused_run(conv.id), podium.paused.PausedRun | None)  # the same class, from the core
    assert_type(store.usage(conv.id), ConversationUsage)
    recorder = RunRecorder(sqlite, conv.id)
    assert_type(recorder.run, Run | None)
    assert_type(record_stream(store, conv.id, []), Iterator[AgentEvent])
