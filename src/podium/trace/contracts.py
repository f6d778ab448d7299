"""Contracts over traces: rules a run must keep, checked after the fact or while it runs.

A contract reads a run's trace record by record. Use it two ways:

* **after the fact** (in a test, in CI): ``check(trace, *contracts)`` lists the :class:`Violation` s, and
  ``assert_contracts(trace, *contracts)`` raises when there is one, with a readable message;
* **while the run goes**: ``Agent(..., contracts=[...])`` (or ``Trace(monitors=[...])``). Each new record is
  checked as it is written; a violation stops the run with :class:`ContractViolation` (an
  :class:`~podium.exceptions.AgentRunError`, ``.messages`` a valid history) before the next model request
  is sent, or instead of the model response that broke the rule, so the tool calls of that response
  never run.

Every violation names the rule, the first violating step (model request number) and the trace record
(``seq``). The rules (:mod:`podium.trace.rules`):

==========================  ==========================================================  ====================
contract                    a run breaks it when                                        found at
==========================  ==========================================================  ====================
``AllowTools(*globs)``      the model calls a tool no glob matches                       the response
``DenyTools(*globs)``       the model calls a tool a glob matches                        the response
``MaxSteps(n)``             it sends model request n + 1                                 the request
``MaxToolCalls(n, ...)``    the model asks for call n + 1 (in all, or of one tool)       the response
``EveryCallAnswered()``     a call gets no result or two, or a result answers no call    request / tool / end
``MaxCost(usd)``            the responses so far cost more than ``usd``                  the response
``MaxTokens(...)``          the responses so far used more tokens than allowed           the response
``NoSecrets(*regexes)``     a request holds a secret, a credential or a pattern          the request
``NoPattern(*regexes)``     a request holds text a pattern matches                       the request
``ToolAfter(b, after=a)``   ``b`` is called before a call of ``a`` returned ok           the response
``ApprovalBefore(glob)``    a matching call starts without a person's approval          the ``tools`` record
==========================  ==========================================================  ====================

Contracts keep their progress per trace (in a weak mapping keyed on the trace): each record costs
constant work (the request checks look at the messages a request adds, not at the whole prompt again).
One contract object can watch any number of runs, one after another or at the same time.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Generic, TypeVar

from podium.exceptions import AgentRunError, UserError
from podium.trace.format import Trace, TraceMonitor
from podium.trace.view import resumed_state

__all__ = [
    "Contract",
    "ContractAssertionError",
    "ContractContext",
    "ContractViolation",
    "Violation",
    "assert_contracts",
    "check",
]

StateT = TypeVar("StateT")
_LOCK = threading.Lock()  # guards the contracts' per-trace progress tables (taken once per new trace)


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: which, where in the trace, and what happened."""

    rule: str
    """The contract, as written (``DenyTools('shell')``)."""
    message: str
    """What the run did that breaks it (never the value of a secret)."""
    seq: int
    """The trace record where it was found."""
    step: int | None
    """The model request (1, 2, ...) it belongs to; ``None`` before the run's first request."""
    record_kind: str
    """The kind of that record (``response``, ``request``, ``tools`` ...)."""
    call_id: str | None = None
    """The tool call concerned, if one is."""
    tool: str | None = None
    """Its tool, if one is."""

    @property
    def where(self) -> str:
        """``step 3 (trace record 12, response)``."""
        step = f"step {self.step}" if self.step is not None else "before the first model request"
        return f"{step} (trace record {self.seq}, {self.record_kind})"

    def __str__(self) -> str:
        return f"{self.rule} broken at {self.where}: {self.message}"


class ContractViolation(AgentRunError):
    """A run broke a contract; raised at run time (``.messages`` is a valid history) and by :func:`assert_contracts`.

    Attributes:
        violation: The :class:`Violation` (rule, step, record, message).
        rule: The contract, as written.
        step: The first violating step (model request number), or ``None``.
        seq: The trace record where the violation was found.
    """

    def __init__(self, violation: Violation, **kwargs: Any) -> None:
        super().__init__(f"contract {violation}", **kwargs)
        self.violation = violation
        self.rule = violation.rule
        self.step = violation.step
        self.seq = violation.seq

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.violation,), dict(self.__dict__))


