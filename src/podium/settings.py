"""What a model request is configured with: portable settings, tool definitions, output schema.

Pure data; each provider module maps these to its wire format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeAlias

__all__ = ["ModelSettings", "OutputSchema", "ThinkingSetting", "Timeouts", "ToolChoice", "ToolDefinition"]

ToolChoice: TypeAlias = Literal["auto", "required", "none"] | str
"""``auto``, ``required`` (must call some tool), ``none``, or a tool name to force that tool."""

ThinkingSetting: TypeAlias = bool | Literal["minimal", "low", "medium", "high"] | int
"""``True``/``False`` turns reasoning on/off, an effort level, or a token budget."""


def _no_extra() -> Mapping[str, Mapping[str, Any]]:
    return {}


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSettings:
    """Portable request settings. ``None`` means "the provider's default".

    Vendor-only settings go in ``extra``, namespaced by provider, and reach only that provider:
    ``ModelSettings(extra={"anthropic": {"top_k": 5}})``.
    """

    temperature: float | None = None
    """Sampling temperature."""
    max_tokens: int | None = None
    """Maximum number of tokens to generate."""
    top_p: float | None = None
    """Nucleus sampling."""
    stop: Sequence[str] | None = None
    """Stop sequences."""
    seed: int | None = None
    """Sampling seed, where the provider supports one."""
    tool_choice: ToolChoice | None = None
    """Whether and which tool the model must call."""
    parallel_tool_calls: bool | None = None
    """Whether the model may call several tools in one message."""
    thinking: ThinkingSetting | None = None
    """Reasoning: on/off, effort, or a token budget."""
    timeout: float | None = None
    """Total time one request may take, in seconds, from sending it to the last byte of the answer
    (default 900; see :class:`Timeouts`). The connect and read timeouts are never longer than this."""
    connect_timeout: float | None = None
    """Longest wait to connect to the provider, in seconds (default 10)."""
    read_timeout: float | None = None
    """Longest silence while a streamed answer arrives, in seconds, before the first byte and between
    two bytes (default 120). A non-streamed answer comes whole, so waiting for it is bounded by ``timeout``."""
    foreign_thinking: Literal["drop", "text"] | None = None
    """What to do with reasoning produced by *another* provider when switching mid-conversation:
    ``drop`` it (the default) or send it as plain text."""
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=_no_extra)
    """Vendor-only settings by provider name, passed through to that provider's request."""

    def __post_init__(self) -> None:
        for name in ("timeout", "connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
                from podium.exceptions import UserError

                raise UserError(f"ModelSettings.{name}={value!r}: give a number of seconds greater than 0 (or None)")

    def merge(self, other: ModelSettings | None) -> ModelSettings:
        """These settings overridden by the fields ``other`` sets (``extra`` merged per provider)."""
        if other is None:
            return self
        values: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            values[f.name] = theirs if theirs is not None else mine
        extra: dict[str, Mapping[str, Any]] = dict(self.extra)
        for provider, opts in other.extra.items():
            extra[provider] = {**extra.get(provider, {}), **opts}
        return ModelSettings(**values, extra=extra)

    def for_provider(self, provider: str) -> Mapping[str, Any]:
        """The vendor-only settings for ``provider``."""
        return self.extra.get(provider, {})


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """How long a model request may wait, in seconds; every provider applies them the same way.

    Set them per model (``podium.model("openai:gpt-4o", timeouts=Timeouts(read=300))`` or the model
    class's ``timeouts=`` argument) or per agent or request with :class:`ModelSettings` (``timeout``,
    ``connect_timeout``, ``read_timeout``), which win over the model's. A request that runs out of time
    raises :class:`~podium.exceptions.ProviderTimeoutError` (retried by the model's retry policy while no
    data has reached the caller).
    """

    connect: float = 10.0
    """Longest wait to open the connection (TCP and TLS)."""
    read: float = 120.0
    """Longest silence while a streamed answer arrives: before the first byte and between two bytes.
    Reasoning models can think for a while before they send anything; raise it for long silent thinking."""
    total: float = 900.0
    """Longest time for the whole request, from sending to the last byte. A non-streamed answer arrives
    whole after the model has finished, so waiting for it is bounded by this, not by ``read``."""

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                from podium.exceptions import UserError

                raise UserError(f"Timeouts.{name}={value!r}: give a number of seconds greater than 0")

    def merge(self, settings: ModelSettings | None) -> Timeouts:
        """These timeouts, overridden by the ones ``settings`` sets, with connect and read capped at the total."""
        connect, read, total = self.connect, self.read, self.total
        if settings is not None:
            connect = settings.connect_timeout if settings.connect_timeout is not None else connect
            read = settings.read_timeout if settings.read_timeout is not None else read
            total = settings.timeout if settings.timeout is not None else total
        if connect <= total and read <= total and (connect, read, total) == (self.connect, self.read, self.total):
            return self
        return Timeouts(connect=min(connect, total), read=min(read, total), total=total)


DEFAULT_TIMEOUTS = Timeouts()
"""The timeouts a model uses unless told otherwise: connect 10 s, read 120 s, total 15 min."""


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool as the model sees it."""

    name: str
    """Name the model calls it by."""
    description: str
    """What it does."""
    parameters: Mapping[str, Any]
    """JSON schema of the arguments (an object schema, self-contained)."""
    strict: bool | None = None
    """Ask the provider for strict schema adherence, where supported."""


@dataclass(frozen=True, slots=True)
class OutputSchema:
    """A structured output the model must produce (native JSON-schema mode where the provider has it)."""

    name: str
    """A name for the schema (OpenAI requires one)."""
    schema: Mapping[str, Any]
    """JSON schema of the output (an object schema)."""
    description: str | None = None
    """What the output is."""
    strict: bool = True
    """Ask for strict schema adherence, where supported."""
