"""Mistral (``mistral:<model>``) through the official ``mistralai`` SDK (>= 2).

The SDK builds each request (server URL, API key from ``api_key=`` or ``MISTRAL_API_KEY``, headers,
its hooks) and sends it with its ``httpx`` clients; Podium writes the JSON body and reads the raw
response and stream itself, so no SDK model object is built per response or per chunk. The wire
translation, with its documented fallbacks, is in :mod:`podium.providers.mistral_wire`.

Example::

    import podium

    model = podium.model("mistral:mistral-large-latest")
    print(model.request([podium.Message.user("Hello")]).text)

Any Mistral-compatible server works with ``base_url=`` (it replaces ``https://api.mistral.ai``).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from podium.exceptions import ProviderConnectionError, ProviderError, ProviderTimeoutError, UserError
from podium.messages import Message, ModelResponse
from podium.providers.clients import PerLoop
from podium.providers.guard import timeouts_option
from podium.providers.http_model import HTTPModel, StreamState
from podium.providers.mistral_wire import PROVIDER, MistralStreamState, build_body, parse_response
from podium.providers.profiles import ModelProfile
from podium.providers.raw_http import RawResponse, transport_error
from podium.providers.retry import RetryPolicy
from podium.secrets import register_automatic
from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition

try:
    from mistralai.client import Mistral, errors
    from mistralai.client._hooks import HookContext
    from mistralai.client.utils import SerializedRequestBody
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise UserError("the Mistral provider needs the mistralai SDK (>= 2): pip install 'podium[mistral]'") from _exc

__all__ = ["MistralModel", "mistral_profile"]

_PATH = "/v1/chat/completions"
# HookContext gained parameters across SDK releases (tags, extensions): pass only those it takes.
_HOOK_PARAMS = frozenset(inspect.signature(HookContext.__init__).parameters)


def _no_error_statuses() -> dict[str, Any]:
    """``do_request`` keyword that makes the SDK hand every status back (its name changed in SDK 3)."""
    from mistralai.client.basesdk import BaseSDK

    if "is_error_status_code" in inspect.signature(BaseSDK.do_request).parameters:
        return {"is_error_status_code": lambda status: False}
    return {"error_status_codes": []}


_NO_ERROR_STATUSES = _no_error_statuses()


def mistral_profile(model_name: str) -> ModelProfile:
    """The capability profile of a Mistral model, by family."""
    name = model_name.lower()
    vision = any(
        k in name for k in ("pixtral", "mistral-medium", "mistral-small", "mistral-large-2511", "large-latest")
    )
    thinking = "magistral" in name
    if name.startswith(("mistral-tiny", "open-mistral-7b", "open-mixtral")):
        window = 32_000
    elif "codestral" in name or "devstral" in name:
        window = 256_000
    elif "magistral" in name:
        window = 128_000
    else:
        window = 128_000
    return ModelProfile(
        context_window=window,
        tools=True,
        parallel_tool_calls=True,
        vision=vision,
        files=vision,
        thinking=thinking,
        structured_output=True,
    )


class MistralModel(HTTPModel):
    """A Mistral chat model.

    Args:
        model_name: Such as ``mistral-large-latest`` or ``magistral-medium-latest``.
        base_url: Server URL instead of ``https://api.mistral.ai``.
        api_key: API key instead of the ``MISTRAL_API_KEY`` environment variable.
        client: A ready ``mistralai.client.Mistral`` to use (``base_url``/``api_key`` are then ignored).
        retry: How failed requests are retried (the SDK's own retries are off).
        profile: Override the capability profile.
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); they replace
            the SDK's ``timeout_ms`` (a number given as ``timeout=`` in seconds or ``timeout_ms=`` is the total).
        **client_options: Passed to ``Mistral(...)`` (``client``-level options ...).
    """

    provider = PROVIDER

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: Mistral | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        register_automatic(api_key, "api_key")  # a key handed to a provider is a secret
        client_options = dict(client_options)
        timeouts = timeouts_option(timeouts, client_options)  # seconds, as the other providers take it
        timeouts = timeouts_option(timeouts, client_options, "timeout_ms", 0.001)
        super().__init__(model_name, retry=retry, profile=profile, timeouts=timeouts)
        self._base_url = base_url
        self._api_key = api_key
        self._client = client
        self._given = client
        self._client_options = client_options
        self._per_loop = PerLoop(self._new_client)

    @property
    def profile(self) -> ModelProfile:
        """What this model can do."""
        return self._profile if self._profile is not None else mistral_profile(self.model_name)

    @property
    def client(self) -> Mistral:
        """The SDK client, created on first use."""
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def _new_client(self) -> Mistral:
        options = dict(self._client_options)
        if self._base_url is not None:
            options["server_url"] = self._base_url.rstrip("/")
        if self._api_key is not None:
            options["api_key"] = self._api_key
        elif self._base_url is None and not os.environ.get("MISTRAL_API_KEY"):
            raise UserError(
                "no API key for mistral: set the MISTRAL_API_KEY environment variable or pass api_key= "
                f"(e.g. podium.model('mistral:{self.model_name}', api_key='...'))"
            )
        return Mistral(**options)

    @property
    def async_client(self) -> Mistral:
        """The SDK client for async calls: the given client, else one per event loop."""
        return self._given if self._given is not None else self._per_loop.get()

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
        """The JSON body of a chat-completions request."""
        return build_body(self.model_name, messages, tools, settings, output, stream=stream)

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a chat-completions response body."""
        return parse_response(data)

    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""
        return MistralStreamState()

    # ------------------------------------------------------------------ transport

    def _build(
        self, client: Mistral, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]
    ) -> tuple[Any, HookContext]:
        chat = client.chat
        config = chat.sdk_configuration
        base_url: str = chat._get_url(None, None)  # type: ignore[no-untyped-call]
        content = json.dumps(body, ensure_ascii=False).encode()
        timeout_ms = int(timeouts["read"] * 1000)
        request = chat._build_request(
            method="POST",
            path=_PATH + ("#stream" if stream else ""),
            base_url=base_url,
            url_variables=None,
            request=None,
            request_body_required=True,
            request_has_path_params=False,
            request_has_query_params=False,
            user_agent_header="user-agent",
            accept_header_value="text/event-stream" if stream else "application/json",
            security=config.security,
            get_serialized_body=lambda: SerializedRequestBody(media_type="application/json", content=content),
            timeout_ms=timeout_ms,
        )
        request.extensions["timeout"] = dict(timeouts)  # connect, read, write and pool apart
        context: dict[str, Any] = {
            "config": config,
            "base_url": base_url or "",
            "operation_id": "stream_chat" if stream else "chat_completion_v1_chat_completions_post",
            "oauth2_scopes": None,
            "security_source": config.security,
            "tags": ["chat"],
            "extensions": None,
        }
        hook_ctx = HookContext(**{k: v for k, v in context.items() if k in _HOOK_PARAMS})
        return request, hook_ctx

    def _send(self, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]) -> RawResponse:
        client = self.client
        request, hook_ctx = self._build(client, body, stream=stream, timeouts=timeouts)
        return client.chat.do_request(hook_ctx=hook_ctx, request=request, stream=True, **_NO_ERROR_STATUSES)

    async def _asend(self, body: dict[str, Any], *, stream: bool, timeouts: Mapping[str, float]) -> RawResponse:
        client = self.async_client
        request, hook_ctx = self._build(client, body, stream=stream, timeouts=timeouts)
        return await client.chat.do_request_async(hook_ctx=hook_ctx, request=request, stream=True, **_NO_ERROR_STATUSES)

    def map_error(self, exc: Exception) -> ProviderError | None:
        """Podium's error for an SDK or transport exception."""
        mapped = transport_error(exc, provider=PROVIDER, model=self.model_name)
        if mapped is not None:
            return mapped
        if isinstance(exc, errors.NoResponseError):
            return ProviderConnectionError(f"no response from Mistral: {exc}", provider=PROVIDER, model=self.model_name)
        if isinstance(exc, errors.MistralError) and "timeout" in str(exc).lower():  # pragma: no cover - defensive
            return ProviderTimeoutError(str(exc), provider=PROVIDER, model=self.model_name)
        return None


def make_model(model_name: str, **options: Any) -> MistralModel:
    """Registry factory: ``podium.model("mistral:<name>", **options)``."""
    return MistralModel(model_name, **options)
