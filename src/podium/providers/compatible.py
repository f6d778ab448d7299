"""OpenAI-compatible servers, by name: OpenRouter, DeepSeek, vLLM, llama.cpp server, Together, xAI.

Each preset is a provider of its own (``podium.model("deepseek:deepseek-reasoner")``) with its base URL,
its API-key environment variable and its wire dialect (:class:`~podium.providers.chat_dialect.ChatDialect`);
the HTTP is Podium's own (:mod:`podium.providers.transport`), through
:class:`~podium.providers.openai.OpenAIChatModel`. Any other server:
``podium.model("openai-compatible:my-model", base_url="http://host:port/v1")``.

Presets (provider name: default base URL, key variable; wire extras):

* ``openrouter``: https://openrouter.ai/api/v1, ``OPENROUTER_API_KEY``; ``reasoning`` and
  ``reasoning_details`` (sent back), ``cache_control`` marks, the charged ``usage.cost`` as the cost,
  ``: OPENROUTER PROCESSING`` comment lines in streams, upstream errors (429 with ``metadata.raw``).
* ``deepseek``: https://api.deepseek.com, ``DEEPSEEK_API_KEY``; ``reasoning_content`` (sent back on tool-call
  turns, as DeepSeek's thinking mode requires), ``prompt_cache_hit_tokens`` / ``prompt_cache_miss_tokens``.
  Its API reads text only: an image, a PDF, audio or another binary file in the conversation raises
  :class:`~podium.exceptions.UserError` before sending (text files are inlined as text).
* ``vllm``: http://localhost:8000/v1, ``VLLM_API_KEY``; ``reasoning_content`` / ``reasoning``, ``<think>``
  tags, ``chat_template_kwargs.enable_thinking``.
* ``llamacpp`` (llama.cpp server): http://localhost:8080/v1, ``LLAMACPP_API_KEY``; as vLLM.
* ``together``: https://api.together.xyz/v1, ``TOGETHER_API_KEY``; ``reasoning`` / ``<think>`` tags.
* ``xai``: https://api.x.ai/v1, ``XAI_API_KEY``; ``reasoning_content``, ``reasoning_effort``.
* ``openai-compatible``: ``base_url=`` required, ``OPENAI_COMPATIBLE_API_KEY``; as vLLM.

Local servers (vLLM, llama.cpp, generic) need no key: a placeholder is sent when none is set. The base URL
of the local presets can also come from ``VLLM_BASE_URL`` / ``LLAMACPP_BASE_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.exceptions import UserError
from podium.providers.base import require_model_name
from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_profiles import deepseek_profile
from podium.providers.chat_profiles import generic_profile
from podium.providers.chat_profiles import openrouter_profile
from podium.providers.chat_profiles import xai_profile
from podium.providers.openai import OpenAIChatModel
from podium.providers.profiles import ModelProfile
from podium.usage import CostValue
from podium.usage import Usage

__all__ = [
    "PRESETS",
    "CompatibleChatModel",
    "Preset",
    "deepseek",
    "llamacpp",
    "openai_compatible",
    "openrouter",
    "together",
    "vllm",
    "xai",
]


@dataclass(frozen=True, slots=True)
class Preset:
    """How to reach one OpenAI-compatible service."""

    dialect: ChatDialect
    """Its wire variant (the dialect's provider name is the preset's name)."""
    base_url: str | None
    """Default base URL (``None``: the caller must give one)."""
    api_key_env: str
    """Environment variable holding the key."""
    profile: Callable[[str], ModelProfile]
    """Capability profile for a model name."""
    base_url_env: str | None = None
    """Environment variable that overrides the default base URL."""
    key_required: bool = True
    """Whether a key must be set (local servers take any placeholder)."""


_LOCAL = ChatDialect("vllm", think_tags=True, thinking_param="chat_template")

PRESETS: dict[str, Preset] = {
    "openrouter": Preset(
        ChatDialect(
            "openrouter",
            max_tokens_field="max_completion_tokens",
            reasoning_fields=("reasoning",),
            reasoning_echo="reasoning_details",
            cache_marks="anthropic",
            thinking_param="openrouter",
        ),
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        openrouter_profile,
    ),
    "deepseek": Preset(
        ChatDialect(
            "deepseek",
            reasoning_fields=("reasoning_content",),
            reasoning_echo="reasoning_content",
            thinking_param="deepseek",
            images=False,
            files=False,
        ),
        "https://api.deepseek.com",
        "DEEPSEEK_API_KEY",
        deepseek_profile,
    ),
    "vllm": Preset(_LOCAL, "http://localhost:8000/v1", "VLLM_API_KEY", generic_profile, "VLLM_BASE_URL", False),
    "llamacpp": Preset(
        ChatDialect("llamacpp", think_tags=True, thinking_param="chat_template", stream_usage=False),
        "http://localhost:8080/v1",
        "LLAMACPP_API_KEY",
        generic_profile,
        "LLAMACPP_BASE_URL",
        False,
    ),
    "together": Preset(
        ChatDialect("together", think_tags=True, thinking_param="none", stream_usage=False),
        "https://api.together.xyz/v1",
        "TOGETHER_API_KEY",
        generic_profile,
    ),
    "xai": Preset(
        ChatDialect("xai", reasoning_fields=("reasoning_content",), thinking_param="reasoning_effort"),
        "https://api.x.ai/v1",
        "XAI_API_KEY",
        xai_profile,
    ),
    "openai-compatible": Preset(
        ChatDialect("openai-compatible", think_tags=True, thinking_param="chat_template"),
        None,
        "OPENAI_COMPATIBLE_API_KEY",
        generic_profile,
        key_required=False,
    ),
}
"""The presets by provider name."""


class CompatibleChatModel(OpenAIChatModel):
    """A model on an OpenAI-compatible server (one of :data:`PRESETS`).

    Args:
        preset: ``openrouter``, ``deepseek``, ``vllm``, ``llamacpp``, ``together``, ``xai`` or
            ``openai-compatible``.
        model_name: The model as the server names it.
        dialect: Override the preset's wire dialect.
        **options: As for :class:`~podium.providers.openai.OpenAIChatModel`; ``base_url`` overrides the
            preset's (required for ``openai-compatible``), ``api_key`` its key variable.

    Raises:
        UserError: unknown preset, or no base URL for ``openai-compatible``.
    """

    def __init__(self, preset: str, model_name: str, *, dialect: ChatDialect | None = None, **options: Any) -> None:
        spec = PRESETS.get(preset)
        if spec is None:
            raise UserError(f"unknown OpenAI-compatible preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
        require_model_name(preset, model_name)
        self.preset = spec
        """How this service is reached."""
        url = options.pop("base_url", None) or (os.environ.get(spec.base_url_env) if spec.base_url_env else None)
        url = url or spec.base_url
        if url is None:
            raise UserError(
                f"{preset} needs a base URL: podium.model('{preset}:{model_name}', base_url='http://host:port/v1')"
            )
        if options.get("api_key") is None and not spec.key_required and not os.environ.get(spec.api_key_env):
            options["api_key"] = "not-needed"
        options.setdefault("api_key_env", spec.api_key_env)
        super().__init__(model_name, dialect=dialect or spec.dialect, base_url=url, **options)

    def default_profile(self) -> ModelProfile:
        """The preset's profile of this model."""
        return self.preset.profile(self.model_name)

    def cost(self, model: str | None, usage: Usage, extra: Mapping[str, Any] | None) -> CostValue:
        """What the server reported it charged (OpenRouter), none for self-hosted servers, else the price list's."""
        reported = (extra or {}).get("cost")  # OpenRouter reports what it charged
        if isinstance(reported, (int, float)) and not isinstance(reported, bool):
            return float(reported)
        if self.provider in ("vllm", "llamacpp", "openai-compatible"):
            return None  # self-hosted: no price to look up
        return super().cost(model, usage, extra)


