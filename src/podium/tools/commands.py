"""What an approval policy needs to inspect a tool call: its paths, and its shell commands as argv.

Commands are matched on parsed argv, never on substrings: ``rm  -rf /`` (two spaces) parses to the same
``["rm", "-rf", "/"]`` as ``rm -rf /``.
"""

from __future__ import annotations

import os
import re
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


_WRAPPERS = {
    "sudo",
    "doas",
    "env",
    "nice",
    "nohup",
    "time",
    "command",
    "builtin",
    "exec",
    "stdbuf",
    "ionice",
    "timeout",
}
_WRAPPER_VALUE_OPTIONS = {
    "sudo": frozenset({"-u", "-g", "-C", "-h", "-p", "-r", "-t", "-U", "-D", "-T"}),
    "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "-C", "--unset", "--chdir"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "ionice": frozenset({"-c", "-n", "-p", "-P", "-u"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
}
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "fish"}
_SUBSHELL = re.compile(r"\$\(([^()]*)\)|`([^`]*)`")


def parse_command(command: str, _depth: int = 0) -> ParsedCommand:
    """Split ``command`` into the argv of each simple command it runs.

    Leading ``VAR=value`` assignments and wrappers (``sudo``, ``env``, ``nice -n 5``, ``timeout 10`` ...)
    are dropped, program names are reduced to their basename (``/bin/rm`` -> ``rm``), ``sh -c '...'`` and
    ``$(...)``/backtick substitutions are parsed too (their commands are listed as well), so
    ``FOO=1 sudo /bin/rm  -rf /`` and ``bash -c 'rm -rf /'`` both contain ``("rm", "-rf", "/")``.
    """
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

    def close() -> None:
        nonlocal opaque
        if current:
            for argv in _simplify(current):
                commands.append(argv)
                if argv[0] in _SHELLS and "-c" in argv[1:] and _depth < 5:
                    index = argv.index("-c")
                    if index + 1 < len(argv):
                        inner = parse_command(argv[index + 1], _depth + 1)
                        commands.extend(inner.commands)
                        redirects.extend(inner.redirects)
                        opaque = opaque or inner.opaque
        current.clear()

    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok.isdigit() and nxt and set(nxt) <= set("<>&"):
            continue  # the fd number of a redirection such as 2>&1
        if expect_target:
            redirects.append(tok)
            expect_target = False
            continue
        if tok in _OPERATORS or set(tok) <= set(";&|()"):
            close()
            continue
        if set(tok) <= set("<>&") or (tok[:-1].isdigit() and tok[-1] in "<>"):
            expect_target = True
            continue
        if not current and "=" in tok and tok.split("=", 1)[0].isidentifier():
            continue  # VAR=value before the command
        current.append(tok)
    close()
    if _depth < 5:
        for match in _SUBSHELL.finditer(command):
            inner = parse_command(match.group(1) or match.group(2) or "", _depth + 1)
            commands.extend(inner.commands)
    if any(c and c[0] in ("eval", "source", ".") for c in commands):
        opaque = True
    unique: list[tuple[str, ...]] = []
    for argv in commands:
        if argv not in unique:
            unique.append(argv)
    return ParsedCommand(tuple(unique), opaque, tuple(redirects))


def _simplify(argv: list[str]) -> list[tuple[str, ...]]:
    """Drop assignments and wrappers in front of a simple command; basename the program."""
    args = list(argv)
    while args:
        head = os.path.basename(args[0])
        if "=" in args[0] and args[0].split("=", 1)[0].isidentifier():
            args = args[1:]
        elif head in _WRAPPERS:
            args = args[1:]
            takes_value = _WRAPPER_VALUE_OPTIONS.get(head, frozenset())
            while args and (args[0].startswith("-") or ("=" in args[0] and args[0].split("=", 1)[0].isidentifier())):
                option = args.pop(0)
                if option in takes_value and args:
                    args.pop(0)
            if head == "timeout" and args:
                args = args[1:]  # the duration
        else:
            break
    if not args:
        return []
    args[0] = os.path.basename(args[0])
    return [tuple(args)]


def call_paths(tool_name: str, args: Mapping[str, Any]) -> list[str]:
    """The workspace paths a built-in tool call names (``tool_name`` may carry a toolset prefix)."""
    for name, keys in PATH_ARGUMENTS.items():
        if tool_name == name or tool_name.endswith("_" + name):
            return [str(args[k]) for k in keys if isinstance(args.get(k), str)]
    return []
