"""What an approval policy needs to inspect a tool call: its paths, and what a shell command line does.

:func:`parse_command` splits a command line into **units**, each judged on its own by a policy:

* a :class:`CommandUnit` per simple command, with its argv after quote removal (``l''s`` is ``ls``),
  plus one per command that a wrapper or runner would run (``sudo rm x`` -> ``sudo rm x`` and ``rm x``;
  ``bash -c 'STRING'`` is parsed again, to a bounded depth);
* a :class:`PathUnit` per file the line writes or reads: redirection targets (``> f`` writes ``f``),
  and files named to programs that write them (``tee f``, ``cp a f``, ``sed -i f``), relative to the
  call's directory and any ``cd`` before them.

A unit is **opaque** (its ``opaque`` field says why) when what runs cannot be known from the text:
the line uses shell syntax outside the recognized subset (:mod:`podium.tools.shell_syntax`: ``$``
expansions, substitutions, keywords, functions ...), or a program runs code or commands of its own
(:mod:`podium.tools.programs`: ``python -c``, ``xargs``, ``git -c``, ``eval`` ...). For a line outside
the subset the units are a best guess (every one opaque), so deny rules still see ``rm`` inside ``$(rm x)``.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from podium.tools.programs import examine
from podium.tools.shell_syntax import NotUnderstood, SimpleCommand, Word, parse_script

__all__ = [
    "COMMAND_ARGUMENTS",
    "HARMLESS_FILES",
    "PATH_ACCESS",
    "PATH_ARGUMENTS",
    "CommandUnit",
    "ParsedCommand",
    "PathUnit",
    "Unit",
    "call_paths",
    "parse_command",
]

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

PATH_ACCESS: Mapping[str, Literal["read", "write"]] = {
    "read_file": "read",
    "write_file": "write",
    "edit_file": "write",
    "list_directory": "read",
    "find_files": "read",
    "search_files": "read",
    "run_shell": "read",
}
"""For each built-in tool, whether its path arguments are read or written (a tool may say so itself
with ``metadata={"path_access": "read"}``; a tool with paths that says nothing counts as writing)."""

COMMAND_ARGUMENTS: Mapping[str, str] = {"run_shell": "command"}
"""For each built-in tool, the argument holding a shell command line."""

HARMLESS_FILES = frozenset(
    {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty", "/dev/zero", "/dev/random", "/dev/urandom"}
)
"""Redirection targets that are never judged as files."""

_MAX_DEPTH = 6
_MAX_BASES = 8
_GUESS_SKIP = frozenset({"if", "then", "else", "elif", "do", "while", "until", "{", "}", "!", "time", "coproc", "$"})


@dataclass(frozen=True, slots=True)
class CommandUnit:
    """One program the command line runs."""

    argv: tuple[str, ...]
    """The program and its arguments as the program receives them (for an opaque unit, a best guess;
    a program named by a path is shown by its base name, so ``/bin/rm`` still meets rules about ``rm``)."""
    opaque: str = ""
    """Why what runs cannot be known from ``argv`` (empty when it can)."""


@dataclass(frozen=True, slots=True)
class PathUnit:
    """One file the command line writes or reads."""

    path: str
    """The path as it would be opened, relative to the workspace (or absolute); may be a glob pattern."""
    access: Literal["read", "write"]
    """Whether the file is written (or removed) or only read."""
    opaque: str = ""
    """Why the file cannot be known before the command runs (empty when it can)."""
    source: str = ""
    """What names it, for messages: ``> out.txt``, ``tee``, ``sed -i`` ..."""
    glob: bool = False
    """Whether ``path`` is a pattern the shell expands to existing files (a policy expands it too)."""


Unit: TypeAlias = CommandUnit | PathUnit


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A shell command line as units (see the module docstring)."""

    units: tuple[Unit, ...]
    """Every program run and every file written or read, in order."""
    not_understood: str = ""
    """Why the line is outside the recognized shell subset (then every unit is a guess, and opaque)."""

    @property
    def commands(self) -> tuple[tuple[str, ...], ...]:
        """The argv of each command unit, without repeats."""
        seen: dict[tuple[str, ...], None] = {}
        for unit in self.units:
            if isinstance(unit, CommandUnit):
                seen.setdefault(unit.argv)
        return tuple(seen)

    @property
    def opaque(self) -> bool:
        """Whether anything cannot be known before the line runs."""
        return bool(self.not_understood) or any(u.opaque for u in self.units)

    @property
    def redirects(self) -> tuple[str, ...]:
        """The paths of the path units (redirection targets and files programs write or read)."""
        return tuple(u.path for u in self.units if isinstance(u, PathUnit))

    @property
    def reasons(self) -> tuple[str, ...]:
        """The distinct reasons units are opaque."""
        return tuple(dict.fromkeys(u.opaque for u in self.units if u.opaque))


