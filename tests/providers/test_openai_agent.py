"""``Agent("openai:...")`` end to end: the agent loop over recorded OpenAI tool-calling exchanges, sync and async."""

from __future__ import annotations

import asyncio

import pytest
from chat_helpers import assert_same_request, cassette, replay

from podium import Agent, tool
from podium.agent.events import ToolCallFinished
from podium.streaming import TextDelta, ToolCallDelta
from podium.testing.cassette import ReplayServer

calls: list[tuple[str, str]] = []


@tool
def delete_file(path: str) -> bool:
    """Delete a file."""
    calls.append(("delete_file", path))
    return True


@tool
def create_file(path: str) -> str:
    """Create a file."""
    calls.append(("create_file", path))
    return "Success"


@tool
def get_capital(country: str) -> str:
    """The capital of a country."""
    return {"UK": "London"}[country]


@pytest.fixture
def openai_env(monkeypatch: pytest.MonkeyPatch) -> object:
    """Point the plain ``"openai:..."`` string at a replay server through the SDK's own environment variables."""

    def use(server: ReplayServer) -> None:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    return use


def check_parallel_run(server: ReplayServer, result: object) -> None:
    from podium.agent.result import RunResult

    assert isinstance(result, RunResult)
    assert result.output == "The file `.env` has been deleted and `test.txt` has been created successfully."
    assert sorted(calls) == [("create_file", "test.txt"), ("delete_file", ".env")]
    assert [m.role for m in result.messages] == ["user", "assistant", "tool", "assistant"]
    assert [r.text for r in result.messages[2].tool_results] == ["true", "Success"]
    assert result.steps == 2
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.requests) == (71 + 133, 46 + 19, 2)
    assert result.cost is not None and result.cost > 0
    # the second request carries the recorded conversation exactly; the tool schemas come from Podium's @tool
    # (docstring descriptions, no strict mode), which the recording framework wrote differently
    for i in range(2):
        sent, recorded = server.received[i].json, server.interactions[i].request.body
        assert_same_request(sent["messages"], recorded["messages"])
        assert sorted(t["function"]["name"] for t in sent["tools"]) == ["create_file", "delete_file"]


def test_agent_openai_string_tool_loop_sync(openai_env) -> None:  # type: ignore[no-untyped-def]
    calls.clear()
    with replay(cassette("openai_chat", "test_dbos_agent_with_hitl_tool.yaml")) as server:
        openai_env(server)
        agent = Agent(
            "openai:gpt-4o",
            tools=[create_file, delete_file],
            instructions="Just call tools without asking for confirmation.",
        )
        result = agent.run("Delete the file `.env` and create `test.txt`")
        check_parallel_run(server, result)


def test_agent_openai_string_tool_loop_async(openai_env) -> None:  # type: ignore[no-untyped-def]
    calls.clear()
    with replay(cassette("openai_chat", "test_dbos_agent_with_hitl_tool.yaml")) as server:
        openai_env(server)
        agent = Agent(
            "openai:gpt-4o",
            tools=[create_file, delete_file],
            instructions="Just call tools without asking for confirmation.",
        )
        result = asyncio.run(agent.arun("Delete the file `.env` and create `test.txt`"))
        check_parallel_run(server, result)


def test_agent_openai_streams_tool_loop_sync_and_async(openai_env) -> None:  # type: ignore[no-untyped-def]
    path = cassette("openai_chat", "test_run_stream_sync_streams_real_model.yaml")
    prompt = "What is the capital of the UK? Use the tool, then answer."

    def check(server: ReplayServer, events: list[object]) -> None:
        text = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert text == "The capital of the UK is London."
        assert any(isinstance(e, ToolCallDelta) and e.name == "get_capital" for e in events)
        finished = [e for e in events if isinstance(e, ToolCallFinished)]
        assert len(finished) == 1 and finished[0].result.text == "London"
        for i in range(2):
            sent, recorded = server.received[i].json, server.interactions[i].request.body
            assert_same_request(sent["messages"], recorded["messages"])
            assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}

    with replay(path) as server:
        openai_env(server)
        stream = Agent("openai:gpt-4o-mini", tools=[get_capital]).stream(prompt)
        events = list(stream)
        check(server, events)
        assert stream.result.output == "The capital of the UK is London."
        assert stream.result.usage.input_tokens == 53 + 78

    async def main(server: ReplayServer) -> list[object]:
        stream = Agent("openai:gpt-4o-mini", tools=[get_capital]).astream(prompt)
        events = [e async for e in stream]
        assert stream.result.output == "The capital of the UK is London."
        return events

    with replay(path) as server:
        openai_env(server)
        check(server, asyncio.run(main(server)))
