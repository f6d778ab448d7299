"""The MCP client against a real server written with the SDK's server API, over stdio and streamable HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, CancelToken
from podium.exceptions import RunCancelled
from podium.mcp import MCPServer, ProgressUpdate
from podium.messages import File, Image, Text
from podium.testing import ScriptedModel, call
from tests.mcp.conftest import APP, free_port, stdio_server, wait_for_port


def tool(server: MCPServer, name: str) -> Any:
    return next(t for t in server.get_tools() if t.name == name)


def texts(result: Any) -> str:
    return "\n".join(p.text for p in result.content if isinstance(p, Text))


def test_schemas_are_passed_through_whole(server: MCPServer) -> None:
    add = tool(server, "add").definition.parameters
    assert add["properties"]["b"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    place = tool(server, "place").definition.parameters
    assert place["properties"]["order"] == {"$ref": "#/$defs/Order"}
    assert place["$defs"]["Order"]["properties"]["ship_to"]["anyOf"][0] == {"$ref": "#/$defs/Address"}
    assert place["properties"]["priority"]["anyOf"][0]["enum"] == ["low", "high"]


def test_nullable_and_nested_arguments_reach_the_server(server: MCPServer) -> None:
    assert texts(server.call_tool("add", {"a": 2, "b": None})) == "2"
    args = {"order": {"item": "pen", "quantity": 3, "ship_to": {"street": "Main", "city": "Oslo"}}, "priority": 2}
    result = server.call_tool("place", args)
    assert not result.is_error
    assert texts(result) == "3 x pen to Oslo, priority 2, 0 notes"
    assert result.provider_details == {"mcp_structured_content": {"result": texts(result)}}


def test_image_audio_and_embedded_resources_become_parts(server: MCPServer) -> None:
    picture = server.call_tool("picture")
    assert isinstance(picture.content[0], Text) and picture.content[0].text == "a red dot"
    image = picture.content[1]
    assert isinstance(image, Image) and image.media_type == "image/png" and image.data is not None
    assert image.data.startswith(b"\x89PNG")
    audio, pdf = server.call_tool("media").content
    assert isinstance(audio, File) and audio.media_type == "audio/wav" and audio.data == b"RIFF\x24\x00\x00\x00WAVEfmt "
    assert isinstance(pdf, File) and pdf.media_type == "application/pdf" and pdf.filename == "report.pdf"
    assert pdf.data == b"%PDF-1.4"


def test_error_flag_becomes_an_error_result(server: MCPServer) -> None:
    result = server.call_tool("fail", {"reason": "because"})
    assert result.is_error
    assert "failed on purpose: because" in texts(result)


def test_unknown_tool_is_an_error_result_not_an_exception(server: MCPServer) -> None:
    result = server.call_tool("no_such_tool", {})
    assert result.is_error
    assert "no_such_tool" in texts(result)


def test_resources_and_prompts_as_methods(server: MCPServer) -> None:
    assert {r.name for r in server.list_resources()} == {"greeting", "pixel"}
    [text] = server.read_resource("data://greeting")
    assert isinstance(text, Text) and text.text.endswith("hello from the resource")
    [pixel] = server.read_resource("data://pixel")
    assert isinstance(pixel, Image) and pixel.media_type == "image/png"
    [prompt] = server.list_prompts()
    assert prompt.name == "review" and prompt.arguments[0].name == "code"
    [message] = server.get_prompt("review", {"code": "x = 1"})
    assert message.role == "user" and "x = 1" in message.parts[0].text  # type: ignore[union-attr]


def test_progress_notifications_reach_the_callback(server: MCPServer, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[ProgressUpdate] = []
    server.on_progress = seen.append
    try:
        with caplog.at_level("INFO", logger="podium.mcp"):
            result = server.call_tool("slow", {"seconds": 0.3, "tag": f"progress-{server.config.transport}"})
    finally:
        server.on_progress = None
    assert texts(result) == "slept 0.3"
    assert [u.progress for u in seen] == [1, 2, 3]
    assert all(u.total == 3 and u.tool == "slow" and u.server == "app" for u in seen)
    assert seen[-1].message == "step 3"
    assert "progress 3/3 step 3" in caplog.text


def test_arguments_are_checked_against_the_schema_before_sending(server: MCPServer) -> None:
    model = ScriptedModel([[call("place", {"order": {"quantity": "many"}})], "done"])
    result = Agent(model, tools=[server]).run("go")
    [tool_result] = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
    assert tool_result.is_error
    text = texts(tool_result)
    assert "Invalid arguments" in text and "'item' is a required property" in text
    assert "order.quantity" in text


def test_allow_deny_and_prefix(marks: Path) -> None:
    with stdio_server(marks, prefix="a", allow=["add", "pla*", "fail"], deny=["fail"]) as srv:
        assert sorted(t.name for t in srv.get_tools()) == ["a_add", "a_place"]


def test_two_servers_with_the_same_tools_need_prefixes(marks: Path, http_url: str) -> None:
    from podium.exceptions import UserError

    one, two = stdio_server(marks), MCPServer.http(http_url, name="app2")
    try:
        model = ScriptedModel(["hi"])
        with pytest.raises(UserError, match="two tools are named 'add'"):
            Agent(model, tools=[one, two]).run("go")
        one.prefix, two.prefix = "one", "two"
        one._tools = two._tools = None  # prefixes are read when tools are listed
        model = ScriptedModel([[call("one_add", {"a": 1}), call("two_add", {"a": 2, "b": 3})], "done"])
        result = Agent(model, tools=[one, two]).run("go")
        outputs = [texts(p) for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
        assert outputs == ["1", "5"]
    finally:
        one.close()
        two.close()


def test_list_changed_is_honoured_at_the_next_run(marks: Path) -> None:
    with stdio_server(marks) as srv:
        before = {t.name for t in srv.get_tools()}
        model = ScriptedModel([[call("grow", {"name": "fresh"})], "grown", [call("fresh", {})], "used it"])
        agent = Agent(model, tools=[srv])
        agent.run("grow a tool")
        deadline = time.monotonic() + 5
        while srv.list_changes == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.list_changes == 1
        second = agent.run("use it")
        assert {t.name for t in srv.get_tools()} == before | {"fresh"}
        results = [p for m in second.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
        assert texts(results[-1]) == "I am fresh" and not results[-1].is_error


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_agent_runs_a_scripted_model_calling_mcp_tools_end_to_end(server: MCPServer, driver: str) -> None:
    model = ScriptedModel([[call("add", {"a": 40, "b": 2}), call("picture", {}), call("fail", {"reason": "x"})], "42"])
    agent = Agent(model, tools=[server])
    result = agent.run("add") if driver == "sync" else asyncio.run(agent.arun("add"))
    assert result.output == "42"
    results = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
    assert [r.name for r in results] == ["add", "picture", "fail"]
    assert texts(results[0]) == "42" and not results[0].is_error
    assert any(isinstance(p, Image) for p in results[1].content)
    assert results[2].is_error and "failed on purpose" in texts(results[2])
    # what the model received in its second request: the same results
    sent = [p for m in model.requests[1][0] for p in m.parts if getattr(p, "type", "") == "tool_result"]
    assert [r.is_error for r in sent] == [False, False, True]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_timeout_is_an_error_result_and_cancels_on_the_server(marks: Path, driver: str) -> None:
    tag = f"timeout-{driver}"
    with stdio_server(marks, timeout=0.5) as srv:
        model = ScriptedModel([[call("slow", {"seconds": 30, "tag": tag})], "gave up"])
        agent = Agent(model, tools=[srv])
        started = time.monotonic()
        result = agent.run("wait") if driver == "sync" else asyncio.run(agent.arun("wait"))
        assert time.monotonic() - started < 10
        [res] = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
        assert res.is_error and "0.5 s timeout" in texts(res)
        wait_for(marks / f"cancelled-{tag}")
        assert texts(srv.call_tool("add", {"a": 1})) == "1"  # the session is still good


def wait_for(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_cancelling_the_run_cancels_the_call_on_the_server(server: MCPServer, marks: Path, driver: str) -> None:
    tag = f"cancel-{driver}-{server.config.transport}"
    model = ScriptedModel([[call("slow", {"seconds": 30, "tag": tag})], "never"])
    agent = Agent(model, tools=[server])
    token = CancelToken()

    def cancel_when_started() -> None:
        wait_for(marks / f"started-{tag}")
        token.cancel("stop")

    threading.Thread(target=cancel_when_started, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(RunCancelled) as info:
        if driver == "sync":
            agent.run("wait", cancel=token)
        else:
            asyncio.run(agent.arun("wait", cancel=token))
    assert time.monotonic() - started < 10
    [res] = [p for m in info.value.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
    assert res.interrupted
    wait_for(marks / f"cancelled-{tag}")


def test_a_server_killed_mid_call_gives_an_error_result_then_reconnects(marks: Path) -> None:
    import os
    import signal

    with stdio_server(marks) as srv:
        first_pid = int(texts(srv.call_tool("pid")))
        assert srv.generation == 1
        box: list[Any] = []
        worker = threading.Thread(target=lambda: box.append(srv.call_tool("slow", {"seconds": 30, "tag": "kill"})))
        worker.start()
        wait_for(marks / "started-kill")
        os.kill(first_pid, signal.SIGKILL)
        worker.join(15)
        assert not worker.is_alive()
        [result] = box
        assert result.is_error
        assert "went away during the request" in texts(result) and "next call starts the server again" in texts(result)
        second_pid = int(texts(srv.call_tool("pid")))
        assert second_pid != first_pid and srv.generation == 2
        assert not _alive(first_pid)


def test_a_server_that_exits_during_a_call_in_an_agent_run(marks: Path) -> None:
    with stdio_server(marks) as srv:
        model = ScriptedModel([[call("die", {})], [call("add", {"a": 5})], "ok"])
        result = Agent(model, tools=[srv]).run("go")
        results = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
        assert results[0].is_error and "went away" in texts(results[0])
        assert not results[1].is_error and texts(results[1]) == "5"


def _alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_close_leaves_no_child_process(marks: Path) -> None:
    srv = stdio_server(marks)
    pid = int(texts(srv.call_tool("pid")))
    assert _alive(pid)
    srv.close()
    assert not _alive(pid)
    srv.close()  # idempotent


def test_async_with_and_an_unreachable_server() -> None:
    from podium.mcp import ServerUnavailable

    async def main() -> None:
        async with MCPServer.stdio("/bin/sh", ["-c", "echo starting up >&2; exit 7"], connect_timeout=10) as srv:
            srv.list_tools()

    with pytest.raises(ServerUnavailable) as info:
        asyncio.run(main())
    assert "cannot connect to MCP server 'sh'" in str(info.value)
    assert "starting up" in str(info.value)  # its stderr


def test_an_unreachable_server_in_a_run_is_an_error_result_for_calls(marks: Path) -> None:
    srv = MCPServer.http("http://127.0.0.1:9/mcp", name="nowhere", connect_timeout=5)
    result = asyncio.run(srv.acall_tool("add", {"a": 1}))
    assert result.is_error and "cannot connect to MCP server 'nowhere'" in texts(result)
    srv.close()


def test_approval_policy_and_hooks_see_mcp_tools(server: MCPServer) -> None:
    from podium.agent.approval import ApprovalPolicy, Rule
    from podium.agent.hooks import AgentHooks

    calls: list[str] = []

    class Spy(AgentHooks):
        def before_tool_call(self, ctx: Any, call: Any) -> Any:
            if call.name == "add":  # a hook rewrites the arguments of an MCP call
                return dataclasses.replace(call, args={"a": 10})
            return None

        def after_tool_call(self, ctx: Any, call: Any, result: Any) -> None:
            calls.append(call.name)

    policy = ApprovalPolicy([Rule("deny", tool="fail", reason="no failing")], default="allow")
    model = ScriptedModel([[call("fail", {"reason": "x"}), call("add", {"a": 1})], "done"])
    result = Agent(model, tools=[server], policy=policy, hooks=[Spy()]).run("go")
    results = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
    assert results[0].is_error and "no failing" in texts(results[0])
    assert texts(results[1]) == "10"
    assert "add" in calls and "fail" not in calls


def test_resources_and_prompts_as_tools(marks: Path) -> None:
    with stdio_server(marks, resources_as_tools=True, prompts_as_tools=True, prefix="app") as srv:
        names = {t.name for t in srv.get_tools()}
        assert {"app_list_resources", "app_read_resource", "app_list_prompts", "app_get_prompt"} <= names
        model = ScriptedModel(
            [
                [
                    call("app_list_resources", {}),
                    call("app_read_resource", {"uri": "data://pixel"}),
                    call("app_get_prompt", {"name": "review", "arguments": {"code": "y = 2"}}),
                ],
                "done",
            ]
        )
        result = Agent(model, tools=[srv]).run("go")
        listed, pixel, prompt = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
        assert "uri: data://greeting" in texts(listed)
        assert isinstance(pixel.content[0], Image)
        assert texts(prompt).startswith("user: Please review") and "y = 2" in texts(prompt)


def test_tool_names_are_fitted_for_providers(marks: Path) -> None:
    """Names with characters providers refuse, too long, or equal after fitting, still call the right tool."""
    from podium.mcp.client import _fit_names
    from podium.tools.tool import Tool

    def t(name: str) -> Tool[..., Any]:
        return Tool(lambda: None, name=name)

    names = [x.name for x in _fit_names([t("a.b"), t("a_b"), t("x" * 80), t("ok-name")], "srv")]
    assert names == ["srv_a_b", "srv_a_b_2", "srv_" + "x" * 60, "srv_ok-name"]
    with stdio_server(marks) as srv:
        srv.call_tool("grow", {"name": "files/read.all"})  # a name no provider takes
        deadline = time.monotonic() + 5
        while "files_read_all" not in {x.name for x in srv.get_tools()}:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        model = ScriptedModel([[call("files_read_all", {})], "done"])
        result = Agent(model, tools=[srv]).run("go")
        [res] = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
        assert texts(res) == "I am files/read.all"


def test_list_changed_is_honoured_between_requests_of_one_run(marks: Path) -> None:
    """The tool a call adds is offered (and callable) at the run's very next request."""
    with stdio_server(marks) as srv:
        srv.get_tools()
        model = ScriptedModel([[call("grow", {"name": "midrun"})], [call("midrun", {})], "done"])
        result = Agent(model, tools=[srv]).run("go")
        offered = [{t.name for t in info.tools} for _, info in model.requests]
        assert "midrun" not in offered[0] and "midrun" in offered[1]
        last = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"][-1]
        assert texts(last) == "I am midrun" and not last.is_error


