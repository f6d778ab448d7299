"""Cohere (``cohere:<model>``): the v2 chat API over Podium's own transport.

Requests go to ``https://api.cohere.com/v2/chat`` with the key from ``api_key=``, ``CO_API_KEY`` or
``COHERE_API_KEY`` (the name the CLI and other tools use) as a bearer token
(:mod:`podium.providers.transport`); no SDK is imported. Streams are server-sent events that end with
``message-end``. The wire translation, with its documented fallbacks, is in
:mod:`podium.providers.cohere_wire`.

Example::

    import podium

    model = podium.model("cohere:command-a-03-2025")
    print(model.request([podium.Message.user("Hello")]).text)

``base_url=`` (or the ``CO_API_URL`` environment variable, as the SDK reads it) replaces
``https://api.cohere.com``; a ``/v1`` on a cohere.com URL is dropped, as the SDK does. ``client_name=``
is sent as the ``X-Client-Name`` header.
"""

from __future__ import annotations

import os
from typing import Any

from podium.exceptions import UserError
from podium.messages import ModelResponse
from podium.providers.base import WireCall
from podium.providers.cohere_wire import PROVIDER
from podium.providers.cohere_wire import CohereStreamState
from podium.providers.cohere_wire import build_body
from podium.providers.cohere_wire import parse_response
from podium.providers.profiles import ModelProfile
from podium.providers.transport.auth import MissingCredentials
from podium.providers.transport.auth import bearer
from podium.providers.transport.http import Auth
from podium.providers.transport.http import Endpoint
from podium.providers.transport.model import StreamState
from podium.providers.transport.model import WireModel

__all__ = ["CohereModel", "cohere_base_url", "cohere_profile"]

DEFAULT_BASE_URL = "https://api.cohere.com"


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


def cohere_base_url(base_url: str | None = None) -> str:
    """The API URL: ``base_url``, else ``CO_API_URL``, else ``https://api.cohere.com``.

    As the SDK does, a ``/v1`` is dropped from a cohere.com (or cohere.ai) URL: requests add ``/v2/chat``.
    """
    base = (base_url or os.environ.get("CO_API_URL") or DEFAULT_BASE_URL).rstrip("/")
    if "cohere.com" in base or "cohere.ai" in base:
        base = base.removesuffix("/v1")
    return base


class CohereModel(WireModel):
    """A Cohere chat model (v2 API).

    Args:
        model_name: Such as ``command-a-03-2025`` or ``command-r7b-12-2024``.
        base_url: API URL instead of ``CO_API_URL`` / ``https://api.cohere.com``.
        api_key: API key instead of the ``CO_API_KEY`` (or ``COHERE_API_KEY``) environment variable.
        retry: How failed requests are retried.
        profile: Override the capability profile.
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`); a number
            given as ``timeout=`` (seconds, the SDK's option) is the total.
        **client_options: ``client_name`` (sent as ``X-Client-Name``) and the HTTP client options
            (:data:`~podium.providers.transport.http.CLIENT_OPTIONS`).
    """

    provider = PROVIDER
    end_marker = "message-end"
    extra_options = frozenset({"client_name"})
    family_profile = cohere_profile

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """``https://api.cohere.com`` (or ``CO_API_URL``) with a bearer key; ``client_name`` as a header."""
        client_name = options.pop("client_name", None)
        if client_name is not None and not isinstance(client_name, str):
            raise UserError(f"client_name={client_name!r}: give a string (it is sent as the X-Client-Name header)")
        key = api_key or os.environ.get("CO_API_KEY") or os.environ.get("COHERE_API_KEY")
        auth: Auth = (
            bearer(key)
            if key
            else MissingCredentials(
                "no API key for cohere: set the CO_API_KEY (or COHERE_API_KEY) environment variable or pass "
                f"api_key= (e.g. podium.model('cohere:{self.model_name}', api_key='...'))"
            )
        )
        headers = {"x-client-name": client_name} if client_name else {}
        return Endpoint(cohere_base_url(base_url), auth=auth, headers=headers)

    def wire_body(self, call: WireCall) -> dict[str, Any]:
        """The JSON body of a ``/v2/chat`` request."""
        return build_body(self.model_name, call)

    def path(self, body: dict[str, Any], *, stream: bool) -> str:
        """``/v2/chat``."""
        return "/v2/chat"

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a ``/v2/chat`` response body."""
        return parse_response(data, self.model_name)

    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""
        return CohereStreamState(self.model_name)


def make_model(model_name: str, **options: Any) -> CohereModel:
    """Registry factory: ``podium.model("cohere:<name>", **options)``."""
    return CohereModel(model_name, **options)
