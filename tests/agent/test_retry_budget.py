"""A tool's retry budget counts failing model turns, not failed calls: parallel failures cost one retry."""

from __future__ import annotations

from typing import Any

import pytest

from podium import Agent, tool
from podium.exceptions import ModelRetry, ToolRetriesExceeded, UnexpectedModelBehavior
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.tools.context import RunContext

FILES = {"present.txt": "hello"}


@tool
def read(ctx: RunContext[Any], path: str) -> str:
    """Read a file."""
    if path not in FILES:
        raise ModelRetry(f"no such file: {path} (retry {ctx.retry})")
    return FILES[path]


def reads(*paths: str) -> list[Any]:
    return [call("read", {"path": p}) for p in paths]


def test_three_missing_files_in_one_turn_cost_one_retry() -> None:
    model = ScriptedModel([reads("a", "b", "c"), "none of them exist"])
    result = Agent(model, tools=[read], retries=1).run("read a, b and c")
    assert result.output == "none of them exist"
    errors = result.messages[2].tool_results
    assert [r.is_error for r in errors] == [True, True, True]
    assert len(model.requests) == 2  # the model saw the three errors
    assert all("(retry 0)" in r.text for r in errors)  # every call of the turn sees the same count


def test_consecutive_failing_turns_still_exhaust_the_budget() -> None:
    model = ScriptedModel([reads("a", "b"), reads("c"), reads("d", "e"), "never"])
    with pytest.raises(
        ToolRetriesExceeded, match=r"'read' failed 3 times in a row \(every call in 3 consecutive model turns\)"
    ) as info:
        Agent(model, tools=[read], retries=2).run("go")
    assert len(model.requests) == 3
    texts = [r.text for m in info.value.messages if m.role == "tool" for r in m.tool_results]
    assert [t[-9:] for t in texts] == ["(retry 0)", "(retry 0)", "(retry 1)", "(retry 2)", "(retry 2)"]


def test_a_turn_where_the_tool_also_succeeded_resets_the_count() -> None:
    model = ScriptedModel([reads("a"), reads("b", "present.txt"), reads("c"), "done"])
    result = Agent(model, tools=[read], retries=1).run("go")
    assert result.output == "done"
    texts = [r.text for m in result.messages if m.role == "tool" for r in m.tool_results]
    assert texts == ["no such file: a (retry 0)", "no such file: b (retry 1)", "hello", "no such file: c (retry 0)"]


def test_a_tools_own_retries_win_per_turn_too() -> None:
    strict = tool(retries=0)(read.fn)
    model = ScriptedModel([reads("a", "b", "c"), "never"])
    with pytest.raises(ToolRetriesExceeded, match=r"'read' failed once \(every call in one model turn\)"):
        Agent(model, tools=[strict], retries=5).run("go")


def test_several_unknown_tools_in_one_turn_count_once() -> None:
    model = ScriptedModel([[call("nope", {}), call("nada", {}), call("zilch", {}), call("none", {})], "ok"])
    result = Agent(model, tools=[read], retries=1).run("go")
    assert result.output == "ok"
    assert all("Unknown tool" in r.text for r in result.messages[2].tool_results)


def test_unknown_tools_in_consecutive_turns_end_the_run() -> None:
    model = ScriptedModel([[call("nope", {})], [call("nope", {})], [call("nope", {})], "never"])
    with pytest.raises(UnexpectedModelBehavior, match="unknown tools in 3 model turns"):
        Agent(model, tools=[read], retries=1).run("go")
