"""What the fault injection tests share: a tool, scripted replies, and the checks of an outcome."""

from __future__ import annotations

from typing import Any

from podium import Agent, tool
from podium.exceptions import AgentRunError, PodiumError, ProviderError
from podium.messages import Message, dump_messages, load_messages
from podium.testing.fake_server import Reply

CALL = Reply.answer("", calls=[("add", {"a": 2, "b": 3})])
ANSWER = Reply.answer("It is 5.")


@tool(timeout=0.3)
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool(timeout=0.3)
async def mul(a: int, b: int) -> int:
    """Multiply two numbers."""
    return a * b


def assert_valid(messages: list[Message]) -> None:
    """Every tool call answered by one result in the next message; no empty turn; JSON round trip."""
    assert messages and messages[0].role == "user"
    for index, message in enumerate(messages):
        assert message.parts, f"message {index} ({message.role}) is empty"
        if message.tool_calls:
            answer = messages[index + 1]
            assert answer.role == "tool"
            assert [r.call_id for r in answer.tool_results] == [c.id for c in message.tool_calls]
        if message.role == "tool":
            assert messages[index - 1].tool_calls
    assert load_messages(dump_messages(messages)) == messages


def outcome(agent: Agent[Any], prompt: str = "What is 2 + 3?", *, stream: bool = True) -> tuple[str, Any]:
    """Run ``agent`` to its end: ``("ok", messages)`` or ``("error", the error)``; anything else fails the test.

    An error must be one of Podium's typed errors and carry a valid history.
    """
    try:
        if stream:
            events = agent.stream(prompt)
            for _ in events:
                pass
            result = events.result
        else:
            result = agent.run(prompt)
    except (ProviderError, AgentRunError) as exc:
        error: PodiumError = exc
    else:
        assert_valid(result.messages)
        return "ok", result.messages
    assert error.messages is not None, f"{type(error).__name__} without .messages"
    assert_valid(error.messages)
    return "error", error


async def aoutcome(agent: Agent[Any], prompt: str = "What is 2 + 3?") -> tuple[str, Any]:
    """Async twin of :func:`outcome` (``astream``)."""
    try:
        events = agent.astream(prompt)
        async for _ in events:
            pass
        result = events.result
    except (ProviderError, AgentRunError) as exc:
        error: PodiumError = exc
    else:
        assert_valid(result.messages)
        return "ok", result.messages
    assert error.messages is not None, f"{type(error).__name__} without .messages"
    assert_valid(error.messages)
    return "error", error
