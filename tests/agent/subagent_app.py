"""Agents with a sub-agent whose tool needs approval, for the pause/resume tests (in this process and a new one).

Run as a script: ``python subagent_app.py STATE_JSON APPROVALS_JSON OUT_JSON`` resumes the paused run saved in
STATE_JSON with the approvals (call id -> true/false) and writes the result (output, messages, usage per
agent) to OUT_JSON. Commands the tool runs are appended to the file named by ``SUBAGENT_APP_LOG``, when set.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from podium import Agent, tool
from podium.agent.approval import ApprovalPolicy, PausedRun, Rule
from podium.messages import ModelResponse, Part, Text, dump_messages
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.usage import Usage

LOG = Path(os.environ["SUBAGENT_APP_LOG"]) if os.environ.get("SUBAGENT_APP_LOG") else None


@tool(metadata={"command_param": "command"})
def shell(command: str) -> str:
    """Run a shell command (pretend)."""
    if LOG is not None:
        with LOG.open("a") as fh:
            fh.write(command + "\n")
    return f"ran: {command}"


ASK_SHELL = ApprovalPolicy([Rule("ask", tool="shell")])


def reply(parts: list[Part] | str, usage: Usage) -> ModelResponse:
    """A scripted response with known usage."""
    body = (Text(parts),) if isinstance(parts, str) else tuple(parts)
    return ModelResponse(body, usage=usage)


def child_agent(*, resumed: bool) -> Agent:
    """A sub-agent that runs ``rm -rf build`` (its policy asks) and reports."""
    script = [reply("cleaned", Usage(30, 3, requests=1))]
    if not resumed:
        script.insert(0, reply([call("shell", {"command": "rm -rf build"}, id="c1")], Usage(20, 2, requests=1)))
    return Agent(ScriptedModel(script, model_name="child"), tools=[shell], policy=ASK_SHELL, name="cleaner")


def parent_agent(*, resumed: bool) -> Agent:
    """A parent that runs ``ls`` itself (its policy asks too) and asks the cleaner in the same turn.

    Both models number their calls ``c1``: the child's id must become unique in the tree.
    """
    script = [reply("all clean", Usage(300, 30, requests=1))]
    if not resumed:
        first = [call("shell", {"command": "ls"}, id="c1"), call("cleaner", {"task": "clean the build"}, id="p2")]
        script.insert(0, reply(first, Usage(100, 10, requests=1)))
    child = child_agent(resumed=resumed)
    return Agent(ScriptedModel(script, model_name="parent"), tools=[shell, child], policy=ASK_SHELL, name="main")


def summary(result: Any) -> dict[str, Any]:
    """What the tests compare: output, messages, usage per agent."""
    return {
        "output": result.output,
        "messages": dump_messages(result.messages),
        "usage": result.usage.to_dict(),
        "usage_by_agent": {k: v.to_dict() for k, v in result.usage_by_agent.items()},
    }


if __name__ == "__main__":
    paused = PausedRun.from_json(Path(sys.argv[1]).read_text())
    approvals = json.loads(Path(sys.argv[2]).read_text())
    result = parent_agent(resumed=True).run(resume=paused, approvals=approvals)
    Path(sys.argv[3]).write_text(json.dumps(summary(result)))
