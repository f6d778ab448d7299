"""The process back-end: resource limits and whole-tree cleanup, but NOT isolation.

Commands run as ordinary child processes of Podium, with the same user, the same view of the filesystem and
the same network. What it does enforce: the wall timeout (the whole process group, then every process of the
session, is killed), the rlimits (CPU, address space, file size, open files, processes), capped output, and
the killing of background processes left when the command returns. What it does not: a command can read and
write anything the user can, reach the network, and a process that starts a new session (``setsid``) escapes
the cleanup unless Podium runs as root (then a pids cgroup holds every process).
"""

from __future__ import annotations

import os
import sys

from typing_extensions import override

from podium.tools.sandbox.base import Sandbox
from podium.tools.sandbox.cgroup import open_pids_cgroup, pids_root
from podium.tools.sandbox.launch import launcher_argv, limits_spec
from podium.tools.sandbox.procfs import uid_process_count
from podium.tools.sandbox.runner import Launch

__all__ = ["ProcessSandbox"]


class ProcessSandbox(Sandbox):
    """Limits without isolation: use only when bubblewrap is not available, and say so to the user."""

    backend = "process"
    isolated = False

    @override
    def prepare(
        self, argv: list[str], *, cwd: str, env: dict[str, str], extra_writable: tuple[str, ...] = ()
    ) -> Launch:
        limits = self.policy.limits
        launch = Launch(argv=[], env=env, cwd=cwd, backend=self.backend)
        nproc: int | None = None
        wait_r: int | None = None
        if limits.max_processes is not None:
            if os.geteuid() == 0:
                launch.cgroup = open_pids_cgroup(limits.max_processes)
                if launch.cgroup is not None:
                    launch.cleanup.append(launch.cgroup.remove)
                    wait_r, launch.release_fd = os.pipe()
                    launch.child_fds = (wait_r,)
            else:
                # RLIMIT_NPROC counts every process of the user, so the command gets its share on top of them
                nproc = uid_process_count(os.getuid()) + limits.max_processes
        status_r, status_w = os.pipe()
        launch.status_fd = status_r
        launch.child_fds = (*launch.child_fds, status_w)
        spec = limits_spec(limits, nproc=nproc, wait_fd=wait_r, status_fd=status_w)
        launch.argv = launcher_argv(spec, argv, python=sys.executable)
        return launch

    @override
    def describe(self) -> str:
        limits = self.policy.limits
        if limits.max_processes is None:
            procs = "no process limit"
        elif os.geteuid() != 0:
            procs = f"at most {limits.max_processes} more processes (RLIMIT_NPROC, counted per user)"
        elif pids_root() is not None:
            procs = f"at most {limits.max_processes} processes (pids cgroup)"
        else:
            procs = "NO process limit (root is exempt from RLIMIT_NPROC and no pids cgroup is writable)"
        return (
            "process back-end: this is NOT isolation. Commands run as your user with your filesystem and "
            "network: they can read and change any file you can, outside the workspace too, and reach the "
            f"network. Enforced: wall timeout {limits.wall_seconds:g} s (whole process group killed), "
            f"CPU {limits.cpu_seconds} s, memory {limits.memory_mb} MiB address space, {procs}, "
            f"files up to {limits.file_size_mb} MiB, {limits.open_files} open files, output capped; "
            "background processes are killed when the command returns."
        )
