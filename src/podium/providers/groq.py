"""Groq (``groq:<model>``): Chat Completions at ``https://api.groq.com/openai/v1``, no SDK needed.

``podium.model("groq:llama-3.3-70b-versatile")`` with ``GROQ_API_KEY`` (``GROQ_BASE_URL`` or ``base_url=``
replace ``https://api.groq.com``, as in the official SDK). Groq speaks the Chat Completions wire format, so
the translation is shared with OpenAI (:mod:`podium.providers.chat_wire`, :mod:`podium.providers.chat_stream`)
and the HTTP is :mod:`podium.providers.transport`'s.

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

import os
from typing import Any

from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_profiles import groq_profile
from podium.providers.openai import ChatCompletionsModel
from podium.providers.transport.http import Endpoint
from podium.providers.vendor_env import key_auth

__all__ = ["GROQ_DIALECT", "GroqModel"]

GROQ_BASE_URL = "https://api.groq.com"

GROQ_DIALECT = ChatDialect(
    "groq",
    reasoning_fields=("reasoning",),
    think_tags=True,
    thinking_param="groq",
    stream_usage=False,
    files=False,
)
"""Groq's wire dialect."""


class GroqModel(ChatCompletionsModel):
    """A model served by Groq: ``GroqModel("llama-3.3-70b-versatile")``.

    Takes the arguments of :class:`~podium.providers.transport.model.WireModel`: ``base_url`` without
    ``/openai/v1`` (default ``GROQ_BASE_URL``, else ``https://api.groq.com``), ``api_key`` (default
    ``GROQ_API_KEY``).
    """

    chat_path = "/openai/v1/chat/completions"
    dialect = GROQ_DIALECT
    family_profile = groq_profile

    def connect(self, base_url: str | None, api_key: str | None, options: dict[str, Any]) -> Endpoint:
        """``https://api.groq.com`` with a bearer key."""
        url = base_url or os.environ.get("GROQ_BASE_URL") or GROQ_BASE_URL
        return Endpoint(url.rstrip("/"), auth=key_auth("groq", self.model_name, api_key, "GROQ_API_KEY"))
