"""The Chat Completions wire format: OpenAI (``openai:<model>``), Azure OpenAI and every server that speaks it.

Groq, Ollama's ``/v1`` and the presets in :mod:`podium.providers.compatible` subclass
:class:`ChatCompletionsModel` too (``azure:<deployment>`` is :class:`AzureOpenAIChatModel`).

:class:`ChatCompletionsModel` is the wire mapping only: the body from :mod:`podium.providers.chat_wire`,
the answer and each stream chunk through :class:`~podium.providers.chat_stream.ChatTranslator`, both shaped
by the provider's :class:`~podium.providers.chat_dialect.ChatDialect`. Sending, retries, timeouts, content
types and the end marker (``data: [DONE]``) are :class:`~podium.providers.transport.model.WireModel`'s.

``podium.model("openai:gpt-4o")`` posts to ``https://api.openai.com/v1/chat/completions`` with the key from
``api_key=`` or ``OPENAI_API_KEY`` as a bearer token; ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID`` and
``OPENAI_PROJECT_ID`` are honoured as the official SDK honours them. The wire translation is in
:mod:`podium.providers.chat_wire` and :mod:`podium.providers.chat_stream`; the HTTP in
:mod:`podium.providers.transport`.

OpenAI specifics: ``max_tokens`` is sent as ``max_completion_tokens``; reasoning models (o-series,
gpt-5) get instructions in the ``developer`` role (``user`` for o1-mini / o1-preview), ``reasoning_effort``
for the thinking setting, and no ``temperature`` / ``top_p`` (they reject them). Cached and reasoning token
counts land in :class:`~podium.usage.Usage`. This class also serves every OpenAI-compatible server
(:mod:`podium.providers.compatible`) with another dialect and base URL.

Azure OpenAI (:class:`AzureOpenAIChatModel`): the resource's endpoint from ``base_url=`` or
``AZURE_OPENAI_ENDPOINT``; the key from ``api_key=`` or ``AZURE_OPENAI_API_KEY`` (sent as ``api-key``), or
a Microsoft Entra ID token (``azure_ad_token=``, ``AZURE_OPENAI_AD_TOKEN``, or ``azure_ad_token_provider=``,
a function called for each request). With ``api_version=`` (or ``OPENAI_API_VERSION``) requests go to
``<endpoint>/openai/deployments/<deployment>/chat/completions?api-version=...``; without it, to Azure's
version-less v1 API, ``<endpoint>/openai/v1/chat/completions``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from podium.exceptions import ProviderError
from podium.messages import Message, ModelResponse
from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_profiles import openai_dialect, openai_profile
from podium.providers.chat_stream import ChatTranslator
from podium.providers.chat_wire import build_body
from podium.providers.pricing import cost_of
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy
from podium.providers.transport.auth import HeaderAuth, MissingCredentials, TokenAuth, bearer, register_key
from podium.providers.transport.http import Auth, Endpoint
from podium.providers.transport.model import WireModel
from podium.providers.vendor_env import openai_endpoint
from podium.settings import ModelSettings, OutputSchema, Timeouts, ToolDefinition
from podium.usage import CostValue, Usage

__all__ = ["AzureOpenAIChatModel", "ChatCompletionsModel", "OpenAIChatModel", "azure_model"]

JsonDict = dict[str, Any]


class _ChatStream:
    """One Chat Completions stream: its chunks into deltas, then the response (the end is ``[DONE]``)."""

    __slots__ = ("_cost", "complete", "feed", "translator")

    def __init__(self, model: ChatCompletionsModel) -> None:
        self.translator = ChatTranslator(model.dialect)
        self.feed = self.translator.feed_chunk
        self._cost = model.cost
        self.complete = False

    def finish(self) -> ModelResponse:
        return self.translator.build(self._cost)


class ChatCompletionsModel(WireModel):
    """A model that speaks Chat Completions (``POST <base>/chat/completions``).

    Args:
        model_name: The model's name at the provider.
        dialect: The provider's wire variant (its name is the provider's).
        endpoint: Base URL, credentials and headers.
        profile: What the model can do.
        options: Client options.
        retry: Retry policy.
        timeouts: Connect, read and total timeouts.
    """

    chat_path = "/chat/completions"
    """The path of the chat endpoint under the base URL."""

    def __init__(
        self,
        model_name: str,
        *,
        dialect: ChatDialect,
        endpoint: Endpoint,
        profile: ModelProfile | None = None,
        options: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.provider = dialect.provider
        self.dialect = dialect
        """The wire variant this model speaks."""
        super().__init__(
            model_name, endpoint=endpoint, options=options, retry=retry, profile=profile, timeouts=timeouts
        )

    def build_body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
        *,
        stream: bool = False,
    ) -> JsonDict:
        """The request body this model sends for these arguments (useful to inspect or log)."""
        return build_body(
            self.model_name, messages, self.dialect, tools=tools, settings=settings, output=output, stream=stream
        )

    def path(self, body: JsonDict, *, stream: bool) -> str:
        """The chat endpoint."""
        return self.chat_path

    def cost(self, model: str | None, usage: Usage, extra: Mapping[str, Any] | None) -> CostValue:
        """The cost of a response (``extra``: the non-integer fields of the wire usage)."""
        return cost_of(self.provider, self.model_name, usage)

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a whole answer."""
        translator = ChatTranslator(self.dialect)
        translator.feed_completion(data)
        return translator.build(self.cost)

    def stream_state(self) -> _ChatStream:
        """A fresh translator for one stream."""
        return _ChatStream(self)

    def stream_error(self, body: Any) -> ProviderError:
        """The error for an ``event: error`` inside a stream: the status its body gives."""
        chunk = body if isinstance(body, dict) and "error" in body else {"error": body}
        return ChatTranslator(self.dialect).error_for(chunk)


