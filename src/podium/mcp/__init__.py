"""MCP (Model Context Protocol) client: the tools, resources and prompts of MCP servers for Podium agents.

Needs the ``mcp`` extra (``pip install 'podium[mcp]'``, the official MCP Python SDK); the SDK is imported
when a server is first used, not by ``import podium.mcp``.

* :class:`MCPServer` -- one server (``MCPServer.stdio(...)``, ``MCPServer.http(...)``) as a toolset for
  ``Agent(tools=[...])``; see :mod:`podium.mcp.client`.
* :func:`load_servers` / :func:`parse_servers` -- the ``mcpServers`` JSON other MCP clients use;
  :func:`servers_from_config` turns it into toolsets (prefixed with the server's name when there are several).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from podium.mcp.client import MCPServer, MCPTool, ProgressUpdate
from podium.mcp.config import ServerConfig, load_servers, parse_servers
from podium.mcp.connection import ServerGone, ServerUnavailable

__all__ = [
    "MCPServer",
    "MCPTool",
    "ProgressUpdate",
    "ServerConfig",
    "ServerGone",
    "ServerUnavailable",
    "load_servers",
    "parse_servers",
    "servers_from_config",
    "tool_prefix",
]


def servers_from_config(configs: Sequence[ServerConfig], **options: Any) -> list[MCPServer]:
    """One :class:`MCPServer` per configuration, prefixed with its name when there are several.

    A configuration's own ``prefix`` wins; the name prefix keeps two servers' tools from clashing.
    """
    several = len(configs) > 1
    out = []
    for config in configs:
        prefix = config.prefix or (tool_prefix(config.name) if several else None)
        out.append(MCPServer(config, prefix=prefix, **options))
    return out


def tool_prefix(name: str) -> str:
    """A server's name made fit to prefix tool names (letters, digits, ``_`` and ``-``)."""
    import re

    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "mcp"
