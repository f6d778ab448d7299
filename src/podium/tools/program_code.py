"""Programs that run code of their own: shells (``sh -c``), interpreters (``python -c``), ``awk`` and ``sed``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from podium.tools.program_view import ProgramView, globbed, opaque
from podium.tools.shell_syntax import Word

__all__ = ["INTERPRETERS", "SHELLS", "awk", "interpreter", "interpreter_name", "sed", "sed_problem", "shell"]

SHELLS = frozenset({"sh", "bash", "dash", "rbash"})
"""Shells whose ``-c`` string is parsed again (their syntax is the recognizer's)."""


def shell(words: Sequence[Word]) -> ProgramView:
    """``sh``/``bash``/``dash``: a ``-c`` string is parsed again; reading commands from input is opaque."""
    name = words[0].text
    args = words[1:]
    command_flag = False
    i = 0
    while i < len(args):
        text = args[i].text
        if text in ("--", "-"):
            i += 1
            break
        if text in ("-o", "+o"):
            i += 2
            continue
        if text in ("--norc", "--noprofile", "--posix", "--noediting", "--verbose"):
            i += 1
            continue
        if text[:1] in ("-", "+") and len(text) > 1:
            letters = text[1:]
            if any(c in letters for c in "ilsO") or text.startswith("--"):
                return opaque(f"{name} {text}: reads start-up files, its input or options not modelled")
            if not all(c in "abcefhkmnptuvxBCEHPT" for c in letters):
                return opaque(f"{name} {text}: an option not modelled")
            command_flag = command_flag or "c" in letters
            i += 1
            continue
        break
    if bad := globbed(args[: i + 1], name):
        return bad
    if command_flag:
        if i >= len(args):
            return opaque(f"{name} -c without a command")
        return ProgramView(scripts=[args[i].text])
    if i >= len(args):
        return opaque(f"{name} reads the commands to run from its input")
    return ProgramView()  # runs a script file, like `make` runs a Makefile


@dataclass(frozen=True, slots=True)
class _Interpreter:
    inline: frozenset[str]
    """Options whose value is code (``-c``, ``-e``, ``--eval``)."""
    valued: frozenset[str] = frozenset()
    """Other options that take a value."""
    module: frozenset[str] = frozenset()
    """Options that name a module to run (no script file follows)."""
    in_place: bool = False
    """Whether ``-i`` edits files in place."""


INTERPRETERS: dict[str, _Interpreter] = {
    "python": _Interpreter(frozenset({"-c"}), frozenset({"-W", "-X", "-Q"}), frozenset({"-m"})),
    "perl": _Interpreter(frozenset({"-e", "-E"}), frozenset({"-I", "-M", "-m", "-x", "-C", "-l", "-0"}), in_place=True),
    "ruby": _Interpreter(frozenset({"-e"}), frozenset({"-I", "-r", "-C", "-E", "-F", "-x"}), in_place=True),
    "node": _Interpreter(
        frozenset({"-e", "--eval", "-p", "--print"}),
        frozenset({"-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions"}),
    ),
    "bun": _Interpreter(frozenset({"-e", "--eval", "-p", "--print"})),
    "deno": _Interpreter(frozenset({"eval", "repl"})),
    "php": _Interpreter(frozenset({"-r", "-R", "-B", "-E", "-F", "-a"}), frozenset({"-c", "-d", "-z", "-t"})),
    "lua": _Interpreter(frozenset({"-e"}), frozenset({"-l"})),
    "luajit": _Interpreter(frozenset({"-e"}), frozenset({"-l", "-j", "-O"})),
    "rscript": _Interpreter(frozenset({"-e"})),
    "r": _Interpreter(frozenset({"-e"})),
    "julia": _Interpreter(frozenset({"-e", "-E", "--eval", "--print"})),
    "osascript": _Interpreter(frozenset({"-e"})),
    "tclsh": _Interpreter(frozenset()),
    "irb": _Interpreter(frozenset()),
    "ghci": _Interpreter(frozenset({"-e"})),
    "ts-node": _Interpreter(frozenset({"-e", "--eval", "-p", "--print"})),
    "tsx": _Interpreter(frozenset({"-e", "--eval", "-p", "--print"})),
}


def interpreter_name(name: str) -> str | None:
    """The :data:`INTERPRETERS` key for a program name (``python3.12`` -> ``python``), or ``None``."""
    if re.fullmatch(r"(python|pypy)[0-9.]*", name):
        return "python"
    if re.fullmatch(r"perl[0-9.]*", name):
        return "perl"
    if re.fullmatch(r"ruby[0-9.]*", name):
        return "ruby"
    if name in ("nodejs",):
        return "node"
    return name if name in INTERPRETERS else None


def interpreter(words: Sequence[Word], spec: _Interpreter) -> ProgramView:
    """An interpreter: inline code (``-c``, ``-e``) or a program read from input is opaque; a script file is not."""
    name = words[0].text
    args = words[1:]
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if text == "-":
            return opaque(f"{name} reads the program from its input")
        head = text.split("=", 1)[0]
        if head in spec.inline or any(text.startswith(f) and len(f) == 2 and f[0] == "-" for f in spec.inline):
            return opaque(f"{name} {head}: runs code given on the command line")
        if head in spec.module:
            return ProgramView()
        if spec.in_place and text.startswith("-") and not text.startswith("--") and "i" in text[1:]:
            return opaque(f"{name} -i edits files in place")
        if not text.startswith("-"):
            break
        if head in spec.valued:
            i += 1 if "=" in text or (len(text) > 2 and not text.startswith("--")) else 2
            continue
        if not text.startswith("--") and any(f"-{c}" in spec.inline for c in text[1:]):
            return opaque(f"{name} {text}: runs code given on the command line")
        i += 1
    if bad := globbed(args[: i + 1], name):
        return bad
    if i >= len(args):
        return opaque(f"{name} reads the program from its input (or starts a prompt)")
    return ProgramView()


def awk(words: Sequence[Word]) -> ProgramView:
    """``awk``: opaque when the program can run commands or open files (``system``, ``|``, ``>``, ``getline``)."""
    name = words[0].text
    args = words[1:]
    program: str | None = None
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if text in ("--sandbox", "-S"):
            return ProgramView()  # gawk: no system(), no redirection, no pipes
        if text.startswith(("-f", "--file", "-i", "--include", "-l", "--load", "-E", "--exec")):
            return opaque(f"{name} {text[:2]}: reads its program or extensions from files")
        if text in ("-e", "--source"):
            program = (program or "") + (args[i + 1].text if i + 1 < len(args) else "")
            i += 2
            continue
        if text in ("-v", "-F", "--assign", "--field-separator"):
            i += 2
            continue
        if not text.startswith("-"):
            break
        i += 1
    if program is None:
        if i >= len(args):
            return opaque(f"{name} without a program")
        program = args[i].text
    for token in ("system", "|", ">", "getline", "@", "close", "fflush", "ENVIRON"):
        if token in program:
            return opaque(f"{name}: the program uses {token!r} (commands, pipes or files)")
    return ProgramView()


_SED_SIMPLE = set("{}=dDgGhHlnNpPxzF")


def _sed_regex(script: str, i: int, delimiter: str) -> int:
    """Index after the closing ``delimiter`` of a regex starting at ``i`` (bracket expressions respected)."""
    n = len(script)
    while i < n:
        c = script[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and script[j] == "^":
                j += 1
            if j < n and script[j] == "]":
                j += 1
            while j < n and script[j] != "]":
                j += 1
            if j >= n:
                raise ValueError("unterminated bracket expression")
            i = j + 1
            continue
        if c == delimiter:
            return i + 1
        if c == "\n":
            raise ValueError("newline in a regular expression")
        i += 1
    raise ValueError("unterminated regular expression")


def _sed_text(script: str, i: int, delimiter: str) -> int:
    """Index after the closing ``delimiter`` of a replacement starting at ``i``."""
    n = len(script)
    while i < n:
        c = script[i]
        if c == "\\":
            i += 2
            continue
        if c == delimiter:
            return i + 1
        i += 1
    raise ValueError("unterminated replacement")


def _sed_address(script: str, i: int) -> int:
    n = len(script)
    if i < n and script[i].isdigit():
        while i < n and (script[i].isdigit() or script[i] == "~"):
            i += 1
    elif i < n and script[i] == "$":
        i += 1
    elif i < n and script[i] in "/\\":
        delimiter = "/"
        if script[i] == "\\":
            if i + 1 >= n:
                raise ValueError("bad address")
            delimiter, i = script[i + 1], i + 1
        i = _sed_regex(script, i + 1, delimiter)
        while i < n and script[i] in "IM":
            i += 1
    return i


def sed_problem(script: str) -> str:
    """Why a sed script may run commands or write files (``e``, ``w``, ``s///e``, ``s///w``), or ``""``."""
    i, n = 0, len(script)
    try:
        while i < n:
            if script[i] in " \t\n;":
                i += 1
                continue
            i = _sed_address(script, i)
            if i < n and script[i] == ",":
                i += 1
                if i < n and script[i] in "+~":
                    i += 1
                i = _sed_address(script, i)
            while i < n and script[i] in " \t!":
                i += 1
            if i >= n:
                break
            command = script[i]
            i += 1
            if command in _SED_SIMPLE:
                while i < n and script[i].isdigit():
                    i += 1
            elif command in "qQ":
                while i < n and (script[i].isdigit() or script[i] in " \t"):
                    i += 1
            elif command in ":btT":
                # a label: stop at the first blank, ; newline or } (GNU sed reads `b end w x` as a w command)
                while i < n and script[i] in " \t":
                    i += 1
                while i < n and script[i] not in " \t;\n}":
                    i += 1
            elif command in "aicrR":
                end = script.find("\n", i)
                while command in "aic" and end > 0 and script[end - 1] == "\\":
                    end = script.find("\n", end + 1)
                i = n if end < 0 else end
            elif command in "s":
                if i >= n or script[i] in "\\\n":
                    return "sed: an s command not modelled"
                delimiter = script[i]
                i = _sed_text(script, _sed_regex(script, i + 1, delimiter), delimiter)
                while i < n and script[i] not in ";\n}":
                    flag = script[i]
                    if flag in "ew":
                        return f"sed: the s///{flag} flag {'runs a command' if flag == 'e' else 'writes a file'}"
                    if flag not in "gpiImM0123456789 \t":
                        return f"sed: the s flag {flag!r} is not modelled"
                    i += 1
            elif command == "y":
                if i >= n:
                    return "sed: a y command not modelled"
                delimiter = script[i]
                i = _sed_text(script, _sed_text(script, i + 1, delimiter), delimiter)
            elif command == "e":
                return "sed: the e command runs a command"
            elif command in "wW":
                return "sed: the w command writes a file"
            else:
                return f"sed: the command {command!r} is not modelled"
    except ValueError as exc:
        return f"sed: the script could not be read ({exc})"
    return ""


def sed(words: Sequence[Word]) -> ProgramView:
    """``sed``: opaque when the script can run commands or write files; ``-i`` writes the files named."""
    args = words[1:]
    scripts: list[str] = []
    in_place = False
    files: list[Word] = []
    i = 0
    ended = False
    while i < len(args):
        text = args[i].text
        if ended or not text.startswith("-") or text == "-":
            files.append(args[i])
            i += 1
            continue
        if text == "--":
            ended = True
        elif text.startswith("--"):
            name, _, value = text.partition("=")
            if name in ("--expression",):
                scripts.append(value if "=" in text else (args[i + 1].text if i + 1 < len(args) else ""))
                i += 0 if "=" in text else 1
            elif name in ("--file",):
                return opaque("sed -f reads its script from a file")
            elif name == "--in-place":
                in_place = True
            elif name in ("--line-length",):
                i += 0 if "=" in text else 1
            elif name not in (
                "--quiet",
                "--silent",
                "--regexp-extended",
                "--separate",
                "--unbuffered",
                "--null-data",
                "--posix",
                "--debug",
                "--sandbox",
                "--follow-symlinks",
                "--binary",
            ):
                return opaque(f"sed {name}: an option not modelled")
        else:
            j = 1
            while j < len(text):
                letter = text[j]
                if letter == "i":
                    in_place = True
                    break  # the rest is a backup suffix
                if letter in "el":
                    value = text[j + 1 :] if j + 1 < len(text) else (args[i + 1].text if i + 1 < len(args) else "")
                    if j + 1 >= len(text):
                        i += 1
                    if letter == "e":
                        scripts.append(value)
                    break
                if letter == "f":
                    return opaque("sed -f reads its script from a file")
                if letter not in "nErsuzb":
                    return opaque(f"sed -{letter}: an option not modelled")
                j += 1
        i += 1
    if not scripts:
        if not files:
            return opaque("sed without a script")
        scripts.append(files.pop(0).text)
    for script in scripts:
        if problem := sed_problem(script):
            return opaque(problem)
    view = ProgramView()
    if in_place:
        view.writes.extend(files)
    return view
