"""Ollama (``ollama:<model>``): the native ``/api/chat`` API over Podium's own transport.

Requests go to the Ollama host: ``base_url=``, else the ``OLLAMA_HOST`` environment variable, else
``http://127.0.0.1:11434``. A host is read as the ollama SDK and CLI read it (:func:`ollama_host`:
``host``, ``host:port`` or a URL; the scheme defaults to ``http``, the port to 11434). A key (``api_key=`` or
``OLLAMA_API_KEY``, for ollama.com) goes as a bearer token; a local server needs none. Streams are one JSON
object per line (NDJSON), ending with the line that says ``"done": true``; a line ``{"error": ...}`` is an
error the server met while generating. No SDK is imported. The translation rules are in
:mod:`podium.providers.ollama_wire`.

Two other wire APIs are available:

* ``OllamaModel(..., endpoint="generate")``: the single-turn ``/api/generate`` completion API (see
  ``ollama_wire``).
* :class:`OllamaOpenAIModel` (``podium.model("ollama:<name>", api="openai")``): Ollama's
  OpenAI-compatible ``/v1/chat/completions``, for servers or gateways that expose only that. It uses
  the shared Chat Completions translation (:mod:`podium.providers.chat_wire`, ``chat_stream``) with an
  Ollama dialect (reasoning read from and sent back in ``reasoning``).

Example::

    import podium

    model = podium.model("ollama:qwen3:0.6b")
    print(model.request([podium.Message.user("Hello")]).text)

A local model costs nothing: ``cost`` is ``0.0``.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any
from typing import Literal

from podium.exceptions import UserError
from podium.messages import ModelResponse
from podium.providers.base import WireCall
from podium.providers.chat_dialect import ChatDialect
from podium.providers.ollama_wire import PROVIDER
from podium.providers.ollama_wire import OllamaStreamState
from podium.providers.ollama_wire import build_chat_body
from podium.providers.ollama_wire import build_generate_body
from podium.providers.ollama_wire import parse_chat_response
from podium.providers.ollama_wire import parse_generate_response
from podium.providers.openai import ChatCompletionsModel
from podium.providers.profiles import ModelProfile
from podium.providers.transport.auth import bearer
from podium.providers.transport.http import Endpoint
from podium.providers.transport.model import StreamState
from podium.providers.transport.model import WireModel

__all__ = ["OLLAMA_DIALECT", "OllamaModel", "OllamaOpenAIModel", "ollama_host", "ollama_profile"]

DEFAULT_PORT = 11434
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # a server's "every interface" is this machine to a client
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


def ollama_host(host: str | None = None) -> str:
    """The base URL for an Ollama host as the ollama SDK reads ``OLLAMA_HOST`` (``host`` defaults to it).

    ``host``, ``host:port``, ``:port`` or a URL with a path; the scheme defaults to ``http`` and the
    port to 11434 (80 / 443 when the scheme is given); no host is ``127.0.0.1``; a trailing ``/`` is
    dropped. One thing differs from the SDK: ``0.0.0.0`` and ``::`` (a server listening on every
    interface, a common ``OLLAMA_HOST``) mean this machine, ``127.0.0.1`` / ``[::1]``.

    Raises:
        UserError: The host cannot be read (a port that is not a number ...).
    """
    text = (host or os.environ.get("OLLAMA_HOST") or "").strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest, port = "http", text, DEFAULT_PORT
    else:
        port = {"http": 80, "https": 443}.get(scheme.lower(), DEFAULT_PORT)
    try:
        split = urllib.parse.urlsplit(f"{scheme}://{rest}")
        port = split.port or port
    except ValueError as exc:
        raise UserError(
            f"cannot read the Ollama host {text!r} ({exc}): give host, host:port or a URL such as http://host:11434"
        ) from exc
    name = split.hostname or "127.0.0.1"
    name = _LOOPBACK.get(name, name)
    try:
        if ipaddress.ip_address(name).version == 6:
            name = f"[{name}]"
    except ValueError:
        pass  # a host name
    path = split.path.strip("/")
    return f"{scheme}://{name}:{port}" + (f"/{path}" if path else "")


def _endpoint(base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
    """Where requests go and their key; a ``headers=`` option (the SDK's name) joins ``default_headers``."""
    headers = options.pop("headers", None)
    if headers is not None and not isinstance(headers, Mapping):
        raise UserError(f"headers={headers!r}: give a mapping of header names to values")
    if headers:
        options["default_headers"] = {**dict(headers), **dict(options.get("default_headers") or {})}
    given = {str(k).lower() for k in options.get("default_headers") or {}}
    key = api_key or (None if "authorization" in given else os.environ.get("OLLAMA_API_KEY"))
    base = ollama_host(base_url)
    hint = "is Ollama running (`ollama serve`), and is OLLAMA_HOST or base_url= right?"
    return Endpoint(base, auth=bearer(key) if key else None, hint=hint)


class OllamaModel(WireModel):
    """A model served by Ollama, through its native API: ``OllamaModel("llama3.1")``.

    Takes the arguments of :class:`~podium.providers.transport.model.WireModel` (``base_url``: the Ollama
    host instead of ``OLLAMA_HOST`` / ``http://127.0.0.1:11434``, read by :func:`ollama_host`; ``api_key``: a
    bearer token for ollama.com instead of ``OLLAMA_API_KEY``) and:

    * ``endpoint``: ``chat`` (``/api/chat``, the default) or ``generate`` (single-turn ``/api/generate``);
    * ``headers``: sent with every request (the SDK's option; joins ``default_headers``).
    """

    provider = PROVIDER
    stream_format = "ndjson"
    end_marker = '"done": true'
    extra_options = frozenset({"headers"})
    family_profile = ollama_profile

    def __init__(self, model_name: str, *, endpoint: Literal["chat", "generate"] = "chat", **options: Any) -> None:
        if endpoint not in ("chat", "generate"):
            raise UserError(f"endpoint={endpoint!r}: use 'chat' (Ollama's /api/chat) or 'generate' (/api/generate)")
        self.endpoint = endpoint
        """Which native endpoint requests use."""
        super().__init__(model_name, **options)

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """The Ollama host, with an optional bearer key."""
        return _endpoint(base_url, api_key, options)

    def wire_body(self, call: WireCall) -> dict[str, Any]:
        """The JSON request body for the configured endpoint."""
        build = build_generate_body if self.endpoint == "generate" else build_chat_body
        return build(self.model_name, call)

    def path(self, body: dict[str, Any], *, stream: bool) -> str:
        """``/api/chat`` or ``/api/generate``."""
        return "/api/generate" if self.endpoint == "generate" else "/api/chat"

    def request_headers(self, body: dict[str, Any], *, stream: bool) -> Mapping[str, str] | None:
        """A stream is asked for as NDJSON (what Ollama sends), not server-sent events."""
        return {"accept": "application/x-ndjson"} if stream else None

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a response body."""
        if self.endpoint == "generate":
            return parse_generate_response(data)
        return parse_chat_response(data)

    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""
        return OllamaStreamState(generate=self.endpoint == "generate")


class OllamaOpenAIModel(ChatCompletionsModel):
    """A model served by Ollama, through its OpenAI-compatible ``/v1/chat/completions``.

    Takes the same arguments as :class:`OllamaModel` (without ``endpoint``). A ``base_url`` that ends in
    ``/v1`` (as OpenAI clients are configured) is the same host.
    """

    chat_path = "/v1/chat/completions"
    dialect = OLLAMA_DIALECT
    extra_options = frozenset({"headers"})
    family_profile = ollama_profile

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """The Ollama host, with an optional bearer key."""
        if base_url is not None:
            base_url = base_url.rstrip("/").removesuffix("/v1")
        return _endpoint(base_url, api_key, options)


def make_model(model_name: str, *, api: str = "native", **options: Any) -> OllamaModel | OllamaOpenAIModel:
    """Registry factory: ``podium.model("ollama:<name>", api="native" | "openai", **options)``."""
    if api == "native":
        return OllamaModel(model_name, **options)
    if api == "openai":
        if "endpoint" in options:
            raise UserError("endpoint= applies to Ollama's native API only (api='native')")
        return OllamaOpenAIModel(model_name, **options)
    raise UserError(f"api={api!r}: use 'native' (Ollama's /api/chat) or 'openai' (/v1/chat/completions)")