class ContractAssertionError(ContractViolation, AssertionError):
    """What :func:`assert_contracts` raises: the first violation, with all of them in ``violations``."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__(violations[0])
        self.violations = violations
        lines = [f"{len(violations)} contract violation(s) in the trace:"]
        lines += [f"- {v}" for v in violations]
        self.args = ("\n".join(lines),)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.violations,), dict(self.__dict__))


@dataclass(slots=True)
class ContractContext:
    """What every contract knows besides its own state: the run's header and the current step."""

    header: Mapping[str, Any]
    """The ``run`` record (``{}`` when the trace has none)."""
    step: int | None
    """The model request the records now belong to (``None`` before the first)."""
    resumed: Mapping[str, Any]
    """The paused run this run resumed (its JSON document), or ``{}``."""


class _Progress(Generic[StateT]):
    """One contract's progress over one trace."""

    __slots__ = ("context", "found", "next_seq", "state")

    def __init__(self, state: StateT) -> None:
        self.next_seq = 0
        self.found: Violation | None = None
        self.state = state
        self.context = ContractContext({}, None, {})


class Contract(Generic[StateT]):
    """Base of the contracts: a rule fed a trace's records in order, keeping its state per trace.

    A subclass sets :attr:`rule` and implements :meth:`start` (the state of a new run) and :meth:`feed`
    (one record; returns a :class:`Violation` or ``None``). Any other callable ``(trace, record) ->
    exception | None`` also works as a monitor and with :func:`check`.
    """

    rule: str = "contract"
    """The contract as written, for messages."""

    _last: tuple[weakref.ref[Trace], _Progress[StateT]] | None = None
    """The trace seen last and the progress over it (looked up without the lock)."""

    def __init__(self) -> None:
        self._progress: weakref.WeakKeyDictionary[Trace, _Progress[StateT]] = weakref.WeakKeyDictionary()

    def _progress_of(self, trace: Trace, seq: int) -> _Progress[StateT]:
        """The progress over ``trace``; a new one for a new trace or one read again from an earlier record."""
        with _LOCK:
            store: weakref.WeakKeyDictionary[Trace, _Progress[StateT]] | None = self.__dict__.get("_progress")
            if store is None:  # a subclass whose __init__ did not call ours
                store = self._progress = weakref.WeakKeyDictionary()
            progress = store.get(trace)
            if progress is None or seq < progress.next_seq:
                progress = store[trace] = self._new_progress()
        self._last = (weakref.ref(trace), progress)
        return progress

    def start(self, context: ContractContext) -> StateT:
        """The state for a new run (``context.header`` is its ``run`` record)."""
        raise NotImplementedError

    def feed(self, state: StateT, context: ContractContext, record: Mapping[str, Any]) -> Violation | None:
        """Take the next record; return the violation it shows, if any."""
        raise NotImplementedError

    def violation(
        self,
        context: ContractContext,
        record: Mapping[str, Any],
        message: str,
        *,
        call_id: str | None = None,
        tool: str | None = None,
    ) -> Violation:
        """A :class:`Violation` of this contract at ``record``."""
        seq = record.get("seq")
        return Violation(
            self.rule,
            message,
            seq if isinstance(seq, int) else -1,
            context.step,
            str(record.get("kind", "?")),
            call_id,
            tool,
        )

    # -- driving

    def __call__(self, trace: Trace, record: dict[str, Any]) -> ContractViolation | None:
        """Check ``record`` (just appended to ``trace``); the violation that must stop the run, once."""
        seq = record.get("seq")
        if not isinstance(seq, int) or seq < 0:
            return None
        last = self._last
        progress = last[1] if last is not None and last[0]() is trace else None
        if progress is None or seq < progress.next_seq:
            progress = self._progress_of(trace, seq)
        if progress.found is not None:
            return None
        records = trace.records
        while progress.next_seq <= seq and progress.found is None:
            index = progress.next_seq
            current = record if index == seq or index >= len(records) else records[index]
            progress.next_seq += 1
            progress.found = self._step(progress, current)
        return ContractViolation(progress.found) if progress.found is not None else None

    def evaluate(self, records: Iterable[Mapping[str, Any]]) -> Violation | None:
        """The first violation in ``records`` (a whole trace, in order), or ``None``; keeps no state."""
        progress = self._new_progress()
        for record in records:
            found = self._step(progress, record)
            if found is not None:
                return found
        return None

    def _new_progress(self) -> _Progress[StateT]:
        progress: _Progress[StateT] = _Progress(self.start(ContractContext({}, None, {})))
        return progress

    def _step(self, progress: _Progress[StateT], record: Mapping[str, Any]) -> Violation | None:
        kind = record.get("kind")
        context = progress.context
        if kind == "run":  # a (new) run: fresh state
            resumed = resumed_state(record)
            steps = resumed.get("steps")
            step = steps if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 else None
            progress.context = context = ContractContext(record, step, resumed)
            progress.state = self.start(context)
        else:
            step = record.get("step")
            if isinstance(step, int) and not isinstance(step, bool):
                context.step = step
        return self.feed(progress.state, context, record)

    def __repr__(self) -> str:
        return self.rule


