"""What an approval policy needs to inspect a built-in tool call: its paths and its commands as argv.

Commands are matched on parsed argv, never on substrings: ``rm  -rf /`` (two spaces) parses to the same
``["rm", "-rf", "/"]`` as ``rm -rf /``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["COMMAND_ARGUMENTS", "PATH_ARGUMENTS", "ParsedCommand", "call_paths", "parse_command"]

PATH_ARGUMENTS: Mapping[str, tuple[str, ...]] = {
    "read_file": ("path",),
    "write_file": ("path",),
    "edit_file": ("path",),
    "list_directory": ("path",),
    "find_files": ("path",),
    "search_files": ("path",),
    "run_shell": ("cwd",),
}
"""For each built-in tool, the arguments that are workspace paths."""

COMMAND_ARGUMENTS: Mapping[str, str] = {"run_shell": "command"}
"""For each built-in tool, the argument holding a shell command line."""

_OPERATORS = {";", "&&", "||", "|", "&", "|&", ";;", "(", ")", "\n"}


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A shell command line split into simple commands."""

    commands: tuple[tuple[str, ...], ...]
    """The argv of each simple command (between ``;``, ``&&``, ``||``, ``|``, ``&``), in order."""
    opaque: bool
    """Whether parts cannot be known before running: ``$(...)``, backticks, ``eval``, ``<(...)``, or a parse error."""
    redirects: tuple[str, ...] = ()
    """Redirection targets (``> file``, ``>> file``, ``< file``)."""


def parse_command(command: str) -> ParsedCommand:
    """Split ``command`` into the argv of each simple command (leading ``VAR=value`` assignments dropped)."""
    opaque = any(s in command for s in ("$(", "`", "<(", ">(")) or "\\\n" in command
    lexer = shlex.shlex(command.replace("\n", " ; "), posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:
        return ParsedCommand((), True)
    commands: list[tuple[str, ...]] = []
    redirects: list[str] = []
    current: list[str] = []
    expect_target = False
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok.isdigit() and nxt and set(nxt) <= set("<>&"):
            continue  # the fd number of a redirection such as 2>&1
        if expect_target:
            redirects.append(tok)
            expect_target = False
            continue
        if tok in _OPERATORS or set(tok) <= set(";&|()"):
            if current:
                commands.append(tuple(current))
            current = []
            continue
        if set(tok) <= set("<>&") or (tok[:-1].isdigit() and tok[-1] in "<>"):
            expect_target = True
            continue
        if not current and "=" in tok and tok.split("=", 1)[0].isidentifier():
            continue  # VAR=value before the command
        current.append(tok)
    if current:
        commands.append(tuple(current))
    if any(c and c[0] in ("eval", "source", ".") for c in commands):
        opaque = True
    return ParsedCommand(tuple(commands), opaque, tuple(redirects))


def call_paths(tool_name: str, args: Mapping[str, Any]) -> list[str]:
    """The workspace paths a built-in tool call names (``tool_name`` may carry a toolset prefix)."""
    for name, keys in PATH_ARGUMENTS.items():
        if tool_name == name or tool_name.endswith("_" + name):
            return [str(args[k]) for k in keys if isinstance(args.get(k), str)]
    return []