class OpenAIChatModel(ChatCompletionsModel):
    """A model behind OpenAI's Chat Completions API (or any server that speaks it).

    Example::

        model = OpenAIChatModel("gpt-4o")
        response = model.request([Message.user("Hello")])

    Args:
        model_name: Such as ``gpt-4o`` or ``o3-mini``.
        base_url: API base URL (default ``OPENAI_BASE_URL``, else ``https://api.openai.com/v1``).
        api_key: API key (default: the ``api_key_env`` environment variable).
        retry: Retry policy (default :class:`~podium.providers.retry.RetryPolicy`).
        profile: Override the capability profile.
        dialect: Override the wire dialect (OpenAI-compatible servers).
        api_key_env: Environment variable holding the key.
        organization: ``OpenAI-Organization`` header (default ``OPENAI_ORG_ID``).
        project: ``OpenAI-Project`` header (default ``OPENAI_PROJECT_ID``).
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); a number
            given as ``timeout=`` is taken as the total.
        **client_options: HTTP client options (:data:`~podium.providers.transport.http.CLIENT_OPTIONS`:
            ``default_headers``, ``proxy``, ``http_client`` ...).
    """

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        dialect: ChatDialect | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        organization: str | None = None,
        project: str | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        dialect = dialect or openai_dialect(model_name)
        endpoint = openai_endpoint(
            dialect.provider,
            model_name,
            client_options,
            base_url=base_url,
            api_key=api_key,
            api_key_env=api_key_env,
            organization=organization,
            project=project,
        )
        super().__init__(
            model_name,
            dialect=dialect,
            endpoint=endpoint,
            profile=profile or openai_profile(model_name),
            options=client_options,
            retry=retry,
            timeouts=timeouts,
        )


class AzureOpenAIChatModel(ChatCompletionsModel):
    """A deployment of an OpenAI model on Azure OpenAI.

    Args:
        deployment: The deployment name (the model name for Azure's v1 API).
        base_url: The resource endpoint, ``https://<resource>.openai.azure.com`` (default ``AZURE_OPENAI_ENDPOINT``).
        api_key: API key (default ``AZURE_OPENAI_API_KEY``).
        api_version: Such as ``2024-10-21`` (default ``OPENAI_API_VERSION``; none: the v1 API).
        azure_ad_token: A Microsoft Entra ID token (default ``AZURE_OPENAI_AD_TOKEN``).
        azure_ad_token_provider: A function returning a fresh Entra ID token, called for each request.
        model: The model family behind the deployment, for the dialect and profile (default: the deployment name).
        retry: Retry policy.
        profile: Override the capability profile.
        timeouts: Connect, read and total timeouts.
        **client_options: HTTP client options.
    """

    def __init__(
        self,
        deployment: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_version: str | None = None,
        azure_ad_token: str | None = None,
        azure_ad_token_provider: Callable[[], str] | None = None,
        model: str | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        family = model or deployment
        dialect = dataclasses.replace(openai_dialect(family), provider="azure")
        url = (base_url or os.environ.get("AZURE_OPENAI_ENDPOINT") or "").rstrip("/")
        version = api_version or os.environ.get("OPENAI_API_VERSION")
        endpoint = Endpoint(
            url or "https://<resource>.openai.azure.com",
            auth=_azure_auth(deployment, api_key, azure_ad_token, azure_ad_token_provider, has_url=bool(url)),
        )
        if version:
            self.chat_path = f"/openai/deployments/{deployment}/chat/completions"
            endpoint.params["api-version"] = version
        else:
            self.chat_path = "/openai/v1/chat/completions"
        super().__init__(
            deployment,
            dialect=dialect,
            endpoint=endpoint,
            profile=profile or openai_profile(family),
            options=client_options,
            retry=retry,
            timeouts=timeouts,
        )


def _azure_auth(
    deployment: str,
    api_key: str | None,
    token: str | None,
    token_provider: Callable[[], str] | None,
    *,
    has_url: bool,
) -> Auth:
    if not has_url:
        return MissingCredentials(
            "no Azure OpenAI endpoint: set AZURE_OPENAI_ENDPOINT or pass base_url='https://<resource>.openai.azure.com'"
        )
    if token_provider is not None:
        return TokenAuth(token_provider)
    key = api_key or os.environ.get("AZURE_OPENAI_API_KEY")
    if key:
        register_key(key)
        return HeaderAuth({"api-key": key})
    token = token or os.environ.get("AZURE_OPENAI_AD_TOKEN")
    if token:
        return bearer(token)
    return MissingCredentials(
        "no credentials for Azure OpenAI: set AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN), or pass api_key= "
        f"or azure_ad_token_provider= (e.g. podium.model('azure:{deployment}', api_key='...'))"
    )


def azure_model(deployment: str, **options: Any) -> AzureOpenAIChatModel:
    """Registry factory: ``podium.model("azure:<deployment>", **options)``."""
    return AzureOpenAIChatModel(deployment, **options)
