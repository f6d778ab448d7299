"""Budgets per run: each limit ends the run with BudgetExceeded naming it, and the history stays valid."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from podium import Agent, Budget, BudgetExceeded, tool
from podium.exceptions import UserError
from podium.messages import Message, ModelResponse, ToolCall
from podium.testing import ScriptedModel, call
from podium.usage import Usage


@tool
def look(n: int) -> str:
    """Look something up."""
    return f"result {n}"


def _tool_loop(turns: int) -> ScriptedModel:
    return ScriptedModel([*([call("look", {"n": i})] for i in range(turns)), "done"])


def _valid(history: list[Message]) -> None:
    """Every tool call has exactly one result, after it."""
    calls = [c.id for m in history for c in m.tool_calls]
    results = [r.call_id for m in history for r in m.tool_results]
    assert sorted(calls) == sorted(results)
    assert len(set(calls)) == len(calls)


def test_max_requests_ends_the_run_before_the_next_request() -> None:
    model = _tool_loop(5)
    with pytest.raises(BudgetExceeded) as info:
        Agent(model, tools=[look], budget=Budget(max_requests=2)).run("go")
    assert (info.value.budget, info.value.limit, info.value.reached) == ("max_requests", 2, 2)
    assert len(model.requests) == 2
    _valid(info.value.messages)
    assert "max_requests=2" in str(info.value)


def test_max_tool_calls_runs_none_over_the_budget_and_answers_every_call() -> None:
    runs: list[int] = []

    @tool
    def counted(n: int) -> str:
        """Counted."""
        runs.append(n)
        return "ok"

    script = [[call("counted", {"n": 1})], [call("counted", {"n": 2}), call("counted", {"n": 3})], "done"]
    with pytest.raises(BudgetExceeded) as info:
        Agent(ScriptedModel(script), tools=[counted], budget=Budget(max_tool_calls=2)).run("go")
    assert (info.value.budget, info.value.reached) == ("max_tool_calls", 3)
    assert runs == [1]  # the second turn's two calls would pass the budget: neither started
    _valid(info.value.messages)
    last = info.value.messages[-1]
    assert last.role == "tool" and all("budget" in r.text for r in last.tool_results)


def test_token_and_cost_budgets_use_what_the_provider_reported() -> None:
    def heavy(text: str, cost: float) -> ModelResponse:
        return ModelResponse(
            [ToolCall("c" + text, "look", {"n": 1})],
            usage=Usage(input_tokens=600, output_tokens=50, requests=1),
            cost=cost,
        )

    for budget, name in ((Budget(max_input_tokens=1000), "max_input_tokens"), (Budget(max_cost=0.015), "max_cost")):
        model = ScriptedModel([heavy("1", 0.01), heavy("2", 0.01), heavy("3", 0.01), "done"])
        with pytest.raises(BudgetExceeded) as info:
            Agent(model, tools=[look], budget=budget).run("go")
        assert info.value.budget == name
        assert len(model.requests) == 2
        _valid(info.value.messages)
    assert info.value.reached == pytest.approx(0.02)


def test_wall_time_budget_and_a_runs_budget_replaces_the_agents() -> None:
    @tool
    def slow(n: int) -> str:
        """Slow."""
        time.sleep(0.2)
        return "ok"

    script = [*([call("slow", {"n": i})] for i in range(5)), "done"]
    agent = Agent(ScriptedModel(script), tools=[slow], budget=Budget(max_seconds=100))
    with pytest.raises(BudgetExceeded) as info:
        agent.run("go", budget=Budget(max_seconds=0.3))
    assert info.value.budget == "max_seconds" and info.value.reached >= 0.3
    _valid(info.value.messages)


def test_the_async_driver_applies_budgets_too() -> None:
    agent = Agent(_tool_loop(5), tools=[look], budget=Budget(max_requests=3))
    with pytest.raises(BudgetExceeded) as info:
        asyncio.run(agent.arun("go"))
    assert info.value.budget == "max_requests"
    _valid(info.value.messages)


def test_a_run_within_its_budget_finishes() -> None:
    result = Agent(_tool_loop(2), tools=[look], budget=Budget(max_requests=3, max_tool_calls=2)).run("go")
    assert result.output == "done"


@pytest.mark.parametrize("bad", [{"max_cost": -1}, {"max_requests": "3"}, {"max_tool_calls": True}])
def test_a_bad_budget_says_which_limit_is_wrong(bad: dict[str, object]) -> None:
    with pytest.raises(UserError, match=next(iter(bad))):
        Budget(**bad)  # type: ignore[arg-type]


def test_tool_call_and_time_budgets_carry_across_a_pause_and_a_json_round_trip() -> None:
    from podium import ApprovalPolicy, PausedRun, Rule

    ran: list[int] = []

    @tool
    def step(n: int) -> str:
        """A step."""
        ran.append(n)
        return "ok"

    @tool
    def risky(n: int) -> str:
        """Needs a yes."""
        ran.append(100 + n)
        return "done"

    script = [
        [call("step", {"n": 1}), call("step", {"n": 2})],
        [call("risky", {"n": 1})],
        [call("step", {"n": 3})],
        "finished",
    ]
    policy = ApprovalPolicy([Rule("ask", tool="risky")])
    agent = Agent(ScriptedModel(script), tools=[step, risky], policy=policy, budget=Budget(max_tool_calls=3))
    paused = agent.run("go")
    assert paused.status == "paused"
    assert paused.paused is not None and paused.paused.tool_calls == 2  # the two steps; the paused turn not yet
    assert paused.paused.seconds > 0
    again = PausedRun.from_json(paused.paused.to_json())
    assert (again.tool_calls, again.seconds) == (paused.paused.tool_calls, paused.paused.seconds)
    call_id = paused.pending_approvals[0].call_id
    with pytest.raises(BudgetExceeded) as info:  # 2 before + risky + step 3 = 4 > 3
        agent.run(resume=again, approvals={call_id: True})
    assert (info.value.budget, info.value.reached) == ("max_tool_calls", 4)
    assert ran == [1, 2, 101]
    _valid(info.value.messages)

    slow = dataclasses.replace(again, seconds=1_000.0)
    with pytest.raises(BudgetExceeded) as late:
        agent.run(resume=slow, approvals={call_id: True}, budget=Budget(max_seconds=60))
    assert late.value.budget == "max_seconds"
