"""Tools: typed Python functions the model can call, toolsets, and their execution."""

from podium.tools.context import RunContext
from podium.tools.schema import FunctionSchema, Injected, function_schema
from podium.tools.tool import Tool, tool
from podium.tools.toolset import CombinedToolset, FilteredToolset, PrefixedToolset, ToolList, Toolset

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
