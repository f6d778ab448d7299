"""Record an agent run into a conversation store as it happens, from its events.

This is where agent events become store rows. It lives in the agent package because it reads the
agent's events and results, and the agent may use the store while the store never imports the agent
(the layers in ``docs/architecture.md``): the store knows messages, usage and paused-run JSON, nothing of
the loop.

Each message is committed at the event where it becomes final: the messages the loop added before a
model request (the prompt, the previous turn's tool results) at ``ModelRequestStarted``, each model
response at ``ModelResponseFinished``. When the run ends (``RunFinished``, ``RunPaused``, or an error
such as ``RunCancelled``), whatever is left of ``new_messages`` is appended and the run is closed with
its usage and cost. A process killed at any point therefore loses at most the message being built
(a streaming response, or the results of the tool calls still running), and the store's
:meth:`~podium.store.base.ConversationStore.messages` makes the rest valid to continue from.

A store write that fails (a disk I/O error, a full disk, a lock held past the busy timeout) raises its
:class:`~podium.store.base.StoreError` from :meth:`RunRecorder.record`, so the caller knows the run is no
longer being recorded; the failed transaction is rolled back whole, and leaving the ``with`` block marks
the run failed with that error when the store takes the write (else the store's recovery marks it once the
process is gone).

Example (a chat turn in a CLI)::

    history = store.messages(conv.id)
    with RunRecorder(store, conv.id, model="anthropic:claude-sonnet-4-5") as recorder:
        for event in agent.stream(prompt, message_history=history):
            recorder.record(event)
            render(event)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any

from podium.agent.events import (
    AgentEvent,
    ModelRequestStarted,
    ModelResponseFinished,
    RunFinished,
    RunPaused,
    RunStarted,
    SubAgentEvent,
)
from podium.agent.result import RunResult
from podium.exceptions import AgentRunError, RunCancelled, UserError
from podium.messages import Message
from podium.paused import PausedRun
from podium.store.base import ConversationStore, NotFoundError, Run
from podium.usage import Usage

__all__ = ["RunRecorder", "record_result", "record_stream"]

logger = logging.getLogger("podium.store")


class RunRecorder:
    """Records one agent run into a conversation by consuming its events.

    Use it as a context manager around the event loop so that an error (``RunCancelled`` from a
    Ctrl-C, a provider error) closes the run with the right status; or call :meth:`close` yourself.

    Args:
        store: Where to record.
        conversation_id: The conversation the run continues.
        model: The model string to record on the run (``provider:model``).
    """

    def __init__(
        self, store: ConversationStore, conversation_id: str, *, model: str | None = None, resuming: bool = False
    ) -> None:
        self.store = store
        self.conversation_id = conversation_id
        self.model = model
        self.resuming = resuming
        """The run is a durable run resumed after its process died: it is reopened, and the messages it had
        already stored (its replayed part gives them again) are not stored twice."""
        self._stored: list[Message] = []
        self.run: Run | None = None
        """The run record, once ``RunStarted`` was seen."""
        self.recorded: list[Message] = []
        """The messages this recorder appended for the run, in order."""
        self._cost: float | None = 0.0
        self._closed = False

    # -- events

    def record(self, event: AgentEvent) -> None:
        """Handle one event of the run (events it does not need are ignored)."""
        if isinstance(event, RunStarted):
            self._start(event.run_id)
        elif isinstance(event, ModelRequestStarted):
            for message in event.appended:
                self._append(message)
        elif isinstance(event, ModelResponseFinished):
            self._append(event.response.to_message())
            cost = event.response.cost
            self._cost = None if cost is None or self._cost is None else self._cost + cost
        elif isinstance(event, RunPaused):
            self._pause(event.paused)
        elif isinstance(event, RunFinished):
            self._finish(event.result)
        elif isinstance(event, SubAgentEvent) and isinstance(event.event, ModelResponseFinished):
            cost = event.event.response.cost  # a sub-agent's messages are its own; its cost is the run's
            self._cost = None if cost is None or self._cost is None else self._cost + cost

    def _start(self, run_id: str) -> None:
        if self.run is not None:
            raise UserError("a RunRecorder records one run; make a new one for the next run")
        try:
            previous: Run | None = self.store.get_run(run_id)
        except NotFoundError:
            previous = None
        if self.resuming:
            reopen = getattr(self.store, "reopen_run", None)
            if reopen is None:
                raise UserError("this store cannot resume a run (it has no reopen_run)")
            try:
                self.run = reopen(run_id)
            except NotFoundError:  # the process died before the run was recorded as started
                self.run = self.store.start_run(self.conversation_id, model=self.model, run_id=run_id)
            self._stored = [m.message for m in self.store.stored_messages(self.conversation_id) if m.run_id == run_id]
            return
        self.run = self.store.start_run(self.conversation_id, model=self.model, run_id=run_id)
        if previous is not None:  # a paused run resumed: its cost so far carries on
            self._cost = previous.cost

    def _require_run(self) -> Run:
        if self.run is None:
            raise UserError(
                "the recorder got events of a run it did not see start: record() every event from the first"
            )
        return self.run

    def _append(self, message: Message) -> None:
        run = self._require_run()
        index = len(self.recorded)
        if index < len(self._stored):  # a resumed run giving again what its first process stored
            if self._stored[index].role != message.role:
                logger.warning("run %s: message %d differs from the one stored before the resume", run.id, index)
            self.recorded.append(message)
            return
        self.store.append(self.conversation_id, message, run_id=run.id)
        self.recorded.append(message)

    def _catch_up(self, new_messages: Sequence[Message]) -> None:
        """Append the run's messages not recorded yet (those added after the last model request)."""
        count = len(self.recorded)
        if list(new_messages[:count]) != self.recorded:
            logger.error(
                "run %s: the recorded messages are not a prefix of the run's messages; not appending the rest",
                self.run.id if self.run else "?",
            )
            return
        for message in new_messages[count:]:
            self._append(message)

    def _pause(self, paused: PausedRun) -> None:
        run = self._require_run()
        self.run = self.store.pause_run(run.id, paused, cost=self._cost)
        self._closed = True  # only once stored: a failed write leaves close() to record the failure

    def _finish(self, result: RunResult[Any]) -> None:
        run = self._require_run()
        self._catch_up(result.new_messages)
        self.run = self.store.finish_run(run.id, usage=result.usage, cost=self._cost)
        self._closed = True

    # -- ending

    def close(self, error: BaseException | None = None) -> None:
        """Close the run after the events stopped: cancelled or failed by ``error``, or cut short.

        Does nothing when the run already finished or paused, or never started.
        """
        if self._closed or self.run is None:
            return
        self._closed = True
        run_id = self.run.id
        usage: Usage | None = None
        if isinstance(error, AgentRunError):
            self._catch_up(error.new_messages)
            usage = error.usage
        if isinstance(error, RunCancelled):
            self.run = self.store.cancel_run(run_id, str(error), usage=usage, cost=self._cost)
        elif error is None or not isinstance(error, Exception):  # Ctrl-C, a signal, GeneratorExit, SystemExit
            reason = "the run's events stopped before it finished" if error is None else _interruption(error)
            self.run = self.store.cancel_run(run_id, f"interrupted: {reason}", usage=usage, cost=self._cost)
        else:
            self.run = self.store.fail_run(run_id, f"{type(error).__name__}: {error}", usage=usage, cost=self._cost)

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close(exc)
        except Exception as failure:  # never hide the run's own error behind a store error
            logger.error("could not record the end of run %s: %s", self.run.id if self.run else "?", failure)
            logger.debug("the store failed with", exc_info=True)


def _interruption(error: BaseException) -> str:
    """How an exception that is not an error (Ctrl-C, a termination signal ...) is recorded."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def record_stream(
    store: ConversationStore, conversation_id: str, events: Iterable[AgentEvent], *, model: str | None = None
) -> Iterator[AgentEvent]:
    """Pass ``events`` through, recording the run into the conversation as they go.

    Example::

        for event in record_stream(store, conv.id, agent.stream(prompt, message_history=history)):
            render(event)
    """
    with RunRecorder(store, conversation_id, model=model) as recorder:
        for event in events:
            recorder.record(event)
            yield event


def record_result(
    store: ConversationStore, conversation_id: str, result: RunResult[Any], *, model: str | None = None
) -> Run:
    """Record a run that already ended (``agent.run(...)``) from its result, in one go.

    Prefer :class:`RunRecorder` while a run streams: this commits nothing until the run is over.
    """
    run = store.start_run(conversation_id, model=model, run_id=result.run_id)
    store.append_many(conversation_id, result.new_messages, run_id=run.id)
    if result.status == "paused" and result.paused is not None:
        return store.pause_run(run.id, result.paused, cost=result.cost)
    return store.finish_run(run.id, usage=result.usage, cost=result.cost)
