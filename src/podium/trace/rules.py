"""The contracts over traces: tool lists, limits, answered calls, secrets, ordering, approvals.

Each is a :class:`~podium.trace.contracts.Contract`: use it with :func:`~podium.trace.contracts.check`,
:func:`~podium.trace.contracts.assert_contracts`, or at run time in ``Agent(contracts=[...])``.

Tool names are matched by glob (``fnmatch``, case-sensitive: ``*``, ``?``, ``[seq]``); a pattern also matches
the name it spells exactly, so a tool literally named ``run[1]`` is matched by ``"run[1]"``. Regular
expressions are searched (``re.search``), as in :class:`~podium.agent.approval.Rule`.

What a rule counts and where it looks is in each class's docstring; ``docs/contracts.md`` has examples.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from podium.exceptions import UserError
from podium.trace.contracts import Contract, ContractContext, Violation
from podium.trace.view import (
    CallView,
    decision_of,
    has_response,
    outcome_of,
    response_calls,
    response_cost,
    response_usage,
    started_calls,
)

__all__ = [
    "OUTPUT_TOOL",
    "AllowTools",
    "ApprovalBefore",
    "DenyTools",
    "MaxCost",
    "MaxSteps",
    "MaxTokens",
    "MaxToolCalls",
    "ToolAfter",
]

OUTPUT_TOOL = "final_result"
"""The tool a structured-output run answers with: no code runs for it, so allow lists and call counts skip it."""

Record = Mapping[str, Any]


def show(text: object, limit: int = 80) -> str:
    """``text`` quoted for a message: JSON-escaped (control characters visible), cut to ``limit`` characters."""
    quoted = json.dumps(str(text), ensure_ascii=False)
    return quoted if len(quoted) <= limit else quoted[: limit - 2] + '…"'


def matches(name: str, pattern: str) -> bool:
    """Whether a tool name matches a glob pattern (or is the pattern, spelled exactly)."""
    return name == pattern or fnmatch.fnmatchcase(name, pattern)


def compile_pattern(pattern: object, what: str) -> re.Pattern[str]:
    """A regular expression, or a :class:`~podium.exceptions.UserError` saying what is wrong with it."""
    if isinstance(pattern, re.Pattern):
        return pattern
    if not isinstance(pattern, str) or not pattern:
        raise UserError(f"{what}: give a regular expression as a non-empty string, not {pattern!r}")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UserError(f"{what}: {pattern!r} is not a valid regular expression ({exc})") from None


def _globs(patterns: Iterable[object], what: str) -> tuple[str, ...]:
    out = tuple(patterns)
    for pattern in out:
        if not isinstance(pattern, str) or not pattern:
            raise UserError(f"{what}: tool names or globs are non-empty strings, not {pattern!r}")
    return out  # type: ignore[return-value]


def _limit(value: object, what: str, *, integer: bool = True) -> float:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or (integer and not isinstance(number, int)) or not math.isfinite(number) or number < 0:
        kind = "an integer" if integer else "a number"
        raise UserError(f"{what}: give {kind} >= 0, not {value!r}")
    return number


def _args(rule: str, spec: str | Mapping[str, str] | None) -> str | dict[str, re.Pattern[str]] | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        compile_pattern(spec, rule)
        return spec
    if not isinstance(spec, Mapping) or not spec:
        raise UserError(f"{rule}: args= is a regex over the arguments' JSON, or a non-empty {{name: regex}} mapping")
    return {str(k): compile_pattern(v, f"{rule}, args[{k!r}]") for k, v in spec.items()}


def args_match(args: Mapping[str, Any], spec: str | Mapping[str, re.Pattern[str]] | None) -> bool:
    """Whether a call's arguments match ``spec``: a regex searched in their JSON, or ``{name: regex}``.

    The JSON is ``json.dumps(args, ensure_ascii=False, sort_keys=True)``: keys sorted, ``", "`` and ``": "``
    between items, non-ASCII characters as they are.

    With a mapping every named argument must be present and its value (as text: a string as is, anything
    else as JSON) must match.
    """
    if spec is None:
        return True
    if isinstance(spec, str):
        return re.search(spec, json.dumps(args, ensure_ascii=False, sort_keys=True, default=str)) is not None
    for name, pattern in spec.items():
        if name not in args:
            return False
        value = args[name]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        if pattern.search(text) is None:
            return False
    return True


# --------------------------------------------------------------------------- calls the model makes


@dataclass(slots=True)
class CallState:
    """What the call rules remember: the calls of the latest response (to know a ``tools`` record's calls)."""

    names: set[str] = field(default_factory=set)
    """Tool names of the latest response's calls."""
    ids: set[str] = field(default_factory=set)
    """Call ids of the latest response."""
    counts: dict[str, int] = field(default_factory=dict)
    """Calls per counter (``MaxToolCalls``)."""
    ok: set[str] = field(default_factory=set)
    """Tools with a call that returned ok (``ToolAfter``)."""
    started: dict[str, str] = field(default_factory=dict)
    """Call id -> tool name of the calls started (``ToolAfter``)."""


class CallRule(Contract[CallState]):
    """A rule about each call the model makes: checked on the response that holds it, before it can run.

    A call that a ``tools`` record starts although no response of this trace asked for it (a resumed run's
    approved calls) is checked there.
    """

    def start(self, context: ContractContext) -> CallState:
        """A fresh state."""
        return CallState()

    def feed(self, state: CallState, context: ContractContext, record: Record) -> Violation | None:
        """Check the calls of a response, and the unasked-for calls of a ``tools`` record."""
        kind = record.get("kind")
        if kind == "response":
            calls = response_calls(record)
            state.names, state.ids = {c.name for c in calls}, {c.id for c in calls}
        elif kind == "tools":
            calls = [c for c in started_calls(record) if c.id not in state.ids and c.name not in state.names]
        else:
            return self.other(state, context, record)
        for call in calls:
            found = self.call(state, context, record, call)
            if found is not None:
                return found
        return None

    def call(self, state: CallState, context: ContractContext, record: Record, call: CallView) -> Violation | None:
        """Check one call."""
        raise NotImplementedError

    def other(self, state: CallState, context: ContractContext, record: Record) -> Violation | None:
        """Look at a record that is neither a response nor a ``tools`` record."""
        return None


class AllowTools(CallRule):
    """Only tools matching one of the globs may be called (the output tool ``final_result`` always may).

    Example: ``AllowTools("read_*", "search")``. ``AllowTools()`` allows no tool at all.
    """

    def __init__(self, *tools: str) -> None:
        super().__init__()
        self.tools = _globs(tools, "AllowTools")
        self.rule = f"AllowTools({', '.join(repr(t) for t in self.tools)})"

    def call(self, state: CallState, context: ContractContext, record: Record, call: CallView) -> Violation | None:
        """A call of a tool outside the list."""
        if call.name == OUTPUT_TOOL or any(matches(call.name, t) for t in self.tools):
            return None
        allowed = ", ".join(show(t) for t in self.tools) or "none"
        return self.violation(
            context,
            record,
            f"the model called tool {show(call.name)} (call {show(call.id)}), which is not allowed "
            f"(allowed: {allowed})",
            call_id=call.id,
            tool=call.name,
        )


class DenyTools(CallRule):
    """No tool matching one of the globs may be called. Example: ``DenyTools("shell", "delete_*")``."""

    def __init__(self, *tools: str) -> None:
        super().__init__()
        if not tools:
            raise UserError("DenyTools(...) needs at least one tool name or glob")
        self.tools = _globs(tools, "DenyTools")
        self.rule = f"DenyTools({', '.join(repr(t) for t in self.tools)})"

    def call(self, state: CallState, context: ContractContext, record: Record, call: CallView) -> Violation | None:
        """A call of a denied tool."""
        for pattern in self.tools:
            if matches(call.name, pattern):
                return self.violation(
                    context,
                    record,
                    f"the model called tool {show(call.name)} (call {show(call.id)}), which the deny "
                    f"list forbids ({show(pattern)})",
                    call_id=call.id,
                    tool=call.name,
                )
        return None


class MaxToolCalls(CallRule):
    """At most ``limit`` tool calls in the run, and at most ``per_tool[glob]`` calls of the tools a glob matches.

    Counted are the calls the model asks for (whether or not they then run), so the call over the limit is
    stopped before it runs; ``final_result`` (structured output) is not counted. A resumed run continues
    the count of the paused run (its turns before the pause, and all calls of the paused turn).

    Example: ``MaxToolCalls(20, per_tool={"shell": 3})``.
    """

    def __init__(self, limit: int | None = None, *, per_tool: Mapping[str, int] | None = None) -> None:
        super().__init__()
        if limit is None and not per_tool:
            raise UserError("MaxToolCalls(...) needs a limit, per_tool={glob: limit}, or both")
        self.limit = None if limit is None else int(_limit(limit, "MaxToolCalls(limit)"))
        self.per_tool = {g: int(_limit(n, f"MaxToolCalls(per_tool[{g!r}])")) for g, n in (per_tool or {}).items()}
        _globs(self.per_tool, "MaxToolCalls(per_tool)")
        parts = [str(self.limit)] if self.limit is not None else []
        if self.per_tool:
            parts.append(f"per_tool={self.per_tool!r}")
        self.rule = f"MaxToolCalls({', '.join(parts)})"

    def start(self, context: ContractContext) -> CallState:
        """Start from the paused run's count when resuming: its turns before the pause, and the paused turn's calls."""
        state = CallState()
        before = context.resumed.get("tool_calls")
        if isinstance(before, int) and not isinstance(before, bool) and before > 0:
            state.counts[""] = before
        for call in _last_calls(context.resumed.get("messages")):
            state.started[call.id] = call.name
            self.count(state, call)
        return state

    def call(self, state: CallState, context: ContractContext, record: Record, call: CallView) -> Violation | None:
        """Count the call; over a limit is a violation."""
        if call.name == OUTPUT_TOOL or call.id in state.started:  # (a paused turn's call, counted already)
            return None
        return self.count(state, call, context, record)

    def count(
        self, state: CallState, call: CallView, context: ContractContext | None = None, record: Record | None = None
    ) -> Violation | None:
        """Count one call; the violation when it is over a limit (and ``record`` is given)."""
        if call.name == OUTPUT_TOOL:
            return None
        total = state.counts[""] = state.counts.get("", 0) + 1
        if context is None or record is None:
            for pattern in self.per_tool:
                if matches(call.name, pattern):
                    state.counts[pattern] = state.counts.get(pattern, 0) + 1
            return None
        if self.limit is not None and total > self.limit:
            return self.violation(
                context,
                record,
                f"tool call {total} of the run (tool {show(call.name)}, call {show(call.id)}) is over "
                f"the limit of {self.limit}",
                call_id=call.id,
                tool=call.name,
            )
        for pattern, limit in self.per_tool.items():
            if matches(call.name, pattern):
                count = state.counts[pattern] = state.counts.get(pattern, 0) + 1
                if count > limit:
                    return self.violation(
                        context,
                        record,
                        f"call {count} of {show(pattern)} (tool {show(call.name)}, call "
                        f"{show(call.id)}) is over its limit of {limit}",
                        call_id=call.id,
                        tool=call.name,
                    )
        return None


class ToolAfter(CallRule):
    """A tool only after another returned ok: no call of ``tool`` before a call of ``after`` succeeded.

    "Returned ok" is a ``tool`` record of a call of ``after`` whose outcome is ``ok`` (not an error, a
    retry, a timeout ...), earlier in the run, or such a result in the history the run started from (a
    resumed run: also the calls its paused turn finished). Both
    are globs. A call of ``tool`` in the same response as the first call of ``after`` is too early (they
    run together).

    Example: ``ToolAfter("deploy", after="run_tests")``.
    """

    def __init__(self, tool: str, *, after: str) -> None:
        super().__init__()
        self.tool, self.after = _globs((tool, after), "ToolAfter")
        self.rule = f"ToolAfter({tool!r}, after={after!r})"

    def start(self, context: ContractContext) -> CallState:
        """Note the ok results of ``after`` in the history the run started from."""
        state = CallState()
        history = context.header.get("history")
        resumed = context.resumed.get("messages")
        completed = [{"parts": context.resumed.get("completed")}]  # results of the paused turn's finished calls
        for messages in (history, resumed, completed):
            for result in _results(messages):
                name = result.get("name")
                if isinstance(name, str) and not result.get("is_error") and matches(name, self.after):
                    state.ok.add(name)
        return state

    def call(self, state: CallState, context: ContractContext, record: Record, call: CallView) -> Violation | None:
        """A call of ``tool`` before ``after`` returned ok."""
        if not matches(call.name, self.tool) or state.ok:
            return None
        return self.violation(
            context,
            record,
            f"the model called {show(call.name)} (call {show(call.id)}) before a call of "
            f"{show(self.after)} returned ok",
            call_id=call.id,
            tool=call.name,
        )

    def other(self, state: CallState, context: ContractContext, record: Record) -> Violation | None:
        """Remember the calls of ``after`` that returned ok."""
        if record.get("kind") == "tool":
            outcome = outcome_of(record)
            name = state.started.get(outcome.call_id or "") or outcome.name or ""
            if not outcome.is_error and outcome.kind == "ok" and matches(name, self.after):
                state.ok.add(name)
        return None

    def feed(self, state: CallState, context: ContractContext, record: Record) -> Violation | None:
        """As :class:`CallRule`, and remember which tool each started call is."""
        if record.get("kind") == "tools":
            state.started.update({c.id: c.name for c in started_calls(record)})
        return super().feed(state, context, record)


def _last_calls(messages: object) -> list[CallView]:
    """The tool calls of the last message of a list of message dicts (a paused run's pending turn)."""
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], Mapping):
        return []
    return response_calls({"answer": {"value": {"v": {"response": messages[-1]}}}})


