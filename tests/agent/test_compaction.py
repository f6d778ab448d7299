"""Compaction strategies, records and views, and compaction in runs (sync and async)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from podium import Agent
from podium.agent.compaction import (
    SUMMARY_PROMPT,
    TRIMMED_MARK,
    Compaction,
    KeepLast,
    Summarize,
    TrimToolResults,
    compaction_record,
    head_length,
    is_record,
    is_summary,
    keep_last,
    last_record,
    summarize,
    trim_tool_results,
    view_of,
)
from podium.agent.events import ContextCompacted, ModelRequestStarted
from podium.agent.recording import RunRecorder
from podium.exceptions import ContextWindowExceeded, RateLimitError, RunCancelled, UserError
from podium.messages import (
    Image,
    Message,
    ModelResponse,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    dump_messages,
    load_messages,
)
from podium.providers.profiles import ModelProfile
from podium.settings import ToolDefinition
from podium.store import SQLiteStore
from podium.testing.models import AgentInfo, FunctionModel
from podium.usage import Usage

BIG = "x" * 5_000


def turn(n: int, size: int = 5_000, thinking: bool = False) -> list[Message]:
    parts: list[Text | Thinking | ToolCall] = []
    if thinking:
        parts.append(Thinking(f"thinking {n}", signature=f"sig{n}"))
    parts.append(ToolCall(f"c{n}", "read", {"n": n}))
    return [Message("assistant", tuple(parts)), Message("tool", (ToolResult(f"c{n}", "read", (Text("y" * size),)),))]


def history(turns: int, **kw: bool) -> list[Message]:
    out = [Message.system("own system"), Message.user("THE GOAL")]
    for n in range(turns):
        out += turn(n, **kw)
    return out


def assert_valid(messages: Sequence[Message]) -> None:
    """Every call answered by the next message, every result after its call, the goal kept."""
    assert any(m.role == "user" and m.text == "THE GOAL" for m in messages)
    for i, m in enumerate(messages):
        if m.tool_calls:
            assert i + 1 < len(messages) and {r.call_id for r in messages[i + 1].tool_results} == {
                c.id for c in m.tool_calls
            }
        if m.role == "tool":
            assert {r.call_id for r in m.tool_results} == {c.id for c in messages[i - 1].tool_calls}


# --------------------------------------------------------------------------- plain functions


def test_trim_keeps_ids_and_recent_turns_and_says_what_went() -> None:
    msgs = history(5)
    out = trim_tool_results(msgs, keep_recent=2, max_chars=1_000, keep_chars=100)
    assert_valid(out)
    trimmed = [r for m in out for r in m.tool_results if TRIMMED_MARK in r.text]
    assert [r.call_id for r in trimmed] == ["c0", "c1", "c2"]
    assert "4,900 characters of this `read` result were removed" in trimmed[0].text
    assert out[-1] is msgs[-1] and out[-3] is msgs[-3]  # the last two turns are the same objects
    assert trim_tool_results(out, keep_recent=2, max_chars=1_000) == out  # idempotent


def test_trim_removes_images_from_old_results_and_keeps_error_flags() -> None:
    image = Image(data=b"\x89PNG", media_type="image/png")
    msgs = [Message.user("THE GOAL"), *turn(0), *turn(1), *turn(2)]
    msgs[2] = Message("tool", (ToolResult("c0", "read", (Text("small"), image), is_error=True),))
    out = trim_tool_results(msgs, keep_recent=1)
    result = out[2].tool_results[0]
    assert result.is_error and "1 image/file part" in result.text
    assert not any(isinstance(p, Image) for p in result.content)


def test_keep_last_keeps_head_summaries_and_the_last_turns() -> None:
    msgs = history(6)
    summary = Message("user", (Text("S"),), provider_details={"podium": {"summary_of": 4}})
    msgs.insert(2, summary)
    out = keep_last(msgs, turns=2)
    assert_valid(out)
    assert out[:3] == [msgs[0], msgs[1], summary]
    assert "8 earlier messages were removed" in out[3].text
    assert out[4:] == msgs[-4:]


def test_summarize_replaces_the_middle_with_a_marked_summary() -> None:
    msgs = history(6)
    seen: list[str] = []
    out = summarize(msgs, lambda text: seen.append(text) or "it went fine", keep_recent=2)
    assert_valid(out)
    assert is_summary(out[2]) and out[2].text.endswith("it went fine")
    assert out[2].provider_details == {"podium": {"summary_of": 8}}
    assert out[3:] == msgs[-4:]
    assert "read returned" in seen[0] and len(seen[0]) < 30_000


def test_a_random_history_stays_valid_through_every_strategy() -> None:
    rng = random.Random(7)
    for _ in range(200):
        msgs = [Message.user("THE GOAL")]
        for n in range(rng.randint(0, 12)):
            if rng.random() < 0.2:
                msgs.append(Message.user(f"more {n}"))
            elif rng.random() < 0.2:
                msgs.append(Message.assistant(f"text {n}"))
            else:
                calls = [ToolCall(f"c{n}_{k}", "t", {}) for k in range(rng.randint(1, 3))]
                msgs.append(Message("assistant", (Thinking("t", signature="s"), *calls)))
                msgs.append(Message("tool", tuple(ToolResult(c.id, "t", (Text(BIG),)) for c in calls)))
        for out in (
            trim_tool_results(msgs, keep_recent=rng.randint(0, 3)),
            keep_last(msgs, turns=rng.randint(0, 4)),
            summarize(msgs, lambda _: "s", keep_recent=rng.randint(0, 4)),
        ):
            assert_valid(out)
            for m in out:  # a model message is kept whole (thinking with its signature and calls) or not at all
                if m.role == "assistant":
                    assert m in msgs


# --------------------------------------------------------------------------- records and views


def test_a_record_survives_json_and_gives_the_same_view() -> None:
    msgs = history(6)
    view = summarize(trim_tool_results(msgs), lambda _: "sum", keep_recent=2)
    record = compaction_record(msgs, view, info={"tokens_before": 9})
    loaded = load_messages(dump_messages([*msgs, record]))
    at = last_record(loaded)
    assert at == len(msgs) and is_record(loaded[at])
    again = view_of(loaded, at)
    assert again is not None
    assert dump_messages(again) == dump_messages(view)
    items = loaded[at].provider_details["podium"]["compaction"]["items"]  # type: ignore[index]
    assert [0, 2] in items  # the head is referenced, not copied


def test_a_record_that_does_not_fit_its_history_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    msgs = history(3)
    record = compaction_record(msgs, keep_last(msgs, turns=1))
    edited = [*msgs[1:], record]  # a message was removed by hand before the record
    assert view_of(edited, len(edited) - 1) is None
    assert "does not fit" in caplog.text


def test_head_is_system_and_first_user_message() -> None:
    assert head_length(history(2)) == 2
    assert head_length([Message.assistant("hi"), Message.user("x")]) == 0


def test_bad_compaction_settings_are_refused() -> None:
    with pytest.raises(UserError, match="target < threshold"):
        Compaction(threshold=0.5, target=0.6)
    with pytest.raises(UserError, match="at least 256"):
        Compaction(window=10)


# --------------------------------------------------------------------------- in runs


def counting(reply: str = "ok", fail_summary: bool = False, summaries: list[str] | None = None) -> FunctionModel:
    def fn(messages: list[Message], info: AgentInfo) -> ModelResponse:
        size = sum(len(json.dumps(m.text)) + sum(len(r.text) for r in m.tool_results) for m in messages)
        usage = Usage(input_tokens=size // 4, output_tokens=5, requests=1)
        if messages[0].text == SUMMARY_PROMPT:
            if fail_summary:
                raise RateLimitError("slow down", status=429, provider="test")
            if summaries is not None:
                summaries.append(messages[1].text)
            return ModelResponse((Text("the summary"),), usage=usage)
        return ModelResponse((Text(reply),), usage=usage)

    return FunctionModel(fn, profile=ModelProfile(context_window=4_000, max_output_tokens=500), summaries="ask")


def test_a_run_compacts_a_long_history_and_sends_the_view() -> None:
    model = counting()
    agent = Agent(model)
    events = list(stream := agent.stream("next?", message_history=history(8)))
    [event] = [e for e in events if isinstance(e, ContextCompacted)]
    assert event.tokens_after < event.limit * 0.5 < event.tokens_before
    sent = model.requests[-1][0]
    assert_valid(sent)
    assert not any(is_record(m) for m in sent)
    assert stream.result.messages[-2] is event.record  # after the prompt it made room for, before the answer
    assert len([m for m in stream.result.messages if m.role == "tool"]) == 8  # the full history is kept


def test_agent_compact_on_demand_and_the_next_run_sends_the_view() -> None:
    model = counting()
    agent = Agent(model, compaction=Compaction(strategies=(TrimToolResults(keep_recent=1),)))
    msgs = history(3, size=3_000)
    result = agent.compact(msgs)
    assert result.compacted and result.strategies == ("trim_tool_results",)
    assert result.messages[:-1] == msgs and is_record(result.messages[-1])
    assert result.tokens_after <= result.tokens_before / 2
    agent.run("go on", message_history=result.messages)
    sent = model.requests[-1][0]
    assert [m.text for m in sent[:-1]] == [m.text for m in result.view]
    nothing = agent.compact([Message.user("THE GOAL")])
    assert not nothing.compacted and nothing.messages == [Message.user("THE GOAL")]
    with pytest.raises(UserError, match="nothing to compact"):
        agent.compact([])


def test_acompact_is_the_async_twin() -> None:
    agent = Agent(counting(), compaction=Compaction(strategies=(KeepLast(1),)))
    result = asyncio.run(agent.acompact(history(5)))
    assert result.strategies == ("keep_last",)
    assert_valid(result.view)


def test_a_cheaper_summariser_model_is_used_and_its_usage_counts() -> None:
    main, summaries = counting(), []
    cheap = counting(summaries=summaries)
    agent = Agent(main, compaction=Compaction(strategies=(Summarize(model=cheap, keep_recent=1),)))
    result = agent.run("next?", message_history=history(8))
    assert len(summaries) == 1 and "read returned" in summaries[0]
    assert all(messages[0].text != SUMMARY_PROMPT for messages, _ in main.requests)
    purposes = [r.purpose for r in result.requests]
    assert purposes == ["compaction", "answer"]
    assert result.usage.input_tokens == sum(r.usage.input_tokens for r in result.requests)


def test_a_failing_summariser_falls_back_and_the_run_goes_on() -> None:
    agent = Agent(counting(fail_summary=True))
    events = list(stream := agent.stream("next?", message_history=history(8)))
    [event] = [e for e in events if isinstance(e, ContextCompacted)]
    assert "summarize" not in event.strategies and "keep_last" in event.strategies
    assert any("slow down" in e for e in event.errors)
    assert stream.result.output == "ok"


def test_cancel_while_summarising_leaves_a_valid_history() -> None:
    agent = Agent(counting())
    stream = agent.stream("next?", message_history=history(8))
    with pytest.raises(RunCancelled) as info:
        for event in stream:
            if isinstance(event, ContextCompacted):
                pytest.fail("compaction finished before the cancel")
            stream.cancel()
    assert_valid(info.value.messages or [])


def test_without_a_known_window_nothing_is_compacted_but_requests_are_counted() -> None:
    model = FunctionModel(lambda m, i: "ok")
    result = Agent(model).run("next?", message_history=history(30))
    assert not any(is_record(m) for m in result.messages)
    [record] = result.requests
    assert record.context_window is None and record.counted_tokens > 30 * 1_000


def test_an_exact_counter_is_used_when_the_model_has_one() -> None:
    class Exact(FunctionModel):
        def token_counter(self) -> Exact:
            return self

        def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolDefinition]) -> int:
            return 100 * len(messages)

    model = Exact(lambda m, i: "ok", profile=ModelProfile(context_window=100_000))
    result = Agent(model).run("hi", message_history=history(2))
    [record] = result.requests
    assert record.exact and record.counted_tokens == 100 * 7


def test_compaction_is_stored_and_a_reloaded_conversation_sends_the_same_view(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite")
    conversation = store.create().id
    store.append_many(conversation, history(8))
    model = counting()
    agent = Agent(model)
    with RunRecorder(store, conversation) as recorder:
        for event in agent.stream("next?", message_history=store.messages(conversation)):
            recorder.record(event)
    first_view = model.requests[-1][0]
    stored = store.messages(conversation)
    assert sum(is_record(m) for m in stored) == 1
    agent.run("and then?", message_history=stored)
    second = model.requests[-1][0]
    assert dump_messages(second[: len(first_view)]) == dump_messages(first_view)  # the prefix, byte for byte


def test_a_provider_refusal_as_too_long_compacts_deeper_and_retries_once() -> None:
    refused: list[int] = []

    def fn(messages: list[Message], info: AgentInfo) -> ModelResponse:
        size = sum(len(m.text) + sum(len(r.text) for r in m.tool_results) for m in messages)
        real = int(size / 1.5)  # this provider's tokenizer counts ~2.7 times Podium's first estimate
        if real > 3_500:
            refused.append(real)
            raise ContextWindowExceeded(f"prompt is too long: {real} tokens", status=400, provider="test")
        if messages[0].text == SUMMARY_PROMPT:
            return ModelResponse((Text("short"),))
        return ModelResponse((Text("fits"),), usage=Usage(input_tokens=real, output_tokens=1, requests=1))

    model = FunctionModel(fn, profile=ModelProfile(context_window=4_000, max_output_tokens=500), summaries="ask")
    events = list(stream := Agent(model).stream("next?", message_history=history(3, size=2_000)))
    assert stream.result.output == "fits"
    assert len([e for e in events if isinstance(e, ContextCompacted)]) == 1
    assert [e.step for e in events if isinstance(e, ModelRequestStarted)] == [1, 1]  # the step, sent again
    assert len(refused) == 1


def test_a_second_refusal_ends_the_run_with_a_valid_history() -> None:
    def fn(messages: list[Message], info: AgentInfo) -> ModelResponse:
        if messages[0].text == SUMMARY_PROMPT:
            return ModelResponse((Text("short"),))
        raise ContextWindowExceeded("prompt is too long", status=400, provider="test")

    model = FunctionModel(fn, profile=ModelProfile(context_window=4_000, max_output_tokens=500), summaries="ask")
    with pytest.raises(ContextWindowExceeded) as info:
        Agent(model).run("next?", message_history=history(3, size=1_500))
    assert_valid(info.value.messages or [])


def test_the_summary_records_the_range_of_the_history_it_replaces() -> None:
    agent = Agent(counting(), compaction=Compaction(strategies=(TrimToolResults(), Summarize(keep_recent=2))))
    msgs = history(8)
    result = agent.compact(msgs)
    [summary] = [m for m in result.view if is_summary(m)]
    start, end = summary.provider_details["podium"]["range"]  # type: ignore[index]
    assert (start, end) == (2, len(msgs) - 4)  # after the system message and the goal, up to the last 2 turns
    assert summary.provider_details["podium"]["summary_of"] == end - start  # type: ignore[index]


def test_a_sub_agent_that_compacts_counts_its_summaries_in_the_parent() -> None:
    reported: list[Usage] = []
    answers: list[int] = []

    def child(messages: list[Message], info: AgentInfo) -> ModelResponse:
        size = sum(len(m.text) + sum(len(r.text) for r in m.tool_results) for m in messages)
        usage = Usage(input_tokens=size // 4, output_tokens=3, requests=1)
        reported.append(usage)
        if messages[0].text == SUMMARY_PROMPT:
            return ModelResponse((Text("summary"),), usage=usage)
        answers.append(1)
        calls = len(answers) - 1
        if calls < 8:
            return ModelResponse((ToolCall(f"r{calls}", "read", {"n": calls}),), usage=usage)
        return ModelResponse((Text("read them all"),), usage=usage)

    def read(n: int) -> str:
        """Read part n."""
        return "z" * 3_000

    worker = Agent(
        FunctionModel(child, profile=ModelProfile(context_window=4_000, max_output_tokens=500), summaries="ask"),
        tools=[read],
        name="worker",
    )
    parent = FunctionModel(
        lambda m, i: [ToolCall("w1", "worker", {"task": "read"})] if i.step == 0 else "done",
        profile=ModelProfile(context_window=100_000),
    )
    events = list(stream := Agent(parent, tools=[worker]).stream("go"))
    compactions = [e for e in events if getattr(e, "event", None) is not None and e.event.kind == "context_compacted"]
    assert compactions, "the child never compacted"
    assert any(e.event.usage.requests for e in compactions)  # its summary requests are in the event
    result = stream.result
    assert result.output == "done"
    child_usage = result.usage_by_agent["agent/worker"]
    assert child_usage.input_tokens == sum(u.input_tokens for u in reported)
    assert child_usage.requests == len(reported)


def test_a_provider_reporting_too_few_tokens_cannot_shrink_the_count() -> None:
    """Usage that covers only part of the prompt (a proxy, a test double) is not trusted below 0.8."""
    from podium.providers.tokens import estimate_request

    sizes: list[int] = []

    def fn(messages: list[Message], info: AgentInfo) -> ModelResponse:
        sizes.append(estimate_request(messages, info.tools))
        if info.step < 40:
            return ModelResponse((ToolCall(f"r{info.step}", "read", {"n": info.step}),), usage=Usage(10, 1, requests=1))
        return ModelResponse((Text("done"),), usage=Usage(10, 1, requests=1))

    def read(n: int) -> str:
        """Read part n."""
        return "w" * 3_000

    model = FunctionModel(fn, profile=ModelProfile(context_window=8_000, max_output_tokens=1_000))
    result = Agent(model, tools=[read], max_steps=60).run("THE GOAL")
    assert result.output == "done"
    assert max(sizes) <= 7_000, max(sizes)  # by Podium's own uncalibrated estimate, under the usable window


def test_test_models_answer_summary_requests_without_spending_the_script() -> None:
    """A scripted conversation stays as scripted when compaction asks the model for summaries."""
    from podium.testing import ScriptedModel, call

    def read(n: int) -> str:
        """Read part n."""
        return "q" * 3_000

    script = [[call("read", {"n": n})] for n in range(30)] + ["all read"]
    model = ScriptedModel(script, profile=ModelProfile(context_window=6_000, max_output_tokens=500))
    events = list(stream := Agent(model, tools=[read], max_steps=40).stream("THE GOAL"))
    assert stream.result.output == "all read"
    assert len(model.requests) == 31
    summaries = [e for e in events if isinstance(e, ContextCompacted) and "summarize" in e.strategies]
    assert summaries and len(model.summary_requests) >= len(summaries)
    for messages, _ in model.requests:
        assert_valid(messages)
