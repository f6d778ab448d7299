"""What a model request is configured with: portable settings, tool definitions, output schema.

Pure data; each provider module maps these to its wire format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeAlias

__all__ = ["ModelSettings", "OutputSchema", "ThinkingSetting", "ToolChoice", "ToolDefinition"]

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
    """Request timeout in seconds."""
    foreign_thinking: Literal["drop", "text"] | None = None
    """What to do with reasoning produced by *another* provider when switching mid-conversation:
    ``drop`` it (the default) or send it as plain text."""
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=_no_extra)
    """Vendor-only settings by provider name, passed through to that provider's request."""

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
