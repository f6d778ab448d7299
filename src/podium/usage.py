"""Token usage, the same shape for every provider.

Conventions (the provider modules convert to them):

* ``input_tokens`` counts *every* prompt token, cached or not. ``cache_read_tokens`` and
  ``cache_write_tokens`` are the parts of it that were read from or written to a prompt cache.
  (Anthropic reports them apart from ``input_tokens``; its module adds them back.)
* ``output_tokens`` counts every generated token, ``reasoning_tokens`` included.
* ``requests`` counts model requests; a response from one request has ``requests == 1``.
* ``details`` keeps any other counter a provider reports (audio tokens, server tool uses ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

__all__ = ["CostField", "CostValue", "DeferredCost", "Usage", "add_costs", "resolve_cost", "stored_cost"]


def _empty() -> Mapping[str, int]:
    return {}


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and requests used by one model response or a whole run. Usages add up with ``+``."""

    input_tokens: int = 0
    """All prompt tokens, including cached ones."""
    output_tokens: int = 0
    """All generated tokens, including reasoning tokens."""
    cache_read_tokens: int = 0
    """Prompt tokens served from the provider's prompt cache."""
    cache_write_tokens: int = 0
    """Prompt tokens written to the provider's prompt cache."""
    reasoning_tokens: int = 0
    """Generated tokens spent on reasoning (a part of ``output_tokens``)."""
    requests: int = 0
    """Number of model requests."""
    details: Mapping[str, int] = field(default_factory=_empty)
    """Other provider counters, kept by name."""

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        details: Mapping[str, int]
        if other.details and self.details:
            merged = dict(self.details)
            for key, value in other.details.items():
                merged[key] = merged.get(key, 0) + value
            details = merged
        else:
            details = self.details or other.details
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.requests + other.requests,
            details,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; zero counters are left out."""
        out: dict[str, Any] = {}
        for name in _COUNTERS:
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.details:
            out["details"] = dict(self.details)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Inverse of :meth:`to_dict`. Raises ``TypeError``/``ValueError`` on malformed data."""
        unknown = set(data) - set(_COUNTERS) - {"details"}
        if unknown:
            raise ValueError(f"unknown usage fields {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name in _COUNTERS:
            value = data.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"usage.{name} must be an integer, got {value!r}")
            values[name] = value
        details = data.get("details", {})
        if not isinstance(details, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in details.items()
        ):
            raise TypeError("usage.details must map names to integers")
        return cls(**values, details=dict(details))


_COUNTERS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "requests",
)


class DeferredCost:
    """A cost worked out the first time it is read.

    Pricing needs the price table of ``genai-prices`` (hundreds of milliseconds and several MB to load), so
    providers hand responses a ``DeferredCost`` instead of a number: a run that never reads a cost never
    loads the table. :attr:`ModelResponse.cost <podium.messages.ModelResponse.cost>`,
    :attr:`Message.cost <podium.messages.Message.cost>` and a run result's ``cost`` resolve it on first read
    and keep the number.
    """

    __slots__ = ("_compute", "_done", "_value")

    def __init__(self, compute: Callable[[], float | None]) -> None:
        self._compute = compute
        self._done = False
        self._value: float | None = None

    def value(self) -> float | None:
        """The cost in USD (computed once), ``None`` when the price is unknown."""
        if not self._done:
            self._value = self._compute()
            self._done = True
            self._compute = _nothing
        return self._value

    def __repr__(self) -> str:
        return f"DeferredCost({self._value!r})" if self._done else "DeferredCost(<not computed yet>)"


CostValue = float | DeferredCost | None
"""A cost as stored: a number, unknown (``None``), or not worked out yet."""


def _nothing() -> float | None:
    return None


def resolve_cost(value: CostValue) -> float | None:
    """The number a stored cost stands for (computing a deferred one)."""
    return value.value() if isinstance(value, DeferredCost) else value


def add_costs(total: CostValue, more: CostValue) -> CostValue:
    """``total + more``, deferred when either is; ``None`` (unknown) once either is unknown."""
    if isinstance(total, DeferredCost) or isinstance(more, DeferredCost):
        return DeferredCost(lambda: _sum(resolve_cost(total), resolve_cost(more)))
    return _sum(total, more)


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


class CostField:
    """The ``cost`` field of a frozen dataclass: takes a :data:`CostValue`, reads as ``float | None``.

    The stored value lives in the instance's ``__dict__`` under ``_cost``; a :class:`DeferredCost` is
    replaced by its number on first read.
    """

    __slots__ = ()

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> None: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> float | None: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> float | None:
        if obj is None:
            return None  # the dataclass default
        stored = obj.__dict__.get("_cost")
        if isinstance(stored, DeferredCost):
            stored = stored.value()
            obj.__dict__["_cost"] = stored
        return stored

    def __set__(self, obj: object, value: CostValue) -> None:
        if value is not None and not isinstance(value, DeferredCost):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"cost: expected a number, None or a DeferredCost, got {value!r}")
            value = float(value)
        obj.__dict__["_cost"] = value


def stored_cost(obj: object) -> CostValue:
    """The cost of ``obj`` (a message or response) as stored, without computing a deferred one."""
    value: CostValue = obj.__dict__.get("_cost")
    return value
