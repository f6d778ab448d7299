"""Sub-agents: events, usage, approvals, pause/resume, cancel, concurrency, depth and failures flow up to the parent.

Real sync and async drivers with scripted models; a new process for the resume of a paused tree.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from podium import Agent, CancelToken, tool
from podium.agent.approval import Allow, ApprovalRequest, PausedRun
from podium.agent.budget import Budget
from podium.agent.events import (
    AgentEvent,
    ModelResponseFinished,
    RunFinished,
    SubAgentEvent,
    ToolCallFinished,
    ToolCallStarted,
)
from podium.agent.result import RunResult
from podium.exceptions import RunCancelled, UserError
from podium.messages import Message, ModelResponse, Text, ToolCall, load_messages
from podium.testing import FunctionModel, ScriptedModel
from podium.testing.models import AgentInfo, call
from podium.tools import RunContext
from podium.usage import Usage

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import subagent_app as app  # noqa: E402

sys.path.remove(str(HERE))

reply = app.reply


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def calc_agent(name: str = "calc") -> Agent:
    model = ScriptedModel(
        [
            ModelResponse((call("add", {"a": 1, "b": 2}),), usage=Usage(10, 5, requests=1), cost=0.01),
            ModelResponse((Text("three"),), usage=Usage(20, 2, requests=1), cost=0.02),
        ],
        model_name="calc",
    )
    return Agent(model, tools=[add], name=name)


def parent_of(*children: Agent | Any, script: list[ModelResponse] | None = None) -> Agent:
    model = ScriptedModel(
        script
        or [
            ModelResponse((call("calc", {"task": "1 + 2?"}),), usage=Usage(100, 7, requests=1), cost=0.1),
            ModelResponse((Text("it is three"),), usage=Usage(200, 3, requests=1), cost=0.2),
        ],
        model_name="parent",
    )
    return Agent(model, tools=list(children), name="main")


def collect(agent: Agent, prompt: str | None, driver: str, **kwargs: Any) -> tuple[list[AgentEvent], RunResult[Any]]:
    """All events and the result of a run with the sync or the async driver."""
    if driver == "sync":
        stream = agent.stream(prompt, **kwargs)
        return list(stream), stream.result

    async def main() -> tuple[list[AgentEvent], RunResult[Any]]:
        astream = agent.astream(prompt, **kwargs)
        return [e async for e in astream], astream.result

    return asyncio.run(main())


DRIVERS = ["sync", "async"]


# --------------------------------------------------------------------------- events and usage


@pytest.mark.parametrize("driver", DRIVERS)
def test_child_events_come_nested_between_the_call_start_and_finish(driver: str) -> None:
    events, result = collect(parent_of(calc_agent()), "what is 1 + 2?", driver)
    assert result.output == "it is three"
    kinds = [("child:" + e.event.kind) if isinstance(e, SubAgentEvent) else e.kind for e in events]
    start = next(i for i, e in enumerate(events) if isinstance(e, ToolCallStarted) and e.call.name == "calc")
    finish = next(i for i, e in enumerate(events) if isinstance(e, ToolCallFinished) and e.call.name == "calc")
    nested = [i for i, k in enumerate(kinds) if k.startswith("child:")]
    assert start < min(nested) and max(nested) < finish  # all the child's events, between the two
    assert kinds[nested[0]] == "child:run_started" and kinds[nested[-1]] == "child:run_finished"
    child = [e for e in events if isinstance(e, SubAgentEvent)]
    call_id = events[start].call.id  # type: ignore[union-attr]
    assert {(e.agent, e.depth, e.path, e.call_path) for e in child} == {("calc", 1, ("calc",), (call_id,))}
    assert [e.event.call.name for e in child if isinstance(e.event, ToolCallFinished)] == ["add"]
    assert events[finish].result.text == "three"  # type: ignore[union-attr]
    # what the child saw: only the task, not the parent's conversation
    child_model = result.messages  # the parent's history holds the child's output as the call's result
    assert child_model[2].tool_results[0].text == "three"


@pytest.mark.parametrize("driver", DRIVERS)
def test_usage_and_cost_sum_exactly_and_per_agent(driver: str) -> None:
    _, result = collect(parent_of(calc_agent()), "go", driver)
    own, child = Usage(300, 10, requests=2), Usage(30, 7, requests=2)
    assert result.usage == own + child
    assert result.usage_by_agent == {"main": own, "main/calc": child}
    assert result.cost == pytest.approx(0.33)
    assert result.cost_by_agent == pytest.approx({"main": 0.3, "main/calc": 0.03})
    # the stream's responses, nested or not, add up to the same totals
    responses = [
        e.event if isinstance(e, SubAgentEvent) else e for e in collect(parent_of(calc_agent()), "go", driver)[0]
    ]
    summed = sum((e.usage for e in responses if isinstance(e, ModelResponseFinished)), Usage())
    assert summed == result.usage


@pytest.mark.parametrize("driver", DRIVERS)
def test_grandchildren_are_wrapped_once_with_their_path(driver: str) -> None:
    middle_model = ScriptedModel(
        [
            ModelResponse((call("calc", {"task": "add"}),), usage=Usage(5, 1, requests=1)),
            ModelResponse((Text("calc says three"),), usage=Usage(6, 1, requests=1)),
        ],
        model_name="middle",
    )
    middle = Agent(middle_model, tools=[calc_agent()], name="middle")
    script = [
        ModelResponse((call("middle", {"task": "ask calc"}),), usage=Usage(1, 1, requests=1)),
        ModelResponse((Text("done"),), usage=Usage(1, 1, requests=1)),
    ]
    events, result = collect(parent_of(middle, script=script), "go", driver)
    deep = [e for e in events if isinstance(e, SubAgentEvent) and e.depth == 2]
    assert deep and all(e.path == ("middle", "calc") and e.agent == "calc" for e in deep)
    assert all(not isinstance(e.event, SubAgentEvent) for e in events if isinstance(e, SubAgentEvent))
    assert all(len(e.call_path) == 2 and e.call_id == e.call_path[-1] for e in deep)
    assert result.usage_by_agent == {
        "main": Usage(2, 2, requests=2),
        "main/middle": Usage(11, 2, requests=2),
        "main/middle/calc": Usage(30, 7, requests=2),
    }
    assert result.usage == Usage(43, 11, requests=6)


def test_agent_in_tools_needs_a_name_and_as_tool_sets_name_and_description() -> None:
    with pytest.raises(UserError, match="needs a name"):
        Agent(ScriptedModel([]), tools=[Agent(ScriptedModel([]))])
    researcher = Agent(ScriptedModel([]), name="researcher")
    tool_ = researcher.as_tool(name="research", description="Finds facts.")
    definition = tool_.definition
    assert (definition.name, definition.description) == ("research", "Finds facts.")
    assert list(definition.parameters["properties"]) == ["task"]
    assert Agent(ScriptedModel([]), tools=[researcher]).tools[0].name == "researcher"  # type: ignore[union-attr]
    with pytest.raises(UserError, match="inside an agent run"):
        tool_("do it")


@pytest.mark.parametrize("driver", DRIVERS)
def test_structured_child_output_reaches_the_parent_as_json(driver: str) -> None:
    class Answer(BaseModel):
        value: int

    child = Agent(ScriptedModel(['{"value": 3}']), output_type=Answer, output_mode="native", name="solver")
    script = [reply([call("solver", {"task": "1+2"})], Usage()), reply("3", Usage())]
    _, result = collect(parent_of(child, script=script), "go", driver)
    assert json.loads(result.messages[2].tool_results[0].text) == {"value": 3}


# --------------------------------------------------------------------------- concurrency and interleaving


@pytest.mark.parametrize("driver", DRIVERS)
def test_two_subagents_in_one_turn_run_at_the_same_time(driver: str) -> None:
    barrier = threading.Barrier(2, timeout=10)  # each child's tool waits for the other child's: both must run

    @tool
    def meet(who: str) -> str:
        """Wait for the other sub-agent."""
        barrier.wait()
        return f"{who} met"

    def child(name: str) -> Agent:
        model = ScriptedModel([[call("meet", {"who": name})], f"{name} done"], model_name=name)
        return Agent(model, tools=[meet], name=name)

    script = [
        reply([call("left", {"task": "meet"}), call("right", {"task": "meet"})], Usage()),
        reply("both met", Usage()),
    ]
    events, result = collect(parent_of(child("left"), child("right"), script=script), "go", driver)
    assert result.output == "both met"
    assert [r.text for r in result.messages[2].tool_results] == ["left done", "right done"]
    assert {e.agent for e in events if isinstance(e, SubAgentEvent)} == {"left", "right"}


def test_child_events_arrive_while_the_child_still_runs() -> None:
    """The child's tool waits until the consumer has seen the child's ToolCallStarted: real-time, not batched."""
    seen = threading.Event()

    @tool
    def slow() -> str:
        """Waits for the consumer."""
        return "saw it" if seen.wait(10) else "never seen"

    child = Agent(ScriptedModel([[call("slow")], "ok"]), tools=[slow], name="worker")
    parent = parent_of(child, script=[reply([call("worker", {"task": "x"})], Usage()), reply("fine", Usage())])
    stream = parent.stream("go")
    child_results = []
    for event in stream:
        if isinstance(event, SubAgentEvent) and isinstance(event.event, ToolCallStarted):
            seen.set()
        if isinstance(event, SubAgentEvent) and isinstance(event.event, ToolCallFinished):
            child_results.append(event.event.result.text)
    assert child_results == ["saw it"]
    assert stream.result.output == "fine"
    assert stream.result.messages[2].tool_results[0].text == "ok"


# --------------------------------------------------------------------------- approvals


def ask_child() -> Agent:
    """A parent (no policy of its own) whose sub-agent's policy asks before each shell call."""
    child = app.child_agent(resumed=False)
    script = [reply([call("cleaner", {"task": "clean"}, id="p1")], Usage()), reply("parent done", Usage())]
    return parent_of(child, script=script)


