r"""How the file tools show file names, and how they read a shown name back.

A file name may hold any byte but ``/`` and NUL: a newline or carriage return could forge extra lines in a
listing (a fake ``/etc/shadow:1:root:...`` search hit), an ANSI escape could rewrite a terminal, and a name such
as ``notes -> /etc`` or ``a.py:12:x`` could pass for a symlink or a search hit. So every tool shows a path
either **bare**, unchanged, which is the case for ordinary names, or **quoted**: in double quotes with
backslash escapes, like ``"bad\nname.txt"``. A path is quoted when it contains a character that is not
printable (controls, line separators, format characters such as bidi overrides, bytes that are not UTF-8), a
component that starts with ``"`` or starts or ends with a space, or the sequences ``" -> "`` or ``:<digit>``.

Escapes inside quotes: ``\\`` ``\"`` ``\n`` ``\r`` ``\t``; ``\xHH`` for an ASCII control or a byte that
is not UTF-8 (``\xff`` is the byte 0xFF); ``\uHHHH`` and ``\UHHHHHHHH`` for other characters that are not
printable. Everything else stands for itself.

Every path argument of the tools accepts the quoted form back, for the whole path (``"src/a\nb.py"``) or
for single components (``src/"a\nb.py"``), but only in exactly the form the tools show: ``"readme.md"`` or
``"re\x61dme.md"`` is refused, so a rule that matches path arguments by text (approval rules) always sees
ordinary characters as themselves. A bare argument is always taken literally.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["escape_controls", "quote_path", "unquote_path"]

_SIMPLE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSIMPLE = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
_MISREAD = re.compile(r" -> |:\d")
_HEX = {"x": 2, "u": 4, "U": 8}


class QuotedPathError(ValueError):
    """A quoted path argument is malformed or not in the form the tools show."""


def _needs_quoting(path: str) -> bool:
    if not path.isprintable() or _MISREAD.search(path):
        return True
    return any(part[:1] == '"' or part[:1] == " " or part[-1:] == " " for part in path.split("/"))


def _escape(c: str) -> str:
    simple = _SIMPLE.get(c)
    if simple is not None:
        return simple
    if c.isprintable():
        return c
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode gives it
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def quote_path(path: str) -> str:
    """``path`` as the tools show it: unchanged when ordinary, else quoted with escapes (see the module)."""
    if not _needs_quoting(path):
        return path
    return '"' + "".join(_escape(c) for c in path) + '"'


def escape_controls(text: str) -> str:
    """``text`` with control characters (tab excepted) and line separators escaped, for one line of a listing."""
    if text.isprintable():
        return text
    out = []
    for c in text:
        if c != "\t" and (unicodedata.category(c) in ("Cc", "Zl", "Zp")):
            out.append(_escape(c))
        else:
            out.append(c)
    return "".join(out)


def _parse_quoted(quoted: str) -> str | None:
    """The text inside ``"..."`` with escapes undone, or ``None`` when it is malformed."""
    body = quoted[1:-1]
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == '"':
            return None
        if c != "\\":
            out.append(c)
            i += 1
            continue
        kind = body[i + 1 : i + 2]
        if kind in _UNSIMPLE:
            out.append(_UNSIMPLE[kind])
            i += 2
            continue
        width = _HEX.get(kind)
        digits = body[i + 2 : i + 2 + width] if width else ""
        if not width or len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
            return None
        code = int(digits, 16)
        if kind == "x" and code >= 0x80:
            code += 0xDC00  # the byte, as os.fsdecode represents it
        if code > 0x10FFFF:
            return None
        out.append(chr(code))
        i += 2 + width
    return "".join(out)


def _is_quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] == '"' and text[-1] == '"'


def _unquote_one(quoted: str) -> str:
    value = _parse_quoted(quoted)
    if value is None:
        raise QuotedPathError(
            f'{quoted} is not a valid quoted name: inside the quotes use \\\\, \\", \\n, \\r, \\t, \\xHH, '
            "\\uHHHH as the tools show them"
        )
    if quote_path(value) != quoted:
        raise QuotedPathError(
            f"{quoted} is quoted but not the way the tools show it (they show {quote_path(value)}); "
            "write an ordinary name without quotes, or copy the quoted name exactly as a tool printed it"
        )
    return value


def unquote_path(arg: str) -> str:
    """The real path for a path argument: quoted parts (as :func:`quote_path` shows them) undone.

    Raises:
        QuotedPathError: a quoted part is malformed, or quoted differently from how the tools show it.
    """
    if '"' not in arg:
        return arg
    if _is_quoted(arg) and _parse_quoted(arg) is not None:
        return _unquote_one(arg)
    parts = arg.split("/")
    if not any(_is_quoted(part) for part in parts):
        return arg
    return "/".join(_unquote_one(part) if _is_quoted(part) else part for part in parts)
