"""Signals to ``podium`` and to what it runs: a clear line, exit 128+N, a saved conversation, no traceback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.conftest import PODIUM, podium, script


def _wait_for(stream: object, text: str, timeout: float = 60) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, seen
        line = stream.readline()  # type: ignore[attr-defined]
        assert line, seen
        seen += line
    return seen


def _default_signals() -> None:
    """In the child: SIGTERM and SIGHUP at their defaults, whatever this test run inherited (nohup, CI runners)."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _no_processes(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_run_terminated_during_a_tool_call(cli_env: dict[str, str], tmp_path: Path, signum: int) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    marker = f"sleep {40 + signum}.5"  # a command line no other test runs
    shell = {"name": "run_shell", "args": {"command": marker}}
    model = script(tmp_path / "s.json", [{"text": "wait", "calls": [shell]}])
    proc = subprocess.Popen(
        [*PODIUM, "run", "--model", model, "--tools", "-w", str(workspace), "--yes", "go"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )
    seen = _wait_for(proc.stderr, "→ run_shell")
    time.sleep(0.5)
    started = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum
    assert time.monotonic() - started < 10  # the tool does not keep it alive for 40 s
    name = signal.Signals(signum).name
    assert "Traceback" not in seen + err
    # the cancel reaches the tool call at once (its sandboxed command is killed), so the turn stops and is saved
    # within the grace period instead of being interrupted after it
    assert err.strip().splitlines()[-1] == f"podium: terminated by {name}; the run was stopped and saved"
    assert _no_processes(marker)  # the sandboxed command died with it
    after = podium(["run", "--model", "test:echo", "-c", "--json", "what happened?"], cli_env)
    doc = json.loads(after.stdout)
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant", "tool", "user", "assistant"]
    assert doc["messages"][2]["parts"][0]["interrupted"] is True


def test_chat_terminated_at_the_prompt_and_during_a_turn(cli_env: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*PODIUM, "chat", "--model", "test:echo"],
        env=cli_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )
    assert proc.stdin is not None
    proc.stdin.write("hello\n")
    proc.stdin.flush()
    _wait_for(proc.stdout, "hello")
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)  # waiting for the next line
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert "Traceback" not in err and err.strip() == "podium: terminated by SIGTERM; stopped"

    shell = {"name": "run_shell", "args": {"command": "sleep 47.5"}}
    slow = script(tmp_path / "slow.json", [{"text": "ok", "calls": [shell]}])
    proc = subprocess.Popen(
        [*PODIUM, "chat", "--model", slow, "--tools", "-w", str(tmp_path), "--yes"],
        env=cli_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    _wait_for(proc.stdout, "→ run_shell")
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 129
    assert "Traceback" not in out + err and "terminated by SIGHUP" in err
    assert _no_processes("sleep 47.5")


def test_nohup_keeps_podium_alive(cli_env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [*PODIUM, "chat", "--model", "test:echo"],
        env=cli_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # what nohup does
    )
    assert proc.stdin is not None
    proc.stdin.write("one\n")
    proc.stdin.flush()
    _wait_for(proc.stdout, "one")
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate("two\n", timeout=30)
    assert proc.returncode == 0 and "two" in out, err


@pytest.mark.parametrize("backend", ["process", "bubblewrap"])
def test_sandbox_run_terminated(cli_env: dict[str, str], tmp_path: Path, backend: str) -> None:
    import shutil

    if backend == "bubblewrap" and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    marker = f"sleep 4{len(backend)}.25"
    proc = subprocess.Popen(
        [*PODIUM, "sandbox", "run", "-w", str(tmp_path), "--backend", backend, "--", *marker.split()],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )
    deadline = time.monotonic() + 30
    while _no_processes(f"^{marker}"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert "Traceback" not in err and err.strip() == "podium: terminated by SIGTERM; stopped"
    time.sleep(0.2)
    assert _no_processes(f"^{marker}")  # the process back-end's command used to be left running


# A traceback of the launcher would race with the end of output capture: 3 tries each.


def test_a_command_killed_by_sigkill_prints_no_traceback(cli_env: dict[str, str], tmp_path: Path) -> None:
    for _ in range(3):
        done = podium(["sandbox", "run", "-w", str(tmp_path), "--", "sh -c 'kill -9 $$'"], cli_env)
        assert done.returncode == 128 + signal.SIGKILL
        assert "killed by signal SIGKILL" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_tool_command_killed_by_sigkill_shows_no_traceback(cli_env: dict[str, str], tmp_path: Path) -> None:
    calls = [{"name": "run_shell", "args": {"command": "kill -9 $$"}}]
    model = script(tmp_path / "s.json", [{"calls": calls * 3}, "it was killed"])
    done = podium(["run", "--model", model, "--tools", "-w", str(tmp_path), "--yes", "--json", "go"], cli_env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    results = doc["messages"][2]["parts"]
    assert len(results) == 3 and all("SIGKILL" in json.dumps(r) for r in results)
    assert "Traceback" not in json.dumps(doc) + done.stderr
