"""Message-Action Traces: what a run asked for and got, step by step; JSONL files; contracts over them.

The agent writes a trace when given one (``agent.run(..., trace=Trace())``); :mod:`podium.agent.replay`
answers a run from one. This package knows records, not the agent loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podium.trace.format import TRACE_VERSION, Trace, TraceError, TraceMonitor, TraceSink

if TYPE_CHECKING:
    from podium.trace.otel import OTelSink

__all__ = ["TRACE_VERSION", "OTelSink", "Trace", "TraceError", "TraceMonitor", "TraceSink"]

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
