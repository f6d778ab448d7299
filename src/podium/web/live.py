"""A conversation's turn in progress, and the clients that watch it.

A turn runs the agent's ordinary synchronous stream (``Agent.stream``) on a worker thread, recording every
event with :class:`~podium.agent.recording.RunRecorder` as the CLI does. Each event is turned into JSON
(:mod:`podium.web.events`) and handed to every subscriber's ``asyncio.Queue`` on the server's event loop.
The events of the current turn are kept, so a client that connects mid-turn (a reload) catches up first.

Approvals do not block the thread: the approver answers at once (``Ask`` unless the user chose "always
allow" for that rule), so the run pauses, the store keeps the :class:`~podium.paused.PausedRun`, and
the decision resumes it in a new turn -- after a reload or a restart of the server just as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from podium.agent.agent import Agent, RunStream
from podium.agent.cancel import CancelToken
from podium.agent.decisions import DecisionLike
from podium.agent.recording import RunRecorder
from podium.exceptions import RunCancelled
from podium.messages import Message
from podium.paused import ApprovalRequest, PausedRun
from podium.secrets import scrub
from podium.store.sqlite import SQLiteStore
from podium.web.events import event_to_dict

__all__ = ["MAX_BUFFERED", "Live", "TurnRequest"]

logger = logging.getLogger("podium.web")

MAX_BUFFERED = 20_000
"""Events of one turn kept for clients that connect late; beyond that deltas are merged."""


class TurnRequest:
    """What a turn starts from: a prompt (text and parts), or a paused run with decisions."""

    def __init__(
        self,
        prompt: list[Any] | None = None,
        *,
        resume: PausedRun | None = None,
        approvals: dict[str, DecisionLike] | None = None,
    ) -> None:
        self.prompt = prompt
        self.resume = resume
        self.approvals = approvals


class Live:
    """One conversation's running turn (at most one) and its subscribers.

    Args:
        conversation_id: The conversation.
        loop: The server's event loop (subscriber queues live there).
    """

    def __init__(self, conversation_id: str, loop: asyncio.AbstractEventLoop) -> None:
        self.conversation_id = conversation_id
        self.loop = loop
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.buffer: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.stream: RunStream[Any] | None = None
        self.token: CancelToken | None = None
        self.durations: dict[str, float] = {}
        """Seconds each tool call of this server's turns ran, by call id (shown with the history)."""
        self.decisions: dict[str, DecisionLike] = {}
        """Decisions given so far for the paused run's pending calls (resumed when all are in)."""

    @property
    def running(self) -> bool:
        """Whether a turn is in progress."""
        thread = self.thread
        return thread is not None and thread.is_alive()

    # -- subscribers (on the event loop)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A queue that gets this turn's events so far, then every new one."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        with self.lock:
            for item in self.buffer:
                queue.put_nowait(item)
            self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop sending to ``queue``."""
        with self.lock:
            self.subscribers.discard(queue)

    def publish(self, item: dict[str, Any], *, keep: bool = True) -> None:
        """Send ``item`` to every subscriber (from any thread) and keep it for late ones (with ``keep``)."""
        with self.lock:
            if keep and self.thread is not None:
                self._keep(item)
            queues = list(self.subscribers)
        for queue in queues:
            with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
                self.loop.call_soon_threadsafe(queue.put_nowait, item)

    def _keep(self, item: dict[str, Any]) -> None:
        last = self.buffer[-1] if self.buffer else None
        if (
            len(self.buffer) >= MAX_BUFFERED
            and last is not None
            and last["kind"] == item["kind"]
            and item["kind"] in ("text_delta", "thinking_delta")
        ):
            self.buffer[-1] = {**last, "text": last["text"] + item["text"]}
        else:
            self.buffer.append(item)

    # -- turns (the worker thread)

    def start(
        self,
        store: SQLiteStore,
        agent: Agent[Any],
        model: str,
        request: TurnRequest,
        approver: Callable[[ApprovalRequest], DecisionLike],
        on_end: Callable[[], None] | None = None,
    ) -> None:
        """Start a turn on a new thread. The caller holds no lock and has checked that none is running."""
        token = CancelToken()
        thread = threading.Thread(
            target=self._run,
            args=(store, agent, model, request, approver, token, on_end),
            name=f"podium-web-turn-{self.conversation_id[:8]}",
            daemon=True,
        )
        with self.lock:
            self.buffer = []
            self.token = token
            self.stream = None
            self.decisions = {}
            self.thread = thread
        thread.start()

    def _run(
        self,
        store: SQLiteStore,
        agent: Agent[Any],
        model: str,
        request: TurnRequest,
        approver: Callable[[ApprovalRequest], DecisionLike],
        token: CancelToken,
        on_end: Callable[[], None] | None,
    ) -> None:
        base = len(store.stored_messages(self.conversation_id))
        self.publish({"kind": "turn_started", "base": base})
        error: BaseException | None = None
        undelivered: tuple[Message, ...] = ()
        try:
            with RunRecorder(store, self.conversation_id, model=model) as recorder:
                if request.resume is not None:
                    stream = agent.stream(
                        None, resume=request.resume, approvals=request.approvals, cancel=token, approver=approver
                    )
                else:
                    history = store.messages(self.conversation_id)
                    stream = agent.stream(request.prompt, message_history=history, cancel=token, approver=approver)
                with self.lock:
                    self.stream = stream
                try:
                    for event in stream:
                        recorder.record(event)
                        item = event_to_dict(event)
                        if item["kind"] == "tool_call_finished" and "agent" not in item:
                            self.durations[item["call"]["id"]] = item["duration"]
                        self.publish(item)
                finally:
                    undelivered = stream.undelivered
        except Exception as exc:  # reported to the clients; the store already holds a valid history
            error = exc
            if not isinstance(exc, RunCancelled):
                logger.warning("turn in %s failed: %s", self.conversation_id, exc)
        finally:
            with self.lock:
                self.stream = None
            ending: dict[str, Any] = {"kind": "turn_ended", "status": "done"}
            if isinstance(error, RunCancelled):
                ending["status"] = "cancelled"
            elif error is not None:
                ending.update(status="error", error=scrub(f"{type(error).__name__}: {error}", shapes=True))
            if undelivered:
                ending["undelivered"] = [m.text for m in undelivered]
            try:
                if on_end is not None:
                    on_end()
            finally:
                self.publish(ending)
                with self.lock:
                    self.thread = None
                    self.buffer = []  # a client that connects now reads the stored conversation

    def send(self, parts: list[Any]) -> bool:
        """Send a message into the running turn (steering); False when no turn can take it any more."""
        from podium.exceptions import UserError

        with self.lock:
            stream = self.stream
        if stream is None:
            return False
        try:
            stream.send(parts)
        except UserError:  # the run ended just now
            return False
        return True

    def cancel(self) -> bool:
        """Stop the running turn (at the next effect boundary); False when none runs."""
        with self.lock:
            token = self.token if self.thread is not None else None
        if token is None:
            return False
        token.cancel("stopped in the web UI")
        return True

    def join(self, timeout: float | None = None) -> None:
        """Wait for the turn's thread to end."""
        thread = self.thread
        if thread is not None:
            thread.join(timeout)
