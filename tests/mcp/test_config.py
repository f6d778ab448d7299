"""The ``mcpServers`` JSON shape: what is read, and a clear error for everything else (no SDK needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from podium.exceptions import UserError
from podium.mcp import ServerConfig, load_servers, parse_servers, servers_from_config


def test_the_common_shape_with_stdio_and_http_servers() -> None:
    doc = {
        "mcpServers": {
            "files": {"command": "npx", "args": ["-y", "pkg", "."], "env": {"A": "1"}, "cwd": "/srv"},
            "search": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer x"}, "timeout": 5},
            "off": {"command": "x", "disabled": True},
            "typed": {"type": "http", "url": "http://localhost:1/mcp", "tools": ["a*"], "exclude_tools": ["ab"]},
        }
    }
    files, search, typed = parse_servers(doc)
    assert files == ServerConfig("files", "stdio", command="npx", args=("-y", "pkg", "."), env={"A": "1"}, cwd="/srv")
    assert search.transport == "http" and search.headers == {"Authorization": "Bearer x"} and search.timeout == 5.0
    assert typed.allow == ("a*",) and typed.deny == ("ab",)
    assert parse_servers({"bare": {"command": "x"}})[0].name == "bare"  # the mapping alone is accepted too


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"command": "x", "url": "http://a"}, "needs exactly one of 'command' (stdio) and 'url' (HTTP)"),
        ({}, "needs exactly one of 'command'"),
        ({"command": "x", "argz": []}, "unknown keys ['argz']"),
        ({"command": "x", "args": "a b"}, "args must be a list of strings"),
        ({"command": "x", "env": {"A": 1}}, "env must be an object of strings"),
        ({"command": "x", "headers": {}}, "['headers'] belong to HTTP servers"),
        ({"url": "http://a", "args": []}, "['args'] belong to stdio servers"),
        ({"url": "ftp://a"}, "url must be an http:// or https:// address"),
        ({"type": "sse", "url": "http://a"}, "SSE transport is deprecated"),
        ({"command": "x", "timeout": 0}, "timeout must be a positive number"),
        ({"command": "x", "timeout": True}, "timeout must be a positive number"),
        ({"command": ""}, "command must be a non-empty string"),
        ("npx", "must be an object"),
    ],
)
def test_bad_entries_say_what_is_wrong(entry: Any, message: str) -> None:
    with pytest.raises(UserError) as info:
        parse_servers({"mcpServers": {"s": entry}}, "servers.json")
    assert message in str(info.value) and "servers.json: server 's'" in str(info.value)


def test_files_later_ones_win_and_errors_name_the_file(tmp_path: Path) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    one.write_text(json.dumps({"mcpServers": {"a": {"command": "x"}, "b": {"command": "y"}}}))
    two.write_text(json.dumps({"mcpServers": {"b": {"url": "http://z/mcp"}}}))
    a, b = load_servers([one, two])
    assert a.command == "x" and b.url == "http://z/mcp"
    broken = tmp_path / "broken.json"
    broken.write_text('{"mcpServers": {')
    with pytest.raises(UserError, match=r"broken.json is not valid JSON: .*line 1"):
        load_servers(broken)
    with pytest.raises(UserError, match="cannot read the MCP configuration"):
        load_servers(tmp_path / "missing.json")


def test_several_servers_are_prefixed_with_their_names() -> None:
    configs = parse_servers({"my files": {"command": "x"}, "web": {"url": "http://a/mcp", "prefix": "w"}})
    first, second = servers_from_config(configs)
    assert (first.prefix, second.prefix) == ("my_files", "w")
    [alone] = servers_from_config(configs[:1])
    assert alone.prefix is None
    for server in (first, second, alone):
        server.close()
