"""The model side of a :class:`~podium.testing.faults.FaultPlan`: a wrapper that puts model faults in a run's way.

A remote model is copied with a fault-injecting HTTP transport (:mod:`podium.testing.fault_http`), so its
own wire code, error mapping and retries handle the faults; any other model gets the same typed errors
raised here, retried (if asked) through the same retry functions. Either way every retry the retry loop
decides is logged in the plan (:func:`~podium.providers.retry.watch_retries`) and not really waited for.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack, override

from podium.exceptions import (
    IncompleteStreamError,
    InvalidResponseError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
)
from podium.messages import Message, ModelResponse
from podium.providers.base import Model, RequestOptions
from podium.providers.profiles import ModelProfile
from podium.providers.retry import (
    NO_RETRIES,
    RetryPolicy,
    RetryWatch,
    call_with_retries,
    call_with_retries_async,
    watch_retries,
)
from podium.streaming import StreamEvent

if TYPE_CHECKING:
    from podium.providers.tokens import TokenCounter
    from podium.testing.faults import FaultPlan, ModelFault

__all__ = ["FaultyModel", "current_places", "faulty_model", "injected_error"]

_PLACES: contextvars.ContextVar[list[tuple[int, int]] | None] = contextvars.ContextVar(
    "podium_fault_places", default=None
)


def current_places() -> list[tuple[int, int]] | None:
    """The (position, order) list of the request being made under a :class:`FaultyModel`, if any."""
    return _PLACES.get()


def choose(plan: FaultPlan, target: str) -> ModelFault | None:
    """The fault the next request to ``target`` meets (logged in the plan); its place goes to the request's list."""
    position, seq, fault = plan.choose_model_fault(target)
    places = _PLACES.get()
    if places is not None:
        places.append((position, seq))
    return fault


