"""Finding a command's processes through /proc: by session, or by pid namespace."""

from __future__ import annotations

import contextlib
import os
import signal

__all__ = [
    "kill_pids",
    "make_undumpable",
    "ns_pid",
    "pids_in_namespace",
    "pids_in_session",
    "uid_process_count",
]


def _all_pids() -> list[int]:
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    return [int(n) for n in names if n.isdigit()]


def _session_and_group(pid: int) -> tuple[int, int] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: split after the last ')'
    fields = data[data.rfind(b")") + 2 :].split()
    if len(fields) < 4 or fields[0] == b"Z":
        return None  # zombies are already dead
    return int(fields[3]), int(fields[2])


def pids_in_session(session: int, exclude: frozenset[int] = frozenset()) -> list[int]:
    """Live processes whose session or process group is ``session`` (a ``start_new_session`` leader's pid)."""
    out = []
    for pid in _all_pids():
        if pid in exclude:
            continue
        ids = _session_and_group(pid)
        if ids is not None and session in ids:
            out.append(pid)
    return out


def pids_in_namespace(ns_inode: int, exclude: frozenset[int] = frozenset()) -> list[int]:
    """Live processes in the pid namespace whose inode is ``ns_inode``."""
    out = []
    for pid in _all_pids():
        if pid in exclude:
            continue
        try:
            if os.stat(f"/proc/{pid}/ns/pid").st_ino != ns_inode:
                continue
        except OSError:
            continue
        if _session_and_group(pid) is not None:
            out.append(pid)
    return out


def uid_process_count(uid: int) -> int:
    """How many processes (threads counted, as RLIMIT_NPROC does) user ``uid`` has now."""
    count = 0
    for pid in _all_pids():
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            count += max(1, len(os.listdir(f"/proc/{pid}/task")))
        except OSError:
            continue
    return count


def kill_pids(pids: list[int], sig: int = signal.SIGKILL) -> int:
    """Send ``sig`` to each of ``pids``; how many were still there."""
    sent = 0
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
            sent += 1
    return sent


def ns_pid(pid: int) -> int | None:
    """The pid that process ``pid`` has in its own (innermost) pid namespace."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        return None
    return None


def make_undumpable() -> bool:
    """Make this process non-dumpable (``PR_SET_DUMPABLE`` 0); whether it worked.

    ``/proc/<pid>/environ``, ``/proc/<pid>/mem`` and the other per-process files that hold secrets then
    belong to root and need ``CAP_SYS_PTRACE``, so a command running as the same user cannot read the API
    keys in Podium's environment. Core dumps of Podium are off as a consequence.
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(4, 0, 0, 0, 0)) == 0  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        return False