def _start_http(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, str(APP), "http", str(port)], stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc


def test_an_http_server_that_restarts_is_reached_again() -> None:
    port = free_port()
    proc = _start_http(port)
    srv = MCPServer.http(f"http://127.0.0.1:{port}/mcp", name="restarting", connect_timeout=10)
    try:
        assert texts(srv.call_tool("add", {"a": 1})) == "1"
        proc.kill()
        proc.wait()
        proc = _start_http(port)  # a new process: it does not know the old session
        assert texts(srv.call_tool("add", {"a": 2})) == "2"  # a new session, the call sent again (it never ran)
        assert srv.generation == 2
        proc.kill()
        proc.wait()
        down = srv.call_tool("add", {"a": 3})
        assert down.is_error and ("went away" in texts(down) or "cannot connect" in texts(down))
        proc = _start_http(port)
        assert texts(srv.call_tool("add", {"a": 4})) == "4"
    finally:
        srv.close()
        proc.kill()
        proc.wait()


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_program_that_never_closes_its_server_leaves_no_child_at_exit() -> None:
    script = (
        "import sys\n"
        "from podium.mcp import MCPServer\n"
        f"s = MCPServer.stdio(sys.executable, [{str(APP)!r}, 'stdio'])\n"
        "print(s.call_tool('pid').content[0].text, flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert _gone(int(out.stdout.strip()))


def test_a_killed_program_leaves_no_stdio_server_behind() -> None:
    """SIGKILL skips every clean-up: the server sees its stdin close and exits."""
    script = (
        "import sys, time\n"
        "from podium.mcp import MCPServer\n"
        f"s = MCPServer.stdio(sys.executable, [{str(APP)!r}, 'stdio'])\n"
        "print(s.call_tool('pid').content[0].text, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pid = int(proc.stdout.readline())
    proc.kill()
    proc.wait()
    assert _gone(pid)


def test_a_server_that_never_answers_the_handshake_is_stopped_and_reported() -> None:
    from podium.mcp import ServerUnavailable

    srv = MCPServer.stdio("sleep", ["30"], connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match="did not finish the handshake within 1 s"):
        srv.get_tools()
    assert time.monotonic() - started < 8
    srv.close()
    leftovers = subprocess.run(["pgrep", "-f", "^sleep 30$", "-P", str(os.getpid())], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""


def test_parallel_calls_to_one_server_run_at_once(server: MCPServer) -> None:
    model = ScriptedModel(
        [[call("slow", {"seconds": 0.5, "tag": f"par{i}-{server.config.transport}"}) for i in range(4)], "ok"]
    )
    started = time.monotonic()
    result = Agent(model, tools=[server]).run("go")
    elapsed = time.monotonic() - started
    results = [p for m in result.messages for p in m.parts if getattr(p, "type", "") == "tool_result"]
    assert [texts(r) for r in results] == ["slept 0.5"] * 4
    assert elapsed < 1.6, elapsed  # 4 x 0.5 s one after the other would be 2 s


def test_a_schema_that_is_not_an_object_still_gives_a_valid_tool() -> None:
    from podium.mcp.convert import mcp_function_schema

    for odd in ({"type": "string"}, {}, {"properties": {"a": {"type": "integer"}}}):
        schema = mcp_function_schema("t", "", odd)
        assert schema.parameters["type"] == "object" and "properties" in schema.parameters


def test_progress_during_a_run_names_the_models_call(marks: Path) -> None:
    seen: list[ProgressUpdate] = []
    with stdio_server(marks, on_progress=seen.append) as srv:
        model = ScriptedModel([[call("slow", {"seconds": 0.2, "tag": "run-progress"}, id="call_7")], "ok"])
        Agent(model, tools=[srv]).run("go")
    assert [u.progress for u in seen] == [1, 2]
    assert {u.call_id for u in seen} == {"call_7"}


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_progress_notifications_are_run_events(server: MCPServer, driver: str) -> None:
    from podium.agent.events import ToolCallProgress

    tag = f"events-{driver}-{server.config.transport}"
    model = ScriptedModel([[call("slow", {"seconds": 0.3, "tag": tag}, id="s1")], "ok"])
    agent = Agent(model, tools=[server])
    if driver == "sync":
        events = list(agent.stream("go"))
    else:

        async def collect() -> list[Any]:
            return [e async for e in agent.astream("go")]

        events = asyncio.run(collect())
    kinds = [e.kind for e in events]
    progress = [e for e in events if isinstance(e, ToolCallProgress)]
    assert [(p.call.id, p.progress, p.total, p.message) for p in progress] == [
        ("s1", 1, 3, "step 1"),
        ("s1", 2, 3, "step 2"),
        ("s1", 3, 3, "step 3"),
    ]
    first, last = kinds.index("tool_call_progress"), len(kinds) - 1 - kinds[::-1].index("tool_call_progress")
    assert kinds.index("tool_call_started") < first and last < kinds.index("tool_call_finished")