def _results(messages: object) -> Iterable[Mapping[str, Any]]:
    """The tool-result part dicts of a list of message dicts."""
    if not isinstance(messages, list):
        return
    for message in messages:
        parts = message.get("parts") if isinstance(message, Mapping) else None
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, Mapping) and part.get("type") == "tool_result":
                yield part


# --------------------------------------------------------------------------- steps, cost, tokens


class MaxSteps(Contract[None]):
    """At most ``limit`` model requests (steps) in the run; compaction summaries do not count.

    Steps are numbered as the run numbers them (a resumed run goes on from the paused one's count), so the
    request numbered ``limit + 1`` is the violation, found before it is sent.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = int(_limit(limit, "MaxSteps(limit)"))
        self.rule = f"MaxSteps({self.limit})"

    def start(self, context: ContractContext) -> None:
        """No state: the records carry the step number."""
        return None

    def feed(self, state: None, context: ContractContext, record: Record) -> Violation | None:
        """A request numbered over the limit."""
        if record.get("kind") != "request" or record.get("purpose", "answer") != "answer":
            return None
        step = context.step or 0
        if step > self.limit:
            return self.violation(context, record, f"model request {step} is over the limit of {self.limit} steps")
        return None


@dataclass(slots=True)
class _Spent:
    tokens: dict[str, int] = field(default_factory=dict)
    cost: float = 0.0


def _resumed_spent(context: ContractContext) -> _Spent:
    """What the paused run this run resumed had used already (a resumed run is the same run)."""
    spent = _Spent()
    usage = context.resumed.get("usage")
    if isinstance(usage, Mapping):
        spent.tokens = {str(k): v for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}
    cost = context.resumed.get("cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost):
        spent.cost = float(cost)
    return spent


class MaxCost(Contract[_Spent]):
    """The run's responses cost at most ``usd`` in all (a resumed run: with the paused run's cost).

    A response whose price is unknown adds nothing with ``unknown="ignore"`` (the default); with
    ``unknown="fail"`` it is itself a violation (a limit that cannot be checked is not kept).
    Found at the response that goes over, which then never reaches the run (its tool calls do not run).
    """

    def __init__(self, usd: float, *, unknown: Literal["ignore", "fail"] = "ignore") -> None:
        super().__init__()
        self.usd = float(_limit(usd, "MaxCost(usd)", integer=False))
        if unknown not in ("ignore", "fail"):
            raise UserError(f"MaxCost(unknown=...): 'ignore' or 'fail', not {unknown!r}")
        self.unknown = unknown
        self.rule = f"MaxCost({self.usd:g})" if unknown == "ignore" else f"MaxCost({self.usd:g}, unknown='fail')"

    def start(self, context: ContractContext) -> _Spent:
        """What the resumed run spent (or nothing)."""
        return _resumed_spent(context)

    def feed(self, state: _Spent, context: ContractContext, record: Record) -> Violation | None:
        """Add a response's cost."""
        if record.get("kind") != "response" or not has_response(record):
            return None
        cost = response_cost(record)
        if cost is None:
            if self.unknown == "fail":
                return self.violation(
                    context, record, "the response's price is unknown, so the cost limit cannot be checked"
                )
            return None
        state.cost += cost
        if state.cost > self.usd + 1e-9 * max(1.0, self.usd):  # sums of float prices: 0.1 * 3 is not over 0.3
            return self.violation(
                context, record, f"the run has cost ${state.cost:.6g}, over the limit of ${self.usd:g}"
            )
        return None


