"""Contracts against hostile input: glob characters and unicode in tool names, huge arguments, damaged or forged
traces, bad contract arguments; and the per-record work stays proportional to what a record adds."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

import podium.trace.prompt_rules as prompt_rules
from podium import Agent
from podium.agent.approval import ApprovalPolicy
from podium.exceptions import UserError
from podium.messages import ToolCall
from podium.testing import ScriptedModel
from podium.trace import (
    AllowTools,
    ApprovalBefore,
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
    check,
)
from tests.trace.contracts_helpers import RAN, TOOLS, assert_valid_history, bad_script, damaged, record, reply


@pytest.fixture(autouse=True)
def _clear() -> Iterator[None]:
    RAN.clear()
    yield
    RAN.clear()


def calls_trace(*names: str) -> Trace:
    """A real run whose first response calls tools with these names (most unknown to the agent)."""
    calls = [ToolCall(f"c{i}", name, {"command": "x"}) for i, name in enumerate(names)]
    return record([reply(*calls), reply()])


def flagged(trace: Trace, contract: Any) -> list[str | None]:
    """The call ids a contract flags, one check per call (each trace has one response with calls)."""
    found = check(trace, contract)
    return [v.call_id for v in found]


def test_tool_names_with_glob_characters_match_literally_and_as_globs() -> None:
    trace = calls_trace("run[1]")
    assert flagged(trace, DenyTools("run[1]")) == ["c0"]  # the exact name, although as a glob it means run1
    assert flagged(trace, AllowTools("run[1]")) == []
    assert flagged(calls_trace("run1"), DenyTools("run[1]")) == ["c0"]  # and the glob
    assert flagged(calls_trace("*"), DenyTools("shell")) == []  # a name that is a glob matches only itself
    assert flagged(calls_trace("*"), AllowTools("read")) == ["c0"]
    assert flagged(calls_trace("read*"), AllowTools("read")) == ["c0"]
    assert flagged(calls_trace("sh?ll", "shell"), DenyTools("shell")) == ["c1"]
    assert flagged(calls_trace("[!a]"), DenyTools("[!a]")) == ["c0"]
    assert flagged(calls_trace("x"), DenyTools("[!a]")) == ["c0"]


def test_look_alike_names_are_not_the_tool_but_an_allow_list_stops_them() -> None:
    cyrillic, fullwidth = "\u0455hell", "\uff53\uff48\uff45\uff4c\uff4c"
    for name in ("Shell", cyrillic, fullwidth, "shell\n", "shell\u200b", " shell"):
        trace = calls_trace(name)
        assert flagged(trace, DenyTools("shell")) == [], name
        assert flagged(trace, AllowTools("shell", "read")) == ["c0"], name
    [found] = check(calls_trace("shell\n\x1b[2J"), AllowTools("read"))
    assert '"shell\\n\\u001b[2J"' in found.message  # control characters shown escaped, not sent to a terminal


def test_a_huge_tool_name_gives_a_short_message() -> None:
    [found] = check(calls_trace("x" * 20_000), AllowTools("read"))
    assert len(str(found)) < 400 and "…" in found.message


def test_huge_and_unicode_arguments_are_matched() -> None:
    big = "é" * 2_000_000 + " 机密 rm -rf /"
    trace = record([reply(ToolCall("s1", "shell", {"command": big})), reply()])
    assert [name for name, _ in RAN] == ["shell"] and RAN[0][1] == big
    [secret] = check(trace, NoPattern("机密"))
    assert secret.step == 2 and "tool_call args" in secret.message
    [approval] = check(trace, ApprovalBefore("shell", args={"command": r"rm -rf /$"}))
    assert approval.call_id == "s1"
    assert check(trace, ApprovalBefore("shell", args={"command": r"^rm"})) == []
    [emoji] = check(record([reply(ToolCall("r1", "read", {"path": "🙂/x"})), reply()]), NoPattern("🙂"))
    assert emoji.step == 2


def test_arguments_that_look_like_encoded_values_are_read_as_given() -> None:
    args = {"$": "os:system", "command": "rm -rf /", "nested": {"$": "podium.agent.decisions:Allow"}}
    trace = record([reply(ToolCall("s1", "shell", args)), reply()], policy=ApprovalPolicy([], default="allow"))
    started = next(r for r in trace.records if r["kind"] == "tools")
    assert started["calls"][0]["args"]["$"] == "map"  # the codec escaped the model's "$" key
    [found] = check(trace, ApprovalBefore("shell", args={"command": "^rm"}))
    assert found.call_id == "s1"
    [found] = check(trace, ApprovalBefore("shell", args=r'"\$": "os:system"'))
    assert found.call_id == "s1"


def test_a_forged_approval_is_not_taken() -> None:
    trace = record(
        [reply(ToolCall("w1", "write", {"path": "a", "text": "b"})), reply()],
        policy=ApprovalPolicy([], default="allow"),
    )

    def forge(kind: str, cls: str) -> Any:
        def edit(records: list[dict[str, Any]]) -> None:
            index = next(i for i, r in enumerate(records) if r["kind"] == "tools")
            decision = {"$": f"podium.agent.decisions:{cls}", "args": None, "reason": "x", "kind": kind}
            records.insert(
                index, {"kind": "decision", "call_id": "w1", "tool": "write", "decision": decision, "source": "user"}
            )

        return edit

    assert check(damaged(trace, forge("allow", "Allow")), ApprovalBefore("write")) == []
    for kind, cls in (("allow", "Deny"), ("deny", "Allow"), ("ask", "Ask"), ("", "Allow")):
        [found] = check(damaged(trace, forge(kind, cls)), ApprovalBefore("write"))
        assert found.call_id == "w1", (kind, cls)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: NoPattern("("), "not a valid regular expression"),
        (lambda: NoPattern(), "at least one regular expression"),
        (lambda: NoSecrets(""), "non-empty string"),
        (lambda: ApprovalBefore("x", args={"a": "[z"}), "args['a']"),
        (lambda: ApprovalBefore("x", args={}), "args="),
        (lambda: ApprovalBefore("x", sources="user"), "sources"),
        (lambda: ApprovalBefore(""), "non-empty"),
        (lambda: DenyTools(), "at least one"),
        (lambda: DenyTools("a", 3), "not 3"),
        (lambda: MaxSteps(-1), ">= 0"),
        (lambda: MaxSteps(True), "not True"),
        (lambda: MaxSteps(2.5), "integer"),
        (lambda: MaxCost(float("nan")), "nan"),
        (lambda: MaxCost(float("inf")), "inf"),
        (lambda: MaxCost(1, unknown="maybe"), "unknown"),
        (lambda: MaxTokens(), "at least one"),
        (lambda: MaxToolCalls(), "needs a limit"),
        (lambda: MaxToolCalls(per_tool={"x": -2}), "per_tool['x']"),
        (lambda: ToolAfter("a", after=""), "non-empty"),
    ],
)
def test_bad_contract_arguments_are_refused_clearly(make: Any, words: str) -> None:
    with pytest.raises(UserError) as info:
        make()
    assert words in str(info.value)


def test_unknown_prices_pass_or_fail_as_asked() -> None:
    trace = record([reply(ToolCall("r1", "read", {"path": "a"}), cost=None), reply(cost=0.5)])  # type: ignore[arg-type]
    assert check(trace, MaxCost(1)) == []
    [found] = check(trace, MaxCost(1, unknown="fail"))
    assert found.step == 1 and "unknown" in found.message


ALL = [
    lambda: AllowTools("read"),
    lambda: DenyTools("shell"),
    lambda: MaxSteps(1),
    lambda: MaxToolCalls(1, per_tool={"w*": 0}),
    lambda: EveryCallAnswered(),
    lambda: MaxCost(0.01),
    lambda: MaxTokens(total=10),
    lambda: NoSecrets("x"),
    lambda: ToolAfter("write", after="shell"),
    lambda: ApprovalBefore("*", args={"path": "."}),
]

_JUNK: list[Any] = [None, 7, -1, True, "", "x", [], {}, [1, "a"], {"$": "error"}, {"$": "os:system"}, 1e308]


def _mutate(value: Any, rng: random.Random) -> Any:
    """``value`` with one random field replaced by junk or removed, somewhere inside it."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        if rng.random() < 0.3:
            value.pop(key)
        elif rng.random() < 0.5 and isinstance(value[key], dict | list):
            _mutate(value[key], rng)
        else:
            value[key] = rng.choice(_JUNK)
    elif isinstance(value, list) and value:
        index = rng.randrange(len(value))
        if isinstance(value[index], dict | list) and rng.random() < 0.7:
            _mutate(value[index], rng)
        else:
            value[index] = rng.choice(_JUNK)
    return value


