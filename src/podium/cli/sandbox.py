"""``podium sandbox``: run one command exactly as the agent's shell tool would, to check a policy.

Exit codes of ``podium sandbox run``: the command's own code; 124 when the wall timeout killed it; 123 when a
resource limit stopped it (CPU time, memory, file size, too much output); 128+N when signal N killed it;
125 when the sandbox could not start it (for example bubblewrap was asked for and is missing).
"""

from __future__ import annotations

import sys

import click

from podium.exceptions import UserError
from podium.tools.sandbox import (
    EXIT_SANDBOX_ERROR,
    Limits,
    SandboxPolicy,
    SandboxStartError,
    WorkspaceError,
    create_sandbox,
)

__all__ = ["sandbox"]


def _policy(backend: str, allow_network: bool, timeout: float | None, memory: int | None) -> SandboxPolicy:
    limits = Limits()
    if timeout is not None:
        limits = limits.replace(wall_seconds=timeout)
    if memory is not None:
        limits = limits.replace(memory_mb=memory)
    return SandboxPolicy(backend=backend, allow_network=allow_network, limits=limits)  # type: ignore[arg-type]


_workspace = click.option(
    "--workspace",
    "-w",
    required=True,
    type=click.Path(exists=True, file_okay=False, resolve_path=True),
    help="The workspace directory (the only writable place).",
)
_backend = click.option(
    "--backend",
    type=click.Choice(["auto", "bubblewrap", "process"]),
    default="auto",
    show_default=True,
    help="bubblewrap isolates; process only limits resources.",
)
_network = click.option("--allow-network", is_flag=True, help="Let the command use the network.")


@click.group("sandbox")
def sandbox() -> None:
    """Check what the agent's shell tool may do."""


@sandbox.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@_workspace
@_network
@click.option("--timeout", type=float, help="Wall-clock seconds before the command is killed (exit code 124).")
@click.option("--memory", type=int, help="Address-space limit per process, in MiB.")
@_backend
@click.option("--quiet", "-q", is_flag=True, help="Do not print the status line on stderr.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(
    workspace: str,
    allow_network: bool,
    timeout: float | None,
    memory: int | None,
    backend: str,
    quiet: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND in the sandbox and exit with its code.

    One argument is a shell command line, as the model sends it (``podium sandbox run -w . -- 'ls | wc -l'``);
    several are a program and its arguments, quoted into one line.
    """
    import shlex

    line = command[0] if len(command) == 1 else shlex.join(command)
    try:
        box = create_sandbox(workspace, _policy(backend, allow_network, timeout, memory))
        result = box.run_shell(line)
    except (UserError, WorkspaceError, SandboxStartError, ValueError) as exc:
        click.echo(f"podium sandbox: {exc}", err=True)
        sys.exit(EXIT_SANDBOX_ERROR)
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    if not quiet:
        sys.stderr.write(f"podium sandbox ({result.backend}): {result.status_line()}\n")
    sys.stderr.flush()
    sys.exit(result.cli_exit_code)


@sandbox.command("info")
@_workspace
@_network
@_backend
def info(workspace: str, allow_network: bool, backend: str) -> None:
    """Say what the sandbox enforces for WORKSPACE, and what it does not."""
    try:
        box = create_sandbox(workspace, _policy(backend, allow_network, None, None))
    except (UserError, ValueError) as exc:
        click.echo(f"podium sandbox: {exc}", err=True)
        sys.exit(EXIT_SANDBOX_ERROR)
    click.echo(box.describe())
