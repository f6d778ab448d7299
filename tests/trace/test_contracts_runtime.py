"""Contracts at run time: a violation stops a real run with ContractViolation and a valid history; the forbidden
call never runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import podium.secrets
from podium import Agent, tool
from podium.agent.approval import ApprovalPolicy, Rule
from podium.messages import Message, ToolCall
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
from podium.trace.codec import decode_error
from tests.trace.contracts_helpers import RAN, TOOLS, assert_valid_history, bad_script, good_script, reply


@pytest.fixture(autouse=True)
def _clear() -> Iterator[None]:
    RAN.clear()
    yield
    RAN.clear()


def stopped(model: ScriptedModel, *contracts: Any, trace: Trace | None = None, **agent: Any) -> ContractViolation:
    """Run until a contract stops the run; the violation (its history checked valid)."""
    with pytest.raises(ContractViolation) as info:
        Agent(model, tools=TOOLS, contracts=list(contracts), **agent).run("tidy up", trace=trace)
    assert_valid_history(info.value.messages)
    return info.value


def test_a_denied_tool_in_a_response_stops_the_run_before_it_runs() -> None:
    model = ScriptedModel(bad_script())
    trace = Trace()
    error = stopped(model, DenyTools("shell"), trace=trace)
    assert (error.rule, error.step) == ("DenyTools('shell')", 2)
    assert error.violation.call_id == "s1"
    assert RAN == [("read", "notes.txt")]  # neither call of the violating response ran, shell least of all
    assert len(model.requests) == 2
    # the history ends before the violating response: the first turn, answered
    assert [m.role for m in error.messages] == ["user", "assistant", "tool"]
    assert not any(c.name == "shell" for m in error.messages for c in m.tool_calls)
    # the trace holds the response that broke the rule, then the end with the violation
    assert trace.records[error.seq]["kind"] == "response"
    end = trace.end
    assert end is not None and end["status"] == "error"
    again = decode_error(end["error"])
    assert isinstance(again, ContractViolation)
    assert (again.rule, again.step, again.seq) == (error.rule, 2, error.seq)
    # the recorded trace, checked after the fact, names the same step
    [found] = check(trace, DenyTools("shell"))
    assert (found.step, found.seq) == (2, error.seq)


@pytest.mark.parametrize("mode", ["run", "stream", "arun", "astream"])
def test_every_way_of_running_stops_the_same(mode: str) -> None:
    model = ScriptedModel(bad_script())
    agent = Agent(model, tools=TOOLS, contracts=[AllowTools("read", "write")])

    async def run_async() -> None:
        if mode == "arun":
            await agent.arun("go")
        else:
            async for _ in agent.astream("go"):
                pass

    with pytest.raises(ContractViolation) as info:
        if mode == "run":
            agent.run("go")
        elif mode == "stream":
            for _ in agent.stream("go"):
                pass
        else:
            asyncio.run(run_async())
    assert (info.value.step, info.value.violation.call_id) == (2, "s1")
    assert RAN == [("read", "notes.txt")]
    assert_valid_history(info.value.messages)


def test_max_steps_stops_before_the_request_is_sent() -> None:
    model = ScriptedModel(bad_script())
    error = stopped(model, MaxSteps(2))
    assert error.step == 3
    assert len(model.requests) == 2  # request 3 was never sent
    assert RAN == [("read", "notes.txt"), ("shell", "rm -rf /tmp/x"), ("write", "out.txt")]
    assert error.messages[-1].role == "tool"


def test_max_tool_calls_stops_the_call_over_the_limit_before_it_runs() -> None:
    error = stopped(ScriptedModel(bad_script()), MaxToolCalls(per_tool={"write": 0}))
    assert (error.step, error.violation.tool) == (2, "write")
    assert ("write", "out.txt") not in RAN and ("shell", "rm -rf /tmp/x") not in RAN


def test_cost_and_token_limits_stop_at_the_response_that_goes_over() -> None:
    for contract, step in ((MaxCost(0.25), 3), (MaxTokens(output=30), 2)):
        RAN.clear()
        model = ScriptedModel(bad_script())
        error = stopped(model, contract)
        assert error.step == step, contract
        if step == 2:
            assert RAN == [("read", "notes.txt")]  # the response that went over never reached the tools


def test_ordering_stops_a_tool_called_too_early() -> None:
    script = [reply(ToolCall("w1", "write", {"path": "a", "text": "b"})), reply()]
    error = stopped(ScriptedModel(script), ToolAfter("write", after="read"))
    assert error.step == 1 and RAN == []
    assert [m.role for m in error.messages] == ["user"]


def test_a_secret_a_tool_returned_never_reaches_the_model() -> None:
    secret = "vault-token-KQ81bbz0"

    @tool
    def env_dump() -> str:
        """Show the environment."""
        return f"VAULT={secret}"

    model = ScriptedModel([reply(ToolCall("e1", "env_dump", {})), reply()])
    podium.secrets.register(secret, name="vault")
    try:
        with pytest.raises(ContractViolation) as info:
            Agent(model, tools=[env_dump], contracts=[NoSecrets()]).run("look")
    finally:
        podium.secrets.unregister(secret)
    assert info.value.step == 2
    assert len(model.requests) == 1  # the request holding the tool's result was not sent
    assert secret not in str(info.value)
    assert_valid_history(info.value.messages)


def test_a_pattern_in_the_prompt_stops_the_first_request() -> None:
    model = ScriptedModel(good_script())
    with pytest.raises(ContractViolation) as info:
        Agent(model, tools=TOOLS, contracts=[NoPattern(r"(?i)tidy")]).run("Tidy up")
    assert info.value.step == 1 and model.requests == []
    assert info.value.messages == [Message.user("Tidy up")]


def test_an_unapproved_call_stops_the_run_at_the_next_request() -> None:
    # A contract's violation found at a `tools` record is thrown before the next model request: the
    # recorder cannot stop the calls of that record any more (they are on their way), so they ran.
    model = ScriptedModel(good_script())
    error = stopped(model, ApprovalBefore("write"), policy=ApprovalPolicy([], default="allow"))
    assert (error.step, error.violation.record_kind, error.violation.call_id) == (2, "tools", "w1")
    assert len(model.requests) == 2
    assert RAN == [("read", "notes.txt"), ("write", "out.txt")]


def test_an_approved_run_passes_at_run_time() -> None:
    policy = ApprovalPolicy([Rule("ask", tool="write")], default="allow")
    contracts = [
        ApprovalBefore("write"),
        EveryCallAnswered(),
        ToolAfter("write", after="read"),
        DenyTools("shell"),
        MaxSteps(3),
        MaxCost(0.3),
    ]
    trace = Trace()
    result = Agent(
        ScriptedModel(good_script()), tools=TOOLS, policy=policy, approver=lambda r: True, contracts=contracts
    ).run("go", trace=trace)
    assert result.output == "done" and trace.violation is None
    assert RAN == [("read", "notes.txt"), ("write", "out.txt")]


def test_one_contract_object_watches_many_runs_each_on_its_own() -> None:
    limit = MaxToolCalls(1)
    agent = Agent(
        ScriptedModel([reply(ToolCall("r1", "read", {"path": "a"})), reply()] * 3), tools=TOOLS, contracts=[limit]
    )
    for _ in range(3):  # each run has one call: the count does not carry over between runs
        agent.model = ScriptedModel([reply(ToolCall("r1", "read", {"path": "a"})), reply()])
        assert agent.run("go").output == "done"

    async def both() -> list[Any]:
        first = Agent(ScriptedModel(good_script()), tools=TOOLS, contracts=[limit])
        second = Agent(
            ScriptedModel([reply(ToolCall("r1", "read", {"path": "a"})), reply()]), tools=TOOLS, contracts=[limit]
        )
        return await asyncio.gather(first.arun("go"), second.arun("go"), return_exceptions=True)

    one, two = asyncio.run(both())
    assert isinstance(one, ContractViolation) and one.step == 2  # the good script makes two calls
    assert not isinstance(two, BaseException) and two.output == "done"


def test_trace_monitors_work_without_the_agent_knowing() -> None:
    trace = Trace(monitors=[DenyTools("write")])
    with pytest.raises(ContractViolation) as info:
        Agent(ScriptedModel(good_script()), tools=TOOLS).run("go", trace=trace)
    assert info.value.step == 2 and ("write", "out.txt") not in RAN
    assert trace.violation is info.value


def test_a_contract_added_mid_run_catches_up_on_the_records_before() -> None:
    contract = DenyTools("read")
    trace = Trace()

    def late(trace: Trace, record: dict[str, Any]) -> None:
        if record["kind"] == "tools" and contract not in trace.monitors:
            trace.monitors.append(contract)

    trace.monitors.append(late)  # type: ignore[arg-type]
    with pytest.raises(ContractViolation) as info:
        Agent(ScriptedModel(good_script()), tools=TOOLS).run("go", trace=trace)
    assert info.value.step == 1  # the read of step 1 was found once the contract saw the records


def test_a_custom_contract_stops_a_run_like_the_built_in_ones() -> None:
    from podium.trace import Contract, ContractContext, Violation
    from podium.trace.view import response_calls

    class NoReading(Contract[None]):
        def __init__(self, path: str) -> None:  # (does not call Contract.__init__: still works)
            self.path = path
            self.rule = f"NoReading({path!r})"

        def start(self, context: ContractContext) -> None:
            return None

        def feed(self, state: None, context: ContractContext, record: Any) -> Violation | None:
            for c in response_calls(record) if record.get("kind") == "response" else []:
                if c.name == "read" and c.args.get("path") == self.path:
                    return self.violation(context, record, f"read {self.path}", call_id=c.id, tool=c.name)
            return None

    error = stopped(ScriptedModel(good_script()), NoReading("notes.txt"))
    assert (error.rule, error.step, error.violation.call_id) == ("NoReading('notes.txt')", 1, "r1")
    assert RAN == []