def test_child_ask_goes_to_the_parents_sync_approver_in_the_parents_thread() -> None:
    asked: list[tuple[str, str, bool]] = []

    def approver(request: ApprovalRequest) -> bool:
        asked.append(
            (request.agent, request.call.args["command"], threading.current_thread() is threading.main_thread())
        )
        return True

    events, result = collect(ask_child(), "go", "sync", approver=approver)
    assert result.output == "parent done"
    assert asked == [("cleaner", "rm -rf build", True)]
    assert result.messages[2].tool_results[0].text == "cleaned"
    decided = [e.event for e in events if isinstance(e, SubAgentEvent) and e.event.kind == "approval_decided"]
    assert [(d.decision.kind, d.source) for d in decided] == [("ask", "policy"), ("allow", "approver")]  # type: ignore[union-attr]


def test_child_ask_goes_to_the_parents_async_approver() -> None:
    async def approver(request: ApprovalRequest) -> Allow:
        await asyncio.sleep(0)
        assert request.agent == "cleaner"
        return Allow({"command": "rm -rf build/tmp"})

    log: list[str] = []
    for driver in DRIVERS:
        log.clear()
        child = app.child_agent(resumed=False)
        child.tools = [tool(name="shell")(lambda command: log.append(command) or f"ran: {command}")]
        script = [reply([call("cleaner", {"task": "clean"})], Usage()), reply("parent done", Usage())]
        _, result = collect(parent_of(child, script=script), "go", driver, approver=approver)
        assert result.output == "parent done"
        assert log == ["rm -rf build/tmp"]  # the approver's rewrite was run


