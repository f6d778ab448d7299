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
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from podium.exceptions import ProviderError
from podium.messages import ModelResponse
from podium.providers.base import WireCall
from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_profiles import openai_dialect
from podium.providers.chat_profiles import openai_profile
from podium.providers.chat_stream import ChatTranslator
from podium.providers.chat_wire import build_body
from podium.providers.pricing import cost_of
from podium.providers.profiles import ModelProfile
from podium.providers.transport.auth import HeaderAuth
from podium.providers.transport.auth import MissingCredentials
from podium.providers.transport.auth import TokenAuth
from podium.providers.transport.auth import bearer
from podium.providers.transport.auth import register_key
from podium.providers.transport.http import Auth
from podium.providers.transport.http import Endpoint
from podium.providers.transport.model import WireModel
from podium.providers.vendor_env import openai_endpoint
from podium.usage import CostValue
from podium.usage import Usage

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

    Subclasses say where requests go (:meth:`connect`) and which :class:`ChatDialect` they speak: the class's
    :attr:`dialect`, a ``dialect=`` argument, or :meth:`default_dialect` of the model name. The provider's
    name is the dialect's. Other arguments: those of :class:`~podium.providers.transport.model.WireModel`.
    """

    chat_path: str = "/chat/completions"
    """The path of the chat endpoint under the base URL."""
    dialect: ChatDialect
    """The wire variant this model speaks."""

    def __init__(self, model_name: str, *, dialect: ChatDialect | None = None, **options: Any) -> None:
        if dialect is not None or not hasattr(self, "dialect"):
            self.dialect = dialect or self.default_dialect(model_name)
        self.provider = self.dialect.provider
        super().__init__(model_name, **options)

    def default_dialect(self, model_name: str) -> ChatDialect:
        """The dialect of a model name when neither the class nor the caller gives one."""
        return openai_dialect(model_name)

    def wire_body(self, call: WireCall) -> JsonDict:
        """The Chat Completions body of ``call``."""
        messages, tools, settings, output, stream = call
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

    Takes the arguments of :class:`~podium.providers.transport.model.WireModel` (``base_url`` defaults to
    ``OPENAI_BASE_URL``, else ``https://api.openai.com/v1``; ``api_key`` to ``OPENAI_API_KEY``) and:

    * ``dialect``: the wire dialect (OpenAI-compatible servers; default: OpenAI's for the model);
    * ``organization`` / ``project``: the ``OpenAI-Organization`` / ``OpenAI-Project`` headers (default
      ``OPENAI_ORG_ID`` / ``OPENAI_PROJECT_ID``);
    * ``api_key_env``: the environment variable holding the key (default ``OPENAI_API_KEY``).
    """

    extra_options = frozenset({"organization", "project", "api_key_env"})
    family_profile = openai_profile

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """OpenAI's endpoint as the SDK finds it (arguments, then ``OPENAI_*`` variables)."""
        return openai_endpoint(
            self.provider,
            self.model_name,
            options,
            base_url=base_url,
            api_key=api_key,
            organization=options.pop("organization", None),
            project=options.pop("project", None),
            api_key_env=options.pop("api_key_env", "OPENAI_API_KEY"),
        )


class AzureOpenAIChatModel(ChatCompletionsModel):
    """A deployment of an OpenAI model on Azure OpenAI.

    Takes the arguments of :class:`~podium.providers.transport.model.WireModel` (``base_url``: the resource
    endpoint ``https://<resource>.openai.azure.com``, default ``AZURE_OPENAI_ENDPOINT``; ``api_key``: default
    ``AZURE_OPENAI_API_KEY``) and:

    * ``model``: the model family behind the deployment, for the dialect and profile (default: the deployment);
    * ``api_version``: such as ``2024-10-21`` (default ``OPENAI_API_VERSION``; none: Azure's v1 API);
    * ``azure_ad_token``: a Microsoft Entra ID token (default ``AZURE_OPENAI_AD_TOKEN``);
    * ``azure_ad_token_provider``: a function returning a fresh Entra ID token, called for each request.
    """

    extra_options = frozenset({"api_version", "azure_ad_token", "azure_ad_token_provider"})

    def __init__(self, deployment: str, *, model: str | None = None, **options: Any) -> None:
        self.family = model or deployment
        """The model family behind the deployment."""
        super().__init__(
            deployment, dialect=dataclasses.replace(openai_dialect(self.family), provider="azure"), **options
        )

    def default_profile(self) -> ModelProfile:
        """The profile of the deployment's model family."""
        return openai_profile(self.family)

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """The resource's endpoint: the deployment path with ``?api-version=``, or the v1 API."""
        url = (base_url or os.environ.get("AZURE_OPENAI_ENDPOINT") or "").rstrip("/")
        version = options.pop("api_version", None) or os.environ.get("OPENAI_API_VERSION")
        token, provider = options.pop("azure_ad_token", None), options.pop("azure_ad_token_provider", None)
        endpoint = Endpoint(
            url or "https://<resource>.openai.azure.com",
            auth=_azure_auth(self.model_name, api_key, token, provider, has_url=bool(url)),
        )
        if version:
            self.chat_path = f"/openai/deployments/{self.model_name}/chat/completions"
            endpoint.params["api-version"] = version
        else:
            self.chat_path = "/openai/v1/chat/completions"
        return endpoint


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
