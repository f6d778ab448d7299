"""The bubblewrap back-end: fresh namespaces, no capabilities, the workspace the only writable host directory.

Whoever runs Podium (root included), the command:

- runs in new user, mount, pid, ipc, uts and cgroup namespaces (and network, unless the policy allows it),
  with **every capability dropped** (``--cap-drop ALL``), ``no_new_privs`` (setuid programs gain nothing),
  no way to make a nested user namespace (``--disable-userns`` where bubblewrap has it, and the system-call
  filter of :mod:`~podium.tools.sandbox.seccomp` in any case), so it cannot change its own mounts;
- sees the host through the policy's view (:mod:`~podium.tools.sandbox.hostview`), read-only;
- writes only to the workspace, the policy's ``writable_paths`` and private tmpfs mounts (``/tmp``,
  ``/dev/shm``) whose size is the policy's ``tmp_mb``; the root of the view itself is read-only;
- cannot create setuid or setgid files (the system-call filter);
- as root, runs in a cgroup bounding its processes and their total memory (:mod:`~podium.tools.sandbox.cgroup`).

``--die-with-parent`` and ``--new-session`` are set; on a timeout the namespace's pid 1 is killed, which makes
the kernel kill every process in it.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typing_extensions import override

from podium.exceptions import UserError
from podium.tools.sandbox.base import Sandbox, find_program
from podium.tools.sandbox.cgroup import cgroup_support, open_command_cgroup
from podium.tools.sandbox.hostview import SCANNED_TREES, masked_entries
from podium.tools.sandbox.launch import launcher_argv, limits_spec
from podium.tools.sandbox.policy import SYSTEM_PATHS, SandboxPolicy
from podium.tools.sandbox.runner import Launch
from podium.tools.sandbox.seccomp import seccomp_program, seccomp_unavailable
from podium.tools.sandbox.workspace import Workspace

__all__ = ["BubblewrapSandbox", "bubblewrap_available"]


INSTALL_HINT = "install it with `apt-get install bubblewrap` (Debian/Ubuntu) or `dnf install bubblewrap` (Fedora)"


@dataclass(frozen=True, slots=True)
class _Features:
    problem: str | None
    """Why bubblewrap cannot be used, or ``None``."""
    userns: tuple[str, ...] = ()
    """The user-namespace options that work here."""
    sizes: bool = False
    """Whether ``--size`` (bounded tmpfs) is understood."""


def _try(args: list[str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(args, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return proc.returncode == 0, proc.stderr.decode("utf-8", "replace").strip()


@functools.lru_cache(maxsize=1)
def _features() -> _Features:
    bwrap = find_program("bwrap")
    if bwrap is None:
        return _Features(f"bubblewrap (bwrap) is not installed; {INSTALL_HINT}")
    base = [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
    ok, message = _try([*base, "--", "/bin/true"])
    if not ok:
        return _Features(
            f"bubblewrap cannot create namespaces here ({message}); unprivileged user namespaces may be disabled"
        )
    userns: tuple[str, ...] = ()
    for option in (("--unshare-user", "--disable-userns"), ("--unshare-user",)):
        if _try([*base, *option, "--", "/bin/true"])[0]:
            userns = option
            break
    sizes = _try([*base, "--size", "1048576", "--tmpfs", "/tmp", "--", "/bin/true"])[0]
    if not sizes:
        return _Features(f"bubblewrap is too old (it has no --size option; 0.5.0 or newer is needed); {INSTALL_HINT}")
    return _Features(None, userns, sizes)


def bubblewrap_available() -> str | None:
    """Why bubblewrap cannot be used here, or ``None`` when it works (checked once, by running ``true``)."""
    return _features().problem


def _proc_covers() -> list[str]:
    """Read-only or hidden kernel interfaces in the sandbox's ``/proc``.

    The kernel lets uid 0 write most of ``/proc/sys`` by file mode alone, without a capability (a root run
    could otherwise set ``kernel.core_pattern``, which the host runs as root): it is made read-only, with
    the other writable kernel interfaces; files that only leak kernel state are hidden.
    """
    args: list[str] = []
    for name in ("sys", "sysrq-trigger", "irq", "bus", "fs", "pressure", "mtrr", "acpi", "scsi", "asound"):
        path = f"/proc/{name}"
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for name in ("kcore", "keys", "key-users", "timer_list", "sched_debug", "latency_stats", "kmsg"):
        path = f"/proc/{name}"
        if os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    return args


_PROC_COVERS = _proc_covers()
_PRIVATE = ("/tmp", "/var/tmp", "/dev", "/proc")  # fresh in every sandbox, never the host's


def _under(path: str, parents: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in parents)


class BubblewrapSandbox(Sandbox):
    """Isolation with bubblewrap: no capabilities, a read-only view of the host, a writable workspace."""

    backend = "bubblewrap"
    isolated = True

    def __init__(self, workspace: str | os.PathLike[str] | Workspace, policy: SandboxPolicy | None = None) -> None:
        """A bubblewrap sandbox; raises :class:`~podium.exceptions.UserError` when bubblewrap cannot run here."""
        super().__init__(workspace, policy)
        problem = bubblewrap_available()
        if problem is not None:
            raise UserError(f"the bubblewrap sandbox is not available: {problem}")
        bwrap = find_program("bwrap")
        assert bwrap is not None
        self.bwrap = bwrap

    # -- the mounts

    def mount_args(self, cwd: str, extra_writable: tuple[str, ...] = ()) -> list[str]:
        """Bubblewrap's arguments for the namespaces and mounts (without the status fds and the command)."""
        policy = self.policy
        args = ["--die-with-parent", "--new-session", "--unshare-all", *_features().userns, "--cap-drop", "ALL"]
        if policy.allow_network:
            args.append("--share-net")
        remount: list[str] = ["/dev"]  # bubblewrap's /dev is a tmpfs without a size: only its devices are writable
        self._view_args(args, remount)
        args += self._private_args()
        for path in self._interpreter_dirs():
            if not self._visible(path):
                args += ["--ro-bind", path, path]
        for path in policy.readable_paths:
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        if policy.allow_network:
            args += self._resolver_args()
        for path in (*policy.writable_paths, *extra_writable):
            if os.path.isdir(path):
                args += ["--bind", path, path]
        root = str(self.workspace.root)
        args += ["--bind", root, root]
        for rel in policy.readonly_in_workspace:
            path = os.path.realpath(os.path.join(root, rel))
            if self.workspace.contains(path) and path != root and os.path.lexists(path):
                args += ["--ro-bind", path, path]
        args += ["--chdir", cwd]
        for path in remount:
            args += ["--remount-ro", path]
        return args

    def _private_args(self) -> list[str]:
        """A fresh ``/dev``, ``/proc`` (its kernel interfaces covered) and sized ``/tmp`` and ``/dev/shm``."""
        mb = self.policy.limits.tmp_mb
        size = [] if mb is None else ["--size", str(mb * 1024 * 1024)]
        args = ["--dev", "/dev", *size, "--tmpfs", "/dev/shm", "--proc", "/proc", *_PROC_COVERS]
        args += [*size, "--tmpfs", "/tmp"]
        if self.policy.view == "host" and os.path.isdir("/var/tmp") and not os.path.islink("/var/tmp"):
            args += [*size, "--tmpfs", "/var/tmp"]
        return args

    def _visible(self, path: str) -> bool:
        """Whether the view already shows the host's ``path`` as it is."""
        if self.policy.view == "host":
            return not _under(path, (*self.policy.hidden_paths, *_PRIVATE))
        return _under(path, tuple(p for p in _system_list() if not os.path.islink(p)))

    def _view_args(self, args: list[str], remount: list[str]) -> None:
        """Add the host view's mounts (and the paths to make read-only once every mount is made)."""
        policy = self.policy
        if policy.view == "host":
            args += ["--ro-bind", "/", "/"]
            for path in policy.hidden_paths:
                if os.path.isdir(path) and not os.path.islink(path) and path != "/":
                    args += ["--size", "1048576", "--tmpfs", path]
                    remount.append(path)
        else:
            for path in _system_list():
                if os.path.islink(path):
                    args += ["--symlink", os.readlink(path), path]
                elif os.path.isdir(path):
                    args += ["--ro-bind", path, path]
            args += ["--dir", "/var", "--symlink", "../tmp", "/var/tmp"]
            remount.append("/")
        for tree in SCANNED_TREES:
            if not self._visible(tree) or not os.path.isdir(tree):
                continue
            masks = masked_entries(tree)
            if not masks.complete:
                args += ["--size", "1048576", "--tmpfs", tree]
                remount.append(tree)
                continue
            for path in masks.files:
                args += ["--ro-bind", "/dev/null", path]
            for path in masks.dirs:
                args += ["--size", "1048576", "--tmpfs", path]
                remount.append(path)

    @staticmethod
    def _resolver_args() -> list[str]:
        """With network: show the file ``/etc/resolv.conf`` points to when it is a symlink out of ``/etc``."""
        link = "/etc/resolv.conf"
        if not os.path.islink(link):
            return []
        target = os.path.realpath(link)
        if target.startswith("/etc/") or not os.path.isfile(target):
            return []
        return ["--ro-bind", target, target]

    def _interpreter_dirs(self) -> list[str]:
        dirs = {sys.base_prefix, sys.prefix, sys.exec_prefix}
        for exe in {sys.executable, self.python}:
            real = os.path.realpath(exe)
            dirs.add(str(Path(real).parent.parent))
            dirs.add(str(Path(exe).parent.parent))
        return sorted(d for d in dirs if os.path.isdir(d) and d != "/")

    # -- launching

    @override
    def prepare(
        self, argv: list[str], *, cwd: str, env: dict[str, str], extra_writable: tuple[str, ...] = ()
    ) -> Launch:
        limits = self.policy.limits
        launch = Launch(argv=[], env=env, cwd=cwd, backend=self.backend, leader_is_command=False)
        status_r, status_w = os.pipe()
        bwrap_r, bwrap_w = os.pipe()
        launch.status_fd, launch.bwrap_fd = status_r, bwrap_r
        child_fds = [status_w, bwrap_w]
        seccomp_args: list[str] = []
        program = seccomp_program()
        if program is not None:
            filter_fd = os.memfd_create("podium-seccomp", 0)
            os.write(filter_fd, program)
            os.lseek(filter_fd, 0, os.SEEK_SET)
            child_fds.append(filter_fd)
            seccomp_args = ["--seccomp", str(filter_fd)]
        wait_r: int | None = None
        if os.geteuid() == 0:
            memory = None if limits.memory_mb is None else limits.memory_mb * 1024 * 1024
            pids = None if limits.max_processes is None else limits.max_processes + 3  # + bubblewrap's own
            launch.cgroup = open_command_cgroup(pids, memory)
            if launch.cgroup is not None:
                launch.cleanup.append(launch.cgroup.remove)
                wait_r, launch.release_fd = os.pipe()
                child_fds.append(wait_r)
        inner = launcher_argv(limits_spec(limits, status_fd=status_w), argv, python=sys.executable)
        outer = [self.bwrap, *self.mount_args(cwd, extra_writable), *seccomp_args]
        outer += ["--json-status-fd", str(bwrap_w), "--", *inner]
        if wait_r is not None:
            outer = launcher_argv(f"wait={wait_r},pdeath={os.getpid()}", outer, python=sys.executable)
        launch.argv = outer
        launch.child_fds = tuple(child_fds)
        return launch

    @override
    def describe(self) -> str:
        policy = self.policy
        limits = policy.limits
        net = "the host network (allowed by the policy)" if policy.allow_network else "no network"
        if policy.view == "system":
            view = (
                "it sees only the system directories (" + ", ".join(_system_list()) + "), "
                "Podium's Python and the policy's readable paths, read-only"
            )
        else:
            view = f"it sees the host read-only, but {', '.join(policy.hidden_paths) or 'nothing'} hidden"
        totals = _totals(limits.memory_mb)
        seccomp = seccomp_unavailable()
        filtered = (
            "setuid/setgid files, new user namespaces, mounts and io_uring are refused by a system-call filter"
            if seccomp is None
            else f"NO system-call filter ({seccomp}): setuid/setgid bits are not refused"
        )
        return (
            f"bubblewrap back-end: the command runs with no capabilities in its own namespaces; "
            f"the workspace {self.workspace.root} is the only writable host directory "
            f"(plus {', '.join(policy.writable_paths) or 'nothing else'}); {view}; files other users "
            f"could not read and unix sockets are hidden; /tmp and /dev/shm are private "
            f"({_mib(limits.tmp_mb)} each); {net}; {filtered}. Limits: wall {limits.wall_seconds:g} s, "
            f"CPU {limits.cpu_seconds} s per process, memory {_mib(limits.memory_mb)} per process{totals}, "
            f"{limits.max_processes} processes, files up to {_mib(limits.file_size_mb)}, workspace growth "
            f"{_mib(limits.disk_mb)}, {limits.open_files} open files; output capped."
        )


def _system_list() -> tuple[str, ...]:
    return tuple(p for p in SYSTEM_PATHS if os.path.lexists(p))


def _mib(value: int | None) -> str:
    return "unlimited" if value is None else f"{value} MiB"


def _totals(memory_mb: int | None) -> str:
    support = cgroup_support()
    if support.memory and memory_mb is not None:
        return " and for all its processes together (memory cgroup)"
    return " (no memory cgroup here: processes together are not bounded)"
