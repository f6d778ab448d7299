"""OpenAI Responses API (``openai-responses:<model>``) over Podium's own transport; no SDK is imported.

Use it as ``podium.model("openai-responses:gpt-5")`` or :class:`OpenAIResponsesModel` directly.
Requests go to ``https://api.openai.com/v1/responses`` (``base_url=`` or ``OPENAI_BASE_URL`` to change
the part before ``/responses``) with the key from ``api_key=`` or ``OPENAI_API_KEY`` as a bearer token,
``OpenAI-Organization`` from ``organization=`` or ``OPENAI_ORG_ID``, ``OpenAI-Project`` from ``project=``
or ``OPENAI_PROJECT_ID``, and the headers of ``OPENAI_CUSTOM_HEADERS`` and ``default_headers=``
(:func:`~podium.providers.vendor_env.openai_endpoint`). The HTTP, the server-sent events, timeouts and
retries are :mod:`podium.providers.transport`'s; the wire translation is in
:mod:`podium.providers.openai_responses_wire` (its docstring lists how every item maps).

Settings:

* ``temperature``, ``top_p``, ``max_tokens`` (``max_output_tokens``), ``tool_choice`` (a tool name forces
  that function), ``parallel_tool_calls`` and ``timeout`` map directly. The Responses API has no stop
  sequences (``stop`` raises :class:`~podium.exceptions.UserError`) and no seed (``seed`` is ignored
  with a warning).
* ``thinking`` on reasoning models (o-series, gpt-5 and later): a level is ``reasoning.effort``
  (``minimal`` only on gpt-5, else ``low``), an int is mapped to an effort (up to 2048 low, up to 8192
  medium, else high), ``True`` keeps the model's default and ``False`` asks for ``none`` (``minimal`` on
  gpt-5, ``low`` on o-series, which cannot stop reasoning). Reasoning models always get
  ``include=["reasoning.encrypted_content"]`` (unless thinking is ``False``), so reasoning items can be
  sent back whether or not the API stored them. Reasoning summaries, which arrive as :class:`Thinking`
  text, are opt-in on OpenAI's side: ``extra={"openai-responses": {"reasoning": {"summary": "auto"}}}``.
  On models that do not reason, ``thinking`` is ignored.
* ``extra={"openai-responses": {...}}`` is merged into the request body last, nested objects key by key
  (``{"reasoning": {"summary": "detailed"}}``, ``{"prompt_cache_key": ...}``); its ``tools`` are added
  after the function tools, for built-in tools such as ``{"type": "web_search"}``, whose calls come back
  as :class:`~podium.messages.ProviderPart` items and are sent back as they came.
* Structured output uses ``text.format`` with a JSON schema (``strict`` from the schema).

Conversation state, opt-in (both also accepted per request in ``extra``):

* ``store=False`` asks OpenAI not to keep responses; the full history is then sent each time, reasoning
  as encrypted content, and the ids of other items are left out.
* ``previous_response_id="auto"`` continues from the last OpenAI response in the history by its id and
  sends only the messages after it (smaller requests; the API must still hold that response, so not
  with ``store=False``). System messages are still sent as ``instructions``. A response id string instead
  of ``"auto"`` is sent as is, with all the messages given.

A stream ends with ``response.completed`` (or ``response.incomplete``, a whole answer cut by
``max_output_tokens``); ``response.failed`` and ``error`` events inside it are the exceptions the same
errors give as HTTP answers (their ``code`` gives the status), retried while nothing has reached the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from typing import Literal

from podium.exceptions import ProviderError
from podium.exceptions import UserError
from podium.messages import ModelResponse
from podium.providers.base import WireCall
from podium.providers.openai_responses_wire import PROVIDER
from podium.providers.openai_responses_wire import StreamAccumulator
from podium.providers.openai_responses_wire import build_request
from podium.providers.openai_responses_wire import parse_response
from podium.providers.openai_responses_wire import profile_for
from podium.providers.openai_responses_wire import response_error
from podium.providers.transport.http import Endpoint
from podium.providers.transport.model import StreamState
from podium.providers.transport.model import WireModel
from podium.providers.vendor_env import openai_endpoint

__all__ = ["OpenAIResponsesModel"]

logger = logging.getLogger("podium.providers.openai_responses")


class OpenAIResponsesModel(WireModel):
    """An OpenAI model behind the Responses API (``/v1/responses``).

    Args:
        model_name: Such as ``gpt-5``.
        base_url: Send requests here instead of ``https://api.openai.com/v1`` (or ``OPENAI_BASE_URL``):
            proxies, compatible servers.
        api_key: The API key, instead of ``OPENAI_API_KEY``.
        organization: ``OpenAI-Organization``, instead of ``OPENAI_ORG_ID``.
        project: ``OpenAI-Project``, instead of ``OPENAI_PROJECT_ID``.
        retry: How rate limits, server errors (in a ``response.failed`` event too) and broken connections
            are retried.
        profile: Override the capability profile (by default from the model family in the name).
        store: Send ``store`` (``None`` keeps the API default, which stores responses).
        previous_response_id: ``"auto"`` to continue from the last response by id (see the module docs).
        timeouts: Connect, read and total timeouts (default :class:`~podium.settings.Timeouts`; reasoning
            models may think for minutes before the first event: raise ``read``); ``timeout=`` (seconds)
            sets the total.
        **client_options: HTTP client options (:data:`~podium.providers.transport.http.CLIENT_OPTIONS`:
            ``http_client``, ``proxy``, ``default_headers`` ...).
    """

    provider = PROVIDER
    end_marker = "response.completed"
    extra_options = frozenset({"organization", "project"})
    family_profile = profile_for

    def __init__(
        self,
        model_name: str,
        *,
        store: bool | None = None,
        previous_response_id: Literal["auto"] | None = None,
        **options: Any,
    ) -> None:
        if previous_response_id not in (None, "auto"):
            raise UserError(
                f"previous_response_id={previous_response_id!r}: use 'auto' here; pass a specific response id per "
                "request with ModelSettings(extra={'openai-responses': {'previous_response_id': ...}})"
            )
        self.store = store
        """``store`` sent with every request (``None``: the API default)."""
        self.previous_response_id = previous_response_id
        """``"auto"``: continue from the last response in the history by its id."""
        self._warned_seed = False
        super().__init__(model_name, **options)

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """OpenAI's endpoint as the SDK finds it (arguments, then ``OPENAI_*`` variables)."""
        organization, project = options.pop("organization", None), options.pop("project", None)
        return openai_endpoint(
            PROVIDER,
            self.model_name,
            options,
            base_url=base_url,
            api_key=api_key,
            organization=organization,
            project=project,
        )

    # ------------------------------------------------------------------ the wire mapping

    def wire_body(self, call: WireCall) -> dict[str, Any]:
        """The Responses API body."""
        messages, tools, settings, output, stream = call
        if settings.seed is not None and not self._warned_seed:
            self._warned_seed = True
            logger.warning("the OpenAI Responses API has no seed; seed=%s is ignored", settings.seed)
        body = build_request(
            messages,
            model_name=self.model_name,
            tools=tools,
            settings=settings,
            output=output,
            store=self.store,
            previous_response_id=self.previous_response_id,
        )
        body["stream"] = stream
        return body

    def path(self, body: dict[str, Any], *, stream: bool) -> str:
        """``/responses`` (under the base URL, which ends in ``/v1``)."""
        return "/responses"

    def parse_response(self, data: Any) -> ModelResponse:
        """The universal response for a ``response`` object."""
        return parse_response(data, model_name=self.model_name)

    def stream_state(self) -> StreamState:
        """A fresh state for one stream."""
        return StreamAccumulator(self.model_name)

    def stream_error(self, body: Any) -> ProviderError:
        """The error for an ``event: error`` (its ``code`` gives the status; 500 when unknown)."""
        return response_error(body if isinstance(body, Mapping) else {"message": str(body)}, self.model_name)
