"""Static checks of the contracts' public types (run by mypy in CI; never executed)."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from podium import Agent
from podium.trace import (
    AllowTools,
    Contract,
    ContractContext,
    ContractViolation,
    DenyTools,
    MaxSteps,
    NoSecrets,
    Trace,
    Violation,
    check,
)


class Custom(Contract[int]):
    rule = "Custom()"

    def start(self, context: ContractContext) -> int:
        return 0

    def feed(self, state: int, context: ContractContext, record: Any) -> Violation | None:
        return None


def run(trace: Trace, record: dict[str, Any]) -> None:
    assert_type(check(trace, DenyTools("shell"), MaxSteps(3), Custom()), list[Violation])
    assert_type(check("run.jsonl", NoSecrets()), list[Violation])
    assert_type(AllowTools("read")(trace, record), ContractViolation | None)
    found = check(trace, Custom())[0]
    assert_type(found.step, int | None)
    assert_type(found.seq, int)
    Agent("openai:gpt-4o", contracts=[DenyTools("shell"), Custom()])
    Trace(monitors=[MaxSteps(2)])
