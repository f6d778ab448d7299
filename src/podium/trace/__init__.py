"""Message-Action Traces: what a run asked for and got, step by step; JSONL files; contracts over them.

The agent writes a trace when given one (``agent.run(..., trace=Trace())``); :mod:`podium.agent.replay`
answers a run from one. Contracts (:mod:`podium.trace.contracts`) check a trace after the fact
(``check``, ``assert_contracts``) or while the run goes (``Agent(contracts=[...])``). This package knows
records, not the agent loop.
"""

from __future__ import annotations

from podium.trace.contracts import (
    Contract,
    ContractAssertionError,
    ContractContext,
    ContractViolation,
    Violation,
    assert_contracts,
    check,
)
from podium.trace.format import TRACE_VERSION, Trace, TraceError, TraceMonitor, TraceSink
from podium.trace.prompt_rules import EveryCallAnswered, NoPattern, NoSecrets
from podium.trace.rules import (
    AllowTools,
    ApprovalBefore,
    DenyTools,
    MaxCost,
    MaxSteps,
    MaxTokens,
    MaxToolCalls,
    ToolAfter,
)

__all__ = [
    "TRACE_VERSION",
    "AllowTools",
    "ApprovalBefore",
    "Contract",
    "ContractAssertionError",
    "ContractContext",
    "ContractViolation",
    "DenyTools",
    "EveryCallAnswered",
    "MaxCost",
    "MaxSteps",
    "MaxTokens",
    "MaxToolCalls",
    "NoPattern",
    "NoSecrets",
    "ToolAfter",
    "Trace",
    "TraceError",
    "TraceMonitor",
    "TraceSink",
    "Violation",
    "assert_contracts",
    "check",
]
