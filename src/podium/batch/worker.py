"""Running one task where a worker runs it: its agent, its model behind the shared limit, its retries.

The same code runs in the driver's event loop (local engine) and inside a Ray actor (Ray engine). What
it returns, :class:`Outcome`, is plain JSON data, so it crosses process and machine boundaries as it is.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podium.agent import Agent
from podium.batch.limiter import LimitedModel, Limiter, without_rate_limit_retries
from podium.batch.tasks import Task
from podium.exceptions import (
    BudgetExceeded,
    MaxStepsExceeded,
    PodiumError,
    ProviderError,
    RunCancelled,
    UserError,
)
from podium.messages import Message, message_to_dict
from podium.providers.base import Model
from podium.trace import Trace

__all__ = ["AgentFactory", "Agents", "Outcome", "is_retryable", "resolve_factory", "run_task"]

logger = logging.getLogger("podium.batch")

AgentFactory = Callable[[], Agent[Any]]
"""Makes the agent a worker runs tasks with (called once per worker, and once per ``agent`` reference)."""


def resolve_factory(reference: str) -> AgentFactory:
    """The function a ``"module:function"`` reference names (imported here).

    Raises:
        UserError: the module cannot be imported or has no such function.
    """
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise UserError(f'an agent reference must be "module:function", not {reference!r}')
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(
            f"cannot import {module_name!r} for the agent {reference!r}: {exc}; it must be importable where the "
            "task runs (installed, or on PYTHONPATH)"
        ) from exc
    target = module
    for name in attr.split("."):
        if not hasattr(target, name):
            raise UserError(f"{module_name!r} has no {attr!r} (the agent reference {reference!r})")
        target = getattr(target, name)
    if not callable(target):
        raise UserError(f"the agent reference {reference!r} is not a function returning an Agent")
    return target


class Agents:
    """A worker's agents and models, each made once: the batch's factory, ``agent`` references, ``model`` specs."""

    def __init__(self, factory: AgentFactory | str | None) -> None:
        self.factory = factory
        self._agents: dict[str | None, Agent[Any]] = {}
        self._models: dict[str, Model] = {}

    def agent(self, reference: str | None) -> Agent[Any]:
        """The agent for a task's ``agent`` field (``None``: the batch's factory)."""
        if reference not in self._agents:
            factory = self.factory if reference is None else reference
            if factory is None:
                raise UserError("no agent: give an agent factory, or an 'agent' reference in every task")
            made = (resolve_factory(factory) if isinstance(factory, str) else factory)()
            if not isinstance(made, Agent):
                raise UserError(f"the agent factory {factory!r} returned {type(made).__name__}, not an Agent")
            self._agents[reference] = made
        return self._agents[reference]

    def model(self, agent: Agent[Any], spec: str | None) -> Model:
        """The model a task runs on (its ``model`` over the agent's), without its own 429 retries."""
        base: Model | str | None = spec if spec is not None else agent.model
        if base is None:
            raise UserError("the agent has no model and the task gives none: set Agent(model=...) or --model")
        if isinstance(base, Model):
            key = f"id:{id(base)}"
            if key not in self._models:
                self._models[key] = without_rate_limit_retries(base)
            return self._models[key]
        if base not in self._models:
            from podium.providers.registry import model as resolve

            self._models[base] = without_rate_limit_retries(resolve(base))
        return self._models[base]


def _no_traces() -> list[list[str]]:
    return []


@dataclass
class Outcome:
    """How a task ended, as JSON data (:meth:`to_dict`); ``messages`` and ``traces`` go to the store."""

    id: str
    status: str
    """``completed`` or ``failed``."""
    output: Any = None
    usage: dict[str, Any] | None = None
    cost: float | None = None
    error: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    run_id: str | None = None
    rate_limited: int = 0
    waited: float = 0.0
    messages: list[dict[str, Any]] = field(default_factory=list)
    """The conversation of the last attempt (valid to continue from)."""
    traces: list[list[str]] = field(default_factory=_no_traces)
    """Each attempt's trace as JSON lines (only when the worker does not write them itself)."""

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON data."""
        return dict(self.__dict__)


def is_retryable(error: BaseException) -> bool:
    """Whether another attempt may help: provider hiccups, tool or model misbehaviour, not bad configuration."""
    if isinstance(error, ProviderError):
        return error.retryable
    if isinstance(error, (UserError, BudgetExceeded, MaxStepsExceeded, RunCancelled)):
        return False
    return isinstance(error, Exception)  # a tool or the model misbehaving, a provider hiccup, a bug in a tool


def _output(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def _messages(messages: list[Message] | None) -> list[dict[str, Any]]:
    return [message_to_dict(m) for m in messages or ()]


async def run_task(
    agents: Agents,
    task: Task,
    limiter: Limiter,
    *,
    retries: int,
    retry_delay: float,
    new_trace: Callable[[], Trace],
    keep_traces: bool,
) -> Outcome:
    """Run ``task`` with up to ``retries`` more attempts; never raises for the task's own failure.

    ``new_trace`` gives each attempt its trace (with the store's sink, locally); ``keep_traces`` puts the
    traces' lines into the outcome (Ray: the driver writes them). Cancellation (``asyncio.CancelledError``)
    goes through.
    """
    started = time.monotonic()
    outcome = Outcome(task.id, "failed")
    for attempt in range(1, retries + 2):
        outcome.attempts = attempt
        trace = new_trace()
        model: LimitedModel | None = None
        try:
            agent = agents.agent(task.agent)
            model = LimitedModel(agents.model(agent, task.model), limiter)
            result = await agent.arun(task.prompt, model=model, trace=trace)
        except Exception as exc:
            error: BaseException | None = exc
            outcome.error = f"{type(exc).__name__}: {exc}"
            outcome.messages = _messages(exc.messages if isinstance(exc, PodiumError) else None)
            usage = getattr(exc, "usage", None)
            outcome.usage = usage.to_dict() if usage is not None else None
            outcome.output = None
        else:
            error = None
            outcome.status, outcome.error = "completed", None
            outcome.output = _output(result.output)
            outcome.usage, outcome.cost = result.usage.to_dict(), result.cost
            outcome.messages = _messages(result.messages)
        finally:
            if model is not None:
                outcome.rate_limited += model.rate_limited
                outcome.waited += model.waited
            if trace.records:
                outcome.run_id = trace.run_id
                if keep_traces:
                    outcome.traces.append(list(trace.lines))
        if error is None:
            break
        if attempt > retries or not is_retryable(error):
            break
        delay = retry_delay * 2 ** (attempt - 1)
        logger.info("task %s: attempt %d failed (%s); again in %.1fs", task.id, attempt, outcome.error, delay)
        await asyncio.sleep(delay)
    outcome.seconds = round(time.monotonic() - started, 4)
    outcome.waited = round(outcome.waited, 4)
    return outcome
