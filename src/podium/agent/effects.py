"""What the agent loop asks a driver to do (effects), and what a driver answers when the run is cancelled.

See :mod:`podium.agent.loop` for the protocol: the loop yields an effect, the driver performs it and sends
back the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from podium.agent.approval import ApprovalRequest
from podium.agent.events import AgentEvent
from podium.agent.result import OutputT, RunResult
from podium.messages import Message, ModelResponse
from podium.providers.base import Model
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.tools.executor import ToolInvocation, ToolOutcome

__all__ = [
    "AbandonTools",
    "AskApproval",
    "AwaitTool",
    "Effect",
    "Interrupted",
    "LoopGen",
    "RequestModel",
    "RunAwaitable",
    "StartTools",
    "TakeMessages",
]


@dataclass(frozen=True, slots=True)
class RequestModel:
    """Effect: send ``messages`` to the model; answer with its ``ModelResponse``."""

    step: int
    """1-based request number."""
    messages: list[Message]
    """The full prompt: instructions, history, new messages."""
    tools: list[ToolDefinition]
    """Tools offered to the model."""
    settings: ModelSettings
    """Settings for this request."""
    output: OutputSchema | None
    """Native structured output schema, if any."""
    model: Model | None = None
    """The model to ask instead of the run's (a compaction's summariser)."""
    stream: bool | None = None
    """``False``: do not stream this request even when the run streams (its deltas are not the answer)."""
    purpose: Literal["answer", "compaction"] = "answer"
    """``answer``: one of the run's steps; ``compaction``: a summary written to save context."""


@dataclass(frozen=True, slots=True)
class StartTools:
    """Effect: start running these calls concurrently; answer ``None``."""

    invocations: list[ToolInvocation]
    """The calls to run, in call order."""
    on_done: Callable[[int, ToolOutcome], None] | None = None
    """Told as each call finishes (from whichever thread finished it), before anyone awaits it: a durable
    run's trace records completed calls at once (a call its process finished must never run twice)."""


@dataclass(frozen=True, slots=True)
class AwaitTool:
    """Effect: wait for invocation ``index`` of the last ``StartTools``; answer its ``ToolOutcome``."""

    index: int
    """Position in the ``StartTools`` list."""


@dataclass(frozen=True, slots=True)
class AbandonTools:
    """Effect: the run is stopping; cancel whatever of the last ``StartTools`` still runs.

    Answer ``None``, or, when the batch had sub-agent calls, what each used so far (``{call_id: Tally}``).
    """


@dataclass(frozen=True, slots=True)
class AskApproval:
    """Effect: ask the approver about these calls; answer ``{call_id: Decision}`` (missing = undecided)."""

    requests: list[ApprovalRequest]
    """The calls that need a decision."""


@dataclass(frozen=True, slots=True)
class RunAwaitable:
    """Effect: await this (what a hook or an approver written as a coroutine returned); answer its value."""

    awaitable: Awaitable[Any]
    """The coroutine to run to completion."""


@dataclass(frozen=True, slots=True)
class TakeMessages:
    """Effect: hand over the user messages sent into the run since the last ``TakeMessages`` (steering).

    Answer a sequence of user :class:`~podium.messages.Message` in the order they were sent (empty, or
    ``None``, when there are none). Yielded before each model request, and once more when the run has its
    output or pauses (``final``): a driver that answers ``final`` with nothing must refuse later messages in
    the same step (:meth:`podium.agent.inbox.Inbox.take`), so that no message is lost between the loop's
    last look and the end of the run.
    """

    final: bool = False
    """The run ends (or pauses) unless messages are waiting."""


@dataclass(frozen=True, slots=True)
class Interrupted:
    """Answer to any effect once the run is cancelled (and to a model request or a tool, with ``steered``).

    ``steered``: a message sent with ``interrupt=True`` stopped the wait; the run goes on with it.
    """

    partial: ModelResponse | None = None
    """What the model had streamed before the interruption, if anything."""
    steered: bool = False
    """A message sent with ``interrupt=True`` stopped the wait, not a cancel: the run goes on with it."""


Effect: TypeAlias = RequestModel | StartTools | AwaitTool | AbandonTools | AskApproval | RunAwaitable | TakeMessages
LoopGen: TypeAlias = Generator[Effect | AgentEvent, Any, RunResult[OutputT]]
"""The loop generator of a run whose output is ``OutputT``."""
