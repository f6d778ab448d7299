"""Groq through the official ``groq`` SDK (``pip install 'podium[groq]'``).

``podium.model("groq:llama-3.3-70b-versatile")``. Groq speaks the Chat Completions wire format, so the
translation is shared with OpenAI (:mod:`podium.providers.chat_wire`, :mod:`podium.providers.chat_stream`);
like the OpenAI module, requests go through the SDK's low-level ``client.post(..., cast_to=httpx.Response)``
and the raw body is parsed here.

Groq specifics:

* Reasoning comes back as ``reasoning`` (``reasoning_format: "parsed"``, and always for gpt-oss) or inline
  as a leading ``<think>...</think>`` block (``reasoning_format: "raw"``); both become a
  :class:`~podium.messages.Thinking` part. Groq does not take reasoning in input messages, so thinking is
  not sent back. ``ModelSettings.thinking`` maps to ``reasoning_effort`` (an effort level) or
  ``reasoning_format: "hidden"`` (``False``); ``extra={"groq": {"reasoning_format": "parsed"}}`` sets the
  format.
* Usage comes in ``usage`` (whole responses) or ``x_groq.usage`` (the last stream chunk); Groq's timings
  (``queue_time`` ...) land in ``provider_details["usage"]``.
* Content parts are text and images (vision models); a PDF, audio or other binary file raises
  :class:`~podium.exceptions.UserError` before sending (text files are inlined as text).
* A 400 ``tool_use_failed`` (the model produced a malformed tool call) is a
  :class:`~podium.exceptions.BadRequestError` whose message includes Groq's ``failed_generation``, whether
  it comes as the HTTP answer or, in a stream, as an ``event: error`` whose ``error.status_code`` is 400
  (not retried: the status in the body counts, not the stream's 200).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from podium.exceptions import ProviderConnectionError, ProviderError, ProviderTimeoutError, UserError

try:
    import groq
    import httpx
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise UserError("the Groq provider needs the groq SDK: pip install 'podium[groq]'") from exc

from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_model import ChatCompletionsModel
from podium.providers.chat_profiles import groq_profile
from podium.providers.clients import PerLoop
from podium.providers.transport.errors import failed_generation_message, http_error
from podium.providers.transport.guard import timeouts_option
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy
from podium.secrets import register_automatic
from podium.settings import Timeouts

__all__ = ["GROQ_DIALECT", "GroqModel"]

JsonDict = dict[str, Any]
_PATH = "/openai/v1/chat/completions"

GROQ_DIALECT = ChatDialect(
    "groq",
    reasoning_fields=("reasoning",),
    think_tags=True,
    thinking_param="groq",
    stream_usage=False,
    files=False,
)
"""Groq's wire dialect."""


def _status_error(exc: groq.APIStatusError, model: str) -> ProviderError:
    response = exc.response
    try:
        body: Any = json.loads(response.text)
    except (ValueError, httpx.HTTPError, RuntimeError):
        body = exc.body
    message = failed_generation_message(body)
    return http_error(
        response.status_code, body, provider="groq", model=model, headers=dict(response.headers), message=message
    )


