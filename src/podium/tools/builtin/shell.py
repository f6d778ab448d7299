"""Shell and Python tools: each call runs once in the sandbox; a shell session may keep its state per agent.

A *persistent* shell session keeps the working directory and the exported variables of an agent's session
from one call to the next (``cd src`` then ``pytest`` works). Processes do not outlive a call: whatever a
command leaves running is killed when it returns. Sessions are never shared between agent sessions.
"""

from __future__ import annotations

import tempfile
import threading
from typing import Any

from podium.exceptions import ModelRetry
from podium.tools.builtin.state import ToolState
from podium.tools.context import RunContext
from podium.tools.sandbox.base import Sandbox
from podium.tools.sandbox.runner import SandboxStartError
from podium.tools.sandbox.workspace import WorkspaceError
from podium.tools.tool import Tool

__all__ = ["SESSION_WRAPPER", "ShellSessions", "shell_tools"]

SESSION_WRAPPER = r"""
__podium_state=$1
if [ -f "$__podium_state/env" ]; then . "$__podium_state/env" 2>/dev/null; fi
if [ -f "$__podium_state/cwd" ]; then cd -- "$(cat "$__podium_state/cwd")" 2>/dev/null; fi
eval "$2"
__podium_rc=$?
{ export -p > "$__podium_state/env"; pwd > "$__podium_state/cwd"; } 2>/dev/null
exit $__podium_rc
"""
"""Runs the command with the session's saved directory and exports, then saves them again."""


class ShellSessions:
    """One state directory per agent session (host-side, mounted writable into the sandbox for the call)."""

    def __init__(self) -> None:
        """No sessions yet."""
        self._dirs: dict[str, tempfile.TemporaryDirectory[str]] = {}
        self._lock = threading.Lock()

    def directory(self, key: str) -> str:
        """The state directory of session ``key`` (created on first use)."""
        with self._lock:
            d = self._dirs.get(key)
            if d is None:
                d = self._dirs[key] = tempfile.TemporaryDirectory(prefix="podium-shell-")
            return d.name

    def reset(self, key: str) -> None:
        """Forget session ``key``'s directory and exports."""
        with self._lock:
            d = self._dirs.pop(key, None)
        if d is not None:
            d.cleanup()

    def close(self) -> None:
        """Remove every session's state."""
        with self._lock:
            dirs, self._dirs = list(self._dirs.values()), {}
        for d in dirs:
            d.cleanup()


def shell_tools(
    sandbox: Sandbox, state: ToolState, *, persistent: bool = False
) -> tuple[list[Tool[..., Any]], ShellSessions]:
    """``run_shell`` and ``run_python`` running in ``sandbox``."""
    sessions = ShellSessions()
    wall = sandbox.policy.limits.wall_seconds

    def _timeout(timeout: float | None) -> float:
        if timeout is not None and timeout <= 0:
            raise ModelRetry("timeout must be positive (seconds)")
        return min(timeout, wall) if timeout else wall

    def run_shell(ctx: RunContext[Any], command: str, timeout: float | None = None, cwd: str | None = None) -> str:
        """Run a shell command in the workspace; shows stdout, stderr, exit status and resources used.

        Args:
            ctx: The run context (supplied by Podium).
            command: The command line (bash syntax).
            timeout: Seconds before the command is killed (capped by the sandbox policy).
            cwd: Working directory relative to the workspace (default: the workspace).
        """
        limit = _timeout(timeout)
        try:
            if persistent:
                key = state.key(ctx)
                directory = sessions.directory(key)
                argv = [sandbox.shell, "-c", SESSION_WRAPPER, "podium-shell", directory, command]
                result = sandbox.run(argv, timeout=limit, cwd=cwd, extra_writable=(directory,))
            else:
                result = sandbox.run_shell(command, timeout=limit, cwd=cwd)
        except WorkspaceError as exc:
            raise ModelRetry(str(exc)) from None
        except SandboxStartError as exc:
            raise ModelRetry(f"the sandbox could not start the command: {exc}") from None
        return result.for_model()

    def run_python(code: str, timeout: float | None = None) -> str:
        """Run a Python program in the workspace (a fresh interpreter each time); shows its output.

        Args:
            code: The program's source.
            timeout: Seconds before it is killed (capped by the sandbox policy).
        """
        try:
            result = sandbox.run_python(code, timeout=_timeout(timeout))
        except SandboxStartError as exc:
            raise ModelRetry(f"the sandbox could not start Python: {exc}") from None
        return result.for_model()

    return [Tool(run_shell), Tool(run_python)], sessions
