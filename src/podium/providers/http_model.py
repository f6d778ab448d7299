"""A base for provider models that send through the vendor SDK's HTTP layer and parse JSON themselves.

The vendor SDK builds the HTTP request (endpoint, authentication, headers) and sends it with its own
``httpx`` client; the subclass's pure translation functions build the JSON body and turn the raw
response, or each stream payload, into universal values. No SDK model object is built per response
or per chunk, and sync and async share every line of translation.

Retries follow the model's :class:`~podium.providers.retry.RetryPolicy` (the SDK's own retries are
off). A stream is retried while nothing has reached the caller (:func:`~podium.providers.transport.guard.guarded_stream`).
Timeouts, content types and complete streams are checked as :mod:`podium.providers.transport.guard` describes:
a stream is complete at ``[DONE]`` or at the state's own terminal event (:attr:`StreamState.complete`).
An SSE ``event: error`` raises :meth:`HTTPModel.stream_error`: the status its body gives, not the 200.

Only provider modules import this.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Protocol

from podium.exceptions import ProviderError
from podium.messages import Message, ModelResponse
from podium.providers.base import Model, require_model_name
from podium.providers.profiles import ModelProfile
from podium.providers.raw_http import RawResponse, error_from_response, transport_error
from podium.providers.retry import RetryPolicy, call_with_retries, call_with_retries_async
from podium.providers.transport.errors import embedded_status, failed_generation_message, http_error
from podium.providers.transport.guard import (
    JSON,
    NDJSON,
    SSE,
    Deadline,
    afirst_bytes,
    aguarded_stream,
    aparsed,
    content_type_error,
    first_bytes,
    guarded_stream,
    http_timeouts,
    incomplete_stream,
    not_json,
    parsed,
    resolve_timeouts,
    wrong_content_type,
)
from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition
from podium.streaming import StreamDelta, StreamEvent

__all__ = ["HTTPModel", "StreamState"]


class StreamState(Protocol):
    """Turns the parsed payloads of one stream into deltas, then into the final response."""

    complete: bool
    """Whether the stream's own terminal event arrived (``[DONE]`` is seen by the transport)."""

    def feed(self, chunk: Any) -> list[StreamDelta]:
        """Take one parsed payload; return the deltas to forward."""
        ...

    def finish(self) -> ModelResponse:
        """The final response, once the stream ended."""
        ...


