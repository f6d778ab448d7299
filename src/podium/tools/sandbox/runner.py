"""Running one prepared command: output capture, wall timeout, killing the whole tree, usage.

Both back-ends build a :class:`Launch` (what to spawn and how to find its processes) and hand it to
:func:`execute`. The command is never run twice: a timeout kills it and reports ``killed_by="timeout"``; a
cancel (the tool call was abandoned) stops it the same way and reports ``killed_by="cancelled"``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.tools.sandbox.cgroup import CommandCgroup
from podium.tools.sandbox.policy import Limits
from podium.tools.sandbox.procfs import kill_pids, ns_pid, pids_in_namespace, pids_in_session
from podium.tools.sandbox.result import HeadTail, KilledBy, SandboxResult, classify

__all__ = ["Launch", "SandboxStartError", "execute"]

logger = logging.getLogger("podium.tools.sandbox")

_DRAIN_SECONDS = 0.5
INODES_PER_MB = 64
"""Files (inodes) a command may add to the workspace's file system per MiB of ``Limits.disk_mb``."""


class SandboxStartError(RuntimeError):
    """The sandbox could not start the command (bubblewrap failed, the cgroup could not be joined, ...)."""


@dataclass
class Launch:
    """A command ready to spawn, and how to find every process it starts."""

    argv: list[str]
    """What to execute (bubblewrap or the launcher, then the command)."""
    env: Mapping[str, str]
    """The complete environment."""
    cwd: str
    """Working directory (on the host)."""
    backend: str
    """Back-end name for the result."""
    cgroup: CommandCgroup | None = None
    """The command's cgroup (root only): its processes, their number and their memory together."""
    release_fd: int | None = None
    """Write end of the pipe the launcher waits on until it is in its cgroup."""
    child_fds: tuple[int, ...] = ()
    """File descriptors the child inherits (closed in the parent after the spawn)."""
    status_fd: int | None = None
    """Read end of the launcher's status pipe (exit status, CPU time and peak memory of the command)."""
    bwrap_fd: int | None = None
    """Read end of bubblewrap's ``--json-status-fd`` (its pid namespace and the namespace's pid 1)."""
    leader_is_command: bool = True
    """Whether the spawned process is the command (process back-end) or a supervisor (bubblewrap)."""
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    """Called once at the end."""
    disk_path: str | None = None
    """A path on the file system whose growth is bounded (the workspace)."""


class _DiskWatch:
    """How much a file system's used space (and number of files) grew since the command started."""

    def __init__(self, path: str | None, limit_mb: int | None) -> None:
        self.path = path if limit_mb is not None else None
        self.limit = (limit_mb or 0) * 1024 * 1024
        self.inode_limit = (limit_mb or 0) * INODES_PER_MB
        self.start = self._used() if self.path else (0, 0)
        self.next_check = 0.0

    def _used(self) -> tuple[int, int]:
        assert self.path is not None
        try:
            st = os.statvfs(self.path)
        except OSError:
            return (0, 0)
        return ((st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files - st.f_ffree)

    def exceeded(self, now: float) -> bool:
        """Whether the growth passed the limit (checked at most every 50 ms)."""
        if self.path is None or now < self.next_check:
            return False
        self.next_check = now + 0.05
        used, inodes = self._used()
        return used - self.start[0] > self.limit or inodes - self.start[1] > self.inode_limit


class _Tree:
    """The processes of one command, found by cgroup, pid namespace or session."""

    def __init__(self, launch: Launch, leader: int) -> None:
        self.launch = launch
        self.leader = leader
        self.ns_inode: int | None = None
        self.ns_init: int | None = None

    def members(self) -> list[int]:
        found = set(self.launch.cgroup.pids()) if self.launch.cgroup is not None else set()
        if self.ns_inode is not None:
            found.update(pids_in_namespace(self.ns_inode))
        found.update(pids_in_session(self.leader))
        return sorted(found)

    def leftovers(self, launcher_pid: int) -> list[int]:
        """Processes still running once the command returned (not the leader, the launcher, nor pid 1)."""
        out = []
        for pid in self.members():
            if pid in (self.leader, self.ns_init):
                continue
            if self.ns_inode is not None and ns_pid(pid) in (1, launcher_pid):
                continue
            out.append(pid)
        return out

    def signal_all(self, sig: int) -> int:
        pids = self.members()
        if self.launch.leader_is_command:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.leader, sig)
        else:
            pids = [p for p in pids if p != self.leader]  # keep bubblewrap up so SIGTERM gets its grace
        return kill_pids(pids, sig)

    def kill_all(self) -> int:
        """SIGKILL everything until nothing is left; the number of processes killed."""
        killed = 0
        if self.ns_init is not None:
            # the pid namespace's init: when it dies the kernel kills every process in the namespace
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.ns_init, signal.SIGKILL)
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            pids = [p for p in self.members() if p != self.leader]
            if not pids:
                break
            killed += kill_pids(pids)
            time.sleep(0.01)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.leader, signal.SIGKILL)
        return killed


