"""``podium chat`` in a real pseudo-terminal: a line typed while an answer streams goes into the running turn."""

from __future__ import annotations

import json
from pathlib import Path

import pexpect

from tests.cli.conftest import podium, script
from tests.cli.test_chat_pty import spawn


def test_a_line_typed_while_the_answer_streams_is_sent_into_the_turn(cli_env: dict[str, str]) -> None:
    child = spawn(["chat", "--model", "test:slow"], cli_env)
    child.expect("you>")
    child.sendline("one two three four five six seven eight")
    child.expect("You said: one")  # streaming, one word per 0.3 s
    child.sendline("and also this")  # typed while the answer streams
    child.sendline("/cost")  # a command typed now runs after the answer
    child.expect("eight")  # the first answer is not cut short
    child.expect(r"\+ you: and also this")  # delivered into the same turn
    child.expect("You said: and also this")  # the model answered it in the same turn
    child.expect("you> /cost")
    child.expect(r"2 requests")
    child.expect("you>")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    doc = json.loads(podium(["run", "--model", "test:echo", "--continue", "--json", "still there?"], cli_env).stdout)
    roles = [m["role"] for m in doc["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert doc["messages"][2]["parts"][0]["text"] == "and also this"
    assert doc["messages"][1]["parts"][0]["text"].startswith("You said: one two three")


def test_typed_lines_wait_while_an_approval_is_asked(cli_env: dict[str, str], tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    model = script(
        tmp_path / "s.json",
        [{"calls": [{"name": "run_shell", "args": {"command": "echo approved > out.txt"}}]}, "Done."],
    )
    child = spawn(["chat", "--model", model, "--tools", "-w", str(workspace)], cli_env)
    child.expect("you>")
    child.sendline("write it")
    child.expect(r"Allow run_shell\(")
    child.sendline("y")  # the answer goes to the question, not into the run
    child.expect("Done.")
    child.expect("you>")
    child.sendeof()
    child.expect(pexpect.EOF)
    assert (workspace / "out.txt").read_text() == "approved\n"


def test_a_line_typed_while_a_tool_runs_follows_its_result(cli_env: dict[str, str], tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    model = script(
        tmp_path / "s.json",
        [{"calls": [{"name": "run_shell", "args": {"command": "sleep 2; echo slept"}}]}, "Done, noted."],
    )
    child = spawn(["chat", "--model", model, "--tools", "--yes", "-w", str(workspace)], cli_env)
    child.expect("you>")
    child.sendline("sleep a bit")
    child.expect(r"→ run_shell")
    child.sendline("then tell me the time")  # typed while the command runs
    child.expect(r"← run_shell")
    child.expect(r"\+ you: then tell me the time")
    child.expect("Done, noted.")
    child.expect("you>")
    child.sendeof()
    child.expect(pexpect.EOF)

    doc = json.loads(podium(["run", "--model", "test:echo", "--continue", "--json", "ok?"], cli_env).stdout)
    messages = doc["messages"]
    assert [m["role"] for m in messages[:5]] == ["user", "assistant", "tool", "user", "assistant"]
    assert "slept" in json.dumps(messages[2])  # the command finished before the message went in
    assert messages[3]["parts"][0]["text"] == "then tell me the time"
