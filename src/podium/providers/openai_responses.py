"""OpenAI Responses API, through the official ``openai`` SDK (``pip install 'podium[openai]'``).

Use it as ``podium.model("openai-responses:gpt-5")`` or :class:`OpenAIResponsesModel` directly.
The SDK provides authentication, endpoints and the HTTP client; Podium sends the JSON body as the
SDK's ``extra_body`` and reads the raw HTTP body (``with_raw_response`` / ``with_streaming_response``),
parsing JSON and server-sent events itself, so no SDK model object is built per response or per stream
event. The wire translation is in :mod:`podium.providers.openai_responses_wire` (its docstring lists
how every item maps).

Settings:

* ``temperature``, ``top_p``, ``max_tokens`` (``max_output_tokens``), ``tool_choice`` (a tool name forces
  that function), ``parallel_tool_calls`` and ``timeout`` map directly. The Responses API has no stop
  sequences (``stop`` raises :class:`~podium.exceptions.UserError`) and no seed (``seed`` is ignored
  with a warning).
* ``thinking`` on reasoning models (o-series, gpt-5 and later): a level is ``reasoning.effort``
  (``minimal`` only on gpt-5, else ``low``), an int is mapped to an effort (up to 2048 low, up to 8192
  medium, else high), ``True`` keeps the model's default and ``False`` asks for ``none`` (``minimal`` on
  gpt-5, ``low`` on o-series, which cannot stop reasoning). Reasoning models always get
  ``include=["reasoning.encrypted_content"]`` (unless thinking is ``False``), so reasoning items can be
  sent back whether or not the API stored them. Reasoning summaries, which arrive as :class:`Thinking`
  text, are opt-in on OpenAI's side: ``extra={"openai-responses": {"reasoning": {"summary": "auto"}}}``.
  On models that do not reason, ``thinking`` is ignored.
* ``extra={"openai-responses": {...}}`` is merged into the request body last, nested objects key by key
  (``{"reasoning": {"summary": "detailed"}}``, ``{"prompt_cache_key": ...}``); its ``tools`` are added
  after the function tools, for built-in tools such as ``{"type": "web_search"}``, whose calls come back
  as :class:`~podium.messages.ProviderPart` items and are sent back as they came.
* Structured output uses ``text.format`` with a JSON schema (``strict`` from the schema).

Conversation state, opt-in (both also accepted per request in ``extra``):

* ``store=False`` asks OpenAI not to keep responses; the full history is then sent each time, reasoning
  as encrypted content, and the ids of other items are left out.
* ``previous_response_id="auto"`` continues from the last OpenAI response in the history by its id and
  sends only the messages after it (smaller requests; the API must still hold that response, so not
  with ``store=False``). System messages are still sent as ``instructions``. A response id string instead
  of ``"auto"`` is sent as is, with all the messages given.

Errors are mapped to :mod:`podium.exceptions`, including a JSON error returned to a stream request,
``response.failed`` and ``error`` events inside a stream; retries follow the model's
:class:`~podium.providers.retry.RetryPolicy` (the SDK's own are off; a stream is retried while nothing has
reached the caller). Timeouts (:class:`~podium.settings.Timeouts`), content types and the end of a stream
(``response.completed`` or ``response.incomplete``) are checked as :mod:`podium.providers.transport.guard` describes.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Literal

from podium.exceptions import ProviderConnectionError, ProviderError, ProviderTimeoutError, UserError

try:
    import httpx2
    import openai
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise UserError("the OpenAI Responses provider needs the openai SDK: pip install 'podium[openai]'") from _exc

from podium.messages import Message, ModelResponse
from podium.providers.base import Model, require_model_name
from podium.providers.clients import PerLoop, sdk_options
from podium.providers.openai_responses_wire import (
    PROVIDER,
    StreamAccumulator,
    build_request,
    parse_response,
    profile_for,
)
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

__all__ = ["OpenAIResponsesModel"]

logger = logging.getLogger("podium.providers.openai_responses")

_END = "response.completed"


def map_error(exc: Exception, model: str | None) -> ProviderError:
    """The Podium error for an exception raised by the openai SDK."""
    if isinstance(exc, openai.APIStatusError):
        response = exc.response
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = response.text or exc.body
        return http_error(exc.status_code, body, provider=PROVIDER, model=model, headers=dict(response.headers.items()))
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeoutError(f"openai did not answer in time: {exc}", provider=PROVIDER, model=model)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderConnectionError(f"could not reach openai: {exc}", provider=PROVIDER, model=model)
    return ProviderError(f"openai SDK error: {exc}", provider=PROVIDER, model=model)


class OpenAIResponsesModel(Model):
    """An OpenAI model behind the Responses API (``/v1/responses``)."""

    provider = PROVIDER

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: openai.OpenAI | openai.AsyncOpenAI | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        store: bool | None = None,
        previous_response_id: Literal["auto"] | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        """Prepare a model; SDK clients are created on first use.

        Args:
            model_name: Such as ``gpt-5``.
            base_url: Send requests here instead of ``https://api.openai.com/v1`` (proxies, compatible servers).
            api_key: The API key; by default the SDK reads ``OPENAI_API_KEY``.
            client: An SDK client to use (sync or async); the other kind is created from the options.
                Its own retries are turned off (Podium's ``retry`` policy applies).
            retry: How to retry rate limits, server errors and connection failures.
            profile: Override the capability profile.
            store: Send ``store`` (``None`` keeps the API default, which stores responses).
            previous_response_id: ``"auto"`` to continue from the last response by id (see the module docs).
            timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); a number
                given as ``timeout=`` (the SDK's option) is taken as the total.
            **client_options: Passed to ``openai.OpenAI`` / ``AsyncOpenAI`` (``organization``,
                ``default_headers``, ``http_client`` ...).
        """
        if previous_response_id not in (None, "auto"):
            raise UserError(
                f"previous_response_id={previous_response_id!r}: use 'auto' here; pass a specific response id per "
                "request with ModelSettings(extra={'openai-responses': {'previous_response_id': ...}})"
            )
        self.model_name = require_model_name(PROVIDER, model_name)
        self.retry = retry or RetryPolicy()
        self.store = store
        self.previous_response_id = previous_response_id
        self._profile = profile
        client_options = dict(client_options)
        self.timeouts = timeouts_option(timeouts, client_options)
        self._options = sdk_options(client_options, base_url=base_url, api_key=api_key, max_retries=0)
        self._client: openai.OpenAI | None = None
        self._given_aclient: openai.AsyncOpenAI | None = None
        if isinstance(client, openai.AsyncOpenAI):
            self._given_aclient = client.with_options(max_retries=0)
        elif client is not None:
            self._client = client.with_options(max_retries=0)
        # async clients belong to the event loop that opened their connections: one per loop
        self._aclients: PerLoop[openai.AsyncOpenAI] = PerLoop(lambda: openai.AsyncOpenAI(**self._options))
        self._warned_seed = False

    @property
    def profile(self) -> ModelProfile:
        """What this model can do (from its family unless given)."""
        return self._profile or profile_for(self.model_name)

    def _check_key(self) -> None:
        """A clear error, instead of the SDK's, when no API key is set."""
        if not self._options.get("api_key") and not os.environ.get("OPENAI_API_KEY"):
            raise UserError(
                "no API key for openai-responses: set the OPENAI_API_KEY environment variable or pass api_key= "
                f"(e.g. podium.model('openai-responses:{self.model_name}', api_key='...'))"
            )

    def _sync(self) -> openai.OpenAI:
        if self._client is None:
            self._check_key()
            self._client = openai.OpenAI(**self._options)
        return self._client

    def _async(self) -> openai.AsyncOpenAI:
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
    ) -> tuple[dict[str, Any], Timeouts]:
        if settings is not None and settings.seed is not None and not self._warned_seed:
            self._warned_seed = True
            logger.warning("the OpenAI Responses API has no seed; seed=%s is ignored", settings.seed)
        body = build_request(
            messages,
            model_name=self.model_name,
            tools=tools,
            settings=settings,
            output=output,
            store=self.store,
            previous_response_id=self.previous_response_id,
        )
        body["stream"] = stream
        kwargs: dict[str, Any] = {"extra_body": body}
        if stream:
            kwargs["stream"] = True
        timeouts = resolve_timeouts(self.timeouts, settings)
        kwargs["timeout"] = httpx2.Timeout(**http_timeouts(timeouts, stream=stream))
        return kwargs, timeouts

    def _whole(self, kwargs: dict[str, Any], timeouts: Timeouts) -> dict[str, Any]:
        """One whole-answer request: its JSON, read within the total timeout."""
        deadline = Deadline(timeouts, PROVIDER, self.model_name)
        try:
            manager = self._sync().responses.with_streaming_response.create(**kwargs)
            response = manager.__enter__()
        except openai.APIError as exc:
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
            manager = self._async().responses.with_streaming_response.create(**kwargs)
            response = await manager.__aenter__()
        except openai.APIError as exc:
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
        kwargs, timeouts = self._prepare(messages, tools, settings, output, stream=False)
        data = call_with_retries(lambda: self._whole(kwargs, timeouts), self.retry)
        return parse_response(data, model_name=self.model_name)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> Iterator[StreamEvent]:
        """Send ``messages`` and yield deltas as they arrive, then the final :class:`ModelResponse`."""
        kwargs, timeouts = self._prepare(messages, tools, settings, output, stream=True)
        yield from guarded_stream(
            lambda deadline: self._stream_once(kwargs, deadline),
            self.retry,
            timeouts,
            provider=PROVIDER,
            model=self.model_name,
        )

    def _stream_once(self, kwargs: dict[str, Any], deadline: Deadline) -> Iterator[StreamEvent]:
        try:
            manager = self._sync().responses.with_streaming_response.create(**kwargs)
            response = manager.__enter__()
        except openai.APIError as exc:
            raise map_error(exc, self.model_name) from exc
        acc = StreamAccumulator()
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
        yield parse_response(acc.finish(), model_name=self.model_name)

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
        kwargs, timeouts = self._prepare(messages, tools, settings, output, stream=False)
        data = await call_with_retries_async(lambda: self._awhole(kwargs, timeouts), self.retry)
        return parse_response(data, model_name=self.model_name)

    async def astream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream`."""
        kwargs, timeouts = self._prepare(messages, tools, settings, output, stream=True)
        events = aguarded_stream(
            lambda deadline: self._astream_once(kwargs, deadline),
            self.retry,
            timeouts,
            provider=PROVIDER,
            model=self.model_name,
        )
        async for event in events:
            yield event

    async def _astream_once(self, kwargs: dict[str, Any], deadline: Deadline) -> AsyncIterator[StreamEvent]:
        try:
            manager = self._async().responses.with_streaming_response.create(**kwargs)
            response = await manager.__aenter__()
        except openai.APIError as exc:
            raise map_error(exc, self.model_name) from exc
        acc = StreamAccumulator()
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
        yield parse_response(acc.finish(), model_name=self.model_name)


def _json_body(content: bytes, model: str) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise not_json(PROVIDER, model, content) from exc
    if not isinstance(data, dict):
        raise not_json(PROVIDER, model, content)
    return data
