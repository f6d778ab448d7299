"""A model object works from several ``asyncio.run`` calls: one async HTTP client per event loop, every provider."""

from __future__ import annotations

import asyncio

import pytest

from podium.messages import Message
from podium.testing.fake_server import FakeProviderServer, Reply

SPECS = [
    "openai:gpt-4o-mini",
    "openai-responses:gpt-4o-mini",
    "anthropic:claude-haiku-4-5",
    "google:gemini-2.5-flash",
    "bedrock:us.amazon.nova-micro-v1:0",
    "mistral:mistral-small-latest",
    "cohere:command-a-03-2025",
    "groq:llama-3.3-70b-versatile",
    "ollama:llama3.2",
]


@pytest.mark.parametrize("spec", SPECS)
def test_async_model_reused_across_event_loops(spec: str) -> None:
    with FakeProviderServer(default=Reply.answer("same answer")) as server:
        model = server.model(spec)
        first = asyncio.run(model.arequest([Message.user("hi")]))
        second = asyncio.run(model.arequest([Message.user("hi")]))  # a new loop: a shared client would fail here

        async def streamed() -> str:
            events = [event async for event in model.astream([Message.user("hi")])]
            return events[-1].text  # type: ignore[union-attr]

        third = asyncio.run(streamed())
        assert len(server.requests) == 3
    assert first.text == second.text == third == "same answer"
