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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Usage"]


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
