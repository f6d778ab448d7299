"""Toolsets: groups of tools that compose (a list, filtered, prefixed, combined)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeAlias

from typing_extensions import override

from podium.exceptions import UserError
from podium.tools.context import RunContext
from podium.tools.tool import Tool, as_tool

logger = logging.getLogger("podium.tools")

__all__ = [
    "CombinedToolset",
    "FilteredToolset",
    "PrefixedToolset",
    "ToolList",
    "ToolResolver",
    "Toolset",
    "ToolsetLike",
    "resolve_tools",
]

ToolsetLike: TypeAlias = "Tool[..., Any] | Callable[..., Any] | Toolset"


class Toolset(ABC):
    """A source of tools. Subclasses return the tools available for a run."""

    @abstractmethod
    def get_tools(self, ctx: RunContext[Any] | None = None) -> Sequence[Tool[..., Any]]:
        """The tools offered to the model in this context."""

    def filtered(self, predicate: Callable[[Tool[..., Any]], bool]) -> FilteredToolset:
        """Only the tools for which ``predicate`` is true."""
        return FilteredToolset(self, predicate)

    def changed(self) -> bool:
        """Whether the tools changed since :meth:`get_tools` last answered (asked between model requests).

        A run lists its tools as it starts; when a toolset says they changed (an MCP server's
        ``tools/list_changed``), the run lists them again before its next request. Default: never.
        """
        return False

    def end_run(self) -> None:
        """A run that listed these tools ended (finished, failed, paused or cancelled). Default: nothing.

        A toolset whose resources live for one run (an MCP server started by the run) releases them here.
        """
        return None

    def prefixed(self, prefix: str) -> PrefixedToolset:
        """The same tools named ``{prefix}_{name}``."""
        return PrefixedToolset(self, prefix)

    def __add__(self, other: Toolset) -> CombinedToolset:
        return CombinedToolset([self, other])


class ToolList(Toolset):
    """A fixed list of tools (functions are wrapped with :func:`~podium.tools.tool`)."""

    def __init__(self, tools: Iterable[Tool[..., Any] | Callable[..., Any]]) -> None:
        self._tools = [as_tool(t) for t in tools]

    @override
    def get_tools(self, ctx: RunContext[Any] | None = None) -> Sequence[Tool[..., Any]]:
        return self._tools


class FilteredToolset(Toolset):
    """The tools of ``inner`` that pass ``predicate``."""

    def __init__(self, inner: Toolset, predicate: Callable[[Tool[..., Any]], bool]) -> None:
        self.inner = inner
        self.predicate = predicate

    @override
    def get_tools(self, ctx: RunContext[Any] | None = None) -> Sequence[Tool[..., Any]]:
        return [t for t in self.inner.get_tools(ctx) if self.predicate(t)]

    @override
    def changed(self) -> bool:
        return self.inner.changed()

    @override
    def end_run(self) -> None:
        self.inner.end_run()


class PrefixedToolset(Toolset):
    """The tools of ``inner`` renamed ``{prefix}_{name}`` (so that two sources cannot clash)."""

    def __init__(self, inner: Toolset, prefix: str) -> None:
        if not prefix:
            raise UserError("prefix must not be empty")
        self.inner = inner
        self.prefix = prefix
        self._cache: dict[int, Tool[..., Any]] = {}

    @override
    def get_tools(self, ctx: RunContext[Any] | None = None) -> Sequence[Tool[..., Any]]:
        out = []
        for t in self.inner.get_tools(ctx):
            renamed = self._cache.get(id(t))
            if renamed is None:
                renamed = self._cache[id(t)] = t.renamed(f"{self.prefix}_{t.name}")
            out.append(renamed)
        return out

    @override
    def changed(self) -> bool:
        return self.inner.changed()

    @override
    def end_run(self) -> None:
        self.inner.end_run()


class CombinedToolset(Toolset):
    """Several toolsets as one."""

    def __init__(self, toolsets: Iterable[Toolset]) -> None:
        self.toolsets = list(toolsets)

    @override
    def get_tools(self, ctx: RunContext[Any] | None = None) -> Sequence[Tool[..., Any]]:
        return [t for ts in self.toolsets for t in ts.get_tools(ctx)]

    @override
    def changed(self) -> bool:
        return any(ts.changed() for ts in self.toolsets)

    @override
    def end_run(self) -> None:
        for ts in self.toolsets:
            ts.end_run()


class ToolResolver:
    """What a run calls to get its tools: :func:`resolve_tools` over ``items``, and whether any toolset changed."""

    def __init__(self, items: Iterable[ToolsetLike]) -> None:
        self.items = tuple(items)

    def __call__(self, ctx: RunContext[Any] | None = None) -> dict[str, Tool[..., Any]]:
        """The tools by name (see :func:`resolve_tools`)."""
        return resolve_tools(self.items, ctx)

    def changed(self) -> bool:
        """Whether a toolset among the items says its tools changed."""
        return any(item.changed() for item in self.items if isinstance(item, Toolset))

    @property
    def has_toolsets(self) -> bool:
        """Whether any item is a toolset (only those have something to do when a run ends)."""
        return any(isinstance(item, Toolset) for item in self.items)

    def end_run(self) -> None:
        """Tell every toolset that the run ended; one that fails is logged, the others still hear of it."""
        for item in self.items:
            if isinstance(item, Toolset):
                try:
                    item.end_run()
                except Exception:
                    logger.warning("%r failed to end its run", item, exc_info=True)


def resolve_tools(items: Iterable[ToolsetLike], ctx: RunContext[Any] | None = None) -> dict[str, Tool[..., Any]]:
    """Flatten tools, functions and toolsets into ``{name: tool}``; duplicate names are an error."""
    out: dict[str, Tool[..., Any]] = {}
    for item in items:
        tools = item.get_tools(ctx) if isinstance(item, Toolset) else [as_tool(item)]
        for t in tools:
            name = t.schema.name
            if name in out and out[name] is not t:
                raise UserError(
                    f"two tools are named {name!r}; rename one (@tool(name=...)) or use toolset.prefixed(...)"
                )
            out[name] = t
    return out
