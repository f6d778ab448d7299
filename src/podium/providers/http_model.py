"""A base for provider models that send through the vendor SDK's HTTP layer and parse JSON themselves.

The vendor SDK builds the HTTP request (endpoint, authentication, headers) and sends it with its own
``httpx`` client; the subclass's pure translation functions build the JSON body and turn the raw
response, or each stream payload, into universal values. No SDK model object is built per response
or per chunk (issue 6), and sync and async share every line of translation.

Retries follow the model's :class:`~podium.providers.retry.RetryPolicy` (the SDK's own retries are
off). A stream is retried only while it is being opened, never after data arrived.

Only provider modules import this.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Protocol

from podium.exceptions import ProviderError
from podium.messages import Message, ModelResponse
from podium.providers.base import Model
from podium.providers.profiles import ModelProfile
from podium.providers.raw_http import (
    RawResponse,
    aiter_sse_data,
    error_from_response,
    iter_sse_data,
    transport_error,
)
from podium.providers.retry import RetryPolicy, call_with_retries, call_with_retries_async
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import StreamDelta, StreamEvent

__all__ = ["HTTPModel", "StreamState"]


class StreamState(Protocol):
    """Turns the parsed payloads of one stream into deltas, then into the final response."""

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

    def __init__(self, model_name: str, *, retry: RetryPolicy | None = None, profile: ModelProfile | None = None):
        self.model_name = model_name
        self.retry = retry if retry is not None else RetryPolicy()
        """How failed requests are retried."""
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
    def _send(self, body: dict[str, Any], *, stream: bool, timeout: float | None) -> RawResponse:
        """Send ``body`` through the SDK's client; the response body is left unread when ``stream``."""

    @abstractmethod
    async def _asend(self, body: dict[str, Any], *, stream: bool, timeout: float | None) -> RawResponse:
        """Async twin of :meth:`_send`."""

    def map_error(self, exc: Exception) -> ProviderError | None:
        """The Podium error for an exception the SDK raised, or ``None`` if it is not a provider failure."""
        return transport_error(exc, provider=self.provider, model=self.model_name)

    # ------------------------------------------------------------------ shared machinery

    def _open(self, body: dict[str, Any], stream: bool, timeout: float | None) -> RawResponse:
        try:
            response = self._send(body, stream=stream, timeout=timeout)
            if response.status_code >= 400:
                try:
                    response.read()
                finally:
                    response.close()
                raise error_from_response(response, provider=self.provider, model=self.model_name)
        except ProviderError:
            raise
        except Exception as exc:
            mapped = self.map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return response

    async def _aopen(self, body: dict[str, Any], stream: bool, timeout: float | None) -> RawResponse:
        try:
            response = await self._asend(body, stream=stream, timeout=timeout)
            if response.status_code >= 400:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
                raise error_from_response(response, provider=self.provider, model=self.model_name)
        except ProviderError:
            raise
        except Exception as exc:
            mapped = self.map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return response

    def _payloads(self, response: RawResponse) -> Iterator[str]:
        if self.stream_format == "ndjson":
            return (line for line in response.iter_lines() if line)
        return iter_sse_data(response.iter_lines())

    async def _apayloads(self, response: RawResponse) -> AsyncIterator[str]:
        if self.stream_format == "ndjson":
            async for line in response.aiter_lines():
                if line:
                    yield line
        else:
            async for data in aiter_sse_data(response.aiter_lines()):
                yield data

    def _loads(self, payload: str | bytes) -> Any:
        try:
            return json.loads(payload)
        except ValueError as exc:
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
            raise ProviderError(
                f"{self.provider} sent a response that is not JSON (a proxy or a wrong base_url?): {text[:300]!r}",
                provider=self.provider,
                model=self.model_name,
            ) from exc

    def _prepare(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        settings: ModelSettings | None,
        output: OutputSchema | None,
        stream: bool,
    ) -> tuple[dict[str, Any], float | None]:
        resolved = settings if settings is not None else ModelSettings()
        return self.build_body(messages, tools, resolved, output, stream=stream), resolved.timeout

    def request(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Send ``messages`` and return the whole response."""
        body, timeout = self._prepare(messages, tools, settings, output, False)
        response = call_with_retries(lambda: self._open(body, False, timeout), self.retry)
        return self.parse_response(self._loads(response.content))

    async def arequest(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Async twin of :meth:`request`."""
        body, timeout = self._prepare(messages, tools, settings, output, False)
        response = await call_with_retries_async(lambda: self._aopen(body, False, timeout), self.retry)
        return self.parse_response(self._loads(response.content))

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> Iterator[StreamEvent]:
        """Send ``messages``; yield deltas as they arrive, then the final response."""
        body, timeout = self._prepare(messages, tools, settings, output, True)
        response = call_with_retries(lambda: self._open(body, True, timeout), self.retry)
        state = self.stream_state()
        loads = self._loads
        try:
            for payload in self._payloads(response):
                yield from state.feed(loads(payload))
        except ProviderError:
            raise
        except Exception as exc:
            mapped = self.map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            response.close()
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
        body, timeout = self._prepare(messages, tools, settings, output, True)
        response = await call_with_retries_async(lambda: self._aopen(body, True, timeout), self.retry)
        state = self.stream_state()
        loads = self._loads
        try:
            async for payload in self._apayloads(response):
                for delta in state.feed(loads(payload)):
                    yield delta
        except ProviderError:
            raise
        except Exception as exc:
            mapped = self.map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            await response.aclose()
        yield state.finish()
