"""Capability profiles and wire dialects for models behind Chat Completions endpoints.

Facts per model family (context window, vision, reasoning, native JSON-schema output), matched on
the model name. Unknown names get a conservative profile (tools, no vision, no native structured
output); pass ``profile=`` to a model to override.
"""

from __future__ import annotations

import re
from dataclasses import replace

from podium.providers.chat_dialect import ChatDialect
from podium.providers.profiles import ModelProfile

__all__ = [
    "OPENAI_DIALECT",
    "deepseek_profile",
    "generic_profile",
    "groq_profile",
    "openai_dialect",
    "openai_profile",
    "openrouter_profile",
    "xai_profile",
]

OPENAI_DIALECT = ChatDialect(
    "openai",
    max_tokens_field="max_completion_tokens",
    reasoning_fields=(),
    cache_marks="openai",
    thinking_param="none",
)
"""OpenAI's own dialect, for non-reasoning models (see :func:`openai_dialect`)."""

_O_SERIES = re.compile(r"^(o\d)(-|$)")


def _openai_reasoning(name: str) -> bool:
    return bool(_O_SERIES.match(name)) or (name.startswith("gpt-5") and "-chat" not in name)


def openai_dialect(model_name: str) -> ChatDialect:
    """OpenAI's dialect for a model: reasoning models get the ``developer`` role and ``reasoning_effort``.

    ``o1-mini`` and ``o1-preview`` take neither ``system`` nor ``developer`` messages; their instructions are
    sent as ``user`` messages.
    """
    name = model_name.lower()
    if name.startswith(("o1-mini", "o1-preview")):
        return replace(OPENAI_DIALECT, system_role="user", sampling=False, thinking_param="reasoning_effort")
    if _openai_reasoning(name):
        return replace(
            OPENAI_DIALECT,
            system_role="developer",
            sampling=False,
            thinking_param="reasoning_effort",
            can_disable_thinking=name.startswith("gpt-5"),
        )
    return OPENAI_DIALECT


def openai_profile(model_name: str) -> ModelProfile:
    """What an OpenAI Chat Completions model can do."""
    name = model_name.lower()
    if name.startswith(("o1-mini", "o1-preview")):
        return ModelProfile(128_000, 65_536, tools=False, parallel_tool_calls=False, thinking=True)
    if name.startswith("o3-mini"):
        return ModelProfile(200_000, 100_000, parallel_tool_calls=False, thinking=True, structured_output=True)
    if _O_SERIES.match(name):
        return ModelProfile(
            200_000, 100_000, parallel_tool_calls=False, vision=True, files=True, thinking=True, structured_output=True
        )
    if name.startswith("gpt-5"):
        return ModelProfile(
            400_000, 128_000, vision=True, files=True, thinking="-chat" not in name, structured_output=True
        )
    if "search" in name:
        return ModelProfile(128_000, 16_384, tools=False, parallel_tool_calls=False, structured_output=True)
    if "audio" in name:
        return ModelProfile(128_000, 16_384, files=True)
    if name.startswith("gpt-4.1"):
        return ModelProfile(1_047_576, 32_768, vision=True, files=True, structured_output=True)
    if name.startswith(("gpt-4o", "chatgpt-4o")):
        return ModelProfile(128_000, 16_384, vision=True, files=True, structured_output=True)
    if name.startswith("gpt-4-turbo") or name == "gpt-4-0125-preview":
        return ModelProfile(128_000, 4_096, vision=True)
    if name.startswith("gpt-4"):
        return ModelProfile(8_192, 8_192)
    if name.startswith("gpt-3.5"):
        return ModelProfile(16_385, 4_096)
    if name.startswith("gpt-oss"):
        return ModelProfile(131_072, 131_072, thinking=True, structured_output=True)
    return ModelProfile()


def deepseek_profile(model_name: str) -> ModelProfile:
    """What a DeepSeek model can do (no native JSON-schema mode, only JSON object mode)."""
    thinking = "reasoner" in model_name or "r1" in model_name.lower()
    return ModelProfile(128_000, 64_000 if thinking else 8_192, thinking=thinking)


def groq_profile(model_name: str) -> ModelProfile:
    """What a model served by Groq can do."""
    name = model_name.lower()
    structured = name.startswith(("openai/gpt-oss", "moonshotai/kimi-k2", "meta-llama/llama-4"))
    thinking = "gpt-oss" in name or "qwen3" in name or "qwq" in name or "deepseek-r1" in name
    vision = "llama-4" in name or "vision" in name
    window = 131_072
    if name.startswith(("llama3-", "gemma2", "mixtral")):
        window = 8_192
    return ModelProfile(window, None, vision=vision, thinking=thinking, structured_output=structured)


def openrouter_profile(model_name: str) -> ModelProfile:
    """What a model behind OpenRouter (``vendor/model``) can do, from its vendor and name."""
    vendor, _, name = model_name.lower().partition("/")
    if vendor == "openai":
        return openai_profile(name)
    if vendor == "anthropic":
        return ModelProfile(200_000, None, vision=True, files=True, thinking=True, structured_output=True)
    if vendor == "google":
        return ModelProfile(1_048_576, None, vision=True, files=True, thinking="2.5" in name or "3" in name)
    if vendor == "deepseek":
        return deepseek_profile(name)
    if vendor == "x-ai":
        return xai_profile(name)
    return ModelProfile()


def xai_profile(model_name: str) -> ModelProfile:
    """What an xAI Grok model can do."""
    name = model_name.lower()
    return ModelProfile(
        256_000 if "grok-4" in name else 131_072,
        None,
        vision="vision" in name or "grok-4" in name,
        thinking="mini" in name or "grok-4" in name or "reason" in name,
        structured_output=True,
    )


def generic_profile(model_name: str) -> ModelProfile:
    """A self-hosted or unknown model: tools, native JSON-schema output (vLLM and llama.cpp have it)."""
    name = model_name.lower()
    return ModelProfile(
        None,
        None,
        vision="vl" in name or "vision" in name or "llava" in name,
        thinking=any(tag in name for tag in ("qwen3", "r1", "qwq", "thinking", "gpt-oss")),
        structured_output=True,
    )
