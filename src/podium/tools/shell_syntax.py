r"""A conservative recognizer for a small subset of bash, understood exactly as bash understands it.

:func:`parse_script` turns a command line into simple commands (words and redirections, each with the
operator that joins it to the one before) or raises :class:`NotUnderstood` with a reason. It is
fail-closed by construction: it accepts only what it models exactly and refuses everything else.

Understood:

* words made of plain characters, ``'single quotes'``, ``"double quotes"`` without ``$`` or backticks,
  and backslash escapes (bash's rules outside and inside double quotes, ``\\<newline>`` joins lines);
* the operators ``;`` ``&&`` ``||`` ``|`` ``|&`` ``&`` and newline; ``time [-p]`` before a pipeline;
* redirections ``<`` ``>`` ``>>`` ``>|`` ``<>`` ``&>`` ``&>>`` ``N>`` ``N>&M`` ``N<&M`` ``>&N`` ``>&-``
  with a plain target, here-strings ``<<<``, and here-documents (``<<`` / ``<<-``) whose body is data:
  a quoted delimiter, or an unquoted one whose body has no ``$``, backtick or backslash;
* comments (an unquoted ``#`` at the start of a word) and glob patterns in words (flagged on the word).

Not understood (the reason says which): ``$`` in any form (parameters, ``$(..)``, ``$((..))``, ``$'..'``,
``$".."``), backticks, ``(`` and ``)`` (subshells, process substitution, functions, arrays, extglob),
brace expansion and ``{ }`` groups, reserved words at command position (``if``, ``for``, ``while``,
``case``, ``function``, ``[[``, ``!``, ``coproc`` ...), assignments before a command (``FOO=1 cmd``),
tilde expansion, ``;;`` and ``;&``, glob patterns that could match ``..``, unquoted here-document
bodies with expansions, unterminated quotes and here-documents, and syntax errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["NotUnderstood", "Redirect", "SimpleCommand", "Word", "parse_script"]

RESERVED_WORDS = frozenset(
    {
        "!",
        "[[",
        "]]",
        "{",
        "}",
        "case",
        "coproc",
        "do",
        "done",
        "elif",
        "else",
        "esac",
        "fi",
        "for",
        "function",
        "if",
        "in",
        "select",
        "then",
        "until",
        "while",
    }
)
"""Words bash reads as syntax when they come first in a command (``time`` is handled apart)."""

_METACHARACTERS = " \t\n|&;()<>"
_MAX_LENGTH = 100_000
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_DUPLICATION = re.compile(r"[0-9]+-?|-")


class NotUnderstood(Exception):
    """The command line uses shell syntax outside the recognized subset."""

    def __init__(self, reason: str) -> None:
        """Keep ``reason`` (shown to the person asked)."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Word:
    """One word after quote removal."""

    text: str
    """The word as the program receives it (quotes and escapes removed)."""
    quoted: bool = False
    """Whether any part was quoted or escaped (a quoted word is never a reserved word)."""
    glob: bool = False
    """Whether it holds an unquoted ``*``, ``?`` or ``[..]``, so bash may replace it by file names."""
    assignment: bool = False
    """Whether bash would read it as ``NAME=value`` when it comes before the command."""


@dataclass(frozen=True, slots=True)
class Redirect:
    """One redirection of a simple command."""

    op: str
    """``<``, ``>``, ``>>``, ``>|``, ``<>``, ``&>``, ``&>>``, ``>&``, ``<&``, ``<<``, ``<<-`` or ``<<<``."""
    fd: int | None = None
    """The file descriptor written before the operator (``2>``), if any."""
    target: Word | None = None
    """The file opened, for redirections to or from a file."""
    duplicate: str | None = None
    """For ``N>&M`` / ``N<&M``: the descriptor copied (``"1"``) or ``"-"`` to close."""
    body: str | None = None
    """The data of a here-document or here-string."""

    @property
    def writes(self) -> bool:
        """Whether the target is opened for writing."""
        return self.op not in ("<", "<&", "<<", "<<-", "<<<")


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """A program with its arguments and redirections."""

    words: tuple[Word, ...]
    """The program and its arguments (may be empty: ``> file`` alone truncates a file)."""
    redirects: tuple[Redirect, ...] = ()
    """Redirections, in order."""
    connector: str = ""
    """The operator before it (``""`` for the first command): ``;``, ``&``, newline, ``&&``, ``||``, ``|``, ``|&``."""


