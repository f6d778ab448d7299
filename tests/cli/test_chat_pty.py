"""``podium chat`` driven in a real pseudo-terminal: streaming, /undo, /redo, Ctrl-C, quit, --continue."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pexpect

from tests.cli.conftest import PODIUM, podium


def spawn(args: list[str], env: dict[str, str], timeout: float = 30) -> pexpect.spawn:
    child = pexpect.spawn(
        PODIUM[0],
        [*PODIUM[1:], *args],
        env=env,
        encoding="utf-8",
        timeout=timeout,
        dimensions=(40, 120),
        # Ctrl-C must reach podium even when this test run inherited SIGINT ignored (a background job)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    child.logfile_read = sys.stderr  # shown by pytest on failure
    return child


def test_chat_session_in_a_terminal(cli_env: dict[str, str], tmp_path: Path) -> None:
    child = spawn(["chat", "--model", "test:slow"], cli_env)
    child.expect("you>")
    child.sendline("hello podium")
    child.expect("You said: hello")  # streamed word by word (0.3 s apart)
    child.expect("podium")
    child.expect("you>")

    child.sendline("/undo")
    child.expect(r"undone: 'hello podium'")
    child.expect("you>")
    child.sendline("/redo")
    child.expect(r"redone: 'hello podium'")
    child.expect("you>")

    child.sendline("one two three four five six seven eight nine ten eleven twelve")
    child.expect("You said:")
    child.sendintr()  # Ctrl-C in the middle of the answer
    child.expect(r"\[interrupted\]")
    child.expect("you>")
    child.sendline("/cost")
    child.expect("request")
    child.expect("you>")
    child.sendline("/quit")
    child.expect("bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    # the interrupted answer was kept as far as it went, and the history is valid to continue
    doc = json.loads(podium(["run", "--model", "test:echo", "--continue", "--json", "still there?"], cli_env).stdout)
    roles = [m["role"] for m in doc["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user", "assistant"]
    partial = doc["messages"][3]
    assert partial["finish_reason"] == "cancelled"
    assert partial["parts"][0]["text"].startswith("You said:")  # Ctrl-C stops the stream at once
    assert "twelve" not in partial["parts"][0]["text"]

    again = spawn(["chat", "--model", "test:echo", "--continue"], cli_env)
    again.expect("you> hello podium")  # the history is shown
    again.expect("you> one two three")
    again.expect("you> still there")
    again.expect("you>")
    again.sendeof()
    again.expect(pexpect.EOF)


def test_chat_asks_for_approval_inline(cli_env: dict[str, str], tmp_path: Path) -> None:
    from tests.cli.conftest import script

    workspace = tmp_path / "ws"
    workspace.mkdir()
    model = script(
        tmp_path / "s.json",
        [
            {"calls": [{"name": "run_shell", "args": {"command": "echo approved > out.txt"}}]},
            "Done.",
            {"calls": [{"name": "run_shell", "args": {"command": "echo denied > no.txt"}}]},
            "Not done.",
        ],
    )
    child = spawn(["chat", "--model", model, "--tools", "-w", str(workspace)], cli_env)
    child.expect("you>")
    child.sendline("write it")
    child.expect(r"Allow run_shell\(")
    child.sendline("y")
    child.expect("Done.")
    child.expect("you>")
    child.sendline("write the other")
    child.expect(r"Allow run_shell\(")
    child.sendline("n")
    child.expect("denied by the user")
    child.expect("Not done.")
    child.expect("you>")
    child.sendeof()
    child.expect(pexpect.EOF)
    assert (workspace / "out.txt").read_text() == "approved\n"
    assert not (workspace / "no.txt").exists()
