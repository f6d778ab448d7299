"""``podium batch`` in a subprocess: a bad file, and a kill -9 midway then a restart that repeats no finished task."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_server import ServerProcess

PODIUM = [sys.executable, "-m", "podium.cli"]


def env_for(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "PODIUM_MODEL"}
    env |= {"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-test", "PODIUM_DB": str(tmp_path / "p.db")}
    env["PODIUM_CONFIG"] = str(tmp_path / "config.toml")
    return env


def write_tasks(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"t{i}", "prompt": f"question {i}"}) + "\n" for i in range(n)))
    return path


def test_a_bad_tasks_file_names_its_lines_and_starts_nothing(tmp_path: Path) -> None:
    tasks = tmp_path / "t.jsonl"
    tasks.write_text('{"prompt": "a", "id": 1}\n{oops\n{"id": 1, "prompt": "b"}\n')
    proc = subprocess.run(
        [*PODIUM, "batch", str(tasks)],
        env=env_for(tmp_path, "http://127.0.0.1:9/v1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "line 2: not valid JSON" in proc.stderr and "line 3: id '1' was already given on line 1" in proc.stderr
    assert not (tmp_path / "t.results.jsonl").exists()


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_kill_midway_then_restart_finishes_without_repeating_finished_tasks(
    signum: int, server: ServerProcess, tmp_path: Path
) -> None:
    n = 300
    tasks = write_tasks(tmp_path / "tasks.jsonl", n)
    out = tmp_path / "tasks.results.jsonl"
    env = env_for(tmp_path, server.url(delay_ms=20))
    args = [*PODIUM, "batch", str(tasks), "-m", "openai:gpt-4o-mini", "-n", "4"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 60):
        time.sleep(0.02)
    proc.send_signal(signum)
    code = proc.wait(40)
    if signum != signal.SIGKILL:  # a clean stop: the summary and how to continue
        assert code == {signal.SIGTERM: 143, signal.SIGINT: 130}[signum]
        assert b"run the same command again" in (proc.stderr.read() if proc.stderr else b"")
    before = {json.loads(line)["id"] for line in out.read_text().splitlines() if line.endswith("}")}
    assert 60 <= len(before) < n
    served_before = dict(server.stats()["served"])

    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"{len(before)} task(s) already finished" in again.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(f"t{i}" for i in range(n))  # each once
    served = server.stats()["served"]
    for task_id in before:  # a finished task was not asked again
        prompt = f"question {task_id[1:]}"
        assert served[prompt] == served_before[prompt] == 1
    assert sum(served.values()) <= n + 4  # at most the tasks in flight at the kill ran twice
