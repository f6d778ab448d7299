"""Shell and Python tools: each call runs once in the sandbox; a shell session may keep its state per agent.

A *persistent* shell session keeps the working directory and the exported variables of an agent's session
from one call to the next (``cd src`` then ``pytest`` works), except variables that change what programs run
(``PATH``, ``LD_*``, ``BASH_ENV`` ...: :data:`SESSION_DROPPED_VARIABLES`) and directories inside protected
paths such as ``.git``. Processes do not outlive a call: whatever a
command leaves running is killed when it returns, and a command whose call the run abandons (cancelled, or
timed out) is killed then. Sessions are never shared between agent sessions.
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

__all__ = ["SESSION_DROPPED_VARIABLES", "SESSION_WRAPPER", "ShellSessions", "shell_tools"]

SESSION_DROPPED_VARIABLES: tuple[str, ...] = (
    # the shell itself: start-up files, options, parsing, prompts, traps on every command
    "ENV",
    "BASH*",
    "SHELLOPTS",
    "POSIXLY_CORRECT",
    "IFS",
    "PS[0-9]",
    "PROMPT_COMMAND*",
    "GLOBIGNORE",
    "EXECIGNORE",
    "FPATH",
    "CDPATH",
    "HISTFILE",
    "INPUTRC",
    "ZDOTDIR",
    "SHELL",
    "SHLVL",
    "PWD",
    "OLDPWD",
    "_",
    # where programs, libraries and configuration are found
    "*PATH",
    "*LIB",
    "HOME",
    "XDG_*",
    "TMPDIR",
    "*CONFIG*",
    "*_HOME",
    "*RC",
    "TERMINFO*",
    "LOCPATH",
    "NLSPATH",
    # the dynamic loader and the C library
    "LD_*",
    "DYLD_*",
    "GLIBC_*",
    "MALLOC_*",
    "GCONV_*",
    "HOSTALIASES",
    "RESOLV_*",
    "*PRELOAD*",
    # options and hooks read by interpreters and common tools
    "PYTHON*",
    "PERL*",
    "RUBY*",
    "NODE_*",
    "NPM_*",
    "npm_*",
    "YARN_*",
    "JAVA*",
    "_JAVA*",
    "JDK_*",
    "GIT_*",
    "SSH_*",
    "*ASKPASS*",
    "LESS*",
    "*PAGER",
    "EDITOR",
    "VISUAL",
    "BROWSER",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKEFILES",
    "*OPTIONS",
    "*OPTS",
    "*FLAGS",
    "OPENSSL_*",
    "CONDA*",
    "PIP_*",
    "UV_*",
    "CARGO_*",
    "RUSTC*",
    "RUSTUP*",
    "GO*",
    "RSH",
    "*_RSH",
    "DOCKER_*",
    "KUBE*",
    "AWS_*",
    "GNUPGHOME",
    "MANOPT",
    "CONFIG_SITE",
)
"""Exported variables a persistent shell session does *not* carry from one call to the next (bash glob
patterns on the name). A call could otherwise set ``PATH=./evil:$PATH``, ``LD_PRELOAD``, ``BASH_ENV``,
``GIT_CONFIG_*`` or ``PYTHONPATH`` and make a later, allowed ``ls`` or ``git status`` run something else.
Other exported variables (``export GREETING=hi``) carry over."""


def _wrapper() -> str:
    from podium.tools.protected import PROTECTED_NAMES

    dropped = "|".join(SESSION_DROPPED_VARIABLES)
    protected = "|".join(f"*/{name}/*" for name in PROTECTED_NAMES)
    return r"""
__podium_state=$1
__podium_start=$(pwd -P)
if [ -n "${BASH_VERSION:-}" ] && [ -f "$__podium_state/env" ]; then
  while IFS= read -r -d '' __podium_kv; do
    __podium_name=${__podium_kv%%=*}
    case $__podium_name in
      ''|*[!A-Za-z0-9_]*|[0-9]*|__podium_*) continue ;;
      @DROPPED@) continue ;;
    esac
    export "$__podium_name=${__podium_kv#*=}" 2>/dev/null
  done < "$__podium_state/env"
fi
if [ -f "$__podium_state/cwd" ]; then
  __podium_cwd=$(cat -- "$__podium_state/cwd")
  cd -- "$__podium_cwd" 2>/dev/null
  __podium_here=$(pwd -P)
  case $__podium_here in "$__podium_start"|"$__podium_start"/*) __podium_here=${__podium_here#"$__podium_start"} ;; esac
  case "$(printf '%s/' "$__podium_here" | tr '[:upper:]' '[:lower:]')" in
    @PROTECTED@)
      echo "podium: not returning to the protected directory .$__podium_here; starting in $__podium_start" >&2
      cd -- "$__podium_start" ;;
  esac
fi
unset __podium_kv __podium_name __podium_cwd __podium_here
eval "$2"
__podium_rc=$?
IFS=$(printf ' \t\n_'); IFS=${IFS%_}
set -f
{
  if [ -n "${BASH_VERSION:-}" ]; then
    for __podium_name in $(builtin compgen -e); do
      builtin printf '%s=%s\0' "$__podium_name" "${!__podium_name}"
    done > "$__podium_state/env"
  fi
  pwd > "$__podium_state/cwd"
} 2>/dev/null
exit $__podium_rc
""".replace("@DROPPED@", dropped).replace("@PROTECTED@", protected)


SESSION_WRAPPER = _wrapper()
"""Runs the command with the session's saved directory and exported variables, then saves them again.

The saved state is data, never run as code: variables are read back one by one, names checked, and
:data:`SESSION_DROPPED_VARIABLES` left out (bash only; another shell carries no variables). A saved
directory inside a protected path (:data:`podium.tools.protected.PROTECTED_NAMES`, such as ``.git``) is
not restored, so ``cd .git`` in one call does not make ``echo x > config`` in the next write ``.git/config``."""


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
                result = sandbox.run(argv, timeout=limit, cwd=cwd, extra_writable=(directory,), cancel=ctx.abandoned)
            else:
                result = sandbox.run_shell(command, timeout=limit, cwd=cwd, cancel=ctx.abandoned)
        except WorkspaceError as exc:
            raise ModelRetry(str(exc)) from None
        except SandboxStartError as exc:
            raise ModelRetry(f"the sandbox could not start the command: {exc}") from None
        return result.for_model()

    def run_python(ctx: RunContext[Any], code: str, timeout: float | None = None) -> str:
        """Run a Python program in the workspace (a fresh interpreter each time); shows its output.

        Args:
            ctx: The run context (supplied by Podium).
            code: The program's source.
            timeout: Seconds before it is killed (capped by the sandbox policy).
        """
        try:
            result = sandbox.run_python(code, timeout=_timeout(timeout), cancel=ctx.abandoned)
        except SandboxStartError as exc:
            raise ModelRetry(f"the sandbox could not start Python: {exc}") from None
        return result.for_model()

    return [Tool(run_shell), Tool(run_python)], sessions
