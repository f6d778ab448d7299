"""Cancelling a run kills the sandboxed command of a shell call it abandons (real sandbox, both back-ends)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, CancelToken
from podium.exceptions import RunCancelled
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.tools.builtin import workspace_tools
from podium.tools.sandbox import Limits, SandboxPolicy
from podium.tools.sandbox.result import SandboxResult

LIMITS = Limits(wall_seconds=120, cpu_seconds=10, memory_mb=512, max_processes=24, kill_grace=0.5)


def wait_for(path: Path, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("backend", ["bubblewrap", "process"])
@pytest.mark.parametrize("persistent", [False, True], ids=["oneshot", "session"])
def test_cancel_kills_the_command_of_an_abandoned_shell_call(tmp_path: Path, backend: str, persistent: bool) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    tools = workspace_tools(ws, SandboxPolicy(limits=LIMITS, backend=backend), persistent_shell=persistent)
    ended = threading.Event()
    results: list[SandboxResult] = []
    original = tools.sandbox.run

    def recording_run(*args: Any, **kwargs: Any) -> SandboxResult:
        try:
            results.append(original(*args, **kwargs))
            return results[-1]
        finally:
            ended.set()

    tools.sandbox.run = recording_run  # type: ignore[method-assign]
    token = CancelToken()

    def cancel_once_started() -> None:
        if wait_for(ws / "started"):
            token.cancel()

    threading.Thread(target=cancel_once_started, daemon=True).start()
    command = "touch started; sleep 100; touch finished"
    model = ScriptedModel([[call("run_shell", {"command": command})], "never"])
    try:
        with pytest.raises(RunCancelled) as info:
            Agent(model, tools=[tools]).run("go", cancel=token)
        assert info.value.messages[-1].tool_results[0].interrupted
        assert ended.wait(20), "the sandboxed command kept running after the run was cancelled"
        [result] = results
        assert result.killed_by == "cancelled" and result.wall_time < 100
        assert not (ws / "finished").exists()
    finally:
        tools.close()
