"""What every provider does to keep a request from hanging or from passing off a broken answer as whole.

One place for the rules, so that every provider module (whatever SDK carries its HTTP) applies them the
same way, sync and async:

* **Timeouts** (:class:`~podium.settings.Timeouts`: connect, read/idle, total).
  :func:`http_timeouts` gives the per-phase values for an ``httpx``-style client; a streamed answer waits
  at most ``read`` for each byte, a non-streamed one at most ``total`` (it arrives whole, after the model
  has finished). :class:`Deadline` enforces ``total`` on a stream between chunks.
* **Content types**: :func:`check_content_type` turns a 200 answer of the wrong type (an HTML page from a
  captive portal or proxy, JSON where a stream was asked for) into
  :class:`~podium.exceptions.InvalidResponseError` naming the type and the start of the body.
* **Complete streams**: each provider's stream translation knows its terminal signal (``[DONE]``,
  ``message_stop``, ``response.completed``, a finish reason, ``done: true``, ``messageStop`` ...); a stream
  that ends without it raises :func:`incomplete_stream`.
* **Broken payloads**: :func:`parsed` turns a stream payload that is not JSON into
  :class:`~podium.exceptions.InvalidResponseError`, or into an incomplete stream when it is the last thing
  the stream sent (cut in the middle of an event).
* **Retries of streams**: :func:`guarded_stream` runs one attempt of a stream at a time and retries a
  retryable failure only while nothing has been yielded to the caller; after that, the error carries
  what had arrived (``ProviderError.partial``) and is raised.

Only provider modules import this.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

from podium.exceptions import IncompleteStreamError
from podium.exceptions import InvalidResponseError
from podium.exceptions import ProviderError
from podium.exceptions import ProviderTimeoutError
from podium.messages import ModelResponse
from podium.providers.retry import RetryPolicy
from podium.providers.retry import retry_delay
from podium.providers.retry import retry_pause
from podium.providers.retry import retry_pause_async
from podium.settings import DEFAULT_TIMEOUTS
from podium.settings import ModelSettings
from podium.settings import Timeouts
from podium.streaming import ResponseBuilder
from podium.streaming import StreamEvent
from podium.streaming import TextDelta
from podium.streaming import ThinkingDelta
from podium.streaming import ToolCallDelta

__all__ = [
    "EVENTSTREAM",
    "JSON",
    "NDJSON",
    "SSE",
    "Deadline",
    "afirst_bytes",
    "aguarded_stream",
    "aparsed",
    "aread_whole",
    "check_content_type",
    "content_type_error",
    "first_bytes",
    "guarded_stream",
    "http_timeouts",
    "incomplete_stream",
    "not_json",
    "parsed",
    "partial_response",
    "read_whole",
    "resolve_timeouts",
    "timeouts_option",
    "wrong_content_type",
]

logger = logging.getLogger("podium.providers")

T = TypeVar("T")
P = TypeVar("P", str, bytes)

SSE = ("text/event-stream",)
"""The content type of a server-sent-event stream."""
JSON = ("application/json",)
"""The content type of a JSON answer (``application/<anything>+json`` is accepted too)."""
NDJSON = ("application/x-ndjson", "application/ndjson", "application/json")
"""Ollama's stream of JSON lines (older servers label it ``application/json``)."""
EVENTSTREAM = ("application/vnd.amazon.eventstream",)
"""AWS's binary event stream (Bedrock ``converse-stream``)."""


def resolve_timeouts(model: Timeouts | None, settings: ModelSettings | None) -> Timeouts:
    """The timeouts of one request: the model's (or the defaults), overridden by ``settings``."""
    return (model or DEFAULT_TIMEOUTS).merge(settings)


def timeouts_option(
    timeouts: Timeouts | None, options: dict[str, Any], key: str = "timeout", scale: float = 1.0
) -> Timeouts | None:
    """``timeouts``, or the SDK-style ``options[key]`` number (popped) taken as the total, capping the others.

    The SDKs take one ``timeout`` for every phase; Podium sets its own per request, so a number given the
    SDK way keeps its meaning (no phase longer than it) instead of being silently overridden.
    """
    value = options.pop(key, None)
    if timeouts is not None or value is None:
        return timeouts
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # an SDK timeout object: Podium's defaults apply
    return DEFAULT_TIMEOUTS.merge(ModelSettings(timeout=value * scale))


def http_timeouts(timeouts: Timeouts, *, stream: bool) -> dict[str, float]:
    """``connect``/``read``/``write``/``pool`` seconds for an ``httpx``-style client.

    A stream waits at most ``read`` for each piece; a non-streamed answer comes after the model finished,
    so its wait is bounded by the total instead (the idle timeout would cut long generations).
    """
    read = timeouts.read if stream else timeouts.total
    return {"connect": timeouts.connect, "read": read, "write": read, "pool": timeouts.total}


