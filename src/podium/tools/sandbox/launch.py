"""The launcher: a few lines of Python that set the rlimits in the sandboxed process, then exec the command.

It runs as ``python -I -S -c LAUNCHER SPEC -- ARGV...`` (no site, no imports beyond ``os``, ``sys``,
``resource``), inside bubblewrap's namespaces or as the process back-end's child. Setting the limits there,
rather than in a ``preexec_fn``, keeps Podium's threads safe (``preexec_fn`` can deadlock with threads) and,
under bubblewrap, makes the process limit count only the processes of that sandbox's user namespace.

``SPEC`` is ``key=value`` pairs joined by commas:

- ``cpu``, ``as``, ``nproc``, ``fsize``, ``nofile``: the rlimits;
- ``wait``: a file descriptor to read one byte from first (the parent writes it once the process is in its
  cgroup);
- ``status``: a file descriptor: the launcher then forks, waits for the command, and writes one JSON line
  there: exit code or signal, CPU seconds and peak RSS of the command's tree (measured in the fresh child
  rather than in the forked copy of Podium, whose size would otherwise count as the command's peak), and how
  many leftover processes it killed;
- ``reaper``: the supervising launcher is a child subreaper (``PR_SET_CHILD_SUBREAPER``), so processes the
  command leaves behind, even in a new session, are re-parented to it; it kills them all once the command
  returns, and when its own parent dies;
- ``pdeath``: Podium's pid; the launcher gets a signal when Podium dies (``PR_SET_PDEATHSIG``), checks that
  Podium did not die before that was set, and then kills the command's whole tree, so nothing outlives a
  Podium that was killed with SIGKILL; the command itself dies with its supervisor;
- ``caps=drop``: empty the command's capability sets, bounding and ambient included (Podium runs as root);
- ``seccomp``: a file descriptor holding the system-call filter (:mod:`~podium.tools.sandbox.seccomp`), loaded
  with ``no_new_privs`` right before the exec.

Signals Python ignores at start-up (SIGPIPE, SIGXFSZ) are restored to their defaults before the exec.
"""

from __future__ import annotations

import sys

from podium.tools.sandbox.policy import Limits

__all__ = ["LAUNCHER", "launcher_argv", "limits_spec"]

