"""kill -9 of ``podium run`` during a tool call loses nothing committed and leaves a valid history."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.cli.conftest import PODIUM, podium, script


def test_kill_during_a_tool_call_then_continue(cli_env: dict[str, str], tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    first = script(
        tmp_path / "first.json",
        [{"text": "Let me wait.", "calls": [{"name": "run_shell", "args": {"command": "sleep 30"}}]}, "never"],
    )
    proc = subprocess.Popen(
        [*PODIUM, "run", "--model", first, "--tools", "-w", str(workspace), "--yes", "wait for it"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    seen = ""
    while "→ run_shell" not in seen:
        assert time.monotonic() < deadline, seen
        seen += proc.stderr.readline()
    time.sleep(0.5)  # the tool is running now
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    second = script(tmp_path / "second.json", ["The command was interrupted."])
    after = podium(["run", "--model", second, "--continue", "--json", "what happened?"], cli_env)
    assert after.returncode == 0, after.stderr
    doc = json.loads(after.stdout)
    messages = doc["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "user", "assistant"]
    assert messages[0]["parts"][0]["text"] == "wait for it"
    assert messages[1]["parts"][0]["text"] == "Let me wait."
    call = messages[1]["parts"][1]
    result = messages[2]["parts"][0]
    assert result["call_id"] == call["id"]
    assert result["interrupted"] is True
    assert result["is_error"] is True
    assert doc["output"] == "The command was interrupted."
