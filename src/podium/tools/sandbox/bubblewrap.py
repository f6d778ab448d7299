"""The bubblewrap back-end: each command in fresh namespaces with the workspace the only writable mount.

The mounts, in order: the host root read-only; the policy's hidden paths replaced by empty tmpfs; a new
``/dev`` and ``/proc`` (the command's own pid namespace); a private ``/tmp``; Podium's interpreter re-bound
read-only if it was hidden (the launcher needs it); the policy's extra writable paths; the workspace,
writable, at its own path. All namespaces are unshared (user, pid, ipc, uts, cgroup, and network unless
the policy allows it: then the host network is shared). ``--die-with-parent`` and ``--new-session`` are set;
on a timeout the namespace's pid 1 is killed, which makes the kernel kill every process in it.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys
from pathlib import Path

from typing_extensions import override

from podium.exceptions import UserError
from podium.tools.sandbox.base import Sandbox, find_program
from podium.tools.sandbox.cgroup import open_pids_cgroup
from podium.tools.sandbox.launch import launcher_argv, limits_spec
from podium.tools.sandbox.policy import SandboxPolicy
from podium.tools.sandbox.runner import Launch
from podium.tools.sandbox.workspace import Workspace

__all__ = ["BubblewrapSandbox", "bubblewrap_available"]

logger = logging.getLogger("podium.tools.sandbox")

INSTALL_HINT = "install it with `apt-get install bubblewrap` (Debian/Ubuntu) or `dnf install bubblewrap` (Fedora)"


@functools.lru_cache(maxsize=1)
def bubblewrap_available() -> str | None:
    """Why bubblewrap cannot be used here, or ``None`` when it works (checked once by running ``true``)."""
    bwrap = find_program("bwrap")
    if bwrap is None:
        return f"bubblewrap (bwrap) is not installed; {INSTALL_HINT}"
    try:
        proc = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--", "/bin/true"],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not start: {exc}"
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip()
        return f"bubblewrap cannot create namespaces here ({msg}); unprivileged user namespaces may be disabled"
    return None


def _under(path: str, parents: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in parents)


class BubblewrapSandbox(Sandbox):
    """Isolation with bubblewrap: read-only host, writable workspace, private /tmp, no network by default."""

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

    def mount_args(self, cwd: str, extra_writable: tuple[str, ...] = ()) -> list[str]:
        """Bubblewrap's arguments for the mounts and namespaces (without the status fd and the command)."""
        policy = self.policy
        args = ["--die-with-parent", "--new-session", "--unshare-all"]
        if policy.allow_network:
            args.append("--share-net")
        args += ["--ro-bind", "/", "/"]
        hidden = tuple(p for p in policy.hidden_paths if os.path.isdir(p) and p != "/")
        for path in hidden:
            args += ["--tmpfs", path]
        args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        covered = (*hidden, "/tmp")
        for path in self._interpreter_dirs():
            if _under(path, covered):
                args += ["--ro-bind", path, path]
        for path in (*policy.writable_paths, *extra_writable):
            if os.path.isdir(path):
                args += ["--bind", path, path]
        root = str(self.workspace.root)
        args += ["--bind", root, root, "--chdir", cwd]
        return args

    def _interpreter_dirs(self) -> list[str]:
        dirs = {sys.base_prefix, sys.prefix, sys.exec_prefix}
        for exe in {sys.executable, self.python}:
            real = os.path.realpath(exe)
            dirs.add(str(Path(real).parent.parent))
            dirs.add(str(Path(exe).parent.parent))
        return sorted(d for d in dirs if os.path.isdir(d) and d != "/")

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
        wait_r: int | None = None
        if os.geteuid() == 0 and limits.max_processes is not None:
            # root is exempt from RLIMIT_NPROC even in a user namespace: a pids cgroup holds the limit
            launch.cgroup = open_pids_cgroup(limits.max_processes + 3)  # + bubblewrap's own processes
            if launch.cgroup is not None:
                launch.cleanup.append(launch.cgroup.remove)
                wait_r, launch.release_fd = os.pipe()
                child_fds.append(wait_r)
        inner = launcher_argv(limits_spec(limits, status_fd=status_w), argv, python=sys.executable)
        outer = [self.bwrap, *self.mount_args(cwd, extra_writable), "--json-status-fd", str(bwrap_w), "--", *inner]
        if wait_r is not None:
            outer = launcher_argv(f"wait={wait_r}", outer, python=sys.executable)
        launch.argv = outer
        launch.child_fds = tuple(child_fds)
        return launch

    @override
    def describe(self) -> str:
        policy = self.policy
        limits = policy.limits
        net = "the host network (allowed by the policy)" if policy.allow_network else "no network"
        hidden = ", ".join(policy.hidden_paths) or "nothing"
        return (
            f"bubblewrap back-end: the workspace {self.workspace.root} is the only writable place "
            f"(plus {', '.join(policy.writable_paths) or 'nothing else'}); the rest of the filesystem is "
            f"read-only, {hidden} hidden, /tmp private; {net}; its own pid namespace. Limits: wall "
            f"{limits.wall_seconds:g} s, CPU {limits.cpu_seconds} s, memory {limits.memory_mb} MiB address "
            f"space, {limits.max_processes} processes, files up to {limits.file_size_mb} MiB, "
            f"{limits.open_files} open files; output capped."
        )
