"""Typed, read-only accessors for trace records: the calls a response made, a tool's outcome, a decision.

Records are JSON dicts (see ``docs/traces.md``); these helpers read the fields contracts and tools need
without decoding classes, and they never fail on a record that lacks a field or holds the wrong type (a
hand-written or damaged trace): what cannot be read counts as absent.

Example::

    for record in trace.of_kind("response"):
        for call in response_calls(record):
            print(record["step"], call.name, call.args)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from podium.trace.codec import decode

__all__ = [
    "CallView",
    "DecisionView",
    "OutcomeView",
    "decision_of",
    "has_response",
    "message_strings",
    "outcome_of",
    "response_calls",
    "response_cost",
    "response_usage",
    "resumed_state",
    "started_calls",
    "strings_in",
    "tool_definition_strings",
]


@dataclass(frozen=True, slots=True)
class CallView:
    """One tool call as a record holds it."""

    id: str
    """The call id."""
    name: str
    """The tool's name, as the model wrote it."""
    args: Mapping[str, Any]
    """The arguments (a mapping; anything else the model sent is kept under ``""``)."""


@dataclass(frozen=True, slots=True)
class OutcomeView:
    """What a ``tool`` record says about one call's result."""

    call_id: str | None
    """The call it answers (``None`` when the record does not say)."""
    kind: str
    """``ok``, ``error``, ``invalid_args``, ``retry``, ``timeout``, ``interrupted``, ... (``error`` when the
    driver raised, ``interrupted`` when the run was interrupted while waiting)."""
    is_error: bool
    """Whether the result the model gets is an error."""
    name: str | None
    """The tool's name from the result, when it has one."""


@dataclass(frozen=True, slots=True)
class DecisionView:
    """One approval decision (a ``decision`` record)."""

    call_id: str
    """The call decided."""
    tool: str
    """The tool's name."""
    kind: str
    """``allow``, ``deny`` or ``ask`` (``""`` when the record does not say or contradicts itself)."""
    source: str
    """``policy``, ``hook``, ``user`` or ``approver``."""


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _call(data: Any, *, encoded: bool) -> CallView | None:
    if not isinstance(data, Mapping):
        return None
    args = data.get("args")
    if encoded:
        try:
            args = decode(args)
        except Exception:  # a damaged record: keep what is there
            args = data.get("args")
    if not isinstance(args, Mapping):
        args = {} if args is None else {"": args}
    return CallView(_str(data.get("id")), _str(data.get("name")), args)


