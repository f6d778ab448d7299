"""Shared by the fault tests: every provider pointed at the fake provider server, and the four ways to call it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from podium.messages import Message, ModelResponse
from podium.providers.base import Model
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings
from podium.streaming import StreamEvent
from podium.testing.fake_server import FakeProviderServer

PROVIDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "openai": ("openai:gpt-4o", {}),
    "openai-responses": ("openai-responses:gpt-5", {}),
    "anthropic": ("anthropic:claude-sonnet-4-5", {}),
    "google": ("google:gemini-2.5-flash", {}),
    "google-vertex": ("google-vertex:gemini-2.5-flash", {}),
    "bedrock": ("bedrock:us.amazon.nova-micro-v1:0", {}),
    "mistral": ("mistral:mistral-large-latest", {}),
    "cohere": ("cohere:command-a-03-2025", {}),
    "groq": ("groq:llama-3.3-70b-versatile", {}),
    "ollama": ("ollama:llama3.1", {}),
    "ollama-openai": ("ollama:qwen3", {"api": "openai"}),
    "openrouter": ("openrouter:openai/gpt-5", {}),
}
"""Every provider (and wire variant) by a short name: its model string and extra options."""

MODES = ("stream", "astream", "request", "arequest")

READ = 0.2
TOTAL = 0.45
SETTINGS = ModelSettings(connect_timeout=READ, read_timeout=READ, timeout=TOTAL)
"""Small timeouts: a hang is noticed after ``READ`` seconds, a slow answer cut after ``TOTAL``."""
NO_RETRY = RetryPolicy(max_retries=0)
QUICK_RETRY = RetryPolicy(max_retries=2, initial_delay=0.0, jitter=0.0)
PROMPT = [Message.user("Say hello.")]


def make(server: FakeProviderServer, name: str, retry: RetryPolicy = NO_RETRY, **options: Any) -> Model:
    """Provider ``name``'s real model class, pointed at ``server``."""
    spec, extra = PROVIDERS[name]
    model: Model = server.model(spec, retry=retry, **extra, **options)
    return model


@dataclass
class Outcome:
    """What one call did: the events it gave before it ended, the error, the time it took."""

    events: list[StreamEvent]
    error: BaseException | None
    seconds: float

    @property
    def response(self) -> ModelResponse:
        assert self.error is None, f"unexpected {self.error!r}"
        final = self.events[-1]
        assert isinstance(final, ModelResponse)
        return final


def call(model: Model, mode: str, settings: ModelSettings = SETTINGS) -> Outcome:
    """Call ``model`` one of the four ways; never raises (the error is in the outcome)."""
    events: list[StreamEvent] = []
    started = time.monotonic()
    try:
        if mode == "stream":
            for event in model.stream(PROMPT, settings=settings):
                events.append(event)
        elif mode == "request":
            events.append(model.request(PROMPT, settings=settings))
        elif mode == "astream":

            async def consume() -> None:
                async for event in model.astream(PROMPT, settings=settings):
                    events.append(event)

            asyncio.run(consume())
        else:
            events.append(asyncio.run(model.arequest(PROMPT, settings=settings)))
    except Exception as exc:
        return Outcome(events, exc, time.monotonic() - started)
    return Outcome(events, None, time.monotonic() - started)


@contextmanager
def serving(*replies: Any) -> Iterator[FakeProviderServer]:
    """A fake provider server playing ``replies``."""
    with FakeProviderServer(*replies) as server:
        yield server