def test_a_denied_child_call_is_told_to_the_child() -> None:
    events, result = collect(ask_child(), "go", "sync", approver=lambda r: False)
    assert result.output == "parent done"
    finished = [e.event for e in events if isinstance(e, SubAgentEvent) and isinstance(e.event, RunFinished)]
    denied = finished[0].result.messages[2].tool_results[0]
    assert (denied.is_error, denied.text) == (True, "Denied: denied by the user")


@pytest.mark.parametrize("driver", DRIVERS)
def test_without_approver_the_parent_pauses_with_the_childs_calls_and_resumes_them(driver: str) -> None:
    log: list[str] = []
    _, paused = collect(app.parent_agent(resumed=False), "tidy", driver)
    assert paused.status == "paused"
    assert paused.paused is not None
    pending = [(r.call_id, r.agent, r.call.args["command"]) for r in paused.pending_approvals]
    assert pending == [("c1", "", "ls"), ("c1_2", "cleaner", "rm -rf build")]  # the child's c1 got a new id
    assert list(paused.paused.children) == ["p2"]
    assert paused.usage == Usage(120, 12, requests=2)  # the parent's first turn and the child's, so far

    resumed = PausedRun.from_json(paused.paused.to_json())
    assert resumed == paused.paused
    parent = app.parent_agent(resumed=True)
    _, done = collect(parent, None, driver, resume=resumed, approvals={"c1": True, "c1_2": True})
    assert done.output == "all clean"
    assert [r.text for r in done.messages[2].tool_results] == ["ran: ls", "cleaned"]
    assert done.usage == Usage(450, 45, requests=4)
    assert done.usage_by_agent == {"main": Usage(400, 40, requests=2), "main/cleaner": Usage(50, 5, requests=2)}
    del log


