"""A provider rate limit shared by every worker of a batch: 429s slow everyone down instead of failing tasks.

:class:`RateState` is the shared state (one per batch: in the driver process for the local engine, inside a
Ray actor for the Ray engine). Every model request of every task first asks it for a start time
(:meth:`RateState.reserve`), and reports a 429 (:meth:`RateState.throttled`) or a success
(:meth:`RateState.succeeded`):

* **Retry-after**: a 429 holds back *every* worker until the provider's ``retry-after`` has passed (or an
  exponential backoff, 0.5 s doubling to 30 s, when the provider gave none), not only the request that got it.
* **Slow down**: the rate is cut to three quarters of what was getting through (measured over the last 2
  seconds, or the current limit), at most once per second, so a burst of 429s from requests already in
  flight counts once.
* **Recover**: the rate grows back by a fifth of the best rate seen (or the configured ``rate``) per second,
  until it is back at the configured ``rate`` (or, with none, unlimited again once it reaches the best rate
  seen). Additive increase, multiplicative decrease: a provider's real limit is found and followed; a
  provider that rejects a share of requests whatever the rate slows the batch but does not stall it.

:class:`LimitedModel` wraps a task's model: it waits for its start time, turns off the model's own retries
of 429 (the shared limiter handles them, a model's retry policy keeps retrying 5xx and timeouts), and
retries a rate-limited request up to ``max_waits`` times. Its :attr:`LimitedModel.rate_limited` and
:attr:`LimitedModel.waited` are the task's share, written into its result.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from typing_extensions import Unpack, override

from podium.exceptions import ProviderError, RateLimitError, UserError
from podium.messages import Message, ModelResponse
from podium.providers.base import Model, RequestOptions
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy
from podium.streaming import StreamEvent

__all__ = ["LimitedModel", "Limiter", "LocalLimiter", "RateState", "without_rate_limit_retries"]

logger = logging.getLogger("podium.batch")

_WINDOW = 2.0  # seconds over which the rate getting through is measured
_COOLDOWN = 1.0  # at most one cut per this many seconds
_CUT = 0.75  # a cut keeps this share of the rate
_RECOVERY = 0.2  # the rate grows by this share of the best rate seen, per second
_MIN_RATE = 0.2  # requests per second: never slower than this
_BACKOFF_START, _BACKOFF_MAX = 0.5, 30.0


class RateState:
    """The shared limit: start times for requests, slowed by 429s and recovering (see the module docstring).

    Args:
        rate: Requests per second at most (``None``: no limit until a 429 is seen).
        clock: The clock (``time.monotonic``; tests give their own).
    """

    def __init__(self, rate: float | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate is not None and rate <= 0:
            raise UserError(f"rate must be a positive number of requests per second, not {rate!r}")
        self.ceiling = rate
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._next = 0.0
        self._paused_until = 0.0
        self._starts: deque[float] = deque()
        self._born: float | None = None
        self._peak = 0.0
        self._last_cut = -1e9
        self._last_growth = 0.0
        self._streak = 0
        self.requests = 0
        self.rate_limited = 0
        self.waited = 0.0
        self.paused = 0.0
        self.cuts = 0
        self.lowest: float | None = None

    def _grow(self, now: float) -> None:
        """Additive recovery: a fifth of the best rate seen, per second since the last change."""
        if self.rate is None:
            return
        best = max(self._peak, self.ceiling or 0.0, 10 * _MIN_RATE)
        self.rate += _RECOVERY * best * max(0.0, now - self._last_growth)
        self._last_growth = now
        if self.ceiling is not None:
            self.rate = min(self.rate, self.ceiling)
        elif self.rate >= best:
            self.rate = None  # recovered: no limit again

    def _through(self, now: float) -> float:
        """Requests per second started over the last window (or since the first request, if sooner)."""
        if self._born is None:
            return 0.0
        span = min(_WINDOW, max(now - self._born, 1.0))
        return sum(1 for t in self._starts if now - _WINDOW <= t <= now) / span

    def reserve(self) -> float:
        """Seconds the caller must wait before it sends its request (its slot is taken)."""
        with self._lock:
            now = self._clock()
            if self._born is None:
                self._born = now
            self._grow(now)
            start = max(now, self._paused_until)
            if self.rate is not None:
                start = max(start, self._next)
                self._next = start + 1.0 / self.rate
            self._starts.append(start)
            while self._starts and self._starts[0] < now - _WINDOW:
                self._starts.popleft()
            self._peak = max(self._peak, self._through(now))
            self.requests += 1
            wait: float = start - now
            self.waited += wait
            return wait

    def throttled(self, retry_after: float | None) -> None:
        """A request got a 429: hold everyone back for ``retry_after`` and cut the rate."""
        with self._lock:
            now = self._clock()
            self.rate_limited += 1
            self._streak += 1
            pause = retry_after if retry_after is not None else _BACKOFF_START * 2 ** (self._streak - 1)
            pause = min(max(pause, 0.0), _BACKOFF_MAX)
            if now + pause > self._paused_until:
                self.paused += now + pause - max(now, self._paused_until)
                self._paused_until = now + pause
            if now - self._last_cut < _COOLDOWN:
                return
            through = self._through(now)
            current = self.rate if self.rate is not None else through
            self.rate = max(_MIN_RATE, min(current, max(through, _MIN_RATE)) * _CUT)
            self._next = max(self._next, self._paused_until)
            self.cuts += 1
            self.lowest = self.rate if self.lowest is None else min(self.lowest, self.rate)
            self._last_cut = self._last_growth = now
            logger.info("rate limited: %.1f req/s for everyone, all paused %.2fs", self.rate, pause)

    def succeeded(self) -> None:
        """A request went through (resets the backoff of 429s without ``retry-after``)."""
        with self._lock:
            self._streak = 0

    def stats(self) -> dict[str, Any]:
        """Counters: requests, 429s, seconds waited (all requests) and paused (everyone), rates, cuts."""
        with self._lock:
            return {
                "requests": self.requests,
                "rate_limited": self.rate_limited,
                "waited": round(self.waited, 3),
                "paused": round(self.paused, 3),
                "cuts": self.cuts,
                "rate": None if self.rate is None else round(self.rate, 2),
                "lowest_rate": None if self.lowest is None else round(self.lowest, 2),
                "peak_rate": round(self._peak, 2),
            }


class Limiter(Protocol):
    """What a :class:`LimitedModel` asks: the engine's shared limit (in-process, or a Ray actor)."""

    async def reserve(self) -> float:
        """Seconds to wait before sending (the slot is taken)."""
        ...

    async def throttled(self, retry_after: float | None) -> None:
        """Report a 429."""
        ...

    async def succeeded(self) -> None:
        """Report a request that went through."""
        ...


