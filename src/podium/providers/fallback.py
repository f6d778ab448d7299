"""A model that answers with the first of several models that does not fail: a fallback chain.

::

    from podium import Agent
    from podium.providers import FallbackModel

    agent = Agent(FallbackModel("openai:gpt-4o", "anthropic:claude-sonnet-4-5"))

Each request goes to the primary model first; when it fails with an error that should fall through, the
next model is asked, and so on. By default that is an error retrying may help
(:attr:`~podium.exceptions.ProviderError.retryable`): rate limits, 5xx and overloaded errors, timeouts,
connection errors, and invalid or cut-off answers. A 400, an authentication error or a wrong setting is
raised at once (the next model would most likely fail the same way, or the mistake should be seen);
``fallback_on`` changes that. Every request starts again at the primary.

Rules:

* **Streams** fall through only while nothing has reached the caller. Once a delta has been yielded, an
  error is raised as it is, with what had arrived in ``ProviderError.partial``: the caller has shown it,
  and another model's answer cannot continue it.
* A model's own retries (its :class:`~podium.providers.retry.RetryPolicy`) run before the chain moves on;
  give the primary ``retry=RetryPolicy(max_retries=0)`` to move on at once.
* **Which model answered**: the response's ``model`` and ``provider`` are that model's (so the history
  says which provider produced each turn, and switching rules apply on the next turn), and
  ``provider_details["fallback"]`` records the chain: ``{"model": "anthropic:claude-sonnet-4-5", "index": 1,
  "failed": [{"model": "openai:gpt-4o", "error": "RateLimitError", "message": "...", "status": 429}]}``.
* **Capabilities** (:attr:`FallbackModel.profile`) are the primary's: the agent picks its output mode and
  budgets its context from them. Choose fallbacks that can do at least what the primary is relied on for.
* Model strings (``"provider:model"``) are resolved when the model is first needed, so a fallback's SDK is
  imported only if the chain reaches it.
* Every fall-through is logged (logger ``podium.providers.fallback``, level WARNING) with the model, the
  error and the model tried next. When every model fails, the last error is raised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from typing import TypeAlias

from typing_extensions import Unpack
from typing_extensions import override

from podium.exceptions import ProviderError
from podium.exceptions import ProviderHTTPError
from podium.exceptions import UserError
from podium.messages import Message
from podium.messages import ModelResponse
from podium.providers.base import Model
from podium.providers.base import RequestOptions
from podium.providers.profiles import ModelProfile
from podium.providers.transport.guard import partial_response
from podium.streaming import StreamEvent
from podium.usage import stored_cost

__all__ = ["FallbackModel", "FallbackOn", "falls_through"]

logger = logging.getLogger("podium.providers.fallback")

FallbackOn: TypeAlias = "type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]"
"""Which errors fall through to the next model: exception classes, or a predicate taking the exception."""

DETAILS_KEY = "fallback"
"""The key of :attr:`ModelResponse.provider_details` where the chain is recorded."""


def falls_through(error: BaseException) -> bool:
    """The default of ``fallback_on``: a provider error that retrying may help (rate limit, 5xx, timeout ...)."""
    return isinstance(error, ProviderError) and error.retryable


def _predicate(fallback_on: FallbackOn) -> Callable[[BaseException], bool]:
    if isinstance(fallback_on, (tuple, type)):
        kinds = fallback_on if isinstance(fallback_on, tuple) else (fallback_on,)
        for kind in kinds:
            if not (isinstance(kind, type) and issubclass(kind, BaseException)):
                raise UserError(f"fallback_on: {kind!r} is not an exception class")
        return lambda error: isinstance(error, kinds)
    if callable(fallback_on):
        return fallback_on
    raise UserError(
        f"fallback_on must be an exception class, a tuple of them, or a function of the error; got {fallback_on!r}"
    )


def _spec(model: Model | str) -> str:
    return model if isinstance(model, str) else f"{model.provider}:{model.model_name}"


class FallbackModel(Model):
    """A model that asks ``primary``, then each of ``fallbacks`` in turn while they fail.

    Example::

        model = FallbackModel("openai:gpt-4o", "anthropic:claude-sonnet-4-5")
        response = model.request([Message.user("Hello")])
        print(response.provider, response.provider_details["fallback"])
    """

    provider = "fallback"

    def __init__(
        self,
        primary: Model | str,
        *fallbacks: Model | str,
        fallback_on: FallbackOn = falls_through,
    ) -> None:
        """Chain ``primary`` and ``fallbacks``.

        Args:
            primary: The model asked first: a :class:`~podium.providers.base.Model`, or a
                ``"provider:model"`` string resolved on first use.
            *fallbacks: The models asked next, in order, when the one before fails.
            fallback_on: Which errors move on to the next model: exception classes, or a function that
                takes the error and says whether to move on. The default, :func:`falls_through`, moves on
                for errors that retrying may help (rate limits, 5xx, timeouts, connection errors, invalid
                or cut-off answers). A stream moves on only while nothing has reached the caller.

        Raises:
            UserError: no fallback was given, a model is neither a ``Model`` nor a string, or
                ``fallback_on`` is not a class, a tuple of classes or a function.
        """
        chain = (primary, *fallbacks)
        if not fallbacks:
            raise UserError("FallbackModel needs at least one fallback: FallbackModel(primary, fallback, ...)")
        for item in chain:
            if not isinstance(item, (Model, str)):
                raise UserError(
                    f"FallbackModel takes models or 'provider:model' strings, got {type(item).__name__}: {item!r}"
                )
        self._chain: list[Model | str] = list(chain)
        self._lock = threading.Lock()
        self._falls_through = _predicate(fallback_on)
        self.model_name = " | ".join(_spec(item) for item in chain)

    # ------------------------------------------------------------------ the chain

    @property
    def models(self) -> list[Model]:
        """The models of the chain, primary first (resolving any given as strings)."""
        return [self._model(index) for index in range(len(self._chain))]

    def _model(self, index: int) -> Model:
        item = self._chain[index]
        if isinstance(item, Model):
            return item
        with self._lock:
            item = self._chain[index]
            if isinstance(item, str):
                from podium.providers.registry import model as resolve

                item = self._chain[index] = resolve(item)
        return item

    @property
    @override
    def profile(self) -> ModelProfile:
        """The primary model's capabilities (see the module docstring)."""
        return self._model(0).profile

    def _failed(self, index: int, error: BaseException, failed: list[dict[str, Any]]) -> bool:
        """Whether to move on after model ``index`` failed with ``error`` (recorded and logged if so)."""
        if index == len(self._chain) - 1 or not self._falls_through(error):
            if failed:
                logger.warning(
                    "fallback: %s failed too (%s: %s); no model left to try",
                    _spec(self._chain[index]),
                    type(error).__name__,
                    error,
                )
            return False
        record: dict[str, Any] = {
            "model": _spec(self._chain[index]),
            "error": type(error).__name__,
            "message": str(error)[:500],
        }
        if isinstance(error, ProviderHTTPError):
            record["status"] = error.status
        failed.append(record)
        logger.warning(
            "fallback: %s failed (%s: %s); trying %s",
            record["model"],
            record["error"],
            error,
            _spec(self._chain[index + 1]),
        )
        return True

    def _answered(self, response: ModelResponse, index: int, failed: list[dict[str, Any]]) -> ModelResponse:
        record = {"model": _spec(self._chain[index]), "index": index, "failed": failed}
        details = {**(response.provider_details or {}), DETAILS_KEY: record}
        return replace(response, provider_details=details, cost=stored_cost(response))

    # ------------------------------------------------------------------ Model

    @override
    def request(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        """The first answer in the chain (see the module docstring)."""
        failed: list[dict[str, Any]] = []
        for index in range(len(self._chain)):
            try:
                response = self._model(index).request(messages, **options)
            except Exception as error:
                if not self._failed(index, error, failed):
                    raise
                continue
            return self._answered(response, index, failed)
        raise AssertionError("unreachable: the last model's error is raised")  # pragma: no cover

    @override
    async def arequest(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        """Async twin of :meth:`request`."""
        failed: list[dict[str, Any]] = []
        for index in range(len(self._chain)):
            try:
                model = self._model(index)
                response = await model.arequest(messages, **options)
            except Exception as error:
                if not self._failed(index, error, failed):
                    raise
                continue
            return self._answered(response, index, failed)
        raise AssertionError("unreachable: the last model's error is raised")  # pragma: no cover

    @override
    def stream(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> Iterator[StreamEvent]:
        """The first stream in the chain that starts; it moves on only while nothing reached the caller."""
        failed: list[dict[str, Any]] = []
        for index in range(len(self._chain)):
            sent: list[StreamEvent] = []
            events: Iterator[StreamEvent] | None = None
            try:
                model = self._model(index)
                events = model.stream(messages, **options)
                for event in events:
                    if isinstance(event, ModelResponse):
                        yield self._answered(event, index, failed)
                        return
                    sent.append(event)
                    yield event
                raise ProviderError(f"{_spec(model)}: the stream ended without a response", provider=model.provider)
            except Exception as error:
                if sent:
                    _keep_partial(error, sent, self._chain[index])
                    raise
                if not self._failed(index, error, failed):
                    raise
            finally:
                close = getattr(events, "close", None)
                if close is not None:
                    close()

    @override
    async def astream(
        self, messages: Sequence[Message], **options: Unpack[RequestOptions]
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream`."""
        failed: list[dict[str, Any]] = []
        for index in range(len(self._chain)):
            sent: list[StreamEvent] = []
            events: AsyncIterator[StreamEvent] | None = None
            try:
                model = self._model(index)
                events = model.astream(messages, **options)
                async for event in events:
                    if isinstance(event, ModelResponse):
                        yield self._answered(event, index, failed)
                        return
                    sent.append(event)
                    yield event
                raise ProviderError(f"{_spec(model)}: the stream ended without a response", provider=model.provider)
            except Exception as error:
                if sent:
                    _keep_partial(error, sent, self._chain[index])
                    raise
                if not self._failed(index, error, failed):
                    raise
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()

    def __repr__(self) -> str:
        return f"FallbackModel({', '.join(_spec(item) for item in self._chain)})"


def _keep_partial(error: BaseException, sent: list[StreamEvent], model: Model | str) -> None:
    """Make sure a provider error raised mid-stream carries what had reached the caller."""
    if isinstance(error, ProviderError) and error.partial is None:
        provider = model.provider if isinstance(model, Model) else model.partition(":")[0]
        name = model.model_name if isinstance(model, Model) else model.partition(":")[2]
        error.partial = partial_response(sent, provider, name)
