"""Cost of a response, from the maintained ``genai-prices`` package.

An unknown price gives ``None`` and one warning per (provider, model), never a silent zero.
``genai-prices`` is imported on the first lookup (it takes a few hundred ms to import).
"""

from __future__ import annotations

import logging
import threading
import warnings
from functools import lru_cache

from podium.usage import Usage

__all__ = ["UnknownPriceWarning", "cost_of"]

logger = logging.getLogger("podium.pricing")

_warned: set[tuple[str, str]] = set()
_lock = threading.Lock()

# Podium provider names -> genai-prices provider ids, where they differ.
_PROVIDER_IDS = {
    "openai-responses": "openai",
    "gemini": "google",
    "google": "google",
    "google-vertex": "google",
    "bedrock": "aws",
    "mistral": "mistral",
    "groq": "groq",
    "openrouter": "openrouter",
    "deepseek": "deepseek",
    "together": "together",
    "xai": "x-ai",
}


class UnknownPriceWarning(UserWarning):
    """No price is known for a model, so its cost is ``None``."""


@lru_cache(maxsize=1)
def _genai_prices() -> object:
    import genai_prices

    return genai_prices


def cost_of(provider: str, model: str | None, usage: Usage) -> float | None:
    """USD cost of ``usage`` on ``provider``/``model``, or ``None`` (with one warning) when unknown."""
    if not model or provider in ("test", "local", "ollama"):
        return None if provider not in ("local", "ollama") else 0.0
    try:
        gp = _genai_prices()
    except ImportError:  # pragma: no cover - genai-prices is a dependency of every vendor extra
        _warn_once(provider, model, "genai-prices is not installed")
        return None
    provider_id = _PROVIDER_IDS.get(provider, provider)
    kwargs = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.cache_read_tokens:
        kwargs["cache_read_tokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        kwargs["cache_write_tokens"] = usage.cache_write_tokens
    try:
        calc = gp.calc_price(gp.Usage(**kwargs), model_ref=model, provider_id=provider_id)  # type: ignore[attr-defined]
    except LookupError:
        _warn_once(provider, model, "no price known")
        return None
    return float(calc.total_price)


def _warn_once(provider: str, model: str, why: str) -> None:
    key = (provider, model)
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    message = f"cost of {provider}:{model} is unknown ({why}); RunResult.cost will be None"
    logger.warning(message)
    warnings.warn(message, UnknownPriceWarning, stacklevel=3)
