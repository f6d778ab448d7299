"""An MCP server's lifetime: tied to the run that started it, or kept (``with``, ``keep()``, ``connect()``)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from podium import Agent
from podium.messages import Image, Text, ToolCall, ToolResult
from podium.testing import ScriptedModel, call
from tests.mcp.conftest import stdio_server


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): look at its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def pid_run(agent: Agent) -> int:
    result = agent.run("which process?")
    return int(next(r for m in result.messages for r in m.tool_results).text.strip())


def agent_for(server: object) -> Agent:
    return Agent(ScriptedModel([[call("pid")], "done", [call("pid")], "done"]), tools=[server])


def test_a_server_a_run_started_stops_when_the_run_ends_and_the_next_run_starts_it_again(marks: Path) -> None:
    server = stdio_server(marks)
    agent = agent_for(server)
    first = pid_run(agent)
    assert gone(first), "the server the run started is still running after the run"
    second = pid_run(agent)
    assert second != first and gone(second)
    assert server.generation == 2
    server.close()


def test_a_failed_run_also_stops_its_server(marks: Path) -> None:
    server = stdio_server(marks)
    agent = Agent(ScriptedModel([[call("pid")]]), tools=[server])  # the script ends: the run fails
    stream = agent.stream("go")
    pids = []
    try:
        for event in stream:
            if event.kind == "tool_call_finished":
                pids.append(int(event.result.text.strip()))  # type: ignore[union-attr]
    except Exception:
        pass
    assert pids and gone(pids[0])
    server.close()


def test_a_kept_server_lives_across_runs_until_closed(marks: Path) -> None:
    for keep in ("with", "keep"):
        server = stdio_server(marks)
        if keep == "with":
            with server:
                agent = agent_for(server)
                first, second = pid_run(agent), pid_run(agent)
                assert first == second and alive(first)
            assert gone(first)
        else:
            agent = agent_for(server.keep())
            first, second = pid_run(agent), pid_run(agent)
            assert first == second and alive(first)
            server.close()
            assert gone(first)


def test_the_async_driver_stops_the_server_at_the_end_of_the_run(marks: Path) -> None:
    server = stdio_server(marks)
    agent = agent_for(server)

    async def go() -> int:
        result = await agent.arun("which process?")
        return int(next(r for m in result.messages for r in m.tool_results).text.strip())

    pid = asyncio.run(go())
    assert gone(pid)
    server.close()


def test_a_result_with_huge_or_countless_parts_is_capped_in_all() -> None:
    """A server's result keeps its parts, but not more text than the tool's output limit, nor endless media."""
    from podium.tools.context import RunContext
    from podium.tools.executor import MAX_MEDIA_PARTS, ToolInvocation, run_sync
    from podium.tools.tool import Tool

    png = Image(data=b"\x89PNG", media_type="image/png")

    def flood() -> ToolResult:
        parts = [Text("x" * 50_000) for _ in range(100)] + [png] * 100
        return ToolResult("", "", tuple(parts), is_error=True)

    tool = Tool(flood, max_output=10_000)
    call_ = ToolCall("c1", tool.name, {})
    ctx = RunContext(deps=None, run_id="r", step=1)
    outcome = run_sync(ToolInvocation(tool, call_, ctx.for_call(call_, 0)), 100_000)
    texts = [p for p in outcome.result.content if isinstance(p, Text)]
    assert sum(len(t.text) for t in texts) < 10_000 + 200
    assert sum(isinstance(p, Image) for p in outcome.result.content) == MAX_MEDIA_PARTS
    assert "more part(s) of this result cut" in texts[-1].text
    assert outcome.result.is_error and outcome.result.call_id == "c1"
