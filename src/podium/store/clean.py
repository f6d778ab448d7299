r"""What every text column gets before the store writes it: known secrets scrubbed, valid UTF-8.

Secrets (:mod:`podium.secrets`): exact known values are replaced by their ``[REDACTED:NAME]`` marker in
every column; error texts also lose what merely looks like a credential. JSON columns are scrubbed
structurally (:func:`podium.secrets.scrub_json`), so they stay valid JSON.

UTF-8: SQLite stores UTF-8, and a Python string can hold lone surrogates that have no UTF-8 form (an
argument or file decoded with ``surrogateescape``). Binding one raises ``UnicodeEncodeError`` in the middle
of a run. JSON columns then escape them (``\udcff``), which loads back to the very same string; plain
text columns (titles, previews, errors) get U+FFFD instead.
"""

from __future__ import annotations

import json
import re

from podium.secrets import scrub, scrub_json

__all__ = ["error_text", "json_text", "plain_text"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8_safe(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def plain_text(value: str) -> str:
    """A text column (title, preview, model): secrets scrubbed, valid UTF-8."""
    return _utf8_safe(scrub(value))


def error_text(value: str) -> str:
    """An error or reason column: secrets and credential-like values scrubbed, valid UTF-8."""
    return _utf8_safe(scrub(value, shapes=True))


def json_text(document: str) -> str:
    """A JSON column: secrets scrubbed from its strings; lone surrogates kept, escaped (lossless)."""
    document = scrub_json(document)
    if document.isascii():
        return document
    try:
        document.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(json.loads(document))  # ASCII JSON: surrogates become \udcxx escapes
    return document
