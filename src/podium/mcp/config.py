"""Where MCP servers are: stdio commands and HTTP endpoints, and the ``mcpServers`` JSON other clients use.

The shape is the one Claude Desktop, Cursor and VS Code read::

    {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."],
                  "env": {"DEBUG": "1"}, "cwd": "/srv"},
        "search": {"url": "http://localhost:8000/mcp", "headers": {"Authorization": "Bearer ..."}}
    }}

Podium reads these keys per server and refuses others (a typo must not silently drop a setting):
``command``, ``args``, ``env``, ``cwd`` (stdio); ``url``, ``headers`` (streamable HTTP); ``type``
(``stdio``, ``http``, ``streamable-http``; ``sse`` is refused); and Podium's own ``prefix``, ``tools``
(allow list), ``exclude_tools`` (deny list), ``timeout`` (seconds per call), ``disabled``.
This module only parses: it never imports the MCP SDK.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from podium.exceptions import UserError

__all__ = ["ServerConfig", "load_servers", "parse_servers"]

_STDIO_KEYS = frozenset({"command", "args", "env", "cwd"})
_HTTP_KEYS = frozenset({"url", "headers"})
_COMMON_KEYS = frozenset({"type", "prefix", "tools", "exclude_tools", "timeout", "disabled", "description"})


@dataclass(frozen=True)
class ServerConfig:
    """How to reach one MCP server."""

    name: str
    """The server's name in the configuration (the default tool-name prefix when several are loaded)."""
    transport: Literal["stdio", "http"]
    """``stdio`` (a child process) or ``http`` (streamable HTTP)."""
    command: str | None = None
    """Program to run (stdio)."""
    args: tuple[str, ...] = ()
    """Its arguments (stdio)."""
    env: Mapping[str, str] | None = None
    """Variables added to the child's environment (stdio); the SDK passes a safe default set besides."""
    cwd: str | None = None
    """Working directory of the child (stdio)."""
    url: str | None = None
    """Endpoint (http)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """HTTP headers sent with every request (http), such as ``Authorization``."""
    prefix: str | None = None
    """Tool-name prefix (``{prefix}_{tool}``); ``None``: no prefix."""
    allow: tuple[str, ...] | None = None
    """Only these tools (server-side names); ``None``: all."""
    deny: tuple[str, ...] = ()
    """Never these tools (server-side names)."""
    timeout: float | None = None
    """Seconds each call may take before it becomes an error result (and is cancelled on the server)."""

    def describe(self) -> str:
        """The command line or URL, for messages."""
        if self.transport == "stdio":
            return " ".join([self.command or "", *self.args]).strip()
        return self.url or ""


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{what} must be a list of strings, got {value!r}")
    return tuple(value)


def _string_map(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise UserError(f"{what} must be an object of strings, got {value!r}")
    return dict(value)


def _server(name: str, entry: Any, where: str) -> ServerConfig | None:
    at = f"{where}: server {name!r}"
    if not isinstance(entry, dict):
        raise UserError(f"{at} must be an object with 'command' (stdio) or 'url' (HTTP)")
    unknown = set(entry) - _STDIO_KEYS - _HTTP_KEYS - _COMMON_KEYS
    if unknown:
        raise UserError(
            f"{at} has unknown keys {sorted(unknown)}; known: {sorted(_STDIO_KEYS | _HTTP_KEYS | _COMMON_KEYS)}"
        )
    if entry.get("disabled") is True:
        return None
    kind = entry.get("type")
    if kind == "sse":
        raise UserError(f"{at}: the SSE transport is deprecated and not supported; use streamable HTTP ('url')")
    if kind not in (None, "stdio", "http", "streamable-http", "streamableHttp"):
        raise UserError(f"{at}: unknown type {kind!r}; use 'stdio' or 'http'")
    has_command, has_url = "command" in entry, "url" in entry
    if has_command == has_url:
        raise UserError(f"{at} needs exactly one of 'command' (stdio) and 'url' (HTTP)")
    timeout = entry.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0):
        raise UserError(f"{at}: timeout must be a positive number of seconds, got {timeout!r}")
    prefix = entry.get("prefix")
    if prefix is not None and (not isinstance(prefix, str) or not prefix):
        raise UserError(f"{at}: prefix must be a non-empty string")
    common: dict[str, Any] = {
        "prefix": prefix,
        "allow": _strings(entry["tools"], f"{at}: tools") if "tools" in entry else None,
        "deny": _strings(entry.get("exclude_tools", []), f"{at}: exclude_tools"),
        "timeout": float(timeout) if timeout is not None else None,
    }
    if has_command:
        stray = set(entry) & _HTTP_KEYS
        if stray:
            raise UserError(f"{at}: {sorted(stray)} belong to HTTP servers, not stdio ones")
        command = entry["command"]
        if not isinstance(command, str) or not command.strip():
            raise UserError(f"{at}: command must be a non-empty string")
        cwd = entry.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise UserError(f"{at}: cwd must be a string")
        env = _string_map(entry["env"], f"{at}: env") if "env" in entry else None
        args = _strings(entry.get("args", []), f"{at}: args")
        return ServerConfig(name, "stdio", command=command, args=args, env=env, cwd=cwd, **common)
    stray = set(entry) & _STDIO_KEYS
    if stray:
        raise UserError(f"{at}: {sorted(stray)} belong to stdio servers, not HTTP ones")
    url = entry["url"]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise UserError(f"{at}: url must be an http:// or https:// address, got {url!r}")
    headers = _string_map(entry.get("headers", {}), f"{at}: headers")
    return ServerConfig(name, "http", url=url, headers=headers, **common)


def parse_servers(data: Any, where: str = "MCP configuration") -> list[ServerConfig]:
    """The servers of an ``{"mcpServers": {...}}`` document (or of the bare ``{name: server}`` mapping).

    Raises:
        UserError: The document is not in that shape; the message names the server and the key.
    """
    if isinstance(data, dict) and "mcpServers" in data:
        data = data["mcpServers"]
    elif isinstance(data, dict) and "mcp_servers" in data:
        data = data["mcp_servers"]
    if not isinstance(data, dict):
        raise UserError(f'{where} must be an object {{"mcpServers": {{"name": {{...}}}}}}')
    servers = []
    for name, entry in data.items():
        if not name or not isinstance(name, str):
            raise UserError(f"{where}: server names must be non-empty strings")
        server = _server(name, entry, where)
        if server is not None:
            servers.append(server)
    return servers


def load_servers(paths: str | Path | Sequence[str | Path]) -> list[ServerConfig]:
    """Read ``mcpServers`` JSON files; servers of later files replace earlier ones of the same name.

    Raises:
        UserError: A file is missing, not JSON, or not in the ``mcpServers`` shape.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: dict[str, ServerConfig] = {}
    for path in paths:
        p = Path(path).expanduser()
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read the MCP configuration {str(p)!r}: {exc.strerror or exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{p} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
        for server in parse_servers(data, str(p)):
            out[server.name] = server
    return list(out.values())
