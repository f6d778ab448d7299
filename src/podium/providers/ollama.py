"""Ollama (``ollama:<model>``) through the official ``ollama`` SDK: the native ``/api/chat`` API.

The SDK's client carries the host (``base_url=``, ``OLLAMA_HOST``, default ``http://localhost:11434``),
its headers and the ``OLLAMA_API_KEY`` bearer token (for ollama.com); Podium sends its own JSON body
through the SDK's ``httpx`` client and reads the raw response and NDJSON stream, so no SDK model is
built per chunk. The translation rules are in :mod:`podium.providers.ollama_wire`.

Two other wire APIs are available on the same model class:

* ``endpoint="generate"``: the single-turn ``/api/generate`` completion API (see ``ollama_wire``).
* ``api="openai"``: Ollama's OpenAI-compatible ``/v1/chat/completions`` (see ``ollama_openai_wire``),
  for servers or gateways that expose only that.

Example::

    import podium

    model = podium.model("ollama:qwen3:0.6b")
    print(model.request([podium.Message.user("Hello")]).text)

A local model costs nothing: ``cost`` is ``0.0``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from podium.exceptions import ProviderConnectionError, ProviderError, UserError
from podium.messages import Message, ModelResponse
from podium.providers.http_model import HTTPModel, StreamState
from podium.providers.ollama_openai_wire import OpenAIStreamState, build_openai_body, parse_openai_response
from podium.providers.ollama_wire import (
    PROVIDER,
    OllamaStreamState,
    build_chat_body,
    build_generate_body,
    parse_chat_response,
    parse_generate_response,
)
from podium.providers.profiles import ModelProfile
from podium.providers.raw_http import RawResponse, transport_error
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings, OutputSchema, ToolDefinition

try:
    import ollama
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise UserError("the Ollama provider needs the ollama SDK: pip install 'podium[ollama]'") from _exc

__all__ = ["OllamaModel", "ollama_profile"]

_THINKING = ("qwen3", "deepseek-r1", "gpt-oss", "magistral", "qwq", "phi4-reasoning", "cogito")
_VISION = ("llava", "vision", "gemma3", "qwen2.5vl", "qwen3-vl", "minicpm-v", "moondream", "llama4", "mistral-small3")
_NO_TOOLS = ("llama3:", "gemma:", "gemma2", "phi3", "llava")


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


class OllamaModel(HTTPModel):
    """A model served by Ollama.

    Args:
        model_name: Such as ``llama3.1`` or ``qwen3:0.6b``.
        base_url: The Ollama host instead of ``OLLAMA_HOST`` / ``http://localhost:11434``.
        api_key: Bearer token (ollama.com) instead of ``OLLAMA_API_KEY``.
        client: A ready ``ollama.Client`` (its host and headers are used as they are).
        async_client: A ready ``ollama.AsyncClient`` for the async methods.
        retry: How failed requests are retried.
        profile: Override the capability profile.
        api: ``native`` (``/api/...``, the default) or ``openai`` (``/v1/chat/completions``).
        endpoint: With the native API: ``chat`` (the default) or ``generate`` (single-turn completion).
        **client_options: Passed to ``ollama.Client(...)`` (``headers``, ``timeout``, httpx options ...).
    """

    provider = PROVIDER

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
        api: Literal["native", "openai"] = "native",
        endpoint: Literal["chat", "generate"] = "chat",
        **client_options: Any,
    ) -> None:
        super().__init__(model_name, retry=retry, profile=profile)
        if api not in ("native", "openai"):
            raise UserError(f"api={api!r}: use 'native' (Ollama's /api/chat) or 'openai' (/v1/chat/completions)")
        if endpoint not in ("chat", "generate") or (api == "openai" and endpoint != "chat"):
            raise UserError(f"endpoint={endpoint!r}: use 'chat', or 'generate' with the native API")
        self.api = api
        """Which wire API requests use."""
        self.endpoint = endpoint
        """Which native endpoint requests use."""
        self._host = base_url
        self._client = client
        self._async_client = async_client
        self._client_options = dict(client_options)
        if api_key is not None:
            headers = dict(self._client_options.get("headers") or {})
            headers["authorization"] = f"Bearer {api_key}"
            self._client_options["headers"] = headers
        if api == "openai":
            self._path = "/v1/chat/completions"
            self.stream_format = "sse"
        else:
            self._path = "/api/generate" if endpoint == "generate" else "/api/chat"
            self.stream_format = "ndjson"

    @property
    def profile(self) -> ModelProfile:
        """What this model can do."""
        return self._profile if self._profile is not None else ollama_profile(self.model_name)

    @property
    def client(self) -> ollama.Client:
        """The SDK's sync client, created on first use."""
        if self._client is None:
            self._client = ollama.Client(host=self._host, **self._client_options)
        return self._client

    @property
    def async_client(self) -> ollama.AsyncClient:
        """The SDK's async client, created on first use."""
        if self._async_client is None:
            host = self._host
            if host is None and self._client is not None:  # follow a client the caller gave
                host = str(self._client._client.base_url)
            self._async_client = ollama.AsyncClient(host=host, **self._client_options)
        return self._async_client

    # ------------------------------------------------------------------ translation

    def build_body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None,
        settings: ModelSettings,
        output: OutputSchema | None,
        *,
        stream: bool,
    ) -> dict[str, Any]:
        """The JSON request body for the configured API and endpoint."""
        if self.api == "openai":
            build = build_openai_body
        else:
            build = build_generate_body if self.endpoint == "generate" else build_chat_body
        return build(self.model_name, messages, tools, settings, output, stream=stream)

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a response body."""
        if self.api == "openai":
            return parse_openai_response(data)
        if self.endpoint == "generate":
            return parse_generate_response(data)
        return parse_chat_response(data)

    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""
        if self.api == "openai":
            return OpenAIStreamState()
        return OllamaStreamState(generate=self.endpoint == "generate")

    # ------------------------------------------------------------------ transport

    def map_error(self, exc: Exception) -> ProviderError | None:
        """Podium's error for a transport failure, with a hint when Ollama is not running."""
        mapped = transport_error(exc, provider=PROVIDER, model=self.model_name)
        if isinstance(mapped, ProviderConnectionError):
            host = self.client._client.base_url
            message = f"could not reach Ollama at {host}; is Ollama running (`ollama serve`)? ({exc!r})"
            return ProviderConnectionError(message, provider=PROVIDER, model=self.model_name)
        return mapped

    def _request_args(self, body: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        args: dict[str, Any] = {
            "content": json.dumps(body, ensure_ascii=False).encode(),
            "headers": {"content-type": "application/json"},
        }
        if timeout is not None:
            args["timeout"] = timeout
        return args

    def _send(self, body: dict[str, Any], *, stream: bool, timeout: float | None) -> RawResponse:
        http = self.client._client
        request = http.build_request("POST", self._path, **self._request_args(body, timeout))
        response: RawResponse = http.send(request, stream=stream)
        return response

    async def _asend(self, body: dict[str, Any], *, stream: bool, timeout: float | None) -> RawResponse:
        http = self.async_client._client
        request = http.build_request("POST", self._path, **self._request_args(body, timeout))
        response: RawResponse = await http.send(request, stream=stream)
        return response


def make_model(model_name: str, **options: Any) -> OllamaModel:
    """Registry factory: ``podium.model("ollama:<name>", **options)``."""
    return OllamaModel(model_name, **options)