class Deadline:
    """The total timeout of one stream attempt, checked as chunks arrive."""

    __slots__ = ("_at", "model", "provider", "total")

    def __init__(self, timeouts: Timeouts, provider: str, model: str | None) -> None:
        self.total = timeouts.total
        self._at = time.monotonic() + timeouts.total
        self.provider = provider
        self.model = model

    def error(self) -> ProviderTimeoutError:
        """The error for a stream that ran past the deadline."""
        return ProviderTimeoutError(
            f"{self.provider} did not finish its answer within the total timeout of {self.total:g} s "
            "(raise Timeouts.total or ModelSettings.timeout for longer answers)",
            provider=self.provider,
            model=self.model,
        )

    def check(self) -> None:
        """Raise :class:`~podium.exceptions.ProviderTimeoutError` once the deadline has passed."""
        if time.monotonic() > self._at:
            raise self.error()

    def chunks(self, chunks: Iterable[T]) -> Iterator[T]:
        """``chunks``, raising the timeout error at the first one that arrives after the deadline."""
        at = self._at
        clock = time.monotonic
        for chunk in chunks:
            if clock() > at:
                raise self.error()
            yield chunk

    async def achunks(self, chunks: AsyncIterable[T]) -> AsyncIterator[T]:
        """Async twin of :meth:`chunks`."""
        at = self._at
        clock = time.monotonic
        async for chunk in chunks:
            if clock() > at:
                raise self.error()
            yield chunk


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        for key, item in headers.items():
            if key.lower() == name:
                return item
    return value


def _snippet(body: bytes | str | None, limit: int = 200) -> str:
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def wrong_content_type(headers: Mapping[str, str] | None, expected: tuple[str, ...]) -> str | None:
    """The content type of an answer when it is not one of ``expected``, else ``None`` (also when absent)."""
    value = _header(headers, "content-type")
    if not value:
        return None
    media = value.partition(";")[0].strip().lower()
    if media in expected or (expected is JSON and media.startswith("application/") and media.endswith("+json")):
        return None
    return value


def content_type_error(
    value: str, expected: tuple[str, ...], body: bytes | str | None, *, provider: str, model: str | None
) -> InvalidResponseError:
    """The error for a 200 answer of content type ``value``, naming it and the start of ``body``."""
    start = _snippet(body)
    hint = " (an HTML page: a captive portal, a proxy or a wrong base_url?)" if "html" in value.lower() else ""
    return InvalidResponseError(
        f"{provider} answered with content type {value!r} instead of {expected[0]!r}{hint}; the body starts: {start!r}",
        content_type=value,
        body=start,
        provider=provider,
        model=model,
    )


def first_bytes(chunks: Iterable[bytes], limit: int = 2000) -> bytes:
    """The first chunk of a body (for an error message), or ``b""`` when it cannot be read."""
    try:
        for chunk in chunks:
            return chunk[:limit]
    except Exception:  # the start of the body is a courtesy in a message: never fail on it
        logger.debug("could not read the start of a body", exc_info=True)
    return b""


async def afirst_bytes(chunks: AsyncIterable[bytes], limit: int = 2000) -> bytes:
    """Async twin of :func:`first_bytes`."""
    try:
        async for chunk in chunks:
            return chunk[:limit]
    except Exception:  # the start of the body is a courtesy in a message: never fail on it
        logger.debug("could not read the start of a body", exc_info=True)
    return b""


def check_content_type(
    headers: Mapping[str, str] | None,
    expected: tuple[str, ...],
    *,
    provider: str,
    model: str | None,
    body: bytes | str | Callable[[], bytes | str | None] | None = None,
) -> None:
    """Raise :class:`~podium.exceptions.InvalidResponseError` when a 200 answer has the wrong content type.

    A missing content type passes (the parser then decides). ``body`` (or a function that reads the start
    of it, called only on a mismatch) goes into the message.
    """
    value = wrong_content_type(headers, expected)
    if value is not None:
        start = body() if callable(body) else body
        raise content_type_error(value, expected, start, provider=provider, model=model)


def read_whole(
    response: Any, deadline: Deadline, expected: tuple[str, ...], *, provider: str, model: str | None
) -> bytes:
    """The whole body of an open ``httpx``-style response, its content type checked, read within the deadline."""
    wrong = wrong_content_type(response.headers, expected)
    if wrong is not None:
        raise content_type_error(wrong, expected, first_bytes(response.iter_bytes()), provider=provider, model=model)
    return b"".join(deadline.chunks(response.iter_bytes()))


async def aread_whole(
    response: Any, deadline: Deadline, expected: tuple[str, ...], *, provider: str, model: str | None
) -> bytes:
    """Async twin of :func:`read_whole`."""
    wrong = wrong_content_type(response.headers, expected)
    if wrong is not None:
        start = await afirst_bytes(response.aiter_bytes())
        raise content_type_error(wrong, expected, start, provider=provider, model=model)
    return b"".join([chunk async for chunk in deadline.achunks(response.aiter_bytes())])


