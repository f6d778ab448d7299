"""The official reference MCP servers from npm, run with Node: "everything" and "filesystem".

They are installed once into ``.cache/mcp-servers`` (``.ci/run`` does it; the ``npm_bin`` fixture does it
when they are missing). Without Node the tests skip with the reason; with ``PODIUM_REQUIRE_SYSTEM_TOOLS=1``
(CI) they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, CancelToken
from podium.exceptions import RunCancelled
from podium.mcp import MCPServer, ProgressUpdate
from podium.messages import Image, Text
from podium.testing import ScriptedModel, call

pytestmark = pytest.mark.requires("node")


def texts(result: Any) -> str:
    return "\n".join(p.text for p in result.content if isinstance(p, Text))


def tool_results(messages: Any) -> list[Any]:
    return [p for m in messages for p in m.parts if getattr(p, "type", "") == "tool_result"]


@pytest.fixture(scope="module")
def everything(npm_bin: Path) -> Iterator[MCPServer]:
    with MCPServer.stdio(str(npm_bin / "mcp-server-everything"), ["stdio"], name="everything") as srv:
        yield srv


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("the answer is 42\n")
    return tmp_path


def test_everything_tools_results_and_schemas(everything: MCPServer) -> None:
    tools = {t.name: t for t in everything.get_tools()}
    assert {"echo", "get-sum", "get-tiny-image", "trigger-long-running-operation"} <= set(tools)
    params = tools["get-annotated-message"].definition.parameters
    assert params["properties"]["messageType"]["enum"] == ["error", "success", "debug"]
    image = everything.call_tool("get-tiny-image")
    assert any(isinstance(p, Image) and p.media_type == "image/png" and p.data for p in image.content)
    structured = everything.call_tool("get-structured-content", {"location": "Chicago"})
    assert set(structured.provider_details["mcp_structured_content"]) >= {"temperature", "humidity"}  # type: ignore[index]
    links = everything.call_tool("get-resource-links", {"count": 2})
    assert texts(links).count("[resource link] uri: demo://") == 2
    embedded = everything.call_tool("get-resource-reference", {"resourceType": "Text", "resourceId": 1})
    assert "[resource demo://resource/dynamic/text/1" in texts(embedded)


def test_everything_error_result(everything: MCPServer) -> None:
    result = everything.call_tool("get-sum", {"a": "x", "b": 1})  # sent as is: the server refuses it
    assert result.is_error and "expected number" in texts(result)


def test_everything_resources_and_prompts(everything: MCPServer) -> None:
    resources = everything.list_resources()
    assert resources and all(r.uri.startswith("demo://") for r in resources)
    [part] = everything.read_resource(resources[0].uri)
    assert isinstance(part, Text) and len(part.text) > 20
    assert {"simple-prompt", "args-prompt"} <= {p.name for p in everything.list_prompts()}
    [message] = everything.get_prompt("args-prompt", {"city": "Paris"})
    assert "Paris" in message.parts[0].text  # type: ignore[union-attr]


def test_everything_progress(everything: MCPServer) -> None:
    seen: list[ProgressUpdate] = []
    everything.on_progress = seen.append
    try:
        result = everything.call_tool("trigger-long-running-operation", {"duration": 0.4, "steps": 2})
    finally:
        everything.on_progress = None
    assert not result.is_error
    assert [u.progress for u in seen] == [1, 2] and seen[0].total == 2


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_everything_slow_call_cancelled(everything: MCPServer, driver: str) -> None:
    model = ScriptedModel([[call("trigger-long-running-operation", {"duration": 30, "steps": 30})], "never"])
    token = CancelToken()
    everything.on_progress = lambda update: token.cancel("enough")  # cancel once it is running
    agent = Agent(model, tools=[everything])
    started = time.monotonic()
    try:
        with pytest.raises(RunCancelled) as info:
            agent.run("go", cancel=token) if driver == "sync" else asyncio.run(agent.arun("go", cancel=token))
    finally:
        everything.on_progress = None
    assert time.monotonic() - started < 10
    assert tool_results(info.value.messages)[0].interrupted
    assert everything.call_tool("echo", {"message": "still here"}).content[0].text == "Echo: still here"  # type: ignore[union-attr]


def test_filesystem_server_in_an_agent_run(npm_bin: Path, workspace: Path) -> None:
    fs = MCPServer.stdio(str(npm_bin / "mcp-server-filesystem"), [str(workspace)], name="fs", prefix="fs")
    try:
        model = ScriptedModel(
            [
                [
                    call("fs_read_text_file", {"path": str(workspace / "notes.txt")}),
                    call("fs_write_file", {"path": str(workspace / "out.txt"), "content": "written"}),
                    call("fs_read_text_file", {"path": "/etc/hostname"}),
                ],
                "done",
            ]
        )
        result = Agent(model, tools=[fs]).run("read the notes")
        read, write, outside = tool_results(result.messages)
        assert texts(read) == "the answer is 42\n" and not read.is_error
        assert not write.is_error and (workspace / "out.txt").read_text() == "written"
        assert outside.is_error and "Access denied" in texts(outside)
    finally:
        fs.close()


def test_filesystem_server_killed_between_calls_is_started_again(npm_bin: Path, workspace: Path) -> None:
    """(A kill during a call is covered with the SDK server in test_client.py, whose tools can be slow.)"""
    import signal

    before = set(_children())
    with MCPServer.stdio(str(npm_bin / "mcp-server-filesystem"), [str(workspace)], name="fs") as fs:
        assert "notes.txt" in texts(fs.call_tool("list_directory", {"path": str(workspace)}))
        [pid] = set(_children()) - before
        os.kill(pid, signal.SIGKILL)
        first = fs.call_tool("list_directory", {"path": str(workspace)})
        # the death is seen either before the request (a new session answers) or during it (an error result)
        assert not first.is_error or "went away during the request" in texts(first)
        again = fs.call_tool("list_directory", {"path": str(workspace)})
        assert not again.is_error and "notes.txt" in texts(again)
        assert fs.generation == 2
        [new_pid] = set(_children()) - before
        assert new_pid != pid
    assert set(_children()) == before  # no child left behind


def _children() -> list[int]:
    """Live (non-zombie) child processes of this process."""
    me = os.getpid()
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() == str(me) and not fields.get("State", "").startswith("Z"):
            out.append(int(fields["Pid"]))
    return out
