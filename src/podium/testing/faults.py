"""Seeded fault injection at the model, tool and store boundaries, for tests that check an agent survives them.

A :class:`FaultPlan` says which faults happen where; its wrappers put them in the way of a run::

    from podium.testing import FaultPlan, ModelFault, ToolFault, StoreFault

    plan = FaultPlan(
        seed=7,
        model=[ModelFault.rate_limit(retry_after=30, at=1), ModelFault.cut(rate=0.2)],
        tools={"search": [ToolFault.error(at=2)], "*": [ToolFault.slow(rate=0.1)]},
        store=[StoreFault.io_error(on="append", at=3)],
    )
    agent = plan.agent(agent)        # a copy: its model and tools wrapped
    store = plan.store(store)        # a copy of a SQLiteStore on the same file
    ...
    for record in plan.log:          # every fault injected and every retry wait, in run order
        print(record)

Where the faults come from (and which code then runs):

* **Model, remote** (any :class:`~podium.providers.transport.model.WireModel`): the copy sends through an
  HTTP transport that answers a chosen request itself (a 429 with ``retry-after``, a 5xx), raises what
  ``httpx2`` raises for a timeout or a reset connection, or cuts the real answer short (a clean end
  before the end marker, or a reset in the middle). Everything above the socket is Podium's own code:
  status mapping, the typed errors, :class:`~podium.providers.retry.RetryPolicy` retries (streams only
  while nothing reached the caller), ``ProviderError.partial``.
* **Model, any other** (``ScriptedModel``, ``FunctionModel``, the embedded local model): the wrapper
  raises the same typed errors (:class:`~podium.exceptions.RateLimitError` with ``retry_after``,
  :class:`~podium.exceptions.ServerError`, :class:`~podium.exceptions.ProviderTimeoutError`,
  :class:`~podium.exceptions.ProviderConnectionError`, :class:`~podium.exceptions.IncompleteStreamError`
  with ``partial``). Such a model has no retries of its own: ``plan.model(m, retry=RetryPolicy())`` runs the
  wrapper through the same retry functions a remote model uses.
* **Tools**: a call fails (an exception, or :class:`~podium.exceptions.ModelRetry`) or is slow (beyond the
  tool's timeout, so the driver's timeout fires) before the tool runs.
* **Store** (:class:`~podium.store.sqlite.SQLiteStore`): a write transaction fails the way SQLite fails:
  ``disk I/O error`` or ``database or disk is full`` at ``COMMIT`` (the real rollback runs), or
  ``database is locked`` at ``BEGIN IMMEDIATE`` (a real lock, held by another connection).

Retry waits never really wait under a plan: the wait is recorded in :attr:`FaultPlan.log` (a 30 s
``retry-after`` shows as a ``retry`` record with ``delay=30``) and the run goes on at once; the jitter is
drawn from the seed.

Reproducible: the same seed and the same run give the same faults and the same log. Each decision is drawn
from its own seeded generator keyed on the boundary, the target and the position, so it does not depend on
thread timing: tool calls of one turn are numbered in the order the model asked for them, even though they
run in parallel. Positions count from 1 over the plan's life: model requests (each retry is a request),
calls of each tool, store write transactions. Runs that share one plan concurrently are reproducible only as
far as their interleaving is.
"""

from __future__ import annotations

import copy
import os
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias, TypeVar

from podium.exceptions import UserError
from podium.providers.base import Model

if TYPE_CHECKING:
    from podium.agent.agent import Agent
    from podium.providers.retry import RetryAttempt, RetryPolicy
    from podium.store.sqlite import SQLiteStore
    from podium.tools.toolset import Toolset, ToolsetLike

__all__ = [
    "FaultPlan",
    "FaultRecord",
    "ModelFault",
    "ModelFaultKind",
    "Positions",
    "StoreFault",
    "StoreFaultKind",
    "ToolFault",
    "ToolFaultKind",
]

