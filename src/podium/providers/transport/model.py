"""The base of every remote provider model: build the body, send it, parse the answer or decode the stream.

A provider module subclasses :class:`WireModel` with its wire mapping and nothing else:

* :meth:`~WireModel.wire_body` -- universal messages, tools and settings to the request's JSON;
* :meth:`~WireModel.path` -- where it goes (relative to the endpoint's base URL);
* :meth:`~WireModel.parse_response` -- a whole answer's JSON to a :class:`~podium.messages.ModelResponse`;
* :meth:`~WireModel.stream_state` -- a fresh translator of one stream's payloads into deltas and, at
  the end, the same ``ModelResponse`` the whole answer gives.

Everything else is here, once, sync and async alike: the HTTP (:class:`~podium.providers.transport.http.HTTPTransport`),
the stream decoder of the model's :attr:`~WireModel.stream_format`, retries with
:class:`~podium.providers.retry.RetryPolicy` (a stream only while nothing reached the caller), timeouts,
content types, complete streams and errors sent inside a stream
(:mod:`podium.providers.transport.guard`).

Only provider modules import this.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import ClassVar
from typing import Literal
from typing import Protocol

from typing_extensions import Unpack

from podium.exceptions import InvalidResponseError
from podium.exceptions import ProviderError
from podium.messages import Message
from podium.messages import ModelResponse
from podium.providers.base import Model
from podium.providers.base import RequestOptions
from podium.providers.base import WireCall
from podium.providers.base import require_model_name
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy
from podium.providers.retry import call_with_retries
from podium.providers.retry import call_with_retries_async
from podium.providers.transport.decoders import DONE
from podium.providers.transport.decoders import Decoder
from podium.providers.transport.decoders import ErrorEvent
from podium.providers.transport.decoders import EventStreamDecoder
from podium.providers.transport.decoders import NDJSONDecoder
from podium.providers.transport.decoders import SSEDecoder
from podium.providers.transport.decoders import loads
from podium.providers.transport.errors import embedded_status
from podium.providers.transport.errors import http_error
from podium.providers.transport.guard import EVENTSTREAM
from podium.providers.transport.guard import JSON
from podium.providers.transport.guard import NDJSON
from podium.providers.transport.guard import SSE
from podium.providers.transport.guard import Deadline
from podium.providers.transport.guard import aguarded_stream
from podium.providers.transport.guard import guarded_stream
from podium.providers.transport.guard import incomplete_stream
from podium.providers.transport.guard import not_json
from podium.providers.transport.guard import resolve_timeouts
from podium.providers.transport.guard import timeouts_option
from podium.providers.transport.http import Endpoint
from podium.providers.transport.http import HTTPTransport
from podium.providers.transport.http import check_client_options
from podium.providers.transport.http import dumps
from podium.settings import ModelSettings
from podium.settings import OutputSchema
from podium.settings import Timeouts
from podium.settings import ToolDefinition
from podium.streaming import StreamDelta
from podium.streaming import StreamEvent

__all__ = ["StreamState", "WireCall", "WireModel"]

StreamFormat = Literal["sse", "ndjson", "eventstream"]

_EXPECTED: dict[str, tuple[str, ...]] = {"sse": SSE, "ndjson": NDJSON, "eventstream": EVENTSTREAM}


class StreamState(Protocol):
    """Turns the parsed payloads of one stream into deltas, then into the final response."""

    complete: bool
    """Whether the stream's own terminal event arrived (``[DONE]`` is seen by the base)."""

    def feed(self, chunk: Any) -> list[StreamDelta]:
        """Take one parsed payload; return the deltas to forward."""
        ...

    def finish(self) -> ModelResponse:
        """The final response, once the stream ended."""
        ...


