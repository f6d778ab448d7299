"""The sandbox interface: run a command in a workspace, under a policy, and report what happened."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

from podium.tools.sandbox.policy import SandboxPolicy
from podium.tools.sandbox.result import SandboxResult
from podium.tools.sandbox.runner import Launch, execute
from podium.tools.sandbox.workspace import Workspace, WorkspaceError

__all__ = ["Sandbox"]

_SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Sandbox(ABC):
    """Runs commands in a workspace under a :class:`~podium.tools.sandbox.policy.SandboxPolicy`.

    Three calls: :meth:`run` (an argv), :meth:`run_shell` (a shell command line), :meth:`run_python`
    (Python source). Each returns a :class:`~podium.tools.sandbox.result.SandboxResult`; a command is never
    retried. :meth:`describe` says in plain words what the back-end enforces and what it does not.
    """

    backend: ClassVar[str]
    """Back-end name."""
    isolated: ClassVar[bool]
    """Whether the filesystem outside the workspace and the network are protected."""

    def __init__(self, workspace: str | os.PathLike[str] | Workspace, policy: SandboxPolicy | None = None) -> None:
        """A sandbox for ``workspace`` (an existing directory)."""
        self.policy = policy or SandboxPolicy()
        self.workspace = (
            workspace
            if isinstance(workspace, Workspace)
            else Workspace(
                workspace,
                max_read_bytes=self.policy.max_read_bytes,
                max_write_bytes=self.policy.max_write_bytes,
                allow_hardlinks=self.policy.allow_hardlinks,
            )
        )

    @property
    def python(self) -> str:
        """The interpreter used by :meth:`run_python` (and by the launcher)."""
        return self.policy.python or sys.executable

    @property
    def shell(self) -> str:
        """The shell used by :meth:`run_shell`."""
        return self.policy.shell if os.path.exists(self.policy.shell) else "/bin/sh"

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment commands get: a safe PATH, HOME in the workspace, what the policy passes, ``extra``."""
        python_dir = os.path.dirname(self.python)
        env = {
            "PATH": f"{python_dir}:{_SAFE_PATH}" if python_dir else _SAFE_PATH,
            "HOME": str(self.workspace.root),
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "PYTHONUNBUFFERED": "1",
        }
        for name in self.policy.pass_env:
            if name in os.environ:
                env[name] = os.environ[name]
        env.update(self.policy.env)
        if extra:
            env.update(extra)
        return env

    def resolve_cwd(self, cwd: str | None) -> str:
        """The working directory: the workspace, or a directory inside it."""
        if cwd is None:
            return str(self.workspace.root)
        real = self.workspace.resolve(cwd)
        if not real.is_dir():
            raise WorkspaceError(f"the working directory {cwd!r} is not a directory in the workspace")
        return str(real)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        stdin: bytes | str | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        extra_writable: Sequence[str] = (),
        cancel: threading.Event | None = None,
    ) -> SandboxResult:
        """Run ``argv`` once and wait for it (at most ``timeout`` or the policy's wall limit).

        ``extra_writable`` are host directories Podium itself owns (e.g. a shell session's state) that the
        command may write, at the same path. Once ``cancel`` is set (a tool's ``RunContext.abandoned``) the
        command is stopped as on a timeout (``killed_by="cancelled"``), and never started if it was set before.

        Raises:
            SandboxStartError: the sandbox could not start the command at all.
            WorkspaceError: ``cwd`` is outside the workspace.
        """
        if not argv:
            raise ValueError("argv is empty: give the program and its arguments")
        limits = self.policy.limits
        wall = min(timeout, limits.wall_seconds) if timeout else limits.wall_seconds
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        launch = self.prepare(
            list(argv), cwd=self.resolve_cwd(cwd), env=self.environment(env), extra_writable=tuple(extra_writable)
        )
        launch.disk_path = str(self.workspace.root)
        return execute(launch, limits, wall, data, cancel)

    def run_shell(self, command: str, **kwargs: object) -> SandboxResult:
        """Run a shell command line (``shell -c command``)."""
        return self.run([self.shell, "-c", command], **kwargs)  # type: ignore[arg-type]

    def run_python(self, code: str, **kwargs: object) -> SandboxResult:
        """Run Python source (given on standard input, so its size is not limited by the argv)."""
        return self.run([self.python, "-"], stdin=code, **kwargs)  # type: ignore[arg-type]

    @abstractmethod
    def prepare(
        self, argv: list[str], *, cwd: str, env: dict[str, str], extra_writable: tuple[str, ...] = ()
    ) -> Launch:
        """Build what to spawn for ``argv``."""

    @abstractmethod
    def describe(self) -> str:
        """What this back-end enforces and what it does not, in plain words."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.workspace.root)!r})"


def find_program(name: str) -> str | None:
    """Full path of ``name`` on the host PATH (or the safe PATH)."""
    return shutil.which(name) or shutil.which(name, path=_SAFE_PATH)
