"""Tool faults (an exception, ModelRetry, a call slower than its timeout) end in results the model sees, or a
typed error, with a valid conversation; parallel calls are numbered in the model's order, not by timing."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Annotated, Any

import pytest
from fault_support import aoutcome, assert_valid, outcome

from podium import Agent, tool
from podium.exceptions import ToolRetriesExceeded, UserError
from podium.messages import Message, ToolResult
from podium.testing import FaultPlan, FaultRecord, ScriptedModel, ToolFault, call
from podium.tools import Injected, RunContext


@tool(timeout=0.2)
def add(a: int, b: int) -> int:
    """Add two numbers."""
    time.sleep(random.random() * 0.01)  # parallel calls finish in any order
    return a + b


@tool(timeout=0.2)
async def mul(a: int, b: int) -> int:
    """Multiply two numbers."""
    await asyncio.sleep(random.random() * 0.01)
    return a * b


def results(messages: list[Message]) -> list[ToolResult]:
    return [r for m in messages for r in m.tool_results]


def one_turn(*calls: tuple[str, dict[str, int]]) -> ScriptedModel:
    return ScriptedModel([[call(name, args) for name, args in calls], "done"])


@pytest.mark.parametrize("name", ["add", "mul"])
@pytest.mark.parametrize(
    ("fault", "text"),
    [
        (ToolFault.error("disk on fire", at=1), "RuntimeError: disk on fire"),
        (ToolFault.retry("use smaller numbers", at=1), "use smaller numbers"),
        (ToolFault.slow(at=1), "did not finish within its 0.2 s timeout"),
    ],
    ids=["error", "retry", "slow"],
)
def test_a_failing_call_is_an_error_result_the_model_sees(name: str, fault: ToolFault, text: str) -> None:
    plan = FaultPlan(seed=3, tools={name: fault})
    agent = plan.agent(Agent(one_turn((name, {"a": 2, "b": 3}), (name, {"a": 4, "b": 5})), tools=[add, mul]))
    started = time.monotonic()
    status, messages = outcome(agent)
    assert status == "ok" and messages[-1].text == "done"
    first, second = results(messages)
    assert first.is_error and text in first.text
    assert not second.is_error and second.text == ("9" if name == "add" else "20")
    assert plan.log == [FaultRecord("tool", 1, fault.kind, name, fault.describe())]
    assert time.monotonic() - started < 5  # a slow call ends at its timeout, not after its whole delay


def test_the_async_driver_meets_the_same_tool_faults() -> None:
    plan = FaultPlan(seed=3, tools={"add": ToolFault.slow(at=1), "mul": ToolFault.error(at=2)})
    model = one_turn(("add", {"a": 1, "b": 1}), ("mul", {"a": 2, "b": 2}), ("mul", {"a": 3, "b": 3}))
    status, messages = asyncio.run(aoutcome(plan.agent(Agent(model, tools=[add, mul]))))
    assert status == "ok"
    assert [(r.is_error, r.text[:20]) for r in results(messages)] == [
        (True, "The tool did not fin"),
        (False, "4"),
        (True, "RuntimeError: inject"),
    ]


def test_a_tool_that_always_fails_ends_in_a_typed_error_with_a_valid_history() -> None:
    plan = FaultPlan(seed=3, tools={"add": ToolFault.error(rate=1.0)})
    script: list[Any] = [[call("add", {"a": 1, "b": i})] for i in range(6)] + ["done"]
    status, exc = outcome(plan.agent(Agent(ScriptedModel(script), tools=[add], retries=2)))
    assert status == "error" and isinstance(exc, ToolRetriesExceeded)
    assert all(r.is_error for r in results(exc.messages))
    assert [r.position for r in plan.log] == [1, 2, 3]


def test_parallel_calls_are_numbered_in_the_order_the_model_asked_for_them() -> None:
    calls = [("add", {"a": i, "b": 0}) for i in range(6)] + [("mul", {"a": i, "b": 1}) for i in range(4)]
    for _ in range(8):  # the calls of the turn start in a different order each time
        plan = FaultPlan(seed=3, tools={"add": ToolFault.error(at=[2, 5]), "mul": ToolFault.retry(at=3)})
        status, messages = outcome(plan.agent(Agent(one_turn(*calls), tools=[add, mul])))
        assert status == "ok"
        failed = [i for i, r in enumerate(results(messages)) if r.is_error]
        assert failed == [1, 4, 8]
        assert [(r.target, r.position) for r in plan.log] == [("add", 2), ("add", 5), ("mul", 3)]


def test_calls_are_numbered_across_turns_and_the_wildcard_applies_to_every_tool() -> None:
    script: list[Any] = [
        [call("add", {"a": 1, "b": 1}), call("mul", {"a": 1, "b": 1})],
        [call("add", {"a": 2, "b": 2})],
        [call("mul", {"a": 3, "b": 3}), call("add", {"a": 3, "b": 3})],
        "done",
    ]
    plan = FaultPlan(seed=3, tools={"add": ToolFault.error(at=3), "*": ToolFault.retry(at=2)})
    status, messages = outcome(plan.agent(Agent(ScriptedModel(script), tools=[add, mul])))
    assert status == "ok"
    assert [(r.target, r.position, r.kind) for r in plan.log] == [
        ("add", 2, "retry"),  # turn 2: the second call of add
        ("mul", 2, "retry"),  # turn 3: the second call of mul
        ("add", 3, "error"),  # turn 3: the third call of add (its own fault comes first)
    ]
    assert_valid(messages)


def test_a_slow_fault_on_a_tool_without_a_timeout_is_refused_clearly() -> None:
    @tool
    def forever(x: int) -> int:
        """No timeout."""
        return x

    plan = FaultPlan(tools={"forever": ToolFault.slow(at=1)})
    with pytest.raises(UserError, match="no timeout to go past"):
        plan.agent(Agent(one_turn(("forever", {"x": 1})), tools=[forever])).run("go")
    slow = FaultPlan(tools={"forever": ToolFault.slow(0.05, at=1)})  # a delay makes it a slow call that ends
    result = slow.agent(Agent(one_turn(("forever", {"x": 1})), tools=[forever])).run("go")
    assert results(result.messages)[0].text == "1"


@tool(timeout=1)
def whoami(ctx: RunContext[str], key: Annotated[str, Injected()], n: int) -> str:
    """Uses its context."""
    return f"{ctx.deps}:{key}:{n}"


@tool(timeout=1)
def echo(ctx: int, fault_ctx: str) -> str:
    """Parameters whose names the wrapper could clash with."""
    return f"{ctx}{fault_ctx}"


def test_a_tool_parameter_named_ctx_is_still_the_models() -> None:
    plan = FaultPlan(tools={"echo": ToolFault.error(at=2)})
    agent = plan.agent(
        Agent(one_turn(("echo", {"ctx": 1, "fault_ctx": "a"}), ("echo", {"ctx": 2, "fault_ctx": "b"})), tools=[echo])
    )
    first, second = results(agent.run("go").messages)
    assert first.text == "1a" and not first.is_error and second.is_error


def test_tools_taking_a_context_and_injected_values_keep_them() -> None:
    plan = FaultPlan(tools={"whoami": ToolFault.error(at=2)})
    agent = plan.agent(Agent(one_turn(("whoami", {"n": 1}), ("whoami", {"n": 2})), tools=[whoami]))
    result = agent.run("go", deps="alice", inject={"key": "k"})
    first, second = results(result.messages)
    assert first.text == "alice:k:1" and second.is_error
    assert agent.tools[0].get_tools()[0].definition == whoami.definition  # the model sees the same schema


def test_a_call_approved_after_a_pause_keeps_its_number() -> None:
    from podium.agent.approval import ApprovalPolicy, Rule

    policy = ApprovalPolicy(rules=[Rule("ask", tool="add", args={"a": "^9$"})])
    model = one_turn(("add", {"a": 1, "b": 1}), ("add", {"a": 9, "b": 9}), ("add", {"a": 3, "b": 3}))
    plan = FaultPlan(tools={"add": ToolFault.error(at=2)})  # the second call: the one that waits for a person
    agent = plan.agent(Agent(model, tools=[add], policy=policy))
    paused = agent.run("go")
    assert paused.status == "paused" and paused.paused is not None
    assert plan.log == []  # the first and third calls ran, unharmed
    (pending,) = paused.paused.pending
    result = agent.run(None, resume=paused.paused, approvals={pending.call_id: "allow"})
    assert [(r.text, r.is_error) for r in results(result.messages)] == [
        ("2", False),
        ("RuntimeError: injected fault", True),
        ("6", False),
    ]
    assert [(r.target, r.position) for r in plan.log] == [("add", 2)]


def test_the_agent_given_to_a_plan_is_left_as_it_was() -> None:
    original = Agent(ScriptedModel([[call("add", {"a": 1, "b": 1})], "done"] * 2), tools=[add])
    plan = FaultPlan(tools={"add": ToolFault.error(rate=1.0)})
    faulty = plan.agent(original)
    assert faulty is not original and faulty.id != original.id
    assert original.tools == [add] and faulty.tools != [add]
    assert results(original.run("go").messages)[0].text == "2"
    assert results(faulty.run("go").messages)[0].is_error
    assert len(plan.log) == 1
