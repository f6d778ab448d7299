"""MCP in the CLI: ``podium mcp list``, ``podium run --mcp``, ``[mcp_servers]`` in the config file, and
``podium chat`` in a real terminal using the filesystem reference server's tools."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pexpect
import pytest

from tests.cli.conftest import podium, script
from tests.cli.test_chat_pty import spawn
from tests.mcp.conftest import APP


def servers_file(path: Path, servers: dict[str, object]) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def app_server() -> dict[str, object]:
    return {"command": sys.executable, "args": [str(APP), "stdio"]}


def test_mcp_list_shows_tools_resources_prompts_and_errors(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = servers_file(
        tmp_path / "servers.json",
        {"app": app_server(), "broken": {"command": "/bin/sh", "args": ["-c", "echo no such thing >&2; exit 1"]}},
    )
    out = podium(["mcp", "list", str(config)], cli_env, timeout=60)
    assert out.returncode == 1, out.stderr
    assert "app (stdio:" in out.stdout and "tools (9):" in out.stdout and "place - Place an order" in out.stdout
    assert "data://greeting (greeting, text/plain)" in out.stdout and "review(code)" in out.stdout
    assert "broken (stdio: /bin/sh" in out.stdout and "error: cannot connect to MCP server 'broken'" in out.stdout
    assert "no such thing" in out.stdout  # the server's stderr says why
    doc = json.loads(podium(["mcp", "list", "--json", str(config)], cli_env, timeout=60).stdout)
    assert [d["name"] for d in doc] == ["app", "broken"]
    assert {t["name"] for t in doc[0]["tools"]} >= {"add", "place", "picture"} and "error" in doc[1]


def test_mcp_list_refuses_a_bad_file_clearly(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"mcpServers": {"x": {"command": "a", "url": "http://b"}}}))
    out = podium(["mcp", "list", str(bad)], cli_env)
    assert out.returncode == 2
    assert "server 'x' needs exactly one of 'command' (stdio) and 'url' (HTTP)" in out.stderr
    missing = podium(["mcp", "list", str(tmp_path / "nope.json")], cli_env)
    assert missing.returncode == 2 and "cannot read the MCP configuration" in missing.stderr


def test_run_with_mcp_calls_a_server_tool(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = servers_file(tmp_path / "servers.json", {"app": app_server()})
    model = script(tmp_path / "s.json", [{"calls": [{"name": "app_add", "args": {"a": 2, "b": 40}}]}, "It is 42."])
    out = podium(["run", "--model", model, "--mcp", str(config), "-y", "--json", "add"], cli_env, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["output"] == "It is 42."
    [result] = [p for m in doc["messages"] for p in m["parts"] if p["type"] == "tool_result"]
    assert result["name"] == "app_add" and result["content"][0]["text"] == "42"


def test_run_asks_before_mcp_calls_without_yes(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = servers_file(tmp_path / "servers.json", {"app": app_server()})
    model = script(tmp_path / "s.json", [{"calls": [{"name": "app_add", "args": {"a": 1}}]}, "never"])
    out = podium(["run", "--model", model, "--mcp", str(config), "add"], cli_env, timeout=60)
    assert out.returncode == 5, out.stderr  # paused: the call waits for approval
    assert "waiting for approval: app_add" in out.stderr


def test_mcp_servers_in_the_config_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    Path(cli_env["PODIUM_CONFIG"]).write_text(
        f'[mcp_servers.calc]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(APP))}, "stdio"]\n'
        'tools = ["add"]\n'
    )
    model = script(tmp_path / "s.json", [{"calls": [{"name": "calc_add", "args": {"a": 3}}]}, "three"])
    out = podium(["run", "--model", model, "-y", "--json", "go"], cli_env, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    [result] = [p for m in doc["messages"] for p in m["parts"] if p["type"] == "tool_result"]
    assert result["content"][0]["text"] == "3"
    listed = podium(["mcp", "list", "--json"], cli_env, timeout=60)
    assert [t["name"] for t in json.loads(listed.stdout)[0]["tools"]][:2] == ["add", "place"]  # list is unfiltered


def test_a_server_that_cannot_start_stops_run_with_a_clear_error(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = servers_file(tmp_path / "servers.json", {"gone": {"command": str(tmp_path / "no-such-program")}})
    out = podium(["run", "--model", "test:echo", "--mcp", str(config), "hi"], cli_env, timeout=60)
    assert out.returncode == 2
    assert "cannot connect to MCP server 'gone'" in out.stderr and "no-such-program" in out.stderr


@pytest.mark.requires("node")
def test_chat_uses_the_filesystem_reference_server(cli_env: dict[str, str], tmp_path: Path, npm_bin: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("the answer is 42\n")
    config = servers_file(
        tmp_path / "servers.json", {"fs": {"command": str(npm_bin / "mcp-server-filesystem"), "args": [str(workspace)]}}
    )
    model = script(
        tmp_path / "s.json",
        [
            {"calls": [{"name": "fs_read_text_file", "args": {"path": str(workspace / "notes.txt")}}]},
            "The notes say 42.",
            {"calls": [{"name": "fs_write_file", "args": {"path": str(workspace / "a.txt"), "content": "hi"}}]},
            "Not written.",
        ],
    )
    child = spawn(["chat", "--model", model, "--mcp", str(config)], cli_env, timeout=60)
    child.expect("MCP server 'fs': 14 tools, named fs_")
    child.expect("you>")
    child.sendline("what do the notes say?")
    child.expect(r"Allow fs_read_text_file\(")
    child.sendline("y")
    child.expect("the answer is 42")  # the tool result, shown
    child.expect("The notes say 42.")
    child.expect("you>")
    child.sendline("write a file")
    child.expect(r"Allow fs_write_file\(")
    child.sendline("n")
    child.expect("Not written.")
    child.expect("you>")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert not (workspace / "a.txt").exists()
