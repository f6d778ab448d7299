"""Model providers: one module per vendor, each importing its SDK lazily.

Use :func:`podium.model` with a ``"provider:model"`` string to get a model, and
:class:`FallbackModel` to chain several (``FallbackModel("openai:gpt-4o", "anthropic:claude-sonnet-4-5")``).
Names here are imported from their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from podium.providers.fallback import FallbackModel

_EXPORTS: dict[str, str] = {"FallbackModel": "podium.providers.fallback"}

__all__ = ["FallbackModel"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'podium.providers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
