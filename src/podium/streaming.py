"""Streaming deltas and the builder that turns them into a :class:`~podium.messages.ModelResponse`.

Provider modules feed wire chunks into a :class:`ResponseBuilder`; it returns the small delta
events that the agent forwards to the user, and at the end builds the same ``ModelResponse``
that the non-streaming path returns. Pure data, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias, cast

from podium.messages import FinishReason, JsonDict, ModelResponse, Part, Redaction, Text, Thinking, ToolCall
from podium.usage import CostValue, Usage

__all__ = [
    "ResponseBuilder",
    "StreamDelta",
    "StreamEvent",
    "TextDelta",
    "ThinkingDelta",
    "ToolCallDelta",
    "parse_tool_args",
]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of text for the response part at ``index``."""

    index: int
    """Position of the part in the response."""
    text: str
    """The new text."""
    kind: ClassVar[Literal["text_delta"]] = "text_delta"


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """A piece of reasoning (or of its signature) for the part at ``index``."""

    index: int
    """Position of the part in the response."""
    text: str = ""
    """The new reasoning text."""
    signature: str | None = None
    """A piece of the signature, when the provider streams one."""
    kind: ClassVar[Literal["thinking_delta"]] = "thinking_delta"


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call for the part at ``index``: its id and name (first), then argument JSON."""

    index: int
    """Position of the part in the response."""
    id: str | None = None
    """Call id, when this delta carries it."""
    name: str | None = None
    """Tool name, when this delta carries it."""
    args_delta: str = ""
    """A piece of the argument JSON."""
    kind: ClassVar[Literal["tool_call_delta"]] = "tool_call_delta"


StreamDelta: TypeAlias = TextDelta | ThinkingDelta | ToolCallDelta
StreamEvent: TypeAlias = TextDelta | ThinkingDelta | ToolCallDelta | ModelResponse
"""What a model's ``stream()`` yields: deltas, then exactly one final ``ModelResponse``."""


def parse_tool_args(raw: str | None) -> tuple[JsonDict, str | None]:
    """Parse a tool call's argument string: ``(args, None)`` when it is a JSON object, else ``({}, raw)``."""
    if raw is None or not raw.strip():
        return {}, None
    try:
        value: Any = json.loads(raw)
    except ValueError:
        return {}, raw
    if isinstance(value, dict):
        return cast(JsonDict, value), None
    return {}, raw


class _Acc:
    __slots__ = (
        "args",
        "details",
        "encrypted",
        "id",
        "kind",
        "name",
        "part",
        "provider",
        "redaction",
        "signature",
        "text",
    )

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.text: list[str] = []
        self.args: list[str] = []
        self.signature: list[str] = []
        self.id: str | None = None
        self.name: str | None = None
        self.encrypted: str | None = None
        self.provider: str | None = None
        self.details: JsonDict | None = None
        self.redaction: Redaction | None = None
        self.part: Part | None = None


class ResponseBuilder:
    """Accumulates streamed pieces by part index; :meth:`build` gives the final response.

    Every method that receives user-visible content returns the delta event to forward.
    """

    __slots__ = ("_acc", "_order")

    def __init__(self) -> None:
        self._acc: dict[int, _Acc] = {}
        self._order: list[int] = []

    def _get(self, index: int, kind: str) -> _Acc:
        acc = self._acc.get(index)
        if acc is None:
            acc = self._acc[index] = _Acc(kind)
            self._order.append(index)
        return acc

    def text(self, index: int, text: str) -> TextDelta:
        """Add text to the text part at ``index``."""
        self._get(index, "text").text.append(text)
        return TextDelta(index, text)

    def thinking(
        self,
        index: int,
        text: str = "",
        signature: str | None = None,
        *,
        encrypted: str | None = None,
        id: str | None = None,
        provider: str | None = None,
        redaction: Redaction | None = None,
    ) -> ThinkingDelta:
        """Add reasoning text and/or signature to the thinking part at ``index``.

        ``encrypted`` replaces what the part had; ``redaction`` marks the part redacted (it is dropped if
        text arrives, since a block with text is not redacted).
        """
        acc = self._get(index, "thinking")
        if text:
            acc.text.append(text)
        if signature:
            acc.signature.append(signature)
        if encrypted is not None:
            acc.encrypted = encrypted
        if id is not None:
            acc.id = id
        if provider is not None:
            acc.provider = provider
        if redaction is not None:
            acc.redaction = redaction
        return ThinkingDelta(index, text, signature)

    def tool_call(
        self, index: int, *, id: str | None = None, name: str | None = None, args_delta: str = ""
    ) -> ToolCallDelta:
        """Add to the tool call at ``index``: id and name when first known, then argument JSON pieces."""
        acc = self._get(index, "tool_call")
        if id:
            acc.id = id
        if name:
            acc.name = name
        if args_delta:
            acc.args.append(args_delta)
        return ToolCallDelta(index, id, name, args_delta)

    def part(self, index: int, part: Part) -> None:
        """Set a complete part at ``index`` (redacted thinking, provider items ...)."""
        acc = self._get(index, "part")
        acc.part = part

    def details(self, index: int, details: JsonDict) -> None:
        """Merge provider extras into the part at ``index``."""
        acc = self._acc.get(index)
        if acc is None:
            raise KeyError(f"no part at index {index}")
        acc.details = {**(acc.details or {}), **details}

    def has_part(self, index: int) -> bool:
        """Whether a part was started at ``index``."""
        return index in self._acc

    def partial_parts(self) -> list[Part]:
        """The text parts received so far (used when a stream is cancelled mid-way)."""
        return [p for p in self._parts() if isinstance(p, Text)]

    def _parts(self) -> list[Part]:
        parts: list[Part] = []
        for index in sorted(self._order):
            acc = self._acc[index]
            if acc.kind == "part":
                assert acc.part is not None
                parts.append(acc.part)
            elif acc.kind == "text":
                parts.append(Text("".join(acc.text), acc.details))
            elif acc.kind == "thinking":
                text = "".join(acc.text)
                parts.append(
                    Thinking(
                        text,
                        "".join(acc.signature) or None,
                        acc.encrypted,
                        acc.provider,
                        acc.id,
                        acc.details,
                        None if text else acc.redaction,
                    )
                )
            else:
                args, raw = parse_tool_args("".join(acc.args))
                parts.append(ToolCall(acc.id or "", acc.name or "", args, raw, acc.details))
        return parts

    def build(
        self,
        *,
        model: str | None = None,
        provider: str | None = None,
        finish_reason: FinishReason | None = None,
        usage: Usage | None = None,
        cost: CostValue = None,
        provider_details: JsonDict | None = None,
    ) -> ModelResponse:
        """The response made of everything received, parts ordered by index."""
        return ModelResponse(
            tuple(self._parts()),
            model=model,
            provider=provider,
            finish_reason=finish_reason,
            usage=usage or Usage(),
            cost=cost,
            provider_details=provider_details,
        )