@dataclass(slots=True)
class _HereDoc:
    token_index: int
    delimiter: str
    quoted: bool
    strip_tabs: bool


class _Lexer:
    """Reads tokens: ("word", Word), ("op", str) or ("redirect", Redirect)."""

    def __init__(self, text: str) -> None:
        if "\x00" in text:
            raise NotUnderstood("the command contains a NUL character")
        self.text = text
        self.pos = 0
        self.heredocs: list[_HereDoc] = []
        self.out: list[tuple[str, object]] = []

    # -- words

    def word(self) -> Word:
        text, pos, n = self.text, self.pos, len(self.text)
        start = pos
        chars: list[str] = []
        quoted_flags: list[bool] = []
        raw_unquoted: list[tuple[int, str]] = []  # (index in chars, char) of unquoted characters
        quoted = glob = False
        while pos < n:
            c = text[pos]
            if c in _METACHARACTERS:
                break
            if c == "\\":
                if pos + 1 >= n:
                    raise NotUnderstood("the command ends with a backslash")
                if text[pos + 1] == "\n":
                    pos += 2
                    continue
                chars.append(text[pos + 1])
                quoted_flags.append(True)
                quoted = True
                pos += 2
            elif c == "'":
                end = text.find("'", pos + 1)
                if end < 0:
                    raise NotUnderstood("a single quote is not closed")
                chars.extend(text[pos + 1 : end])
                quoted_flags.extend([True] * (end - pos - 1))
                quoted = True
                pos = end + 1
            elif c == '"':
                pos = self._double_quoted(pos, chars, quoted_flags)
                quoted = True
            elif c == "$":
                raise NotUnderstood("it uses a $ expansion (variable, $(..) substitution, $'..' or arithmetic)")
            elif c == "`":
                raise NotUnderstood("it uses a `..` command substitution")
            else:
                if c == "~" and (not chars or (not quoted_flags[-1] and chars[-1] in "=:")):
                    raise NotUnderstood("it uses ~ (tilde expansion)")
                raw_unquoted.append((len(chars), c))
                chars.append(c)
                quoted_flags.append(False)
                pos += 1
        self.pos = pos
        value = "".join(chars)
        if not value and not quoted:
            raise NotUnderstood("syntax error: an empty word")
        if any(c in "*?" for _, c in raw_unquoted) or _has_bracket_pattern(raw_unquoted):
            glob = True
        _check_braces(raw_unquoted, value)
        if glob:
            _check_dot_patterns(chars, quoted_flags)
        assignment = bool(_ASSIGNMENT.match(text[start:pos]))
        return Word(value, quoted, glob, assignment)

    def _double_quoted(self, pos: int, chars: list[str], flags: list[bool]) -> int:
        text, n = self.text, len(self.text)
        pos += 1
        while pos < n:
            c = text[pos]
            if c == '"':
                return pos + 1
            if c in "$`":
                raise NotUnderstood("it uses an expansion ($ or `) inside double quotes")
            if c == "\\" and pos + 1 < n and text[pos + 1] in '$`"\\\n':
                if text[pos + 1] != "\n":
                    chars.append(text[pos + 1])
                    flags.append(True)
                pos += 2
                continue
            chars.append(c)
            flags.append(True)
            pos += 1
        raise NotUnderstood("a double quote is not closed")

    # -- tokens

    def tokens(self) -> list[tuple[str, object]]:
        out = self.out
        text, n = self.text, len(self.text)
        while True:
            while self.pos < n and text[self.pos] in " \t":
                self.pos += 1
            if self.pos >= n:
                break
            c = text[self.pos]
            two = text[self.pos : self.pos + 2]
            if c == "#":
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
                continue
            if two == "\\\n":
                self.pos += 2
                continue
            if c == "\n":
                self.pos += 1
                out.append(("op", "\n"))
                self._read_heredocs()
                continue
            if c in "()":
                raise NotUnderstood(f"it uses {c!r} (subshell, substitution, function or array syntax)")
            if c == ";":
                if two in (";;", ";&"):
                    raise NotUnderstood("it uses case syntax (;; or ;&)")
                self.pos += 1
                out.append(("op", ";"))
                continue
            if c == "|":
                op = two if two in ("||", "|&") else "|"
                self.pos += len(op)
                out.append(("op", op))
                continue
            if c == "&" and two != "&>":
                op = "&&" if two == "&&" else "&"
                self.pos += len(op)
                out.append(("op", op))
                continue
            if c in "<>" or two == "&>":
                out.append(("redirect", self._redirect(None)))
                continue
            start = self.pos
            word = self.word()
            if self.pos < n and text[self.pos] in "<>":
                if word.text.isdigit() and not word.quoted:
                    out.append(("redirect", self._redirect(int(word.text))))
                    continue
                if re.fullmatch(r"\{[A-Za-z_][A-Za-z0-9_]*\}", text[start : self.pos]):
                    raise NotUnderstood("it uses a {name}> redirection (assigns a variable)")
            out.append(("word", word))
        if self.heredocs:
            raise NotUnderstood("a here-document has no end line")
        return out

    def _redirect(self, fd: int | None) -> Redirect:
        text = self.text
        for op in ("<<<", "<<-", "&>>", "<<", "<&", "<>", ">>", ">|", ">&", "&>", "<", ">"):
            if text.startswith(op, self.pos):
                break
        if op.startswith("&") and fd is not None:
            raise NotUnderstood(f"it uses an unusual redirection {fd}{op}")
        self.pos += len(op)
        while self.pos < len(text) and text[self.pos] in " \t":
            self.pos += 1
        if self.pos < len(text) and text[self.pos] == "(" and op in ("<", ">"):
            raise NotUnderstood("it uses process substitution <(..) or >(..)")
        if self.pos >= len(text) or text[self.pos] in _METACHARACTERS or text[self.pos] == "#":
            raise NotUnderstood(f"the redirection {op} has no target")
        target = self.word()
        if op in ("<<", "<<-"):
            self.heredocs.append(_HereDoc(len(self.out), target.text, target.quoted, op == "<<-"))
            return Redirect(op, fd)
        if op == "<<<":
            if target.glob:
                raise NotUnderstood("a here-string holds a pattern")
            return Redirect(op, fd, body=target.text + "\n")
        if op in (">&", "<&"):
            if not target.quoted and _DUPLICATION.fullmatch(target.text):
                return Redirect(op, fd, duplicate=target.text)
            if op == "<&" or fd is not None:
                raise NotUnderstood(f"the redirection {op} names a file, not a descriptor")
            return Redirect("&>", None, target)  # `>&file` is `&>file`
        return Redirect(op, fd, target)

    def _read_heredocs(self) -> None:
        text, n = self.text, len(self.text)
        for doc in self.heredocs:
            lines: list[str] = []
            while True:
                if self.pos >= n:
                    raise NotUnderstood(f"the here-document has no end line {doc.delimiter!r}")
                end = text.find("\n", self.pos)
                line = text[self.pos : n if end < 0 else end]
                self.pos = n if end < 0 else end + 1
                if doc.strip_tabs:
                    line = line.lstrip("\t")
                if line == doc.delimiter:
                    break
                lines.append(line + "\n")
            body = "".join(lines)
            if not doc.quoted and any(c in body for c in "$`\\"):
                raise NotUnderstood("an unquoted here-document body has $, ` or \\ (it would be expanded)")
            old = self.out[doc.token_index][1]
            assert isinstance(old, Redirect)
            self.out[doc.token_index] = ("redirect", Redirect(old.op, old.fd, body=body))
        self.heredocs = []