class MaxTokens(Contract[_Spent]):
    """The run's responses use at most ``total`` tokens (input + output), ``input`` and ``output`` tokens.

    Counted from the usage each response reports (a resumed run: with the paused run's), summed over the
    run's requests, compaction summaries included. Found at the response that goes over.

    Example: ``MaxTokens(total=200_000, output=20_000)``.
    """

    def __init__(self, total: int | None = None, *, input: int | None = None, output: int | None = None) -> None:
        super().__init__()
        limits = {"total": total, "input": input, "output": output}
        self.limits = {k: int(_limit(v, f"MaxTokens({k})")) for k, v in limits.items() if v is not None}
        if not self.limits:
            raise UserError("MaxTokens(...) needs at least one of total=, input=, output=")
        self.rule = f"MaxTokens({', '.join(f'{k}={v}' for k, v in self.limits.items())})"

    def start(self, context: ContractContext) -> _Spent:
        """What the resumed run used (or nothing)."""
        return _resumed_spent(context)

    def feed(self, state: _Spent, context: ContractContext, record: Record) -> Violation | None:
        """Add a response's usage."""
        if record.get("kind") != "response":
            return None
        for key, value in response_usage(record).items():
            state.tokens[key] = state.tokens.get(key, 0) + value
        used = {
            "input": state.tokens.get("input_tokens", 0),
            "output": state.tokens.get("output_tokens", 0),
        }
        used["total"] = used["input"] + used["output"]
        for key, limit in self.limits.items():
            if used[key] > limit:
                return self.violation(
                    context, record, f"the run has used {used[key]:,} {key} tokens, over the limit of {limit:,}"
                )
        return None


