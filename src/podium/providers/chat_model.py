"""A model behind an OpenAI Chat Completions endpoint, independent of the SDK that carries the HTTP.

:class:`ChatCompletionsModel` builds the request (:mod:`podium.providers.chat_wire`), sends it through
four transport hooks that an SDK module implements (OpenAI's in :mod:`podium.providers.openai`, Groq's in
:mod:`podium.providers.groq`), and translates the answer (:mod:`podium.providers.chat_stream`). The hooks
hand back raw bytes: the SDK's pydantic response models are never built, and stream events are parsed
here from the raw byte stream, which keeps the per-chunk cost close to a plain ``httpx`` + ``json`` loop.

Retries use Podium's :class:`~podium.providers.retry.RetryPolicy` (the SDKs' own retries are off); a
stream is retried only while it is being opened, never after data arrived.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from podium.exceptions import ProviderError
from podium.messages import Message, ModelResponse
from podium.providers.base import Model
from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_stream import ChatTranslator, SSEDecoder, loads
from podium.providers.chat_wire import build_body
from podium.providers.clients import PerLoop
from podium.providers.pricing import cost_of
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy, call_with_retries, call_with_retries_async
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import StreamEvent
from podium.usage import Usage

__all__ = ["AsyncRawStream", "ChatCompletionsModel", "PerLoop", "RawStream"]

JsonDict = dict[str, Any]
T = TypeVar("T")
_DONE = "[DONE]"


class RawStream(Protocol):
    """An open HTTP response body, read as raw bytes (transport errors already mapped)."""

    def iter_bytes(self) -> Iterator[bytes]:
        """The body, chunk by chunk, as it arrives."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class AsyncRawStream(Protocol):
    """Async twin of :class:`RawStream`."""

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk, as it arrives."""
        ...

    async def aclose(self) -> None:
        """Release the connection."""
        ...


class ChatCompletionsModel(Model):
    """A Chat Completions model; subclasses supply the transport (an official SDK's client).

    Subclasses implement :meth:`_post`, :meth:`_apost`, :meth:`_open_stream` and :meth:`_aopen_stream`;
    each raises Podium's exceptions (:mod:`podium.providers.errors`), never the SDK's.
    """

    def __init__(
        self,
        model_name: str,
        *,
        dialect: ChatDialect,
        profile: ModelProfile,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.model_name = model_name
        self.provider = dialect.provider
        self.dialect = dialect
        """The wire variant this model speaks."""
        self.retry = retry or RetryPolicy()
        """How failed requests are retried."""
        self._profile = profile

    @property
    def profile(self) -> ModelProfile:
        """What this model can do."""
        return self._profile

    # -- transport hooks

    @abstractmethod
    def _post(self, body: JsonDict, timeout: float | None) -> bytes:
        """Send a non-streaming request; the response body (JSON bytes) of a successful answer."""

    @abstractmethod
    async def _apost(self, body: JsonDict, timeout: float | None) -> bytes:
        """Async twin of :meth:`_post`."""

    @abstractmethod
    def _open_stream(self, body: JsonDict, timeout: float | None) -> RawStream:
        """Send a streaming request; the open response of a successful answer."""

    @abstractmethod
    async def _aopen_stream(self, body: JsonDict, timeout: float | None) -> AsyncRawStream:
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

    def _response(self, raw: bytes) -> ModelResponse:
        translator = ChatTranslator(self.dialect)
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._malformed(raw) from exc
        translator.feed_completion(data)
        return translator.build(self._cost)

    def _malformed(self, raw: bytes | str) -> ProviderError:
        return ProviderError(
            f"{self.provider} answered with something that is not JSON: {raw[:300]!r}",
            provider=self.provider,
            model=self.model_name,
        )

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
        timeout = settings.timeout if settings is not None else None
        raw = call_with_retries(lambda: self._post(body, timeout), self.retry)
        return self._response(raw)

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
        timeout = settings.timeout if settings is not None else None
        raw = await call_with_retries_async(lambda: self._apost(body, timeout), self.retry)
        return self._response(raw)

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
        timeout = settings.timeout if settings is not None else None
        response = call_with_retries(lambda: self._open_stream(body, timeout), self.retry)
        translator = ChatTranslator(self.dialect)
        decoder = SSEDecoder()
        feed = translator.feed_chunk
        done = False
        payload = ""
        try:
            for chunk in response.iter_bytes():
                if done:
                    continue  # read to the end, so the connection can be reused
                for payload in decoder.feed(chunk):
                    if payload == _DONE:
                        done = True
                        break
                    yield from feed(loads(payload if payload[:1] == "{" else _check(payload)))
            if not done:
                for payload in decoder.flush():
                    if payload != _DONE:
                        yield from feed(loads(payload if payload[:1] == "{" else _check(payload)))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._malformed(payload) from exc
        finally:
            response.close()
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
        timeout = settings.timeout if settings is not None else None
        response = await call_with_retries_async(lambda: self._aopen_stream(body, timeout), self.retry)
        translator = ChatTranslator(self.dialect)
        decoder = SSEDecoder()
        feed = translator.feed_chunk
        done = False
        payload = ""
        try:
            async for chunk in response.aiter_bytes():
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
                    if payload != _DONE:
                        for delta in feed(loads(payload if payload[:1] == "{" else _check(payload))):
                            yield delta
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self._malformed(payload) from exc
        finally:
            await response.aclose()
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
