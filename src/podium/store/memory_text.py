"""The text side of memories: what a valid note is, its duplicate key, and safe FTS5 queries.

Nothing here touches the database. :func:`clean_note` checks and normalizes a note (or a query) and says
exactly what is wrong with a bad one; :func:`index_terms` is what the full-text index holds for a note;
:func:`match_expression` turns any text a user or a model wrote into an FTS5 query that can only mean
"these words": every word is quoted, so FTS5 syntax (``"``, ``*``, ``-``, ``^``, ``NEAR``, ``AND``/``OR``/
``NOT``, ``column:`` filters, parentheses) in the text is never parsed as syntax.

Scripts written without spaces between words (Chinese, Japanese, Korean) are indexed one character per
token and searched by overlapping pairs of consecutive characters (bigrams, as phrases), so ``茶`` and
``你喜欢喝茶吗`` find ``我喜欢喝茶``, while ``喝茶`` does not match ``喝水 ... 茶``. Latin-script text goes
through SQLite's ``porter unicode61 remove_diacritics 2`` tokenizer: case and accents are ignored (``cafe``
finds ``Café``) and English endings are stemmed (``preference`` finds ``prefers``). ``bench/memory_search.py``
measures this choice against plain ``unicode61``, ``porter`` and ``trigram``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from podium.store.base import StoreError

__all__ = [
    "MAX_NOTE_CHARS",
    "MAX_QUERY_CHARS",
    "InvalidNoteError",
    "clean_note",
    "index_terms",
    "match_expression",
    "note_digest",
    "query_terms",
]

MAX_NOTE_CHARS = 4000
"""The longest note, in characters (after trimming the whitespace around it)."""

MAX_QUERY_CHARS = 4000
"""The longest query, in characters."""

MAX_TERMS = 32
"""Words of a query that are searched for (the first distinct ones that are not stop words)."""


class InvalidNoteError(StoreError, ValueError):
    """A note or query that cannot be used: empty, too long, not text, or with control characters."""


_ALLOWED_CONTROLS = frozenset("\t\n\r")

_CONTROL_NAMES = {"\x00": "NUL", "\x1b": "ESC", "\x7f": "DEL", "\x08": "backspace"}

# Scripts written without spaces: one token per character (ideographs, kana, hangul, CJK extensions).
_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK_CHAR = re.compile(f"[{_CJK}]")
_WORD = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+")
# Words so common that searching for them finds everything; dropped from a query unless it has nothing else.
_STOP_WORDS_TEXT = (
    "a an and are as at be but by can could did do does for from had has have he her his how i if in into is "
    "it its me my no not of on or our she so that the their them then there these they this to us was we were "
    "what when where which who why will with would you your"
)
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def clean_note(text: object, *, what: str = "note", limit: int = MAX_NOTE_CHARS) -> str:
    """``text`` trimmed and in Unicode NFC, or :class:`InvalidNoteError` saying what is wrong.

    Refused: something that is not a ``str``; empty or whitespace-only text; more than ``limit``
    characters; control characters other than tab and newline (NUL, ESC ...: binary data, not a note);
    lone surrogates (bytes that were not UTF-8).

    Args:
        text: The note or query.
        what: What it is, for the error message (``note``, ``query``).
        limit: The most characters allowed.
    """
    if not isinstance(text, str):
        raise InvalidNoteError(f"the {what} must be text (a string), not {type(text).__name__}")
    text = unicodedata.normalize("NFC", text.strip()) if not text.isascii() else text.strip()
    if not text:
        raise InvalidNoteError(f"the {what} is empty; give it as plain text")
    if len(text) > limit:
        raise InvalidNoteError(
            f"the {what} is {len(text):,} characters long; the limit is {limit:,}. "
            + ("Save a shorter note, or split it into several." if what == "note" else "Use fewer words.")
        )
    for position, char in enumerate(text):
        if char in _ALLOWED_CONTROLS:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            name = _CONTROL_NAMES.get(char, f"U+{ord(char):04X}")
            raise InvalidNoteError(
                f"the {what} contains a control character ({name} at position {position}); it looks like "
                f"binary data. A {what} is plain text: remove it and try again."
            )
        if category == "Cs":
            raise InvalidNoteError(
                f"the {what} contains bytes that are not valid text (a lone surrogate U+{ord(char):04X} at "
                f"position {position}); give it as UTF-8 text."
            )
    return text


def note_digest(text: str) -> str:
    """The duplicate key of a clean note: SHA-256 of its words, case-folded and compatibility-normalized.

    ``"The cat is  Miso."`` and ``"the cat is miso."`` are the same note; ``"the cat is Mishka"`` is not.
    """
    key = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def index_terms(text: str) -> str:
    """What the full-text index holds for ``text``: NFKC-normalized, each CJK character set apart."""
    text = unicodedata.normalize("NFKC", text)
    return _CJK_CHAR.sub(lambda m: f" {m.group(0)} ", text)


def query_terms(query: str) -> list[str]:
    """The words of ``query`` that are searched for, in order, each once (case-insensitively).

    Stop words (``the``, ``is`` ...) are dropped unless the query has nothing else; at most
    :data:`MAX_TERMS` words are kept. A run of CJK characters gives its overlapping pairs of characters
    (``喜欢喝茶`` -> ``喜欢``, ``欢喝``, ``喝茶``), each searched as a phrase.
    """
    words: list[str] = []
    seen: set[str] = set()
    for match in _WORD.finditer(unicodedata.normalize("NFKC", query)):
        run = match.group(0)
        # CJK has no spaces between words: its runs give their overlapping pairs of characters
        pieces = [run[i : i + 2] for i in range(len(run) - 1)] if _CJK_CHAR.match(run) and len(run) > 1 else [run]
        for word in pieces:
            key = word.casefold()
            if key not in seen:
                seen.add(key)
                words.append(word)
    useful = [w for w in words if w.casefold() not in _STOP_WORDS]
    return (useful or words)[:MAX_TERMS]


def match_expression(query: str) -> str | None:
    """An FTS5 ``MATCH`` expression that finds notes with any word of ``query``; ``None`` if it has no words.

    Each term is an FTS5 string (``"word"``); a CJK pair becomes a phrase of its two characters
    (``"喝 茶"``). Terms contain only letters and digits, so no FTS5 syntax survives; notes with more of the
    words, and rarer ones, rank first (bm25).
    """
    terms = query_terms(query)
    if not terms:
        return None
    quoted = []
    for term in terms:
        if _CJK_CHAR.match(term):
            term = " ".join(term)
        quoted.append('"' + term.replace('"', '""') + '"')
    return " OR ".join(quoted)
