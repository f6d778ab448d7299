"""Injected faults show in the trace: each retry in its response record, tool failures, the typed error at the end."""

from __future__ import annotations

import pytest

from podium import Agent, tool
from podium.exceptions import ServerError
from podium.providers.retry import RetryPolicy
from podium.testing import FakeProviderServer, FaultPlan, ModelFault, Reply, ToolFault
from podium.trace import Trace
from podium.trace.summary import format_steps, steps


@tool(timeout=1.0)
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


SCRIPT = [Reply.answer("", calls=[("add", {"a": 2, "b": 3})]), Reply.answer("It is 5."), Reply.answer("It is 5.")]


@pytest.mark.parametrize("stream", [False, True])
def test_retries_and_tool_faults_are_in_the_trace(stream: bool) -> None:
    plan = FaultPlan(
        seed=7,
        model=[ModelFault.rate_limit(retry_after=30, at=1), ModelFault.cut(0.0, at=3)],
        tools={"add": ToolFault.error("disk on fire", at=1)},
    )
    trace = Trace()
    with FakeProviderServer(*SCRIPT) as server:
        model = server.model("anthropic:claude-sonnet-4-5", retry=RetryPolicy(max_retries=2))
        agent = plan.agent(Agent(model, tools=[add]))
        stream_ = agent.stream("What is 2 + 3?", trace=trace, _stream_model=stream)
        list(stream_)
    assert stream_.result.output == "It is 5."
    first, second = trace.of_kind("response")
    assert [(a["error"], a["status"], a["delay"], a["retry_after"]) for a in first["retries"]] == [
        ("RateLimitError", 429, 30, 30)
    ]
    assert [a["error"] for a in second["retries"]] == ["IncompleteStreamError" if stream else "InvalidResponseError"]
    [tool_record] = trace.of_kind("tool")
    assert tool_record["answer"]["outcome"]["kind"] == "error"
    assert "disk on fire" in str(tool_record["answer"]["outcome"]["result"])
    table = format_steps(steps(trace))
    assert "after 1 failed attempt: RateLimitError 429" in table and "add: error" in table


def test_a_fault_that_outlasts_the_retries_ends_the_trace_with_the_typed_error() -> None:
    plan = FaultPlan(seed=1, model=[ModelFault.server_error(503, at=[1, 2, 3])])
    trace = Trace()
    with FakeProviderServer(*SCRIPT) as server:
        model = server.model("openai:gpt-4o", retry=RetryPolicy(max_retries=2, initial_delay=0.01))
        with pytest.raises(ServerError) as info:
            plan.agent(Agent(model, tools=[add])).run("What is 2 + 3?", trace=trace)
    assert info.value.status == 503
    [response] = trace.of_kind("response")
    assert response["answer"]["error"]["type"].endswith(":ServerError")
    assert [(a["attempt"], a["status"]) for a in response["retries"]] == [(1, 503), (2, 503), (3, 503)]
    assert response["retries"][-1]["delay"] is None  # the last attempt was not retried: the error was raised
    end = trace.end
    assert end is not None and end["status"] == "error" and end["error"]["attrs"]["status"] == 503
    assert "after 3 attempts" in format_steps(steps(trace))
