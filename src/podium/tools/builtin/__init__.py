"""Built-in tools for working in a workspace: files, search, shell, Python, a todo list, and fetch.

Every file tool is confined to the workspace (real paths, no symlink or ``..`` escapes, size limits, binary
files refused); shell and Python run in the sandbox chosen by the policy. Errors go back to the model as
clear error results.

Example::

    from podium.tools.builtin import workspace_tools
    from podium.tools.sandbox import SandboxPolicy

    agent = Agent(model, tools=[workspace_tools("./project", SandboxPolicy())])

For approval policies, :data:`PATH_ARGUMENTS`, :data:`COMMAND_ARGUMENTS`, :func:`call_paths` and
:func:`parse_command` say which arguments of a call are paths and what argv a shell command runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from typing_extensions import override

from podium.exceptions import UserError
from podium.tools.builtin.fetch import fetch_tools
from podium.tools.builtin.files import file_tools
from podium.tools.builtin.search import search_tools
from podium.tools.builtin.shell import shell_tools
from podium.tools.builtin.state import SessionKey, ToolState, default_session_key
from podium.tools.builtin.todo import TodoItem, current_todos, todo_tools
from podium.tools.commands import (
    COMMAND_ARGUMENTS,
    PATH_ARGUMENTS,
    ParsedCommand,
    call_paths,
    parse_command,
)
from podium.tools.context import RunContext
from podium.tools.sandbox import Sandbox, SandboxPolicy, Workspace, create_sandbox
from podium.tools.tool import Tool
from podium.tools.toolset import Toolset

__all__ = [
    "COMMAND_ARGUMENTS",
    "PATH_ARGUMENTS",
    "ParsedCommand",
    "TodoItem",
    "WorkspaceToolset",
    "call_paths",
    "current_todos",
    "default_session_key",
    "parse_command",
    "workspace_tools",
]


class WorkspaceToolset(Toolset):
    """The built-in tools for one workspace, with their per-session state.

    State (files read, shell sessions) belongs to this object and is split by ``session_key(ctx)``
    (default: the agent's name): give each agent its own toolset, or a key that tells them apart.
    """

    def __init__(
        self,
        workspace: str | os.PathLike[str],
        policy: SandboxPolicy | None = None,
        *,
        sandbox: Sandbox | None = None,
        persistent_shell: bool = False,
        session_key: SessionKey = default_session_key,
        use_ripgrep: bool | None = None,
        include: Sequence[str] | None = None,
    ) -> None:
        """Build the tools.

        Args:
            workspace: The directory the tools are confined to.
            policy: Sandbox and file limits; the default policy when ``None``.
            sandbox: A ready sandbox (default: :func:`~podium.tools.sandbox.create_sandbox` for the policy).
            persistent_shell: Keep the shell's directory and exported variables between calls, per session.
            session_key: Maps a run context to the session that owns read records and shell state.
            use_ripgrep: Search with ripgrep (``None``: when installed).
            include: Only these tool names (default: all that the policy allows).
        """
        self.policy = policy or SandboxPolicy()
        self.workspace = Workspace(
            workspace,
            max_read_bytes=self.policy.max_read_bytes,
            max_write_bytes=self.policy.max_write_bytes,
            allow_hardlinks=self.policy.allow_hardlinks,
        )
        self.sandbox = sandbox or create_sandbox(self.workspace, self.policy)
        self.state = ToolState(session_key=session_key)
        shell, self.sessions = shell_tools(self.sandbox, self.state, persistent=persistent_shell)
        tools = [
            *file_tools(self.workspace, self.state),
            *search_tools(self.workspace, use_ripgrep=use_ripgrep),
            *shell,
            *todo_tools(),
        ]
        if self.policy.allow_fetch:
            if not self.policy.allow_network:
                raise UserError("allow_fetch needs allow_network=True in the SandboxPolicy")
            tools.extend(fetch_tools())
        if include is not None:
            known = {t.name for t in tools}
            unknown = set(include) - known
            if unknown:
                raise UserError(f"unknown built-in tools {sorted(unknown)}; choose from {sorted(known)}")
            tools = [t for t in tools if t.name in include]
        for t in tools:  # tell approval policies which arguments are paths and commands
            meta = dict(t.metadata)
            meta.setdefault("path_params", PATH_ARGUMENTS.get(t.name, ()))
            if t.name in COMMAND_ARGUMENTS:
                meta.setdefault("command_param", COMMAND_ARGUMENTS[t.name])
            t.metadata = meta
        self.tools: list[Tool[..., Any]] = tools

    @override
    def get_tools(self, ctx: RunContext[Any] | None = None) -> Sequence[Tool[..., Any]]:
        return self.tools

    def tool(self, name: str) -> Tool[..., Any]:
        """The tool called ``name``."""
        for t in self.tools:
            if t.name == name:
                return t
        raise KeyError(name)

    def close(self) -> None:
        """Remove the shell sessions' state."""
        self.sessions.close()


def workspace_tools(
    workspace: str | os.PathLike[str], policy: SandboxPolicy | None = None, **options: Any
) -> WorkspaceToolset:
    """The built-in tools for ``workspace`` under ``policy`` (see :class:`WorkspaceToolset` for options)."""
    return WorkspaceToolset(workspace, policy, **options)
