"""How the ``podium`` command reacts to signals: a clean stop, a saved conversation, no traceback.

Outside a turn, SIGTERM and SIGHUP raise :class:`Terminated`; the entry point prints one line and exits
with ``128 + N`` (143 for SIGTERM, 129 for SIGHUP). Signals that were ignored when ``podium`` started stay
ignored (``nohup podium run ...`` survives a hang-up).

During a turn (:func:`stop_on_signals`):

* Ctrl-C (SIGINT) cancels the turn; the run stops at the next effect boundary and the conversation stays
  valid. A second Ctrl-C within 2 seconds interrupts at once.
* SIGTERM and SIGHUP cancel the turn the same way, and interrupt at once if it has not stopped within
  :data:`GRACE_SECONDS` (a tool or a model request that does not watch for cancellation), so a
  terminated ``podium`` never lingers. The turn's outcome records the signal for the exit code.

Raising from a signal handler unwinds through ``finally`` blocks: a sandboxed command is killed with its
whole process tree, the store's transaction rolls back, and the run is recorded as interrupted.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from podium.agent.cancel import CancelToken

__all__ = ["GRACE_SECONDS", "TERMINATING", "Terminated", "TurnSignals", "install_handlers", "stop_on_signals"]

GRACE_SECONDS = 3.0
"""How long a turn may take to stop after SIGTERM/SIGHUP before it is interrupted."""

TERMINATING: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGHUP)
"""Signals that end ``podium`` (after a turn in progress is stopped and recorded)."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived; raised in the main thread like ``KeyboardInterrupt``."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """``128 + N``, the shell's convention for a process ended by signal N."""
        return 128 + self.signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def install_handlers() -> None:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` in the main thread, unless they are ignored."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in TERMINATING:
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _raise_terminated)


@dataclass
class TurnSignals:
    """What happened during a turn."""

    signum: int | None = None
    """The terminating signal that stopped the turn (SIGTERM or SIGHUP), if one did."""


def _replaceable(signum: int) -> bool:
    """Whether to handle ``signum`` here: not when it is ignored, nor when C code installed its handler."""
    current = signal.getsignal(signum)
    return current is not signal.SIG_IGN and current is not None


@contextmanager
def stop_on_signals(token: CancelToken) -> Iterator[TurnSignals]:
    """Cancel ``token`` on Ctrl-C, SIGTERM or SIGHUP during a turn (see the module docstring)."""
    state = TurnSignals()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    main = threading.main_thread().ident
    first_interrupt: list[float] = []
    timers: list[threading.Timer] = []

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if first_interrupt and now - first_interrupt[0] < 2.0:
            raise KeyboardInterrupt
        first_interrupt[:] = [now]
        token.cancel("interrupted by the user")

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        if state.signum is not None:  # a second signal, or the grace period is over
            raise Terminated(state.signum)
        state.signum = signum
        token.cancel(f"terminated by {signal.Signals(signum).name}")
        if main is not None:
            timer = threading.Timer(GRACE_SECONDS, signal.pthread_kill, (main, signum))
            timer.daemon = True
            timer.start()
            timers.append(timer)

    previous: dict[int, Any] = {}
    for signum, handler in ((signal.SIGINT, on_interrupt), *((s, on_terminate) for s in TERMINATING)):
        if _replaceable(signum):
            previous[signum] = signal.signal(signum, handler)
    try:
        yield state
    finally:
        for timer in timers:
            timer.cancel()
        for number, restore in previous.items():
            signal.signal(number, restore)
