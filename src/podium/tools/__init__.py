"""Tools: typed Python functions the model can call, toolsets, and their execution.

The schema builder (pydantic, docstring parsing) is imported on first use, so that defining tools or
importing a light submodule (such as ``podium.tools.commands``) does not pull in pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Bound eagerly: the function ``tool`` shares its name with the submodule ``podium.tools.tool``, and a
# lazily bound attribute would be shadowed by the submodule once something imports it.
from podium.tools.context import RunContext
from podium.tools.tool import Tool, tool
from podium.tools.toolset import CombinedToolset, FilteredToolset, PrefixedToolset, ToolList, Toolset

if TYPE_CHECKING:
    from podium.tools.schema import FunctionSchema, Injected, function_schema

_EXPORTS = {
    "FunctionSchema": "podium.tools.schema",
    "Injected": "podium.tools.schema",
    "function_schema": "podium.tools.schema",
}

__all__ = [
    "CombinedToolset",
    "FilteredToolset",
    "FunctionSchema",
    "Injected",
    "PrefixedToolset",
    "RunContext",
    "Tool",
    "ToolList",
    "Toolset",
    "function_schema",
    "tool",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'podium.tools' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
