"""What differs between servers that speak the OpenAI Chat Completions wire format.

OpenAI, OpenRouter, DeepSeek, Groq, vLLM, the llama.cpp server, Together and xAI all accept the same
``/chat/completions`` request and return the same response shape, with small extras: where reasoning
comes back (``reasoning_content``, ``reasoning``, ``reasoning_details``, ``<think>`` tags in the text),
whether it must be sent back, how prompt-cache marks are written, the name of the token limit, and
how reasoning is switched on. A :class:`ChatDialect` records those choices for one provider; the pure
translation in :mod:`podium.providers.chat_wire` and :mod:`podium.providers.chat_stream` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from typing import TypeAlias

__all__ = ["CacheMarks", "ChatDialect", "ReasoningEcho", "ThinkingParam"]

ReasoningEcho: TypeAlias = Literal["none", "reasoning_content", "reasoning_details", "reasoning"]
"""How a provider wants its own reasoning back on later turns.

* ``none``: reasoning is not sent back (OpenAI, Groq, vLLM ...).
* ``reasoning_content``: DeepSeek: every assistant message with tool calls carries ``reasoning_content``
  (the reasoning of that turn, or ``""``); DeepSeek's thinking mode rejects tool-call turns without it.
* ``reasoning_details``: OpenRouter: the ``reasoning_details`` list it returned, verbatim.
* ``reasoning``: Ollama's ``/v1``: the assistant message's reasoning text in ``reasoning``, when it had any.
"""

CacheMarks: TypeAlias = Literal["none", "openai", "anthropic"]
"""How a :class:`~podium.messages.CachePoint` is written on the content part before it.

* ``none``: ignored (the provider caches prefixes automatically).
* ``openai``: ``prompt_cache_breakpoint: {"mode": "explicit"}``, only when the request asks for explicit
  caching (``extra={"openai": {"prompt_cache_options": {"mode": "explicit"}}}``); otherwise ignored, since
  older models reject the field.
* ``anthropic``: ``cache_control: {"type": "ephemeral", "ttl": ...}`` (OpenRouter passes it to Anthropic
  and Gemini models).
"""

ThinkingParam: TypeAlias = Literal["reasoning_effort", "openrouter", "deepseek", "groq", "chat_template", "none"]
"""How ``ModelSettings.thinking`` is written on the request.

* ``reasoning_effort``: ``reasoning_effort: "low" | "medium" | "high"`` (OpenAI reasoning models, xAI).
* ``openrouter``: ``reasoning: {"effort": ...}`` / ``{"max_tokens": n}`` / ``{"enabled": bool}``.
* ``deepseek``: ``thinking: {"type": "enabled" | "disabled"}``.
* ``groq``: ``reasoning_effort`` for an effort level, ``reasoning_format: "hidden"`` for ``False``.
* ``chat_template``: ``chat_template_kwargs: {"enable_thinking": bool}`` (vLLM, llama.cpp server) and
  ``reasoning_effort`` for an effort level.
* ``none``: the setting is ignored.
"""


@dataclass(frozen=True, slots=True)
class ChatDialect:
    """The Chat Completions variant one provider speaks."""

    provider: str
    """Podium provider name; also the key of ``ModelSettings.extra`` merged into the request."""
    max_tokens_field: str = "max_tokens"
    """Request field for ``ModelSettings.max_tokens`` (``max_completion_tokens`` on OpenAI)."""
    system_role: str = "system"
    """Role for system messages (``developer`` for OpenAI reasoning models, ``user`` for o1-mini)."""
    reasoning_fields: tuple[str, ...] = ("reasoning_content", "reasoning")
    """Message fields that carry reasoning text, read in this order."""
    reasoning_echo: ReasoningEcho = "none"
    """How the provider's own reasoning is sent back."""
    think_tags: bool = False
    """Split a leading ``<think>...</think>`` block out of the text into a thinking part."""
    cache_marks: CacheMarks = "none"
    """How cache points are written."""
    thinking_param: ThinkingParam = "none"
    """How the thinking setting is written."""
    stream_usage: bool = True
    """Send ``stream_options: {"include_usage": true}`` when streaming."""
    sampling: bool = True
    """Whether the model takes ``temperature`` / ``top_p`` (OpenAI reasoning models do not)."""
    can_disable_thinking: bool = True
    """For ``reasoning_effort``: whether ``thinking=False`` maps to the lowest effort (``minimal``)."""
    images: bool = True
    """Whether the API takes images (DeepSeek's does not): an image then raises
    :class:`~podium.exceptions.UserError` before anything is sent."""
    files: bool = True
    """Whether the API takes PDFs, audio and other binary files as content parts (DeepSeek's and Groq's do
    not): such a file then raises :class:`~podium.exceptions.UserError` before anything is sent. Text files
    are inlined as text either way."""
