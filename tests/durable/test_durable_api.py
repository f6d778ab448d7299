"""The durable-run API in one process: paused runs, idempotency keys, and what cannot be resumed."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium import Agent, tool
from podium.agent.approval import ApprovalPolicy, Rule
from podium.agent.durable import start
from podium.exceptions import UserError
from podium.store.sqlite import SQLiteStore
from podium.testing import ScriptedModel
from podium.testing.models import by_history, call

RAN: list[int] = []


@tool
def deploy(n: int) -> str:
    """Deploy version n."""
    RAN.append(n)
    return f"deployed {n}"


def agent(model: object | None = None) -> Agent:
    script = by_history([[call("deploy", {"n": 1})], "Deployed."])
    policy = ApprovalPolicy([Rule("ask", tool="deploy")])
    return Agent(model or script, tools=[deploy], policy=policy)  # type: ignore[arg-type]


def test_a_paused_durable_run_resumes_with_its_approvals(tmp_path: Path) -> None:
    RAN.clear()
    with SQLiteStore(tmp_path / "c.db") as store:
        paused = start(agent(), "ship it", store=store)
        assert paused.status == "paused" and RAN == []
        pending = paused.pending_approvals[0].call_id
        done = agent().resume(paused.run_id, store=store, approvals={pending: True})
        assert done.output == "Deployed." and RAN == [1]
        assert [t.status for t in store.traces.list(run_id=paused.run_id)] == ["completed", "paused"]
        stored = store.messages(store.get_run(paused.run_id).conversation_id)
        assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
        with pytest.raises(UserError, match="nothing to resume"):
            agent().resume(paused.run_id, store=store)


def test_an_idempotency_key_starts_a_run_once(tmp_path: Path) -> None:
    RAN.clear()
    model = ScriptedModel(["first and only"])
    with SQLiteStore(tmp_path / "c.db") as store:
        first = start(Agent(model), "hello", store=store, key="job-1")
        second = start(Agent(model), "hello", store=store, key="job-1")
        assert first.output == second.output == "first and only"
        assert second.run_id == first.run_id and len(model.requests) == 1
        other = start(Agent(ScriptedModel(["another"])), "hello", store=store, key="job-2")
        assert other.output == "another"


def test_unknown_runs_are_clear_errors(tmp_path: Path) -> None:
    from podium.store.base import NotFoundError

    with SQLiteStore(tmp_path / "c.db") as store, pytest.raises(NotFoundError, match="no trace or run"):
        agent().resume("nope", store=store)


def test_a_run_whose_conversation_went_on_is_not_resumed_in_place(tmp_path: Path) -> None:
    from podium.agent.recording import RunRecorder
    from podium.trace import Trace

    with SQLiteStore(tmp_path / "c.db") as store:
        conv = store.create().id
        trace_id = store.traces.start("dead-run", conv)
        trace = Trace(sinks=[store.traces.sink(conv, trace_id=trace_id)], durable=True)
        stream = Agent(ScriptedModel(["never seen"])).stream("first", trace=trace, _run_id="dead-run")
        for event in stream:  # the run's events, but its end never reaches the trace: as if killed
            if event.kind == "run_finished":
                break
        with RunRecorder(store, conv) as recorder:  # another run goes on in the conversation
            for event in Agent(ScriptedModel(["later"])).stream("second", message_history=store.messages(conv)):
                recorder.record(event)
        with pytest.raises(UserError, match="went on after run dead-run"):
            agent().resume("dead-run", store=store)
