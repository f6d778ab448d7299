"""Helpers for provider request bodies (plain JSON-able dicts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["deep_merge"]


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``extra`` into ``base`` in place and return it.

    Nested objects are merged key by key (recursively); any other value, lists included, replaces what
    ``base`` had. This is how ``ModelSettings.extra[provider]`` reaches a request body: ``{"reasoning":
    {"summary": "auto"}}`` adds a key to the ``reasoning`` object Podium built instead of replacing it.
    """
    for key, value in extra.items():
        current = base.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            base[key] = deep_merge(dict(current), value)
        else:
            base[key] = value
    return base
