"""Tools report progress (``ctx.report_progress``) and the run emits ``ToolCallProgress`` events, both drivers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from podium import Agent, RunContext, ToolCallProgress, tool
from podium.testing import ScriptedModel, call


@tool
def crunch(ctx: RunContext[None], steps: int) -> str:
    """Work in steps, reporting each."""
    for i in range(steps):
        time.sleep(0.02)
        assert ctx.report_progress is not None
        ctx.report_progress(i + 1, steps, f"step {i + 1}")
    return "crunched"


@tool
async def acrunch(ctx: RunContext[None], steps: int) -> str:
    """The same, async."""
    for i in range(steps):
        await asyncio.sleep(0.02)
        assert ctx.report_progress is not None
        ctx.report_progress(i + 1, None, None)
    return "crunched"


def events_of(agent: Agent[Any], driver: str) -> list[Any]:
    if driver == "sync":
        return list(agent.stream("go"))

    async def collect() -> list[Any]:
        return [e async for e in agent.astream("go")]

    return asyncio.run(collect())


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_progress_events_come_between_start_and_finish_of_their_call(driver: str) -> None:
    model = ScriptedModel([[call("crunch", {"steps": 3}, id="a"), call("acrunch", {"steps": 2}, id="b")], "done"])
    events = events_of(Agent(model, tools=[crunch, acrunch]), driver)
    kinds = [(e.kind, getattr(getattr(e, "call", None), "id", None)) for e in events]
    progress = [e for e in events if isinstance(e, ToolCallProgress)]
    assert [(p.call.id, p.progress, p.total, p.message) for p in progress if p.call.id == "a"] == [
        ("a", 1, 3, "step 1"),
        ("a", 2, 3, "step 2"),
        ("a", 3, 3, "step 3"),
    ]
    assert [(p.progress, p.total) for p in progress if p.call.id == "b"] == [(1, None), (2, None)]
    for call_id in ("a", "b"):
        started = kinds.index(("tool_call_started", call_id))
        finished = kinds.index(("tool_call_finished", call_id))
        mine = [i for i, k in enumerate(kinds) if k == ("tool_call_progress", call_id)]
        assert mine and started < min(mine) and max(mine) < finished


def test_report_progress_is_none_outside_a_run() -> None:
    ctx: RunContext[None] = RunContext(deps=None, run_id="r", step=0)
    assert ctx.report_progress is None
