"""Command-line options shared by ``podium chat`` and ``podium run``."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["mcp_option", "memory_option"]

mcp_option = click.option(
    "--mcp",
    "mcp_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="MCP servers to use, from a JSON file in the mcpServers shape (repeatable); their tools are named "
    "{server}_{tool} and ask before each call (-y approves).",
)
"""``--mcp FILE`` (repeatable)."""

memory_option = click.option(
    "--memory/--no-memory",
    default=None,
    help="Remember notes across conversations (remember/recall/forget tools; notes matching the prompt are "
    "recalled at each turn). Scoped to you and the workspace. Default: [memory] enabled in the config file.",
)
"""``--memory/--no-memory``."""
