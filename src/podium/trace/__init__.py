"""Message-Action Traces: what a run asked for and got, step by step; JSONL files; contracts over them.

The agent writes a trace when given one (``agent.run(..., trace=Trace())``); :mod:`podium.agent.replay`
answers a run from one. This package knows records, not the agent loop.
"""

from __future__ import annotations

from podium.trace.format import TRACE_VERSION, Trace, TraceError, TraceMonitor, TraceSink

__all__ = ["TRACE_VERSION", "Trace", "TraceError", "TraceMonitor", "TraceSink"]
