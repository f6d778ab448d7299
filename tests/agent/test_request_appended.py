"""``ModelRequestStarted.appended`` with the responses gives a run's messages in order, as they become final."""

from __future__ import annotations

import pytest

from podium import Agent, tool
from podium.agent.approval import ApprovalPolicy, Rule
from podium.agent.events import AgentEvent, ModelRequestStarted, ModelResponseFinished, RunFinished
from podium.exceptions import MaxStepsExceeded
from podium.messages import Message
from podium.testing import ScriptedModel
from podium.testing.models import call


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def replay(events: list[AgentEvent]) -> list[Message]:
    out: list[Message] = []
    for event in events:
        if isinstance(event, ModelRequestStarted):
            out.extend(event.appended)
        elif isinstance(event, ModelResponseFinished):
            out.append(event.response.to_message())
    return out


def test_appended_and_responses_rebuild_the_run() -> None:
    model = ScriptedModel([[call("add", {"a": 1, "b": 2})], [call("nope")], "3"])
    stream = Agent(model, tools=[add]).stream("add")
    events = list(stream)
    starts = [e for e in events if isinstance(e, ModelRequestStarted)]
    assert [m.role for m in starts[0].appended] == ["user"]
    assert [m.role for m in starts[1].appended] == ["tool"]
    assert starts[1].appended[0].tool_results[0].text == "3"
    assert isinstance(events[-1], RunFinished)
    assert replay(events) == stream.result.new_messages


def test_denied_calls_are_announced_too() -> None:
    policy = ApprovalPolicy([Rule("deny", tool="add", reason="no")])
    model = ScriptedModel([[call("add", {"a": 1, "b": 2})], "ok"])
    stream = Agent(model, tools=[add], policy=policy).stream("add")
    events = list(stream)
    rebuilt = replay(events)
    assert rebuilt == stream.result.new_messages
    assert rebuilt[2].tool_results[0].is_error


def test_messages_after_the_last_request_are_in_the_error() -> None:
    model = ScriptedModel([[call("add", {"a": 1, "b": 2})]])
    events: list[AgentEvent] = []
    with pytest.raises(MaxStepsExceeded) as info:
        events.extend(Agent(model, tools=[add], max_steps=1).stream("add"))
    rebuilt = replay(events)
    assert info.value.new_messages[: len(rebuilt)] == rebuilt
    assert [m.role for m in info.value.new_messages[len(rebuilt) :]] == ["tool"]
