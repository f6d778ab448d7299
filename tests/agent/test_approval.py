"""Approval and governance: policies, pause/resume (also across processes), approvers, hooks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, AgentHooks, ApprovalRequired, tool
from podium.agent.approval import (
    Allow,
    ApprovalPolicy,
    ApprovalRequest,
    Ask,
    Deny,
    PausedRun,
    Rule,
)
from podium.agent.events import ApprovalDecided, ApprovalRequested, RunPaused
from podium.exceptions import UserError
from podium.messages import Message, ToolCall, load_messages
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.tools import RunContext
from podium.tools.commands import parse_command

HERE = Path(__file__).parent


@tool(metadata={"command_param": "command"})
def shell(command: str) -> str:
    """Pretend to run a command."""
    return f"ran: {command}"


@tool(metadata={"path_params": ("path",)})
def write_file(path: str, text: str) -> str:
    """Pretend to write a file."""
    return f"wrote {path}"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("rm -rf /", [["rm", "-rf", "/"]]),
        ("rm  -rf   /", [["rm", "-rf", "/"]]),
        ("/bin/rm -rf /", [["rm", "-rf", "/"]]),
        (
            "sudo -E nice -n 5 rm -rf x",
            [
                ["sudo", "-E", "nice", "-n", "5", "rm", "-rf", "x"],
                ["nice", "-n", "5", "rm", "-rf", "x"],
                ["rm", "-rf", "x"],
            ],
        ),
        ("ls && rm -rf x; echo ok | tee f", [["ls"], ["rm", "-rf", "x"], ["echo", "ok"], ["tee", "f"]]),
        ("bash -c 'rm -rf x'", [["bash", "-c", "rm -rf x"], ["rm", "-rf", "x"]]),
        ("echo $(rm -rf x)", [["echo", "$"], ["rm", "-rf", "x"]]),
        ("timeout 5 rm -rf x", [["timeout", "5", "rm", "-rf", "x"], ["rm", "-rf", "x"]]),
        ("'r''m' -rf x", [["rm", "-rf", "x"]]),
    ],
)
def test_commands_are_parsed_into_argv(command: str, expected: list[list[str]]) -> None:
    assert [list(argv) for argv in parse_command(command).commands] == expected


@pytest.mark.parametrize(
    "command", ["rm -rf /", "rm  -rf /", "/bin/rm -rf /", "sudo rm -rf /", "bash -c 'rm -rf /'", "ls; rm -fr /x"]
)
def test_deny_rule_is_not_beaten_by_spacing_paths_or_wrappers(command: str) -> None:
    policy = ApprovalPolicy(
        [
            Rule("deny", command="rm -r*", reason="no recursive delete"),
            Rule("deny", command="rm -f*", reason="no forced delete"),
        ]
    )
    assert isinstance(policy.decide(ToolCall("1", "shell", {"command": command}), shell), Deny)


def test_argv_match_is_not_a_substring_match() -> None:
    policy = ApprovalPolicy([Rule("deny", command="rm *")])
    assert isinstance(policy.decide(ToolCall("1", "shell", {"command": "echo rm -rf"}), shell), Allow)
    assert isinstance(policy.decide(ToolCall("1", "shell", {"command": "firmware-update"}), shell), Allow)


def test_unparseable_or_opaque_command_is_asked_about() -> None:
    policy = ApprovalPolicy([Rule("deny", command="rm *")])
    for command in ("echo 'unbalanced", "eval $CMD"):
        decision = policy.decide(ToolCall("1", "shell", {"command": command}), shell)
        assert isinstance(decision, Ask)
        assert "cannot be checked" in decision.reason


def test_path_rules_resolve_real_paths(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "ws2").mkdir()
    os.symlink("/etc", ws / "etc_link")
    policy = ApprovalPolicy([Rule("allow", tool="write_file", paths="inside")], default="deny", workspace=ws)

    def decide(path: str) -> str:
        return policy.decide(ToolCall("1", "write_file", {"path": path, "text": ""}), write_file).kind

    assert decide("notes.txt") == "allow"
    assert decide(str(ws / "a" / "b.txt")) == "allow"
    assert decide("../ws2/x") == "deny"
    assert decide("./a/../../x") == "deny"
    assert decide("etc_link/passwd") == "deny"
    assert decide("/etc/passwd") == "deny"


def test_argument_patterns_and_rewrite() -> None:
    policy = ApprovalPolicy(
        [
            Rule("deny", tool="write_*", args={"text": r"(?i)password"}, reason="no secrets"),
            Rule("allow", tool="shell", rewrite=lambda a: {"command": f"timeout 10 {a['command']}"}),
        ]
    )
    assert policy.decide(ToolCall("1", "write_file", {"path": "a", "text": "my Password"}), write_file) == Deny(
        "no secrets"
    )
    decision = policy.decide(ToolCall("1", "shell", {"command": "make"}), shell)
    assert isinstance(decision, Allow)
    assert decision.args == {"command": "timeout 10 make"}


def three_calls() -> ScriptedModel:
    return ScriptedModel(
        [
            [
                call("shell", {"command": "ls"}, id="a"),
                call("shell", {"command": "rm -rf x"}, id="b"),
                call("shell", {"command": "make"}, id="c"),
            ],
            "done",
        ]
    )


POLICY = ApprovalPolicy([Rule("allow", command="ls"), Rule("deny", command="rm *", reason="no"), Rule("ask", tool="*")])


def test_ask_pauses_the_run_and_resume_finishes_it() -> None:
    model = three_calls()
    agent = Agent(model, tools=[shell], policy=POLICY)
    stream = agent.stream("clean up")
    events = list(stream)
    paused = stream.result
    assert paused.status == "paused"
    with pytest.raises(UserError, match="paused waiting for approvals"):
        _ = paused.output
    assert [r.call_id for r in paused.pending_approvals] == ["c"]
    decided = [(e.call.id, e.decision.kind, e.source) for e in events if isinstance(e, ApprovalDecided)]
    assert decided == [("a", "allow", "policy"), ("b", "deny", "policy"), ("c", "ask", "policy")]
    assert [e.request.call_id for e in events if isinstance(e, ApprovalRequested)] == ["c"]
    assert isinstance(events[-1], RunPaused)
    # the allowed call ran, the denied one has its result, both kept in the paused state
    assert paused.paused is not None
    completed = {r.call_id: r for r in paused.paused.completed}
    assert completed["a"].text == "ran: ls"
    assert completed["b"].is_error
    assert completed["b"].text == "Denied: no"
    assert paused.messages[-1].role == "assistant"

    done = agent.run(resume=paused.paused, approvals={"c": True})
    assert done.output == "done"
    tool_message = done.messages[2]
    assert [r.call_id for r in tool_message.tool_results] == ["a", "b", "c"]
    assert [r.text for r in tool_message.tool_results] == ["ran: ls", "Denied: no", "ran: make"]
    assert len(model.requests) == 2


def test_new_prompt_on_a_paused_history_is_refused() -> None:
    agent = Agent(three_calls(), tools=[shell], policy=POLICY)
    paused = agent.run("go")
    with pytest.raises(UserError, match="no results"):
        agent.run("something else", message_history=paused.messages)
    with pytest.raises(UserError, match="not pending"):
        agent.run(resume=paused.paused, approvals={"zzz": True})


def test_approval_round_trip_through_json_in_a_new_process(tmp_path: Path) -> None:
    sys.path.insert(0, str(HERE))
    try:
        import approval_app
    finally:
        sys.path.remove(str(HERE))
    paused = approval_app.first_agent().run("tidy the repo")
    assert paused.status == "paused"
    assert paused.paused is not None
    assert sorted(r.call_id for r in paused.pending_approvals) == ["c2", "c3"]
    state = tmp_path / "paused.json"
    state.write_text(paused.paused.to_json())
    assert PausedRun.from_json(state.read_text()) == paused.paused

    out = tmp_path / "messages.json"
    log = tmp_path / "ran.log"
    subprocess.run(
        [sys.executable, str(HERE / "approval_app.py"), str(state), str(out)],
        env={**os.environ, "APPROVAL_APP_LOG": str(log)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    messages = load_messages(out.read_text())
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    results = messages[2].tool_results
    assert [r.call_id for r in results] == ["c1", "c2", "c3"]
    assert results[0].text == "ran: ls -la"  # ran before the pause, in the first process
    assert results[1].is_error
    assert results[1].text == "Denied: not today"
    assert results[2].text == "ran: echo hi"
    assert log.read_text() == "echo hi\n"  # the new process ran only the approved call
    assert messages[-1].text == "Listed and echoed; the delete was refused."


def test_approver_callback_answers_at_once_sync_and_async() -> None:
    asked: list[str] = []

    def approver(request: ApprovalRequest) -> bool:
        asked.append(request.call.args["command"])
        return request.call.args["command"] != "make"

    result = Agent(three_calls(), tools=[shell], policy=POLICY, approver=approver).run("go")
    assert result.output == "done"
    assert asked == ["make"]
    assert result.messages[2].tool_results[2].text == "Denied: denied by the user"

    async def aapprover(request: ApprovalRequest) -> Allow:
        await asyncio.sleep(0)
        return Allow({"command": "make -n"})

    async def main() -> None:
        r = await Agent(three_calls(), tools=[shell], policy=POLICY).arun("go", approver=aapprover)
        assert r.messages[2].tool_results[2].text == "ran: make -n"

    asyncio.run(main())


def test_tool_raising_approval_required_pauses_then_reruns_approved() -> None:
    runs: list[bool] = []

    @tool
    def deploy(ctx: RunContext[None], env: str) -> str:
        """Deploy."""
        runs.append(ctx.approved)
        if env == "prod" and not ctx.approved:
            raise ApprovalRequired("deploying to prod")
        return f"deployed {env}"

    model = ScriptedModel([[call("deploy", {"env": "prod"}, id="d1")], "shipped"])
    agent = Agent(model, tools=[deploy])
    paused = agent.run("ship it")
    assert paused.status == "paused"
    assert paused.pending_approvals[0].reason == "deploying to prod"
    done = agent.run(resume=paused.paused, approvals={"d1": True})
    assert done.output == "shipped"
    assert runs == [False, True]
    assert done.messages[2].tool_results[0].text == "deployed prod"


class DenyProd(AgentHooks):
    def before_tool_call(self, ctx: RunContext[Any], call: ToolCall) -> Deny | None:
        return Deny("hooks say no") if "prod" in str(call.args) else None


def test_hooks_can_deny() -> None:
    model = ScriptedModel([[call("shell", {"command": "deploy prod"})], "ok"])
    result = Agent(model, tools=[shell], hooks=[DenyProd()]).run("go")
    assert result.messages[2].tool_results[0].text == "Denied: hooks say no"


def test_resume_from_plain_history_reevaluates() -> None:
    model = ScriptedModel(["finished"])
    history = [Message.user("go"), Message.assistant(ToolCall("x1", "shell", {"command": "ls"}))]
    result = Agent(model, tools=[shell]).run(None, message_history=history)
    assert result.output == "finished"
    assert result.messages[2].tool_results[0].text == "ran: ls"


def test_resumed_run_keeps_usage_and_cost() -> None:
    from podium.messages import ModelResponse, Text
    from podium.usage import Usage

    first = ModelResponse((ToolCall("k1", "shell", {"command": "make"}),), usage=Usage(10, 2, requests=1), cost=0.5)
    second = ModelResponse((Text("built"),), usage=Usage(20, 3, requests=1), cost=0.25)
    agent = Agent(ScriptedModel([first]), tools=[shell], policy=POLICY)
    paused = agent.run("build")
    assert paused.paused is not None
    restored = PausedRun.from_json(paused.paused.to_json())
    assert restored.cost == 0.5
    done = Agent(ScriptedModel([second]), tools=[shell], policy=POLICY).run(resume=restored, approvals={"k1": True})
    assert done.usage.requests == 2
    assert done.cost == 0.75
