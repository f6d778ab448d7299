"""The retry loops report every failed attempt to the watches of the context, and a watch can replace the wait.

Real models against the fake provider server: whole requests and streams, sync and async.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from podium.exceptions import RateLimitError, ServerError
from podium.messages import Message
from podium.providers.retry import RetryAttempt, RetryPolicy, watch_retries
from podium.testing.fake_server import FakeProviderServer, Reply

POLICY = RetryPolicy(max_retries=3, initial_delay=0.5, jitter=0.25)
HI = [Message.user("Hi")]


def test_a_429_retry_after_is_recorded_and_not_waited_for() -> None:
    waits: list[float] = []
    with FakeProviderServer(Reply.error(429, "slow down", retry_after=30), Reply.answer("Hello")) as server:
        model = server.model("anthropic:claude-sonnet-4-5", retry=POLICY)
        with watch_retries(sleep=waits.append) as watch:
            assert model.request(HI).text == "Hello"
    assert waits == [30.0]
    assert watch.attempts == [
        RetryAttempt(1, "RateLimitError", 429, 30.0, retry_after=30.0, message=watch.attempts[0].message)
    ]
    assert "slow down" in watch.attempts[0].message


def test_a_stream_that_gives_up_records_the_last_attempt_without_a_delay() -> None:
    replies = [Reply.error(503), Reply.error(502), Reply.error(500)]
    with FakeProviderServer(*replies) as server:
        model = server.model("openai:gpt-4o", retry=RetryPolicy(max_retries=2, jitter=0.0))
        with watch_retries(sleep=lambda s: None) as watch, pytest.raises(ServerError):
            list(model.stream(HI))
    assert [(a.attempt, a.status, a.delay, a.stream) for a in watch.attempts] == [
        (1, 503, 0.5, True),
        (2, 502, 1.0, True),
        (3, 500, None, True),
    ]


def test_async_requests_and_streams_are_watched() -> None:
    async def main() -> tuple[list[RetryAttempt], list[float]]:
        waits: list[float] = []
        replies = [Reply.error(429, retry_after=12), Reply.answer("a"), Reply.error(529), Reply.answer("b")]
        with FakeProviderServer(*replies) as server:
            model = server.model("anthropic:claude-sonnet-4-5", retry=RetryPolicy(jitter=0.0))
            with watch_retries(sleep=waits.append) as watch:
                assert (await model.arequest(HI)).text == "a"
                events = [e async for e in model.astream(HI)]
                assert events[-1].text == "b"  # type: ignore[union-attr]
        return watch.attempts, waits

    attempts, waits = asyncio.run(main())
    assert [(a.error, a.status, a.delay, a.stream) for a in attempts] == [
        ("RateLimitError", 429, 12.0, False),
        ("ServerError", 529, 0.5, True),
    ]
    assert waits == [12.0, 0.5]


def test_watches_nest_and_the_innermost_sleep_wins() -> None:
    outer_waits: list[float] = []
    inner_waits: list[float] = []
    with FakeProviderServer(Reply.error(429, retry_after=3), Reply.answer("x")) as server:
        model = server.model("openai:gpt-4o", retry=POLICY)
        with (
            watch_retries(sleep=outer_waits.append) as outer,
            watch_retries() as trace,
            watch_retries(sleep=inner_waits.append) as inner,
        ):
            model.request(HI)
    assert outer.attempts == trace.attempts == inner.attempts and len(inner.attempts) == 1
    assert inner_waits == [3.0] and outer_waits == []


def test_a_seeded_watch_gives_the_same_jittered_delays() -> None:
    def delays(seed: int) -> list[float | None]:
        with FakeProviderServer(Reply.error(500), Reply.error(500), Reply.answer("x")) as server:
            model = server.model("openai:gpt-4o", retry=POLICY)
            with watch_retries(sleep=lambda s: None, rng=random.Random(seed)) as watch:
                model.request(HI)
        return [a.delay for a in watch.attempts]

    first = delays(4)
    assert first == delays(4)
    assert first != delays(5)
    assert all(d is not None and d != 0.5 for d in first[:1])  # jitter applied


def test_outside_a_watch_nothing_is_recorded_and_errors_are_unchanged() -> None:
    with FakeProviderServer(Reply.error(429, retry_after=500)) as server:
        model = server.model("openai:gpt-4o", retry=POLICY)
        with pytest.raises(RateLimitError) as info:  # a retry-after over max_retry_after: no retry, no wait
            model.request(HI)
    assert info.value.retry_after == 500