class HTTPModel(Model):
    """A model whose requests go through a vendor SDK's HTTP client as raw HTTP.

    Subclasses implement the body builder, the response parser, the stream state and the two
    ``_send`` methods that open a (possibly streaming) response through the SDK.
    """

    stream_format: str = "sse"
    """``sse`` (``data:`` lines) or ``ndjson`` (one JSON object per line)."""
    end_marker: str = "[DONE]"
    """The terminal signal of a stream, named in the error when a stream ends without it."""

    def __init__(
        self,
        model_name: str,
        *,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        timeouts: Timeouts | None = None,
    ):
        self.model_name = require_model_name(self.provider, model_name)
        self.retry = retry if retry is not None else RetryPolicy()
        """How failed requests are retried."""
        self.timeouts = timeouts
        """Connect, read and total timeouts (``None``: the defaults); :class:`ModelSettings` overrides them."""
        self._profile = profile

    # ------------------------------------------------------------------ to implement

    @abstractmethod
    def build_body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        settings: ModelSettings,
        output: OutputSchema | None,
        *,
        stream: bool,
    ) -> dict[str, Any]:
        """The JSON request body."""

    @abstractmethod
    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a parsed non-streaming response body."""

    @abstractmethod
    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""

    @abstractmethod
    def _send(self, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]) -> RawResponse:
        """Send ``body`` through the SDK's client; the response body is left unread (read as it arrives).

        ``stream`` says whether an event stream is asked for (the ``accept`` header and the like).
        ``timeouts`` are the ``connect``/``read``/``write``/``pool`` seconds for the request
        (``request.extensions["timeout"]`` of an ``httpx`` request).
        """

    @abstractmethod
    async def _asend(self, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]) -> RawResponse:
        """Async twin of :meth:`_send`."""

    def map_error(self, exc: Exception) -> ProviderError | None:
        """The Podium error for an exception the SDK raised, or ``None`` if it is not a provider failure."""
        return transport_error(exc, provider=self.provider, model=self.model_name)

    def stream_error(self, body: Any) -> ProviderError:
        """The error for an SSE ``event: error`` in a stream (whose HTTP status was 200).

        Its status is the one the body gives (:func:`~podium.providers.transport.errors.embedded_status`; 502 when it
        gives none), so it is the exception the same error would be as an HTTP answer.
        """
        status = embedded_status(body, 502)
        message = failed_generation_message(body)
        return http_error(status, body, provider=self.provider, model=self.model_name, message=message)

    # ------------------------------------------------------------------ shared machinery

    def _expected(self, stream: bool) -> tuple[str, ...]:
        if not stream:
            return JSON
        return NDJSON if self.stream_format == "ndjson" else SSE

    def _mapped(self, exc: Exception) -> ProviderError:
        mapped = self.map_error(exc)
        if mapped is None:
            raise exc
        return mapped

    def _open(self, body: dict[str, Any], stream: bool, timeouts: Timeouts) -> RawResponse:
        expected = self._expected(stream)
        try:
            response = self._send(body, stream=stream, timeouts=http_timeouts(timeouts, stream=stream))
            if response.status_code >= 400:
                try:
                    response.read()
                finally:
                    response.close()
                raise error_from_response(response, provider=self.provider, model=self.model_name)
            wrong = wrong_content_type(response.headers, expected)
            if wrong is not None:
                raise content_type_error(
                    wrong, expected, _peek(response), provider=self.provider, model=self.model_name
                )
        except ProviderError:
            raise
        except Exception as exc:
            raise self._mapped(exc) from exc
        return response

    async def _aopen(self, body: dict[str, Any], stream: bool, timeouts: Timeouts) -> RawResponse:
        expected = self._expected(stream)
        try:
            response = await self._asend(body, stream=stream, timeouts=http_timeouts(timeouts, stream=stream))
            if response.status_code >= 400:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
                raise error_from_response(response, provider=self.provider, model=self.model_name)
            wrong = wrong_content_type(response.headers, expected)
            if wrong is not None:
                raise content_type_error(
                    wrong, expected, await _apeek(response), provider=self.provider, model=self.model_name
                )
        except ProviderError:
            raise
        except Exception as exc:
            raise self._mapped(exc) from exc
        return response

    def _whole(self, body: dict[str, Any], timeouts: Timeouts) -> Any:
        """One whole-answer request: its JSON, read within the total timeout."""
        deadline = Deadline(timeouts, self.provider, self.model_name)
        response = self._open(body, False, timeouts)
        try:
            raw = b"".join(deadline.chunks(response.iter_bytes()))
        except ProviderError:
            raise
        except Exception as exc:
            raise self._mapped(exc) from exc
        finally:
            response.close()
        return self._loads(raw)

    async def _awhole(self, body: dict[str, Any], timeouts: Timeouts) -> Any:
        """Async twin of :meth:`_whole`."""
        deadline = Deadline(timeouts, self.provider, self.model_name)
        response = await self._aopen(body, False, timeouts)
        try:
            raw = b"".join([chunk async for chunk in deadline.achunks(response.aiter_bytes())])
        except ProviderError:
            raise
        except Exception as exc:
            raise self._mapped(exc) from exc
        finally:
            await response.aclose()
        return self._loads(raw)

    def _loads(self, payload: str | bytes) -> Any:
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise not_json(self.provider, self.model_name, payload) from exc

    def _prepare(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        settings: ModelSettings | None,
        output: OutputSchema | None,
        stream: bool,
    ) -> tuple[dict[str, Any], Timeouts]:
        resolved = settings if settings is not None else ModelSettings()
        body = self.build_body(messages, tools, resolved, output, stream=stream)
        return body, resolve_timeouts(self.timeouts, settings)

    def request(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Send ``messages`` and return the whole response."""
        body, timeouts = self._prepare(messages, tools, settings, output, False)
        return self.parse_response(call_with_retries(lambda: self._whole(body, timeouts), self.retry))

    async def arequest(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Async twin of :meth:`request`."""
        body, timeouts = self._prepare(messages, tools, settings, output, False)
        return self.parse_response(await call_with_retries_async(lambda: self._awhole(body, timeouts), self.retry))

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> Iterator[StreamEvent]:
        """Send ``messages``; yield deltas as they arrive, then the final response."""
        body, timeouts = self._prepare(messages, tools, settings, output, True)
        yield from guarded_stream(
            lambda deadline: self._stream_once(body, timeouts, deadline),
            self.retry,
            timeouts,
            provider=self.provider,
            model=self.model_name,
        )

    def _stream_once(self, body: dict[str, Any], timeouts: Timeouts, deadline: Deadline) -> Iterator[StreamEvent]:
        response = self._open(body, True, timeouts)
        state = self.stream_state()
        ended: list[bool] = []
        errors: list[str] = []
        try:
            lines = deadline.chunks(response.iter_lines())
            payloads = _ndjson(lines) if self.stream_format == "ndjson" else _sse(lines, ended, errors)
            feed = state.feed
            for chunk in parsed(
                payloads, json.loads, provider=self.provider, model=self.model_name, marker=self.end_marker
            ):
                yield from feed(chunk)
            if errors:
                raise self.stream_error(_error_body(errors[0]))
        except ProviderError:
            if not (ended or state.complete):  # after the end marker a failure does not matter
                raise
        except Exception as exc:
            error = self._mapped(exc)
            if not (ended or state.complete):
                raise error from exc
        finally:
            response.close()
        if not (ended or state.complete):
            raise incomplete_stream(self.provider, self.model_name, self.end_marker)
        yield state.finish()

    async def astream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream`."""
        body, timeouts = self._prepare(messages, tools, settings, output, True)
        events = aguarded_stream(
            lambda deadline: self._astream_once(body, timeouts, deadline),
            self.retry,
            timeouts,
            provider=self.provider,
            model=self.model_name,
        )
        async for event in events:
            yield event

    async def _astream_once(
        self, body: dict[str, Any], timeouts: Timeouts, deadline: Deadline
    ) -> AsyncIterator[StreamEvent]:
        response = await self._aopen(body, True, timeouts)
        state = self.stream_state()
        ended: list[bool] = []
        errors: list[str] = []
        try:
            lines = deadline.achunks(response.aiter_lines())
            payloads = _andjson(lines) if self.stream_format == "ndjson" else _asse(lines, ended, errors)
            feed = state.feed
            async for chunk in aparsed(
                payloads, json.loads, provider=self.provider, model=self.model_name, marker=self.end_marker
            ):
                for delta in feed(chunk):
                    yield delta
            if errors:
                raise self.stream_error(_error_body(errors[0]))
        except ProviderError:
            if not (ended or state.complete):  # after the end marker a failure does not matter
                raise
        except Exception as exc:
            error = self._mapped(exc)
            if not (ended or state.complete):
                raise error from exc
        finally:
            await response.aclose()
        if not (ended or state.complete):
            raise incomplete_stream(self.provider, self.model_name, self.end_marker)
        yield state.finish()


def _ndjson(lines: Iterator[str]) -> Iterator[str]:
    return (line for line in lines if line)


async def _andjson(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    async for line in lines:
        if line:
            yield line


def _error_body(data: str) -> Any:
    """An ``event: error`` payload: its JSON, or ``{"error": {"message": text}}`` when it is not JSON."""
    try:
        return json.loads(data)
    except ValueError:
        return {"error": {"message": data}}


def _sse(lines: Iterator[str], ended: list[bool], errors: list[str]) -> Iterator[str]:
    """The ``data:`` payloads of an SSE stream, up to ``[DONE]`` (then ``ended`` gets an item).

    The payload of an ``event: error`` event ends it and goes to ``errors``.
    """
    error_event = False
    for line in lines:
        if line[:5] == "data:":
            data = line[5:].strip()
            if data == "[DONE]":
                ended.append(True)
                return
            if data:
                if error_event:
                    errors.append(data)
                    return
                yield data
        elif line[:6] == "event:":
            error_event = line[6:].strip() == "error"
        elif not line:
            error_event = False


async def _asse(lines: AsyncIterator[str], ended: list[bool], errors: list[str]) -> AsyncIterator[str]:
    """Async twin of :func:`_sse`."""
    error_event = False
    async for line in lines:
        if line[:5] == "data:":
            data = line[5:].strip()
            if data == "[DONE]":
                ended.append(True)
                return
            if data:
                if error_event:
                    errors.append(data)
                    return
                yield data
        elif line[:6] == "event:":
            error_event = line[6:].strip() == "error"
        elif not line:
            error_event = False


def _peek(response: RawResponse) -> bytes:
    """The start of a streamed body (for an error message); closes the response."""
    try:
        return first_bytes(response.iter_bytes())
    finally:
        response.close()


async def _apeek(response: RawResponse) -> bytes:
    """Async twin of :func:`_peek`."""
    try:
        return await afirst_bytes(response.aiter_bytes())
    finally:
        await response.aclose()