def incomplete_stream(
    provider: str, model: str | None, marker: str, cut: bytes | str | None = None
) -> IncompleteStreamError:
    """The error for a stream that ended before its terminal signal ``marker`` (``cut``: a half-sent event)."""
    tail = f"; it ends in the middle of an event: {_snippet(cut)!r}" if cut else ""
    return IncompleteStreamError(
        f"the {provider} stream ended before its end marker ({marker}): the answer is cut off "
        f"(the connection closed early, or a proxy cut it){tail}",
        body=_snippet(cut) if cut else "",
        provider=provider,
        model=model,
    )


def not_json(provider: str, model: str | None, payload: bytes | str) -> InvalidResponseError:
    """The error for a payload (a whole body or a stream event) that should be JSON and is not."""
    start = _snippet(payload, 300)
    return InvalidResponseError(
        f"{provider} sent something that is not JSON (a proxy or a wrong base_url?): {start!r}",
        body=start,
        provider=provider,
        model=model,
    )


def parsed(
    payloads: Iterable[P], loads: Callable[[P], Any], *, provider: str, model: str | None, marker: str
) -> Iterator[Any]:
    """Each stream payload parsed as JSON.

    A payload that does not parse is an :class:`~podium.exceptions.InvalidResponseError`, unless it is the
    last thing the stream sent: then the stream was cut in the middle of an event, an incomplete stream.
    """
    bad: P | None = None
    for payload in payloads:
        if bad is not None:
            raise not_json(provider, model, bad)
        try:
            value = loads(payload)
        except ValueError:
            bad = payload
            continue
        yield value
    if bad is not None:
        raise incomplete_stream(provider, model, marker, bad)


async def aparsed(
    payloads: AsyncIterable[P], loads: Callable[[P], Any], *, provider: str, model: str | None, marker: str
) -> AsyncIterator[Any]:
    """Async twin of :func:`parsed`."""
    bad: P | None = None
    async for payload in payloads:
        if bad is not None:
            raise not_json(provider, model, bad)
        try:
            value = loads(payload)
        except ValueError:
            bad = payload
            continue
        yield value
    if bad is not None:
        raise incomplete_stream(provider, model, marker, bad)


def partial_response(events: list[StreamEvent], provider: str, model: str | None) -> ModelResponse:
    """What the deltas in ``events`` add up to, as a response with finish reason ``error``."""
    builder = ResponseBuilder()
    for event in events:
        if isinstance(event, TextDelta):
            builder.text(event.index, event.text)
        elif isinstance(event, ThinkingDelta):
            builder.thinking(event.index, event.text, event.signature)
        elif isinstance(event, ToolCallDelta):
            builder.tool_call(event.index, id=event.id, name=event.name, args_delta=event.args_delta)
    return builder.build(model=model, provider=provider, finish_reason="error")


def guarded_stream(
    attempt: Callable[[Deadline], Iterator[StreamEvent]],
    policy: RetryPolicy,
    timeouts: Timeouts,
    *,
    provider: str,
    model: str | None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[StreamEvent]:
    """The events of ``attempt(deadline)``, retried per ``policy`` while nothing has reached the caller.

    ``attempt`` opens the stream and yields its deltas and then the final response; it raises Podium's
    errors (an incomplete stream included). Once a delta has been yielded, an error is raised with
    ``partial`` set to what the deltas add up to.
    """
    tries = 0
    while True:
        events = attempt(Deadline(timeouts, provider, model))
        sent: list[StreamEvent] = []
        try:
            for event in events:
                if isinstance(event, ModelResponse):
                    yield event
                    return
                sent.append(event)
                yield event
            raise ProviderError(f"{provider}: the stream ended without a response", provider=provider, model=model)
        except ProviderError as exc:
            if sent:
                exc.partial = partial_response(sent, provider, model)
                raise
            tries += 1
            wait = retry_delay(policy, tries, exc, stream=True)
            if wait is None:
                raise
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        retry_pause(wait, sleep)


async def aguarded_stream(
    attempt: Callable[[Deadline], AsyncIterator[StreamEvent]],
    policy: RetryPolicy,
    timeouts: Timeouts,
    *,
    provider: str,
    model: str | None,
    sleep: Callable[[float], Awaitable[Any]] | None = None,
) -> AsyncIterator[StreamEvent]:
    """Async twin of :func:`guarded_stream`."""
    tries = 0
    while True:
        events = attempt(Deadline(timeouts, provider, model))
        sent: list[StreamEvent] = []
        try:
            async for event in events:
                if isinstance(event, ModelResponse):
                    yield event
                    return
                sent.append(event)
                yield event
            raise ProviderError(f"{provider}: the stream ended without a response", provider=provider, model=model)
        except ProviderError as exc:
            if sent:
                exc.partial = partial_response(sent, provider, model)
                raise
            tries += 1
            wait = retry_delay(policy, tries, exc, stream=True)
            if wait is None:
                raise
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        await retry_pause_async(wait, sleep)
