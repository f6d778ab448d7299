"""Anthropic Messages API (``anthropic:<model>``) over Podium's own transport; no SDK is imported.

Use it as ``podium.model("anthropic:claude-sonnet-4-5")`` or :class:`AnthropicModel` directly.
Requests go to ``https://api.anthropic.com/v1/messages`` (``base_url=`` or ``ANTHROPIC_BASE_URL`` to
change it) with ``anthropic-version: 2023-06-01`` and the key from ``api_key=`` or ``ANTHROPIC_API_KEY``
as ``x-api-key`` (or a token from ``auth_token=`` or ``ANTHROPIC_AUTH_TOKEN`` as a bearer token); the
headers of ``ANTHROPIC_CUSTOM_HEADERS`` and ``default_headers=`` (an ``anthropic-beta`` flag, say) are
added. The HTTP, the server-sent events, timeouts and retries are :mod:`podium.providers.transport`'s;
the wire translation is in :mod:`podium.providers.anthropic_wire` (its docstring lists how every block maps).

Settings:

* ``temperature``, ``top_p``, ``max_tokens`` (default 4096, or the thinking budget plus 2048),
  ``stop`` (``stop_sequences``), ``tool_choice`` (``required`` is ``any``), ``parallel_tool_calls``
  (``disable_parallel_tool_use``) and ``timeout`` map directly. ``seed`` has no Anthropic equivalent and
  is ignored with a warning.
* ``thinking``: on Claude 4.6 and later (adaptive thinking) ``True`` gives ``thinking={"type":
  "adaptive"}`` and a level adds ``output_config.effort`` (``minimal`` becomes ``low``); an int is a
  ``budget_tokens`` where the model still takes one (Claude 4.6 and earlier), else mapped to an effort
  (up to 2048 low, up to 8192 medium, else high). On earlier models a level is a budget: minimal 1024,
  low 2048, medium (and ``True``) 8192, high 16384 tokens. ``False`` sends ``{"type": "disabled"}``.
* ``extra={"anthropic": {...}}`` is merged into the request body last, nested objects key by key, so
  ``{"output_config": {"effort": "max"}}``, ``{"top_k": 40}`` or top-level ``{"cache_control": ...}``
  (automatic prompt caching) reach the wire unchanged. Its ``tools`` are added after the function tools:
  server tools such as ``{"type": "web_search_20250305", "name": "web_search"}``, whose blocks come back
  as :class:`~podium.messages.ProviderPart` and are sent back verbatim.
* Structured output uses ``output_config.format`` (JSON schema) on models that have it (Claude 4.5 and
  later, Opus 4.1); on others the schema becomes a tool the model is made to call, and the call comes
  back as the JSON text of the answer.

``request`` uses a stream under the hood when ``max_tokens`` is so large that a non-streaming call could
take over ten minutes (the SDK's rule, :func:`~podium.providers.anthropic_wire.needs_stream`); the result
is the same ``ModelResponse``. A stream ends with ``message_stop``; an ``event: error`` inside it is the
exception the same error gives as an HTTP answer (``overloaded_error`` is a 529
:class:`~podium.exceptions.ServerError`, retried while nothing has reached the caller).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Mapping
from typing import Any

from podium.exceptions import ProviderError
from podium.messages import ModelResponse
from podium.providers.anthropic_wire import API_VERSION
from podium.providers.anthropic_wire import PROVIDER
from podium.providers.anthropic_wire import RequestBody
from podium.providers.anthropic_wire import StreamAccumulator
from podium.providers.anthropic_wire import build_request
from podium.providers.anthropic_wire import needs_stream
from podium.providers.anthropic_wire import parse_message
from podium.providers.anthropic_wire import profile_for
from podium.providers.anthropic_wire import stream_error
from podium.providers.base import WireCall
from podium.providers.transport.auth import HeaderAuth
from podium.providers.transport.auth import bearer
from podium.providers.transport.auth import register_key
from podium.providers.transport.guard import Deadline
from podium.providers.transport.http import Auth
from podium.providers.transport.http import Endpoint
from podium.providers.transport.model import StreamState
from podium.providers.transport.model import WireModel
from podium.providers.vendor_env import env_headers
from podium.providers.vendor_env import given_header
from podium.providers.vendor_env import missing_key
from podium.settings import Timeouts
from podium.streaming import StreamEvent

__all__ = ["DEFAULT_BASE_URL", "AnthropicModel", "anthropic_endpoint"]

logger = logging.getLogger("podium.providers.anthropic")

DEFAULT_BASE_URL = "https://api.anthropic.com"


def anthropic_endpoint(
    model_name: str,
    options: Mapping[str, Any],
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    auth_token: str | None = None,
) -> Endpoint:
    """Where requests go and what they carry, read as the ``anthropic`` SDK reads them.

    An explicit ``api_key`` or ``auth_token`` is used alone; else ``ANTHROPIC_API_KEY``, then
    ``ANTHROPIC_AUTH_TOKEN``. With none, the first request fails saying how to set a key, unless the
    ``default_headers`` in ``options`` carry an ``x-api-key`` or ``Authorization`` of their own.
    """
    base = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
    headers = {"anthropic-version": API_VERSION, **env_headers("ANTHROPIC_CUSTOM_HEADERS")}
    key = api_key if api_key or auth_token else os.environ.get("ANTHROPIC_API_KEY")
    token = auth_token or os.environ.get("ANTHROPIC_AUTH_TOKEN")
    auth: Auth | None = None
    if given_header(options, "x-api-key", "authorization"):
        pass  # the user's own header is sent as it is
    elif key:
        register_key(key)
        auth = HeaderAuth({"x-api-key": key})
    elif token:
        auth = bearer(token)
    else:
        auth = missing_key(PROVIDER, model_name, "ANTHROPIC_API_KEY")
    return Endpoint(base.rstrip("/"), auth=auth, headers=headers)


class AnthropicModel(WireModel):
    """A Claude model behind the Anthropic Messages API: ``AnthropicModel("claude-sonnet-4-5")``.

    Takes the arguments of :class:`~podium.providers.transport.model.WireModel` (``base_url`` instead of
    ``https://api.anthropic.com`` or ``ANTHROPIC_BASE_URL``; ``api_key`` instead of ``ANTHROPIC_API_KEY``,
    sent as ``x-api-key``; ``default_headers={"anthropic-beta": ...}`` for a beta feature; raise
    ``timeouts.read`` for long thinking before the first token) and ``auth_token``: a bearer token instead of
    a key (or ``ANTHROPIC_AUTH_TOKEN``).
    """

    provider = PROVIDER
    end_marker = "message_stop"
    extra_options = frozenset({"auth_token"})
    family_profile = profile_for

    def __init__(self, model_name: str, **options: Any) -> None:
        self._warned_seed = False
        super().__init__(model_name, **options)

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """The Messages API's endpoint, as the SDK finds it."""
        token = options.pop("auth_token", None)
        return anthropic_endpoint(self.model_name, options, base_url=base_url, api_key=api_key, auth_token=token)

    # ------------------------------------------------------------------ the wire mapping

    def wire_body(self, call: WireCall) -> RequestBody:
        """The Messages API body, carrying the name of the tool that answers ``output`` (if any)."""
        messages, tools, settings, output, stream = call
        if settings.seed is not None and not self._warned_seed:
            self._warned_seed = True
            logger.warning("anthropic has no seed setting; seed=%s is ignored", settings.seed)
        body, output_tool = build_request(
            messages, model_name=self.model_name, tools=tools, settings=settings, output=output, profile=self.profile
        )
        body["stream"] = stream
        return RequestBody(body, output_tool)

    def path(self, body: dict[str, Any], *, stream: bool) -> str:
        """``/v1/messages``."""
        return "/v1/messages"

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a ``message`` object."""
        return parse_message(data, model_name=self.model_name)

    def parse_response_for(self, body: dict[str, Any], data: Any) -> ModelResponse:
        """The universal response for a ``message`` object answering ``body`` (its output tool's call as text).

        A long request was streamed (:meth:`_whole`): its ``data`` is the response already.
        """
        if isinstance(data, ModelResponse):
            return data
        return parse_message(data, model_name=self.model_name, output_tool=_output_tool(body))

    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""
        return StreamAccumulator(self.model_name)

    def stream_state_for(self, body: dict[str, Any]) -> StreamState:
        """A fresh state for one stream answering ``body`` (its output tool's call not shown as deltas)."""
        return StreamAccumulator(self.model_name, _output_tool(body))

    def stream_error(self, body: Any) -> ProviderError:
        """The error for an ``event: error`` (its ``error.type`` gives the status; 500 when unknown)."""
        return stream_error(body if isinstance(body, Mapping) else {"error": body}, self.model_name)

    # ------------------------------------------------------------------ long requests stream

    def _whole(self, body: dict[str, Any], timeouts: Timeouts) -> Any:
        """One whole-answer request, made as a stream when it could take over ten minutes.

        The streamed answer comes back as the response it adds up to (:meth:`parse_response_for` passes it
        on); a failure is retried as a whole, since nothing has reached the caller yet.
        """
        if not needs_stream(self.model_name, body.get("max_tokens")):
            return super()._whole(body, timeouts)
        logger.debug("max_tokens=%s needs a stream; streaming under the hood", body["max_tokens"])
        deadline = Deadline(timeouts, PROVIDER, self.model_name)
        return deque(self._stream_once(_streamed(body), timeouts, deadline), maxlen=1)[0]

    async def _awhole(self, body: dict[str, Any], timeouts: Timeouts) -> Any:
        """Async twin of :meth:`_whole`."""
        if not needs_stream(self.model_name, body.get("max_tokens")):
            return await super()._awhole(body, timeouts)
        logger.debug("max_tokens=%s needs a stream; streaming under the hood", body["max_tokens"])
        final: StreamEvent | None = None
        async for event in self._astream_once(_streamed(body), timeouts, Deadline(timeouts, PROVIDER, self.model_name)):
            final = event  # the last event is the response
        return final


def _output_tool(body: dict[str, Any]) -> str | None:
    return body.output_tool if isinstance(body, RequestBody) else None


def _streamed(body: dict[str, Any]) -> RequestBody:
    """``body`` asking for a stream."""
    return RequestBody({**body, "stream": True}, _output_tool(body))