def _has_bracket_pattern(unquoted: list[tuple[int, str]]) -> bool:
    """An unquoted ``[`` with an unquoted ``]`` after it: a bracket expression."""
    opened = False
    for _, c in unquoted:
        if c == "[":
            opened = True
        elif c == "]" and opened:
            return True
    return False


def _check_braces(unquoted: list[tuple[int, str]], value: str) -> None:
    """Refuse words bash could brace-expand (``{a,b}``, ``{1..3}``); ``{}`` and ``@{u}`` stay literal.

    Over-approximates in linear time: a ``,`` or ``..`` anywhere between the first unquoted ``{`` and the
    last unquoted ``}`` after it is refused.
    """
    first = next((i for i, c in unquoted if c == "{"), None)
    if first is None:
        return
    last = max((i for i, c in unquoted if c == "}" and i > first), default=None)
    if last is not None and ("," in value[first:last] or ".." in value[first:last]):
        raise NotUnderstood("it uses brace expansion ({a,b} or {1..3})")


def _check_dot_patterns(chars: list[str], quoted: list[bool]) -> None:
    """Refuse patterns where a path segment starts with ``.`` and has wildcards (they may match ``..``)."""
    segment_start = True
    dotted = False
    for c, q in zip(chars, quoted, strict=True):
        if c == "/" and not q:
            segment_start, dotted = True, False
            continue
        if segment_start:
            dotted = c == "."
            segment_start = False
        if dotted and not q and c in "*?[":
            raise NotUnderstood("a pattern starting with . could match ..")


