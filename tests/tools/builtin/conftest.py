from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from podium.messages import Text, ToolCall, ToolResult
from podium.tools.builtin import WorkspaceToolset, workspace_tools
from podium.tools.context import RunContext
from podium.tools.executor import ToolInvocation, run_sync
from podium.tools.sandbox import Limits, SandboxPolicy

SMALL = Limits(wall_seconds=20, cpu_seconds=10, memory_mb=512, max_processes=24, kill_grace=0.5)


@dataclass
class Env:
    ws: Path
    outside: Path
    secret: Path
    tools: WorkspaceToolset

    def call(self, name: str, agent: str = "a", messages: tuple[Any, ...] = (), **args: Any) -> ToolResult:
        return self.call_with(self.tools, name, agent, messages, **args)

    def call_with(
        self, tools: WorkspaceToolset, name: str, agent: str = "a", messages: tuple[Any, ...] = (), **args: Any
    ) -> ToolResult:
        ctx = RunContext(deps=None, run_id="r", step=1, agent_name=agent, messages=messages)
        call = ToolCall(f"c-{name}", name, args)
        return run_sync(ToolInvocation(tools.tool(name), call, ctx.for_call(call, 0))).result


def text(result: ToolResult) -> str:
    return "".join(p.text for p in result.content if isinstance(p, Text))


@pytest.fixture
def env(tmp_path: Path) -> Env:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "ws2").mkdir()
    (tmp_path / "ws2" / "secret.txt").write_text("sibling secret\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("outside secret\n")
    tools = workspace_tools(ws, SandboxPolicy(limits=SMALL), persistent_shell=True)
    yield Env(ws, outside, secret, tools)
    tools.close()