# --------------------------------------------------------------------------- approvals


@dataclass(slots=True)
class _Approvals:
    approved: set[str] = field(default_factory=set)
    asked: dict[str, Mapping[str, Any]] = field(default_factory=dict)


class ApprovalBefore(Contract[_Approvals]):
    r"""A call matching the rule may start only after a person approved it.

    The rule: ``tool`` (a glob) and optionally ``args`` (a regex searched in the arguments' JSON, or
    ``{name: regex}`` as in :class:`~podium.agent.approval.Rule`). A matching call's ``tools`` record must
    come after a ``decision`` record allowing that call id whose source is one of ``sources`` (a user's
    answer or an approver callback; policy and hook decisions are not a person's). The arguments looked at
    are those the call started with and those the model asked for: either matching is enough.

    Example: ``ApprovalBefore("shell", args={"command": r"\brm\b"})``.
    """

    def __init__(
        self,
        tool: str = "*",
        *,
        args: str | Mapping[str, str] | None = None,
        sources: Sequence[str] = ("user", "approver"),
    ) -> None:
        super().__init__()
        (self.tool,) = _globs((tool,), "ApprovalBefore")
        self.rule = f"ApprovalBefore({tool!r}" + (f", args={args!r})" if args is not None else ")")
        self.args = _args(self.rule, args)
        if isinstance(sources, str) or not sources or not all(isinstance(s, str) for s in sources):
            raise UserError("ApprovalBefore(sources=...): a list of decision sources, e.g. ('user', 'approver')")
        self.sources = frozenset(sources)

    def start(self, context: ContractContext) -> _Approvals:
        """No approval yet."""
        return _Approvals()

    def feed(self, state: _Approvals, context: ContractContext, record: Record) -> Violation | None:
        """Remember approvals; a matching started call without one is a violation."""
        kind = record.get("kind")
        if kind == "response":
            state.asked = {c.id: c.args for c in response_calls(record)}
        elif kind == "decision":
            decision = decision_of(record)
            if decision.kind == "allow" and decision.source in self.sources:
                state.approved.add(decision.call_id)
        elif kind == "tools":
            for call in started_calls(record):
                if not matches(call.name, self.tool) or call.id in state.approved:
                    continue
                asked = state.asked.get(call.id, call.args)
                if args_match(call.args, self.args) or args_match(asked, self.args):
                    return self.violation(
                        context,
                        record,
                        f"call {show(call.id)} of {show(call.name)} started without a person's "
                        f"approval ({' or '.join(sorted(self.sources))})",
                        call_id=call.id,
                        tool=call.name,
                    )
        return None