def parse_command(command: str, cwd: str | None = None) -> ParsedCommand:
    """The units of the shell command line ``command`` run in ``cwd`` (relative to the workspace).

    Example::

        >>> [u.argv for u in parse_command("sudo -u bob rm -rf build").units]
        [('sudo', '-u', 'bob', 'rm', '-rf', 'build'), ('rm', '-rf', 'build')]
        >>> parse_command("echo hi > notes.txt").units[0]
        PathUnit(path='notes.txt', access='write', opaque='', source='> notes.txt', glob=False)
    """
    builder = _Builder()
    try:
        commands = parse_script(command)
    except NotUnderstood as exc:
        builder.guess(command, f"the command line uses shell syntax that is not checked: {exc.reason}", 0)
        return ParsedCommand(tuple(dict.fromkeys(builder.units)), exc.reason)
    builder.commands(commands, (cwd or ".",), 0, "")
    return ParsedCommand(tuple(dict.fromkeys(builder.units)))


class _Builder:
    def __init__(self) -> None:
        self.units: list[Unit] = []

    def script(self, text: str, bases: tuple[str | None, ...], depth: int, opaque: str) -> None:
        """A command line run by a program (``bash -c``), parsed like the outer one."""
        try:
            commands = parse_script(text)
        except NotUnderstood as exc:
            self.guess(text, opaque or f"a shell run by the command uses syntax that is not checked: {exc.reason}", 0)
            return
        self.commands(commands, bases, depth, opaque)

    def commands(
        self, commands: Sequence[SimpleCommand], bases: tuple[str | None, ...], depth: int, opaque: str
    ) -> None:
        for command in commands:
            for redirect in command.redirects:
                if redirect.target is not None:
                    access: Literal["read", "write"] = "write" if redirect.writes else "read"
                    source = f"{redirect.op} {redirect.target.text}"
                    self.path(redirect.target, access, bases, source, opaque)
            if command.words:
                self.command(list(command.words), bases, depth, opaque)
                bases = _after_cd(command.words, bases)

    def command(self, words: list[Word], bases: tuple[str | None, ...], depth: int, opaque: str) -> None:
        first = words[0]
        argv = tuple(w.text for w in words)
        reason = opaque
        if "/" in first.text:
            reason = reason or f"the program is named by a path ({first.text}), so it may be any file"
            argv = (posixpath.basename(first.text), *argv[1:])
        elif first.glob:
            reason = reason or f"the program name {first.text!r} is a pattern"
        elif not first.text:
            reason = reason or "the program name is empty"
        view = examine(words)
        self.units.append(CommandUnit(argv, reason or view.opaque))
        inner_opaque = opaque or view.inner_opaque
        if (view.inner or view.scripts) and depth >= _MAX_DEPTH:
            self.units.append(CommandUnit(argv, "commands are nested too deeply to check"))
            return
        for inner in view.inner:
            self.command(inner, bases, depth + 1, inner_opaque)
        for script in view.scripts:
            self.script(script, bases, depth + 1, inner_opaque)
        for word in view.writes:
            self.path(word, "write", bases, argv[0], opaque)
        for word in view.reads:
            self.path(word, "read", bases, argv[0], opaque)

    def path(
        self, word: Word, access: Literal["read", "write"], bases: tuple[str | None, ...], source: str, opaque: str
    ) -> None:
        text = word.text
        if text in HARMLESS_FILES or text == "-":
            return
        if text.startswith("/"):
            candidates: list[str | None] = [text]
        else:
            candidates = [None if b is None else (text if b == "." else f"{b}/{text}") for b in bases]
        for candidate in dict.fromkeys(candidates):
            if candidate is None:
                reason = opaque or "the path is relative to a directory only known when the command runs (cd)"
                self.units.append(PathUnit(text, access, reason, source, word.glob))
            else:
                self.units.append(PathUnit(candidate, access, opaque, source, word.glob))

    def guess(self, text: str, reason: str, depth: int) -> None:
        """Best-effort units of a line outside the subset; all opaque (deny rules can still match them)."""
        lexer = shlex.shlex(text.replace("\n", " ; "), posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        lexer.commenters = ""
        try:
            tokens = list(lexer)
        except ValueError:
            tokens = text.split()
        current: list[str] = []
        expect_target = False
        found = False
        for n, token in enumerate([*tokens, ";"]):
            if expect_target:
                if not (token.isdigit() or token == "-") or "&" not in tokens[n - 1]:
                    self.units.append(PathUnit(token, "write", reason, "redirection"))
                expect_target = False
            elif token.isdigit() and n + 1 < len(tokens) and set(tokens[n + 1]) <= set("<>&"):
                continue  # the descriptor of a redirection such as 2>&1
            elif token and set(token) <= set(";&|()<>"):
                if current:
                    self._guessed_command(current, reason, depth)
                    found = True
                current = []
                expect_target = bool(set(token) & set("<>"))
            else:
                current.append(token)
        for inner in _substitutions(text):
            if depth < _MAX_DEPTH:
                self.guess(inner, reason, depth + 1)
                found = True
        if not found:
            self.units.append(CommandUnit(tuple(text.split()[:1]) or ("",), reason))

    def _guessed_command(self, argv: list[str], reason: str, depth: int) -> None:
        while argv and (argv[0] in _GUESS_SKIP or ("=" in argv[0] and argv[0].split("=", 1)[0].isidentifier())):
            argv = argv[1:]  # keywords and assignments before the command
        if not argv:
            return
        argv = [posixpath.basename(argv[0]), *argv[1:]]
        self.units.append(CommandUnit(tuple(argv), reason))
        if depth >= _MAX_DEPTH:
            return
        view = examine([Word(a) for a in argv])
        for inner in view.inner:
            self._guessed_command([w.text for w in inner], reason, depth + 1)
        for script in view.scripts:
            self.guess(script, reason, depth + 1)


def _substitutions(text: str) -> list[str]:
    """The text inside ``$(..)``, ``<(..)``, ``>(..)`` and backticks (nesting followed by counting parens)."""
    found: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith(("$(", "<(", ">("), i) and not text.startswith("$((", i):
            depth, j = 1, i + 2
            while j < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            found.append(text[i + 2 : j - 1] if depth == 0 else text[i + 2 :])
            i += 2
        elif text[i] == "`":
            end = text.find("`", i + 1)
            found.append(text[i + 1 : end if end > 0 else len(text)])
            i = len(text) if end < 0 else end + 1
        else:
            i += 1
    return found


def _after_cd(words: Sequence[Word], bases: tuple[str | None, ...]) -> tuple[str | None, ...]:
    """The directories later relative paths may be relative to, after ``cd``/``pushd``/``popd``."""
    name = words[0].text
    if name not in ("cd", "pushd", "popd", "chdir"):
        return bases
    args = [w for w in words[1:] if not (w.text.startswith("-") and w.text != "-")]
    target: str | None = None
    if name != "popd" and args and args[0].text not in ("-",) and not args[0].glob:
        target = args[0].text
    new: list[str | None] = list(bases)
    for base in bases:
        if target is None or base is None:
            new.append(None)
        elif target.startswith("/"):
            new.append(target)
        else:
            new.append(target if base == "." else f"{base}/{target}")
    unique = tuple(dict.fromkeys(new))
    if len(unique) > _MAX_BASES:
        unique = (*unique[: _MAX_BASES - 1], None)
    return unique


def call_paths(tool_name: str, args: Mapping[str, Any]) -> list[str]:
    """The workspace paths a built-in tool call names (``tool_name`` may carry a toolset prefix)."""
    for name, keys in PATH_ARGUMENTS.items():
        if tool_name == name or tool_name.endswith("_" + name):
            return [str(args[k]) for k in keys if isinstance(args.get(k), str)]
    return []
