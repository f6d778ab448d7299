"""Google Gemini, on the Gemini API (provider ``google``) and on Vertex AI (provider ``google-vertex``).

Built on the official ``google-genai`` SDK (``pip install 'podium[google]'``), which does the auth
(API key, or Application Default Credentials on Vertex), endpoints, API versions and transport.
Podium builds the JSON body itself (:mod:`podium.providers.google_wire`) and reads raw JSON back
through the SDK's API client (``client._api_client``: ``request`` for whole responses, its
``_build_request``/``_request``/``segments`` for SSE streams), so no SDK pydantic object is built
per response or per stream chunk. Those client methods are not a documented surface; the extra pins
``google-genai>=3.6,<4`` and the replay tests exercise them.

Vertex: ``GoogleModel(name, vertex=True, project=..., location=...)`` or
``podium.model("google-vertex:gemini-2.5-flash", project=..., location=...)``. API versions default
to ``v1beta`` on the Gemini API and to the SDK's default on Vertex; pass ``api_version=``.

Settings: temperature, max_tokens, top_p, stop, seed, thinking (``thinkingConfig``, see
:func:`~podium.providers.google_wire.thinking_config`), tool_choice (``toolConfig``; a forced tool
uses ``allowedFunctionNames``), timeout; ``parallel_tool_calls`` has no Gemini switch and is
ignored. ``ModelSettings(extra={"google": {...}})`` is deep-merged into the body last (for example
``safetySettings`` or ``generationConfig.responseModalities``); ``cached_content`` names an explicit
context cache made with :meth:`GoogleModel.create_cache`.

Errors: the SDK's ``APIError`` becomes Podium's exception tree (status and JSON body kept); a 400
with reason ``API_KEY_INVALID`` is an :class:`~podium.exceptions.AuthenticationError`, and a 429's
``RetryInfo.retryDelay`` fills ``retry_after``. The SDK's own retries stay off; Podium's
:class:`~podium.providers.retry.RetryPolicy` retries, a stream while nothing has reached the caller.
Timeouts (:class:`~podium.settings.Timeouts`), content types and the end of a stream (a candidate's
``finishReason``; Gemini sends no other end marker) are checked as :mod:`podium.providers.transport.guard` describes;
Podium reads the SSE body of a stream itself.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podium.exceptions import (
    AuthenticationError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    UserError,
)
from podium.messages import JsonDict, Message, ModelResponse
from podium.providers.base import Model, require_model_name
from podium.providers.google_wire import GeminiAccumulator, build_request
from podium.providers.pricing import cost_of
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy, call_with_retries, call_with_retries_async
from podium.providers.sse import aiter_sse_data, iter_sse_data
from podium.providers.transport.errors import embedded_status, error_message, http_error
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
from podium.secrets import register_automatic
from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition
from podium.streaming import StreamEvent
from podium.usage import Usage

try:
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types as genai_types
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise UserError("the Google provider needs the google-genai SDK: pip install 'podium[google]'") from _exc

__all__ = ["GoogleCache", "GoogleModel", "google_profile", "vertex_model"]


_END = "a finishReason"


@dataclass(frozen=True, slots=True)
class GoogleCache:
    """An explicit context cache (``cachedContents``) on the Gemini API or Vertex."""

    name: str
    """Resource name, such as ``cachedContents/abc123``; pass it as ``extra={"google": {"cached_content": name}}``."""
    model: str | None = None
    """The model the cache belongs to."""
    expire_time: str | None = None
    """When the cache expires (RFC 3339)."""
    tokens: int = 0
    """Tokens held by the cache."""
    details: JsonDict | None = None
    """The whole ``CachedContent`` resource as returned."""


def google_profile(model_name: str) -> ModelProfile:
    """Capabilities of a Gemini model family."""
    name = model_name.lower().rsplit("/", 1)[-1]
    if name.startswith("gemma"):
        return ModelProfile(context_window=131_072, vision=True, tools=False, structured_output=False)
    if "gemini-1.5" in name:
        window = 2_097_152 if "pro" in name else 1_048_576
        return ModelProfile(
            context_window=window, max_output_tokens=8192, vision=True, files=True, structured_output=True
        )
    if "gemini-2.0" in name:
        return ModelProfile(
            context_window=1_048_576,
            max_output_tokens=8192,
            vision=True,
            files=True,
            thinking="thinking" in name,
            structured_output=True,
        )
    if "gemini" in name:  # 2.5, 3 and later
        return ModelProfile(
            context_window=1_048_576,
            max_output_tokens=65_536,
            vision=True,
            files=True,
            thinking=True,
            structured_output=True,
        )
    return ModelProfile(vision=True, files=True, structured_output=True)


def _retry_delay(body: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "37s"``)."""
    error = body.get("error", body) if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    for item in details or ():
        if isinstance(item, Mapping) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = re.fullmatch(r"\s*([0-9.]+)s\s*", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _error_reason(body: Any) -> str | None:
    error = body.get("error", body) if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    for item in details or ():
        if isinstance(item, Mapping) and item.get("reason"):
            return str(item["reason"])
    return None


def _transport_error(exc: BaseException, provider: str, model: str) -> ProviderError | None:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, TimeoutError) or names & {"TimeoutException", "ServerTimeoutError"}:
        return ProviderTimeoutError(f"{provider} did not answer in time: {exc}", provider=provider, model=model)
    if isinstance(exc, ConnectionError) or names & {"TransportError", "ClientConnectionError", "ClientOSError"}:
        return ProviderConnectionError(f"could not reach {provider}: {exc}", provider=provider, model=model)
    return None


