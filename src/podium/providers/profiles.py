"""What a model can do: a capability profile per model."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelProfile"]


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """Capabilities of a model, used by the loop (output mode) and by users (context window)."""

    context_window: int | None = None
    """Maximum prompt plus output tokens, when known."""
    max_output_tokens: int | None = None
    """Maximum output tokens, when known."""
    tools: bool = True
    """Accepts tool definitions and returns tool calls."""
    parallel_tool_calls: bool = True
    """May return several tool calls in one message."""
    vision: bool = False
    """Accepts images."""
    files: bool = False
    """Accepts documents such as PDFs."""
    thinking: bool = False
    """Can reason before answering (and return its reasoning)."""
    structured_output: bool = False
    """Supports a native JSON-schema output mode."""
    streaming: bool = True
    """Supports streaming responses."""
    cache_points: bool = False
    """Caches prompts only where the request marks it (:class:`~podium.messages.CachePoint`: Anthropic,
    Claude and Nova on Bedrock); the agent loop then marks the stable prefix of each request."""