def execute(
    launch: Launch, limits: Limits, timeout: float, stdin: bytes | None, cancel: threading.Event | None = None
) -> SandboxResult:
    """Run ``launch`` to completion within ``timeout`` seconds (or until ``cancel`` is set) and report it."""
    started = time.monotonic()
    if cancel is not None and cancel.is_set():
        _close_launch(launch)
        return _not_started(launch)
    disk = _DiskWatch(launch.disk_path, limits.disk_mb)
    try:
        proc = subprocess.Popen(
            launch.argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(launch.env),
            cwd=launch.cwd,
            start_new_session=True,
            pass_fds=launch.child_fds,
            close_fds=True,
        )
    except OSError as exc:
        _close_launch(launch)
        raise SandboxStartError(f"cannot start {launch.argv[0]!r}: {exc}") from exc
    for fd in launch.child_fds:
        os.close(fd)
    tree = _Tree(launch, proc.pid)
    try:
        _join_cgroup(launch, proc)
        return _supervise(launch, limits, timeout, stdin, proc, tree, started, disk, cancel)
    finally:
        if proc.returncode is None:
            tree.kill_all()
            _reap(proc, time.monotonic() + 2.0)
        for pipe in (proc.stdout, proc.stderr, proc.stdin):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        _close_launch(launch)


def _not_started(launch: Launch) -> SandboxResult:
    """The result of a command whose call was abandoned before it started."""
    return SandboxResult(
        stdout="",
        stderr="",
        exit_code=None,
        signal=None,
        killed_by="cancelled",
        wall_time=0.0,
        cpu_time=0.0,
        peak_memory=None,
        backend=launch.backend,
    )


def _join_cgroup(launch: Launch, proc: subprocess.Popen[bytes]) -> None:
    if launch.release_fd is None:
        return
    try:
        if launch.cgroup is not None:
            launch.cgroup.add(proc.pid)
        os.write(launch.release_fd, b"1")
    except OSError as exc:
        proc.kill()
        raise SandboxStartError(f"cannot move the command into its cgroup: {exc}") from exc
    finally:
        os.close(launch.release_fd)
        launch.release_fd = None


def _close_launch(launch: Launch) -> None:
    for fd in (launch.release_fd, launch.status_fd, launch.bwrap_fd):
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
    launch.release_fd = launch.status_fd = launch.bwrap_fd = None
    for fn in launch.cleanup:
        try:
            fn()
        except Exception:
            logger.warning("sandbox cleanup failed", exc_info=True)
    launch.cleanup.clear()


