"""What one sandboxed command did: output (capped head and tail), exit status, and what it used."""

from __future__ import annotations

import signal as _signal
from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "EXIT_LIMIT",
    "EXIT_SANDBOX_ERROR",
    "EXIT_TIMEOUT",
    "HeadTail",
    "KilledBy",
    "SandboxResult",
]

EXIT_TIMEOUT = 124
"""Exit code of ``podium sandbox run`` when the wall timeout killed the command (as ``timeout(1)``)."""
EXIT_LIMIT = 123
"""Exit code of ``podium sandbox run`` when a resource limit (CPU, memory, file size, output) stopped it."""
EXIT_SANDBOX_ERROR = 125
"""Exit code of ``podium sandbox run`` when the sandbox itself could not start the command."""

KilledBy: TypeAlias = Literal["timeout", "cpu", "memory", "file_size", "disk", "output", "signal", "cancelled"]

_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")


class HeadTail:
    """A byte sink that keeps the first and last bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        """Keep about ``limit`` bytes: two thirds from the head, one third from the tail."""
        self.head_limit = limit * 2 // 3
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def write(self, data: bytes) -> None:
        """Add a chunk."""
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def cut(self) -> int:
        """Bytes dropped from the middle."""
        return max(0, self.total - len(self.head) - min(len(self.tail), self.tail_limit))

    def text(self) -> str:
        """The kept output as text; a cut is marked with how many bytes were dropped."""
        tail = bytes(self.tail[-self.tail_limit :]) if self.tail_limit else b""
        head = bytes(self.head)
        if not self.cut:
            return (head + tail).decode("utf-8", "replace")
        return (
            head.decode("utf-8", "replace")
            + f"\n[... {self.cut} bytes cut; {self.total} bytes in all ...]\n"
            + tail.decode("utf-8", "replace")
        )


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """The outcome of one command run in a sandbox."""

    stdout: str
    """Standard output, head and tail kept, the cut marked."""
    stderr: str
    """Standard error, head and tail kept, the cut marked."""
    exit_code: int | None
    """The command's exit code, or ``None`` when a signal ended it."""
    signal: int | None
    """The signal that ended the command, if one did."""
    killed_by: KilledBy | None
    """Why the command was stopped: ``timeout``, ``cpu``, ``memory``, ``file_size``, ``disk`` (it wrote more
    than the workspace may grow), ``output``, ``signal``, ``cancelled`` (its tool call was abandoned)."""
    wall_time: float
    """Seconds from start until the command and its leftovers were gone."""
    cpu_time: float
    """CPU seconds (user + system) of the command and the processes it waited for."""
    peak_memory: int | None
    """Largest resident set of any of those processes, in bytes."""
    stdout_bytes: int = 0
    """Bytes the command wrote to stdout (including the cut part)."""
    stderr_bytes: int = 0
    """Bytes the command wrote to stderr (including the cut part)."""
    leftovers_killed: int = 0
    """Background processes still running when the command returned, that the sandbox killed."""
    backend: str = ""
    """``bubblewrap`` or ``process``."""

    @property
    def timed_out(self) -> bool:
        """Whether the wall timeout killed the command."""
        return self.killed_by == "timeout"

    @property
    def truncated(self) -> bool:
        """Whether some output was cut."""
        return "bytes cut; " in self.stdout or "bytes cut; " in self.stderr

    @property
    def ok(self) -> bool:
        """Whether the command exited with code 0."""
        return self.exit_code == 0 and self.killed_by is None

    @property
    def cli_exit_code(self) -> int:
        """The exit code ``podium sandbox run`` uses: 124 timeout, 123 limit, 128+N signal, else the command's."""
        if self.killed_by == "timeout":
            return EXIT_TIMEOUT
        if self.killed_by in ("cpu", "memory", "file_size", "disk", "output"):
            return EXIT_LIMIT
        if self.signal is not None:
            return 128 + self.signal
        return self.exit_code if self.exit_code is not None else EXIT_SANDBOX_ERROR

    def status_line(self) -> str:
        """One line saying how the command ended and what it used."""
        if self.killed_by == "timeout":
            how = "killed: wall timeout"
        elif self.killed_by == "cancelled":
            how = "killed: the run was cancelled"
        elif self.killed_by == "cpu":
            how = "killed: CPU time limit"
        elif self.killed_by == "memory" and self.signal is not None:
            how = "killed: memory limit (all processes together)"
        elif self.killed_by == "memory":
            how = f"failed at the memory limit (exit code {self.exit_code})"
        elif self.killed_by == "disk":
            how = "killed: it wrote more than the workspace may grow"
        elif self.killed_by == "file_size":
            how = "killed: file size limit"
        elif self.killed_by == "output":
            how = "killed: too much output"
        elif self.signal is not None:
            how = f"killed by signal {_signal_name(self.signal)}"
        else:
            how = f"exit code {self.exit_code}"
        mem = f", peak memory {self.peak_memory / 2**20:.1f} MiB" if self.peak_memory else ""
        left = f", {self.leftovers_killed} background process(es) killed" if self.leftovers_killed else ""
        return f"[{how}; wall {self.wall_time:.2f} s, cpu {self.cpu_time:.2f} s{mem}{left}]"

    def for_model(self) -> str:
        """The result as text for a model: the output sections and the status line."""
        parts = []
        if self.stdout:
            parts.append(self.stdout.rstrip("\n"))
        if self.stderr:
            parts.append("[stderr]\n" + self.stderr.rstrip("\n"))
        if not parts:
            parts.append("[no output]")
        parts.append(self.status_line())
        return "\n".join(parts)


def _signal_name(signum: int) -> str:
    try:
        return _signal.Signals(signum).name
    except ValueError:
        return str(signum)


def classify(
    *,
    status_signal: int | None,
    exit_code: int | None,
    we_killed: KilledBy | None,
    cpu_time: float,
    cpu_limit: int | None,
    stderr_tail: str,
    oom_killed: bool = False,
) -> KilledBy | None:
    """Why a command ended, from how it ended and what the sandbox (or its memory cgroup) did."""
    if we_killed is not None:
        return we_killed
    if oom_killed:
        return "memory"
    if status_signal == _signal.SIGXCPU:
        return "cpu"
    if status_signal == _signal.SIGXFSZ:
        return "file_size"
    if status_signal == _signal.SIGKILL and cpu_limit is not None and cpu_time >= cpu_limit:
        return "cpu"
    if status_signal is not None:
        return "signal"
    # a shell reports a child killed by a signal as 128 + N
    if exit_code == 128 + _signal.SIGXFSZ:
        return "file_size"
    if exit_code == 128 + _signal.SIGXCPU:
        return "cpu"
    if exit_code not in (0, None) and any(m in stderr_tail for m in _MEMORY_MARKERS):
        return "memory"
    return None