LAUNCHER = r"""
import json, os, resource, signal, sys, time
spec = dict(kv.split("=", 1) for kv in sys.argv[1].split(",") if kv)
argv = sys.argv[3:]
_libc = []

def prctl(option, *args):
    import ctypes
    if not _libc:
        _libc.append(ctypes.CDLL(None, use_errno=True))
    values = [ctypes.c_ulong(a) for a in (args + (0, 0, 0, 0))[:4]]
    if _libc[0].prctl(option, *values) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(%d): %s" % (option, os.strerror(err)))

def fail(message, code=125):
    try:
        sys.stderr.write("podium sandbox: %s\n" % message)
    except OSError:
        pass
    os._exit(code)

def descendants():
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    data = f.read()
                parents.setdefault(int(data[data.rfind(b")") + 2:].split()[1]), []).append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    out, stack = [], [os.getpid()]
    while stack:
        for child in parents.get(stack.pop(), ()):
            out.append(child)
            stack.append(child)
    return out

def kill_descendants():
    killed = set()
    for attempt in range(500):
        pids = descendants()
        if not pids:
            break
        if attempt:
            time.sleep(0.005)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
    return killed

def parent_died(*_):
    kill_descendants()
    os._exit(137)

def drop_capabilities():
    import ctypes
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        prctl(24, cap)  # PR_CAPBSET_DROP
    prctl(47, 4)  # PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    if _libc[0].capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")

def load_filter(fd):
    import ctypes
    program = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        program += chunk
    os.close(fd)
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    buf = ctypes.create_string_buffer(program, len(program))
    prog = Prog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    prctl(38, 1)  # PR_SET_NO_NEW_PRIVS
    prctl(22, 2, ctypes.addressof(prog))  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER

status_fd = int(spec.get("status", "-1"))
supervise = status_fd >= 0
if supervise:
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    if "reaper" in spec:
        prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans of the command come back to this process
if "pdeath" in spec:
    if supervise:
        signal.signal(signal.SIGUSR2, parent_died)
    prctl(1, signal.SIGUSR2 if supervise else signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != int(spec["pdeath"]):
        parent_died() if supervise else os._exit(125)
if "wait" in spec:
    fd = int(spec["wait"])
    if os.read(fd, 1) != b"1":
        os._exit(125)
    os.close(fd)
names = {"cpu": resource.RLIMIT_CPU, "as": resource.RLIMIT_AS, "nproc": resource.RLIMIT_NPROC,
         "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE}
pid = os.fork() if supervise else 0
if pid == 0:
    if supervise:
        os.close(status_fd)
        prctl(1, signal.SIGKILL)  # the command dies with its supervisor
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGUSR2):
        signal.signal(s, signal.SIG_DFL)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core files in the workspace
    except (ValueError, OSError):
        pass
    for key, res in names.items():
        if key in spec:
            soft = int(spec[key])
            hard = soft + 1 if key == "cpu" else soft
            try:
                resource.setrlimit(res, (soft, hard))
            except (ValueError, OSError) as exc:
                fail("cannot set limit %s=%s: %s" % (key, soft, exc))
    try:
        if spec.get("caps") == "drop":
            drop_capabilities()
        if "seccomp" in spec:
            load_filter(int(spec["seccomp"]))
    except OSError as exc:
        fail("cannot restrict the command: %s" % exc)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        fail("cannot run %r: %s" % (argv[0], exc.strerror), 127 if isinstance(exc, FileNotFoundError) else 126)
_, status, ru = os.wait4(pid, 0)
left = kill_descendants() if "reaper" in spec else ()
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
doc = {"exit": code, "signal": sig, "cpu": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss * 1024,
       "pid": os.getpid(), "leftovers": len(left)}
try:
    os.write(status_fd, (json.dumps(doc) + "\n").encode())
    os.close(status_fd)
except OSError:
    pass
if sig is not None:
    try:
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    except (OSError, ValueError):
        pass
os._exit(code if code is not None else 128 + (sig or 0))
"""


def limits_spec(
    limits: Limits,
    *,
    nproc: int | None = None,
    wait_fd: int | None = None,
    status_fd: int | None = None,
    pdeath: int | None = None,
    drop_caps: bool = False,
    seccomp_fd: int | None = None,
) -> str:
    """The launcher's SPEC for ``limits`` (``nproc`` overrides the process limit, e.g. to add a base count).

    With ``status_fd`` the launcher supervises the command as a subreaper (``reaper``): every process the
    command leaves behind comes back to it and is killed when the command returns.
    """
    items: list[str] = []
    if wait_fd is not None:
        items.append(f"wait={wait_fd}")
    if status_fd is not None:
        items += [f"status={status_fd}", "reaper=1"]
    if pdeath is not None:
        items.append(f"pdeath={pdeath}")
    if drop_caps:
        items.append("caps=drop")
    if seccomp_fd is not None:
        items.append(f"seccomp={seccomp_fd}")
    if limits.cpu_seconds is not None:
        items.append(f"cpu={limits.cpu_seconds}")
    if limits.memory_mb is not None:
        items.append(f"as={limits.memory_mb * 1024 * 1024}")
    procs = nproc if nproc is not None else limits.max_processes
    if procs is not None:
        items.append(f"nproc={procs}")
    if limits.file_size_mb is not None:
        items.append(f"fsize={limits.file_size_mb * 1024 * 1024}")
    if limits.open_files is not None:
        items.append(f"nofile={limits.open_files}")
    return ",".join(items)


def launcher_argv(spec: str, argv: list[str], python: str | None = None) -> list[str]:
    """``python -I -S -c LAUNCHER spec -- argv...``."""
    return [python or sys.executable, "-I", "-S", "-c", LAUNCHER, spec, "--", *argv]
