"""``podium resume`` and ``podium run --key`` on a ``podium run`` process killed in the middle of a tool call."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.cli.conftest import PODIUM, cli_env, podium  # noqa: F401 - cli_env is a fixture

SCRIPT = [
    {"calls": [{"name": "write_file", "args": {"path": "a.txt", "content": "one"}}]},
    {"calls": [{"name": "run_shell", "args": {"command": "sleep 30"}}]},
    "Done after the shell.",
]


def start_and_kill(env: dict[str, str], tmp: Path, *extra: str) -> None:
    """Start ``podium run`` and SIGKILL it (with its sandboxed child) while ``sleep 30`` runs."""
    (tmp / "ws").mkdir()
    script = tmp / "s.json"
    script.write_text(json.dumps(SCRIPT))
    args = [*PODIUM, "run", "--model", f"test:history:{script}", "--tools", "-y", "-w", str(tmp / "ws"), *extra, "go"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    db = Path(env["PODIUM_DB"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists() and _calls_started(db) >= 2:  # the write, then the shell: in flight now
            break
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -9


def _calls_started(db: Path) -> int:
    try:
        conn = sqlite3.connect(db)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM trace_records WHERE kind = 'tools'").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_podium_resume_finishes_a_killed_run(cli_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    start_and_kill(cli_env, tmp_path)
    done = podium(["resume", "-y"], cli_env)
    assert done.returncode == 0, done.stderr
    assert "Done after the shell." in done.stdout
    assert (tmp_path / "ws" / "a.txt").read_text() == "one"
    shown = podium(["trace", "show"], cli_env).stdout
    assert "run_shell: interrupted" in shown and "write_file: ok" in shown and "run completed" in shown
    again = podium(["resume"], cli_env)
    assert again.returncode == 2 and "nothing to resume" in again.stderr
    conversation = json.loads(
        podium(["run", "--model", "test:echo", "--continue", "--json", "and now?"], cli_env).stdout
    )
    roles = [m["role"] for m in conversation["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant", "user", "assistant"]


def test_run_with_the_same_key_finishes_the_killed_run_once(cli_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    start_and_kill(cli_env, tmp_path, "--key", "job-7")
    script = f"test:history:{tmp_path / 's.json'}"
    second = podium(
        ["run", "--model", script, "--tools", "-y", "-w", str(tmp_path / "ws"), "--key", "job-7", "go"], cli_env
    )
    assert second.returncode == 0, second.stderr
    assert "resuming it" in second.stderr and "Done after the shell." in second.stdout
    third = podium(["run", "--model", "test:echo", "--key", "job-7", "--json", "go"], cli_env)
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["output"] == "Done after the shell."
    runs = podium(["trace", "list"], cli_env).stdout.splitlines()
    assert len(runs) == 1  # one run for the key, however many submissions
