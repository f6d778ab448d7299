"""The embedded local model (SmolLM2-135M, llama.cpp) in a chat longer than its context window (slow).

Counts are exact here (the model's own tokenizer on the rendered prompt), and the summariser is the model
itself. Without compaction the fifth turn would fail with ContextWindowExceeded; with it, every turn answers.
"""

from __future__ import annotations

import pytest

from podium import Agent
from podium.agent.events import ContextCompacted
from podium.exceptions import ContextWindowExceeded
from podium.settings import ModelSettings

pytestmark = pytest.mark.slow

N_CTX = 1_024
TOPICS = ["the moon", "rivers", "bread", "trains", "music", "gardens", "winter", "bicycles", "the sea", "owls"]


def chatty(topic: str) -> str:
    return f"Tell me one short fact about {topic}. Some context for you: " + ", ".join([topic] * 60) + "."


def test_a_chat_longer_than_the_window_keeps_answering() -> None:
    local = pytest.importorskip("podium.providers.local")
    model = local.LocalModel(n_ctx=N_CTX, n_threads=1)
    agent = Agent(model, instructions="You are brief.", settings=ModelSettings(max_tokens=48))
    messages: list = []
    compactions: list[ContextCompacted] = []
    counted: list[int] = []
    for topic in TOPICS:
        stream = agent.stream(chatty(topic), message_history=messages)
        compactions += [e for e in stream if isinstance(e, ContextCompacted)]
        result = stream.result
        assert result.output.strip(), f"no answer about {topic}"
        messages = result.messages
        for record in result.requests:
            assert record.exact and record.context_window == N_CTX
            counted.append(record.counted_tokens)
    assert compactions, "the chat never reached the window"
    assert any("summarize" in e.strategies for e in compactions)  # the model wrote a summary of itself
    usable = N_CTX - 48
    assert max(counted) <= usable, counted
    total = sum(len(m.text) for m in messages)
    assert total / 4 > N_CTX  # the saved conversation is longer than the window


def test_without_compaction_the_same_chat_fails_with_a_clear_error() -> None:
    local = pytest.importorskip("podium.providers.local")
    model = local.LocalModel(n_ctx=N_CTX, n_threads=1)
    agent = Agent(model, instructions="You are brief.", settings=ModelSettings(max_tokens=48), compaction=None)
    messages: list = []
    with pytest.raises(ContextWindowExceeded, match="n_ctx=1024"):
        for topic in TOPICS:
            messages = agent.run(chatty(topic), message_history=messages).messages