class _Stream:
    """A raw streamed response; transport errors while reading are mapped to Podium's."""

    __slots__ = ("_model", "_response")

    def __init__(self, response: httpx.Response, model: str) -> None:
        self._response = response
        self._model = model

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    def _error(self, exc: httpx.HTTPError) -> ProviderError:
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeoutError(f"groq stopped sending mid-stream ({exc})", provider="groq", model=self._model)
        message = f"the connection to groq broke mid-stream ({exc})"
        return ProviderConnectionError(message, provider="groq", model=self._model)

    def iter_bytes(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_bytes()
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        self._response.close()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise self._error(exc) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class GroqModel(ChatCompletionsModel):
    """A model served by Groq.

    Example::

        model = GroqModel("llama-3.3-70b-versatile")
    """

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        client: groq.Groq | groq.AsyncGroq | None = None,
        retry: RetryPolicy | None = None,
        profile: ModelProfile | None = None,
        timeouts: Timeouts | None = None,
        **client_options: Any,
    ) -> None:
        """Create the model; the SDK clients are made on first use.

        Args:
            model_name: Such as ``llama-3.3-70b-versatile`` or ``openai/gpt-oss-120b``.
            base_url: API base URL without ``/openai/v1`` (default: the SDK's, ``GROQ_BASE_URL``).
            api_key: API key (default: ``GROQ_API_KEY``).
            client: A ``groq.Groq`` or ``groq.AsyncGroq`` client to use.
            retry: Retry policy; the SDK's own retries are turned off.
            profile: Override the capability profile.
            timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); a number
                given as ``timeout=`` (the SDK's option) is taken as the total.
            **client_options: Passed to the SDK client (``default_headers`` ...).
        """
        register_automatic(api_key, "api_key")  # a key handed to a provider is a secret
        client_options = dict(client_options)
        timeouts = timeouts_option(timeouts, client_options)
        super().__init__(
            model_name,
            dialect=GROQ_DIALECT,
            profile=profile or groq_profile(model_name),
            retry=retry,
            timeouts=timeouts,
        )
        self._base_url = base_url
        self._api_key = api_key
        self._options = client_options
        self._client: groq.Groq | None = client if isinstance(client, groq.Groq) else None
        self._aclient: groq.AsyncGroq | None = client if isinstance(client, groq.AsyncGroq) else None
        self._aclients: PerLoop[groq.AsyncGroq] = PerLoop(self._new_async_client)

    def _client_args(self) -> dict[str, Any]:
        source = self._client or self._aclient
        if source is not None:
            return {"api_key": source.api_key, "base_url": source.base_url, "max_retries": 0}
        args: dict[str, Any] = {"max_retries": 0, **self._options}
        if self._api_key is not None:
            args["api_key"] = self._api_key
        if self._base_url is not None:
            args["base_url"] = self._base_url
        return args

    def _make(self, cls: type[Any]) -> Any:
        try:
            return cls(**self._client_args())
        except groq.GroqError as exc:
            raise UserError(
                "no API key for groq: set the GROQ_API_KEY environment variable or pass api_key= "
                f"(e.g. podium.model('groq:{self.model_name}', api_key='...'))"
            ) from exc

    @property
    def client(self) -> groq.Groq:
        """The synchronous SDK client."""
        if self._client is None:
            self._client = self._make(groq.Groq)
        return self._client

    def _new_async_client(self) -> groq.AsyncGroq:
        client: groq.AsyncGroq = self._make(groq.AsyncGroq)
        return client

    @property
    def async_client(self) -> groq.AsyncGroq:
        """The asynchronous SDK client (the one given, else one per event loop; call it inside a loop)."""
        return self._aclient if self._aclient is not None else self._aclients.get()

    def _map(self, exc: groq.GroqError) -> ProviderError:
        if isinstance(exc, groq.APIStatusError):
            return _status_error(exc, self.model_name)
        if isinstance(exc, groq.APITimeoutError):
            return ProviderTimeoutError("groq did not answer in time", provider="groq", model=self.model_name)
        if isinstance(exc, groq.APIConnectionError):
            cause = exc.__cause__
            return ProviderConnectionError(
                "could not reach groq" + (f": {cause}" if cause else ""), provider="groq", model=self.model_name
            )
        return ProviderError(f"groq: {exc}", provider="groq", model=self.model_name)

    @staticmethod
    def _options_for(timeouts: Mapping[str, float]) -> Any:
        return {"timeout": httpx.Timeout(**timeouts)}

    def _open_stream(self, body: JsonDict, timeouts: Mapping[str, float]) -> _Stream:
        client = self.client
        try:
            response = client.post(
                _PATH, body=body, cast_to=httpx.Response, options=self._options_for(timeouts), stream=True
            )
        except groq.GroqError as exc:
            raise self._map(exc) from exc
        return _Stream(response, self.model_name)

    async def _aopen_stream(self, body: JsonDict, timeouts: Mapping[str, float]) -> _Stream:
        client = self.async_client
        try:
            response = await client.post(
                _PATH, body=body, cast_to=httpx.Response, options=self._options_for(timeouts), stream=True
            )
        except groq.GroqError as exc:
            raise self._map(exc) from exc
        return _Stream(response, self.model_name)
