"""Retries with exponential backoff and jitter, honouring the provider's ``retry-after``.

On by default for rate limits (429), server errors (5xx, 529), timeouts and connection errors; the
SDKs' own retries are turned off so that there is one policy, configurable per model.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from podium.exceptions import ProviderError
from podium.exceptions import RateLimitError

__all__ = ["RetryPolicy", "call_with_retries", "call_with_retries_async"]

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

    def delay(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or ``None`` to give up."""
        if attempt > self.max_retries or not error.retryable:
            return None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return error.retry_after
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))


NO_RETRIES = RetryPolicy(max_retries=0)


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep) -> T:
    """``fn()``, retried per ``policy`` on retryable :class:`ProviderError` s."""
    attempt = 0
    while True:
        try:
            return fn()
        except ProviderError as exc:
            attempt += 1
            wait = policy.delay(attempt, exc)
            if wait is None:
                raise
            logger.info("retry %d/%d in %.2fs after %s", attempt, policy.max_retries, wait, exc)
            sleep(wait)


async def call_with_retries_async(fn: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Async twin of :func:`call_with_retries`."""
    import asyncio

    attempt = 0
    while True:
        try:
            return await fn()
        except ProviderError as exc:
            attempt += 1
            wait = policy.delay(attempt, exc)
            if wait is None:
                raise
            logger.info("retry %d/%d in %.2fs after %s", attempt, policy.max_retries, wait, exc)
            await asyncio.sleep(wait)