ModelFaultKind: TypeAlias = Literal["rate_limit", "server_error", "timeout", "reset", "cut"]
"""What goes wrong with a model request."""
ToolFaultKind: TypeAlias = Literal["error", "retry", "slow"]
"""What goes wrong with a tool call."""
StoreFaultKind: TypeAlias = Literal["io_error", "full", "locked"]
"""How a store write fails."""
Positions: TypeAlias = "int | Iterable[int]"
"""Where a fault happens for sure: one position or several (1 is the first request, call or write)."""

OutputT = TypeVar("OutputT")


def _positions(at: Positions) -> frozenset[int]:
    values = (at,) if isinstance(at, int) else tuple(at)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"fault positions count from 1 (the first request, call or write); got {value!r}")
    return frozenset(values)


def _check_rate(rate: float, at: frozenset[int], what: str) -> None:
    if not 0.0 <= rate <= 1.0:
        raise UserError(f"{what}: rate is a probability between 0 and 1, got {rate!r}")
    if not at and rate == 0.0:
        raise UserError(f"{what} would never happen: give at= (positions, from 1) or rate= (a probability)")


@dataclass(frozen=True)
class ModelFault:
    """A fault of model requests; build them with the class methods."""

    kind: ModelFaultKind
    """What goes wrong."""
    at: frozenset[int] = frozenset()
    """Requests (from 1, retries included) where it happens for sure."""
    rate: float = 0.0
    """Probability that it happens at any other request."""
    status: int | None = None
    """HTTP status of a ``rate_limit`` (429) or ``server_error`` (503 by default)."""
    retry_after: float | None = None
    """Seconds a ``rate_limit`` asks to wait (its ``retry-after`` header); ``None``: no header."""
    fraction: float | None = None
    """Share of the answer that arrives before a ``cut`` (or a ``reset`` in the middle of the answer)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _positions(self.at))
        _check_rate(self.rate, self.at, f"ModelFault {self.kind}")
        if self.fraction is not None and not 0.0 <= self.fraction < 1.0:
            raise UserError(
                f"ModelFault {self.kind}: fraction is the share that arrives, in [0, 1); got {self.fraction}"
            )

    @classmethod
    def rate_limit(cls, retry_after: float | None = 30.0, *, at: Positions = (), rate: float = 0.0) -> ModelFault:
        """HTTP 429 with ``retry-after: <retry_after>`` (:class:`~podium.exceptions.RateLimitError`)."""
        return cls("rate_limit", _positions(at), rate, status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 503, *, at: Positions = (), rate: float = 0.0) -> ModelFault:
        """An HTTP 5xx (or Anthropic's 529 overloaded) answer (:class:`~podium.exceptions.ServerError`)."""
        if not 500 <= status <= 599:
            raise UserError(f"a server error has a 5xx status, got {status}")
        return cls("server_error", _positions(at), rate, status=status)

    @classmethod
    def timeout(cls, *, at: Positions = (), rate: float = 0.0) -> ModelFault:
        """No answer in time (:class:`~podium.exceptions.ProviderTimeoutError`); the request is not answered."""
        return cls("timeout", _positions(at), rate)

    @classmethod
    def reset(cls, fraction: float | None = None, *, at: Positions = (), rate: float = 0.0) -> ModelFault:
        """The connection is reset: before the answer, or after ``fraction`` of it arrived.

        :class:`~podium.exceptions.ProviderConnectionError` (with ``partial`` when deltas had reached the caller).
        """
        return cls("reset", _positions(at), rate, fraction=fraction)

    @classmethod
    def cut(cls, fraction: float = 0.5, *, at: Positions = (), rate: float = 0.0) -> ModelFault:
        """The answer ends cleanly after ``fraction`` of it, before its end marker.

        A stream: :class:`~podium.exceptions.IncompleteStreamError` (retried while nothing reached the caller,
        else raised with ``partial``); a whole answer: :class:`~podium.exceptions.InvalidResponseError`.
        """
        return cls("cut", _positions(at), rate, fraction=fraction)

    def describe(self) -> str:
        """The fault in a few words, for the log."""
        if self.kind == "rate_limit":
            wait = f", retry-after {self.retry_after:g} s" if self.retry_after is not None else ""
            return f"HTTP 429{wait}"
        if self.kind == "server_error":
            return f"HTTP {self.status}"
        if self.kind == "timeout":
            return "no answer in time"
        if self.kind == "reset" and self.fraction is None:
            return "before the answer"
        return f"after {self.fraction:.0%} of the answer arrived"


@dataclass(frozen=True)
class ToolFault:
    """A fault of tool calls; build them with the class methods."""

    kind: ToolFaultKind
    """What goes wrong."""
    at: frozenset[int] = frozenset()
    """Calls of the tool (from 1, in the order the model asked) where it happens for sure."""
    rate: float = 0.0
    """Probability that it happens at any other call."""
    message: str = "injected fault"
    """The error's message (``error``, ``retry``)."""
    delay: float | None = None
    """Seconds a ``slow`` call takes before the tool runs (``None``: the tool's timeout and one second more)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _positions(self.at))
        _check_rate(self.rate, self.at, f"ToolFault {self.kind}")
        if self.delay is not None and self.delay < 0:
            raise UserError(f"ToolFault slow: delay must be >= 0 seconds, got {self.delay}")

    @classmethod
    def error(cls, message: str = "injected fault", *, at: Positions = (), rate: float = 0.0) -> ToolFault:
        """The call raises ``RuntimeError(message)``: an error result the model sees."""
        return cls("error", _positions(at), rate, message=message)

    @classmethod
    def retry(cls, message: str = "injected fault: try again", *, at: Positions = (), rate: float = 0.0) -> ToolFault:
        """The call raises :class:`~podium.exceptions.ModelRetry` ``(message)``."""
        return cls("retry", _positions(at), rate, message=message)

    @classmethod
    def slow(cls, delay: float | None = None, *, at: Positions = (), rate: float = 0.0) -> ToolFault:
        """The call waits ``delay`` seconds first (default: past the tool's timeout, which then fires).

        The wait ends early once the run abandons the call (its timeout fired, or the run was cancelled),
        and then the tool does not run.
        """
        return cls("slow", _positions(at), rate, delay=delay)

    def describe(self) -> str:
        """The fault in a few words, for the log."""
        if self.kind == "slow":
            return "slow call" if self.delay is None else f"slow call ({self.delay:g} s)"
        return f"{'ModelRetry' if self.kind == 'retry' else 'RuntimeError'}: {self.message}"


@dataclass(frozen=True)
class StoreFault:
    """A failing write transaction of a SQLite store; build them with the class methods."""

    kind: StoreFaultKind
    """How the write fails."""
    on: str | None = None
    """Only writes made by this store method (``append``, ``start_run``, ``finish_run`` ...); ``None``: any."""
    at: frozenset[int] = frozenset()
    """Write transactions (from 1, counted among those ``on`` selects) where it happens for sure."""
    rate: float = 0.0
    """Probability that it happens at any other write."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _positions(self.at))
        _check_rate(self.rate, self.at, f"StoreFault {self.kind}")

    @classmethod
    def io_error(cls, on: str | None = None, *, at: Positions = (), rate: float = 0.0) -> StoreFault:
        """``sqlite3.OperationalError: disk I/O error`` at ``COMMIT``."""
        return cls("io_error", on, _positions(at), rate)

    @classmethod
    def full(cls, on: str | None = None, *, at: Positions = (), rate: float = 0.0) -> StoreFault:
        """``sqlite3.OperationalError: database or disk is full`` at ``COMMIT``."""
        return cls("full", on, _positions(at), rate)

    @classmethod
    def locked(cls, on: str | None = None, *, at: Positions = (), rate: float = 0.0) -> StoreFault:
        """``database is locked``: another connection holds the write lock when the write begins (a real lock)."""
        return cls("locked", on, _positions(at), rate)

    def describe(self) -> str:
        """The fault in a few words, for the log."""
        return {
            "io_error": "disk I/O error at COMMIT",
            "full": "database or disk is full at COMMIT",
            "locked": "database is locked at BEGIN",
        }[self.kind]


@dataclass(frozen=True)
class FaultRecord:
    """One line of :attr:`FaultPlan.log`: a fault injected, or a wait the retry loop chose."""

    boundary: Literal["model", "tool", "store"]
    """Where: a model request, a tool call, a store write."""
    position: int
    """Which request, call (of this tool) or write, from 1."""
    kind: str
    """The fault's kind (``rate_limit``, ``cut``, ``error``, ``io_error`` ...), or ``retry`` for a retry wait."""
    target: str
    """The model (``provider:name``), the tool, or the store method."""
    detail: str = ""
    """The fault in words, or for a retry the error that caused it."""
    delay: float | None = None
    """For a ``retry``: the seconds the retry loop chose to wait (recorded, not waited)."""
    order: tuple[int, int, int] = field(default=(0, 0, 0), compare=False, repr=False)
    """Where the record goes in :attr:`FaultPlan.log` (run order, not thread timing)."""

    @property
    def injected(self) -> bool:
        """Whether this is an injected fault (not a retry wait)."""
        return self.kind != "retry"


class FaultPlan:
    """Which faults happen where, seeded; wraps models, tools, agents and stores so that they happen.

    Args:
        seed: Seeds every random decision (``rate=`` faults and the retry jitter).
        model: Faults of model requests; at each request the first that fires happens.
        tools: Faults of tool calls by tool name; ``"*"`` applies to every tool (after the tool's own).
        store: Faults of store write transactions; at each write the first that fires happens.
    """

    def __init__(
        self,
        seed: int | str = 0,
        *,
        model: Sequence[ModelFault] = (),
        tools: Mapping[str, ToolFault | Sequence[ToolFault]] | None = None,
        store: Sequence[StoreFault] = (),
    ) -> None:
        self.seed = seed
        self.model_faults = tuple(model)
        self.tool_faults: dict[str, tuple[ToolFault, ...]] = {
            name: (faults,) if isinstance(faults, ToolFault) else tuple(faults)
            for name, faults in (tools or {}).items()
        }
        self.store_faults = tuple(store)
        for fault in (*self.model_faults, *(f for fs in self.tool_faults.values() for f in fs), *self.store_faults):
            if not isinstance(fault, (ModelFault, ToolFault, StoreFault)):
                raise UserError(f"a FaultPlan takes ModelFault, ToolFault and StoreFault values, got {fault!r}")
        self._lock = threading.Lock()
        self._seq = 0
        self._counts: dict[str, int] = {}
        self._records: list[FaultRecord] = []
        self.jitter = random.Random(f"{seed}|jitter")
        """The random source of retry delays under this plan."""

    # ------------------------------------------------------------------ wrapping

    def model(self, model: Model | str, *, retry: RetryPolicy | None = None) -> Model:
        """A copy of ``model`` whose requests meet the plan's model faults.

        A remote model (``"provider:name"`` or a :class:`~podium.providers.transport.model.WireModel`) gets
        the faults from its HTTP transport and retries with its own policy (``retry`` replaces it). Any
        other model gets them raised by the wrapper, with no retries unless ``retry`` is given.
        """
        from podium.testing.fault_model import faulty_model

        if isinstance(model, str):
            from podium.providers.registry import model as resolve

            model = resolve(model)
        if not isinstance(model, Model):
            raise UserError(f"plan.model() takes a Model or a 'provider:name' string, got {model!r}")
        return faulty_model(self, model, retry)

    def tools(self, tools: Sequence[ToolsetLike]) -> Toolset:
        """The tools (functions, tools, toolsets) as one toolset whose calls meet the plan's tool faults."""
        from podium.testing.fault_tools import FaultyToolset

        return FaultyToolset(self, tools)

    def agent(self, agent: Agent[OutputT]) -> Agent[OutputT]:
        """A copy of ``agent`` with its model and tools wrapped (the original is left as it was)."""
        from podium.agent.agent import Agent

        if not isinstance(agent, Agent):
            raise UserError(f"plan.agent() takes an Agent, got {agent!r}")
        if agent.model is None:
            raise UserError("plan.agent() needs an Agent with a model (the plan wraps it): give the Agent a model")
        clone = copy.copy(agent)
        clone.model = clone._resolved = self.model(agent.model)
        clone.tools = [self.tools(list(agent.tools))] if self.tool_faults else list(agent.tools)
        clone._summarizers = {}
        clone.id = os.urandom(16).hex()  # another agent: tools that keep state per agent do not share it
        return clone

    def store(self, store: SQLiteStore) -> SQLiteStore:
        """A copy of ``store`` (a :class:`~podium.store.sqlite.SQLiteStore`) whose writes meet the store faults."""
        from podium.testing.fault_store import faulty_store

        return faulty_store(self, store)

    # ------------------------------------------------------------------ the log

    @property
    def log(self) -> list[FaultRecord]:
        """Every fault injected and every retry wait, in the order of the run."""
        with self._lock:
            return sorted(self._records, key=lambda r: r.order)

    @property
    def injected(self) -> list[FaultRecord]:
        """The faults injected (the log without the retry waits)."""
        return [r for r in self.log if r.injected]

    def summary(self) -> str:
        """The log as text, one record a line."""
        lines = []
        for r in self.log:
            wait = f", delay {r.delay:.3g} s" if r.delay is not None else ""
            lines.append(f"{r.boundary} #{r.position} {r.target}: {r.kind} {r.detail}{wait}".rstrip())
        return "\n".join(lines)

    # ------------------------------------------------------------------ used by the wrappers

    def tick(self, counter: str) -> tuple[int, int]:
        """The next position on ``counter`` and the next place in the run order."""
        with self._lock:
            self._seq += 1
            position = self._counts[counter] = self._counts.get(counter, 0) + 1
            return position, self._seq

    def fires(self, boundary: str, target: str, position: int, index: int, at: frozenset[int], rate: float) -> bool:
        """Whether fault ``index`` of ``target`` happens at ``position`` (seeded, independent of timing)."""
        if position in at:
            return True
        if rate <= 0.0:
            return False
        return random.Random(f"{self.seed}|{boundary}|{target}|{index}|{position}").random() < rate

    def choose_model_fault(self, target: str) -> tuple[int, int, ModelFault | None]:
        """Position and order of the next model request, and the fault it meets (logged), if any."""
        position, seq = self.tick("model")
        for index, fault in enumerate(self.model_faults):
            if self.fires("model", "model", position, index, fault.at, fault.rate):
                self.record(FaultRecord("model", position, fault.kind, target, fault.describe(), order=(seq, 0, 0)))
                return position, seq, fault
        return position, seq, None

    def record(self, record: FaultRecord) -> None:
        """Add ``record`` to the log."""
        with self._lock:
            self._records.append(record)

    def record_retries(self, target: str, attempts: Sequence[RetryAttempt], places: Sequence[tuple[int, int]]) -> None:
        """Log the retry loop's waits; ``places`` are the (position, order) of the request's attempts."""
        for attempt in attempts:
            if attempt.delay is None or attempt.attempt > len(places):
                continue
            position, seq = places[attempt.attempt - 1]
            status = f" {attempt.status}" if attempt.status is not None else ""
            record = FaultRecord(
                "model", position, "retry", target, f"after {attempt.error}{status}", attempt.delay, order=(seq, 1, 0)
            )
            self.record(record)
