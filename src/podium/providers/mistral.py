"""Mistral (``mistral:<model>``): the chat-completions API over Podium's own transport.

Requests go to ``https://api.mistral.ai/v1/chat/completions`` with the key from ``api_key=`` or
``MISTRAL_API_KEY`` as a bearer token (:mod:`podium.providers.transport`); no SDK is imported. The
wire translation, with its documented fallbacks, is in :mod:`podium.providers.mistral_wire`.

Example::

    import podium

    model = podium.model("mistral:mistral-large-latest")
    print(model.request([podium.Message.user("Hello")]).text)

Any Mistral-compatible server works with ``base_url=`` (it replaces ``https://api.mistral.ai``; the
``MISTRAL_BASE_URL`` environment variable does the same).
"""

from __future__ import annotations

import os
from typing import Any

from podium.messages import ModelResponse
from podium.providers.base import WireCall
from podium.providers.mistral_wire import PROVIDER
from podium.providers.mistral_wire import MistralStreamState
from podium.providers.mistral_wire import build_body
from podium.providers.mistral_wire import parse_response
from podium.providers.profiles import ModelProfile
from podium.providers.transport.auth import bearer
from podium.providers.transport.http import Auth
from podium.providers.transport.http import Endpoint
from podium.providers.transport.model import StreamState
from podium.providers.transport.model import WireModel
from podium.providers.vendor_env import missing_key

__all__ = ["MistralModel", "mistral_profile"]

DEFAULT_BASE_URL = "https://api.mistral.ai"


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


class MistralModel(WireModel):
    """A Mistral chat model: ``MistralModel("mistral-large-latest")``.

    Takes the arguments of :class:`~podium.providers.transport.model.WireModel`: ``base_url`` replaces
    ``https://api.mistral.ai`` (or ``MISTRAL_BASE_URL``), ``api_key`` the ``MISTRAL_API_KEY`` variable, and
    a timeout may also be given the SDK's way, as ``timeout_ms=`` (the total).
    """

    provider = PROVIDER
    family_profile = mistral_profile
    extra_options = frozenset({"timeout_ms"})

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """``https://api.mistral.ai`` with a bearer key."""
        timeout_ms = options.pop("timeout_ms", None)
        if isinstance(timeout_ms, (int, float)) and "timeout" not in options:
            options["timeout"] = timeout_ms / 1000
        base = base_url or os.environ.get("MISTRAL_BASE_URL") or DEFAULT_BASE_URL
        key = api_key or os.environ.get("MISTRAL_API_KEY")
        auth: Auth | None = bearer(key) if key else None
        if auth is None and base_url is None:  # a server of one's own may need no key; Mistral's does
            auth = missing_key(PROVIDER, self.model_name, "MISTRAL_API_KEY")
        return Endpoint(base.rstrip("/"), auth=auth)

    def wire_body(self, call: WireCall) -> dict[str, Any]:
        """The JSON body of a chat-completions request."""
        return build_body(self.model_name, call)

    def path(self, body: dict[str, Any], *, stream: bool) -> str:
        """``/v1/chat/completions``."""
        return "/v1/chat/completions"

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a chat-completions response body."""
        return parse_response(data)

    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""
        return MistralStreamState()


def make_model(model_name: str, **options: Any) -> MistralModel:
    """Registry factory: ``podium.model("mistral:<name>", **options)``."""
    return MistralModel(model_name, **options)
