"""Contracts after the fact: each kind catches its violation in a recorded run and names the step; good runs pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium import Agent, tool
from podium.agent.approval import ApprovalPolicy, Rule
from podium.exceptions import AgentRunError, UserError
from podium.messages import ToolCall
from podium.testing import ScriptedModel
from podium.trace import (
    AllowTools,
    ApprovalBefore,
    ContractAssertionError,
    ContractViolation,
    DenyTools,
    EveryCallAnswered,
    MaxCost,
    MaxSteps,
    MaxTokens,
    MaxToolCalls,
    NoPattern,
    NoSecrets,
    ToolAfter,
    Trace,
    Violation,
    assert_contracts,
    check,
)
from tests.trace.contracts_helpers import (
    ASK_WRITES,
    RAN,
    TOOLS,
    approve_all,
    bad_script,
    damaged,
    good_script,
    record,
    reply,
)


@pytest.fixture(autouse=True)
def _clear() -> Iterator[None]:
    RAN.clear()
    yield
    RAN.clear()


@pytest.fixture(scope="module")
def good() -> Trace:
    return record(good_script(), policy=ASK_WRITES, approver=approve_all)


@pytest.fixture(scope="module")
def bad() -> Trace:
    return record(bad_script())


def all_kinds_passing() -> list[Any]:
    return [
        AllowTools("read", "write"),
        DenyTools("shell", "rm*"),
        MaxSteps(3),
        MaxToolCalls(2, per_tool={"read": 1, "write": 1}),
        EveryCallAnswered(),
        MaxCost(0.3),  # three responses of 0.1: a float sum of 0.30000000000000004 is not over
        MaxTokens(total=360, input=300, output=60),
        NoSecrets(r"\brm\b"),
        NoPattern(r"(?i)password"),
        ToolAfter("write", after="read"),
        ApprovalBefore("write"),
        ApprovalBefore("write", args={"path": r"\.txt$"}),
    ]


def test_a_passing_trace_passes_every_kind(good: Trace, tmp_path: Path) -> None:
    assert check(good, *all_kinds_passing()) == []
    assert_contracts(good, *all_kinds_passing())
    saved = good.save(tmp_path / "run.jsonl")  # the same from the JSONL file
    assert check(saved, *all_kinds_passing()) == []
    assert check(str(saved), *all_kinds_passing()) == []
    assert check(good.to_jsonl(), *all_kinds_passing()) == []  # JSONL text
    assert check(list(good.records), *all_kinds_passing()) == []  # a list of records


# (contract, step, record kind, call id, words in the message)
CAUGHT = [
    (DenyTools("shell"), 2, "response", "s1", 'tool "shell"'),
    (DenyTools("sh*"), 2, "response", "s1", 'deny list forbids ("sh*")'),
    (AllowTools("read", "write"), 2, "response", "s1", "not allowed"),
    (AllowTools(), 1, "response", "r1", "allowed: none"),
    (MaxSteps(2), 3, "request", None, "model request 3"),
    (MaxToolCalls(2), 2, "response", "w1", "tool call 3 of the run"),
    (MaxToolCalls(per_tool={"read": 0}), 1, "response", "r1", 'call 1 of "read"'),
    (MaxToolCalls(10, per_tool={"s*": 1, "w*": 0}), 2, "response", "w1", 'call 1 of "w*"'),
    (MaxCost(0.15), 2, "response", None, "$0.2"),
    (MaxTokens(input=150), 2, "response", None, "200 input tokens"),
    (MaxTokens(output=50), 3, "response", None, "60 output tokens"),
    (MaxTokens(total=300), 3, "response", None, "360 total tokens"),
    (NoPattern(r"rm\s+-rf"), 3, "request", None, "prompt message 4 (assistant), tool_call args"),
    (NoSecrets(r"out\.txt"), 3, "request", None, "tool_call args"),
    (ToolAfter("shell", after="write"), 2, "response", "s1", 'before a call of "write" returned ok'),
    (ToolAfter("*", after="nothing"), 1, "response", "r1", "before a call"),
    (ApprovalBefore("write"), 2, "tools", "w1", "without a person's approval"),
    (ApprovalBefore("*", args={"command": r"\brm\b"}), 2, "tools", "s1", '"shell"'),
    (ApprovalBefore("shell", args=r'"command": "rm'), 2, "tools", "s1", "approval"),
]


@pytest.mark.parametrize(("contract", "step", "kind", "call_id", "words"), CAUGHT, ids=[c[0].rule for c in CAUGHT])
def test_each_kind_catches_its_violation_and_names_the_step(
    bad: Trace, contract: Any, step: int, kind: str, call_id: str | None, words: str
) -> None:
    [found] = check(bad, contract)
    assert (found.rule, found.step, found.record_kind, found.call_id) == (contract.rule, step, kind, call_id)
    assert bad.records[found.seq]["kind"] == kind
    assert words in found.message
    text = str(found)
    assert text.startswith(f"{contract.rule} broken at step {step} (trace record {found.seq}, {kind})")


def test_the_violation_is_the_first_one_and_check_orders_them(bad: Trace) -> None:
    found = check(bad, MaxSteps(2), DenyTools("shell", "write"), MaxCost(0.15))
    assert [v.rule for v in found] == ["DenyTools('shell', 'write')", "MaxCost(0.15)", "MaxSteps(2)"]
    assert found[0].call_id == "s1"  # the first denied call of the response, not the second
    assert [v.seq for v in found] == sorted(v.seq for v in found)


def test_assert_contracts_raises_a_readable_error_listing_all(bad: Trace) -> None:
    with pytest.raises(ContractAssertionError) as info:
        assert_contracts(bad, DenyTools("shell"), MaxSteps(2), AllowTools("*"))
    error = info.value
    assert isinstance(error, AssertionError) and isinstance(error, ContractViolation)
    assert isinstance(error, AgentRunError)
    assert (error.rule, error.step) == ("DenyTools('shell')", 2)
    assert [v.rule for v in error.violations] == ["DenyTools('shell')", "MaxSteps(2)"]
    lines = str(error).splitlines()
    assert lines[0] == "2 contract violation(s) in the trace:"
    assert lines[1].startswith("- DenyTools('shell') broken at step 2 (trace record ")
    assert "MaxSteps(2) broken at step 3" in lines[2]


def test_check_needs_a_contract_and_a_trace(bad: Trace, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="at least one contract"):
        check(bad)
    assert [v.step for v in check(bad.to_jsonl(), MaxSteps(2))] == [3]
    with pytest.raises(UserError, match="a list of records, not int"):
        check(42, MaxSteps(1))  # type: ignore[arg-type]
    with pytest.raises(Exception, match="cannot read the trace"):
        check(tmp_path / "missing.jsonl", MaxSteps(1))


def test_a_plain_callable_works_as_a_contract(bad: Trace) -> None:
    def no_writes(trace: Trace, record: dict[str, Any]) -> Exception | None:
        if record["kind"] == "tools" and any(c["name"] == "write" for c in record["calls"]):
            return ValueError("writes are not allowed")
        return None

    [found] = check(bad, no_writes)
    assert (found.rule, found.step, found.record_kind) == ("no_writes", 2, "tools")
    assert found.message == "ValueError: writes are not allowed"


# --------------------------------------------------------------------------- every call answered


def test_every_call_answered_holds_for_real_runs(good: Trace, bad: Trace) -> None:
    assert check(good, EveryCallAnswered()) == []
    assert check(bad, EveryCallAnswered()) == []


def _drop_result(records: list[dict[str, Any]]) -> None:
    request = [r for r in records if r["kind"] == "request"][2]
    tool_message = request["messages"]["add"][-1]
    tool_message["parts"] = tool_message["parts"][:1]


def _twice(records: list[dict[str, Any]]) -> None:
    request = [r for r in records if r["kind"] == "request"][2]
    tool_message = request["messages"]["add"][-1]
    tool_message["parts"].append(tool_message["parts"][0])


def _orphan(records: list[dict[str, Any]]) -> None:
    request = [r for r in records if r["kind"] == "request"][1]
    request["messages"]["add"][-1]["parts"][0]["call_id"] = "ghost"


def _no_tool_record(records: list[dict[str, Any]]) -> None:
    index = next(i for i, r in enumerate(records) if r["kind"] == "tool" and r["call_id"] == "w1")
    del records[index]


def _tool_record_twice(records: list[dict[str, Any]]) -> None:
    index = next(i for i, r in enumerate(records) if r["kind"] == "tool" and r["call_id"] == "w1")
    records.insert(index, dict(records[index]))


def _unstarted_result(records: list[dict[str, Any]]) -> None:
    tool_record = next(r for r in records if r["kind"] == "tool" and r["call_id"] == "r1")
    tool_record["call_id"] = "x9"


def _last_turn_unanswered(records: list[dict[str, Any]]) -> None:  # the run "ends" with a started call pending
    end = records.pop()
    while records[-1]["kind"] != "tool":
        records.pop()
    records.pop()
    records.append(end)


BROKEN = [
    (_drop_result, 3, "request", "w1", 'call "w1" of prompt message 4 has no result in the prompt'),
    (_twice, 3, "request", "s1", "has 2 results"),
    (_orphan, 2, "request", "r1", 'call "r1" of prompt message 2 has no result'),
    (_no_tool_record, 3, "request", "w1", "started but got no result before the next model request"),
    (_tool_record_twice, 2, "tool", "w1", 'a second tool result for call "w1"'),
    (_unstarted_result, 1, "tool", "x9", "which the turn did not start"),
    (_last_turn_unanswered, 2, "end", "w1", "before the run ended"),
]


@pytest.mark.parametrize(("edit", "step", "kind", "call_id", "words"), BROKEN, ids=[b[0].__name__ for b in BROKEN])
def test_every_call_answered_catches_each_way_to_break_it(
    bad: Trace, edit: Any, step: int, kind: str, call_id: str, words: str
) -> None:
    broken = damaged(bad, edit)
    [found] = check(broken, EveryCallAnswered())
    assert (found.step, found.record_kind, found.call_id) == (step, kind, call_id)
    assert words in found.message


def test_a_result_for_no_call_in_the_prompt_is_caught(bad: Trace) -> None:
    def extra(records: list[dict[str, Any]]) -> None:
        request = [r for r in records if r["kind"] == "request"][2]
        part = dict(request["messages"]["add"][-1]["parts"][0], call_id="zz")
        request["messages"]["add"][-1]["parts"].append(part)

    [found] = check(damaged(bad, extra), EveryCallAnswered())
    assert found.step == 3 and found.call_id == "zz"
    assert "which message 4 did not make" in found.message


def test_a_damaged_prompt_reference_is_reported_not_crashed(bad: Trace) -> None:
    def rebase(records: list[dict[str, Any]]) -> None:
        [r for r in records if r["kind"] == "request"][2]["messages"]["base"] = 0

    for contract in (EveryCallAnswered(), NoSecrets()):
        [found] = check(damaged(bad, rebase), contract)
        assert "the trace is damaged" in found.message and found.step == 3


def test_denied_and_unknown_calls_are_answered_by_the_loop() -> None:
    policy = ApprovalPolicy([Rule("deny", tool="shell", reason="no")], default="allow")
    script = [
        reply(ToolCall("s1", "shell", {"command": "ls"}), ToolCall("u1", "no_such_tool", {})),
        reply(ToolCall("r1", "read", {"path": "a"})),
        reply(),
    ]
    trace = record(script, policy=policy)
    assert RAN == [("read", "a")]
    assert check(trace, EveryCallAnswered()) == []
    assert [v.rule for v in check(trace, DenyTools("shell"), AllowTools("read", "shell"))] == [
        "DenyTools('shell')",
        "AllowTools('read', 'shell')",
    ]


# --------------------------------------------------------------------------- approvals, ordering, resume


def test_a_policy_allow_is_not_a_persons_approval() -> None:
    trace = record(good_script(), policy=ApprovalPolicy([], default="allow"))
    [found] = check(trace, ApprovalBefore("write"))
    assert (found.step, found.record_kind, found.call_id) == (2, "tools", "w1")
    assert check(trace, ApprovalBefore("write", sources=("user", "approver", "policy"))) == []


def test_an_approval_for_another_call_does_not_count() -> None:
    script = [
        reply(
            ToolCall("w1", "write", {"path": "a.txt", "text": "x"}),
            ToolCall("w2", "write", {"path": "b.md", "text": "y"}),
        ),
        reply(),
    ]
    policy = ApprovalPolicy([Rule("ask", tool="write", args={"path": r"\.txt$"})], default="allow")
    trace = record(script, policy=policy, approver=approve_all)
    assert check(trace, ApprovalBefore("write", args={"path": r"\.txt$"})) == []
    [found] = check(trace, ApprovalBefore("write"))
    assert found.call_id == "w2"


def test_ordering_counts_only_calls_that_returned_ok() -> None:
    @tool
    def run_tests() -> str:
        """Run the tests."""
        raise RuntimeError("2 failed")

    @tool
    def deploy() -> str:
        """Deploy."""
        return "deployed"

    script = [reply(ToolCall("t1", "run_tests", {})), reply(ToolCall("d1", "deploy", {})), reply()]
    trace = Trace()
    Agent(ScriptedModel(script), tools=[run_tests, deploy]).run("ship", trace=trace)
    [found] = check(trace, ToolAfter("deploy", after="run_tests"))
    assert (found.step, found.call_id) == (2, "d1")


def test_a_resumed_run_keeps_counting_and_sees_the_users_approval() -> None:
    policy = ApprovalPolicy([Rule("ask", tool="write")], default="allow")
    first = ScriptedModel(
        [reply(ToolCall("r1", "read", {"path": "a"}), ToolCall("w1", "write", {"path": "b", "text": "c"}))]
    )
    paused = Agent(first, tools=TOOLS, policy=policy).run("go")
    assert paused.status == "paused" and paused.paused is not None
    trace = Trace()
    agent = Agent(ScriptedModel([reply(ToolCall("r2", "read", {"path": "z"})), reply()]), tools=TOOLS, policy=policy)
    agent.run(resume=paused.paused, approvals={"w1": True}, trace=trace)
    assert RAN == [("read", "a"), ("write", "b"), ("read", "z")]
    assert check(trace, ApprovalBefore("write"), EveryCallAnswered(), ToolAfter("write", after="read")) == []
    assert check(trace, MaxToolCalls(3), MaxCost(0.3), MaxTokens(input=300), MaxSteps(3)) == []
    # the paused run's cost, tokens and calls count: 0.1 before the pause, 0.1 for each response after
    [cost] = check(trace, MaxCost(0.15))
    assert cost.step == 2 and "$0.2" in cost.message
    [tokens] = check(trace, MaxTokens(input=150))
    assert tokens.step == 2
    [calls] = check(trace, MaxToolCalls(2))  # r1 and w1 of the paused turn, then r2
    assert (calls.record_kind, calls.step, calls.call_id) == ("response", 2, "r2")
    assert "tool call 3 of the run" in calls.message
    [per_tool] = check(trace, MaxToolCalls(per_tool={"read": 1}))
    assert per_tool.call_id == "r2"
    [denied] = check(trace, DenyTools("write"))  # a call the resumed run starts is checked where it starts
    assert (denied.record_kind, denied.step, denied.call_id) == ("tools", 1, "w1")
    [steps] = check(trace, MaxSteps(2))
    assert steps.step == 3


# --------------------------------------------------------------------------- secrets


def test_a_secret_a_tool_returned_is_caught_before_it_is_sent() -> None:
    import podium.secrets

    secret = "vault-token-5Xq9Lm2Pz7"

    @tool
    def env_dump() -> str:
        """Show the environment."""
        return f"HOME=/home/me\nVAULT={secret}"

    podium.secrets.register(secret, name="vault")
    try:
        trace = Trace()
        Agent(ScriptedModel([reply(ToolCall("e1", "env_dump", {})), reply()]), tools=[env_dump]).run(
            "look", trace=trace
        )
        assert secret not in trace.to_jsonl()
        [found] = check(trace, NoSecrets())
        assert (found.step, found.record_kind) == (2, "request")
        assert "[REDACTED:vault]" in found.message and "prompt message 3 (tool)" in found.message
        assert secret not in str(found)
        assert check(trace, NoSecrets(markers=False)) == []  # scrubbed: only the marker shows it
    finally:
        podium.secrets.unregister(secret)


def test_secrets_and_credential_shapes_in_a_trace_that_was_not_scrubbed(good: Trace) -> None:
    import podium.secrets

    secret = "db-password-77aa91kk"
    records = [dict(r) for r in good.records]
    request = next(r for r in records if r["kind"] == "request")
    request["messages"] = {"all": [{"role": "user", "parts": [{"type": "text", "text": f"use {secret} please"}]}]}
    raw = Trace()
    raw.records = records  # as a hand-made trace would be: nothing scrubbed it
    podium.secrets.register(secret, name="db")
    try:
        [found] = check(raw, NoSecrets(markers=False))
        assert "known secret (db)" in found.message and secret not in str(found)
    finally:
        podium.secrets.unregister(secret)
    assert check(raw, NoSecrets(markers=False)) == []
    request["messages"] = {
        "all": [{"role": "user", "parts": [{"type": "text", "text": "key sk-proj-abcdefghijklmnopqrstuvwxyz0123"}]}]
    }
    [found] = check(raw, NoSecrets(markers=False))
    assert "shaped like a credential" in found.message
    assert check(raw, NoSecrets(markers=False, shapes=False)) == []


def test_patterns_are_looked_for_in_tool_definitions_too(bad: Trace) -> None:
    [found] = check(bad, NoPattern(r"^Run a command\.$"))
    assert found.step == 1 and 'the definition of tool "shell"' in found.message


def test_violation_is_plain_data() -> None:
    v = Violation("R", "m", 3, None, "decision", "c1", "t")
    assert v.where == "before the first model request (trace record 3, decision)"
    assert str(v) == "R broken at before the first model request (trace record 3, decision): m"


def test_the_docs_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    doc = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 2
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(doc), "exec"), namespace)
    assert "DenyTools('shell') broken at step 2" in capsys.readouterr().out


def test_violations_survive_pickling(bad: Trace) -> None:
    import pickle

    with pytest.raises(ContractAssertionError) as info:
        assert_contracts(bad, DenyTools("shell"), MaxSteps(2))
    again = pickle.loads(pickle.dumps(info.value))
    assert (type(again), str(again), again.violations) == (
        ContractAssertionError,
        str(info.value),
        info.value.violations,
    )
    single = ContractViolation(info.value.violation, messages=[])
    copy = pickle.loads(pickle.dumps(single))
    assert (copy.rule, copy.step, copy.seq, str(copy)) == (single.rule, 2, single.seq, str(single))
