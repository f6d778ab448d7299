"""Cost of a response, from the maintained ``genai-prices`` package.

An unknown price gives ``None`` and one warning per (provider, model), never a silent zero.
``genai-prices`` is imported on the first lookup (it takes a few hundred ms and several MB to import), and
:func:`cost_of` defers the lookup until the cost is read.

Lookups are cached per (provider, model): the model's price entry is found once, and while the entry's
price set stays the same (prices can change on a date, or with a newer ``genai-prices`` snapshot) a
price set without tiers is turned once into per-token rates, so a lookup is a few multiplications
instead of a walk through ``genai-prices``' unit registry (~70 µs). The rates come from ``genai-prices``
itself (the price of probe usages), in ``Decimal`` like its own sums; tiered prices, and any price set
that does not behave linearly on the probes, are computed by ``genai-prices`` on every call.
"""

from __future__ import annotations

import logging
import threading
import warnings
from datetime import datetime
from datetime import timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from podium.usage import CostValue
from podium.usage import DeferredCost
from podium.usage import Usage

__all__ = ["UnknownPriceWarning", "compute_cost", "cost_of"]

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

_MTOK = 1_000_000
_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


class UnknownPriceWarning(UserWarning):
    """No price is known for a model, so its cost is ``None``."""


@lru_cache(maxsize=1)
def _genai_prices() -> Any:
    import genai_prices

    return genai_prices


def _counts(usage: Usage) -> dict[str, int]:
    kwargs = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
    if usage.cache_read_tokens:
        kwargs["cache_read_tokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        kwargs["cache_write_tokens"] = usage.cache_write_tokens
    return kwargs


class _Pricer:
    """The price entry of one (provider, model), with per-token rates while its price set is linear."""

    __slots__ = ("_lock", "_price", "_rates", "model", "provider", "snapshot")

    def __init__(self, snapshot: Any, provider: Any, model: Any) -> None:
        self.snapshot = snapshot
        self.provider = provider
        self.model = model
        self._price: Any = None
        self._rates: tuple[Decimal, ...] | None = None
        self._lock = threading.Lock()

    def _exact(self, gp: Any, counts: dict[str, int], now: datetime) -> Decimal:
        calc = self.model.calc_price(gp.Usage(**counts), self.provider, genai_request_timestamp=now)
        total: Decimal = calc.total_price
        return total

    def _linear_rates(self, gp: Any, price: Any, now: datetime) -> tuple[Decimal, ...] | None:
        """(fixed, input, output, cache read, cache write) per million tokens, or ``None`` when not linear."""
        if any(isinstance(value, gp.types.TieredPrices) for value in vars(price).values()):
            return None
        try:
            fixed = self._exact(gp, {"input_tokens": 0, "output_tokens": 0}, now)
            per_input = self._exact(gp, {"input_tokens": _MTOK, "output_tokens": 0}, now) - fixed
            per_output = self._exact(gp, {"input_tokens": 0, "output_tokens": _MTOK}, now) - fixed
            # cache tokens are part of input_tokens: the rate is the difference to a plain input token
            cache_read = self._exact(gp, {"input_tokens": _MTOK, "output_tokens": 0, "cache_read_tokens": _MTOK}, now)
            cache_write = self._exact(gp, {"input_tokens": _MTOK, "output_tokens": 0, "cache_write_tokens": _MTOK}, now)
            rates = (fixed, per_input, per_output, cache_read - fixed - per_input, cache_write - fixed - per_input)
            probe = {"input_tokens": 7919, "output_tokens": 1297, "cache_read_tokens": 2011, "cache_write_tokens": 503}
            if self._exact(gp, probe, now) != _apply(rates, probe):
                return None
        except Exception:  # a price set the probes do not fit: let genai-prices compute every time
            return None
        return rates

    def cost(self, gp: Any, usage: Usage) -> float:
        now = datetime.now(tz=timezone.utc)
        counts = _counts(usage)
        price = self.model.get_prices(now)
        if price is not self._price:
            rates = self._linear_rates(gp, price, now)
            with self._lock:
                self._price, self._rates = price, rates
        rates = self._rates
        if rates is None or self._price is not price:
            return float(self._exact(gp, counts, now))
        return float(_apply(rates, counts))


def _apply(rates: tuple[Decimal, ...], counts: dict[str, int]) -> Decimal:
    fixed, *per_mtok = rates
    tokens = sum((rate * counts.get(name, 0) for rate, name in zip(per_mtok, _FIELDS, strict=True)), Decimal(0))
    return fixed + tokens / _MTOK


_pricers: dict[tuple[str, str], tuple[Any, _Pricer | None]] = {}


def _pricer(gp: Any, provider: str, model: str) -> _Pricer | None:
    """The cached price entry of ``provider``/``model`` (``None``: unknown); found again for a new snapshot."""
    snapshot = gp.data_snapshot.get_snapshot()
    key = (provider, model)
    cached = _pricers.get(key)
    if cached is not None and cached[0] is snapshot:
        return cached[1]
    try:
        found = snapshot.find_provider_model(model, None, _PROVIDER_IDS.get(provider, provider), None)
    except LookupError:
        pricer = None
    else:
        pricer = _Pricer(snapshot, *found)
    _pricers[key] = (snapshot, pricer)
    return pricer


def cost_of(provider: str, model: str | None, usage: Usage) -> CostValue:
    """The cost of ``usage`` on ``provider``/``model``, worked out when it is first read.

    Free providers (the embedded model, Ollama) cost ``0.0`` and test models ``None`` at once; any other is a
    :class:`~podium.usage.DeferredCost` of :func:`compute_cost`, so ``genai-prices`` is loaded only by a
    program that reads a cost.
    """
    if not model or provider in ("test", "local", "ollama"):
        return None if provider not in ("local", "ollama") else 0.0
    return DeferredCost(lambda: compute_cost(provider, model, usage))


def compute_cost(provider: str, model: str | None, usage: Usage) -> float | None:
    """USD cost of ``usage`` on ``provider``/``model``, or ``None`` (with one warning) when unknown."""
    if not model or provider in ("test", "local", "ollama"):
        return None if provider not in ("local", "ollama") else 0.0
    try:
        gp = _genai_prices()
    except ImportError:  # pragma: no cover - genai-prices is a dependency of every vendor extra
        _warn_once(provider, model, "genai-prices is not installed")
        return None
    pricer = _pricer(gp, provider, model)
    if pricer is None:
        _warn_once(provider, model, "no price known")
        return None
    return pricer.cost(gp, usage)


def _warn_once(provider: str, model: str, why: str) -> None:
    key = (provider, model)
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    message = f"cost of {provider}:{model} is unknown ({why}); RunResult.cost will be None"
    logger.warning(message)
    warnings.warn(message, UnknownPriceWarning, stacklevel=3)
