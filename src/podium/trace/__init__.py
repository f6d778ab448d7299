"""Message-Action Traces: what a run asked for and got, step by step; JSONL files; contracts over them.

The agent writes a trace when given one (``agent.run(..., trace=Trace())``); :mod:`podium.agent.replay`
answers a run from one. Contracts (:mod:`podium.trace.contracts`) check a trace after the fact
(``check``, ``assert_contracts``) or while the run goes (``Agent(contracts=[...])``). This package knows
records, not the agent loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from podium.trace.otel import OTelSink

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
    "OTelSink",
    "ToolAfter",
    "Trace",
    "TraceError",
    "TraceMonitor",
    "TraceSink",
    "Violation",
    "assert_contracts",
    "check",
]
_LAZY = {"OTelSink": "podium.trace.otel"}
"""Names imported on first use: OpenTelemetry is an optional extra, never imported by ``import podium.trace``."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'podium.trace' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
