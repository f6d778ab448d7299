"""Exit codes and one-line errors for the ``podium`` command: what went wrong and what to do, never a traceback.

Exit codes (``podium run``; the other commands use the same ones where they apply)::

    0    done
    1    an error not listed below: the system refused something (the output cannot be written, a file is
         missing), or a bug (``-vv`` shows the traceback)
    2    bad usage or configuration: options, the config file, the model string, the conversation
         database (damaged, not Podium's, read-only, on a full disk)
    3    provider error (network, authentication, rate limit ...)
    4    the run stopped without an answer (step limit, failing tools, invalid output)
    5    paused: a tool call waits for approval
    130  interrupted (Ctrl-C)
    141  the output was closed (``podium run ... | head -1``): the run was stopped and saved
    143  terminated by SIGTERM (129 by SIGHUP): the run was stopped and saved

Every message that leaves here is scrubbed of known secrets (:mod:`podium.secrets`) and kept on one line.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

from podium.exceptions import AgentRunError, ProviderError, RunCancelled, UserError
from podium.secrets import scrub

__all__ = [
    "EXIT",
    "MAX_PROMPT_BYTES",
    "OutputClosed",
    "clean_input",
    "error_exit_code",
    "error_line",
    "exit_broken_pipe",
    "fail",
    "say",
]

logger = logging.getLogger("podium.cli")

EXIT = {
    "ok": 0,
    "error": 1,
    "usage": 2,
    "provider": 3,
    "stopped": 4,
    "paused": 5,
    "cancelled": 130,
    "broken_pipe": 141,
}
"""The exit codes by name (``128 + N`` for a terminating signal N is added to these)."""

MAX_PROMPT_BYTES = 16 * 1024 * 1024
"""The largest prompt ``podium`` sends (a million-token context holds about 4 MB of text)."""


class OutputClosed(BaseException):
    """stdout was closed by its reader; a ``BaseException`` so that click does not turn it into exit 1."""


def error_exit_code(error: BaseException) -> int:
    """The exit code for an error that ended a command or a turn."""
    from podium.store.base import StoreError

    if isinstance(error, RunCancelled):
        return EXIT["cancelled"]
    if isinstance(error, ProviderError):
        return EXIT["provider"]
    if isinstance(error, (UserError, StoreError)):
        return EXIT["usage"]
    if isinstance(error, AgentRunError):
        return EXIT["stopped"]
    return EXIT["error"]


def one_line(text: str) -> str:
    """``text`` scrubbed of secrets, on one line."""
    return " ".join(scrub(text, shapes=True).split())


def error_line(error: BaseException, *, name: bool = True) -> str:
    """``TypeName: message`` (or just the message) for an error, scrubbed and on one line."""
    message = one_line(str(error)) or "(no message)"
    return f"{type(error).__name__}: {message}" if name else message


def say(text: str) -> None:
    """Write one line to stderr, plainly (no markup, no wrapping); never fails."""
    try:
        sys.stderr.write(one_line(text) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def fail(message: str, code: int) -> NoReturn:
    """Print ``podium: error: message`` on one line and exit with ``code``."""
    say(f"podium: error: {message}")
    raise SystemExit(code)


def exit_broken_pipe() -> NoReturn:
    """Leave quietly after stdout was closed by its reader (``| head``), with exit code 141."""
    try:  # later flushes of stdout (at exit) would fail again: point it at /dev/null
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    say("podium: the output was closed (broken pipe); stopped")
    raise SystemExit(EXIT["broken_pipe"])


def clean_input(text: str) -> tuple[str, int]:
    """Text from argv or stdin made valid: undecodable bytes (``surrogateescape``) become U+FFFD.

    Returns the text and how many characters were replaced.
    """
    if text.isascii():
        return text, 0
    try:
        text.encode("utf-8")
        return text, 0
    except UnicodeEncodeError:
        pass
    raw = text.encode("utf-8", "surrogateescape") if _only_escapes(text) else None
    if raw is not None:
        cleaned = raw.decode("utf-8", "replace")
    else:
        cleaned = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return cleaned, cleaned.count("\ufffd") - text.count("\ufffd")


def _only_escapes(text: str) -> bool:
    """Whether every surrogate in ``text`` is a ``surrogateescape`` byte (U+DC80..U+DCFF)."""
    return all(not ("\ud800" <= ch <= "\udfff") or "\udc80" <= ch <= "\udcff" for ch in text)