@dataclass
class LocalLimiter:
    """A :class:`Limiter` over a :class:`RateState` in this process."""

    state: RateState

    async def reserve(self) -> float:
        """See :meth:`RateState.reserve`."""
        return self.state.reserve()

    async def throttled(self, retry_after: float | None) -> None:
        """See :meth:`RateState.throttled`."""
        self.state.throttled(retry_after)

    async def succeeded(self) -> None:
        """See :meth:`RateState.succeeded`."""
        self.state.succeeded()


@dataclass(frozen=True, slots=True)
class _NoRateLimitRetries(RetryPolicy):
    """A model's retry policy, except for 429s: those go to the shared limiter."""

    def delay(self, attempt: int, error: ProviderError, rng: random.Random | None = None) -> float | None:
        """``None`` for a rate limit, else what the model's own policy says."""
        if isinstance(error, RateLimitError):
            return None
        return RetryPolicy.delay(self, attempt, error, rng)


def without_rate_limit_retries(model: Model) -> Model:
    """A shallow copy of ``model`` (same connections) that does not retry 429s itself; others as they are."""
    policy = getattr(model, "retry", None)
    if not isinstance(policy, RetryPolicy) or isinstance(policy, _NoRateLimitRetries):
        return model
    clone = copy.copy(model)
    fields = {name: getattr(policy, name) for name in RetryPolicy.__dataclass_fields__}
    clone.retry = _NoRateLimitRetries(**fields)  # type: ignore[attr-defined]
    return clone


class LimitedModel(Model):
    """``model`` with every request going through a shared :class:`Limiter` (see the module docstring).

    Async only: the batch engines drive agents with ``agent.arun``.

    Args:
        model: The model to wrap (use :func:`without_rate_limit_retries` on it first).
        limiter: The batch's shared limit.
        max_waits: 429s one request may get before its error is raised (the task's retries take over).
    """

    def __init__(self, model: Model, limiter: Limiter, *, max_waits: int = 20) -> None:
        self.inner = model
        self.limiter = limiter
        self.max_waits = max_waits
        self.provider = model.provider
        self.model_name = model.model_name
        self.timeouts = model.timeouts
        self.rate_limited = 0
        """429s this model's requests got."""
        self.waited = 0.0
        """Seconds its requests waited for the shared limit."""

    @property
    @override
    def profile(self) -> ModelProfile:
        """The wrapped model's."""
        return self.inner.profile

    @override
    def token_counter(self) -> Any:
        """The wrapped model's."""
        return self.inner.token_counter()

    async def _slot(self) -> None:
        wait = await self.limiter.reserve()
        if wait > 0:
            self.waited += wait
            await asyncio.sleep(wait)

    async def _limited(self, error: RateLimitError, waits: int) -> None:
        self.rate_limited += 1
        await self.limiter.throttled(error.retry_after)
        if waits >= self.max_waits:
            raise error

    @override
    async def arequest(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        """The wrapped model's answer, once the shared limit lets the request go."""
        waits = 0
        while True:
            await self._slot()
            try:
                response = await self.inner.arequest(messages, **options)
            except RateLimitError as error:
                waits += 1
                await self._limited(error, waits)
                continue
            await self.limiter.succeeded()
            return response

    @override
    async def astream(
        self, messages: Sequence[Message], **options: Unpack[RequestOptions]
    ) -> AsyncIterator[StreamEvent]:
        """The wrapped model's stream, once the shared limit lets it start (a 429 comes before any delta)."""
        waits = 0
        while True:
            await self._slot()
            started = False
            try:
                async for event in self.inner.astream(messages, **options):
                    started = True
                    yield event
            except RateLimitError as error:
                if started:
                    raise
                waits += 1
                await self._limited(error, waits)
                continue
            await self.limiter.succeeded()
            return

    @override
    def request(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        """Not available: a limited model is driven by the async driver."""
        raise UserError("a LimitedModel works with the async driver only (agent.arun / agent.astream)")

    @override
    def stream(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> Iterator[StreamEvent]:
        """Not available: a limited model is driven by the async driver."""
        raise UserError("a LimitedModel works with the async driver only (agent.arun / agent.astream)")

    def __repr__(self) -> str:
        return f"LimitedModel({self.inner!r})"