# --------------------------------------------------------------------------- after the fact


def _as_trace(trace: Trace | str | PathLike[str] | Sequence[Mapping[str, Any]]) -> Trace:
    if isinstance(trace, Trace):
        return trace
    if isinstance(trace, str) and trace.lstrip().startswith("{"):
        return Trace.from_jsonl(trace)
    if isinstance(trace, str | PathLike):
        return Trace.load(Path(trace))
    if isinstance(trace, Sequence):
        records = [dict(r) for r in trace if isinstance(r, Mapping)]
        if len(records) == len(trace):
            return Trace(records)
    raise UserError(
        f"check a Trace, the path of a JSONL trace file, JSONL text or a list of records, not {type(trace).__name__}"
    )


def check(
    trace: Trace | str | PathLike[str] | Sequence[Mapping[str, Any]], *contracts: TraceMonitor
) -> list[Violation]:
    """The violations of ``contracts`` in a recorded trace: the first one of each contract, in trace order.

    Args:
        trace: A :class:`~podium.trace.Trace`, the path of a JSONL trace file, its text, or a list of records.
        *contracts: The contracts (any callable ``(trace, record) -> exception | None`` works too).

    Returns:
        One :class:`Violation` per broken contract (an empty list when the trace keeps them all).
    """
    if not contracts:
        raise UserError("check(trace, ...) needs at least one contract (e.g. DenyTools('shell'), MaxSteps(10))")
    run = _as_trace(trace)
    found: list[Violation] = []
    for contract in contracts:
        violation = contract.evaluate(run.records) if isinstance(contract, Contract) else _monitor(run, contract)
        if violation is not None:
            found.append(violation)
    return sorted(found, key=lambda v: v.seq)


def _monitor(trace: Trace, monitor: TraceMonitor) -> Violation | None:
    """Run a plain monitor over a finished trace, as the recorder would have (on a copy, record by record)."""
    replay = Trace()
    step: int | None = None
    for record in trace.records:
        replay.records.append(record)
        if isinstance(record.get("step"), int):
            step = record["step"]
        error = monitor(replay, record)
        if error is None:
            continue
        if isinstance(error, ContractViolation):
            return error.violation
        name = getattr(monitor, "rule", None) or getattr(monitor, "__name__", None) or repr(monitor)
        seq = record.get("seq")
        return Violation(
            str(name),
            f"{type(error).__name__}: {error}",
            seq if isinstance(seq, int) else -1,
            step,
            str(record.get("kind", "?")),
        )
    return None


def assert_contracts(
    trace: Trace | str | PathLike[str] | Sequence[Mapping[str, Any]], *contracts: TraceMonitor
) -> None:
    """Raise :class:`ContractAssertionError` (an ``AssertionError`` too) listing every broken contract.

    Args:
        trace: A :class:`~podium.trace.Trace`, the path of a JSONL trace file, its text, or a list of records.
        *contracts: The contracts the run must keep.
    """
    violations = check(trace, *contracts)
    if violations:
        raise ContractAssertionError(violations)