class WireModel(Model):
    """A model behind an HTTP API whose requests and answers Podium builds and parses itself.

    Every remote provider takes these arguments; a provider's own ones (a region, an API version ...) are
    keyword arguments of its class, listed in its docstring.

    Args:
        model_name: The model's name at the provider.
        base_url: Where requests go, instead of the provider's default (or its environment variable).
        api_key: The key, instead of the provider's environment variable.
        retry: How failed requests are retried (default :class:`~podium.providers.retry.RetryPolicy`).
        profile: What the model can do (default: the profile of its family).
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); a number
            given as ``timeout=`` is taken as the total.
        **client_options: HTTP client options (:data:`~podium.providers.transport.http.CLIENT_OPTIONS`:
            ``default_headers``, ``proxy``, ``http_client`` ...) and the provider's :attr:`extra_options`.
    """

    stream_format: ClassVar[StreamFormat] = "sse"
    """How streamed answers are framed: ``sse``, ``ndjson`` or ``eventstream``."""
    end_marker: ClassVar[str] = "data: [DONE]"
    """The terminal signal of a stream, named in the error when a stream ends without it."""
    extra_options: ClassVar[frozenset[str]] = frozenset()
    """Options this provider takes beyond the shared client options (popped by :meth:`connect`)."""
    family_profile: ClassVar[Callable[[str], ModelProfile] | None] = None
    """The profile of a model name (the default :attr:`profile`); ``None``: :class:`ModelProfile` defaults."""

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        self.model_name = require_model_name(self.provider, model_name)
        options = dict(client_options)
        endpoint = self.connect(base_url, api_key, options)
        self.timeouts = timeouts_option(timeouts, options)
        """Connect, read and total timeouts (``None``: the defaults); :class:`ModelSettings` overrides them."""
        check_client_options(self.provider, options, self.extra_options)
        self.retry = retry if retry is not None else RetryPolicy()
        """How failed requests are retried."""
        self._profile = profile
        self.http = HTTPTransport(
            provider=self.provider, model=self.model_name, endpoint=endpoint, options=options, errors=self.status_error
        )
        """The model's HTTP connections."""

    @abstractmethod
    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """Where requests go and their credentials, from the arguments and the provider's environment variables.

        Pops the provider's :attr:`extra_options` from ``options``; what is left must be client options.
        Credentials that are missing are not an error here: return
        :class:`~podium.providers.transport.auth.MissingCredentials`, so the first request says what to set.
        """

    @property
    def profile(self) -> ModelProfile:
        """What this model can do."""
        return self._profile if self._profile is not None else self.default_profile()

    @property
    def base_url(self) -> str:
        """Where requests go."""
        return self.http.endpoint.base_url

    def default_profile(self) -> ModelProfile:
        """The profile of this model when none is given: :attr:`family_profile` of its name."""
        family = type(self).family_profile
        return family(self.model_name) if family is not None else ModelProfile()

    # ------------------------------------------------------------------ the wire mapping

    def build_body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
        *,
        stream: bool = False,
    ) -> dict[str, Any]:
        """The request body this model sends for these arguments (to inspect or log it)."""
        return self.wire_body(WireCall(messages, tools, settings or ModelSettings(), output, stream))

    @abstractmethod
    def wire_body(self, call: WireCall) -> dict[str, Any]:
        """The JSON request body of ``call``."""

    @abstractmethod
    def path(self, body: dict[str, Any], *, stream: bool) -> str:
        """The request's path under the base URL (with its query, if any)."""

    @abstractmethod
    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a parsed whole answer."""

    @abstractmethod
    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""

    def parse_response_for(self, body: dict[str, Any], data: Any) -> ModelResponse:
        """The universal response for ``data``, the answer to ``body``.

        :meth:`parse_response` unless the translation depends on the request: :meth:`build_body` may
        return a ``dict`` subclass that carries what it needs (only the items are sent).
        """
        return self.parse_response(data)

    def stream_state_for(self, body: dict[str, Any]) -> StreamState:
        """A fresh state for one stream answering ``body`` (:meth:`stream_state` unless it depends on ``body``)."""
        return self.stream_state()

    def request_headers(self, body: dict[str, Any], *, stream: bool) -> Mapping[str, str] | None:
        """Headers this request needs beyond the endpoint's (a beta flag for a feature the body uses)."""
        return None

    def status_error(self, status: int, body: Any, headers: dict[str, str]) -> ProviderError:
        """The error for an HTTP error answer (``body``: its JSON, or its text when it is not JSON).

        By default :func:`~podium.providers.transport.errors.http_error`, from the status and the body's message.
        """
        return http_error(status, body, provider=self.provider, model=self.model_name, headers=headers)

    def stream_error(self, body: Any) -> ProviderError:
        """The error for an error event inside a stream (whose HTTP status was 200).

        Its status is the one the body gives (:func:`~podium.providers.transport.errors.embedded_status`;
        502 when it gives none), so it is the exception the same error would be as an HTTP answer.
        """
        return http_error(embedded_status(body, 502), body, provider=self.provider, model=self.model_name)

    # ------------------------------------------------------------------ requests

    def _prepare(
        self, messages: Sequence[Message], options: RequestOptions, stream: bool
    ) -> tuple[dict[str, Any], Timeouts]:
        settings = options.get("settings")
        body = self.build_body(messages, options.get("tools"), settings, options.get("output"), stream=stream)
        return body, resolve_timeouts(self.timeouts, settings)

    def _loads(self, raw: bytes) -> Any:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise not_json(self.provider, self.model_name, raw) from exc
        if not isinstance(data, dict):  # every API answers with an object: anything else is not the API's answer
            start = raw[:300].decode("utf-8", "replace")
            raise InvalidResponseError(
                f"{self.provider} answered with JSON that is not an object (a proxy or a wrong base_url?): {start!r}",
                body=start,
                provider=self.provider,
                model=self.model_name,
            )
        return data

    def _whole(self, body: dict[str, Any], timeouts: Timeouts) -> Any:
        """One whole-answer request: its JSON, read within the total timeout."""
        http = self.http
        deadline = Deadline(timeouts, self.provider, self.model_name)
        response = http.open(
            self.path(body, stream=False),
            dumps(body),
            stream=False,
            timeouts=timeouts,
            expected=JSON,
            headers=self.request_headers(body, stream=False),
        )
        return self._loads(b"".join(http.chunks(response, deadline)))

    async def _awhole(self, body: dict[str, Any], timeouts: Timeouts) -> Any:
        """Async twin of :meth:`_whole`."""
        http = self.http
        deadline = Deadline(timeouts, self.provider, self.model_name)
        response = await http.aopen(
            self.path(body, stream=False),
            dumps(body),
            stream=False,
            timeouts=timeouts,
            expected=JSON,
            headers=self.request_headers(body, stream=False),
        )
        return self._loads(b"".join([chunk async for chunk in http.achunks(response, deadline)]))

    def request(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        """Send ``messages`` and return the whole response."""
        body, timeouts = self._prepare(messages, options, False)
        return self.parse_response_for(body, call_with_retries(lambda: self._whole(body, timeouts), self.retry))

    async def arequest(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> ModelResponse:
        """Async twin of :meth:`request`."""
        body, timeouts = self._prepare(messages, options, False)
        data = await call_with_retries_async(lambda: self._awhole(body, timeouts), self.retry)
        return self.parse_response_for(body, data)

    # ------------------------------------------------------------------ streams

    def _decoder(self) -> Decoder:
        fmt = self.stream_format
        if fmt == "sse":
            return SSEDecoder()
        if fmt == "ndjson":
            return NDJSONDecoder()
        return EventStreamDecoder(self.provider, self.model_name)

    def _payload(self, payload: Any) -> Any:
        """A decoded payload parsed (an error event raised as the error it stands for)."""
        if type(payload) is ErrorEvent:
            raise self.stream_error(payload.body())
        try:
            return loads(payload)
        except ValueError as exc:
            raise not_json(self.provider, self.model_name, payload) from exc

    def _last(self, payload: Any) -> Any:
        """A payload the stream ended in without its separator: a cut-off event when it does not parse."""
        if type(payload) is ErrorEvent:
            raise self.stream_error(payload.body())
        try:
            return loads(payload)
        except ValueError as exc:
            raise incomplete_stream(self.provider, self.model_name, self.end_marker, payload) from exc

    def stream(self, messages: Sequence[Message], **options: Unpack[RequestOptions]) -> Iterator[StreamEvent]:
        """Send ``messages``; yield deltas as they arrive, then the final response."""
        body, timeouts = self._prepare(messages, options, True)
        yield from guarded_stream(
            lambda deadline: self._stream_once(body, timeouts, deadline),
            self.retry,
            timeouts,
            provider=self.provider,
            model=self.model_name,
        )

    def _stream_once(self, body: dict[str, Any], timeouts: Timeouts, deadline: Deadline) -> Iterator[StreamEvent]:
        http = self.http
        response = http.open(
            self.path(body, stream=True),
            dumps(body),
            stream=True,
            timeouts=timeouts,
            expected=_EXPECTED[self.stream_format],
            headers=self.request_headers(body, stream=True),
        )
        state = self.stream_state_for(body)
        decode = self._decoder()
        feed = state.feed
        done = False
        chunks = http.chunks(response, deadline)
        try:
            for chunk in chunks:
                if done:
                    continue  # read to the end, so that the connection can be reused
                for payload in decode.feed(chunk):
                    if payload == DONE:
                        done = True
                        break
                    if type(payload) is str:
                        try:
                            value = loads(payload)
                        except ValueError as exc:
                            raise not_json(self.provider, self.model_name, payload) from exc
                    else:
                        value = self._payload(payload)
                    yield from feed(value)
            if not done:
                for payload in decode.flush():
                    if payload == DONE:
                        done = True
                    else:
                        yield from feed(self._last(payload))
        except ProviderError:
            if not (done or state.complete):  # once the answer is whole, a failure while draining does not matter
                raise
        finally:
            chunks.close()
        if not (done or state.complete):
            raise incomplete_stream(self.provider, self.model_name, self.end_marker)
        yield state.finish()

    async def astream(
        self, messages: Sequence[Message], **options: Unpack[RequestOptions]
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream`."""
        body, timeouts = self._prepare(messages, options, True)
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
        http = self.http
        response = await http.aopen(
            self.path(body, stream=True),
            dumps(body),
            stream=True,
            timeouts=timeouts,
            expected=_EXPECTED[self.stream_format],
            headers=self.request_headers(body, stream=True),
        )
        state = self.stream_state_for(body)
        decode = self._decoder()
        feed = state.feed
        done = False
        chunks = http.achunks(response, deadline)
        try:
            async for chunk in chunks:
                if done:
                    continue
                for payload in decode.feed(chunk):
                    if payload == DONE:
                        done = True
                        break
                    if type(payload) is str:
                        try:
                            value = loads(payload)
                        except ValueError as exc:
                            raise not_json(self.provider, self.model_name, payload) from exc
                    else:
                        value = self._payload(payload)
                    for delta in feed(value):
                        yield delta
            if not done:
                for payload in decode.flush():
                    if payload == DONE:
                        done = True
                    else:
                        for delta in feed(self._last(payload)):
                            yield delta
        except ProviderError:
            if not (done or state.complete):
                raise
        finally:
            await chunks.aclose()
        if not (done or state.complete):
            raise incomplete_stream(self.provider, self.model_name, self.end_marker)
        yield state.finish()
