"""Retries with exponential backoff and jitter, honouring the provider's ``retry-after``.

On by default for rate limits (429), server errors (5xx, 529), timeouts and connection errors; the
SDKs' own retries are turned off so that there is one policy, configurable per model.

Every failed attempt of a request (whole or streamed) is reported to the :class:`RetryWatch` es active in
the current context (:func:`watch_retries`): a trace or a test reads what the retry loop did (attempt,
error, status, the delay it chose) without parsing logs, and a watch may replace the wait itself (a test
then sees a 30 s ``retry-after`` honoured without waiting 30 s) and the jitter's random source (the same
seed, the same delays).
"""

from __future__ import annotations

import contextvars
import logging
import random
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import TypeVar

from podium.exceptions import ProviderError
from podium.exceptions import RateLimitError

__all__ = [
    "RetryAttempt",
    "RetryPolicy",
    "RetryWatch",
    "call_with_retries",
    "call_with_retries_async",
    "retry_delay",
    "retry_pause",
    "retry_pause_async",
    "watch_retries",
]

logger = logging.getLogger("podium.providers")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How to retry failed requests."""

    max_retries: int = 3
    """Retries after the first attempt (0 turns retries off)."""
    initial_delay: float = 0.5
    """Delay before the first retry, in seconds."""
    max_delay: float = 30.0
    """Longest delay between attempts (a longer ``retry-after`` is still honoured up to ``max_retry_after``)."""
    multiplier: float = 2.0
    """Growth of the delay per attempt."""
    jitter: float = 0.25
    """Random fraction added to or removed from each delay."""
    max_retry_after: float = 120.0
    """Give up instead of waiting longer than this for a ``retry-after``."""

    def delay(self, attempt: int, error: ProviderError, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or ``None`` to give up.

        ``rng`` draws the jitter (default: the ``random`` module).
        """
        if attempt > self.max_retries or not error.retryable:
            return None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return error.retry_after
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return max(0.0, base * (1 + (rng or random).uniform(-self.jitter, self.jitter)))


NO_RETRIES = RetryPolicy(max_retries=0)


@dataclass(frozen=True, slots=True)
class RetryAttempt:
    """One failed attempt of a request, as the retry loop saw it."""

    attempt: int
    """Which attempt failed (1 is the first request, 2 the first retry ...)."""
    error: str
    """The class name of the error (``RateLimitError``, ``ServerError`` ...)."""
    status: int | None
    """The HTTP status of the error, when it had one."""
    delay: float | None
    """Seconds waited before the next attempt; ``None``: no retry, the error was raised."""
    retry_after: float | None = None
    """The wait the provider asked for (a 429's ``retry-after``), if any."""
    stream: bool = False
    """Whether the request was a stream (retried only while nothing had reached the caller)."""
    message: str = ""
    """The error's message (scrubbed of secrets like every provider error)."""


@dataclass(eq=False)
class RetryWatch:
    """Sees every failed attempt of the requests made in its context (see :func:`watch_retries`)."""

    attempts: list[RetryAttempt] = field(default_factory=list)
    """The failed attempts, in order (appended from whichever thread or task made the request)."""
    sleep: Callable[[float], object] | None = None
    """Called instead of waiting between attempts (sync and async requests alike); ``None``: really wait."""
    rng: random.Random | None = None
    """Draws the jitter of the delays, so that a seeded watch gives the same delays every time."""


_WATCHES: contextvars.ContextVar[tuple[RetryWatch, ...]] = contextvars.ContextVar("podium_retry_watches", default=())


@contextmanager
def watch_retries(
    *,
    sleep: Callable[[float], object] | None = None,
    rng: random.Random | None = None,
    watch: RetryWatch | None = None,
) -> Iterator[RetryWatch]:
    """Record the failed attempts of the requests made inside the ``with`` block.

    Watches nest (each sees every attempt); the innermost one with a ``sleep`` (or ``rng``) provides it.
    ``watch`` activates an existing watch again (``sleep`` and ``rng`` are then its own): a generator that
    steps in and out of the context, one event at a time, keeps one record.
    The context is the one of ``contextvars``: requests made by tasks or ``asyncio.to_thread`` calls
    started inside the block are seen, threads started without copying the context are not.

    Example::

        with watch_retries(sleep=lambda s: None) as watch:   # no real waiting
            model.request(messages)
        print([(a.attempt, a.error, a.status, a.delay) for a in watch.attempts])
    """
    if watch is None:
        watch = RetryWatch(sleep=sleep, rng=rng)
    token = _WATCHES.set((*_WATCHES.get(), watch))
    try:
        yield watch
    finally:
        _WATCHES.reset(token)


def _innermost(name: str) -> object | None:
    for watch in reversed(_WATCHES.get()):
        value: object = getattr(watch, name)
        if value is not None:
            return value
    return None


def retry_delay(policy: RetryPolicy, attempt: int, error: ProviderError, *, stream: bool = False) -> float | None:
    """The wait before retrying after failed attempt ``attempt`` (``None``: give up), logged and reported.

    The one place the retry loops (whole requests here, streams in the transport's guard) decide, so that
    every watch sees every attempt.
    """
    rng = _innermost("rng")
    wait = policy.delay(attempt, error, rng if isinstance(rng, random.Random) else None)
    if wait is not None:
        what = "retry %d/%d of a stream in %.2fs after %s" if stream else "retry %d/%d in %.2fs after %s"
        logger.info(what, attempt, policy.max_retries, wait, error)
    watches = _WATCHES.get()
    if watches:
        record = RetryAttempt(
            attempt=attempt,
            error=type(error).__name__,
            status=getattr(error, "status", None),
            delay=wait,
            retry_after=getattr(error, "retry_after", None),
            stream=stream,
            message=str(error),
        )
        for watch in watches:
            watch.attempts.append(record)
    return wait


def retry_pause(wait: float, sleep: Callable[[float], object] = time.sleep) -> None:
    """Wait ``wait`` seconds before a retry: with ``sleep``, unless a watch replaces the wait."""
    override = _innermost("sleep")
    (override if callable(override) else sleep)(wait)


async def retry_pause_async(wait: float, sleep: Callable[[float], Awaitable[object]] | None = None) -> None:
    """Async twin of :func:`retry_pause` (a watch's ``sleep`` is called, then the loop gets a turn)."""
    import asyncio

    override = _innermost("sleep")
    if callable(override):
        override(wait)
        await asyncio.sleep(0)
        return
    await (sleep or asyncio.sleep)(wait)


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep) -> T:
    """``fn()``, retried per ``policy`` on retryable :class:`ProviderError` s."""
    attempt = 0
    while True:
        try:
            return fn()
        except ProviderError as exc:
            attempt += 1
            wait = retry_delay(policy, attempt, exc)
            if wait is None:
                raise
            retry_pause(wait, sleep)


async def call_with_retries_async(fn: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Async twin of :func:`call_with_retries`."""
    attempt = 0
    while True:
        try:
            return await fn()
        except ProviderError as exc:
            attempt += 1
            wait = retry_delay(policy, attempt, exc)
            if wait is None:
                raise
            await retry_pause_async(wait)
