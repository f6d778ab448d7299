"""Four tool calls in one message run at the same time, then "done", sync and async; events come in order.

Concurrency is shown with a barrier, not a stopwatch: each call waits until all four are running, so a
driver that ran them one after another would break the barrier (an error result), however loaded the
machine is.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from podium import Agent, tool
from podium.agent.events import (
    ModelRequestStarted,
    ModelResponseFinished,
    RunFinished,
    RunStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from podium.messages import ToolCall, ToolResult
from podium.streaming import TextDelta, ToolCallDelta
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.tools.tool import Tool

NAP = 0.05
"""Each call also sleeps this long after the meeting, so its measured duration has a lower bound."""


def meeting(n: int = 4, timeout: float = 10) -> tuple[Tool[..., Any], Tool[..., Any]]:
    """A sync and an async tool whose calls each wait until ``n`` calls run at once (``timeout`` at most)."""
    barrier = threading.Barrier(n, timeout=timeout)

    @tool
    def slow(n: int) -> str:
        """Meet the other calls, then echo n."""
        barrier.wait()
        time.sleep(NAP)
        return f"result {n}"

    @tool
    async def aslow(n: int) -> str:
        """Meet the other calls (async), then echo n."""
        await asyncio.to_thread(barrier.wait)
        await asyncio.sleep(NAP)
        return f"result {n}"

    return slow, aslow


def four_calls(name: str) -> ScriptedModel:
    return ScriptedModel([[call(name, {"n": i}) for i in range(4)], "done"])


def check_history(result_messages: list, name: str) -> None:
    assert [m.role for m in result_messages] == ["user", "assistant", "tool", "assistant"]
    calls = result_messages[1].tool_calls
    results = result_messages[2].tool_results
    assert len(calls) == 4
    assert [r.call_id for r in results] == [c.id for c in calls]  # call order
    assert [r.text for r in results] == [f"result {i}" for i in range(4)]  # all four met: they ran together
    assert len({c.id for c in calls}) == 4  # generated ids are unique
    assert all(not r.is_error for r in results)


def test_four_parallel_sync_tools_sync_driver() -> None:
    slow, _ = meeting()
    result = Agent(four_calls("slow"), tools=[slow]).run("go")
    assert result.output == "done"
    check_history(result.messages, "slow")
    assert result.steps == 2
    assert result.usage.requests == 2


def test_four_parallel_async_tools_async_driver() -> None:
    _, aslow = meeting()

    async def main() -> None:
        result = await Agent(four_calls("aslow"), tools=[aslow]).arun("go")
        assert result.output == "done"
        check_history(result.messages, "aslow")

    asyncio.run(main())


def test_sync_tools_in_async_driver_and_async_tools_in_sync_driver() -> None:
    _, aslow = meeting()
    result = Agent(four_calls("aslow"), tools=[aslow]).run("go")
    check_history(result.messages, "aslow")

    slow, _ = meeting()

    async def main() -> None:
        r = await Agent(four_calls("slow"), tools=[slow]).arun("go")
        check_history(r.messages, "slow")

    asyncio.run(main())


def test_a_fifth_call_would_break_the_meeting() -> None:
    """The barrier does catch calls that do not all run: five calls, a meeting of six, all fail."""
    slow, _ = meeting(6, timeout=0.1)
    model = ScriptedModel([[call("slow", {"n": i}) for i in range(5)], "done"])
    result = Agent(model, tools=[slow], retries=5).run("go")
    assert all(r.is_error and "BrokenBarrierError" in r.text for r in result.messages[2].tool_results)


EXPECTED_KINDS = (
    ["run_started", "model_request_started"]
    + ["tool_call_delta"] * 4
    + ["model_response_finished"]
    + ["tool_call_started"] * 4
    + ["tool_call_finished"] * 4
    + ["model_request_started", "text_delta", "model_response_finished", "run_finished"]
)


def check_events(events: list) -> None:
    assert [e.kind for e in events] == EXPECTED_KINDS
    assert isinstance(events[0], RunStarted)
    assert [e.step for e in events if isinstance(e, ModelRequestStarted)] == [1, 2]
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [d.index for d in deltas] == [0, 1, 2, 3]
    started = [e.call for e in events if isinstance(e, ToolCallStarted)]
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [c.id for c in started] == [f.call.id for f in finished] == [d.id for d in deltas]
    assert all(isinstance(f.result, ToolResult) and f.result.call_id == f.call.id for f in finished)
    assert all(f.duration >= NAP for f in finished)  # measured (a lower bound holds on any machine)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "done"
    responses = [e for e in events if isinstance(e, ModelResponseFinished)]
    assert isinstance(responses[0].response.parts[0], ToolCall)
    assert responses[1].usage.requests == 1
    final = events[-1]
    assert isinstance(final, RunFinished)
    assert final.result.output == "done"


def test_stream_yields_events_in_order_sync() -> None:
    slow, _ = meeting()
    stream = Agent(four_calls("slow"), tools=[slow]).stream("go")
    events = list(stream)
    check_events(events)
    assert stream.result.output == "done"


def test_stream_yields_events_in_order_async() -> None:
    _, aslow = meeting()

    async def main() -> None:
        stream = Agent(four_calls("aslow"), tools=[aslow]).astream("go")
        events = [e async for e in stream]
        check_events(events)
        assert stream.result.output == "done"

    asyncio.run(main())


def test_text_is_streamed_in_pieces() -> None:
    model = ScriptedModel(["The capital of France is Paris."], stream_chunk=5)
    events = list(Agent(model).stream("?"))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 7
    assert "".join(deltas) == "The capital of France is Paris."
