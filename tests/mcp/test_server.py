"""``podium mcp serve`` as a real process, driven by the official SDK's client and by Podium's own client."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcp import Client, MCPError
from podium import Agent
from podium.mcp import MCPServer, ServerUnavailable
from podium.messages import Image, Text
from podium.testing import ScriptedModel, call
from tests.mcp import serve_tools
from tests.mcp.conftest import free_port, wait_for_port

HERE = Path(__file__).parent


def serve_args(workspace: Path, *extra: str) -> list[str]:
    return ["-m", "podium.cli", "mcp", "serve", "-w", str(workspace), "--toolset", "serve_tools:tools", *extra]


def server_env() -> dict[str, str]:
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "PODIUM_CONFIG": os.devnull}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("hello from the workspace\n")
    (tmp_path / "secret.txt").write_text("not for the model\n")
    return ws


@asynccontextmanager
async def sdk_stdio(workspace: Path, *extra: str, mode: Any = "legacy") -> AsyncIterator[Client]:
    params = StdioServerParameters(command=sys.executable, args=serve_args(workspace, *extra), env=server_env())
    async with Client(stdio_client(params), mode=mode) as client:
        yield client


@pytest.fixture
def http_server(workspace: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    extra: list[str] = list(getattr(request, "param", []))
    port = free_port()
    cmd = [sys.executable, *serve_args(workspace, "--transport", "http", "--port", str(port), *extra)]
    proc = subprocess.Popen(cmd, env=server_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp", proc
    finally:
        proc.terminate()
        proc.wait(10)


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def check_tools(client: Client, workspace: Path) -> None:
    listed = {t.name: t for t in (await client.list_tools()).tools}
    assert {"read_file", "write_file", "run_shell", "scale", "boom", "picture"} <= set(listed)
    # the schema is Podium's own definition, not one re-derived by the SDK
    assert listed["scale"].input_schema == dict(serve_tools.scale.definition.parameters)
    factor = listed["scale"].input_schema["properties"]["factor"]
    assert {"type": "null"} in factor["anyOf"]
    ok = await client.call_tool("scale", {"value": 2, "unit": "km", "factor": 3})
    assert not ok.is_error and text_of(ok) == "6.0 km"
    read = await client.call_tool("read_file", {"path": "notes.txt"})
    assert not read.is_error and "hello from the workspace" in text_of(read)
    failed = await client.call_tool("boom", {"reason": "on purpose"})
    assert failed.is_error and "exploded: on purpose" in text_of(failed)
    bad = await client.call_tool("scale", {"value": "far"})
    assert bad.is_error and "value" in text_of(bad)
    unknown = await client.call_tool("nope", {})
    assert unknown.is_error and "Unknown tool 'nope'" in text_of(unknown)


@pytest.mark.parametrize("mode", ["legacy", "auto"])  # the handshake era, and the SDK client's default
def test_sdk_client_over_stdio_lists_calls_and_gets_the_error_flag(workspace: Path, mode: str) -> None:
    async def main() -> None:
        async with sdk_stdio(workspace, mode=mode) as client:
            await check_tools(client, workspace)

    asyncio.run(main())


def test_sdk_client_over_http_lists_calls_and_gets_the_error_flag(
    workspace: Path, http_server: tuple[str, Any]
) -> None:
    async def main() -> None:
        async with Client(streamable_http_client(http_server[0]), mode="legacy") as client:
            await check_tools(client, workspace)

    asyncio.run(main())


def test_sandbox_and_policy_apply_to_served_builtin_tools(workspace: Path) -> None:
    outside = workspace.parent / "written.txt"

    async def main() -> None:
        async with sdk_stdio(workspace) as client:
            secret = await client.call_tool("read_file", {"path": "../secret.txt"})
            assert secret.is_error and "not for the model" not in text_of(secret)
            assert "outside the workspace" in text_of(secret)
            write = await client.call_tool("write_file", {"path": str(outside), "content": "x"})
            assert write.is_error and "outside the workspace" in text_of(write)
            inside = await client.call_tool("write_file", {"path": "made.txt", "content": "made"})
            assert not inside.is_error, text_of(inside)
            shell = await client.call_tool("run_shell", {"command": "touch ran.txt"})
            assert shell.is_error and "no one to ask" in text_of(shell) and "--yes" in text_of(shell)

    asyncio.run(main())
    assert not outside.exists()
    assert (workspace / "made.txt").read_text() == "made"
    assert not (workspace / "ran.txt").exists()


def test_yes_allows_asked_calls_but_never_paths_outside(workspace: Path) -> None:
    async def main() -> None:
        async with sdk_stdio(workspace, "--yes") as client:
            shell = await client.call_tool("run_shell", {"command": "echo served > ran.txt && cat ran.txt"})
            assert not shell.is_error and "served" in text_of(shell), text_of(shell)
            escape = await client.call_tool("run_shell", {"command": "echo x > ../escaped.txt"})
            assert escape.is_error

    asyncio.run(main())
    assert (workspace / "ran.txt").read_text().strip() == "served"
    assert not (workspace.parent / "escaped.txt").exists()


def test_images_and_files_become_mcp_image_and_resource_content(workspace: Path) -> None:
    async def main() -> types.CallToolResult:
        async with sdk_stdio(workspace) as client:
            return await client.call_tool("picture", {})

    result = asyncio.run(main())
    text, image, pdf, csv = result.content
    assert isinstance(text, types.TextContent) and text.text == "a red dot"
    assert isinstance(image, types.ImageContent) and image.mime_type == "image/png"
    assert base64.b64decode(image.data) == serve_tools.PNG
    assert isinstance(pdf, types.EmbeddedResource) and isinstance(pdf.resource, types.BlobResourceContents)
    assert base64.b64decode(pdf.resource.blob) == b"%PDF-1.4" and pdf.resource.mime_type == "application/pdf"
    assert isinstance(csv, types.EmbeddedResource) and isinstance(csv.resource, types.TextResourceContents)
    assert csv.resource.text == "col\n1\n" and str(csv.resource.uri).endswith("data.csv")


def test_podium_agent_uses_a_podium_server_through_podium_client(workspace: Path) -> None:
    server = MCPServer.stdio(sys.executable, serve_args(workspace), env=server_env(), name="podium")
    model = ScriptedModel(
        [
            [
                call("read_file", {"path": "notes.txt"}),
                call("picture", {}),
                call("boom", {"reason": "x"}),
                call("run_shell", {"command": "ls"}),
            ],
            "done",
        ]
    )
    with server:
        result = Agent(model, tools=[server]).run("look")
    assert result.output == "done"
    results = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
    assert [r.is_error for r in results] == [False, False, True, True]
    assert "hello from the workspace" in "".join(p.text for p in results[0].content if isinstance(p, Text))
    assert any(isinstance(p, Image) and p.data == serve_tools.PNG for p in results[1].content)
    assert "no one to ask" in "".join(p.text for p in results[3].content if isinstance(p, Text))


def test_an_agent_served_as_one_tool(workspace: Path) -> None:
    async def main() -> tuple[list[types.Tool], types.CallToolResult]:
        async with sdk_stdio(workspace, "--agent", "--model", "test:echo") as client:
            tools = (await client.list_tools()).tools
            return tools, await client.call_tool("agent", {"task": "say the magic word"})

    tools, result = asyncio.run(main())
    assert [t.name for t in tools] == ["agent"]
    assert tools[0].input_schema["required"] == ["task"]
    assert not result.is_error and "say the magic word" in text_of(result)


# ---------------------------------------------------------------- HTTP: Host/Origin and token


def test_http_on_localhost_refuses_rebound_host_and_foreign_origin(http_server: tuple[str, Any]) -> None:
    url = http_server[0]
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"accept": "application/json, text/event-stream"}
    rebound = httpx.post(url, json=init, headers={**headers, "host": "evil.example:80"})
    assert rebound.status_code == 421
    foreign = httpx.post(url, json=init, headers={**headers, "origin": "http://evil.example"})
    assert foreign.status_code == 403
    same = httpx.post(url, json=init, headers={**headers, "origin": url.rsplit("/", 1)[0]})
    assert same.status_code == 200


@pytest.mark.parametrize("http_server", [["--host", "0.0.0.0", "--token", "s3cret-token"]], indirect=True)
def test_http_elsewhere_requires_the_token_on_every_request(workspace: Path, http_server: tuple[str, Any]) -> None:
    url = http_server[0]
    assert httpx.post(url, json={}).status_code == 401
    assert httpx.post(url, json={}, headers={"authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url, headers={"authorization": "Basic s3cret-token"}).status_code == 401

    async def main() -> None:
        http = create_mcp_http_client(headers={"authorization": "Bearer s3cret-token"})
        async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
            result = await client.call_tool("read_file", {"path": "notes.txt"})
            assert not result.is_error and "hello" in text_of(result)

    asyncio.run(main())


def test_http_elsewhere_without_a_token_makes_one_and_prints_it(workspace: Path) -> None:
    port = free_port()
    cmd = [sys.executable, *serve_args(workspace, "--transport", "http", "--host", "0.0.0.0", "--port", str(port))]
    env = {k: v for k, v in server_env().items() if k != "PODIUM_MCP_TOKEN"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, proc)
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("token")
        token = line.rsplit(" ", 1)[-1].strip()
        assert len(token) >= 32
        url = f"http://127.0.0.1:{port}/mcp"
        assert httpx.post(url, json={}).status_code == 401
        assert httpx.post(url, json={}, headers={"authorization": f"Bearer {token}"}).status_code != 401
    finally:
        proc.terminate()
        proc.wait(10)


def test_http_app_refuses_to_listen_elsewhere_without_a_token() -> None:
    from podium.exceptions import UserError
    from podium.mcp.server import ToolServer
    from podium.mcp.serving import http_app, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")
    with pytest.raises(UserError, match="token is required"):
        http_app(ToolServer(serve_tools.tools), host="0.0.0.0", port=1)


def test_a_call_the_client_cancels_stops_the_sandboxed_command(workspace: Path) -> None:
    async def main() -> str:
        async with sdk_stdio(workspace, "--yes") as client:
            with pytest.raises(MCPError, match=r"(?i)time"):
                await client.call_tool("run_shell", {"command": "sleep 2; touch late.txt"}, read_timeout_seconds=0.5)
            await asyncio.sleep(2.5)  # the command would have finished by now
            after = await client.call_tool("read_file", {"path": "notes.txt"})
            return text_of(after)

    assert "hello" in asyncio.run(main())  # the server still serves
    assert not (workspace / "late.txt").exists()


def test_a_served_agent_keeps_its_sandbox_and_policy(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    calls = [
        {"name": "read_file", "args": {"path": "notes.txt"}},
        {"name": "write_file", "args": {"path": str(workspace.parent / "out.txt"), "content": "x"}},
        {"name": "run_shell", "args": {"command": "touch ran.txt"}},
    ]
    script.write_text(json.dumps([{"calls": calls}, "finished the task"]))

    async def main() -> tuple[types.CallToolResult, types.CallToolResult]:
        async with sdk_stdio(workspace, "--agent", "--model", f"test:scripted:{script}") as client:
            first = await client.call_tool("agent", {"task": "do it"})
            second = await client.call_tool("agent", {"task": "again"})  # the script is used up: the run fails
            return first, second

    first, second = asyncio.run(main())
    assert not first.is_error and text_of(first) == "finished the task"
    assert not (workspace.parent / "out.txt").exists() and not (workspace / "ran.txt").exists()
    assert second.is_error and text_of(second)


@pytest.mark.parametrize("http_server", [["--host", "0.0.0.0", "--token", "agent-token"]], indirect=True)
def test_podium_agent_uses_a_podium_http_server_with_a_token(workspace: Path, http_server: tuple[str, Any]) -> None:
    url = http_server[0]
    model = ScriptedModel([[call("read_file", {"path": "notes.txt"}), call("boom", {"reason": "y"})], "ok"])
    with MCPServer.http(url, headers={"Authorization": "Bearer agent-token"}, name="podium") as server:
        result = Agent(model, tools=[server]).run("look")
    results = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
    assert [r.is_error for r in results] == [False, True]
    assert "hello from the workspace" in "".join(p.text for p in results[0].content if isinstance(p, Text))
    refused = MCPServer.http(url, headers={"Authorization": "Bearer wrong"}, name="podium")
    try:
        with pytest.raises(ServerUnavailable):
            refused.get_tools()
    finally:
        refused.close()