def parse_script(text: str) -> tuple[SimpleCommand, ...]:
    """The simple commands of ``text``, in order.

    Raises:
        NotUnderstood: ``text`` uses syntax outside the recognized subset (see the module docstring).
    """
    if len(text) > _MAX_LENGTH:
        raise NotUnderstood(f"the command is longer than {_MAX_LENGTH} characters")
    lexer = _Lexer(text)
    tokens = lexer.tokens()
    commands: list[SimpleCommand] = []
    words: list[Word] = []
    redirects: list[Redirect] = []
    connector = ""
    need_command = False  # after && || | |&

    def close(next_connector: str) -> None:
        nonlocal connector, words, redirects
        if not words and not redirects:
            shown = "newline" if next_connector == "\n" else next_connector
            raise NotUnderstood(f"syntax error: nothing before {shown!r}")
        commands.append(_command(words, redirects, connector))
        connector, words, redirects = next_connector, [], []

    for kind, value in tokens:
        if kind == "word":
            assert isinstance(value, Word)
            words.append(value)
            need_command = False
        elif kind == "redirect":
            assert isinstance(value, Redirect)
            redirects.append(value)
            need_command = False
        elif value == "\n":
            if words or redirects:
                close("\n")
        else:
            assert isinstance(value, str)
            close(value)
            need_command = value in ("&&", "||", "|", "|&")
    if need_command:
        raise NotUnderstood(f"syntax error: the command ends with {connector!r}")
    if words or redirects:
        commands.append(_command(words, redirects, connector))
    return tuple(commands)


def _command(words: list[Word], redirects: list[Redirect], connector: str) -> SimpleCommand:
    """Check the command position (reserved words, assignments, ``time``) and build the command.

    ``time`` is a keyword only where a pipeline starts; after ``|`` it is the ``time`` program.
    """
    rest = list(words)
    if connector not in ("|", "|&") and rest and rest[0].text == "time" and not rest[0].quoted:
        rest.pop(0)  # the `time` keyword before a pipeline
        if rest and rest[0].text == "-p" and not rest[0].quoted:
            rest.pop(0)
        if rest and rest[0].text.startswith("-") and not rest[0].quoted:
            raise NotUnderstood(f"time {rest[0].text}: an option the recognizer does not model")
    if rest:
        first = rest[0]
        if not first.quoted and first.text in RESERVED_WORDS:
            raise NotUnderstood(f"it uses the shell keyword {first.text!r}")
        if first.assignment:
            raise NotUnderstood("it assigns a variable before the command (NAME=value cmd)")
    return SimpleCommand(tuple(rest), tuple(redirects), connector)
