"""Ollama (``ollama:<model>``) through the official ``ollama`` SDK: the native ``/api/chat`` API.

The SDK's client carries the host (``base_url=``, ``OLLAMA_HOST``, default ``http://localhost:11434``),
its headers and the ``OLLAMA_API_KEY`` bearer token (for ollama.com); Podium sends its own JSON body
through the SDK's ``httpx`` client and reads the raw response and NDJSON stream, so no SDK model is
built per chunk. The translation rules are in :mod:`podium.providers.ollama_wire`.

Two other wire APIs are available:

* ``OllamaModel(..., endpoint="generate")``: the single-turn ``/api/generate`` completion API (see
  ``ollama_wire``).
* :class:`OllamaOpenAIModel` (``podium.model("ollama:<name>", api="openai")``): Ollama's
  OpenAI-compatible ``/v1/chat/completions``, for servers or gateways that expose only that. It uses
  the shared Chat Completions translation (:mod:`podium.providers.chat_wire`, ``chat_stream``) with an
  Ollama dialect (reasoning read from and sent back in ``reasoning``), still through the ollama SDK's
  client.

Example::

    import podium

    model = podium.model("ollama:qwen3:0.6b")
    print(model.request([podium.Message.user("Hello")]).text)

A local model costs nothing: ``cost`` is ``0.0``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from podium.exceptions import ProviderConnectionError, ProviderError, UserError
from podium.messages import Message, ModelResponse
from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_model import ChatCompletionsModel
from podium.providers.clients import PerLoop
from podium.providers.http_model import HTTPModel, StreamState
from podium.providers.ollama_wire import (
    PROVIDER,
    OllamaStreamState,
    build_chat_body,
    build_generate_body,
    parse_chat_response,
    parse_generate_response,
)
from podium.providers.profiles import ModelProfile
from podium.providers.raw_http import MappedStream, RawResponse, error_from_response, transport_error
from podium.providers.retry import RetryPolicy
from podium.providers.transport.guard import timeouts_option
from podium.secrets import register_automatic
from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition

try:
    import ollama
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise UserError("the Ollama provider needs the ollama SDK: pip install 'podium[ollama]'") from _exc

__all__ = ["OLLAMA_DIALECT", "OllamaModel", "OllamaOpenAIModel", "ollama_profile"]

_THINKING = ("qwen3", "deepseek-r1", "gpt-oss", "magistral", "qwq", "phi4-reasoning", "cogito")
_VISION = ("llava", "vision", "gemma3", "qwen2.5vl", "qwen3-vl", "minicpm-v", "moondream", "llama4", "mistral-small3")
_NO_TOOLS = ("llama3:", "gemma:", "gemma2", "phi3", "llava")

OLLAMA_DIALECT = ChatDialect(
    provider=PROVIDER,
    reasoning_fields=("reasoning", "reasoning_content"),
    reasoning_echo="reasoning",
    thinking_param="reasoning_effort",
)
"""How Ollama's OpenAI-compatible ``/v1`` differs from OpenAI's Chat Completions."""


def ollama_profile(model_name: str) -> ModelProfile:
    """The capability profile of an Ollama model, by family (the context window depends on ``num_ctx``)."""
    name = model_name.lower()
    bare = name if ":" in name else name + ":"
    return ModelProfile(
        tools=not bare.startswith(_NO_TOOLS),
        parallel_tool_calls=True,
        vision=any(k in name for k in _VISION),
        thinking=any(k in name for k in _THINKING),
        structured_output=True,
    )


class _Clients:
    """The ollama SDK clients of one model: a sync client, and an async client per event loop."""

    def __init__(
        self,
        model_name: str,
        host: str | None,
        api_key: str | None,
        client: ollama.Client | None,
        async_client: ollama.AsyncClient | None,
        options: dict[str, Any],
    ) -> None:
        register_automatic(api_key, "api_key")  # a key handed to a provider is a secret
        self.model_name = model_name
        self.options = dict(options)
        if api_key is not None:
            headers = dict(self.options.get("headers") or {})
            headers["authorization"] = f"Bearer {api_key}"
            self.options["headers"] = headers
        if host is None and client is not None:  # an async client follows a sync client the caller gave
            host = str(client._client.base_url)
        self.host = host
        self._client = client
        self._given_async = async_client
        self._async = PerLoop(lambda: ollama.AsyncClient(host=self.host, **self.options))

    @property
    def sync(self) -> ollama.Client:
        if self._client is None:
            self._client = ollama.Client(host=self.host, **self.options)
        return self._client

    @property
    def async_(self) -> ollama.AsyncClient:
        return self._given_async if self._given_async is not None else self._async.get()

    def error(self, exc: Exception) -> ProviderError | None:
        mapped = transport_error(exc, provider=PROVIDER, model=self.model_name)
        if isinstance(mapped, ProviderConnectionError):
            where = self.host or "OLLAMA_HOST / http://localhost:11434"
            message = f"could not reach Ollama at {where}; is Ollama running (`ollama serve`)? ({exc!r})"
            return ProviderConnectionError(message, provider=PROVIDER, model=self.model_name)
        return mapped

    @staticmethod
    def _request(http: Any, path: str, body: dict[str, Any], timeouts: Mapping[str, float]) -> Any:
        content = json.dumps(body, ensure_ascii=False).encode()
        request = http.build_request("POST", path, content=content, headers={"content-type": "application/json"})
        request.extensions["timeout"] = dict(timeouts)
        return request

    def send(self, path: str, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]) -> RawResponse:
        http = self.sync._client
        response: RawResponse = http.send(self._request(http, path, body, timeouts), stream=stream)
        return response

    async def asend(
        self, path: str, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]
    ) -> RawResponse:
        http = self.async_._client
        response: RawResponse = await http.send(self._request(http, path, body, timeouts), stream=stream)
        return response

    def checked(self, path: str, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]) -> RawResponse:
        """``send``, with failures raised as Podium errors (for the Chat Completions transport hooks)."""
        try:
            response = self.send(path, body, stream=stream, timeouts=timeouts)
        except Exception as exc:
            mapped = self.error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        if response.status_code >= 400:
            try:
                response.read()
            finally:
                response.close()
            raise error_from_response(response, provider=PROVIDER, model=self.model_name)
        return response

    async def achecked(
        self, path: str, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]
    ) -> RawResponse:
        """Async twin of :meth:`checked`."""
        try:
            response = await self.asend(path, body, stream=stream, timeouts=timeouts)
        except Exception as exc:
            mapped = self.error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        if response.status_code >= 400:
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise error_from_response(response, provider=PROVIDER, model=self.model_name)
        return response


class OllamaModel(HTTPModel):
    """A model served by Ollama, through its native API.

    Args:
        model_name: Such as ``llama3.1`` or ``qwen3:0.6b``.
        base_url: The Ollama host instead of ``OLLAMA_HOST`` / ``http://localhost:11434``.
        api_key: Bearer token (ollama.com) instead of ``OLLAMA_API_KEY``.
        client: A ready ``ollama.Client`` (its host and headers are used as they are).
        async_client: A ready ``ollama.AsyncClient`` for the async methods (else one per event loop).
        retry: How failed requests are retried.
        profile: Override the capability profile.
        endpoint: ``chat`` (``/api/chat``, the default) or ``generate`` (single-turn ``/api/generate``).
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); they replace
            the client's ``timeout`` (a number given as ``timeout=`` is taken as the total).
        **client_options: Passed to ``ollama.Client(...)`` (``headers``, httpx options ...).
    """

    provider = PROVIDER
    stream_format = "ndjson"
    end_marker = '"done": true'

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: ollama.Client | None = None,
        async_client: ollama.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        endpoint: Literal["chat", "generate"] = "chat",
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        register_automatic(api_key, "api_key")  # a key handed to a provider is a secret
        client_options = dict(client_options)
        timeouts = timeouts_option(timeouts, client_options)
        super().__init__(model_name, retry=retry, profile=profile, timeouts=timeouts)
        if endpoint not in ("chat", "generate"):
            raise UserError(f"endpoint={endpoint!r}: use 'chat' (Ollama's /api/chat) or 'generate' (/api/generate)")
        self.endpoint = endpoint
        """Which native endpoint requests use."""
        self._path = "/api/generate" if endpoint == "generate" else "/api/chat"
        self._clients = _Clients(model_name, base_url, api_key, client, async_client, client_options)

    @property
    def profile(self) -> ModelProfile:
        """What this model can do."""
        return self._profile if self._profile is not None else ollama_profile(self.model_name)

    @property
    def client(self) -> ollama.Client:
        """The SDK's sync client, created on first use."""
        return self._clients.sync

    def build_body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        settings: ModelSettings,
        output: OutputSchema | None,
        *,
        stream: bool,
    ) -> dict[str, Any]:
        """The JSON request body for the configured endpoint."""
        build = build_generate_body if self.endpoint == "generate" else build_chat_body
        return build(self.model_name, messages, tools, settings, output, stream=stream)

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a response body."""
        if self.endpoint == "generate":
            return parse_generate_response(data)
        return parse_chat_response(data)

    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""
        return OllamaStreamState(generate=self.endpoint == "generate")

    def map_error(self, exc: Exception) -> ProviderError | None:
        """Podium's error for a transport failure, with a hint when Ollama is not running."""
        return self._clients.error(exc)

    def _send(self, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]) -> RawResponse:
        return self._clients.send(self._path, body, stream=True, timeouts=timeouts)

    async def _asend(self, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]) -> RawResponse:
        return await self._clients.asend(self._path, body, stream=True, timeouts=timeouts)


