"""The launcher: a few lines of Python that set the rlimits in the sandboxed process, then exec the command.

It runs as ``python -I -S -c LAUNCHER SPEC -- ARGV...`` (no site, no imports beyond ``os``, ``sys``,
``resource``), inside bubblewrap's namespaces or as the process back-end's child. Setting the limits there,
rather than in a ``preexec_fn``, keeps Podium's threads safe (``preexec_fn`` can deadlock with threads) and,
under bubblewrap, makes the process limit count only the processes of that sandbox's user namespace.

``SPEC`` is ``key=value`` pairs joined by commas: ``cpu``, ``as``, ``nproc``, ``fsize``, ``nofile`` (limits),
``wait`` (a file descriptor to read one byte from first: the parent writes it once the process is in its
cgroup), ``status`` (a file descriptor: the launcher then forks, waits for the command, and writes one JSON
line there: exit code or signal, CPU seconds and peak RSS of the command's tree, measured in the fresh child
rather than in the forked copy of Podium, whose size would otherwise count as the command's peak). Signals
Python ignores at start-up (SIGPIPE, SIGXFSZ) are restored to their defaults before the exec.
"""

from __future__ import annotations

import sys

from podium.tools.sandbox.policy import Limits

__all__ = ["LAUNCHER", "launcher_argv", "limits_spec"]

LAUNCHER = r"""
import json, os, resource, signal, sys
spec = dict(kv.split("=", 1) for kv in sys.argv[1].split(",") if kv)
if "wait" in spec:
    fd = int(spec["wait"])
    if os.read(fd, 1) != b"1":
        os._exit(125)
    os.close(fd)
status_fd = int(spec.get("status", "-1"))
names = {"cpu": resource.RLIMIT_CPU, "as": resource.RLIMIT_AS, "nproc": resource.RLIMIT_NPROC,
         "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE}
argv = sys.argv[3:]
if status_fd < 0:
    pid = 0
else:
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    pid = os.fork()
if pid == 0:
    if status_fd >= 0:
        os.close(status_fd)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(s, signal.SIG_DFL)
    for key, res in names.items():
        if key in spec:
            soft = int(spec[key])
            hard = soft + 1 if key == "cpu" else soft
            try:
                resource.setrlimit(res, (soft, hard))
            except (ValueError, OSError) as exc:
                sys.stderr.write("podium sandbox: cannot set limit %s=%s: %s\n" % (key, soft, exc))
                os._exit(125)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write("podium sandbox: cannot run %r: %s\n" % (argv[0], exc.strerror))
        os._exit(127 if isinstance(exc, FileNotFoundError) else 126)
_, status, ru = os.wait4(pid, 0)
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
doc = {"exit": code, "signal": sig, "cpu": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss * 1024,
       "pid": os.getpid()}
os.write(status_fd, (json.dumps(doc) + "\n").encode())
os.close(status_fd)
if sig is not None:
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
os._exit(code if code is not None else 128 + (sig or 0))
"""


def limits_spec(
    limits: Limits, *, nproc: int | None = None, wait_fd: int | None = None, status_fd: int | None = None
) -> str:
    """The launcher's SPEC for ``limits`` (``nproc`` overrides the process limit, e.g. to add a base count)."""
    items: list[str] = []
    if wait_fd is not None:
        items.append(f"wait={wait_fd}")
    if status_fd is not None:
        items.append(f"status={status_fd}")
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
