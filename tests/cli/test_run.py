"""``podium run`` and ``podium models`` as a script would use them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import podium, script


def test_run_prints_the_answer_and_records_the_conversation(cli_env: dict[str, str]) -> None:
    first = podium(["run", "--model", "test:echo", "hello there"], cli_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "hello there\n"
    second = podium(["run", "--model", "test:echo", "--continue", "--json", "again"], cli_env)
    assert second.returncode == 0, second.stderr
    doc = json.loads(second.stdout)
    assert doc["status"] == "completed"
    assert doc["output"] == "again"
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant", "user", "assistant"]
    assert doc["usage"]["requests"] == 1
    assert doc["model"] == "test:echo"


def test_exit_codes(cli_env: dict[str, str], tmp_path: Path) -> None:
    bad = podium(["run", "--model", "nope:model", "hi"], cli_env)
    assert bad.returncode == 2
    assert "unknown provider 'nope'" in bad.stderr
    loop = script(tmp_path / "loop.json", [{"calls": [{"name": "ghost", "args": {}}]}] * 30)
    stopped = podium(["run", "--model", loop, "hi"], cli_env)
    assert stopped.returncode == 4, stopped.stderr
    assert "UnexpectedModelBehavior" in stopped.stderr
    nothing = podium(
        ["run", "--model", "test:echo", "--continue", "hi"], {**cli_env, "PODIUM_DB": str(tmp_path / "x.db")}
    )
    assert nothing.returncode == 2
    assert "no conversation to continue" in nothing.stderr


def test_tools_write_a_file_in_the_workspace(cli_env: dict[str, str], tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    model = script(
        tmp_path / "s.json",
        [{"calls": [{"name": "write_file", "args": {"path": "hello.txt", "content": "hi"}}]}, "Created hello.txt."],
    )
    done = podium(
        ["run", "--model", model, "--tools", "-w", str(workspace), "Create a file hello.txt containing hi"], cli_env
    )
    assert done.returncode == 0, done.stderr
    assert (workspace / "hello.txt").read_text() == "hi"
    assert done.stdout.strip() == "Created hello.txt."
    assert "write_file" in done.stderr


def test_shell_asks_and_pauses_without_a_terminal(cli_env: dict[str, str], tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    model = script(tmp_path / "s.json", [{"calls": [{"name": "run_shell", "args": {"command": "echo hi"}}]}, "ok"])
    paused = podium(["run", "--model", model, "--tools", "-w", str(workspace), "--json", "say hi"], cli_env)
    assert paused.returncode == 5, paused.stderr
    doc = json.loads(paused.stdout)
    assert doc["status"] == "paused"
    assert doc["pending_approvals"][0]["tool"] == "run_shell"


def test_models_lists_offline_and_keys(cli_env: dict[str, str]) -> None:
    out = podium(["models"], {**cli_env, "OPENAI_API_KEY": "sk-test", "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    assert "local:" in out.stdout
    assert "OPENAI" not in out.stdout or "set" in out.stdout
    assert "Default model now:" in out.stdout
