"""Known secrets, and scrubbing them from text before it leaves memory.

Podium knows these secrets:

* the values of the API-key environment variables of its providers (:data:`PROVIDER_KEY_ENV`) and of
  any other variable whose name ends like a credential (``..._API_KEY``, ``..._TOKEN``, ``..._SECRET``,
  ``..._PASSWORD`` ...); the environment is re-read whenever it changes;
* keys passed explicitly (``podium.model("openai:gpt-4o", api_key=...)``);
* the values of tool parameters marked :class:`~podium.tools.schema.Injected`, once a tool got them;
* anything you :func:`register`.

:func:`scrub` replaces each occurrence of a known secret with a marker naming it, such as
``[REDACTED:OPENAI_API_KEY]``. Matching is by exact value (also in its JSON-escaped and percent-encoded
forms); values shorter than :data:`MIN_LENGTH` characters and placeholders such as ``not-needed`` are never
secrets.
With ``shapes=True`` it also replaces what looks like a credential although no one registered it: the
value after ``Authorization: Bearer``, ``x-api-key:``, ``"api_key": "..."`` or ``?key=`` in a URL, and
tokens with well-known key prefixes (``sk-...``, ``AIza...``, ``gsk_...``, ``hf_...``, ``AKIA...`` ...),
each as ``[REDACTED:credential]``. Shapes are used for error texts and logs, never for conversation
content, where they could destroy ordinary text.

Podium scrubs at the boundaries where data leaves memory: every text the SQLite store writes
(:func:`scrub_json` for its JSON columns), every log record of Podium's loggers and of the HTTP and
vendor-SDK loggers it drives (see :func:`install_log_scrubbing`), provider exceptions (message and body)
when they are created, and what the ``podium`` command prints besides the streamed answer.

Example::

    import podium.secrets

    podium.secrets.register(vault.read("db-password"), name="db-password")
    podium.secrets.scrub("connecting with hunter2-very-secret")
    # 'connecting with [REDACTED:db-password]'

Scrubbing costs a comparison of the environment with a snapshot plus one substring search per known
secret (about 0.5 us per secret and kB of text); with no secrets it returns its argument at once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LOGGER_PREFIXES",
    "MARKER",
    "MIN_LENGTH",
    "PROVIDER_KEY_ENV",
    "SecretFilter",
    "contains_secret",
    "install_log_scrubbing",
    "known_names",
    "register",
    "register_env",
    "scrub",
    "scrub_json",
    "scrub_value",
    "unregister",
]

MARKER = "[REDACTED:{name}]"
"""What replaces a secret; ``{name}`` says which secret it was."""

MIN_LENGTH = 8
"""Values shorter than this are never treated as secrets (they would match ordinary text)."""

PROVIDER_KEY_ENV: tuple[str, ...] = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "CO_API_KEY",
    "COHERE_API_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "OPENROUTER_API_KEY",
    "DEEPSEEK_API_KEY",
    "TOGETHER_API_KEY",
    "XAI_API_KEY",
    "VLLM_API_KEY",
    "LLAMACPP_API_KEY",
    "OLLAMA_API_KEY",
    "OPENAI_COMPATIBLE_API_KEY",
)
"""The API-key environment variables Podium's providers read."""

LOGGER_PREFIXES: tuple[str, ...] = (
    "podium",
    "httpx",
    "httpcore",
    "httpx2",
    "httpcore2",
    "openai",
    "anthropic",
    "google_genai",
    "mistralai",
    "groq",
    "cohere",
    "ollama",
    "botocore",
    "urllib3",
)
"""Loggers whose records are scrubbed: Podium's, and the HTTP clients and vendor SDKs that carry the keys."""

_CREDENTIAL_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|TOKEN|ACCESS_TOKEN|AUTH_TOKEN|SECRET|SECRET_KEY|SECRET_ACCESS_KEY|PASSWORD|PASSWD)$",
    re.IGNORECASE,
)
_PLACEHOLDERS = frozenset(
    {"not-needed", "not_needed", "notneeded", "none", "null", "dummy", "changeme", "placeholder", "undefined"}
)
_MAX_AUTOMATIC = 256  # values registered automatically (injected, api_key=) kept; the oldest go first


def _is_secret_value(value: object) -> bool:
    return isinstance(value, str) and len(value.strip()) >= MIN_LENGTH and value.lower() not in _PLACEHOLDERS


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class _Table:
    """The secrets known at one moment: (variant, marker) pairs, longest variant first."""

    pairs: tuple[tuple[str, str], ...]
    names: tuple[str, ...]


