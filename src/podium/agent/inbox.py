"""Steering a running run: messages a caller sends into it while it runs.

``stream.send("also do X")`` (or ``await astream.send(...)``) puts a user message into the run's
:class:`Inbox`, from any thread or task. The loop learns of it through an effect, like everything else it
learns (:class:`~podium.agent.effects.TakeMessages`, answered by the driver from the inbox, or by a replay
driver from a trace), at the boundary before each model request: the message goes into the history after
the current turn's tool results, so every call keeps its result before it, and the model sees it in its next
request.

* Tool calls already running finish first, unless the message is sent with ``interrupt=True``: then the
  driver stops waiting at once (running calls are abandoned and marked interrupted, as with a cancel; a
  streaming answer stops where it is and its text so far is kept) and the run goes on with the message.
* A message that arrives while the final answer streams does not get lost: the run does not end, it makes
  another request with the message in it.
* When the run ends (finished, failed, cancelled) the inbox closes: ``send`` then raises
  :class:`~podium.exceptions.UserError`, so a message is never silently dropped. The close is atomic with
  the loop's last look at the inbox. Messages accepted but not delivered because the run failed or was
  cancelled are in :attr:`Inbox.undelivered` (``stream.undelivered``); those waiting when a run pauses for
  approvals travel in :attr:`~podium.paused.PausedRun.queued` and are delivered when it resumes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence

from podium.exceptions import UserError
from podium.messages import File, Image, Message, Part, Text

__all__ = ["Inbox", "user_message"]

logger = logging.getLogger("podium.agent")

_ALLOWED = (Text, Image, File)


def user_message(content: str | Sequence[str | Part] | Message) -> Message:
    """``content`` as a user message to send into a run: text, or text, image and file parts (like a prompt).

    Raises:
        UserError: empty content, a message of another role, or parts a user message cannot hold (tool
            calls, tool results, thinking).
    """
    if isinstance(content, Message):
        if content.role != "user":
            raise UserError(f"only user messages can be sent into a run, got role {content.role!r}")
        parts: tuple[Part, ...] = tuple(content.parts)
    elif isinstance(content, str):
        parts = (Text(content),)
    else:
        try:
            parts = tuple(Text(p) if isinstance(p, str) else p for p in content)
        except TypeError:
            raise UserError(
                f"send() takes text, a sequence of parts (Text, Image, File) or a user Message, "
                f"got {type(content).__name__}"
            ) from None
    for part in parts:
        if not isinstance(part, _ALLOWED):
            raise UserError(
                f"a message sent into a run can hold text, images and files, not {type(part).__name__}; "
                "tool calls and results are the loop's to add"
            )
    if not any(not isinstance(p, Text) or p.text.strip() for p in parts):
        raise UserError("the message is empty: send some text or an image or file")
    return content if isinstance(content, Message) else Message("user", parts)


class Inbox:
    """Thread-safe queue of the user messages sent into one run (see the module docstring).

    One is made per run by ``agent.stream()`` / ``agent.astream()``; ``stream.send`` puts into it and the
    driver takes from it. Use it directly only when writing a driver.
    """

    __slots__ = ("_callbacks", "_closed", "_interrupt", "_lock", "_queue", "undelivered")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Message] = []
        self._closed = ""  # why it closed; empty while open
        self._interrupt = False
        self._callbacks: list[Callable[[], None]] = []
        self.undelivered: tuple[Message, ...] = ()
        """Messages accepted but never delivered: the run failed or was cancelled before its next request."""

    def put(self, message: Message, *, interrupt: bool = False) -> None:
        """Queue ``message`` for the run's next model request; with ``interrupt`` stop waiting on running work.

        Raises:
            UserError: the run has ended (the message would never reach the model).
        """
        with self._lock:
            if self._closed:
                raise UserError(
                    f"the run has {self._closed}: a message sent now would never reach the model; start a new "
                    "run with it (agent.run(message, message_history=result.messages))"
                )
            self._queue.append(message)
            wake = interrupt and not self._interrupt
            if wake:
                self._interrupt = True
            callbacks = list(self._callbacks) if wake else []
        for callback in callbacks:  # the message is in: a failing wake-up must not make the sender think otherwise
            try:
                callback()
            except Exception:
                logger.exception("waking the run for an interrupting message failed")

    @property
    def interrupting(self) -> bool:
        """Whether a message sent with ``interrupt=True`` waits: the driver stops waiting on tools or the model."""
        return self._interrupt

    @property
    def closed(self) -> bool:
        """Whether the run ended (or paused): nothing more can be sent."""
        return bool(self._closed)

    def take(self, *, final: bool = False) -> tuple[Message, ...]:
        """The messages queued since the last call, in the order they were sent (clears the interrupt).

        With ``final`` (the run has its output, or pauses) and nothing queued, the inbox closes in the same
        step, so a message is either taken here or refused.
        """
        if not self._queue and not final:  # the common case: nothing sent, no lock needed
            return ()
        with self._lock:
            taken = tuple(self._queue)
            self._queue.clear()
            self._interrupt = False
            if final and not taken:
                self._closed = "ended"
        return taken

    def close(self, why: str = "ended") -> tuple[Message, ...]:
        """Refuse further messages; returns (and keeps in :attr:`undelivered`) the ones never taken."""
        with self._lock:
            if not self._closed:
                self._closed = why
            left = tuple(self._queue)
            self._queue.clear()
            self._interrupt = False
        if left:
            self.undelivered = (*self.undelivered, *left)
        return left

    def on_interrupt(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from the sender's thread) each time an interrupting message arrives.

        Returns a function that unregisters it.
        """
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return remove
