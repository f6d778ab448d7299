"""A 200-turn run with large tool outputs under an 8k-token window (issue 12's must-show).

The model is a FunctionModel whose "tokenizer" (what it reports as ``input_tokens``) is deliberately not
Podium's estimate: JSON characters of the messages over 3.3, so the loop has to calibrate. Every request is
then checked against that tokenizer, and for the rules compaction keeps.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import pytest

from podium import Agent
from podium.agent.compaction import SUMMARY_PROMPT, TRIMMED_MARK, Compaction, is_record
from podium.agent.events import ContextCompacted, ModelRequestStarted
from podium.messages import CachePoint, Message, ModelResponse, Text, ToolCall, message_to_dict
from podium.providers.profiles import ModelProfile
from podium.settings import ToolDefinition
from podium.testing.models import AgentInfo, FunctionModel
from podium.usage import Usage

WINDOW = 8_000
TURNS = 200
GOAL = "Read the 200 log shards with read_shard (0 to 199), one per turn, then say DONE with the total error count."

log = logging.getLogger(__name__)


def provider_tokens(messages: Sequence[Message], tools: Sequence[ToolDefinition]) -> int:
    """The fake provider's own count: JSON characters / 3.3 (Podium's estimate is text bytes / 4)."""
    body = json.dumps([message_to_dict(m) for m in messages]) + json.dumps([t.parameters for t in tools])
    return int(len(body) / 3.3) + 3 * len(messages)


def read_shard(n: int) -> str:
    """Read one log shard."""
    lines = [
        f"shard {n} line {i}: status=ok latency={(n * 31 + i * 7) % 997}ms errors={(n + i) % 3}" for i in range(45)
    ]
    return "\n".join(lines)  # about 2,200 characters, ~800 provider tokens


class Script:
    """The scripted model: one read_shard call per turn, a summary when asked, DONE at the end."""

    def __init__(self) -> None:
        self.requests: list[tuple[list[Message], int]] = []
        self.summaries = 0

    def __call__(self, messages: list[Message], info: AgentInfo) -> ModelResponse:
        tokens = provider_tokens(messages, info.tools)
        usage = Usage(input_tokens=tokens, output_tokens=20, requests=1)
        if messages and messages[0].role == "system" and messages[0].text == SUMMARY_PROMPT:
            self.summaries += 1
            return ModelResponse((Text(f"Summary {self.summaries}: shards read so far, errors counted."),), usage=usage)
        self.requests.append((messages, tokens))
        done = sum(1 for m in messages for p in m.parts if isinstance(p, ToolCall))
        shard = len(self.requests) - 1
        if shard >= TURNS:
            return ModelResponse((Text(f"DONE ({done} calls visible)"),), usage=usage)
        return ModelResponse((ToolCall(f"c{shard}", "read_shard", {"n": shard}),), usage=usage)


def strip_cache_points(messages: Sequence[Message]) -> list[dict[str, object]]:
    out = []
    for m in messages:
        d = message_to_dict(Message(m.role, tuple(p for p in m.parts if not isinstance(p, CachePoint))))
        d["provider_details"] = m.provider_details
        out.append(d)
    return out


def check_pairs(messages: Sequence[Message]) -> None:
    """Every call in the request has its result in the next message, and every result its call."""
    for i, m in enumerate(messages):
        calls = {c.id for c in m.tool_calls}
        if calls:
            assert i + 1 < len(messages) or m is messages[-1], "a call at the end of a request"
            if i + 1 < len(messages):
                assert {r.call_id for r in messages[i + 1].tool_results} == calls
        if m.role == "tool":
            assert i > 0 and {r.call_id for r in m.tool_results} == {c.id for c in messages[i - 1].tool_calls}


@pytest.fixture(scope="module")
def long_run() -> tuple[Script, list[object], object]:
    script = Script()
    model = FunctionModel(script, profile=ModelProfile(context_window=WINDOW, max_output_tokens=1_000), summaries="ask")
    agent = Agent(model, tools=[read_shard], instructions="You read logs.", max_steps=TURNS + 5)
    stream = agent.stream(GOAL)
    events = list(stream)
    return script, events, stream.result


def test_every_request_fits_the_window(long_run: tuple[Script, list[object], object]) -> None:
    script, _, result = long_run
    usable = Compaction().usable(WINDOW, None, 1_000)
    assert len(script.requests) == TURNS + 1
    sizes = [tokens for _, tokens in script.requests]
    assert max(sizes) <= usable, f"a request took {max(sizes)} provider tokens, over {usable}"
    assert result.output.startswith("DONE")  # type: ignore[attr-defined]
    # the table of the closing note: provider tokens per request, every 10th
    log.info("tokens per request: %s", sizes[::10])


def test_no_call_separated_and_goal_always_present(long_run: tuple[Script, list[object], object]) -> None:
    script, _, _ = long_run
    for messages, _ in script.requests:
        check_pairs(messages)
        assert any(m.role == "user" and m.text == GOAL for m in messages)
        assert messages[0].role == "system" and messages[0].text == "You read logs."
        assert not any(is_record(m) for m in messages), "a compaction record was sent"


def test_prefix_is_stable_between_compactions(long_run: tuple[Script, list[object], object]) -> None:
    script, events, _ = long_run
    compacted_before = set()
    step = 0
    for event in events:
        if isinstance(event, ContextCompacted):
            compacted_before.add(event.step)
        if isinstance(event, ModelRequestStarted):
            step = event.step
    assert step == TURNS + 1
    compactions = len(compacted_before)
    assert 3 <= compactions <= TURNS // 3, compactions
    changed = 0
    for n in range(1, len(script.requests)):
        before = strip_cache_points(script.requests[n - 1][0])
        after = strip_cache_points(script.requests[n][0])
        if n + 1 in compacted_before:  # request n+1 (1-based) came right after a compaction
            changed += 1
            continue
        assert after[: len(before)] == before, f"request {n + 1} does not extend request {n}"
    assert changed == compactions


def test_compactions_are_events_and_records_in_the_history(long_run: tuple[Script, list[object], object]) -> None:
    _, events, result = long_run
    compactions = [e for e in events if isinstance(e, ContextCompacted)]
    records = [m for m in result.messages if is_record(m)]  # type: ignore[attr-defined]
    assert len(records) == len(compactions)
    for event in compactions:
        assert event.tokens_after < event.tokens_before
        assert event.strategies
        assert event.record in records
    # the store keeps everything: all 200 calls and their whole results are in the full history
    results = [r for m in result.messages for r in m.tool_results]  # type: ignore[attr-defined]
    assert len(results) == TURNS
    assert all(len(r.text) > 2_000 and TRIMMED_MARK not in r.text for r in results)


def test_usage_per_request_is_in_the_result(long_run: tuple[Script, list[object], object]) -> None:
    script, _, result = long_run
    answers = [r for r in result.requests if r.purpose == "answer"]  # type: ignore[attr-defined]
    assert len(answers) == TURNS + 1
    assert [r.usage.input_tokens for r in answers] == [tokens for _, tokens in script.requests]
    assert all(r.context_window == WINDOW and not r.exact for r in answers)
    # calibration: after the first requests the count is within 15% of what the provider reported
    late = answers[10:]
    worst = max(abs(r.counted_tokens - r.usage.input_tokens) / r.usage.input_tokens for r in late)
    assert worst < 0.15, worst
    summaries = [r for r in result.requests if r.purpose == "compaction"]  # type: ignore[attr-defined]
    assert len(summaries) == script.summaries
    total = sum(r.usage.input_tokens for r in result.requests)  # type: ignore[attr-defined]
    assert result.usage.input_tokens == total  # type: ignore[attr-defined]


def test_the_async_driver_sends_the_same_requests() -> None:
    """Compaction lives in the sans-IO loop: the async driver gets it unchanged, request for request."""
    import asyncio

    def run_async() -> Script:
        script = Script()
        model = FunctionModel(
            script, profile=ModelProfile(context_window=WINDOW, max_output_tokens=1_000), summaries="ask"
        )
        agent = Agent(model, tools=[read_shard], instructions="You read logs.", max_steps=TURNS + 5)

        async def go() -> None:
            async for _ in agent.astream(GOAL):
                pass

        asyncio.run(go())
        return script

    sync_script = Script()
    model = FunctionModel(
        sync_script, profile=ModelProfile(context_window=WINDOW, max_output_tokens=1_000), summaries="ask"
    )
    Agent(model, tools=[read_shard], instructions="You read logs.", max_steps=TURNS + 5).run(GOAL)
    async_script = run_async()
    assert [t for _, t in async_script.requests] == [t for _, t in sync_script.requests]
    assert async_script.summaries == sync_script.summaries
