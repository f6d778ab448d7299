"""A person's approval binds to the exact call shown (id, tool, arguments) in that paused run, nothing else."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pexpect
import pytest
from tests.cli.conftest import PODIUM, podium, script

from podium import Agent, AgentHooks, ApprovalRequired, tool
from podium.agent.approval import Allow, ApprovalPolicy, PausedRun, Rule
from podium.agent.binding import unique_ids
from podium.exceptions import UserError
from podium.messages import Message, ModelResponse, Text, ToolCall
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.tools import RunContext

RAN: list[str] = []


@tool(metadata={"command_param": "command"})
def shell(command: str) -> str:
    """Pretend to run a command."""
    RAN.append(command)
    return f"ran: {command}"


@pytest.fixture(autouse=True)
def _clear() -> None:
    RAN.clear()


POLICY = ApprovalPolicy([Rule("allow", command="ls*")], default="ask")


def ids(message: Message) -> list[str]:
    return [c.id for c in message.tool_calls] or [r.call_id for r in message.tool_results]


def test_duplicate_ids_in_one_message_get_their_own_identity() -> None:
    model = ScriptedModel(
        [[call("shell", {"command": "make"}, id="x"), call("shell", {"command": "rm -rf /"}, id="x")], "done"]
    )
    agent = Agent(model, tools=[shell], policy=POLICY)
    paused = agent.run("go")
    assert paused.paused is not None
    assert ids(paused.messages[-1]) == ["x", "x_2"]
    assert [(r.call_id, r.call.args["command"]) for r in paused.pending_approvals] == [
        ("x", "make"),
        ("x_2", "rm -rf /"),
    ]
    # approving "x" approves `make` only; `rm -rf /` is still waiting
    again = agent.run(resume=paused.paused, approvals={"x": True})
    assert RAN == ["make"]
    assert again.paused is not None
    assert [(r.call_id, r.call.args["command"]) for r in again.pending_approvals] == [("x_2", "rm -rf /")]
    done = agent.run(resume=again.paused, approvals={"x_2": False})
    assert done.output == "done"
    assert RAN == ["make"]
    assert ids(done.messages[2]) == ["x", "x_2"]  # results carry the calls' ids
    assert done.messages[2].tool_results[1].is_error


def test_a_later_call_reusing_an_approved_id_is_not_approved() -> None:
    model = ScriptedModel(
        [
            [call("shell", {"command": "make"}, id="a")],
            [call("shell", {"command": "rm -rf ~"}, id="a")],
            "done",
        ]
    )
    agent = Agent(model, tools=[shell], policy=POLICY)
    paused = agent.run("build")
    assert paused.paused is not None
    second = agent.run(resume=paused.paused, approvals={"a": True})
    assert RAN == ["make"]
    assert second.status == "paused"  # the model's second call, same id "a", is asked about afresh
    assert second.paused is not None
    assert [(r.call_id, r.call.args["command"]) for r in second.pending_approvals] == [("a_2", "rm -rf ~")]
    with pytest.raises(UserError, match="not pending"):
        agent.run(resume=second.paused, approvals={"a": True})
    assert RAN == ["make"]


def test_ids_are_unique_in_the_whole_conversation() -> None:
    seen = {"call_1", "a"}
    response = ModelResponse(
        (
            Text("hi"),
            ToolCall("", "t", {}),
            ToolCall("a", "t", {}),
            ToolCall("a", "t", {"x": 1}),
            ToolCall("b", "t", {}),
            ToolCall("", "t", {}),
        )
    )
    fixed = unique_ids(response, seen)
    ids = [c.id for c in fixed.tool_calls]
    assert ids[1:4] == ["a_2", "a_3", "b"]
    # a ToolCall made without an id gets a fresh one at once (call_ and 24 hex digits)
    assert ids[0].startswith("call_") and ids[4].startswith("call_") and len(set(ids)) == 5
    assert fixed.text == "hi"
    unchanged = ModelResponse((ToolCall("z", "t", {}),))
    assert unique_ids(unchanged, seen) is unchanged


def test_approvals_need_the_paused_run_and_must_name_pending_calls() -> None:
    agent = Agent(ScriptedModel([[call("shell", {"command": "make"}, id="m")], "done"]), tools=[shell], policy=POLICY)
    with pytest.raises(UserError, match=r"resume=result\.paused"):
        agent.run("go", approvals={"m": True})
    paused = agent.run("go")
    assert paused.paused is not None
    with pytest.raises(UserError, match="not pending"):
        agent.run(resume=paused.paused, approvals={"m": True, "nope": True})
    with pytest.raises(UserError, match=r"resume=result\.paused"):
        agent.run(None, message_history=paused.messages, approvals={"m": True})
    assert RAN == []


def _tampered(paused: PausedRun, *, shown: str | None = None, actual: str | None = None) -> PausedRun:
    doc = json.loads(paused.to_json())
    if shown is not None:
        doc["pending"][0]["call"]["args"]["command"] = shown
    if actual is not None:
        for part in doc["messages"][-1]["parts"]:
            if part.get("type") == "tool_call":
                part["args"]["command"] = actual
    return PausedRun.from_json(json.dumps(doc))


@pytest.mark.parametrize(("shown", "actual"), [("make", None), (None, "rm -rf /"), ("ls", "rm -rf /")])
def test_an_approval_for_other_arguments_than_the_call_runs_nothing(shown: str | None, actual: str | None) -> None:
    agent = Agent(
        ScriptedModel([[call("shell", {"command": "rm -rf build"}, id="r")], "done"]), tools=[shell], policy=POLICY
    )
    paused = agent.run("clean")
    assert paused.paused is not None
    tampered = _tampered(paused.paused, shown=shown, actual=actual)
    with pytest.raises(UserError, match="nothing was run"):
        agent.run(resume=tampered, approvals={"r": True})
    assert RAN == []
    # a denial needs no binding: nothing runs either way
    done = agent.run(resume=tampered, approvals={"r": False})
    assert done.status == "completed"
    assert RAN == []


def test_a_hook_that_changes_the_call_after_approval_is_refused() -> None:
    class Stamp(AgentHooks):
        count = 0

        def before_tool_call(self, ctx: RunContext[Any], call: ToolCall) -> ToolCall:
            Stamp.count += 1
            return replace(call, args={"command": f"{call.args['command']} #{Stamp.count}"})

    agent = Agent(
        ScriptedModel([[call("shell", {"command": "make"}, id="h")], "done"]),
        tools=[shell],
        policy=POLICY,
        hooks=[Stamp()],
    )
    paused = agent.run("go")
    assert paused.paused is not None
    assert paused.pending_approvals[0].call.args == {"command": "make #1"}
    with pytest.raises(UserError, match="nothing was run"):
        agent.run(resume=paused.paused, approvals={"h": True})
    assert RAN == []


def test_the_approved_call_runs_as_shown_even_after_a_policy_rewrite() -> None:
    runs: list[tuple[str, bool]] = []

    @tool(metadata={"command_param": "command"})
    def deploy(ctx: RunContext[None], command: str) -> str:
        """Deploy."""
        runs.append((command, ctx.approved))
        if not ctx.approved:
            raise ApprovalRequired("deploys need a person")
        return f"deployed: {command}"

    policy = ApprovalPolicy([Rule("allow", tool="deploy", rewrite=lambda a: {"command": "timeout 10 " + a["command"]})])
    agent = Agent(
        ScriptedModel([[call("deploy", {"command": "ship"}, id="d")], "shipped"]), tools=[deploy], policy=policy
    )
    paused = agent.run("ship")
    assert paused.paused is not None
    assert paused.pending_approvals[0].call.args == {"command": "timeout 10 ship"}
    done = agent.run(resume=paused.paused, approvals={"d": True})
    assert done.output == "shipped"
    assert runs == [("timeout 10 ship", False), ("timeout 10 ship", True)]


def test_a_person_can_still_rewrite_the_call_they_approve() -> None:
    agent = Agent(ScriptedModel([[call("shell", {"command": "make"}, id="m")], "ok"]), tools=[shell], policy=POLICY)
    paused = agent.run("go")
    assert paused.paused is not None
    done = agent.run(resume=paused.paused, approvals={"m": Allow({"command": "make -n"})})
    assert done.output == "ok"
    assert RAN == ["make -n"]


def test_a_history_with_repeated_unanswered_ids_is_refused() -> None:
    history = [
        Message.user("go"),
        Message.assistant(ToolCall("d", "shell", {"command": "ls"}), ToolCall("d", "shell", {"command": "rm x"})),
    ]
    with pytest.raises(UserError, match="repeated ids"):
        Agent(ScriptedModel(["ok"]), tools=[shell], policy=POLICY).run(None, message_history=history)
    assert RAN == []


def test_podium_chat_resumes_a_run_paused_by_podium_run(cli_env: dict[str, str], tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    model = script(
        tmp_path / "s.json",
        [{"calls": [{"name": "run_shell", "args": {"command": "echo approved >> out.txt"}}]}, "Done."],
    )
    paused = podium(["run", "--model", model, "--tools", "-w", str(workspace), "--json", "write it"], cli_env)
    assert paused.returncode == 5, paused.stderr
    pending = json.loads(paused.stdout)["pending_approvals"]
    assert [p["args"] for p in pending] == [{"command": "echo approved >> out.txt"}]
    child = pexpect.spawn(
        PODIUM[0],
        [*PODIUM[1:], "chat", "--model", model, "--tools", "-w", str(workspace), "--continue"],
        env=cli_env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )
    child.logfile_read = sys.stderr
    child.expect("waiting for approval")
    child.expect(r"Allow run_shell\(")
    child.sendline("y")
    child.expect("Done.")
    child.expect("you>")
    child.sendeof()
    child.expect(pexpect.EOF)
    assert (workspace / "out.txt").read_text() == "approved\n"  # ran once, for the one approval