def _feed(pipe: object, data: bytes) -> None:
    import io

    assert isinstance(pipe, io.BufferedWriter)
    with contextlib.suppress(OSError):
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def _supervise(
    launch: Launch,
    limits: Limits,
    timeout: float,
    stdin: bytes | None,
    proc: subprocess.Popen[bytes],
    tree: _Tree,
    started: float,
    disk: _DiskWatch,
    cancel: threading.Event | None,
) -> SandboxResult:
    assert proc.stdout is not None
    assert proc.stderr is not None
    if stdin is not None:
        threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
    out, err = HeadTail(limits.max_output_chars), HeadTail(limits.max_output_chars)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, out)
    sel.register(proc.stderr.fileno(), selectors.EVENT_READ, err)
    status_buf, bwrap_buf = bytearray(), bytearray()
    if launch.status_fd is not None:
        sel.register(launch.status_fd, selectors.EVENT_READ, status_buf)
    if launch.bwrap_fd is not None:
        sel.register(launch.bwrap_fd, selectors.EVENT_READ, bwrap_buf)
    deadline = started + timeout
    we_killed: KilledBy | None = None
    report: dict[str, Any] | None = None
    while report is None:
        now = time.monotonic()
        if now >= deadline or (cancel is not None and cancel.is_set()):
            we_killed = "timeout" if now >= deadline else "cancelled"
            _terminate(tree, proc, limits.kill_grace, sel)
            break
        if disk.exceeded(now):
            we_killed = "disk"
            tree.signal_all(signal.SIGKILL)
            break
        for key, _ in sel.select(timeout=min(0.05, deadline - now)):
            sink = key.data
            data = _read(key.fd)
            if not data:
                sel.unregister(key.fd)
            elif sink is status_buf:
                status_buf += data
                report = _json_docs(status_buf, "exit")
            elif sink is bwrap_buf:
                bwrap_buf += data
                _bwrap_info(bwrap_buf, tree)
            else:
                sink.write(data)
                if out.total + err.total > limits.output_kill_bytes:
                    we_killed = "output"
                    tree.signal_all(signal.SIGKILL)
        if we_killed is not None:
            break
        if report is None and _poll_status(proc) is not None:
            # the launcher is gone: read a last report, else the sandbox failed before the command ran
            _drain(sel, time.monotonic() + 0.2, status_buf, bwrap_buf)
            report = _json_docs(status_buf, "exit")
            break
    leftovers = 0
    if report is not None and we_killed is None:
        _drain(sel, time.monotonic(), status_buf, bwrap_buf)  # what is ready now (bubblewrap's namespace info)
        _bwrap_info(bwrap_buf, tree)
        found = tree.leftovers(int(report.get("pid", 0)))
        if found:  # a process that is just exiting (the launcher itself) is not a leftover
            time.sleep(0.05)
            found = [p for p in tree.leftovers(int(report.get("pid", 0))) if p in found]
        leftovers = max(len(found), int(report.get("leftovers", 0)))
    tree.kill_all()
    _drain(sel, time.monotonic() + _DRAIN_SECONDS, status_buf, bwrap_buf)
    sel.close()
    usage = _reap(proc, time.monotonic() + 5.0)
    if report is not None:
        exit_code, sig = report.get("exit"), report.get("signal")
        cpu, peak = float(report.get("cpu", 0.0)), int(report.get("maxrss", 0)) or None
    else:  # the supervisor itself died (killed with SIGKILL, or bubblewrap failed before the command ran)
        returncode = proc.returncode
        exit_code, sig = returncode, None
        if returncode is not None and returncode < 0:
            exit_code, sig = None, -returncode
        cpu = (usage.ru_utime + usage.ru_stime) if usage else 0.0
        peak = None
    oom = launch.cgroup.oom_killed() if launch.cgroup is not None else False
    wall = time.monotonic() - started
    stderr_text = err.text()
    killed_by = classify(
        status_signal=sig,
        exit_code=exit_code,
        we_killed=we_killed,
        cpu_time=cpu,
        cpu_limit=limits.cpu_seconds,
        stderr_tail=stderr_text[-2000:],
        oom_killed=oom,
    )
    if we_killed is not None:
        exit_code, sig = None, signal.SIGKILL
    return SandboxResult(
        stdout=out.text(),
        stderr=stderr_text,
        exit_code=exit_code,
        signal=sig,
        killed_by=killed_by,
        wall_time=wall,
        cpu_time=cpu,
        peak_memory=peak,
        stdout_bytes=out.total,
        stderr_bytes=err.total,
        leftovers_killed=leftovers,
        backend=launch.backend,
    )


def _json_docs(buf: bytearray, want: str) -> dict[str, Any] | None:
    """The last complete JSON line in ``buf`` that has the key ``want``."""
    found = None
    for line in buf.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line.endswith("}"):
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and want in doc:
            found = doc
    return found


def _bwrap_info(buf: bytearray, tree: _Tree) -> None:
    doc = _json_docs(buf, "child-pid")
    if doc is not None:
        tree.ns_init = int(doc["child-pid"])
        tree.ns_inode = int(doc.get("pid-namespace", 0)) or None


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def _poll_status(proc: subprocess.Popen[bytes]) -> tuple[int | None, int | None] | None:
    """The leader's exit (code, signal) if it has exited; it stays unreaped (a zombie) so its pid is not reused."""
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return (proc.returncode, None)
    if info is None or info.si_pid == 0:
        return None
    if info.si_code == os.CLD_EXITED:
        return (info.si_status, None)
    return (None, info.si_status)


def _terminate(tree: _Tree, proc: subprocess.Popen[bytes], grace: float, sel: selectors.BaseSelector) -> None:
    """SIGTERM everything, wait ``grace`` seconds (reading output), then SIGKILL what is left."""
    tree.signal_all(signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        if not [p for p in tree.members() if p != proc.pid] and _poll_status(proc) is not None:
            break
        for key, _ in sel.select(timeout=0.05):
            data = _read(key.fd)
            if not data:
                sel.unregister(key.fd)
            elif isinstance(key.data, bytearray):
                key.data.extend(data)
            else:
                key.data.write(data)
    tree.kill_all()


def _drain(sel: selectors.BaseSelector, until: float, *buffers: bytearray) -> None:
    """Read what is left in the pipes, but stop at ``until`` (an escaped process may hold a pipe open)."""
    first = True
    while sel.get_map() and (first or time.monotonic() < until):
        first = False
        for key, _ in sel.select(timeout=max(0.0, until - time.monotonic())):
            data = _read(key.fd)
            if not data:
                sel.unregister(key.fd)
            elif any(key.data is b for b in buffers):
                key.data.extend(data)
            else:
                key.data.write(data)


def _reap(proc: subprocess.Popen[bytes], until: float) -> Any:
    """Wait for the leader and return its resource usage (which includes the descendants it waited for)."""
    while True:
        try:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:
            if proc.returncode is None:
                proc.returncode = -1
            return None
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if time.monotonic() >= until:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            until = time.monotonic() + 5.0
        time.sleep(0.005)