@pytest.mark.parametrize("driver", DRIVERS)
def test_two_paused_siblings_resume_one_at_a_time(driver: str) -> None:
    def cleaner(name: str, first: bool) -> Agent:
        script = [reply(f"{name} cleaned", Usage(3, 3, requests=1))]
        if first:
            script.insert(0, reply([call("shell", {"command": f"rm {name}"}, id="c1")], Usage(2, 2, requests=1)))
        model = ScriptedModel(script, model_name=name)
        return Agent(model, tools=[app.shell], policy=app.ASK_SHELL, name=name)

    def parent(first: bool) -> Agent:
        script = [reply("both cleaned", Usage(1, 1, requests=1))]
        if first:
            calls = [call("a", {"task": "x"}, id="c1"), call("b", {"task": "y"}, id="c2")]
            script.insert(0, reply(calls, Usage(1, 1, requests=1)))
        return parent_of(cleaner("a", first), cleaner("b", first), script=script)

    _, paused = collect(parent(True), "go", driver)
    ids = {r.agent: r.call_id for r in paused.pending_approvals}
    assert [r.agent for r in paused.pending_approvals] == ["a", "b"]
    assert sorted(ids.values()) == ["c1_2", "c1_3"]  # three calls named c1 in the tree (a and b run at once)
    assert paused.paused is not None
    _, again = collect(parent(False), None, driver, resume=paused.paused, approvals={ids["a"]: True})
    assert again.status == "paused"
    assert again.paused is not None
    assert [(r.call_id, r.agent) for r in again.pending_approvals] == [(ids["b"], "b")]
    assert [r.text for r in again.paused.completed] == ["a cleaned"]
    restored = PausedRun.from_json(again.paused.to_json())
    only_b = parent(False)
    only_b.tools = [t for t in only_b.tools if getattr(t, "name", "") == "b"]  # a finished: it is not run again
    _, done = collect(only_b, None, driver, resume=restored, approvals={ids["b"]: True})
    assert done.output == "both cleaned"
    assert [r.text for r in done.messages[2].tool_results] == ["a cleaned", "b cleaned"]
    assert done.usage == Usage(12, 12, requests=6)
    assert done.usage_by_agent == {
        "main": Usage(2, 2, requests=2),
        "main/a": Usage(5, 5, requests=2),
        "main/b": Usage(5, 5, requests=2),
    }


def test_an_approval_answers_only_the_call_it_names() -> None:
    """Parent and child both made a call ``c1``; approving ``c1`` runs the parent's only, the child stays paused."""
    paused = app.parent_agent(resumed=False).run("tidy").paused
    assert paused is not None
    ran: list[str] = []
    parent = app.parent_agent(resumed=True)
    parent.tools[0] = tool(name="shell", metadata={"command_param": "command"})(
        lambda command: ran.append(command) or f"ran: {command}"
    )
    again = parent.run(resume=paused, approvals={"c1": True})
    assert ran == ["ls"]
    assert again.status == "paused"
    assert again.paused is not None
    assert [(r.call_id, r.agent) for r in again.pending_approvals] == [("c1_2", "cleaner")]
    assert [r.text for r in again.paused.completed] == ["ran: ls"]
    with pytest.raises(UserError, match="not pending"):
        app.parent_agent(resumed=True).run(resume=again.paused, approvals={"c1": True})
    done = app.parent_agent(resumed=True).run(resume=again.paused, approvals={"c1_2": False})
    assert done.output == "all clean"
    assert [r.text for r in done.messages[2].tool_results] == ["ran: ls", "cleaned"]