def injected_error(fault: ModelFault, provider: str, model: str) -> ProviderError:
    """The typed error a fault stands for, as the HTTP path would raise it."""
    where: dict[str, Any] = {"provider": provider, "model": model}
    if fault.kind == "rate_limit":
        body = {"error": {"message": "injected rate limit", "type": "rate_limit_error"}}
        headers = {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        return RateLimitError(
            "injected rate limit", retry_after=fault.retry_after, status=429, body=body, headers=headers, **where
        )
    if fault.kind == "server_error":
        status = fault.status or 503
        body = {"error": {"message": "injected server error", "type": "server_error"}}
        return ServerError("injected server error", status=status, body=body, **where)
    if fault.kind == "timeout":
        return ProviderTimeoutError(f"{provider} did not answer in time (injected timeout)", **where)
    if fault.kind == "reset":
        if fault.fraction is None:
            return ProviderConnectionError(f"could not reach {provider} (injected connection reset)", **where)
        return ProviderConnectionError(
            f"the connection to {provider} broke in the middle of the answer (injected connection reset)", **where
        )
    return IncompleteStreamError(
        f"the {provider} stream ended before its end marker: the answer is cut off (injected cut)", **where
    )


class FaultyModel(Model):
    """``inner`` with a plan's model faults; what an agent under :meth:`FaultPlan.model` talks to.

    Args:
        plan: The plan that decides and logs.
        inner: The model that answers (for a remote model, its copy that sends through the fault transport).
        wire: Whether ``inner`` meets the faults in its own HTTP transport (else they are raised here).
        retry: The retries of a model that is not remote (``None``: none).
    """

    def __init__(self, plan: FaultPlan, inner: Model, *, wire: bool, retry: RetryPolicy | None = None) -> None:
        self.plan = plan
        self.inner = inner
        self.wire = wire
        self.retry = retry or NO_RETRIES
        """The retries of the faults raised here (a remote model retries with its own policy)."""
        self.provider = inner.provider
        self.model_name = inner.model_name
        self.timeouts = inner.timeouts
        self.target = f"{inner.provider}:{inner.model_name}"
        """The model in the plan's log."""

    @property
    @override
    def profile(self) -> ModelProfile:
        return self.inner.profile

    @override
    def token_counter(self) -> TokenCounter | None:
        return self.inner.token_counter()

    def __getattr__(self, name: str) -> Any:
        # what else the inner model offers (a local model's settings, a remote model's base_url ...)
        if name.startswith("__") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    @override
    def __repr__(self) -> str:
        return f"FaultyModel({self.target}, seed={self.plan.seed!r})"

    # ------------------------------------------------------------------ context of one request

    def _watch(self) -> RetryWatch:
        return RetryWatch(sleep=_no_wait, rng=self.plan.jitter)

    @contextmanager
    def _scope(self, places: list[tuple[int, int]], watch: RetryWatch) -> Iterator[None]:
        token = _PLACES.set(places)
        try:
            with watch_retries(watch=watch):
                yield
        finally:
            _PLACES.reset(token)

    def _log(self, watch: RetryWatch, places: Sequence[tuple[int, int]]) -> None:
        self.plan.record_retries(self.target, watch.attempts, places)

    # ------------------------------------------------------------------ one attempt, when not remote

    def _attempt(self, messages: Sequence[Message], options: RequestOptions) -> ModelResponse:
        fault = choose(self.plan, self.target)
        if fault is None:
            return self.inner.request(messages, **options)
        if fault.kind == "cut" or (fault.kind == "reset" and fault.fraction is not None):
            self.inner.request(messages, **options)  # the answer was made, then lost on the way
            if fault.kind == "cut":
                raise InvalidResponseError(
                    f"{self.provider} sent something that is not JSON: the answer is cut off (injected cut)",
                    provider=self.provider,
                    model=self.model_name,
                )
        raise injected_error(fault, self.provider, self.model_name)

    async def _aattempt(self, messages: Sequence[Message], options: RequestOptions) -> ModelResponse:
        fault = choose(self.plan, self.target)
        if fault is None:
            return await self.inner.arequest(messages, **options)
        if fault.kind == "cut" or (fault.kind == "reset" and fault.fraction is not None):
            await self.inner.arequest(messages, **options)
            if fault.kind == "cut":
                raise InvalidResponseError(
                    f"{self.provider} sent something that is not JSON: the answer is cut off (injected cut)",
                    provider=self.provider,
                    model=self.model_name,
                )
        raise injected_error(fault, self.provider, self.model_name)

    def _stream_attempt(self, messages: Sequence[Message], options: RequestOptions) -> Iterator[StreamEvent]:
        fault = choose(self.plan, self.target)
        if fault is None:
            yield from self.inner.stream(messages, **options)
            return
        if fault.fraction is None:  # before the answer
            raise injected_error(fault, self.provider, self.model_name)
        events = list(self.inner.stream(messages, **options))
        yield from _cut(events, fault.fraction)
        raise injected_error(fault, self.provider, self.model_name)

    async def _astream_attempt(
        self, messages: Sequence[Message], options: RequestOptions
    ) -> AsyncIterator[StreamEvent]:
        fault = choose(self.plan, self.target)
        if fault is None:
            async for event in self.inner.astream(messages, **options):
                yield event
            return
        if fault.fraction is None:
            raise injected_error(fault, self.provider, self.model_name)
        events = [event async for event in self.inner.astream(messages, **options)]
        for event in _cut(events, fault.fraction):
            yield event
        raise injected_error(fault, self.provider, self.model_name)

    # ------------------------------------------------------------------ the model interface

    @override
    def request(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        places: list[tuple[int, int]] = []
        watch = self._watch()
        try:
            with self._scope(places, watch):
                if self.wire:
                    return self.inner.request(messages, **options)
                return call_with_retries(lambda: self._attempt(messages, options), self.retry)
        finally:
            self._log(watch, places)

    @override
    async def arequest(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        places: list[tuple[int, int]] = []
        watch = self._watch()
        try:
            with self._scope(places, watch):
                if self.wire:
                    return await self.inner.arequest(messages, **options)
                return await call_with_retries_async(lambda: self._aattempt(messages, options), self.retry)
        finally:
            self._log(watch, places)

    def _events(self, messages: Sequence[Message], options: RequestOptions) -> Iterator[StreamEvent]:
        if self.wire:
            return self.inner.stream(messages, **options)
        from podium.providers.transport.guard import guarded_stream, resolve_timeouts

        timeouts = resolve_timeouts(self.timeouts, options.get("settings"))
        return guarded_stream(
            lambda _deadline: self._stream_attempt(messages, options),
            self.retry,
            timeouts,
            provider=self.provider,
            model=self.model_name,
        )

    def _aevents(self, messages: Sequence[Message], options: RequestOptions) -> AsyncIterator[StreamEvent]:
        if self.wire:
            return self.inner.astream(messages, **options)
        from podium.providers.transport.guard import aguarded_stream, resolve_timeouts

        timeouts = resolve_timeouts(self.timeouts, options.get("settings"))
        return aguarded_stream(
            lambda _deadline: self._astream_attempt(messages, options),
            self.retry,
            timeouts,
            provider=self.provider,
            model=self.model_name,
        )

    @override
    def stream(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> Iterator[StreamEvent]:
        places: list[tuple[int, int]] = []
        watch = self._watch()
        with ExitStack() as stack:
            with self._scope(places, watch):
                events = self._events(messages, options)
            stack.callback(self._log, watch, places)
            stack.callback(getattr(events, "close", _nothing))
            while True:
                with self._scope(places, watch):  # each step runs in the request's context, not across yields
                    event = next(events, None)
                if event is None:
                    return
                yield event

    @override
    async def astream(
        self, messages: Sequence[Message], **options: Unpack[RequestOptions]
    ) -> AsyncIterator[StreamEvent]:
        places: list[tuple[int, int]] = []
        watch = self._watch()
        events = self._aevents(messages, options)
        try:
            while True:
                with self._scope(places, watch):
                    try:
                        event = await events.__anext__()
                    except StopAsyncIteration:
                        return
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
            self._log(watch, places)


def _no_wait(seconds: float) -> None:
    """The wait between retries under a plan: none (the delay is in the plan's log)."""


def _nothing() -> None:
    return None


def _cut(events: list[StreamEvent], fraction: float) -> list[StreamEvent]:
    """The deltas of a whole stream that arrive before a cut after ``fraction`` of them (never the final response)."""
    deltas: list[StreamEvent] = [e for e in events if not isinstance(e, ModelResponse)]
    return deltas[: int(len(deltas) * fraction)]


def faulty_model(plan: FaultPlan, model: Model, retry: RetryPolicy | None) -> FaultyModel:
    """``model`` under ``plan``: a remote model's copy with the fault transport, any other wrapped as it is."""
    if isinstance(model, FaultyModel):
        from podium.exceptions import UserError

        raise UserError(f"{model!r} is already under a fault plan; wrap the original model")
    if "podium.providers.transport.model" in sys.modules:  # else no remote model exists (httpx2 stays unloaded)
        from podium.providers.transport.model import WireModel

        if isinstance(model, WireModel):
            from podium.testing.fault_http import with_fault_transport

            return FaultyModel(plan, with_fault_transport(plan, model, retry), wire=True)
    return FaultyModel(plan, model, wire=False, retry=retry)
