"""``podium trace`` and ``podium replay`` as a person uses them, in subprocesses, on a private database."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import podium, script


def test_a_run_leaves_a_trace_to_show_export_import_and_replay(cli_env: dict[str, str], tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    model = script(
        tmp_path / "s.json",
        [{"calls": [{"name": "write_file", "args": {"path": "a.txt", "content": "hi"}}]}, "Wrote a.txt."],
    )
    done = podium(["run", "--model", model, "--tools", "-w", str(workspace), "write a.txt"], cli_env)
    assert done.returncode == 0, done.stderr
    listed = podium(["trace", "list"], cli_env)
    assert listed.returncode == 0 and "completed" in listed.stdout
    shown = podium(["trace", "show"], cli_env)
    assert shown.returncode == 0, shown.stderr
    assert "write_file: ok" in shown.stdout and "calls write_file" in shown.stdout and "run completed" in shown.stdout
    out = tmp_path / "run.jsonl"
    exported = podium(["trace", "export", "latest", "-o", str(out)], cli_env)
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["kind"] == "run" and records[0]["meta"]["model"] == model and records[-1]["kind"] == "end"
    (workspace / "a.txt").unlink()
    replayed = podium(["replay", str(out)], cli_env)
    assert replayed.returncode == 0, replayed.stderr
    assert "Wrote a.txt." in replayed.stdout and "matches the trace" in replayed.stderr
    assert not (workspace / "a.txt").exists()  # answered from the trace: the tool did not run again
    rerun = podium(["replay", str(out), "--run-tool", "write_file"], cli_env)
    assert rerun.returncode == 0, rerun.stderr
    assert (workspace / "a.txt").read_text() == "hi"  # run again, in the recorded workspace
    imported = podium(["trace", "import", str(out)], cli_env)
    assert imported.returncode == 0 and "imported run" in imported.stderr
    assert len(podium(["trace", "list"], cli_env).stdout.splitlines()) == 2


def test_a_replay_that_differs_exits_1_with_both_sides(cli_env: dict[str, str], tmp_path: Path) -> None:
    done = podium(["run", "--model", "test:echo", "hello"], cli_env)
    assert done.returncode == 0, done.stderr
    differs = podium(["replay", "latest", "--tools"], cli_env)  # tools offered now, none when recorded
    assert differs.returncode == 1
    assert "differs at step 1" in differs.stderr and "recorded: (not offered)" in differs.stderr


def test_bad_references_and_files_are_clear_errors(cli_env: dict[str, str], tmp_path: Path) -> None:
    none_yet = podium(["trace", "show"], cli_env)
    assert none_yet.returncode == 2 and "no trace is stored yet" in none_yet.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    broken = podium(["replay", str(bad)], cli_env)
    assert broken.returncode == 2 and "line 1: not JSON" in broken.stderr
    newer = tmp_path / "new.jsonl"
    newer.write_text(json.dumps({"seq": 0, "kind": "run", "version": 99}) + "\n")
    future = podium(["trace", "show", str(newer)], cli_env)
    assert future.returncode == 2 and "version 99" in future.stderr


def test_trace_command_in_chat_shows_the_last_runs_steps(cli_env: dict[str, str]) -> None:
    first = podium(["chat", "--model", "test:echo"], cli_env, input="/trace\nhello there\n/trace\n")
    assert first.returncode == 0, first.stderr
    assert "no run yet in this session" in first.stdout
    after = first.stdout.split("hello there", 1)[1]
    assert "model: 'hello there'" in after and "run completed" in after and "tokens in/out" in after
