"""Recording agent runs from their events: each message committed as it becomes final; every ending."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, CancelToken, tool
from podium.agent.approval import ApprovalPolicy, Rule
from podium.agent.events import AgentEvent, RunFinished
from podium.agent.recording import RunRecorder, record_result, record_stream
from podium.exceptions import MaxStepsExceeded, ProviderConnectionError, RunCancelled, UserError
from podium.messages import Message, ModelResponse, Text
from podium.store import SQLiteStore
from podium.testing import FunctionModel, ScriptedModel
from podium.testing.models import AgentInfo, call
from podium.usage import Usage

SEEN_DURING_TOOL: list[list[str]] = []


def run_recorded(store: SQLiteStore, cid: str, agent: Agent[Any], prompt: str | None, **kw: Any) -> list[AgentEvent]:
    events: list[AgentEvent] = []
    with RunRecorder(store, cid, model="test:scripted") as recorder:
        for event in agent.stream(prompt, message_history=store.messages(cid), **kw):
            recorder.record(event)
            events.append(event)
    return events


def priced(parts: Any, cost: float | None) -> ModelResponse:
    return ModelResponse(tuple(parts), usage=Usage(10, 5, requests=1), cost=cost)


def test_a_run_is_recorded_message_by_message(store: SQLiteStore) -> None:
    conv = store.create()

    @tool
    def look(path: str) -> str:
        """Look at a file."""
        # runs while the run is in progress: what is committed so far, seen from another connection
        with SQLiteStore(store.path) as other:
            SEEN_DURING_TOOL.append([m.message.role for m in other.stored_messages(conv.id)])
            assert other.runs(conv.id)[-1].status == "running"
        return f"{path}: ok"

    model = ScriptedModel(
        [priced([call("look", {"path": "a"}), call("look", {"path": "b"})], 0.01), priced([Text("done")], 0.02)]
    )
    SEEN_DURING_TOOL.clear()
    events = run_recorded(store, conv.id, Agent(model, tools=[look]), "check a and b")
    assert SEEN_DURING_TOOL == [["user", "assistant"], ["user", "assistant"]]
    result = next(e for e in events if isinstance(e, RunFinished)).result
    assert store.messages(conv.id) == result.messages
    run = store.runs(conv.id)[0]
    assert (run.id, run.status, run.model, run.error) == (result.run_id, "completed", "test:scripted", None)
    assert run.usage == result.usage == Usage(20, 10, requests=2)
    assert run.cost == pytest.approx(0.03)
    assert run.finished is not None and run.finished >= run.started
    assert all(s.run_id == run.id for s in store.stored_messages(conv.id))
    # the next run continues the stored history
    run_recorded(store, conv.id, Agent(ScriptedModel(["again"])), "more")
    assert [m.text for m in store.messages(conv.id)][-2:] == ["more", "again"]
    assert len(store.runs(conv.id)) == 2
    assert store.usage(conv.id).responses == 3


def test_denied_and_unknown_calls_and_output_retries(store: SQLiteStore) -> None:
    @tool
    def rm(path: str) -> str:
        """Remove a file."""
        raise AssertionError("never runs")

    conv = store.create()
    policy = ApprovalPolicy([Rule("deny", tool="rm", reason="not here")])
    model = ScriptedModel(
        [
            [call("rm", {"path": "/"}), call("nope")],
            "forty-two",  # not an int: the loop asks again with a user message
            [call("final_result", {"response": 42})],
        ]
    )
    agent: Agent[int] = Agent(model, tools=[rm], policy=policy, output_type=int)
    events = run_recorded(store, conv.id, agent, "answer")
    result = next(e for e in events if isinstance(e, RunFinished)).result
    assert result.output == 42
    stored = store.messages(conv.id)
    assert stored == result.messages
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant", "user", "assistant", "tool"]
    assert stored[2].tool_results[0].text == "Denied: not here"


def test_cancelled_during_a_tool_call(store: SQLiteStore) -> None:
    @tool
    def slow(n: int) -> str:
        """Sleep."""
        time.sleep(2)
        return "late"

    conv = store.create()
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    model = ScriptedModel([[call("slow", {"n": 1}), call("slow", {"n": 2})], "never"])
    with pytest.raises(RunCancelled) as info:
        run_recorded(store, conv.id, Agent(model, tools=[slow]), "go", cancel=token)
    stored = store.messages(conv.id)
    assert stored == info.value.messages
    assert [r.interrupted for r in stored[2].tool_results] == [True, True]
    run = store.runs(conv.id)[0]
    assert run.status == "cancelled" and run.error is not None and "cancelled" in run.error


def test_provider_error_fails_the_run(store: SQLiteStore) -> None:
    def broken(messages: list[Message], info: AgentInfo) -> str:
        raise ProviderConnectionError("no route", provider="test")

    conv = store.create()
    with pytest.raises(ProviderConnectionError):
        run_recorded(store, conv.id, Agent(FunctionModel(broken)), "hello")
    assert store.messages(conv.id) == [Message.user("hello")]
    run = store.runs(conv.id)[0]
    assert run.status == "failed" and run.error == "ProviderConnectionError: no route"


def test_max_steps_records_the_last_tool_message(store: SQLiteStore) -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    conv = store.create()
    with pytest.raises(MaxStepsExceeded) as info:
        run_recorded(store, conv.id, Agent(ScriptedModel([[call("ping")]]), tools=[ping], max_steps=1), "go")
    assert store.messages(conv.id) == info.value.messages
    assert store.messages(conv.id)[-1].tool_results[0].text == "pong"
    assert store.runs(conv.id)[0].status == "failed"


def test_pause_then_resume_after_a_restart(db_path: Path) -> None:
    @tool
    def deploy(env: str) -> str:
        """Deploy."""
        return f"deployed {env}"

    policy = ApprovalPolicy([Rule("ask", tool="deploy")])
    with SQLiteStore(db_path) as store:
        conv = store.create()
        model = ScriptedModel([priced([call("deploy", {"env": "prod"}, id="d1")], 0.5)])
        events = run_recorded(store, conv.id, Agent(model, tools=[deploy], policy=policy), "ship it")
        assert not any(isinstance(e, RunFinished) for e in events)
        run = store.runs(conv.id)[0]
        assert run.status == "paused" and run.cost == pytest.approx(0.5)
        paused = store.paused_run(conv.id)
        assert paused is not None and [p.call_id for p in paused.pending] == ["d1"]
        assert run.paused_run() == paused
        # undo hides the paused exchange, redo brings it back
        store.undo(conv.id)
        assert store.paused_run(conv.id) is None
        store.redo(conv.id)
        assert store.paused_run(conv.id) == paused

    with SQLiteStore(db_path) as store:  # a new process would do the same
        paused = store.paused_run(conv.id)
        assert paused is not None
        agent = Agent(ScriptedModel([priced([Text("shipped")], 0.25)]), tools=[deploy], policy=policy)
        with RunRecorder(store, conv.id) as recorder:
            for event in agent.stream(resume=paused, approvals={"d1": True}):
                recorder.record(event)
        messages = store.messages(conv.id)
        assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
        assert messages[2].tool_results[0].text == "deployed prod"
        runs = store.runs(conv.id)
        assert len(runs) == 1 and runs[0].status == "completed" and runs[0].paused is None
        assert runs[0].cost == pytest.approx(0.75)
        assert store.paused_run(conv.id) is None


def test_a_new_prompt_instead_of_answering_a_pause(store: SQLiteStore) -> None:
    @tool
    def deploy(env: str) -> str:
        """Deploy."""
        return "deployed"

    policy = ApprovalPolicy([Rule("ask", tool="deploy")])
    conv = store.create()
    model = ScriptedModel([[call("deploy", {"env": "prod"}, id="d1")]])
    run_recorded(store, conv.id, Agent(model, tools=[deploy], policy=policy), "ship it")
    history = store.messages(conv.id)  # valid to continue: the pending call reads as interrupted
    assert history[-1].tool_results[0].interrupted
    run_recorded(store, conv.id, Agent(ScriptedModel(["ok, not shipping"])), "never mind")
    roles = [s.message.role for s in store.stored_messages(conv.id)]
    assert roles == ["user", "assistant", "tool", "user", "assistant"]
    first = store.runs(conv.id)[0]
    assert first.status == "cancelled" and first.error is not None and "abandoned" in first.error
    assert store.paused_run(conv.id) is None


def test_record_stream_and_an_early_stop(store: SQLiteStore) -> None:
    conv = store.create()
    agent = Agent(ScriptedModel(["a long answer"]))
    out = list(record_stream(store, conv.id, agent.stream("hi"), model="m"))
    assert isinstance(out[-1], RunFinished)
    assert [m.text for m in store.messages(conv.id)] == ["hi", "a long answer"]

    stream = record_stream(store, conv.id, Agent(ScriptedModel(["x" * 40])).stream("again"), model="m")
    for event in stream:
        if type(event).__name__ == "TextDelta":
            break
    stream.close()  # type: ignore[attr-defined]
    last = store.runs(conv.id)[-1]
    assert last.status == "cancelled" and last.error == "interrupted: GeneratorExit"
    assert [m.text for m in store.messages(conv.id)] == ["hi", "a long answer", "again"]


def test_record_result_of_a_plain_run(store: SQLiteStore) -> None:
    conv = store.create()
    result = Agent(ScriptedModel([priced([Text("four")], 0.1)])).run("2+2?")
    run = record_result(store, conv.id, result, model="m")
    assert run.status == "completed" and run.cost == pytest.approx(0.1) and run.usage == result.usage
    assert store.messages(conv.id) == result.messages


def test_async_runs_record_too(store: SQLiteStore) -> None:
    conv = store.create()

    async def main() -> None:
        with RunRecorder(store, conv.id) as recorder:
            async for event in Agent(ScriptedModel(["async hi"])).astream("hello"):
                recorder.record(event)

    asyncio.run(main())
    assert [m.text for m in store.messages(conv.id)] == ["hello", "async hi"]
    assert store.runs(conv.id)[0].status == "completed"


def test_inconsistent_events_are_refused_or_logged(store: SQLiteStore, caplog: pytest.LogCaptureFixture) -> None:
    from podium.agent.events import ModelRequestStarted, RunStarted
    from podium.agent.result import RunResult

    conv = store.create()
    recorder = RunRecorder(store, conv.id)
    with pytest.raises(UserError, match="did not see start"):
        recorder.record(ModelRequestStarted(1, (Message.user("x"),)))
    recorder.record(RunStarted("r1"))
    with pytest.raises(UserError, match="records one run"):
        recorder.record(RunStarted("r2"))
    recorder.record(ModelRequestStarted(1, (Message.user("x"),)))
    other = RunResult(
        output="?",
        messages=[],
        new_messages=[Message.user("y"), Message.assistant("z")],
        usage=Usage(),
        cost=None,
        run_id="r1",
        steps=1,
    )
    with caplog.at_level("ERROR", logger="podium.store"):
        recorder.record(RunFinished(other))
    assert "not a prefix" in caplog.text
    assert store.messages(conv.id) == [Message.user("x")]  # nothing inconsistent was appended
    assert store.get_run("r1").status == "completed"
