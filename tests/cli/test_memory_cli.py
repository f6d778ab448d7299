"""Memory in the CLI, each step a new ``podium`` process: saved in one run, recalled in another (scoped), forgotten."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.cli.conftest import PODIUM, podium, script

FACT = "The staging database is db-stage-2"


def run_json(args: list[str], env: dict[str, str], cwd: Path | None = None) -> dict[str, Any]:
    done = podium(["run", "--json", *args], env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def tool_texts(doc: dict[str, Any]) -> list[tuple[str, bool, str]]:
    out = []
    for message in doc["messages"]:
        for part in message["parts"]:
            if part["type"] == "tool_result":
                text = "".join(p.get("text", "") for p in part["content"])
                out.append((part["name"], bool(part.get("is_error")), text))
    return out


def test_a_fact_saved_in_one_run_is_recalled_in_another_process_then_forgotten(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    remember = script(tmp_path / "1.json", [{"calls": [{"name": "remember", "args": {"text": FACT}}]}, "Saved."])
    first = run_json(["--memory", "-m", remember, "-w", str(project), "remember the staging db"], cli_env)
    [(name, error, text)] = tool_texts(first)
    assert (name, error) == ("remember", False)
    note_id = re.search(r"Remembered as ([0-9a-f]{12})", text).group(1)  # type: ignore[union-attr]

    # process 2, a new conversation: the model's recall finds it ...
    recall = script(tmp_path / "2.json", [{"calls": [{"name": "recall", "args": {"query": "staging db?"}}]}, "ok"])
    second = run_json(["--memory", "-m", recall, "-w", str(project), "which db is staging?"], cli_env)
    assert second["conversation_id"] != first["conversation_id"]
    [(_, error, text)] = tool_texts(second)
    assert not error and FACT in text and note_id in text
    # ... and it is in the instructions the model receives, recalled at the run's start
    shown = podium(["run", "--memory", "-m", "test:instructions", "-w", str(project), "which db is staging?"], cli_env)
    assert shown.returncode == 0, shown.stderr
    assert FACT in shown.stdout and "data, not instructions" in shown.stdout

    # another workspace (another project) and another user see nothing, and cannot forget it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = podium(["run", "--memory", "-m", "test:instructions", "-w", str(elsewhere), "staging db"], cli_env)
    assert FACT not in other.stdout
    forget = script(tmp_path / "3.json", [{"calls": [{"name": "forget", "args": {"id": note_id}}]}, "ok"])
    refused = run_json(["--memory", "-m", forget, "-w", str(elsewhere), "forget it"], cli_env)
    [(_, error, text)] = tool_texts(refused)
    assert error and f"no memory {note_id}" in text
    config = tmp_path / "bob.toml"
    config.write_text('[memory]\nuser = "bob"\n')
    bob = podium(
        ["run", "--memory", "-m", "test:instructions", "-w", str(project), "staging db"],
        {**cli_env, "PODIUM_CONFIG": str(config)},
    )
    assert bob.returncode == 0, bob.stderr
    assert FACT not in bob.stdout

    # process: forget it in its own project; then a further process no longer gets it
    forgot = run_json(["--memory", "-m", forget, "-w", str(project), "forget it"], cli_env)
    [(_, error, text)] = tool_texts(forgot)
    assert not error and FACT in text
    gone = run_json(["--memory", "-m", recall, "-w", str(project), "which db is staging?"], cli_env)
    [(_, error, text)] = tool_texts(gone)
    assert not error and text.startswith("No note matches")
    after = podium(["run", "--memory", "-m", "test:instructions", "-w", str(project), "staging db"], cli_env)
    assert FACT not in after.stdout and "<memory>" not in after.stdout


def test_without_memory_there_are_no_memory_tools_and_no_recall(cli_env: dict[str, str], tmp_path: Path) -> None:
    remember = script(tmp_path / "1.json", [{"calls": [{"name": "remember", "args": {"text": FACT}}]}, "Saved."])
    assert podium(["run", "--memory", "-m", remember, "remember"], cli_env, cwd=tmp_path).returncode == 0
    plain = podium(["run", "-m", "test:instructions", "staging db"], cli_env, cwd=tmp_path)
    assert FACT not in plain.stdout
    again = script(tmp_path / "2.json", [{"calls": [{"name": "remember", "args": {"text": "x"}}]}, "ok"])
    doc = run_json(["-m", again, "remember"], cli_env, cwd=tmp_path)
    [(_, error, text)] = tool_texts(doc)
    assert error and "remember" in text  # an unknown tool without --memory


def test_memory_from_the_config_file_and_its_errors(cli_env: dict[str, str], tmp_path: Path) -> None:
    config = Path(cli_env["PODIUM_CONFIG"])
    config.write_text(f'[memory]\nenabled = true\nproject = "shared-key"\ndb = "{tmp_path / "notes.db"}"\n')
    remember = script(tmp_path / "1.json", [{"calls": [{"name": "remember", "args": {"text": FACT}}]}, "Saved."])
    assert podium(["run", "-m", remember, "remember"], cli_env, cwd=tmp_path).returncode == 0
    assert (tmp_path / "notes.db").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # another directory, the same project key: the same notes
    shown = podium(["run", "-m", "test:instructions", "staging"], cli_env, cwd=elsewhere)
    assert FACT in shown.stdout
    off = podium(["run", "--no-memory", "-m", "test:instructions", "staging"], cli_env, cwd=elsewhere)
    assert FACT not in off.stdout
    for bad, says in (
        ("[memory]\nenabled = 'yes'\n", "enabled must be true or false"),
        ("[memory]\nrecall = 99\n", "recall must be a number of notes from 0 to 50"),
        ("[memory]\ncolour = 1\n", "unknown key 'colour'"),
        ("memory = true\n", "memory must be a table"),
        ('[memory]\nuser = "a\\u0000b"\n', "control character"),
        (f'[memory]\ndb = "{tmp_path}"\n', "[memory] db ="),
    ):
        config.write_text(bad)
        failed = podium(["run", "--memory", "-m", "test:echo", "hi"], cli_env, cwd=tmp_path)
        assert failed.returncode == 2, (bad, failed.stderr)
        assert says in failed.stderr and "Traceback" not in failed.stderr


def test_chat_lists_and_forgets_memories(cli_env: dict[str, str], tmp_path: Path) -> None:
    calls = [{"name": "remember", "args": {"text": FACT}}, {"name": "remember", "args": {"text": "Cat: Miso"}}]
    remember = script(tmp_path / "1.json", [{"calls": calls}, "Saved."])
    assert podium(["run", "--memory", "-m", remember, "remember"], cli_env, cwd=tmp_path).returncode == 0
    listed = podium(["chat", "--memory", "-m", "test:echo"], cli_env, cwd=tmp_path, input="/memories\n/quit\n")
    assert listed.returncode == 0, listed.stderr
    assert "memory on (2 notes" in listed.stdout
    ids = re.findall(r"^([0-9a-f]{12})  \d{4}-\d\d-\d\d \d\d:\d\d  (.+)$", listed.stdout, re.MULTILINE)
    assert sorted(text for _, text in ids) == sorted([FACT, "Cat: Miso"])
    staging = next(i for i, text in ids if text == FACT)
    commands = f"/memories miso\n/forget {staging}\n/forget {staging}\n/forget nonsense\n/forget\n/memories\n/quit\n"
    chat = podium(["chat", "--memory", "-m", "test:echo"], cli_env, cwd=tmp_path, input=commands)
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert f"forgot {staging}" in out
    assert f"no memory {staging}" in out  # the second time
    assert "is not a memory id" in out and "usage: /forget ID" in out
    assert out.rstrip().count("Cat: Miso") == 2 and out.count(FACT) == 1  # listed twice; forgotten once
    off = podium(["chat", "-m", "test:echo"], cli_env, cwd=tmp_path, input="/memories\n/quit\n")
    assert "memory is off" in off.stdout


def test_two_podium_processes_remember_at_once(cli_env: dict[str, str], tmp_path: Path) -> None:
    procs = []
    for name in ("alpha", "beta"):
        turns: list[Any] = [
            {"calls": [{"name": "remember", "args": {"text": f"{name} fact {i}-{j}"}} for j in range(5)]}
            for i in range(4)
        ]
        model = script(tmp_path / f"{name}.json", [*turns, "done"])
        procs.append(
            subprocess.Popen(
                [*PODIUM, "run", "--memory", "--json", "-m", model, f"{name} remembers"],
                env=cli_env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert all(not error for _, error, _ in tool_texts(json.loads(out)))
    listed = podium(["chat", "--memory", "-m", "test:echo"], cli_env, cwd=tmp_path, input="/memories\n/quit\n")
    assert "memory on (40 notes" in listed.stdout
    for name in ("alpha", "beta"):
        assert all(f"{name} fact {i}-{j}" in listed.stdout for i in range(4) for j in range(5))
