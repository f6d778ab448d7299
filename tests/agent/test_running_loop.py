"""The sync API called where an event loop already runs (Jupyter, an async app): async tools, async hooks and
async approvers run on a private loop; a failure of Podium's own machinery raises, it never reaches the model."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from podium import Agent, tool
from podium.agent.approval import Allow, ApprovalRequest, Ask
from podium.agent.hooks import AgentHooks
from podium.agent.rules import ApprovalPolicy, Rule
from podium.messages import ToolCall, ToolResult
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.tools.context import RunContext
from podium.tools.executor import ToolInvocation, run_sync


@tool
async def double(n: int) -> str:
    """Double n (async)."""
    await asyncio.sleep(0)
    return f"doubled {2 * n}"


@tool
async def where() -> str:
    """Say which thread and loop the tool runs on."""
    return f"{threading.get_ident()} {id(asyncio.get_running_loop())}"


def in_running_loop(fn: Any) -> Any:
    """Call ``fn()`` synchronously from inside a running event loop (as a Jupyter cell does)."""

    async def main() -> Any:
        return fn()

    return asyncio.run(main())


@pytest.mark.parametrize("n_calls", [1, 3])
def test_sync_run_under_a_running_loop_runs_async_tools(n_calls: int) -> None:
    model = ScriptedModel([[call("double", {"n": i}) for i in range(n_calls)], "done"])
    result = in_running_loop(lambda: Agent(model, tools=[double]).run("go"))
    assert result.output == "done"
    results = result.messages[2].tool_results
    assert [r.text for r in results] == [f"doubled {2 * i}" for i in range(n_calls)]
    assert not any(r.is_error for r in results)


def test_stream_under_a_running_loop_runs_async_tools() -> None:
    model = ScriptedModel([[call("double", {"n": 4})], "done"])
    events = in_running_loop(lambda: list(Agent(model, tools=[double]).stream("go")))
    assert events[-1].result.messages[2].tool_results[0].text == "doubled 8"


def test_the_async_tool_runs_on_a_private_loop_off_the_callers_loop() -> None:
    outer: dict[str, int] = {}

    def body() -> Any:
        outer["thread"] = threading.get_ident()
        outer["loop"] = id(asyncio.get_running_loop())
        return Agent(ScriptedModel([[call("where")], "done"]), tools=[where]).run("go")

    result = in_running_loop(body)
    thread, loop = (int(x) for x in result.messages[2].tool_results[0].text.split())
    assert thread != outer["thread"] and loop != outer["loop"]


def test_run_sync_under_a_running_loop() -> None:
    invocation_call = ToolCall("c1", "double", {"n": 5})
    ctx = RunContext(deps=None, run_id="r", step=1).for_call(invocation_call, 0)
    outcome = in_running_loop(lambda: run_sync(ToolInvocation(double, invocation_call, ctx)))
    assert outcome.kind == "ok" and outcome.result.text == "doubled 10"


class AsyncHooks(AgentHooks):
    """Hooks written as coroutines (they return awaitables)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def on_run_start(self, ctx: RunContext[Any]) -> None:
        await asyncio.sleep(0)
        self.seen.append("start")

    async def before_tool_call(self, ctx: RunContext[Any], call: ToolCall) -> ToolCall:
        await asyncio.sleep(0)
        self.seen.append("before")
        return ToolCall(call.id, call.name, {"n": 21})

    async def after_tool_call(self, ctx: RunContext[Any], call: ToolCall, result: ToolResult) -> ToolResult:
        await asyncio.sleep(0)
        self.seen.append("after")
        return ToolResult(result.call_id, result.name, result.content + result.content)

    async def on_run_end(self, ctx: RunContext[Any], result: Any) -> None:
        self.seen.append("end")


@pytest.mark.parametrize("driver", ["sync", "sync-in-loop", "async"])
def test_coroutine_hooks_are_awaited(driver: str) -> None:
    hooks = AsyncHooks()
    agent = Agent(ScriptedModel([[call("double", {"n": 1})], "done"]), tools=[double], hooks=[hooks])
    if driver == "sync":
        result = agent.run("go")
    elif driver == "sync-in-loop":
        result = in_running_loop(lambda: agent.run("go"))
    else:
        result = asyncio.run(agent.arun("go"))
    assert hooks.seen == ["start", "before", "after", "end"]
    assert result.messages[2].tool_results[0].text == "doubled 42doubled 42"


def test_async_approver_in_the_sync_driver_under_a_running_loop() -> None:
    asked: list[str] = []

    async def approver(request: ApprovalRequest) -> Allow:
        await asyncio.sleep(0)
        asked.append(request.call.name)
        return Allow()

    policy = ApprovalPolicy([Rule("ask", tool="double")])
    agent = Agent(ScriptedModel([[call("double", {"n": 2})], "done"]), tools=[double], policy=policy)
    result = in_running_loop(lambda: agent.run("go", approver=approver))
    assert asked == ["double"]
    assert result.messages[2].tool_results[0].text == "doubled 4"
    paused = Agent(ScriptedModel([[call("double", {"n": 2})]]), tools=[double], policy=policy).run(
        "go", approver=lambda r: Ask()
    )
    assert paused.status == "paused"


def test_a_bug_in_the_tool_machinery_raises_instead_of_reaching_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """When Podium cannot run the coroutine at all, the caller gets the error; the model is not asked again."""

    def broken_new_event_loop() -> Any:
        raise RuntimeError("no event loop for you")

    monkeypatch.setattr(asyncio.events, "new_event_loop", broken_new_event_loop)
    model = ScriptedModel([[call("double", {"n": 1})], "never"])
    with pytest.raises(RuntimeError, match="no event loop for you"):
        Agent(model, tools=[double]).run("go")
    assert len(model.requests) == 1
