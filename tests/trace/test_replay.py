"""Recorded runs of every kind replay offline to the same events, sync and async; changed code is reported.

Each scenario builds a fresh agent (real drivers, scripted models or a real provider model on the fake
provider server), records one run into a :class:`Trace`, round-trips the trace through JSONL, and replays
it with an agent whose model would fail if called. Events are compared in their encoded form (every field,
durations included); the outcome is the output or the error's type and message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from podium import Agent, CancelToken, tool
from podium.agent.approval import ApprovalPolicy, Rule
from podium.agent.compaction import Compaction
from podium.agent.replay import ReplayMismatch, areplay, replay
from podium.exceptions import ServerError
from podium.messages import ModelResponse, Text
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy
from podium.testing import FunctionModel, ScriptedModel
from podium.testing.fake_server import FakeProviderServer, Reply
from podium.testing.models import AgentInfo, call
from podium.tools import RunContext
from podium.trace import Trace
from podium.trace.codec import encode
from podium.usage import Usage

RUNS: dict[str, int] = {}
"""Executions per tool name (a replay answered from the trace runs nothing)."""


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    RUNS["add"] = RUNS.get("add", 0) + 1
    return a + b


@tool
async def mul(a: int, b: int) -> int:
    """Multiply two numbers."""
    RUNS["mul"] = RUNS.get("mul", 0) + 1
    return a * b


@tool
def boom(reason: str) -> str:
    """Fail."""
    RUNS["boom"] = RUNS.get("boom", 0) + 1
    raise RuntimeError(f"boom: {reason}")


class Answer(BaseModel):
    city: str
    population: int


@dataclass
class Scenario:
    make: Callable[[], Agent[Any]]
    """A fresh agent for the recording."""
    run: Callable[[Agent[Any], Trace, str], tuple[list[Any], Any]]
    """Record one run with the driver given; returns (encoded events, outcome)."""


def outcome_of(fn: Callable[[], Any]) -> Any:
    try:
        result = fn()
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("ok", result.status, encode(result.output if result.status == "completed" else None))


def drive(stream_factory: Callable[[], Any], driver: str) -> tuple[list[Any], Any]:
    """Events (encoded) and outcome of a stream (``agent.stream`` or ``astream``)."""
    events: list[Any] = []
    if driver == "sync":
        stream = stream_factory()

        def consume() -> Any:
            for event in stream:
                events.append(encode(event))
            return stream.result

        return events, outcome_of(consume)

    async def main() -> Any:
        astream = stream_factory()
        async for event in astream:
            events.append(encode(event))
        return astream.result

    return events, outcome_of(lambda: asyncio.run(main()))


def simple(
    prompt: str, *, stream: bool = True, **kwargs: Any
) -> Callable[[Agent[Any], Trace, str], tuple[list[Any], Any]]:
    def run(agent: Agent[Any], trace: Trace, driver: str) -> tuple[list[Any], Any]:
        method = agent.stream if driver == "sync" else agent.astream
        return drive(lambda: method(prompt, trace=trace, _stream_model=stream, **kwargs), driver)

    return run


def scripted(*replies: Any, **kwargs: Any) -> ScriptedModel:
    return ScriptedModel(list(replies), **kwargs)


def parallel_tools() -> Agent[Any]:
    model = scripted(
        [call("add", {"a": 1, "b": 2}), call("mul", {"a": 3, "b": 4}), call("add", {"a": 5, "b": 6})], "3, 12 and 11."
    )
    return Agent(model, tools=[add, mul])


def failing_tool() -> Agent[Any]:
    return Agent(scripted([call("boom", {"reason": "disk"})], [call("add", {"a": 1, "b": 1})], "2"), tools=[boom, add])


def structured() -> Agent[Answer]:
    model = scripted([call("add", {"a": 1, "b": 2})], [call("final_result", {"city": "Paris", "population": 2100000})])
    return Agent(model, tools=[add], output_type=Answer, output_mode="tool")


def thinking() -> Agent[Any]:
    from podium.messages import Thinking

    return Agent(
        scripted(ModelResponse((Thinking("let me add", signature="sig"), call("add", {"a": 2, "b": 2}))), "4"),
        tools=[add],
    )


POLICY = ApprovalPolicy([Rule("ask", tool="add"), Rule("allow", tool="mul")])


def approved_by_approver() -> Agent[Any]:
    model = scripted([call("add", {"a": 1, "b": 2}), call("mul", {"a": 2, "b": 2})], "done")
    return Agent(model, tools=[add, mul], policy=POLICY, approver=lambda request: True)


def cancelling() -> Agent[Any]:
    token_box: list[CancelToken] = []

    @tool
    def stop(ctx: RunContext[Any]) -> str:
        """Cancel the run."""
        token_box[0].cancel("test")
        return "stopping"

    agent = Agent(scripted([call("stop", {}), call("add", {"a": 1, "b": 1})], "never"), tools=[stop, add])
    agent._token_box = token_box  # type: ignore[attr-defined]
    return agent


def run_cancelled(agent: Agent[Any], trace: Trace, driver: str) -> tuple[list[Any], Any]:
    token = CancelToken()
    agent._token_box.append(token)  # type: ignore[attr-defined]
    method = agent.stream if driver == "sync" else agent.astream
    return drive(lambda: method("go", trace=trace, cancel=token), driver)


def with_subagent() -> Agent[Any]:
    child_model = scripted(
        ModelResponse((call("add", {"a": 1, "b": 2}),), usage=Usage(10, 5, requests=1), cost=0.01),
        ModelResponse((Text("three"),), usage=Usage(20, 2, requests=1), cost=0.02),
        model_name="calc",
    )
    child = Agent(child_model, tools=[add], name="calc")
    parent_model = scripted([call("calc", {"task": "1 + 2?"})], "it is three", model_name="parent")
    return Agent(parent_model, tools=[child], name="main")


def compacting() -> Agent[Any]:
    def answer(messages: list[Any], info: AgentInfo) -> Any:
        if info.step < 6:
            return [call("big", {"n": info.step})]
        return "done"

    profile = ModelProfile(context_window=1200, max_output_tokens=100)

    @tool
    def big(n: int) -> str:
        """A long output."""
        return "x" * 900 + str(n)

    model = FunctionModel(answer, profile=profile)
    return Agent(model, tools=[add, big], compaction=Compaction(threshold=0.5, target=0.3))


SCENARIOS: dict[str, Scenario] = {
    "parallel-streamed": Scenario(parallel_tools, simple("sum and multiply")),
    "parallel-not-streamed": Scenario(parallel_tools, simple("sum and multiply", stream=False)),
    "failing-tool": Scenario(failing_tool, simple("try")),
    "structured-output": Scenario(structured, simple("which city?")),
    "thinking": Scenario(thinking, simple("2+2")),
    "approver": Scenario(approved_by_approver, simple("go")),
    "paused": Scenario(
        lambda: Agent(scripted([call("add", {"a": 1, "b": 2})], "done"), tools=[add], policy=POLICY), simple("go")
    ),
    "cancelled": Scenario(cancelling, run_cancelled),
    "subagent": Scenario(with_subagent, simple("what is 1 + 2?")),
    "compaction": Scenario(compacting, simple("count")),
}


def unused_model() -> ScriptedModel:
    return ScriptedModel([])  # any request raises: a replay must not call the model


def replay_agent(scenario: Scenario) -> Agent[Any]:
    """A fresh agent of the scenario: same model (profile, window), tools, policy; its model must stay unused."""
    return scenario.make()


def replayed(agent: Agent[Any], trace: Trace, driver: str, **kwargs: Any) -> tuple[list[Any], Any]:
    if driver == "sync":
        return drive(lambda: replay(agent, trace, **kwargs), driver)
    return drive(lambda: areplay(agent, trace, **kwargs), driver)


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize(
    ("recorded_with", "replayed_with"), [("sync", "sync"), ("sync", "async"), ("async", "sync"), ("async", "async")]
)
def test_a_recorded_run_replays_to_the_same_events(name: str, recorded_with: str, replayed_with: str) -> None:
    scenario = SCENARIOS[name]
    trace = Trace()
    events, outcome = scenario.run(scenario.make(), trace, recorded_with)
    assert events and trace.end is not None
    loaded = Trace.from_jsonl(trace.to_jsonl())
    RUNS.clear()
    agent = replay_agent(scenario)
    again, replay_outcome = replayed(agent, loaded, replayed_with)
    assert agent._resolved.requests == []  # type: ignore[union-attr]  # the model was never called
    assert replay_outcome == outcome
    assert len(again) == len(events)
    for i, (a, b) in enumerate(zip(events, again, strict=True)):
        assert a == b, f"event {i} differs"
    assert RUNS == {}  # every tool answered from the trace


def test_a_paused_run_and_its_resume_replay() -> None:
    agent = Agent(
        scripted([call("add", {"a": 1, "b": 2}), call("mul", {"a": 1, "b": 2})], "done"),
        tools=[add, mul],
        policy=POLICY,
    )
    first, second = Trace(), Trace()
    paused = agent.run("go", trace=first)
    assert paused.status == "paused"
    done = agent.run(resume=paused.paused, approvals={paused.pending_approvals[0].call_id: True}, trace=second)
    assert done.output == "done"
    for trace in (first, second):
        loaded = Trace.from_jsonl(trace.to_jsonl())
        replay_with = Agent(unused_model(), tools=[add, mul], policy=POLICY)
        stream = replay(replay_with, loaded)
        list(stream)
        assert stream.result.status == trace.end["status"]  # type: ignore[index]
    assert second.header["resume"] is not None and second.header["approvals"]


def test_a_provider_error_with_retries_replays(tmp_path: Any) -> None:
    replies = [
        Reply.error(429, "slow down", retry_after=0),
        Reply.answer("", calls=[("add", {"a": 1, "b": 2})]),
        Reply.error(500, "down"),
        Reply.error(500, "down"),
    ]
    with FakeProviderServer(*replies) as server:
        model = server.model("openai:gpt-4o", retry=RetryPolicy(max_retries=1, initial_delay=0.01))
        agent = Agent(model, tools=[add])
        trace = Trace()
        events, outcome = drive(lambda: agent.stream("add", trace=trace), "sync")
    assert outcome[0] == "error" and outcome[1] == "ServerError"
    responses = trace.of_kind("response")
    assert "error" in responses[-1]["answer"] and responses[-1]["answer"]["error"]["attrs"]["status"] == 500
    for driver in ("sync", "async"):
        again, replay_outcome = replayed(Agent(unused_model(), tools=[add]), Trace.from_jsonl(trace.to_jsonl()), driver)
        assert replay_outcome == outcome and again == events
    with pytest.raises(ServerError) as info:
        list(replay(Agent(unused_model(), tools=[add]), trace))
    assert info.value.status == 500
    assert info.value.messages and info.value.messages[-1].role == "tool"  # the history up to the failure


def test_steering_messages_replay() -> None:
    import threading

    started = threading.Event()
    release = threading.Event()

    @tool
    def wait() -> str:
        """Wait for the test."""
        started.set()
        release.wait(5)
        return "waited"

    agent = Agent(scripted([call("wait", {})], "ok"), tools=[wait])
    trace = Trace()
    stream = agent.stream("go", trace=trace)
    events = []
    for event in stream:
        events.append(encode(event))
        if started.is_set() and not release.is_set():
            stream.send("also this")
            release.set()
    assert any(r["answer"]["value"] for r in trace.of_kind("take"))
    again, _ = replayed(Agent(unused_model(), tools=[wait]), trace, "sync")
    assert again == events


def test_a_changed_tool_schema_is_reported_at_its_step() -> None:
    agent = Agent(scripted([call("add", {"a": 1, "b": 2})], "3"), tools=[add])
    trace = Trace()
    agent.run("add", trace=trace)

    @tool(name="add")
    def add_v2(a: int, b: int, c: int = 0) -> int:
        """Add two or three numbers."""
        return a + b + c

    with pytest.raises(ReplayMismatch) as info:
        list(replay(Agent(unused_model(), tools=[add_v2]), trace))
    assert info.value.step == 1
    assert info.value.what == "definition of tool 'add'"
    assert "Add two numbers." in str(info.value) and "Add two or three numbers." in str(info.value)


def test_a_change_after_the_first_step_is_reported_at_that_step() -> None:
    agent = Agent(scripted([call("add", {"a": 1, "b": 2})], "3"), tools=[add])
    trace = Trace()
    agent.run("add", trace=trace)

    @tool(name="add")
    def add_wrong(a: int, b: int) -> int:
        """Add two numbers."""
        return a - b

    with pytest.raises(ReplayMismatch) as info:
        list(replay(Agent(unused_model(), tools=[add_wrong]), trace, tools="run"))
    assert info.value.step == 2  # the tool ran again and gave another result: the second request differs
    assert "messages[" in info.value.what and '"-1"' in str(info.value)


def test_changed_instructions_are_reported() -> None:
    trace = Trace()
    Agent(scripted("hi"), instructions="Be brief.").run("hello", trace=trace)
    with pytest.raises(ReplayMismatch, match=r"messages\[0\]") as info:
        list(replay(Agent(unused_model(), instructions="Be verbose."), trace))
    assert "Be brief." in str(info.value) and "Be verbose." in str(info.value)


def test_tools_can_run_again_per_tool() -> None:
    agent = parallel_tools()
    trace = Trace()
    agent.run("go", trace=trace)
    RUNS.clear()
    result = replay(Agent(unused_model(), tools=[add, mul]), trace, tools={"mul": "run"})
    list(result)
    assert RUNS == {"mul": 1}
    RUNS.clear()
    list(replay(Agent(unused_model(), tools=[add, mul]), trace, tools="run"))
    assert RUNS == {"add": 2, "mul": 1}


def test_a_trace_that_ends_early_is_reported() -> None:
    trace = Trace()
    parallel_tools().run("go", trace=trace)
    cut = Trace(trace.records[: len(trace.records) - 4])
    with pytest.raises(ReplayMismatch, match="the trace ended"):
        list(replay(Agent(unused_model(), tools=[add, mul]), cut))


def test_the_scenarios_do_what_they_say() -> None:
    """The recordings above hold what their names promise (a scenario that silently did less would pass)."""
    kinds: dict[str, list[str]] = {}
    for name, scenario in SCENARIOS.items():
        trace = Trace()
        scenario.run(scenario.make(), trace, "sync")
        kinds[name] = [r["kind"] for r in trace.records]
        if name == "parallel-streamed":
            assert len(trace.of_kind("tools")[0]["calls"]) == 3
            assert any(r.get("events") for r in trace.of_kind("response"))  # stream deltas kept
        if name == "parallel-not-streamed":
            assert not any(r.get("events") for r in trace.of_kind("response"))
    assert "compaction" in kinds["compaction"]
    assert trace_status(kinds["cancelled"]) and "approval" in kinds["approver"] and "paused" in kinds["paused"]
    assert kinds["failing-tool"].count("tool") == 2


def trace_status(kinds: list[str]) -> bool:
    return kinds[-1] == "end"
