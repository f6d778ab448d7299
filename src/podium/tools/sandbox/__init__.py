"""Workspace confinement and an OS sandbox for commands.

- :class:`Workspace`: file paths resolved to real paths and refused outside the workspace, files opened
  without following symlinks, size limits, binary detection.
- :class:`Sandbox` with two back-ends: :class:`BubblewrapSandbox` (isolation: read-only host, the workspace the
  only writable mount, private /tmp, no network unless allowed) and :class:`ProcessSandbox` (the same limits,
  NOT isolation). :func:`create_sandbox` picks one from the :class:`SandboxPolicy`.
- Every run returns a :class:`SandboxResult`: capped output, exit status, wall and CPU time, peak memory, and
  what killed it.

Example::

    sandbox = create_sandbox("./project", SandboxPolicy(limits=Limits(wall_seconds=30)))
    result = sandbox.run_shell("pytest -q")
    print(result.for_model())
"""

from __future__ import annotations

import logging
import os

from podium.tools.sandbox.base import Sandbox
from podium.tools.sandbox.bubblewrap import BubblewrapSandbox, bubblewrap_available
from podium.tools.sandbox.policy import BackendName, Limits, SandboxPolicy
from podium.tools.sandbox.process import ProcessSandbox
from podium.tools.sandbox.result import EXIT_LIMIT, EXIT_SANDBOX_ERROR, EXIT_TIMEOUT, KilledBy, SandboxResult
from podium.tools.sandbox.runner import SandboxStartError
from podium.tools.sandbox.workspace import Workspace, WorkspaceError, looks_binary

__all__ = [
    "EXIT_LIMIT",
    "EXIT_SANDBOX_ERROR",
    "EXIT_TIMEOUT",
    "BackendName",
    "BubblewrapSandbox",
    "KilledBy",
    "Limits",
    "ProcessSandbox",
    "Sandbox",
    "SandboxPolicy",
    "SandboxResult",
    "SandboxStartError",
    "Workspace",
    "WorkspaceError",
    "bubblewrap_available",
    "create_sandbox",
    "looks_binary",
]

logger = logging.getLogger("podium.tools.sandbox")
_warned: list[bool] = []


def create_sandbox(workspace: str | os.PathLike[str] | Workspace, policy: SandboxPolicy | None = None) -> Sandbox:
    """The sandbox the policy asks for; ``auto`` uses bubblewrap when it works, else the process back-end.

    Raises:
        UserError: the policy asks for ``bubblewrap`` and it cannot run here.
    """
    policy = policy or SandboxPolicy()
    if policy.backend == "process":
        return ProcessSandbox(workspace, policy)
    if policy.backend == "bubblewrap" or bubblewrap_available() is None:
        return BubblewrapSandbox(workspace, policy)
    if not _warned:
        _warned.append(True)
        logger.warning(
            "%s; commands run with the process back-end, which limits resources but is NOT isolation",
            bubblewrap_available(),
        )
    return ProcessSandbox(workspace, policy)