def test_a_tampered_paused_tree_is_refused_before_anything_runs() -> None:
    paused = app.parent_agent(resumed=False).run("tidy").paused
    assert paused is not None
    doc = json.loads(paused.to_json())
    doc["pending"][1]["call"]["args"] = {"command": "ls"}  # show a harmless call; the child waits on rm -rf
    with pytest.raises(UserError, match="inconsistent"):
        app.parent_agent(resumed=True).run(resume=PausedRun.from_json(json.dumps(doc)), approvals={"c1_2": True})
    doc = json.loads(paused.to_json())
    doc["children"]["c1"] = doc["children"].pop("p2")  # a child under the parent's own pending call
    with pytest.raises(UserError, match="inconsistent"):
        app.parent_agent(resumed=True).run(resume=PausedRun.from_json(json.dumps(doc)), approvals={"c1": True})


def test_paused_tree_resumes_in_a_new_process(tmp_path: Path) -> None:
    paused = app.parent_agent(resumed=False).run("tidy")
    assert paused.paused is not None
    state, approvals, out, log = (tmp_path / n for n in ("paused.json", "approvals.json", "out.json", "ran.log"))
    state.write_text(paused.paused.to_json())
    child_id = paused.pending_approvals[1].call_id
    approvals.write_text(json.dumps({"c1": False, child_id: True}))
    subprocess.run(
        [sys.executable, str(HERE / "subagent_app.py"), str(state), str(approvals), str(out)],
        env={**os.environ, "SUBAGENT_APP_LOG": str(log)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    summary = json.loads(out.read_text())
    assert summary["output"] == "all clean"
    assert log.read_text() == "rm -rf build\n"  # the child's approved call ran, in the new process
    results = load_messages(summary["messages"])[2].tool_results
    assert [r.text for r in results] == ["Denied: denied by the user", "cleaned"]
    assert summary["usage"] == Usage(450, 45, requests=4).to_dict()
    assert summary["usage_by_agent"]["main/cleaner"] == Usage(50, 5, requests=2).to_dict()


# --------------------------------------------------------------------------- cancel


class Blocker:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.abandoned = threading.Event()

        @tool
        def block(ctx: RunContext[None]) -> str:
            """Blocks until abandoned."""
            self.started.set()
            if ctx.abandoned.wait(10):
                self.abandoned.set()
            return "unblocked"

        self.tool = block


@pytest.mark.parametrize("driver", DRIVERS)
def test_cancelling_the_parent_stops_the_child(driver: str) -> None:
    blocker = Blocker()
    child_model = ScriptedModel([reply([call("block")], Usage(7, 7, requests=1)), "never"], model_name="child")
    child = Agent(child_model, tools=[blocker.tool], name="worker")
    script = [reply([call("worker", {"task": "block"})], Usage(1, 1, requests=1)), reply("never", Usage())]
    parent = parent_of(child, script=script)
    token = CancelToken()
    threading.Thread(target=lambda: blocker.started.wait(10) and token.cancel(), daemon=True).start()
    with pytest.raises(RunCancelled) as info:
        collect(parent, "go", driver, cancel=token)
    assert blocker.abandoned.wait(10)  # the child's tool was told, so the child run was cancelled
    messages = info.value.messages
    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    assert messages[2].tool_results[0].interrupted
    assert len(child_model.requests) == 1  # the child made no request after the cancel
    assert info.value.usage == Usage(8, 8, requests=2)  # the cancelled child's request counts


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_subagent_timeout_cancels_its_run(driver: str) -> None:
    blocker = Blocker()
    child_model = ScriptedModel([reply([call("block")], Usage(7, 7, requests=1)), "never"], model_name="child")
    worker = Agent(child_model, tools=[blocker.tool], name="worker").as_tool(timeout=1.5)
    script = [
        reply([call("worker", {"task": "block"}), call("add", {"a": 2, "b": 2})], Usage(1, 1, requests=1)),
        reply("gave up", Usage(1, 1, requests=1)),
    ]
    _, result = collect(parent_of(worker, add, script=script), "go", driver)
    assert result.output == "gave up"
    assert "timeout" in result.messages[2].tool_results[0].text
    assert result.messages[2].tool_results[1].text == "4"  # the plain tool of the same batch
    assert blocker.abandoned.wait(10)
    assert result.usage_by_agent["main/worker"] == Usage(7, 7, requests=1)  # what it used before the timeout
    assert result.usage == Usage(9, 9, requests=3)


# --------------------------------------------------------------------------- depth, failures, budgets


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_agent_calling_itself_stops_at_max_depth(driver: str) -> None:
    depth_seen: list[int] = []

    def answer(messages: list[Message], info: AgentInfo) -> Any:
        last = messages[-1]
        if last.role == "tool":
            return f"got: {last.tool_results[0].text[:200]}"
        depth_seen.append(len(depth_seen))
        return [call("recurse", {"task": "again"})]

    agent = Agent(FunctionModel(answer), name="recurse")
    agent.tools = [agent.as_tool(max_depth=2)]
    _, result = collect(agent, "go", driver)
    assert len(depth_seen) == 3  # depths 0, 1 and 2; the call at depth 2 is refused
    assert result.output.startswith("got: got: got: Not run: the sub-agent 'recurse' would run at depth 3")


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_failing_child_is_an_error_result_and_the_parent_goes_on(driver: str) -> None:
    looping = ScriptedModel([reply([call("add", {"a": 1, "b": 1})], Usage(4, 4, requests=1))] * 3)
    child = Agent(looping, tools=[add], name="looper", max_steps=2)
    script = [reply([call("looper", {"task": "loop"})], Usage(1, 1, requests=1)), reply("ok", Usage(1, 1, requests=1))]
    _, result = collect(parent_of(child, script=script), "go", driver)
    assert result.output == "ok"
    error = result.messages[2].tool_results[0]
    assert error.is_error
    assert error.text.startswith("The sub-agent 'looper' did not finish (MaxStepsExceeded)")
    assert result.usage == Usage(10, 10, requests=4)  # the failed child's two requests count


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_child_budget_and_the_parents_remaining_budget_apply(driver: str) -> None:
    def spender(name: str) -> Agent:
        model = ScriptedModel([reply([call("add", {"a": 1, "b": 1})], Usage(50, 50, requests=1))] * 5, model_name=name)
        return Agent(model, tools=[add], name=name)

    own = spender("own").as_tool(budget=Budget(max_requests=2))
    script = [reply([call("own", {"task": "x"})], Usage(1, 1, requests=1)), reply("ok", Usage(1, 1, requests=1))]
    _, result = collect(parent_of(own, script=script), "go", driver)
    assert "BudgetExceeded" in result.messages[2].tool_results[0].text
    assert "max_requests=2" in result.messages[2].tool_results[0].text

    parent = parent_of(spender("greedy"), script=[reply([call("greedy", {"task": "x"})], Usage(1, 1, requests=1))])
    with pytest.raises(Exception) as info:  # the parent's budget counts its child's tokens
        collect(parent, "go", driver, budget=Budget(max_output_tokens=120))
    assert type(info.value).__name__ == "BudgetExceeded"
    text = info.value.messages[2].tool_results[0].text  # type: ignore[attr-defined]
    assert "max_output_tokens=119" in text  # the child got what the parent had left


def test_no_request_is_sent_by_a_child_whose_task_is_missing() -> None:
    child_model = ScriptedModel(["never"])
    child = Agent(child_model, name="helper")
    script = [reply([ToolCall("h1", "helper", {"what": 3})], Usage()), reply("fine", Usage())]
    result = parent_of(child, script=script).run("go")
    assert "task" in result.messages[2].tool_results[0].text
    assert child_model.requests == []
    # one string argument under another name is taken as the task
    child_model2 = ScriptedModel(["did it"])
    script = [reply([ToolCall("h1", "helper", {"prompt": "do it"})], Usage()), reply("fine", Usage())]
    result = parent_of(Agent(child_model2, name="helper"), script=script).run("go")
    assert result.messages[2].tool_results[0].text == "did it"
    assert child_model2.requests[0][0][-1].text == "do it"


def test_prefixed_toolsets_keep_a_subagent_a_subagent() -> None:
    from podium.tools.toolset import ToolList

    toolset = ToolList([calc_agent().as_tool()]).prefixed("team")
    script = [reply([call("team_calc", {"task": "1+2"})], Usage()), reply("three", Usage())]
    result = parent_of(toolset, script=script).run("go")
    assert result.messages[2].tool_results[0].text == "three"


# --------------------------------------------------------------------------- docs, store, terminal


def test_the_docs_example_runs() -> None:
    import re

    text = (HERE.parents[1] / "docs" / "subagents.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert blocks
    for block in blocks:
        namespace: dict[str, Any] = {}
        exec(compile(block, "docs/subagents.md", "exec"), namespace)
        assert namespace["result"].output == "Oslo has about 709,000 people."


def test_a_recorded_run_costs_what_its_subagents_cost_too(tmp_path: Path) -> None:
    from podium.agent.recording import RunRecorder
    from podium.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "db.sqlite")
    try:
        conversation = store.create(model="test")
        with RunRecorder(store, conversation.id) as recorder:
            stream = parent_of(calc_agent()).stream("go")
            for event in stream:
                recorder.record(event)
        assert recorder.run is not None
        run = store.get_run(recorder.run.id)
        assert run.cost == pytest.approx(0.33)
        assert run.usage == Usage(330, 17, requests=4)
        assert [m.role for m in store.messages(conversation.id)] == ["user", "assistant", "tool", "assistant"]
    finally:
        store.close()


def test_the_terminal_shows_nested_calls_and_names_the_subagent_when_asking() -> None:
    import io

    from rich.console import Console

    from podium.cli.render import EventRenderer

    out = io.StringIO()
    renderer = EventRenderer(Console(file=out, width=200, color_system=None), markdown=False)
    events, _ = collect(parent_of(calc_agent()), "go", "sync")
    for event in events:
        renderer(event)
    text = out.getvalue()
    assert "→ calc(" in text
    assert "  [calc] → add(" in text and "  [calc] ← add: 3" in text
    request = ApprovalRequest(ToolCall("x", "shell", {"command": "rm -rf build"}), "asks", agent="cleaner")
    assert renderer.approval_prompt(request).startswith("[sub-agent cleaner] Allow shell(")


def test_podium_chat_asks_about_a_childs_call_at_its_prompt_and_resumes_a_stored_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chat's approver (a terminal prompt) answers a sub-agent's ask; a paused tree is answered on --continue."""
    import io

    from rich.console import Console

    from podium.cli import chat as chat_cli
    from podium.cli.config import ModelChoice
    from podium.cli.session import Session
    from podium.store.sqlite import SQLiteStore

    def session_with(agent: Agent, store: SQLiteStore, conversation_id: str) -> Session:
        model = agent.model
        assert not isinstance(model, str) and model is not None
        return Session(store, ModelChoice("test:parent", "test"), model, agent, conversation_id, tmp_path, True)

    def chat(session: Session, lines: list[str]) -> tuple[str, list[str]]:
        prompts: list[str] = []

        def fake_input(prompt: str = "") -> str:
            prompts.append(prompt)
            if not lines:
                raise EOFError
            return lines.pop(0)

        monkeypatch.setattr("builtins.input", fake_input)
        out = io.StringIO()
        chat_cli._chat(Console(file=out, width=200, color_system=None), session, show_history=False, yes=False)
        return out.getvalue(), prompts

    store = SQLiteStore(tmp_path / "chat.sqlite")
    try:
        conversation = store.create(model="test:parent")
        shown, prompts = chat(session_with(ask_child(), store, conversation.id), ["clean up", "y"])
        asked = [p for p in prompts if "Allow" in p]
        assert len(asked) == 1 and asked[0].startswith('[sub-agent cleaner] Allow shell({"command": "rm -rf build"})')
        assert "parent done" in shown
        assert store.paused_run(conversation.id) is None

        # no one to ask (a pause stored by a run without an approver): `podium chat --continue` asks at its prompt
        second = store.create(model="test:parent")
        from podium.agent.recording import record_result

        paused = app.parent_agent(resumed=False).run("tidy")
        record_result(store, second.id, paused, model="test:parent")
        assert store.paused_run(second.id) is not None
        shown, prompts = chat(session_with(app.parent_agent(resumed=True), store, second.id), ["y", "y"])
        asked = [p for p in prompts if "Allow" in p]
        assert len(asked) == 2 and asked[1].startswith("[sub-agent cleaner] Allow shell(")
        assert "all clean" in shown
        assert store.paused_run(second.id) is None
        assert [m.text for m in store.messages(second.id)][-1] == "all clean"
    finally:
        store.close()


def test_a_consumer_that_stops_reading_stops_the_children() -> None:
    import gc

    blocker = Blocker()
    child = Agent(ScriptedModel([[call("block")], "never"]), tools=[blocker.tool], name="worker")
    parent = parent_of(child, script=[reply([call("worker", {"task": "block"})], Usage()), reply("never", Usage())])
    stream = parent.stream("go")
    for event in stream:
        if isinstance(event, SubAgentEvent) and isinstance(event.event, ToolCallStarted):
            break
    assert blocker.started.wait(10)
    del stream, event
    gc.collect()  # the run's generator is closed: its tools, the child run among them, are abandoned
    assert blocker.abandoned.wait(10)


@pytest.mark.parametrize("driver", DRIVERS)
def test_child_events_come_while_the_parent_waits_for_another_call(driver: str) -> None:
    """Call 0 (a plain tool) only returns once the consumer has seen the child's (call 1) whole run."""
    seen = threading.Event()

    @tool
    def waiter() -> str:
        """Waits until the consumer saw the sub-agent finish."""
        return "after the child" if seen.wait(10) else "timed out"

    child = Agent(ScriptedModel(["child done"]), name="worker")
    script = [reply([call("waiter"), call("worker", {"task": "x"})], Usage()), reply("fine", Usage())]
    parent = parent_of(child, waiter, script=script)
    order: list[str] = []

    def consume(event: AgentEvent) -> None:
        if isinstance(event, SubAgentEvent) and isinstance(event.event, RunFinished):
            seen.set()
            order.append("child finished")
        elif isinstance(event, ToolCallFinished):
            order.append(f"{event.call.name} finished")

    if driver == "sync":
        stream = parent.stream("go")
        for event in stream:
            consume(event)
        result = stream.result
    else:

        async def main() -> RunResult[Any]:
            astream = parent.astream("go")
            async for event in astream:
                consume(event)
            return astream.result

        result = asyncio.run(main())
    assert order == ["child finished", "waiter finished", "worker finished"]
    assert [r.text for r in result.messages[2].tool_results] == ["after the child", "child done"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_interrupting_message_to_the_parent_stops_its_child_and_the_parent_goes_on(driver: str) -> None:
    blocker = Blocker()
    child_model = ScriptedModel([reply([call("block")], Usage(7, 7, requests=1)), "never"], model_name="child")
    child = Agent(child_model, tools=[blocker.tool], name="worker")
    calls = [call("worker", {"task": "block"})]
    parent = parent_of(child, script=[reply(calls, Usage()), reply("changed course", Usage())])
    parent_model = parent.model
    assert isinstance(parent_model, ScriptedModel)
    if driver == "sync":
        stream = parent.stream("go")
        for event in stream:
            if isinstance(event, SubAgentEvent) and isinstance(event.event, ToolCallStarted):
                assert blocker.started.wait(10)  # the child's tool runs
                stream.send("stop, do Y instead", interrupt=True)
        result = stream.result
    else:

        async def main() -> RunResult[Any]:
            astream = parent.astream("go")
            async for event in astream:
                if isinstance(event, SubAgentEvent) and isinstance(event.event, ToolCallStarted):
                    assert await asyncio.to_thread(blocker.started.wait, 10)  # the child's tool runs
                    await astream.send("stop, do Y instead", interrupt=True)
            return astream.result

        result = asyncio.run(main())
    assert result.output == "changed course"
    assert blocker.abandoned.wait(10)  # the child run was stopped
    sent = parent_model.requests[1][0]
    assert [m.role for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[2].tool_results[0].interrupted
    assert result.usage_by_agent["main/worker"] == Usage(7, 7, requests=1)  # the stopped child's request counts
    assert sent[3].text == "stop, do Y instead"
    assert len(child_model.requests) == 1
