"""A model behind an OpenAI Chat Completions endpoint, independent of the SDK that carries the HTTP.

:class:`ChatCompletionsModel` builds the request (:mod:`podium.providers.chat_wire`), sends it through
four transport hooks that an SDK module implements (OpenAI's in :mod:`podium.providers.openai`, Groq's in
:mod:`podium.providers.groq`), and translates the answer (:mod:`podium.providers.chat_stream`). The hooks
hand back raw bytes: the SDK's pydantic response models are never built, and stream events are parsed
here from the raw byte stream, which keeps the per-chunk cost close to a plain ``httpx`` + ``json`` loop.

Retries use Podium's :class:`~podium.providers.retry.RetryPolicy` (the SDKs' own retries are off); a
stream is retried only while nothing has reached the caller. Timeouts, content types and the end marker
(``data: [DONE]``; a stream without it is cut off) are checked as :mod:`podium.providers.transport.guard` describes.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from podium.exceptions import InvalidResponseError, ProviderError
from podium.messages import Message, ModelResponse
from podium.providers.base import Model, require_model_name
from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_stream import ChatTranslator, SSEDecoder, loads
from podium.providers.chat_wire import build_body
from podium.providers.clients import PerLoop
from podium.providers.transport.guard import (
    JSON,
    SSE,
    Deadline,
    afirst_bytes,
    aguarded_stream,
    check_content_type,
    content_type_error,
    first_bytes,
    guarded_stream,
    http_timeouts,
    incomplete_stream,
    resolve_timeouts,
    wrong_content_type,
)
from podium.providers.pricing import cost_of
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy, call_with_retries, call_with_retries_async
from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition
from podium.streaming import StreamEvent
from podium.usage import Usage

__all__ = ["AsyncRawStream", "ChatCompletionsModel", "PerLoop", "RawStream"]

JsonDict = dict[str, Any]
T = TypeVar("T")
_DONE = "[DONE]"
_END_MARKER = "data: [DONE]"


class RawStream(Protocol):
    """An open HTTP response body, read as raw bytes (transport errors already mapped)."""

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers."""
        ...

    def iter_bytes(self) -> Iterator[bytes]:
        """The body, chunk by chunk, as it arrives."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class AsyncRawStream(Protocol):
    """Async twin of :class:`RawStream`."""

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers."""
        ...

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk, as it arrives."""
        ...

    async def aclose(self) -> None:
        """Release the connection."""
        ...


class ChatCompletionsModel(Model):
    """A Chat Completions model; subclasses supply the transport (an official SDK's client).

    Subclasses implement :meth:`_open_stream` and :meth:`_aopen_stream`; each raises Podium's exceptions
    (:mod:`podium.providers.transport.errors`), never the SDK's.
    """

    def __init__(
        self,
        model_name: str,
        *,
        dialect: ChatDialect,
        profile: ModelProfile,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.provider = dialect.provider
        self.model_name = require_model_name(dialect.provider, model_name)
        self.dialect = dialect
        """The wire variant this model speaks."""
        self.retry = retry or RetryPolicy()
        """How failed requests are retried."""
        self.timeouts = timeouts
        """Connect, read and total timeouts (``None``: the defaults); :class:`ModelSettings` overrides them."""
        self._profile = profile

    @property
    def profile(self) -> ModelProfile:
        """What this model can do."""
        return self._profile

    # -- transport hooks

    @abstractmethod
    def _open_stream(self, body: JsonDict, timeouts: Mapping[str, float]) -> RawStream:
        """Send a request; the open response of a successful answer, its body not read yet.

        Whole answers are read this way too, so that the total timeout holds while the body arrives.
        ``timeouts`` holds ``connect``/``read``/``write``/``pool`` seconds
        (:func:`~podium.providers.transport.guard.http_timeouts`).
        """

    @abstractmethod
    async def _aopen_stream(self, body: JsonDict, timeouts: Mapping[str, float]) -> AsyncRawStream:
        """Async twin of :meth:`_open_stream`."""

    # -- shared

    def build_body(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
        stream: bool = False,
    ) -> JsonDict:
        """The request body this model sends for these arguments (useful to inspect or log)."""
        return build_body(
            self.model_name, messages, self.dialect, tools=tools, settings=settings, output=output, stream=stream
        )

    def _cost(self, model: str | None, usage: Usage, extra: Mapping[str, Any] | None) -> float | None:
        """The cost of a response (``extra``: the non-integer fields of the wire usage)."""
        return cost_of(self.provider, self.model_name, usage)

    def _parse(self, headers: Mapping[str, str], raw: bytes) -> Any:
        """The JSON of a whole answer, after checking its content type."""
        check_content_type(headers, JSON, provider=self.provider, model=self.model_name, body=raw)
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._malformed(raw) from exc

    def _read(self, body: JsonDict, timeouts: Timeouts) -> Any:
        """One whole-answer request: its JSON, read within the total timeout."""
        deadline = Deadline(timeouts, self.provider, self.model_name)
        response = self._open_stream(body, http_timeouts(timeouts, stream=False))
        try:
            raw = b"".join(deadline.chunks(response.iter_bytes()))
        finally:
            response.close()
        return self._parse(response.headers, raw)

    async def _aread(self, body: JsonDict, timeouts: Timeouts) -> Any:
        """Async twin of :meth:`_read`."""
        deadline = Deadline(timeouts, self.provider, self.model_name)
        response = await self._aopen_stream(body, http_timeouts(timeouts, stream=False))
        try:
            raw = b"".join([chunk async for chunk in deadline.achunks(response.aiter_bytes())])
        finally:
            await response.aclose()
        return self._parse(response.headers, raw)

    def _response(self, data: Any) -> ModelResponse:
        translator = ChatTranslator(self.dialect)
        translator.feed_completion(data)
        return translator.build(self._cost)

    def _malformed(self, raw: bytes | str) -> ProviderError:
        return InvalidResponseError(
            f"{self.provider} answered with something that is not JSON: {raw[:300]!r}",
            body=(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)[:300],
            provider=self.provider,
            model=self.model_name,
        )

    def _last(self, payload: str) -> Any:
        """An event the stream ended in without its closing blank line: cut off when it does not parse."""
        try:
            return loads(payload if payload[:1] == "{" else _check(payload))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise incomplete_stream(self.provider, self.model_name, _END_MARKER, payload) from exc

    def _wrong_type(self, response: RawStream | AsyncRawStream, start: bytes) -> ProviderError | None:
        wrong = wrong_content_type(response.headers, SSE)
        if wrong is None:
            return None
        return content_type_error(wrong, SSE, start, provider=self.provider, model=self.model_name)

    # -- Model

    def request(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Send ``messages`` and return the whole response."""
        body = self.build_body(messages, tools=tools, settings=settings, output=output)
        timeouts = resolve_timeouts(self.timeouts, settings)
        data = call_with_retries(lambda: self._read(body, timeouts), self.retry)
        return self._response(data)

    async def arequest(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Async twin of :meth:`request`."""
        body = self.build_body(messages, tools=tools, settings=settings, output=output)
        timeouts = resolve_timeouts(self.timeouts, settings)
        data = await call_with_retries_async(lambda: self._aread(body, timeouts), self.retry)
        return self._response(data)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> Iterator[StreamEvent]:
        """Send ``messages``; yield deltas as they arrive, then the final :class:`ModelResponse`."""
        body = self.build_body(messages, tools=tools, settings=settings, output=output, stream=True)
        timeouts = resolve_timeouts(self.timeouts, settings)
        yield from guarded_stream(
            lambda deadline: self._stream_once(body, timeouts, deadline),
            self.retry,
            timeouts,
            provider=self.provider,
            model=self.model_name,
        )

    def _stream_once(self, body: JsonDict, timeouts: Timeouts, deadline: Deadline) -> Iterator[StreamEvent]:
        response = self._open_stream(body, http_timeouts(timeouts, stream=True))
        if wrong_content_type(response.headers, SSE) is not None:
            try:
                start = first_bytes(response.iter_bytes())
            finally:
                response.close()
            error = self._wrong_type(response, start)
            assert error is not None
            raise error
        translator = ChatTranslator(self.dialect)
        decoder = SSEDecoder()
        feed = translator.feed_chunk
        done = False
        payload = ""
        try:
            for chunk in deadline.chunks(response.iter_bytes()):
                if done:
                    continue  # read to the end, so the connection can be reused
                for payload in decoder.feed(chunk):
                    if payload == _DONE:
                        done = True
                        break
                    yield from feed(loads(payload if payload[:1] == "{" else _check(payload)))
            if not done:
                for payload in decoder.flush():
                    if payload == _DONE:
                        done = True
                    else:
                        yield from feed(self._last(payload))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._malformed(payload) from exc
        except ProviderError:
            if not done:  # once [DONE] arrived the answer is whole: a failure while draining does not matter
                raise
        finally:
            response.close()
        if not done:
            raise incomplete_stream(self.provider, self.model_name, _END_MARKER)
        yield translator.build(self._cost)

    async def astream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream`."""
        body = self.build_body(messages, tools=tools, settings=settings, output=output, stream=True)
        timeouts = resolve_timeouts(self.timeouts, settings)
        events = aguarded_stream(
            lambda deadline: self._astream_once(body, timeouts, deadline),
            self.retry,
            timeouts,
            provider=self.provider,
            model=self.model_name,
        )
        async for event in events:
            yield event

    async def _astream_once(self, body: JsonDict, timeouts: Timeouts, deadline: Deadline) -> AsyncIterator[StreamEvent]:
        response = await self._aopen_stream(body, http_timeouts(timeouts, stream=True))
        if wrong_content_type(response.headers, SSE) is not None:
            try:
                start = await afirst_bytes(response.aiter_bytes())
            finally:
                await response.aclose()
            error = self._wrong_type(response, start)
            assert error is not None
            raise error
        translator = ChatTranslator(self.dialect)
        decoder = SSEDecoder()
        feed = translator.feed_chunk
        done = False
        payload = ""
        try:
            async for chunk in deadline.achunks(response.aiter_bytes()):
                if done:
                    continue
                for payload in decoder.feed(chunk):
                    if payload == _DONE:
                        done = True
                        break
                    for delta in feed(loads(payload if payload[:1] == "{" else _check(payload))):
                        yield delta
            if not done:
                for payload in decoder.flush():
                    if payload == _DONE:
                        done = True
                    else:
                        for delta in feed(self._last(payload)):
                            yield delta
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._malformed(payload) from exc
        except ProviderError:
            if not done:
                raise
        finally:
            await response.aclose()
        if not done:
            raise incomplete_stream(self.provider, self.model_name, _END_MARKER)
        yield translator.build(self._cost)


def _check(payload: str) -> str:
    """``payload``, turning an ``event: error`` payload into a chunk with an ``error`` field."""
    if payload[:6] == "error:":
        data = payload[6:]
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or "error" not in parsed:
            return json.dumps({"error": parsed if parsed is not None else data})
        return data
    return payload
