"""OpenAI Chat Completions through the official ``openai`` SDK (``pip install 'podium[openai]'``).

``podium.model("openai:gpt-4o")``. The SDK provides authentication, the base URL, default headers and
timeouts; Podium posts the request with the SDK's low-level ``client.post(..., cast_to=httpx.Response)``
and reads the raw body itself, so no pydantic ``ChatCompletion`` is built per response and stream events
are parsed straight from the raw byte stream (see :mod:`podium.providers.chat_model`). The wire
translation is in :mod:`podium.providers.chat_wire` and :mod:`podium.providers.chat_stream`; its rules
and fallbacks are listed there.

OpenAI specifics: ``max_tokens`` is sent as ``max_completion_tokens``; reasoning models (o-series,
gpt-5) get instructions in the ``developer`` role (``user`` for o1-mini / o1-preview), ``reasoning_effort``
for the thinking setting, and no ``temperature`` / ``top_p`` (they reject them). Cached and reasoning token
counts land in :class:`~podium.usage.Usage`. This class also serves every OpenAI-compatible server
(:mod:`podium.providers.compatible`) with another dialect and base URL.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from podium.exceptions import ProviderConnectionError, ProviderError, ProviderTimeoutError, UserError

try:
    import httpx2
    import openai
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise UserError("the OpenAI provider needs the openai SDK: pip install 'podium[openai]'") from exc

from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_model import ChatCompletionsModel
from podium.providers.chat_profiles import openai_dialect, openai_profile
from podium.providers.clients import PerLoop
from podium.providers.transport.errors import http_error
from podium.providers.transport.guard import timeouts_option
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy
from podium.secrets import register_automatic
from podium.settings import Timeouts

__all__ = ["OpenAIChatModel"]

JsonDict = dict[str, Any]
_PATH = "/chat/completions"


def _body_of(response: httpx2.Response) -> Any:
    try:
        text = response.text
    except (httpx2.HTTPError, RuntimeError):  # the body could not be read
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def status_error(exc: openai.APIStatusError, provider: str, model: str) -> ProviderError:
    """The Podium exception for an HTTP error the SDK reported."""
    response = exc.response
    body = _body_of(response)
    message = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        metadata = error.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("raw"), str):  # OpenRouter upstream errors
            upstream = metadata.get("provider_name")
            message = f"{error.get('message') or 'provider error'}: {metadata['raw']}"
            if upstream:
                message += f" (upstream provider: {upstream})"
    return http_error(
        response.status_code,
        body if body is not None else exc.body,
        provider=provider,
        model=model,
        headers=dict(response.headers),
        message=message,
    )


class _Stream:
    """A raw streamed response; transport errors while reading are mapped to Podium's."""

    __slots__ = ("_model", "_provider", "_response")

    def __init__(self, response: httpx2.Response, provider: str, model: str) -> None:
        self._response = response
        self._provider = provider
        self._model = model

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    def iter_bytes(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_bytes()
        except httpx2.TimeoutException as exc:
            raise ProviderTimeoutError(
                f"{self._provider} stopped sending in the middle of the stream ({exc})",
                provider=self._provider,
                model=self._model,
            ) from exc
        except httpx2.TransportError as exc:
            raise ProviderConnectionError(
                f"the connection to {self._provider} broke in the middle of the stream ({exc})",
                provider=self._provider,
                model=self._model,
            ) from exc

    def close(self) -> None:
        self._response.close()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except httpx2.TimeoutException as exc:
            raise ProviderTimeoutError(
                f"{self._provider} stopped sending in the middle of the stream ({exc})",
                provider=self._provider,
                model=self._model,
            ) from exc
        except httpx2.TransportError as exc:
            raise ProviderConnectionError(
                f"the connection to {self._provider} broke in the middle of the stream ({exc})",
                provider=self._provider,
                model=self._model,
            ) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class OpenAIChatModel(ChatCompletionsModel):
    """A model behind OpenAI's Chat Completions API (or any server that speaks it).

    Example::

        model = OpenAIChatModel("gpt-4o")
        response = model.request([Message.user("Hello")])
    """

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: openai.OpenAI | openai.AsyncOpenAI | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        dialect: ChatDialect | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        """Create the model; the SDK clients are made on first use.

        Args:
            model_name: Such as ``gpt-4o`` or ``o3-mini``.
            base_url: API base URL (default: the SDK's, which honours ``OPENAI_BASE_URL``).
            api_key: API key (default: the ``api_key_env`` environment variable).
            client: An ``openai.OpenAI`` or ``openai.AsyncOpenAI`` client to use (the other one is made with
                its base URL and key).
            retry: Retry policy (default :class:`~podium.providers.retry.RetryPolicy`); the SDK's own retries
                are turned off.
            profile: Override the capability profile.
            dialect: Override the wire dialect (OpenAI-compatible servers).
            api_key_env: Environment variable holding the key.
            timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); a number
                given as ``timeout=`` (the SDK's option) is taken as the total.
            **client_options: Passed to the SDK client (``default_headers``, ``organization`` ...).
        """
        register_automatic(api_key, "api_key")  # a key handed to a provider is a secret
        dialect = dialect or openai_dialect(model_name)
        client_options = dict(client_options)
        timeouts = timeouts_option(timeouts, client_options)
        super().__init__(
            model_name,
            dialect=dialect,
            profile=profile or openai_profile(model_name),
            retry=retry,
            timeouts=timeouts,
        )
        self._base_url = base_url
        self._api_key = api_key
        self._api_key_env = api_key_env
        self._options = client_options
        self._client: openai.OpenAI | None = client if isinstance(client, openai.OpenAI) else None
        self._aclient: openai.AsyncOpenAI | None = client if isinstance(client, openai.AsyncOpenAI) else None
        self._aclients: PerLoop[openai.AsyncOpenAI] = PerLoop(self._new_async_client)

    # -- clients

    def _client_args(self) -> dict[str, Any]:
        source = self._client or self._aclient
        if source is not None:
            return {"api_key": source.api_key, "base_url": source.base_url, "max_retries": 0}
        key = self._api_key or os.environ.get(self._api_key_env)
        if not key:
            raise UserError(
                f"no API key for {self.provider}: set the {self._api_key_env} environment variable "
                f"or pass api_key= (e.g. podium.model('{self.provider}:{self.model_name}', api_key='...'))"
            )
        args: dict[str, Any] = {"api_key": key, "max_retries": 0, **self._options}
        if self._base_url is not None:
            args["base_url"] = self._base_url
        return args

    @property
    def client(self) -> openai.OpenAI:
        """The synchronous SDK client."""
        if self._client is None:
            self._client = openai.OpenAI(**self._client_args())
        return self._client

    def _new_async_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(**self._client_args())

    @property
    def async_client(self) -> openai.AsyncOpenAI:
        """The asynchronous SDK client (the one given, else one per event loop; call it inside a loop)."""
        return self._aclient if self._aclient is not None else self._aclients.get()

    @staticmethod
    def _options_for(timeouts: Mapping[str, float]) -> Any:
        return {"timeout": httpx2.Timeout(**timeouts)}

    # -- errors

    def _map(self, exc: openai.OpenAIError) -> ProviderError:
        if isinstance(exc, openai.APIStatusError):
            return status_error(exc, self.provider, self.model_name)
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeoutError(
                f"{self.provider} did not answer in time", provider=self.provider, model=self.model_name
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            return ProviderConnectionError(
                f"could not reach {self.provider}" + (f": {cause}" if cause else ""),
                provider=self.provider,
                model=self.model_name,
            )
        return ProviderError(f"{self.provider}: {exc}", provider=self.provider, model=self.model_name)

    # -- transport

    def _open_stream(self, body: JsonDict, timeouts: Mapping[str, float]) -> _Stream:
        client = self.client
        try:
            response = client.post(
                _PATH, body=body, cast_to=httpx2.Response, options=self._options_for(timeouts), stream=True
            )
        except openai.OpenAIError as exc:
            raise self._map(exc) from exc
        return _Stream(response, self.provider, self.model_name)

    async def _aopen_stream(self, body: JsonDict, timeouts: Mapping[str, float]) -> _Stream:
        client = self.async_client
        try:
            response = await client.post(
                _PATH, body=body, cast_to=httpx2.Response, options=self._options_for(timeouts), stream=True
            )
        except openai.OpenAIError as exc:
            raise self._map(exc) from exc
        return _Stream(response, self.provider, self.model_name)