class _Registry:
    """Registered values and environment names; builds the table and caches it until something changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, str] = {}  # value -> name, registered by the user (never evicted)
        self.automatic: dict[str, str] = {}  # value -> name, registered by Podium (bounded)
        self.env_names: list[str] = []  # extra variable names from register_env
        self.version = 0
        self.table = _Table((), ())
        self.table_version = -1
        self.env_snapshot: dict[Any, Any] | None = None

    def environment(self) -> Mapping[Any, Any]:
        # os.environ keeps its data in a plain dict (bytes on POSIX): comparing it with a snapshot is far
        # cheaper than reading each variable through os.environ (which encodes and decodes every time).
        data = getattr(os.environ, "_data", None)
        return data if isinstance(data, dict) else dict(os.environ)

    def current(self) -> _Table:
        env = self.environment()
        if self.table_version == self.version and env == self.env_snapshot:
            return self.table
        with self.lock:
            version = self.version
            snapshot = dict(env)
            table = self.build()
            self.table, self.table_version, self.env_snapshot = table, version, snapshot
        return table

    def build(self) -> _Table:
        found: dict[str, str] = {}
        for name in (*PROVIDER_KEY_ENV, *self.env_names):
            value = os.environ.get(name)
            if _is_secret_value(value):
                found.setdefault(str(value), name)
        for name, value in sorted(os.environ.items()):
            if _CREDENTIAL_NAME.search(name) and _is_secret_value(value):
                found.setdefault(value, name)
        for source in (self.values, self.automatic):
            for value, name in source.items():
                found.setdefault(value, name)
        pairs: dict[str, str] = {}
        for value, name in found.items():
            marker = MARKER.format(name=name)
            for variant in _variants(value):
                pairs.setdefault(variant, marker)
        ordered = tuple(sorted(pairs.items(), key=lambda item: -len(item[0])))
        return _Table(ordered, tuple(sorted(set(found.values()))))


def _variants(value: str) -> Iterable[str]:
    """The forms a secret takes in text: as is, escaped inside a JSON string, percent-encoded in a URL."""
    from urllib.parse import quote

    yield value
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield json.dumps(value)[1:-1]
    yield quote(value, safe="")


_registry = _Registry()


def register(value: str, name: str = "secret") -> None:
    """Treat ``value`` as a secret from now on: it is scrubbed as ``[REDACTED:name]``.

    Values shorter than :data:`MIN_LENGTH` characters (or placeholders such as ``not-needed``) are
    ignored: they would match ordinary text.

    Args:
        value: The secret.
        name: What the marker calls it (no secret in it, please).
    """
    if not _is_secret_value(value):
        return
    with _registry.lock:
        if _registry.values.get(value) == name:
            return
        _registry.values[value] = name
        _registry.version += 1


def register_env(name: str) -> None:
    """Treat the value of the environment variable ``name`` as a secret, whenever it is set."""
    with _registry.lock:
        if name not in _registry.env_names:
            _registry.env_names.append(name)
            _registry.version += 1


def unregister(value: str) -> None:
    """Stop treating ``value`` as a secret (a value from the environment stays one while it is set)."""
    with _registry.lock:
        removed = _registry.values.pop(value, None) is not None
        removed = _registry.automatic.pop(value, None) is not None or removed
        if removed:
            _registry.version += 1


def register_automatic(value: object, name: str) -> None:
    """Register a value Podium was handed (an ``api_key=``, an injected tool parameter); strings only.

    Cheap when the value is already known. The newest 256 such values are kept: a server with many
    sessions would otherwise grow the table without bound, and scrubbing costs about 0.5 us per secret
    and kB of text. Values you :func:`register` are never forgotten.
    """
    if not _is_secret_value(value):
        return
    text = str(value)
    if text in _registry.automatic or text in _registry.values:
        return
    with _registry.lock:
        _registry.automatic[text] = name
        while len(_registry.automatic) > _MAX_AUTOMATIC:
            del _registry.automatic[next(iter(_registry.automatic))]
        _registry.version += 1


def known_names() -> list[str]:
    """The names of the secrets known now (never their values)."""
    return list(_registry.current().names)


# --------------------------------------------------------------------------- scrubbing

_CREDENTIAL = "[REDACTED:credential]"
_TOKEN = r"[A-Za-z0-9._~+/=-]"
_SHAPES = re.compile(
    # a header or field that carries a credential, with its value
    r"(?P<field>\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?"
    r"|\b(?:x-api-key|x-goog-api-key|api[-_]?key|access[-_]token|auth[-_]token|refresh[-_]token|client[-_]secret"
    r"|secret[-_]access[-_]key|secret[-_]key|session[-_]token|password)\b[\"']?\s*[:=]\s*[\"']?"
    r"|[?&](?:key|api_key|apikey|access_token|token)="
    r"|\bbearer\s+)"
    rf"(?P<value>{_TOKEN}{{8,}})"
    # tokens with the prefixes of well-known keys
    r"|(?P<token>\b(?:sk-(?:proj-|ant-|or-v1-|svcacct-)?[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35}"
    r"|gsk_[A-Za-z0-9]{20,}|xai-[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9-]{10,}|nvapi-[A-Za-z0-9_-]{20,}))",
    re.IGNORECASE,
)


def _shape(match: re.Match[str]) -> str:
    if match.group("token") is not None:
        return _CREDENTIAL
    return match.group("field") + _CREDENTIAL


def scrub(text: str, *, shapes: bool = False) -> str:
    """``text`` with every known secret replaced by its marker (the same object when nothing was found).

    Args:
        text: Any text.
        shapes: Also replace what looks like a credential (see the module docstring); for error texts and
            logs, not for conversation content.
    """
    for variant, marker in _registry.current().pairs:
        if variant in text:
            text = text.replace(variant, marker)
    if shapes and _SHAPES.search(text):
        text = _SHAPES.sub(_shape, text)
    return text


def contains_secret(text: str) -> bool:
    """Whether ``text`` holds a known secret (exact values only)."""
    return any(variant in text for variant, _ in _registry.current().pairs)


def scrub_value(value: Any, *, shapes: bool = False) -> Any:
    """``value`` with secrets scrubbed from every string in it (dicts, lists, tuples, bytes), else as is."""
    if isinstance(value, str):
        return scrub(value, shapes=shapes)
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", "surrogateescape")
        clean = scrub(text, shapes=shapes)
        return value if clean is text else clean.encode("utf-8", "surrogateescape")
    if isinstance(value, Mapping):
        return {scrub_value(k, shapes=shapes): scrub_value(v, shapes=shapes) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v, shapes=shapes) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub_value(v, shapes=shapes) for v in value)
    return value


def scrub_json(text: str, *, shapes: bool = False) -> str:
    """A JSON document with secrets scrubbed from its strings; it stays valid JSON.

    The common case (no known secret in ``text``) costs one substring search per secret. When one is
    found the document is parsed and rebuilt, so that a replacement never lands on JSON syntax.
    """
    if not (contains_secret(text) or (shapes and _SHAPES.search(text))):
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return scrub(text, shapes=shapes)
    return json.dumps(scrub_value(data, shapes=shapes), ensure_ascii=False)


# --------------------------------------------------------------------------- logging


def _scrub_record(record: logging.LogRecord) -> None:
    """Scrub one record in place: its message (formatted with its args) and its traceback."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it to logging's own error handling
        return
    clean = scrub(message, shapes=True)
    if clean is not message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        clean = scrub(text, shapes=True)
        if clean is not text:
            record.exc_text = clean
    if record.stack_info:
        record.stack_info = scrub(record.stack_info, shapes=True)


