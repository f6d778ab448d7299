"""Anthropic Messages API, through the official ``anthropic`` SDK (``pip install 'podium[anthropic]'``).

Use it as ``podium.model("anthropic:claude-sonnet-4-5")`` or :class:`AnthropicModel` directly.
The SDK provides authentication, endpoints and the HTTP client; Podium reads the raw HTTP body
(``with_raw_response`` / ``with_streaming_response``) and parses JSON and server-sent events itself,
so no SDK model object is built per response or per stream event. The wire translation is in
:mod:`podium.providers.anthropic_wire` (its docstring lists how every block maps).

Settings:

* ``temperature``, ``top_p``, ``max_tokens`` (default 4096, or the thinking budget plus 2048),
  ``stop`` (``stop_sequences``), ``tool_choice`` (``required`` is ``any``), ``parallel_tool_calls``
  (``disable_parallel_tool_use``) and ``timeout`` map directly. ``seed`` has no Anthropic equivalent and
  is ignored with a warning.
* ``thinking``: on Claude 4.6 and later (adaptive thinking) ``True`` gives ``thinking={"type":
  "adaptive"}`` and a level adds ``output_config.effort`` (``minimal`` becomes ``low``); an int is a
  ``budget_tokens`` where the model still takes one (Claude 4.6 and earlier), else mapped to an effort
  (up to 2048 low, up to 8192 medium, else high). On earlier models a level is a budget: minimal 1024,
  low 2048, medium (and ``True``) 8192, high 16384 tokens. ``False`` sends ``{"type": "disabled"}``.
* ``extra={"anthropic": {...}}`` is merged into the request body last, nested objects key by key, so
  ``{"output_config": {"effort": "max"}}``, ``{"top_k": 40}`` or top-level ``{"cache_control": ...}``
  (automatic prompt caching) reach the wire unchanged. Its ``tools`` are added after the function tools:
  server tools such as ``{"type": "web_search_20250305", "name": "web_search"}``, whose blocks come back
  as :class:`~podium.messages.ProviderPart` and are sent back verbatim.
* Structured output uses ``output_config.format`` (JSON schema) on models that have it (Claude 4.5 and
  later, Opus 4.1); on others the schema becomes a tool the model is made to call, and the call comes
  back as the JSON text of the answer.

``request`` uses a stream under the hood when ``max_tokens`` is so large that the SDK would refuse a
non-streaming call (it could exceed ten minutes); the result is the same ``ModelResponse``.
Timeouts (:class:`~podium.settings.Timeouts`), content types and the end of a stream (``message_stop``)
are checked as :mod:`podium.providers.transport.guard` describes. Errors are mapped to :mod:`podium.exceptions`
(400 with the API's error body, 429 with ``retry-after``, 529 ``overloaded_error`` to
:class:`~podium.exceptions.ServerError`, errors sent inside a stream too); retries follow the model's
:class:`~podium.providers.retry.RetryPolicy` (the SDK's own are off; a stream is retried while nothing has
reached the caller).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from podium.exceptions import ProviderConnectionError, ProviderError, ProviderTimeoutError, UserError

try:
    import anthropic
    import httpx2
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise UserError("the Anthropic provider needs the anthropic SDK: pip install 'podium[anthropic]'") from _exc

from podium.messages import Message, ModelResponse
from podium.providers.anthropic_wire import (
    PROVIDER,
    StreamAccumulator,
    build_request,
    parse_message,
    profile_for,
)
from podium.providers.base import Model, require_model_name
from podium.providers.clients import PerLoop, sdk_options
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy, call_with_retries, call_with_retries_async
from podium.providers.sse import aiter_sse_data, iter_sse_data, transport_error
from podium.providers.transport.errors import http_error
from podium.providers.transport.guard import (
    JSON,
    SSE,
    Deadline,
    afirst_bytes,
    aguarded_stream,
    aparsed,
    aread_whole,
    check_content_type,
    first_bytes,
    guarded_stream,
    http_timeouts,
    incomplete_stream,
    not_json,
    parsed,
    read_whole,
    resolve_timeouts,
    timeouts_option,
    wrong_content_type,
)
from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition
from podium.streaming import StreamEvent

try:  # the output-token limits above which the SDK refuses a non-streaming request
    from anthropic._constants import MODEL_NONSTREAMING_TOKENS as _NONSTREAMING_TOKENS
except ImportError:  # pragma: no cover - depends on the SDK version
    _NONSTREAMING_TOKENS = {}

__all__ = ["AnthropicModel"]

logger = logging.getLogger("podium.providers.anthropic")

_REQUIRED = ("max_tokens", "messages", "model")
_END = "message_stop"


def map_error(exc: Exception, model: str | None) -> ProviderError:
    """The Podium error for an exception raised by the anthropic SDK."""
    if isinstance(exc, anthropic.APIStatusError):
        response = exc.response
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = response.text or exc.body
        return http_error(exc.status_code, body, provider=PROVIDER, model=model, headers=dict(response.headers.items()))
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderTimeoutError(f"anthropic did not answer in time: {exc}", provider=PROVIDER, model=model)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderConnectionError(f"could not reach anthropic: {exc}", provider=PROVIDER, model=model)
    return ProviderError(f"anthropic SDK error: {exc}", provider=PROVIDER, model=model)


def _split(body: dict[str, Any]) -> dict[str, Any]:
    """SDK keyword arguments: the required fields by name, everything else as ``extra_body``."""
    kwargs: dict[str, Any] = {key: body[key] for key in _REQUIRED}
    rest = {key: value for key, value in body.items() if key not in _REQUIRED}
    if rest:
        kwargs["extra_body"] = rest
    return kwargs


class AnthropicModel(Model):
    """A Claude model behind the Anthropic Messages API."""

    provider = PROVIDER

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: anthropic.Anthropic | anthropic.AsyncAnthropic | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        """Prepare a model; SDK clients are created on first use.

        Args:
            model_name: Such as ``claude-sonnet-4-5``.
            base_url: Send requests here instead of ``https://api.anthropic.com`` (proxies, replay servers).
            api_key: The API key; by default the SDK reads ``ANTHROPIC_API_KEY``.
            client: An SDK client to use (sync or async); the other kind is created from the options.
                Its own retries are turned off (Podium's ``retry`` policy applies).
            retry: How to retry rate limits, server errors and connection failures.
            profile: Override the capability profile.
            timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); a number
                given as ``timeout=`` (the SDK's option) is taken as the total.
            **client_options: Passed to ``anthropic.Anthropic`` / ``AsyncAnthropic`` (``default_headers``,
                ``http_client``, ``auth_token`` ...).
        """
        self.model_name = require_model_name(PROVIDER, model_name)
        self.retry = retry or RetryPolicy()
        self._profile = profile
        client_options = dict(client_options)
        self.timeouts = timeouts_option(timeouts, client_options)
        self._options = sdk_options(client_options, base_url=base_url, api_key=api_key, max_retries=0)
        self._client: anthropic.Anthropic | None = None
        self._given_aclient: anthropic.AsyncAnthropic | None = None
        if isinstance(client, anthropic.AsyncAnthropic):
            self._given_aclient = client.with_options(max_retries=0)
        elif client is not None:
            self._client = client.with_options(max_retries=0)
        # async clients belong to the event loop that opened their connections: one per loop
        self._aclients: PerLoop[anthropic.AsyncAnthropic] = PerLoop(lambda: anthropic.AsyncAnthropic(**self._options))
        self._warned_seed = False

    @property
    def profile(self) -> ModelProfile:
        """What this model can do (from its family unless given)."""
        return self._profile or profile_for(self.model_name)

    def _check_key(self) -> None:
        """A clear error, before the SDK's ``TypeError`` at the first request, when no credential is set."""
        options = self._options
        headers = {str(k).lower() for k in options.get("default_headers") or {}}
        if (
            options.get("api_key")
            or options.get("auth_token")
            or os.environ.get("ANTHROPIC_API_KEY")
            or os.environ.get("ANTHROPIC_AUTH_TOKEN")
            or headers & {"x-api-key", "authorization"}
        ):
            return
        raise UserError(
            "no API key for anthropic: set the ANTHROPIC_API_KEY environment variable or pass api_key= "
            f"(e.g. podium.model('anthropic:{self.model_name}', api_key='...'))"
        )

    def _sync(self) -> anthropic.Anthropic:
        if self._client is None:
            self._check_key()
            self._client = anthropic.Anthropic(**self._options)
        return self._client

    def _async(self) -> anthropic.AsyncAnthropic:
        if self._given_aclient is not None:
            return self._given_aclient
        self._check_key()
        return self._aclients.get()

    def _prepare(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        settings: ModelSettings | None,
        output: OutputSchema | None,
        stream: bool,
    ) -> tuple[dict[str, Any], str | None, Timeouts]:
        if settings is not None and settings.seed is not None and not self._warned_seed:
            self._warned_seed = True
            logger.warning("anthropic has no seed setting; seed=%s is ignored", settings.seed)
        body, output_tool = build_request(
            messages, model_name=self.model_name, tools=tools, settings=settings, output=output, profile=self.profile
        )
        kwargs = _split(body)
        kwargs["stream"] = stream
        timeouts = resolve_timeouts(self.timeouts, settings)
        kwargs["timeout"] = httpx2.Timeout(**http_timeouts(timeouts, stream=stream))
        return kwargs, output_tool, timeouts

    def _needs_stream(self, kwargs: dict[str, Any]) -> bool:
        """Whether a non-streaming request could take over ten minutes (the SDK's rule): then stream it."""
        max_tokens = int(kwargs["max_tokens"])
        limit = _NONSTREAMING_TOKENS.get(self.model_name)
        return 3600 * max_tokens / 128_000 > 600 or bool(limit and max_tokens > limit)

    def _whole(self, kwargs: dict[str, Any], timeouts: Timeouts) -> dict[str, Any]:
        """One whole-answer request: its JSON, read within the total timeout."""
        deadline = Deadline(timeouts, PROVIDER, self.model_name)
        try:
            manager = self._sync().messages.with_streaming_response.create(**kwargs)
            response = manager.__enter__()
        except anthropic.APIError as exc:
            raise map_error(exc, self.model_name) from exc
        try:
            raw = read_whole(response.http_response, deadline, JSON, provider=PROVIDER, model=self.model_name)
        except ProviderError:
            raise
        except Exception as exc:
            mapped = transport_error(exc, provider=PROVIDER, model=self.model_name)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            manager.__exit__(None, None, None)
        return _json_body(raw, self.model_name)

    async def _awhole(self, kwargs: dict[str, Any], timeouts: Timeouts) -> dict[str, Any]:
        """Async twin of :meth:`_whole`."""
        deadline = Deadline(timeouts, PROVIDER, self.model_name)
        try:
            manager = self._async().messages.with_streaming_response.create(**kwargs)
            response = await manager.__aenter__()
        except anthropic.APIError as exc:
            raise map_error(exc, self.model_name) from exc
        try:
            raw = await aread_whole(response.http_response, deadline, JSON, provider=PROVIDER, model=self.model_name)
        except ProviderError:
            raise
        except Exception as exc:
            mapped = transport_error(exc, provider=PROVIDER, model=self.model_name)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            await manager.__aexit__(None, None, None)
        return _json_body(raw, self.model_name)

    # ------------------------------------------------------------------ sync

    def request(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Send ``messages`` and return the whole response."""
        kwargs, output_tool, timeouts = self._prepare(messages, tools, settings, output, stream=False)
        if self._needs_stream(kwargs):
            logger.debug("max_tokens=%s needs a stream; streaming under the hood", kwargs["max_tokens"])
            return self._collect(self.stream(messages, tools=tools, settings=settings, output=output))
        data = call_with_retries(lambda: self._whole(kwargs, timeouts), self.retry)
        return parse_message(data, model_name=self.model_name, output_tool=output_tool)

    @staticmethod
    def _collect(events: Iterator[StreamEvent]) -> ModelResponse:
        final: ModelResponse | None = None
        for event in events:
            if isinstance(event, ModelResponse):
                final = event
        assert final is not None
        return final

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> Iterator[StreamEvent]:
        """Send ``messages`` and yield deltas as they arrive, then the final :class:`ModelResponse`."""
        kwargs, output_tool, timeouts = self._prepare(messages, tools, settings, output, stream=True)
        yield from guarded_stream(
            lambda deadline: self._stream_once(kwargs, output_tool, deadline),
            self.retry,
            timeouts,
            provider=PROVIDER,
            model=self.model_name,
        )

    def _stream_once(
        self, kwargs: dict[str, Any], output_tool: str | None, deadline: Deadline
    ) -> Iterator[StreamEvent]:
        try:
            manager = self._sync().messages.with_streaming_response.create(**kwargs)
            response = manager.__enter__()
        except anthropic.APIError as exc:
            raise map_error(exc, self.model_name) from exc
        acc = StreamAccumulator(output_tool)
        feed = acc.feed
        try:
            http = response.http_response
            check_content_type(
                http.headers, SSE, provider=PROVIDER, model=self.model_name, body=lambda: first_bytes(http.iter_bytes())
            )
            payloads = iter_sse_data(deadline.chunks(http.iter_bytes()))
            for event in parsed(payloads, json.loads, provider=PROVIDER, model=self.model_name, marker=_END):
                delta = feed(event)
                if delta is not None:
                    yield delta
        except ProviderError:
            if not acc.complete:  # once the end marker arrived the answer is whole: a later failure does not matter
                raise
        except Exception as exc:
            mapped = transport_error(exc, provider=PROVIDER, model=self.model_name)
            if mapped is None:
                raise
            if not acc.complete:
                raise mapped from exc
        finally:
            manager.__exit__(None, None, None)
        if not acc.complete:
            raise incomplete_stream(PROVIDER, self.model_name, _END)
        yield parse_message(acc.finish(), model_name=self.model_name, output_tool=output_tool)

    # ------------------------------------------------------------------ async

    async def arequest(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Async twin of :meth:`request`."""
        kwargs, output_tool, timeouts = self._prepare(messages, tools, settings, output, stream=False)
        if self._needs_stream(kwargs):
            final: ModelResponse | None = None
            async for event in self.astream(messages, tools=tools, settings=settings, output=output):
                if isinstance(event, ModelResponse):
                    final = event
            assert final is not None
            return final
        data = await call_with_retries_async(lambda: self._awhole(kwargs, timeouts), self.retry)
        return parse_message(data, model_name=self.model_name, output_tool=output_tool)

    async def astream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream`."""
        kwargs, output_tool, timeouts = self._prepare(messages, tools, settings, output, stream=True)
        events = aguarded_stream(
            lambda deadline: self._astream_once(kwargs, output_tool, deadline),
            self.retry,
            timeouts,
            provider=PROVIDER,
            model=self.model_name,
        )
        async for event in events:
            yield event

    async def _astream_once(
        self, kwargs: dict[str, Any], output_tool: str | None, deadline: Deadline
    ) -> AsyncIterator[StreamEvent]:
        try:
            manager = self._async().messages.with_streaming_response.create(**kwargs)
            response = await manager.__aenter__()
        except anthropic.APIError as exc:
            raise map_error(exc, self.model_name) from exc
        acc = StreamAccumulator(output_tool)
        feed = acc.feed
        try:
            http = response.http_response
            if wrong_content_type(http.headers, SSE) is not None:
                start = await afirst_bytes(http.aiter_bytes())
                check_content_type(http.headers, SSE, provider=PROVIDER, model=self.model_name, body=start)
            payloads = aiter_sse_data(deadline.achunks(http.aiter_bytes()))
            async for event in aparsed(payloads, json.loads, provider=PROVIDER, model=self.model_name, marker=_END):
                delta = feed(event)
                if delta is not None:
                    yield delta
        except ProviderError:
            if not acc.complete:  # once the end marker arrived the answer is whole: a later failure does not matter
                raise
        except Exception as exc:
            mapped = transport_error(exc, provider=PROVIDER, model=self.model_name)
            if mapped is None:
                raise
            if not acc.complete:
                raise mapped from exc
        finally:
            await manager.__aexit__(None, None, None)
        if not acc.complete:
            raise incomplete_stream(PROVIDER, self.model_name, _END)
        yield parse_message(acc.finish(), model_name=self.model_name, output_tool=output_tool)


def _json_body(content: bytes, model: str) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise not_json(PROVIDER, model, content) from exc
    if not isinstance(data, dict):
        raise not_json(PROVIDER, model, content)
    return data
