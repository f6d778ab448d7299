"""A persistent shell session does not let one call change what a later call runs (real sandbox)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.messages import Text, ToolCall
from podium.tools.builtin import WorkspaceToolset, workspace_tools
from podium.tools.builtin.shell import SESSION_DROPPED_VARIABLES
from podium.tools.context import RunContext
from podium.tools.executor import ToolInvocation, run_sync
from podium.tools.sandbox import Limits, SandboxPolicy

SMALL = Limits(wall_seconds=20, cpu_seconds=10, memory_mb=512, max_processes=24, kill_grace=0.5)


@pytest.fixture
def tools(tmp_path: Path) -> Iterator[WorkspaceToolset]:
    ws = tmp_path / "ws"
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / "sub").mkdir()
    toolset = workspace_tools(ws, SandboxPolicy(limits=SMALL), persistent_shell=True)
    yield toolset
    toolset.close()


def shell(tools: WorkspaceToolset, command: str, **args: Any) -> str:
    ctx = RunContext(deps=None, run_id="r", step=1, agent_name="agent", agent_id="a1")
    call = ToolCall("c", "run_shell", {"command": command, **args})
    result = run_sync(ToolInvocation(tools.tool("run_shell"), call, ctx.for_call(call, 0))).result
    return "".join(p.text for p in result.content if isinstance(p, Text))


@pytest.mark.requires("bwrap")
def test_the_sandbox_is_real(tools: WorkspaceToolset) -> None:
    assert type(tools.sandbox).__name__ == "BubblewrapSandbox"


def test_loader_and_lookup_variables_do_not_carry_to_the_next_call(tools: WorkspaceToolset) -> None:
    (tools.workspace.root / "evil").mkdir()
    (tools.workspace.root / "evil" / "ls").write_text("#!/bin/sh\necho PWNED\n")
    (tools.workspace.root / "evil" / "ls").chmod(0o755)
    shell(
        tools,
        "export PATH=$PWD/evil:$PATH LD_PRELOAD=/nonexistent.so BASH_ENV=$PWD/x.sh ENV=$PWD/x.sh IFS=x "
        "PROMPT_COMMAND='echo PWNED' GIT_CONFIG_COUNT=1 PYTHONPATH=$PWD/evil GREETING=hi",
    )
    out = shell(
        tools,
        'ls -d sub; echo "[${LD_PRELOAD-unset}|${BASH_ENV-unset}|${GIT_CONFIG_COUNT-unset}|'
        '${PYTHONPATH-unset}|${GREETING}]"; case $PATH in *evil*) echo PATH-CARRIED;; esac',
    )
    assert "PWNED" not in out
    assert "PATH-CARRIED" not in out
    assert "sub\n[unset|unset|unset|unset|hi]" in out


def test_the_saved_state_is_data_not_code(tools: WorkspaceToolset) -> None:
    shell(tools, "export SAFE=ok")
    ctx = RunContext(deps=None, run_id="r", step=1, agent_name="agent", agent_id="a1")
    state = Path(tools.sessions.directory(tools.state.key(ctx)))
    (state / "env").write_bytes(b"X=$(touch pwned1)\0a[$(touch pwned2)]=1\0" + b"`touch pwned3`=1\0SAFE=still\0")
    out = shell(tools, 'echo "[$X|$SAFE]"')
    assert "[$(touch pwned1)|still]" in out
    assert not list(tools.workspace.root.glob("pwned*"))


def test_a_session_never_resumes_inside_a_protected_directory(tools: WorkspaceToolset) -> None:
    shell(tools, "cd sub")
    assert shell(tools, "pwd").startswith(str(tools.workspace.root / "sub"))
    shell(tools, "cd ../.git/hooks")
    out = shell(tools, "pwd; echo x > pre-commit")
    assert "not returning to the protected directory ./.git/hooks" in out
    assert out.startswith(str(tools.workspace.root) + "\n")
    assert not (tools.workspace.root / ".git" / "hooks" / "pre-commit").exists()
    assert (tools.workspace.root / "pre-commit").exists()


@pytest.mark.parametrize(
    ("name", "dropped"),
    [
        ("PATH", True),
        ("LD_PRELOAD", True),
        ("LD_LIBRARY_PATH", True),
        ("BASH_ENV", True),
        ("BASH_FUNC_ls%%", True),
        ("ENV", True),
        ("IFS", True),
        ("SHELLOPTS", True),
        ("BASHOPTS", True),
        ("PS4", True),
        ("PROMPT_COMMAND", True),
        ("GIT_SSH_COMMAND", True),
        ("PYTHONSTARTUP", True),
        ("NODE_OPTIONS", True),
        ("PERL5LIB", True),
        ("GLOBIGNORE", True),
        ("CDPATH", True),
        ("HOME", True),
        ("GREETING", False),
        ("VIRTUAL_ENV_PROMPT", False),
        ("CI", False),
    ],
)
def test_the_dropped_list(name: str, dropped: bool) -> None:
    assert any(fnmatch.fnmatchcase(name, p) for p in SESSION_DROPPED_VARIABLES) == dropped