def map_error(exc: BaseException, provider: str, model: str) -> ProviderError | None:
    """The Podium exception for an SDK or transport failure, or ``None`` when it is not one."""
    if isinstance(exc, genai_errors.APIError):
        body = exc.details
        headers: dict[str, str] = {}
        response = getattr(exc, "response", None)
        if response is not None and getattr(response, "headers", None) is not None:
            headers = {str(k): str(v) for k, v in response.headers.items()}
        return _body_error(int(exc.code or 0), body, provider, model, headers)
    return _transport_error(exc, provider, model)


def _body_error(status: int, body: Any, provider: str, model: str, headers: dict[str, str]) -> ProviderError:
    """The Podium exception for an error body with ``status`` (an HTTP answer, or an error in a stream)."""
    if status == 400 and _error_reason(body) == "API_KEY_INVALID":
        return AuthenticationError(
            error_message(body), status=status, body=body, provider=provider, model=model, headers=headers
        )
    error = http_error(status, body, provider=provider, model=model, headers=headers)
    if isinstance(error, RateLimitError) and error.retry_after is None:
        error.retry_after = _retry_delay(body)
    return error


def _stream_error(chunk: Mapping[str, Any], provider: str, model: str) -> ProviderError:
    """An error sent inside a stream: the same exception as that error body with its own status as an answer."""
    return _body_error(embedded_status(chunk, 500), dict(chunk), provider, model, {})