def openrouter(model_name: str, **options: Any) -> CompatibleChatModel:
    """``openrouter:vendor/model`` (OpenRouter)."""
    return CompatibleChatModel("openrouter", model_name, **options)


def deepseek(model_name: str, **options: Any) -> CompatibleChatModel:
    """``deepseek:deepseek-chat`` / ``deepseek:deepseek-reasoner`` (DeepSeek)."""
    return CompatibleChatModel("deepseek", model_name, **options)


def vllm(model_name: str, **options: Any) -> CompatibleChatModel:
    """``vllm:model`` (a vLLM server, default ``http://localhost:8000/v1``)."""
    return CompatibleChatModel("vllm", model_name, **options)


def llamacpp(model_name: str, **options: Any) -> CompatibleChatModel:
    """``llamacpp:model`` (a llama.cpp server, default ``http://localhost:8080/v1``)."""
    return CompatibleChatModel("llamacpp", model_name, **options)


def together(model_name: str, **options: Any) -> CompatibleChatModel:
    """``together:vendor/model`` (Together AI)."""
    return CompatibleChatModel("together", model_name, **options)


def xai(model_name: str, **options: Any) -> CompatibleChatModel:
    """``xai:grok-4`` (xAI)."""
    return CompatibleChatModel("xai", model_name, **options)


def openai_compatible(model_name: str, **options: Any) -> CompatibleChatModel:
    """``openai-compatible:model`` with ``base_url=`` (any other OpenAI-compatible server)."""
    return CompatibleChatModel("openai-compatible", model_name, **options)
