"""Cohere (``cohere:<model>``) through the official ``cohere`` SDK: the v2 chat API.

The SDK's client wrapper provides the base URL (``base_url=``, ``CO_API_URL``), the API key
(``api_key=``, ``CO_API_KEY``, else ``COHERE_API_KEY``), its headers and its ``httpx`` client; Podium
sends its own JSON to ``/v2/chat`` through that client and reads the raw response and SSE stream, so
no SDK model is built per response or event. The translation rules are in :mod:`podium.providers.cohere_wire`.

Example::

    import podium

    model = podium.model("cohere:command-a-03-2025")
    print(model.request([podium.Message.user("Hello")]).text)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from podium.exceptions import UserError
from podium.messages import Message, ModelResponse
from podium.providers.clients import PerLoop
from podium.providers.cohere_wire import PROVIDER, CohereStreamState, build_body, parse_response
from podium.providers.http_model import HTTPModel, StreamState
from podium.providers.profiles import ModelProfile
from podium.providers.raw_http import RawResponse
from podium.providers.retry import RetryPolicy
from podium.providers.transport.guard import timeouts_option
from podium.secrets import register_automatic
from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition

try:
    import cohere
    from cohere.core.api_error import ApiError
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise UserError("the Cohere provider needs the cohere SDK: pip install 'podium[cohere]'") from _exc

__all__ = ["CohereModel", "cohere_profile"]

_PATH = "v2/chat"


def cohere_profile(model_name: str) -> ModelProfile:
    """The capability profile of a Cohere model, by family."""
    name = model_name.lower()
    if "r7b" in name:
        window = 128_000
    elif name.startswith("command-a"):
        window = 256_000
    elif name.startswith(("command-r", "c4ai-aya")):
        window = 128_000
    else:
        window = None
    return ModelProfile(
        context_window=window,
        tools=True,
        parallel_tool_calls=True,
        vision="vision" in name or "aya-vision" in name,
        thinking="reasoning" in name,
        structured_output=True,
    )


class CohereModel(HTTPModel):
    """A Cohere chat model (v2 API).

    Args:
        model_name: Such as ``command-a-03-2025`` or ``command-r7b-12-2024``.
        base_url: API URL instead of ``https://api.cohere.com``.
        api_key: API key instead of the ``CO_API_KEY`` (or ``COHERE_API_KEY``) environment variable.
        client: A ready ``cohere.ClientV2``.
        async_client: A ready ``cohere.AsyncClientV2`` for the async methods.
        retry: How failed requests are retried (the SDK's own retries are not used).
        profile: Override the capability profile.
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); they replace
            the SDK's ``timeout`` (a number given as ``timeout=`` is taken as the total).
        **client_options: Passed to ``cohere.ClientV2(...)`` (``client_name`` ...).
    """

    provider = PROVIDER
    end_marker = "message-end"

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: cohere.ClientV2 | None = None,
        async_client: cohere.AsyncClientV2 | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        register_automatic(api_key, "api_key")  # a key handed to a provider is a secret
        self._options = dict(client_options)
        timeouts = timeouts_option(timeouts, self._options)
        super().__init__(model_name, retry=retry, profile=profile, timeouts=timeouts)
        self._client = client
        self._async_client = async_client
        self._per_loop = PerLoop(self._new_async_client)
        if base_url is not None:
            self._options["base_url"] = base_url.rstrip("/")
        if api_key is not None:
            self._options["api_key"] = api_key

    @property
    def profile(self) -> ModelProfile:
        """What this model can do."""
        return self._profile if self._profile is not None else cohere_profile(self.model_name)

    def _make(self, factory: Any) -> Any:
        options = dict(self._options)
        if "api_key" not in options and not os.environ.get("CO_API_KEY") and os.environ.get("COHERE_API_KEY"):
            options["api_key"] = os.environ["COHERE_API_KEY"]  # the name the CLI and other tools use
        try:
            return factory(**options)
        except ApiError as exc:
            raise UserError(
                f"Cohere needs an API key: pass api_key= or set CO_API_KEY or COHERE_API_KEY ({exc.body})"
            ) from exc

    @property
    def client(self) -> cohere.ClientV2:
        """The SDK's sync client, created on first use."""
        if self._client is None:
            self._client = self._make(cohere.ClientV2)
        return self._client

    @property
    def async_client(self) -> cohere.AsyncClientV2:
        """The SDK's async client: the given one, else one per event loop."""
        return self._async_client if self._async_client is not None else self._per_loop.get()

    def _new_async_client(self) -> cohere.AsyncClientV2:
        if self._client is not None and "api_key" not in self._options:  # follow a client the caller gave
            wrapper = self._client._client_wrapper
            return cohere.AsyncClientV2(api_key=wrapper._token, base_url=wrapper.get_base_url())
        client: cohere.AsyncClientV2 = self._make(cohere.AsyncClientV2)
        return client

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
        """The JSON body of a ``/v2/chat`` request."""
        return build_body(self.model_name, messages, tools, settings, output, stream=stream)

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a ``/v2/chat`` response body."""
        return parse_response(data, self.model_name)

    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""
        return CohereStreamState(self.model_name)

    # ------------------------------------------------------------------ transport

    @staticmethod
    def _request_args(headers: dict[str, str], body: dict[str, Any], *, stream: bool) -> dict[str, Any]:
        return {
            "content": json.dumps(body, ensure_ascii=False).encode(),
            "headers": {
                **headers,
                "content-type": "application/json",
                "accept": "text/event-stream" if stream else "application/json",
            },
        }

    def _send(self, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]) -> RawResponse:
        wrapper = self.client._client_wrapper
        http = wrapper.httpx_client.httpx_client
        url = f"{wrapper.get_base_url().rstrip('/')}/{_PATH}"
        request = http.build_request("POST", url, **self._request_args(wrapper.get_headers(), body, stream=stream))
        request.extensions["timeout"] = dict(timeouts)
        response: RawResponse = http.send(request, stream=True)
        return response

    async def _asend(self, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]) -> RawResponse:
        wrapper = self.async_client._client_wrapper
        http = wrapper.httpx_client.httpx_client
        url = f"{wrapper.get_base_url().rstrip('/')}/{_PATH}"
        async_headers = getattr(wrapper, "async_get_headers", None)  # older SDKs have only get_headers
        headers = await async_headers() if async_headers is not None else wrapper.get_headers()
        request = http.build_request("POST", url, **self._request_args(headers, body, stream=stream))
        request.extensions["timeout"] = dict(timeouts)
        response: RawResponse = await http.send(request, stream=True)
        return response


def make_model(model_name: str, **options: Any) -> CohereModel:
    """Registry factory: ``podium.model("cohere:<name>", **options)``."""
    return CohereModel(model_name, **options)
