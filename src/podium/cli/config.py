"""Which model the CLI uses, and where its settings come from.

Order: ``--model`` > ``PODIUM_MODEL`` > ``model = "..."`` in the config file
(``$PODIUM_CONFIG`` or ``<user config dir>/podium/config.toml``) > the first provider whose API key is
set > the embedded local model (no key, no network).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["KEY_DEFAULTS", "ModelChoice", "choose_model", "config_path", "load_config", "memory_config"]

# Environment variable -> (provider, default model); every provider needs only Podium's base install
KEY_DEFAULTS: list[tuple[str, str, str]] = [
    ("ANTHROPIC_API_KEY", "anthropic", "anthropic:claude-sonnet-4-5"),
    ("OPENAI_API_KEY", "openai", "openai:gpt-4o-mini"),
    ("GEMINI_API_KEY", "google", "google:gemini-2.5-flash"),
    ("GOOGLE_API_KEY", "google", "google:gemini-2.5-flash"),
    ("MISTRAL_API_KEY", "mistral", "mistral:mistral-small-latest"),
    ("GROQ_API_KEY", "groq", "groq:llama-3.3-70b-versatile"),
    ("DEEPSEEK_API_KEY", "deepseek", "deepseek:deepseek-chat"),
    ("OPENROUTER_API_KEY", "openrouter", "openrouter:openai/gpt-4o-mini"),
    ("XAI_API_KEY", "xai", "xai:grok-3-mini"),
    ("CO_API_KEY", "cohere", "cohere:command-r-plus"),
    ("COHERE_API_KEY", "cohere", "cohere:command-r-plus"),
]

DEFAULT_LOCAL = "local:"


def config_path() -> Path:
    """The config file path (it may not exist)."""
    env = os.environ.get("PODIUM_CONFIG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("podium")) / "config.toml"


def load_config() -> dict[str, Any]:
    """The config file's contents, or ``{}`` when there is none; a file that cannot be used is a ``UserError``.

    The error names the file, says what is wrong with it (not UTF-8, not valid TOML, unreadable, a
    ``model`` that is not a string) and how to fix it.
    """
    from podium.exceptions import UserError

    path = config_path()
    try:
        if not path.exists():
            return {}
        if path.is_dir():
            raise UserError(f"the config file {path} is a directory; it should be a TOML file (or set PODIUM_CONFIG)")
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(
            f"cannot read the config file {path}: {exc.strerror or exc}; fix it or set PODIUM_CONFIG"
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(
            f"the config file {path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
            "TOML files must be UTF-8: save it as UTF-8"
        ) from exc
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(
            f'the config file {path} is not valid TOML: {exc}; fix it, e.g. model = "openai:gpt-4o"'
        ) from exc
    model = data.get("model")
    if model is not None and not (isinstance(model, str) and model.strip()):
        raise UserError(f'in the config file {path}, model must be a non-empty string such as "openai:gpt-4o"')
    return data


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The model to use and why."""

    spec: str
    """``provider:model``."""
    source: str
    """Where the choice came from (for the start-up line)."""

    @property
    def is_embedded_default(self) -> bool:
        """Whether this is the small default embedded model."""
        return self.spec in ("local:", "local:smollm2", "local:default")


def choose_model(option: str | None) -> ModelChoice:
    """Pick the model per the order in the module docstring."""
    if option:
        return ModelChoice(option, "--model")
    env = os.environ.get("PODIUM_MODEL")
    if env:
        return ModelChoice(env, "PODIUM_MODEL")
    configured = load_config().get("model")
    if isinstance(configured, str) and configured:
        return ModelChoice(configured, str(config_path()))
    for variable, _, default in KEY_DEFAULTS:
        if os.environ.get(variable):
            return ModelChoice(default, f"{variable} is set")
    return ModelChoice(DEFAULT_LOCAL, "no API key set")


_MEMORY_KEYS: dict[str, tuple[type, str]] = {
    "enabled": (bool, "true or false"),
    "user": (str, 'a name such as "ada"'),
    "project": (str, 'a key such as "my-app"'),
    "recall": (int, "a number of notes from 0 to 50"),
    "db": (str, 'a file path such as "~/notes.db"'),
}


def memory_config() -> dict[str, Any]:
    """The ``[memory]`` table of the config file (``{}`` when absent), checked key by key.

    ``enabled`` (bool: memory on without ``--memory``), ``user`` and ``project`` (the scope keys),
    ``recall`` (notes recalled into the instructions, 0-50) and ``db`` (a file of its own for the notes).
    """
    from podium.exceptions import UserError

    table = load_config().get("memory", {})
    path = config_path()
    if not isinstance(table, dict):
        raise UserError(f"in the config file {path}, memory must be a table: [memory] with enabled = true ...")
    for key, value in table.items():
        if key not in _MEMORY_KEYS:
            raise UserError(
                f"in the config file {path}, [memory] has an unknown key {key!r}; known: {', '.join(_MEMORY_KEYS)}"
            )
        kind, example = _MEMORY_KEYS[key]
        bad = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        if not bad and kind is str:
            bad = not value.strip()
        if not bad and key == "recall":
            bad = not 0 <= value <= 50
        if bad:
            raise UserError(f"in the config file {path}, [memory] {key} must be {example}, not {value!r}")
    return dict(table)
