"""Lines typed while ``podium chat`` answers: read on a thread and sent into the running turn.

During a turn the terminal is in its ordinary line mode (prompt_toolkit only takes it over while it shows a
prompt), so what the user types is echoed by the terminal and handed over a line at a time when Enter is
pressed. :class:`TypeAhead` waits for such lines on a thread of its own with ``select`` (never blocking in
``read``, so it can stop at once when the turn ends and leave the terminal to the next prompt) and passes
each one to a callback, which sends it into the run (:meth:`podium.agent.agent.RunStream.send`).

While the turn asks the user something (an approval), :meth:`TypeAhead.paused` stops the thread from
reading so that the answer goes to the question, not into the run.

Only for a terminal on a POSIX system: with piped input, ``podium chat`` keeps reading one prompt per line
after each answer (see :func:`typeahead_supported`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
from collections.abc import Callable, Iterator

__all__ = ["TypeAhead", "typeahead_supported"]

logger = logging.getLogger("podium.cli")


def typeahead_supported() -> bool:
    """Whether lines typed during a turn can be read: stdin and stdout are a terminal, on POSIX."""
    try:
        return os.name == "posix" and sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # stdin replaced or closed
        return False


class TypeAhead:
    """Reads lines from ``fd`` on a thread while a turn runs and gives each to ``on_line`` (use as a context)."""

    def __init__(self, fd: int, on_line: Callable[[str], None]) -> None:
        """Read from file descriptor ``fd`` (a terminal in line mode); call ``on_line`` with each line, no newline."""
        self._fd = fd
        self._on_line = on_line
        self._wake_r, self._wake_w = os.pipe()
        self._stop = False
        self._pause = False
        self._idle = threading.Event()
        self._resume = threading.Event()
        self._thread = threading.Thread(target=self._run, name="podium-typeahead", daemon=True)

    def __enter__(self) -> TypeAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading (a line typed but not ended with Enter stays for the next prompt)."""
        self._stop = True
        self._resume.set()
        self._poke()
        if self._thread.is_alive():
            self._thread.join(5)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Do not read while the body runs (it asks the user something on the same terminal)."""
        if not self._thread.is_alive():
            yield
            return
        self._resume.clear()
        self._idle.clear()
        self._pause = True
        self._poke()
        self._idle.wait(5)
        try:
            yield
        finally:
            self._pause = False
            self._resume.set()

    def _poke(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _run(self) -> None:
        while not self._stop:
            if self._pause:
                self._idle.set()
                self._resume.wait()
                continue
            try:
                ready, _, _ = select.select([self._fd, self._wake_r], [], [])
            except (OSError, ValueError):
                return
            if self._wake_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 512)
            if self._stop or self._pause or self._fd not in ready:
                continue
            try:
                data = os.read(self._fd, 65536)
            except OSError:
                return
            if not data:  # Ctrl-D on an empty line, or the terminal went away
                return
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        # a terminal in line mode hands over whole lines (or what Ctrl-D pushed out mid-line): no partial reads
        lines = data.split(b"\n")
        if not lines[-1]:
            lines.pop()
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            try:
                self._on_line(line)
            except Exception:  # a bug in the callback must not kill the reader silently
                logger.exception("could not handle a line typed during the answer")
