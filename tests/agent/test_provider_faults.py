"""An agent run that hits a provider fault stops with a clear error and a history that is valid to continue.

Every provider runs through its real SDK against the fake provider server: the first turn calls a tool, the
second turn fails (a cut stream, an HTML page, a hang). ``.messages`` then holds the tool call and its
result and nothing half-written; the same history continues on the same model and on another provider.
"""

from __future__ import annotations

import asyncio

import pytest

from podium import Agent, tool
from podium.exceptions import (
    IncompleteStreamError,
    InvalidResponseError,
    ProviderError,
    ProviderTimeoutError,
)
from podium.messages import Message, dump_messages, load_messages
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings
from podium.testing.fake_server import FakeProviderServer, Reply

PROVIDERS = {
    "openai": "openai:gpt-4o",
    "openai-responses": "openai-responses:gpt-5",
    "anthropic": "anthropic:claude-sonnet-4-5",
    "google": "google:gemini-2.5-flash",
    "bedrock": "bedrock:us.amazon.nova-micro-v1:0",
    "mistral": "mistral:mistral-large-latest",
    "cohere": "cohere:command-a-03-2025",
    "groq": "groq:llama-3.3-70b-versatile",
    "ollama": "ollama:llama3.1",
    "deepseek": "deepseek:deepseek-chat",
}
SETTINGS = ModelSettings(read_timeout=0.3, timeout=1.0)
CALL = Reply.answer("", calls=[("add", {"a": 2, "b": 3})])


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


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


def other_provider(name: str) -> str:
    return PROVIDERS["openai"] if name == "anthropic" else PROVIDERS["anthropic"]


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize(
    ("fault", "error"),
    [(Reply.truncated("Five."), IncompleteStreamError), (Reply.html(), InvalidResponseError)],
    ids=["truncated", "html"],
)
def test_a_fault_leaves_a_history_that_continues_anywhere(name: str, fault: Reply, error: type) -> None:
    with FakeProviderServer(CALL, fault, Reply.answer("It is 5."), Reply.answer("Still 5.")) as server:
        model = server.model(PROVIDERS[name], retry=RetryPolicy(max_retries=0))
        agent = Agent(model, tools=[add], settings=SETTINGS)
        with pytest.raises(error) as info:
            for _ in agent.stream("What is 2 + 3?"):
                pass
        history = info.value.messages
        assert history is not None
        assert [m.role for m in history] == ["user", "assistant", "tool"]
        assert history[2].tool_results[0].text == "5"
        assert_valid(history)
        again = agent.run(None, message_history=history)  # the same model picks up where it failed
        assert again.output == "It is 5."
        assert_valid(again.messages)
        elsewhere = Agent(server.model(other_provider(name)), tools=[add]).run(None, message_history=history)
        assert elsewhere.output == "Still 5."
        sent = server.requests[-1].json
        assert "5" in str(sent)  # the tool result reached the other provider


@pytest.mark.parametrize("name", ["openai", "anthropic", "google", "bedrock", "ollama"])
def test_a_hang_in_an_async_run_times_out_with_a_valid_history(name: str) -> None:
    async def main() -> ProviderError:
        with FakeProviderServer(CALL, Reply.stall(after=2)) as server:
            model = server.model(PROVIDERS[name], retry=RetryPolicy(max_retries=0))
            agent = Agent(model, tools=[add], settings=SETTINGS)
            with pytest.raises(ProviderTimeoutError) as info:
                async for _ in agent.astream("What is 2 + 3?"):
                    pass
            return info.value

    error = asyncio.run(main())
    assert error.messages is not None
    assert [m.role for m in error.messages] == ["user", "assistant", "tool"]
    assert_valid(error.messages)


def test_a_retried_failure_is_invisible_to_the_run() -> None:
    replies = [CALL, Reply.error(503, "busy"), Reply.hang(0.0), Reply.answer("It is 5.")]
    with FakeProviderServer(*replies) as server:
        model = server.model(PROVIDERS["anthropic"], retry=RetryPolicy(max_retries=2, initial_delay=0.0, jitter=0.0))
        result = Agent(model, tools=[add], settings=SETTINGS).run("What is 2 + 3?")
        assert result.output == "It is 5."
        assert len(server.requests) == 4
    assert [m.role for m in result.messages] == ["user", "assistant", "tool", "assistant"]
