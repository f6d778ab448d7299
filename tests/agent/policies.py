"""Policies and tools shared by the approval tests."""

from __future__ import annotations

from pathlib import Path

from podium import tool
from podium.agent.approval import ApprovalPolicy, Decision, Rule
from podium.messages import ToolCall

HARMLESS_COMMANDS = (
    "ls*",
    "cat*",
    "echo*",
    "pwd",
    "wc*",
    "head*",
    "tail*",
    "grep*",
    "sort*",
    "git status*",
    "git diff*",
    "git log*",
    "pytest*",
    "true",
)


@tool(metadata={"command_param": "command", "path_params": ("cwd",), "path_access": "read"})
def run_shell(command: str, cwd: str | None = None) -> str:
    """Pretend to run a command."""
    return f"ran: {command}"


@tool(metadata={"path_params": ("path",), "path_access": "write"})
def write_file(path: str, content: str) -> str:
    """Pretend to write a file."""
    return f"wrote {path}"


def harmless(workspace: Path | None = None) -> ApprovalPolicy:
    """Allows only harmless programs; anything else is asked about."""
    return ApprovalPolicy([Rule("allow", command=c) for c in HARMLESS_COMMANDS], default="ask", workspace=workspace)


RUNNERS = (
    "env*",
    "sudo*",
    "timeout*",
    "nice*",
    "nohup*",
    "stdbuf*",
    "command*",
    "time*",
    "setsid*",
    "xargs*",
    "find*",
    "git*",
    "bash*",
    "sh*",
    "dash*",
    "python*",
    "perl*",
    "node*",
    "ruby*",
    "awk*",
    "sed*",
    "tar*",
    "rsync*",
    "make*",
    "npm*",
    "npx*",
    "uv*",
    "rg*",
    "watch*",
    "ssh*",
    "busybox*",
    "eval*",
    "source*",
    "exec*",
    "alias*",
    "export*",
    "tee*",
    "cd*",
)


def permissive(workspace: Path | None = None) -> ApprovalPolicy:
    """Also allows every wrapper and runner by name, and denies ``rm``: wrappers must be judged on what they run."""
    return ApprovalPolicy(
        [
            Rule("deny", command="rm*", reason="no rm"),
            *(Rule("allow", command=c) for c in (*HARMLESS_COMMANDS, *RUNNERS)),
        ],
        default="ask",
        workspace=workspace,
    )


def shell_decision(policy: ApprovalPolicy, command: str, cwd: str | None = None) -> Decision:
    args = {"command": command} if cwd is None else {"command": command, "cwd": cwd}
    return policy.decide(ToolCall("c1", "run_shell", args), run_shell)
