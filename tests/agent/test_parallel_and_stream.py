"""The issue's acceptance example: four 100 ms tools in one message, then "done", sync and async."""

from __future__ import annotations

import asyncio
import time

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


@tool
def slow(n: int) -> str:
    """Sleep 100 ms and echo n."""
    time.sleep(0.1)
    return f"result {n}"


@tool
async def aslow(n: int) -> str:
    """Sleep 100 ms (async) and echo n."""
    await asyncio.sleep(0.1)
    return f"result {n}"


def four_calls(name: str) -> ScriptedModel:
    return ScriptedModel([[call(name, {"n": i}) for i in range(4)], "done"])


def check_history(result_messages: list, name: str) -> None:
    assert [m.role for m in result_messages] == ["user", "assistant", "tool", "assistant"]
    calls = result_messages[1].tool_calls
    results = result_messages[2].tool_results
    assert len(calls) == 4
    assert [r.call_id for r in results] == [c.id for c in calls]  # call order
    assert [r.text for r in results] == [f"result {i}" for i in range(4)]
    assert len({c.id for c in calls}) == 4  # generated ids are unique
    assert all(not r.is_error for r in results)


def test_four_parallel_sync_tools_sync_driver() -> None:
    agent = Agent(four_calls("slow"), tools=[slow])
    started = time.perf_counter()
    result = agent.run("go")
    elapsed = time.perf_counter() - started
    assert result.output == "done"
    assert elapsed < 0.2, f"took {elapsed:.3f}s; tools did not run concurrently"
    check_history(result.messages, "slow")
    assert result.steps == 2
    assert result.usage.requests == 2


def test_four_parallel_async_tools_async_driver() -> None:
    agent = Agent(four_calls("aslow"), tools=[aslow])

    async def main() -> None:
        started = time.perf_counter()
        result = await agent.arun("go")
        elapsed = time.perf_counter() - started
        assert result.output == "done"
        assert elapsed < 0.2, f"took {elapsed:.3f}s"
        check_history(result.messages, "aslow")

    asyncio.run(main())


def test_sync_tools_in_async_driver_and_async_tools_in_sync_driver() -> None:
    started = time.perf_counter()
    result = Agent(four_calls("aslow"), tools=[aslow]).run("go")
    assert time.perf_counter() - started < 0.2
    check_history(result.messages, "aslow")

    async def main() -> float:
        t = time.perf_counter()
        r = await Agent(four_calls("slow"), tools=[slow]).arun("go")
        check_history(r.messages, "slow")
        return time.perf_counter() - t

    assert asyncio.run(main()) < 0.2


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
    assert all(0.09 < f.duration < 0.5 for f in finished)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "done"
    responses = [e for e in events if isinstance(e, ModelResponseFinished)]
    assert isinstance(responses[0].response.parts[0], ToolCall)
    assert responses[1].usage.requests == 1
    final = events[-1]
    assert isinstance(final, RunFinished)
    assert final.result.output == "done"


def test_stream_yields_events_in_order_sync() -> None:
    stream = Agent(four_calls("slow"), tools=[slow]).stream("go")
    events = list(stream)
    check_events(events)
    assert stream.result.output == "done"


def test_stream_yields_events_in_order_async() -> None:
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
