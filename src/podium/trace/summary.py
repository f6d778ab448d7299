"""A trace as a list of steps a person reads: what happened, how long it took, what it cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.trace.format import Trace

__all__ = ["StepRow", "format_steps", "steps"]


@dataclass(frozen=True, slots=True)
class StepRow:
    """One line of a trace's summary."""

    seq: int
    """The record it comes from."""
    step: int | None
    """The model request it belongs to (1-based)."""
    kind: str
    """``request``, ``tool``, ``approval``, ``compaction``, ``message``, ``error``, ``end``..."""
    what: str
    """A short description."""
    seconds: float | None = None
    """How long it took."""
    tokens: tuple[int, int] | None = None
    """Input and output tokens (model requests)."""
    cost: float | None = None
    """Cost in USD, when known."""


def steps(trace: Trace) -> list[StepRow]:
    """The summary of ``trace``: one row per model request, tool call, decision, compaction and the end."""
    rows: list[StepRow] = []
    step: int | None = None
    names: dict[str, str] = {}
    for record in trace.records:
        kind = record.get("kind")
        seq = int(record.get("seq", 0))
        if kind == "request":
            step = int(record.get("step", 0))
        elif kind == "response":
            rows.append(_response(record, seq, step))
        elif kind == "tools":
            names.update({str(c.get("id")): str(c.get("name")) for c in record.get("calls", [])})
        elif kind == "tool":
            rows.append(_tool(record, seq, step, names))
        elif kind == "decision":
            decision = record.get("decision") or {}
            verdict = str(decision.get("$", "")).rpartition(":")[2].lower() or "?"
            rows.append(StepRow(seq, step, "approval", f"{record.get('tool')}: {verdict} ({record.get('source')})"))
        elif kind == "compaction":
            before, after = record.get("tokens_before"), record.get("tokens_after")
            rows.append(
                StepRow(
                    seq, step, "compaction", f"{before} -> {after} tokens ({', '.join(record.get('strategies', []))})"
                )
            )
        elif kind == "take" and record.get("answer", {}).get("value"):
            rows.append(StepRow(seq, step, "message", f"{len(record['answer']['value'])} message(s) sent into the run"))
        elif kind == "end":
            rows.append(_end(record, seq, step))
    return rows


def _response(record: dict[str, Any], seq: int, step: int | None) -> StepRow:
    answer = record.get("answer") or {}
    seconds = record.get("seconds")
    if "error" in answer:
        return StepRow(seq, step, "error", f"model: {_error(answer['error'])}", seconds)
    if "interrupted" in answer:
        return StepRow(seq, step, "request", "model: interrupted", seconds)
    value = answer.get("value") or {}
    doc = (value.get("v") or {}).get("response", {}) if isinstance(value, dict) else {}
    usage = doc.get("usage") or {}
    parts = doc.get("parts") or []
    calls = [p.get("name") for p in parts if p.get("type") == "tool_call"]
    text = "".join(p.get("text", "") for p in parts if p.get("type") == "text").strip().replace("\n", " ")
    what = f"model: calls {', '.join(map(str, calls))}" if calls else f"model: {text[:60]!r}"
    cost = doc.get("cost")
    return StepRow(
        seq,
        step,
        "request",
        what,
        seconds,
        (int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))),
        float(cost) if isinstance(cost, int | float) else None,
    )


def _tool(record: dict[str, Any], seq: int, step: int | None, names: dict[str, str]) -> StepRow:
    answer = record.get("answer") or {}
    name = names.get(str(record.get("call_id")), "?")
    if "outcome" in answer:
        outcome = answer["outcome"]
        kind = outcome.get("kind", "ok")
        return StepRow(seq, step, "tool", f"{name}: {kind}", outcome.get("duration"))
    if "interrupted" in answer:
        return StepRow(seq, step, "tool", f"{name}: interrupted")
    return StepRow(seq, step, "error", f"{name}: {_error(answer.get('error') or {})}")


def _end(record: dict[str, Any], seq: int, step: int | None) -> StepRow:
    status = str(record.get("status"))
    what = f"run {status}"
    if record.get("error"):
        what += f": {_error(record['error'])}"
    usage = record.get("usage") or {}
    cost = record.get("cost")
    tokens = (int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))) if usage else None
    return StepRow(seq, step, "end", what, None, tokens, float(cost) if isinstance(cost, int | float) else None)


def _error(error: dict[str, Any]) -> str:
    name = str(error.get("type", "error")).rpartition(":")[2]
    return f"{name}: {error.get('text') or error.get('message', '')}"[:200]


def format_steps(rows: list[StepRow]) -> str:
    """The rows as a plain-text table (step, kind, what, seconds, tokens in/out, cost)."""
    lines = [f"{'step':>4}  {'kind':<10}  {'seconds':>8}  {'tokens in/out':>13}  {'cost $':>9}  what"]
    for row in rows:
        seconds = f"{row.seconds:8.3f}" if isinstance(row.seconds, int | float) else " " * 8
        tokens = f"{row.tokens[0]:>6}/{row.tokens[1]:<6}" if row.tokens else " " * 13
        cost = f"{row.cost:9.5f}" if row.cost is not None else " " * 9
        step = str(row.step) if row.step is not None else "-"
        lines.append(f"{step:>4}  {row.kind:<10}  {seconds}  {tokens}  {cost}  {row.what}")
    return "\n".join(lines)
