"""Prompt caching through the agent loop, on recorded Anthropic traffic with cache usage.

The loop marks the stable prefix of every request (the end of the instructions, and the end of the request,
which the next request of the conversation extends byte for byte) with ``cache_control``; the recorded
responses report cache reads and writes, and those reach the run's usage and its per-request records.
"""

from __future__ import annotations

from typing import Any

import pytest
from _replay import assert_request, recorded_requests, replay

from podium import Agent
from podium.agent.compaction import Compaction
from podium.providers.anthropic import AnthropicModel

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

SYSTEM = "You are a helpful assistant."
# The recording used Anthropic's automatic (top-level) cache_control; Podium marks the same prefix with
# block-level breakpoints, which Anthropic treats the same way. These are the only differences allowed.
FIRST = {
    "cache_control": "recorded with top-level automatic caching; Podium marks the blocks",
    "system": "a list of blocks, so the instructions carry their own breakpoint",
    "messages[0].content[0].cache_control": "the end of the request: the prefix the next request extends",
}
SECOND = {
    "cache_control": FIRST["cache_control"],
    "system": FIRST["system"],
    "messages[2].content[0].cache_control": FIRST["messages[0].content[0].cache_control"],
}


def test_the_stable_prefix_gets_cache_control_and_cache_reads_reach_the_usage() -> None:
    with replay("anthropic", "test_anthropic_cache_real_api.yaml") as server:
        prompt = recorded_requests(server)[0]["messages"][0]["content"][0]["text"]
        model = AnthropicModel("claude-sonnet-4-5", base_url=server.url, api_key="test-key")
        agent = Agent(model, instructions=SYSTEM)
        first = agent.run(prompt)
        sent: list[Any] = [assert_request(server, 0, FIRST)]
        second = agent.run("Can you summarize that in one sentence?", message_history=first.messages)
        sent.append(assert_request(server, 1, SECOND))
    ephemeral = {"type": "ephemeral"}
    for body in sent:
        assert body["system"] == [{"type": "text", "text": SYSTEM, "cache_control": ephemeral}]
        assert body["messages"][-1]["content"][-1]["cache_control"] == ephemeral
        assert str(body).count("cache_control") == 2  # two breakpoints of the four allowed
    # the first request's breakpoint is not in the second: the prefix it marked is what gets read back
    assert "cache_control" not in sent[1]["messages"][0]["content"][0]
    assert first.output.startswith("# What is Python?")
    assert second.output.startswith("Python is a beginner-friendly")
    # cache usage the provider reported, carried into Podium's usage and the per-request records
    assert (first.usage.cache_read_tokens, first.usage.cache_write_tokens) == (1111, 0)
    assert (second.usage.cache_read_tokens, second.usage.cache_write_tokens) == (1111, 418)
    assert second.usage.input_tokens == 3 + 418 + 1111
    [record] = second.requests
    assert record.usage.cache_read_tokens == 1111
    assert record.context_window == 200_000
    assert not record.exact


def test_no_breakpoints_when_compaction_is_off_or_the_caller_placed_them() -> None:
    with replay("anthropic", "test_anthropic_cache_real_api.yaml") as server:
        prompt = recorded_requests(server)[0]["messages"][0]["content"][0]["text"]
        model = AnthropicModel("claude-sonnet-4-5", base_url=server.url, api_key="test-key")
        agent = Agent(model, instructions=SYSTEM, compaction=Compaction(cache_points=False))
        first = agent.run(prompt)
        body = server.received[0].json
        agent.run("Can you summarize that in one sentence?", message_history=first.messages)
    assert "cache_control" not in str(body)
