"""Cancelling a run from another thread or task."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

__all__ = ["CancelToken"]


class CancelToken:
    """Thread-safe cancellation flag.

    Pass it to ``agent.run(..., cancel=token)`` and call :meth:`cancel` from anywhere. The run stops at
    the next effect boundary (before or during a model request or tool batch) and raises
    :class:`~podium.exceptions.RunCancelled` carrying a valid history.
    """

    __slots__ = ("_callbacks", "_event", "_lock", "reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        # re-entrant: a signal handler (Ctrl-C) may cancel while this thread is inside on_cancel()
        self._lock = threading.RLock()
        self._callbacks: list[Callable[[], None]] = []
        self.reason = ""

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        """Request cancellation; safe to call from any thread (and from a signal handler), more than once.

        Every registered callback runs; if some raise, the first exception is raised after all have run.
        """
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        error: BaseException | None = None
        for callback in callbacks:
            try:
                callback()
            except BaseException as exc:  # a callback may interrupt its thread on purpose (KeyboardInterrupt)
                error = error or exc
        if error is not None:
            raise error

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` once when cancelled (at once if already). Returns a function that unregisters it."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)

                def remove() -> None:
                    with self._lock, contextlib.suppress(ValueError):  # already called, or never added
                        self._callbacks.remove(callback)

                return remove
        callback()
        return lambda: None
