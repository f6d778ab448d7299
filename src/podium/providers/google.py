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
:class:`~podium.providers.retry.RetryPolicy` retries, and for a stream only its opening.
"""

from __future__ import annotations

import json
import logging
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
from podium.providers.base import Model
from podium.providers.errors import error_message, http_error
from podium.providers.google_wire import GeminiAccumulator, build_request
from podium.providers.pricing import cost_of
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy, call_with_retries, call_with_retries_async
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import StreamEvent
from podium.usage import Usage

try:
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types as genai_types
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise UserError("the Google provider needs the google-genai SDK: pip install 'podium[google]'") from _exc

__all__ = ["GoogleCache", "GoogleModel", "google_profile", "vertex_model"]

logger = logging.getLogger("podium.providers.google")


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
        status = int(exc.code or 0)
        if status == 400 and _error_reason(body) == "API_KEY_INVALID":
            return AuthenticationError(
                error_message(body), status=status, body=body, provider=provider, model=model, headers=headers
            )
        error = http_error(status, body, provider=provider, model=model, headers=headers)
        if isinstance(error, RateLimitError) and error.retry_after is None:
            error.retry_after = _retry_delay(body)
        return error
    return _transport_error(exc, provider, model)


def _stream_error(chunk: Mapping[str, Any], provider: str, model: str) -> ProviderError:
    error = chunk.get("error") or {}
    status = int(error.get("code") or 500) if isinstance(error, Mapping) else 500
    return http_error(status, dict(chunk), provider=provider, model=model)


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
        **client_options: Any,
    ) -> None:
        self.model_name = model_name
        self.provider = "google-vertex" if vertex else "google"
        self.retry = retry or RetryPolicy()
        self._profile = profile
        self._client = client
        self._vertex = vertex
        http_options: dict[str, Any] = dict(client_options.pop("http_options", None) or {})
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
            try:
                self._client = genai.Client(**args)
            except ValueError as exc:
                raise UserError(f"cannot create the Google client for {self.model_name}: {exc}") from exc
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
    ) -> tuple[JsonDict, dict[str, Any] | None]:
        settings = settings or ModelSettings()
        body = build_request(
            messages, provider=self.provider, model_name=self.model_name, tools=tools, settings=settings, output=output
        )
        http_options = {"timeout": int(settings.timeout * 1000)} if settings.timeout is not None else None
        return body, http_options

    def _cost(self, usage: Usage, model: str) -> float | None:
        return cost_of(self.provider, model or self.model_name, usage)

    def _fail(self, exc: BaseException) -> ProviderError | None:
        return map_error(exc, self.provider, self.model_name)

    def _accumulator(self) -> GeminiAccumulator:
        return GeminiAccumulator(self.provider, self.model_name)

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
        body, http_options = self._prepare(messages, tools, settings, output)
        path = self._path("generateContent")

        def once() -> Any:
            try:
                return self._api.request("post", path, body, http_options)
            except Exception as exc:
                error = self._fail(exc)
                if error is None:
                    raise
                raise error from exc

        raw = call_with_retries(once, self.retry)
        acc = self._accumulator()
        acc.feed(_loads(raw.body))
        return acc.build(cost_of=self._cost)

    async def arequest(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> ModelResponse:
        """Async twin of :meth:`request` (the SDK's async client)."""
        body, http_options = self._prepare(messages, tools, settings, output)
        path = self._path("generateContent")

        async def once() -> Any:
            try:
                return await self._api.async_request("post", path, body, http_options)
            except Exception as exc:
                error = self._fail(exc)
                if error is None:
                    raise
                raise error from exc

        raw = await call_with_retries_async(once, self.retry)
        acc = self._accumulator()
        acc.feed(_loads(raw.body))
        return acc.build(cost_of=self._cost)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> Iterator[StreamEvent]:
        """Send ``messages`` to ``streamGenerateContent`` (SSE); yield deltas, then the final response."""
        body, http_options = self._prepare(messages, tools, settings, output)
        api = self._api
        path = self._path("streamGenerateContent?alt=sse")

        def open_stream() -> Any:
            try:
                request = api._build_request("post", path, dict(body), http_options)
                return api._request(request, http_options, stream=True)
            except Exception as exc:
                error = self._fail(exc)
                if error is None:
                    raise
                raise error from exc

        response = call_with_retries(open_stream, self.retry)
        acc = self._accumulator()
        try:
            for chunk in response.segments():
                if "error" in chunk:
                    raise _stream_error(chunk, self.provider, self.model_name)
                yield from acc.feed(chunk)
        except ProviderError:
            raise
        except Exception as exc:
            error = self._fail(exc)
            if error is None:
                raise
            raise error from exc
        finally:
            close = getattr(response.response_stream, "close", None)
            if close is not None:
                close()
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
        body, http_options = self._prepare(messages, tools, settings, output)
        api = self._api
        path = self._path("streamGenerateContent?alt=sse")

        async def open_stream() -> Any:
            try:
                request = api._build_request("post", path, dict(body), http_options)
                return await api._async_request(http_request=request, http_options=http_options, stream=True)
            except Exception as exc:
                error = self._fail(exc)
                if error is None:
                    raise
                raise error from exc

        response = await call_with_retries_async(open_stream, self.retry)
        acc = self._accumulator()
        segments = response.async_segments()
        try:
            async for chunk in segments:
                if "error" in chunk:
                    raise _stream_error(chunk, self.provider, self.model_name)
                for delta in acc.feed(chunk):
                    yield delta
        except ProviderError:
            raise
        except Exception as exc:
            error = self._fail(exc)
            if error is None:
                raise
            raise error from exc
        finally:
            await segments.aclose()
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


def vertex_model(model_name: str, **options: Any) -> GoogleModel:
    """A Gemini model on Vertex AI (the ``google-vertex`` provider)."""
    return GoogleModel(model_name, vertex=True, **options)