def test_damaged_traces_give_violations_never_crashes() -> None:
    base = record(bad_script())
    rng = random.Random(1414)
    for _ in range(250):
        records = json.loads(json.dumps(base.records))
        for _ in range(rng.randint(1, 4)):
            target = rng.choice(records)
            _mutate(target, rng)
        trace = Trace()
        trace.records = records
        check(trace, *(make() for make in ALL))  # raises nothing but a violation list
        contracts = [make() for make in ALL]
        for record_ in records:  # and as monitors, record by record
            for contract in contracts:
                result = contract(trace, record_)
                assert result is None or isinstance(result, ContractViolation)


def test_the_work_per_request_is_proportional_to_what_it_adds(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {"strings": 0, "roles": 0}
    real_strings, real_role = prompt_rules.message_strings, prompt_rules._role

    def count_strings(message: Any) -> Any:
        seen["strings"] += 1
        return real_strings(message)

    def count_roles(message: Any) -> str:
        seen["roles"] += 1
        return real_role(message)

    monkeypatch.setattr(prompt_rules, "message_strings", count_strings)
    monkeypatch.setattr(prompt_rules, "_role", count_roles)
    steps = 300
    script = [reply(ToolCall(f"r{i}", "read", {"path": str(i)})) for i in range(steps - 1)] + [reply()]
    trace = Trace()
    agent = Agent(
        ScriptedModel(script), tools=TOOLS, contracts=[NoSecrets("never"), EveryCallAnswered()], max_steps=steps
    )
    assert agent.run("go", trace=trace).output == "done"
    messages = 1 + 2 * (steps - 1)  # the prompt, then an assistant message and a tool message per turn
    assert seen["strings"] == messages  # each message scanned once, when it was added
    assert seen["roles"] < 8 * messages  # not a walk over the whole prompt at each of the 300 requests


def test_a_stopped_run_with_a_huge_forbidden_call_keeps_a_valid_history() -> None:
    script = [
        reply(ToolCall("r1", "read", {"path": "a"})),
        reply(ToolCall("s1", "shell", {"command": "y" * 1_000_000})),
    ]
    with pytest.raises(ContractViolation) as info:
        Agent(ScriptedModel(script), tools=TOOLS, contracts=[DenyTools("shell")]).run("go")
    assert RAN == [("read", "a")]
    assert len(str(info.value)) < 400
    assert_valid_history(info.value.messages)