def _response(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``response`` dict inside a ``response`` record's answer ({} when it holds an error or nothing)."""
    answer = record.get("answer")
    value = answer.get("value") if isinstance(answer, Mapping) else None
    inner = value.get("v") if isinstance(value, Mapping) else None
    response = inner.get("response") if isinstance(inner, Mapping) else None
    return response if isinstance(response, Mapping) else {}


def has_response(record: Mapping[str, Any]) -> bool:
    """Whether a ``response`` record holds a model response (not an error or an interruption)."""
    return bool(_response(record))


def response_calls(record: Mapping[str, Any]) -> list[CallView]:
    """The tool calls of a ``response`` record, in order (none when it holds an error or an interruption)."""
    parts = _response(record).get("parts")
    if not isinstance(parts, list):
        return []
    calls = (_call(p, encoded=False) for p in parts if isinstance(p, Mapping) and p.get("type") == "tool_call")
    return [c for c in calls if c is not None]


def response_usage(record: Mapping[str, Any]) -> dict[str, int]:
    """Token counts of a ``response`` record (``input_tokens``, ``output_tokens``, ...; ints only)."""
    usage = _response(record).get("usage")
    if not isinstance(usage, Mapping):
        return {}
    return {str(k): v for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}


def response_cost(record: Mapping[str, Any]) -> float | None:
    """The cost in USD of a ``response`` record, ``None`` when unknown (no price, or no response)."""
    cost = _response(record).get("cost")
    if isinstance(cost, bool) or not isinstance(cost, int | float):
        return None
    return float(cost)


def started_calls(record: Mapping[str, Any]) -> list[CallView]:
    """The calls a ``tools`` record starts, in order."""
    calls = record.get("calls")
    if not isinstance(calls, list):
        return []
    views = (_call(c, encoded=True) for c in calls)
    return [c for c in views if c is not None]


def outcome_of(record: Mapping[str, Any]) -> OutcomeView:
    """What a ``tool`` record says: which call, the outcome's kind, and whether the result is an error."""
    call_id = record.get("call_id")
    answer = record.get("answer")
    answer = answer if isinstance(answer, Mapping) else {}
    outcome = answer.get("outcome")
    if not isinstance(outcome, Mapping):
        kind = "interrupted" if "interrupted" in answer else "error"
        return OutcomeView(call_id if isinstance(call_id, str) else None, kind, True, None)
    result = outcome.get("result")
    part = result.get("v") if isinstance(result, Mapping) else None
    part = part if isinstance(part, Mapping) else {}
    kind = _str(outcome.get("kind")) or "error"
    is_error = bool(part.get("is_error")) or kind != "ok"
    name = part.get("name")
    return OutcomeView(
        call_id if isinstance(call_id, str) else None, kind, is_error, name if isinstance(name, str) else None
    )


def decision_of(record: Mapping[str, Any]) -> DecisionView:
    """The decision of a ``decision`` record.

    The kind is read from both the decision's ``kind`` field and its class name; when they disagree (a
    damaged or forged record) the kind is ``""``, which no contract takes for an approval.
    """
    decision = record.get("decision")
    decision = decision if isinstance(decision, Mapping) else {}
    kind = _str(decision.get("kind"))
    cls = _str(decision.get("$"))
    if cls and cls.rpartition(":")[2].lower() != kind:
        kind = ""
    return DecisionView(_str(record.get("call_id")), _str(record.get("tool")), kind, _str(record.get("source")))


def resumed_state(header: Mapping[str, Any]) -> dict[str, Any]:
    """The paused run a run resumed (its JSON document: ``usage``, ``cost``, ``steps``, ``messages`` ...), or {}."""
    resume = header.get("resume")
    if isinstance(resume, str):
        try:
            resume = json.loads(resume)
        except ValueError:
            return {}
    return dict(resume) if isinstance(resume, Mapping) else {}


# --------------------------------------------------------------------------- text a request sends

_OPAQUE = frozenset({"data", "signature", "encrypted", "provider_details", "usage"})
"""Message and part fields that are not text a model reads: base64 media, provider signatures, counts."""


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value: the keys and string leaves of mappings and lists, depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            for key, child in item.items():
                yield str(key)
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))


def message_strings(message: Any) -> Iterator[tuple[str, str]]:
    """The texts of one message dict that a model would read, each with what it is (``text``, ``args`` ...).

    Texts, thinking, tool-call names and arguments (keys and values), tool results (recursively), media
    URLs and file names, provider parts' data; not base64 media, signatures or usage numbers.
    """
    if not isinstance(message, Mapping):
        return
    parts = message.get("parts")
    yield from _part_strings(parts if isinstance(parts, list) else [])


def _part_strings(parts: list[Any], outer: str = "") -> Iterator[tuple[str, str]]:
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        kind = _str(part.get("type")) or "part"
        for key, value in part.items():
            if (key in _OPAQUE and kind != "provider") or key in ("type", "id", "call_id"):
                continue
            if key == "content" and isinstance(value, list):
                yield from _part_strings(value, f"{kind} content, ")
                continue
            where = outer + (f"{kind} {key}" if key != kind else kind)
            for text in strings_in(value):
                yield where, text


def tool_definition_strings(definition: Any) -> Iterator[tuple[str, str]]:
    """The texts of one encoded tool definition: name, description, parameter schema."""
    if not isinstance(definition, Mapping):
        return
    for key, value in definition.items():
        if key != "$":
            for text in strings_in(value):
                yield f"tool {key}", text