class GoogleModel(Model):
    """A Gemini model on the Gemini API or Vertex AI.

    Args:
        model_name: Such as ``gemini-2.5-flash``.
        base_url: Send requests here instead of Google's endpoint (proxies, replay servers).
        api_key: Gemini API key (default: ``GOOGLE_API_KEY`` / ``GEMINI_API_KEY``).
        client: A ready ``google.genai.Client`` (then the connection options are ignored).
        retry: Podium's retry policy (default :class:`RetryPolicy`).
        profile: Override the capability profile.
        vertex: Use Vertex AI (provider name ``google-vertex``).
        project: Vertex project id.
        location: Vertex location, such as ``us-central1`` or ``global``.
        credentials: ``google.auth`` credentials for Vertex (default: Application Default Credentials).
        api_version: API version (default ``v1beta`` on the Gemini API, the SDK's default on Vertex).
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); a number
            given as ``timeout=`` (seconds) or as ``http_options`` ``timeout`` (milliseconds, the SDK's option)
            is taken as the total.
        **client_options: Other ``genai.Client`` arguments (``http_options`` entries are merged).
    """

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        vertex: bool = False,
        project: str | None = None,
        location: str | None = None,
        credentials: Any = None,
        api_version: str | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        register_automatic(api_key, "api_key")  # a key handed to a provider is a secret
        self.provider = "google-vertex" if vertex else "google"
        self.model_name = require_model_name(self.provider, model_name)
        self.retry = retry or RetryPolicy()
        self._profile = profile
        self._client = client
        self._vertex = vertex
        http_options: dict[str, Any] = dict(client_options.pop("http_options", None) or {})
        timeouts = timeouts_option(timeouts, client_options)  # seconds, as the other providers take it
        self.timeouts = timeouts_option(timeouts, http_options, "timeout", 0.001)
        if base_url is not None:
            http_options["base_url"] = base_url
        if api_version is None and not vertex:
            api_version = "v1beta"
        if api_version is not None:
            http_options["api_version"] = api_version
        self._client_args: dict[str, Any] = {"http_options": http_options, **client_options}
        if vertex:
            self._client_args.update(vertexai=True, project=project, location=location, credentials=credentials)
            if api_key is not None:
                self._client_args["api_key"] = api_key
        else:
            self._client_args["api_key"] = api_key

    # ----------------------------------------------------------------- plumbing

    @property
    def profile(self) -> ModelProfile:
        """Capabilities of this model (from its family unless given)."""
        return self._profile or google_profile(self.model_name)

    @property
    def client(self) -> Any:
        """The ``google.genai.Client`` (created on first use)."""
        if self._client is None:
            args = dict(self._client_args)
            args["http_options"] = genai_types.HttpOptions(**args["http_options"])
            if not self._vertex and not (args.get("api_key") or _env_key()):
                raise UserError(
                    "no API key for google: set the GOOGLE_API_KEY (or GEMINI_API_KEY) environment variable or "
                    f"pass api_key= (e.g. podium.model('google:{self.model_name}', api_key='...'))"
                )
            try:
                self._client = genai.Client(**args)
            except Exception as exc:  # ValueError, or google-auth's DefaultCredentialsError on Vertex
                if type(exc).__name__ not in ("ValueError", "DefaultCredentialsError", "RefreshError"):
                    raise
                hint = (
                    " (Vertex needs project= and location=, and Application Default Credentials: "
                    "`gcloud auth application-default login`, or credentials=)"
                    if self._vertex
                    else ""
                )
                raise UserError(f"cannot create the Google client for {self.model_name}: {exc}{hint}") from exc
        return self._client

    @property
    def _api(self) -> Any:
        return self.client._api_client

    def _path(self, method: str) -> str:
        name = self.model_name
        if "/" not in name:
            name = f"publishers/google/models/{name}" if self._vertex else f"models/{name}"
        return f"{name}:{method}"

    def _prepare(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        settings: ModelSettings | None,
        output: OutputSchema | None,
    ) -> tuple[JsonDict, Timeouts]:
        settings = settings or ModelSettings()
        body = build_request(
            messages, provider=self.provider, model_name=self.model_name, tools=tools, settings=settings, output=output
        )
        return body, resolve_timeouts(self.timeouts, settings)

    def _http_request(
        self, api: Any, method: str, body: JsonDict, timeouts: Timeouts, *, stream: bool, is_async: bool = False
    ) -> Any:
        """The SDK's request object, with Podium's per-phase timeouts for the HTTP library it will use."""
        http_options = {"timeout": max(1, int(timeouts.total * 1000))}  # also sent as X-Server-Timeout
        request = api._build_request("post", self._path(method), dict(body), http_options)
        request.timeout = _timeout_value(api, http_timeouts(timeouts, stream=stream), is_async=is_async)
        return request

    def _cost(self, usage: Usage, model: str) -> float | None:
        return cost_of(self.provider, model or self.model_name, usage)

    def _fail(self, exc: BaseException) -> ProviderError | None:
        return map_error(exc, self.provider, self.model_name)

    def _mapped(self, exc: Exception) -> ProviderError:
        error = self._fail(exc)
        if error is None:
            raise exc
        return error

    def _accumulator(self) -> GeminiAccumulator:
        return GeminiAccumulator(self.provider, self.model_name)

    def _answer(self, raw: bytes) -> ModelResponse:
        """The response for a whole ``generateContent`` answer."""
        try:
            data = _loads(raw)
        except ValueError as exc:
            raise not_json(self.provider, self.model_name, raw) from exc
        acc = self._accumulator()
        acc.feed(data)
        return acc.build(cost_of=self._cost)

    # ----------------------------------------------------------------- requests

    def request(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Send ``messages`` to ``generateContent`` and return the whole response."""
        body, timeouts = self._prepare(messages, tools, settings, output)

        def once() -> ModelResponse:
            api = self._api
            deadline = Deadline(timeouts, self.provider, self.model_name)
            try:
                response = api._request(
                    self._http_request(api, "generateContent", body, timeouts, stream=False), stream=True
                )
            except Exception as exc:
                raise self._mapped(exc) from exc
            http = response.response_stream
            try:
                raw = read_whole(
                    _HttpView(response.headers, http), deadline, JSON, provider=self.provider, model=self.model_name
                )
            except ProviderError:
                raise
            except Exception as exc:
                raise self._mapped(exc) from exc
            finally:
                close = getattr(http, "close", None)
                if close is not None:
                    close()
            return self._answer(raw)

        return call_with_retries(once, self.retry)

    async def arequest(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Async twin of :meth:`request` (the SDK's async client)."""
        body, timeouts = self._prepare(messages, tools, settings, output)

        async def once() -> ModelResponse:
            api = self._api
            deadline = Deadline(timeouts, self.provider, self.model_name)
            try:
                request = self._http_request(api, "generateContent", body, timeouts, stream=False, is_async=True)
                response = await api._async_request(http_request=request, stream=True)
            except Exception as exc:
                raise self._mapped(exc) from exc
            http = response.response_stream
            try:
                raw = await aread_whole(
                    _HttpView(response.headers, http), deadline, JSON, provider=self.provider, model=self.model_name
                )
            except ProviderError:
                raise
            except Exception as exc:
                raise self._mapped(exc) from exc
            finally:
                await _aclose(http)
            return self._answer(raw)

        return await call_with_retries_async(once, self.retry)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> Iterator[StreamEvent]:
        """Send ``messages`` to ``streamGenerateContent`` (SSE); yield deltas, then the final response."""
        body, timeouts = self._prepare(messages, tools, settings, output)
        yield from guarded_stream(
            lambda deadline: self._stream_once(body, timeouts, deadline),
            self.retry,
            timeouts,
            provider=self.provider,
            model=self.model_name,
        )

    def _stream_once(self, body: JsonDict, timeouts: Timeouts, deadline: Deadline) -> Iterator[StreamEvent]:
        api = self._api
        try:
            request = self._http_request(api, "streamGenerateContent?alt=sse", body, timeouts, stream=True)
            response = api._request(request, stream=True)
        except Exception as exc:
            raise self._mapped(exc) from exc
        http = response.response_stream
        acc = self._accumulator()
        provider, model = self.provider, self.model_name
        try:
            chunks = _iter_bytes(http)
            check_content_type(response.headers, SSE, provider=provider, model=model, body=lambda: first_bytes(chunks))
            payloads = iter_sse_data(deadline.chunks(chunks))
            for chunk in parsed(payloads, json.loads, provider=provider, model=model, marker=_END):
                if "error" in chunk:
                    raise _stream_error(chunk, provider, model)
                yield from acc.feed(chunk)
        except ProviderError:
            if not acc.complete:  # once the end marker arrived the answer is whole: a later failure does not matter
                raise
        except Exception as exc:
            error = self._mapped(exc)
            if not acc.complete:
                raise error from exc
        finally:
            close = getattr(http, "close", None)
            if close is not None:
                close()
        if not acc.complete:
            raise incomplete_stream(provider, model, _END)
        yield acc.build(cost_of=self._cost)

    async def astream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Async twin of :meth:`stream` (the SDK's async client)."""
        body, timeouts = self._prepare(messages, tools, settings, output)
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
        api = self._api
        try:
            request = self._http_request(
                api, "streamGenerateContent?alt=sse", body, timeouts, stream=True, is_async=True
            )
            response = await api._async_request(http_request=request, stream=True)
        except Exception as exc:
            raise self._mapped(exc) from exc
        http = response.response_stream
        acc = self._accumulator()
        provider, model = self.provider, self.model_name
        try:
            chunks = _aiter_bytes(http)
            if wrong_content_type(response.headers, SSE) is not None:
                start = await afirst_bytes(chunks)
                check_content_type(response.headers, SSE, provider=provider, model=model, body=start)
            payloads = aiter_sse_data(deadline.achunks(chunks))
            async for chunk in aparsed(payloads, json.loads, provider=provider, model=model, marker=_END):
                if "error" in chunk:
                    raise _stream_error(chunk, provider, model)
                for delta in acc.feed(chunk):
                    yield delta
        except ProviderError:
            if not acc.complete:  # once the end marker arrived the answer is whole: a later failure does not matter
                raise
        except Exception as exc:
            error = self._mapped(exc)
            if not acc.complete:
                raise error from exc
        finally:
            await _aclose(http)
        if not acc.complete:
            raise incomplete_stream(provider, model, _END)
        yield acc.build(cost_of=self._cost)

    # ----------------------------------------------------------------- explicit context caches

    def _cache_body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        ttl: float | str | None,
        display_name: str | None,
    ) -> JsonDict:
        body = build_request(
            messages,
            provider=self.provider,
            model_name=self.model_name,
            tools=tools,
            settings=ModelSettings(),
            output=None,
        )
        model = self._path("x").rsplit(":", 1)[0]
        if self._vertex and not model.startswith("projects/"):
            api = self._api
            model = f"projects/{api.project}/locations/{api.location}/{model}"
        cache: JsonDict = {"model": model, **body}
        if ttl is not None:
            cache["ttl"] = ttl if isinstance(ttl, str) else f"{ttl:g}s"
        if display_name is not None:
            cache["displayName"] = display_name
        return cache

    @staticmethod
    def _cache_of(data: Mapping[str, Any]) -> GoogleCache:
        usage = data.get("usageMetadata") or {}
        return GoogleCache(
            name=str(data.get("name", "")),
            model=data.get("model"),
            expire_time=data.get("expireTime"),
            tokens=int(usage.get("totalTokenCount", 0)),
            details=dict(data),
        )

    def _call(self, method: str, path: str, body: JsonDict) -> Any:
        try:
            raw = self._api.request(method, path, body, None)
        except Exception as exc:
            error = self._fail(exc)
            if error is None:
                raise
            raise error from exc
        return _loads(raw.body) if raw.body else {}

    async def _acall(self, method: str, path: str, body: JsonDict) -> Any:
        try:
            raw = await self._api.async_request(method, path, body, None)
        except Exception as exc:
            error = self._fail(exc)
            if error is None:
                raise
            raise error from exc
        return _loads(raw.body) if raw.body else {}

    def create_cache(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        ttl: float | str | None = None,
        display_name: str | None = None,
    ) -> GoogleCache:
        """Put ``messages`` (system instruction included) and ``tools`` in an explicit context cache.

        Use it with ``ModelSettings(extra={"google": {"cached_content": cache.name}})``; later
        requests then send only the new messages. ``ttl`` is seconds (or a string like ``"300s"``).
        """
        body = self._cache_body(messages, tools, ttl, display_name)
        return self._cache_of(call_with_retries(lambda: self._call("post", "cachedContents", body), self.retry))

    async def acreate_cache(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        ttl: float | str | None = None,
        display_name: str | None = None,
    ) -> GoogleCache:
        """Async twin of :meth:`create_cache`."""
        body = self._cache_body(messages, tools, ttl, display_name)
        data = await call_with_retries_async(lambda: self._acall("post", "cachedContents", body), self.retry)
        return self._cache_of(data)

    def delete_cache(self, cache: GoogleCache | str) -> None:
        """Delete an explicit context cache."""
        name = cache.name if isinstance(cache, GoogleCache) else cache
        self._call("delete", name, {})

    async def adelete_cache(self, cache: GoogleCache | str) -> None:
        """Async twin of :meth:`delete_cache`."""
        name = cache.name if isinstance(cache, GoogleCache) else cache
        await self._acall("delete", name, {})


def _loads(text: str | bytes) -> Any:
    return json.loads(text) if text else {}


def _env_key() -> str | None:
    return os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")


def _timeout_value(api: Any, phases: dict[str, float], *, is_async: bool) -> Any:
    """The SDK request's ``timeout`` for the HTTP library it sends with.

    ``httpx`` takes ``(connect, read, write, pool)``; ``requests`` (google-auth's mTLS session, sync) takes
    ``(connect, read)``; ``aiohttp`` (the async client when it is installed) takes one number, used as
    the total (its idle timeout is then not set: the total bounds a stalled stream).
    """
    four = (phases["connect"], phases["read"], phases["write"], phases["pool"])
    if is_async:
        use_aiohttp = getattr(api, "_use_aiohttp", None)
        return phases["pool"] if use_aiohttp is not None and use_aiohttp() else four
    use_auth = getattr(api, "_use_google_auth_sync", None)
    return four[:2] if use_auth is not None and use_auth() else four


class _HttpView:
    """An SDK response as :func:`~podium.providers.transport.guard.read_whole` reads it: headers and body chunks."""

    def __init__(self, headers: Any, http: Any) -> None:
        self.headers = headers
        self._http = http

    def iter_bytes(self) -> Iterator[bytes]:
        return _iter_bytes(self._http)

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return _aiter_bytes(self._http)


def _iter_bytes(http: Any) -> Iterator[bytes]:
    """The body of a streamed response (``httpx`` or ``requests``) as it arrives."""
    if hasattr(http, "iter_bytes"):
        return iter(http.iter_bytes())
    return iter(http.iter_content(chunk_size=None))


def _aiter_bytes(http: Any) -> AsyncIterator[bytes]:
    """The body of a streamed async response (``httpx`` or ``aiohttp``) as it arrives."""
    if hasattr(http, "aiter_bytes"):
        return aiter(http.aiter_bytes())
    return aiter(http.content.iter_any())


async def _aclose(http: Any) -> None:
    aclose = getattr(http, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    release = getattr(http, "release", None)  # aiohttp
    if release is not None:
        release()


def vertex_model(model_name: str, **options: Any) -> GoogleModel:
    """A Gemini model on Vertex AI (the ``google-vertex`` provider)."""
    return GoogleModel(model_name, vertex=True, **options)