class OllamaOpenAIModel(ChatCompletionsModel):
    """A model served by Ollama, through its OpenAI-compatible ``/v1/chat/completions``.

    Takes the same arguments as :class:`OllamaModel` (without ``endpoint``).
    """

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: ollama.Client | None = None,
        async_client: ollama.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        register_automatic(api_key, "api_key")  # a key handed to a provider is a secret
        client_options = dict(client_options)
        timeouts = timeouts_option(timeouts, client_options)
        super().__init__(
            model_name,
            dialect=OLLAMA_DIALECT,
            profile=profile or ollama_profile(model_name),
            retry=retry,
            timeouts=timeouts,
        )
        self._clients = _Clients(model_name, base_url, api_key, client, async_client, client_options)

    @property
    def client(self) -> ollama.Client:
        """The SDK's sync client, created on first use."""
        return self._clients.sync

    def _open_stream(self, body: dict[str, Any], timeouts: Mapping[str, float]) -> MappedStream:
        response = self._clients.checked(_V1_PATH, body, stream=True, timeouts=timeouts)
        return MappedStream(response, self._clients.error)

    async def _aopen_stream(self, body: dict[str, Any], timeouts: Mapping[str, float]) -> MappedStream:
        response = await self._clients.achecked(_V1_PATH, body, stream=True, timeouts=timeouts)
        return MappedStream(response, self._clients.error)


_V1_PATH = "/v1/chat/completions"


def make_model(model_name: str, *, api: str = "native", **options: Any) -> OllamaModel | OllamaOpenAIModel:
    """Registry factory: ``podium.model("ollama:<name>", api="native" | "openai", **options)``."""
    if api == "native":
        return OllamaModel(model_name, **options)
    if api == "openai":
        if "endpoint" in options:
            raise UserError("endpoint= applies to Ollama's native API only (api='native')")
        return OllamaOpenAIModel(model_name, **options)
    raise UserError(f"api={api!r}: use 'native' (Ollama's /api/chat) or 'openai' (/v1/chat/completions)")