def _wanted(name: object) -> bool:
    if not isinstance(name, str):  # logging.makeLogRecord makes records with no name first
        return False
    return any(name == prefix or name.startswith(prefix + ".") for prefix in LOGGER_PREFIXES)


class SecretFilter(logging.Filter):
    """A logging filter that scrubs the records it sees; add it to your own handlers if you like.

    Podium already scrubs the records of its loggers when they are made (:func:`install_log_scrubbing`);
    this filter is for handlers that also receive other loggers' records, or when another library
    replaced the log record factory.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub ``record`` and let it through."""
        _scrub_record(record)
        return True


_installed: list[bool] = []


def install_log_scrubbing() -> None:
    """Scrub every log record of :data:`LOGGER_PREFIXES` loggers as it is made (done when this module loads).

    :mod:`podium.exceptions` imports this module, and so does every part of Podium that can log.

    A filter on the ``podium`` logger alone would not do: a logger's filters do not apply to its children's
    records. The record factory does, and it chains to whatever factory was installed before; the
    ``podium`` logger also gets a :class:`SecretFilter`.
    """
    with _registry.lock:
        if _installed:
            return
        _installed.append(True)
        previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _wanted(record.name):
            _scrub_record(record)
        return record

    logging.setLogRecordFactory(factory)
    logging.getLogger("podium").addFilter(SecretFilter())  # records of "podium" itself, should the factory be replaced


install_log_scrubbing()
