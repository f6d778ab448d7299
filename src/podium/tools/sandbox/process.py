"""The process back-end: resource limits and whole-tree cleanup, but NOT isolation.

Commands run as ordinary child processes of Podium, with the same user, the same view of the filesystem and
the same network: a command can read and write anything the user can, and reach the network. What it does
enforce:

- the wall timeout, the rlimits (CPU, address space, file size, open files, processes), capped output, and a
  bound on how much the workspace's file system may grow;
- no process outlives the command, nor Podium: the launcher supervises the command as a child subreaper, so
  whatever the command leaves running (even in a new session) is re-parented to it and killed when the
  command returns, and when Podium dies, even by SIGKILL (``PR_SET_PDEATHSIG``); as root a cgroup also holds
  every process and bounds their number and total memory, and cgroups left by a killed Podium are removed the
  next time;
- API keys stay out of reach: the command's environment holds none, and Podium makes its own process
  non-dumpable (``PR_SET_DUMPABLE`` 0) so ``/proc/<podium>/environ`` and its memory cannot be read by a
  process of the same user; as root the command runs with every capability dropped (so it cannot read them
  with ``CAP_SYS_PTRACE`` either);
- the same system-call filter as bubblewrap (no setuid/setgid files, no new user namespaces, no mounts).
"""

from __future__ import annotations

import os
import sys

from typing_extensions import override

from podium.tools.sandbox.base import Sandbox
from podium.tools.sandbox.cgroup import cgroup_support, open_command_cgroup
from podium.tools.sandbox.launch import launcher_argv, limits_spec
from podium.tools.sandbox.policy import SandboxPolicy
from podium.tools.sandbox.procfs import make_undumpable, uid_process_count
from podium.tools.sandbox.runner import Launch
from podium.tools.sandbox.seccomp import seccomp_program, seccomp_unavailable
from podium.tools.sandbox.workspace import Workspace

__all__ = ["ProcessSandbox"]


class ProcessSandbox(Sandbox):
    """Limits without isolation: use only when bubblewrap is not available, and say so to the user."""

    backend = "process"
    isolated = False

    def __init__(self, workspace: str | os.PathLike[str] | Workspace, policy: SandboxPolicy | None = None) -> None:
        """A process sandbox; makes the Podium process non-dumpable (its environment then unreadable)."""
        super().__init__(workspace, policy)
        make_undumpable()

    @override
    def prepare(
        self, argv: list[str], *, cwd: str, env: dict[str, str], extra_writable: tuple[str, ...] = ()
    ) -> Launch:
        limits = self.policy.limits
        launch = Launch(argv=[], env=env, cwd=cwd, backend=self.backend)
        child_fds: list[int] = []
        nproc: int | None = None
        wait_r: int | None = None
        root = os.geteuid() == 0
        if root:
            memory = None if limits.memory_mb is None else limits.memory_mb * 1024 * 1024
            launch.cgroup = open_command_cgroup(limits.max_processes, memory)
            if launch.cgroup is not None:
                launch.cleanup.append(launch.cgroup.remove)
                wait_r, launch.release_fd = os.pipe()
                child_fds.append(wait_r)
        elif limits.max_processes is not None:
            # RLIMIT_NPROC counts every process of the user, so the command gets its share on top of them
            nproc = uid_process_count(os.getuid()) + limits.max_processes
        filter_fd: int | None = None
        program = seccomp_program()
        if program is not None:
            filter_fd = os.memfd_create("podium-seccomp", 0)
            os.write(filter_fd, program)
            os.lseek(filter_fd, 0, os.SEEK_SET)
            child_fds.append(filter_fd)
        status_r, status_w = os.pipe()
        launch.status_fd = status_r
        child_fds.append(status_w)
        spec = limits_spec(
            limits,
            nproc=nproc,
            wait_fd=wait_r,
            status_fd=status_w,
            pdeath=os.getpid(),
            drop_caps=root,
            seccomp_fd=filter_fd,
        )
        launch.argv = launcher_argv(spec, argv, python=sys.executable)
        launch.child_fds = tuple(child_fds)
        return launch

    @override
    def describe(self) -> str:
        limits = self.policy.limits
        support = cgroup_support()
        if limits.max_processes is None:
            procs = "no process limit"
        elif os.geteuid() != 0:
            procs = f"at most {limits.max_processes} more processes (RLIMIT_NPROC, counted per user)"
        elif support.pids:
            procs = f"at most {limits.max_processes} processes (pids cgroup)"
        else:
            procs = "NO process limit (root is exempt from RLIMIT_NPROC and no pids cgroup is writable)"
        total = " and for all processes together (memory cgroup)" if support.memory else ""
        root = " As root, the command runs with every capability dropped." if os.geteuid() == 0 else ""
        seccomp = seccomp_unavailable()
        filtered = (
            "setuid/setgid files, new user namespaces and mounts are refused by a system-call filter"
            if seccomp is None
            else f"no system-call filter ({seccomp})"
        )
        return (
            "process back-end: this is NOT isolation. Commands run as your user with your filesystem and "
            "network: they can read and change any file you can, outside the workspace too, and reach the "
            f"network. Enforced: wall timeout {limits.wall_seconds:g} s (whole process tree killed), "
            f"CPU {limits.cpu_seconds} s, memory {limits.memory_mb} MiB per process{total}, {procs}, "
            f"files up to {limits.file_size_mb} MiB, workspace growth {limits.disk_mb} MiB, "
            f"{limits.open_files} open files, output capped; no process outlives the command or Podium; "
            f"API keys are not in the command's environment and Podium's own is unreadable; {filtered}.{root}"
        )
