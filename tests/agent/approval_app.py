"""A small agent used by the approval round-trip test, in this process and in a fresh one.

Run as a script: ``python approval_app.py STATE_JSON OUT_JSON`` resumes the paused run saved in STATE_JSON
with one approval and one denial and writes the final messages to OUT_JSON. Commands the tool runs are
appended to the file named by ``APPROVAL_APP_LOG``, when set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from podium import Agent, tool
from podium.agent.approval import ApprovalPolicy, Deny, PausedRun, Rule
from podium.messages import dump_messages
from podium.testing import ScriptedModel
from podium.testing.models import call

LOG = Path(os.environ["APPROVAL_APP_LOG"]) if os.environ.get("APPROVAL_APP_LOG") else None


@tool(metadata={"command_param": "command"})
def shell(command: str) -> str:
    """Run a shell command (pretend)."""
    if LOG is not None:
        with LOG.open("a") as fh:
            fh.write(command + "\n")
    return f"ran: {command}"


POLICY = ApprovalPolicy([Rule("allow", command="ls*"), Rule("ask", tool="shell")])


def first_agent() -> Agent:
    model = ScriptedModel(
        [
            [
                call("shell", {"command": "ls -la"}, id="c1"),
                call("shell", {"command": "rm  -rf build"}, id="c2"),
                call("shell", {"command": "echo hi"}, id="c3"),
            ]
        ]
    )
    return Agent(model, tools=[shell], policy=POLICY)


def second_agent() -> Agent:
    return Agent(ScriptedModel(["Listed and echoed; the delete was refused."]), tools=[shell], policy=POLICY)


if __name__ == "__main__":
    paused = PausedRun.from_json(Path(sys.argv[1]).read_text())
    result = second_agent().run(resume=paused, approvals={"c2": Deny("not today"), "c3": True})
    Path(sys.argv[2]).write_text(dump_messages(result.messages))
