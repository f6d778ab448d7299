"""MCP servers in the CLI: ``--mcp``, ``[mcp_servers]`` in the config file, and ``podium mcp list``.

``podium chat --mcp servers.json`` and ``podium run --mcp servers.json`` give the model the servers' tools.

The files are in the ``mcpServers`` JSON shape other MCP clients read (see :mod:`podium.mcp.config`); the
config file takes the same entries as TOML tables (``[mcp_servers.files]`` with ``command = "npx"``,
``args = [...]``). In the CLI every server's tools are named ``{server}_{tool}`` and each call asks for
approval (``-y`` approves): a server's own claims about its tools (read-only hints) are not trusted.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from podium.exceptions import UserError

__all__ = ["load_cli_servers", "mcp", "open_servers"]


def load_cli_servers(files: Sequence[Path]) -> list[Any]:
    """The server configurations of the config file's ``mcp_servers`` and then of ``files`` (later wins)."""
    from podium.cli.config import config_path, load_config
    from podium.mcp import load_servers, parse_servers

    by_name = {}
    table = load_config().get("mcp_servers")
    if table is not None:
        for server in parse_servers(table, f"[mcp_servers] in {config_path()}"):
            by_name[server.name] = server
    if files:
        for server in load_servers(list(files)):
            by_name[server.name] = server
    return list(by_name.values())


def open_servers(files: Sequence[Path]) -> list[Any]:
    """Connected :class:`~podium.mcp.MCPServer` s, each prefixed with its name.

    A server that cannot start is a ``UserError`` naming it (and the others are stopped).
    """
    configs = load_cli_servers(files)
    if not configs:
        return []
    try:
        from podium.mcp import MCPServer, ServerUnavailable, tool_prefix
    except ImportError as exc:  # pragma: no cover - the mcp extra is missing
        raise UserError(f"MCP servers need the mcp extra: pip install 'podium[mcp]' ({exc})") from exc
    servers = [MCPServer(c, prefix=c.prefix or tool_prefix(c.name)).keep() for c in configs]  # up for the session
    with cf.ThreadPoolExecutor(max(1, len(servers))) as pool:
        futures = [pool.submit(s.get_tools) for s in servers]
        errors = []
        for future in futures:
            try:
                future.result()
            except ServerUnavailable as exc:
                errors.append(str(exc))
    if errors:
        for server in servers:
            server.close()
        raise UserError("\n".join(errors) + "\n(fix the server's entry, or leave it out)")
    return servers


def _describe(server: Any) -> dict[str, Any]:
    """What ``podium mcp list`` shows of one server."""
    out: dict[str, Any] = {"name": server.name, "transport": server.config.transport, "at": server.config.describe()}
    try:
        tools = server.list_tools()
    except Exception as exc:
        out["error"] = str(exc)
        return out
    out["tools"] = [{"name": t.name, "description": _first_sentence(t.description or "")} for t in tools]
    for key, fetch in (("resources", server.list_resources), ("prompts", server.list_prompts)):
        try:
            items = fetch()
        except Exception as exc:  # servers without resources or prompts answer "method not found"
            out[key] = []
            out[f"{key}_error"] = str(getattr(exc, "message", exc))
            continue
        if key == "resources":
            out[key] = [{"uri": r.uri, "name": r.name, "mime_type": r.mime_type} for r in items]
        else:
            out[key] = [{"name": p.name, "arguments": [a.name for a in p.arguments or []]} for p in items]
    return out


def _first_sentence(text: str, limit: int = 100) -> str:
    first = text.strip().split("\n")[0].split(". ")[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 3] + "..."


@click.group("mcp")
def mcp() -> None:
    """MCP servers (mcpServers JSON files, as other MCP clients use)."""


@mcp.command("list")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for each server to start.")
def list_servers(files: tuple[Path, ...], as_json: bool, timeout: float) -> None:
    """Show each server's tools, resources and prompts, or why it cannot be reached.

    Servers come from FILES and from [mcp_servers] in the config file. Exits with 1 when a server failed.
    """
    from podium.mcp import MCPServer

    configs = load_cli_servers(files)
    if not configs:
        raise UserError("no MCP servers: give a servers.json file (mcpServers) or add [mcp_servers] to the config")
    servers = [MCPServer(c, connect_timeout=timeout) for c in configs]
    try:
        with cf.ThreadPoolExecutor(len(servers)) as pool:
            reports = list(pool.map(_describe, servers))
    finally:
        with cf.ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(lambda s: s.close(), servers))
    if as_json:
        click.echo(json.dumps(reports, indent=2, ensure_ascii=False))
    else:
        for report in reports:
            _print(report)
    if any("error" in r for r in reports):
        raise SystemExit(1)


def _print(report: dict[str, Any]) -> None:
    click.secho(f"{report['name']} ({report['transport']}: {report['at']})", bold=True)
    if "error" in report:
        click.secho(f"  error: {report['error']}", fg="red")
        return
    click.echo(f"  tools ({len(report['tools'])}):")
    for t in report["tools"]:
        click.echo(f"    {t['name']}" + (f" - {t['description']}" if t["description"] else ""))
    click.echo(f"  resources ({len(report['resources'])}):")
    for r in report["resources"]:
        click.echo(f"    {r['uri']} ({r['name']}{', ' + r['mime_type'] if r['mime_type'] else ''})")
    click.echo(f"  prompts ({len(report['prompts'])}):")
    for p in report["prompts"]:
        click.echo(f"    {p['name']}({', '.join(p['arguments'])})")


def _add_serve() -> None:
    from podium.cli.mcp_serve import serve

    mcp.add_command(serve)


_add_serve()
