"""Counting the tokens of a request before it is sent: exact where the model's tokenizer is at hand, else estimated.

A model whose tokenizer runs offline gives a :class:`TokenCounter` through :meth:`Model.token_counter
<podium.providers.base.Model.token_counter>` (the embedded llama.cpp model counts its rendered prompt
exactly). For every other model the count is :func:`estimate_request`: UTF-8 bytes of the text parts over
four, fixed costs for images and files, plus the tool definitions. The agent loop scales that estimate by
the ratio between the ``input`` tokens the provider reported for the run's earlier requests and its own
estimate of them (see :class:`Calibration`), so a run's counts track the provider's tokenizer after one
request.

The agent loop caches estimates per message object for the length of a run (messages are immutable), so
counting a long history again costs a dictionary lookup per message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol
from typing import runtime_checkable

from podium.messages import CachePoint
from podium.messages import File
from podium.messages import Image
from podium.messages import Message
from podium.messages import ProviderPart
from podium.messages import Text
from podium.messages import Thinking
from podium.messages import ToolCall
from podium.messages import ToolResult
from podium.settings import ToolDefinition

__all__ = [
    "IMAGE_TOKENS",
    "MAX_RATIO",
    "MESSAGE_OVERHEAD",
    "MIN_RATIO",
    "Calibration",
    "TokenCounter",
    "estimate_message",
    "estimate_request",
    "estimate_tools",
]

IMAGE_TOKENS = 1_000
"""Estimated tokens of one image (providers charge 85 to ~1,600 depending on size and detail)."""
MESSAGE_OVERHEAD = 4
"""Estimated tokens of a message's framing (role markers, separators)."""
MIN_RATIO = 0.8
"""Lowest calibration ratio (provider tokens per estimated token) believed."""
MAX_RATIO = 4.0
"""Highest calibration ratio believed."""
_FILE_BYTES_PER_TOKEN = 50
"""A document (PDF) is estimated at one token per 50 bytes, at least 500 tokens."""


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens of a request exactly, with the model's own tokenizer."""

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[ToolDefinition]) -> int:
        """Tokens the prompt of ``messages`` offering ``tools`` takes."""
        ...


def _text_tokens(text: str) -> int:
    if text.isascii():
        return (len(text) + 3) // 4
    return (len(text.encode("utf-8")) + 3) // 4


def _part_tokens(part: object) -> int:
    if isinstance(part, Text):
        return _text_tokens(part.text)
    if isinstance(part, ToolResult):
        return 8 + _text_tokens(part.name) + sum(_part_tokens(p) for p in part.content)
    if isinstance(part, ToolCall):
        args = part.raw_args if part.raw_args is not None else json.dumps(part.args, ensure_ascii=False)
        return 8 + _text_tokens(part.name) + _text_tokens(args)
    if isinstance(part, Thinking):
        return _text_tokens(part.text) + _text_tokens(part.signature or "") // 2 + _text_tokens(part.encrypted or "")
    if isinstance(part, Image):
        return IMAGE_TOKENS
    if isinstance(part, File):
        size = len(part.data) if part.data is not None else 0
        return max(500, size // _FILE_BYTES_PER_TOKEN)
    if isinstance(part, ProviderPart):
        return _text_tokens(json.dumps(part.data, ensure_ascii=False, default=str))
    if isinstance(part, CachePoint):
        return 0
    return 0


def estimate_message(message: Message) -> int:
    """Estimated tokens of one message."""
    return MESSAGE_OVERHEAD + sum(_part_tokens(p) for p in message.parts)


def estimate_tools(tools: Sequence[ToolDefinition]) -> int:
    """Estimated tokens of the tool definitions offered to the model."""
    total = 0
    for tool in tools:
        schema = json.dumps(tool.parameters, ensure_ascii=False, separators=(",", ":"))
        total += 10 + _text_tokens(tool.name) + _text_tokens(tool.description or "") + _text_tokens(schema)
    return total


def estimate_request(messages: Sequence[Message], tools: Sequence[ToolDefinition] = ()) -> int:
    """Estimated tokens of a request's prompt: its messages and tool definitions (not calibrated)."""
    return sum(estimate_message(m) for m in messages) + estimate_tools(tools)


class Calibration:
    """Learns how the provider's token counts relate to the estimate, from the run's reported usage.

    After each response the loop gives :meth:`observe` the estimate it made for that request and the
    ``input_tokens`` the provider reported; :meth:`scale` then turns a raw estimate into the provider's
    units. Before any report the estimate is scaled by ``initial`` (a little over one: byte counts over four
    undercount code and JSON, and overcounting is the safe side). Ratios are kept between 0.8 and 4: real
    tokenizers give 0.8 to 1.6 of the estimate (English prose the least, CJK and code the most), so a lower
    ratio means the reported usage does not cover the whole prompt (a proxy or a test double that counts
    only part of it) and is not trusted to shrink the count.
    """

    __slots__ = ("observed", "ratio")

    def __init__(self, initial: float = 1.15) -> None:
        """Start from ``initial`` as the ratio of provider tokens to estimated tokens."""
        self.ratio = initial
        """Provider tokens per estimated token."""
        self.observed = 0
        """Responses whose usage calibrated the ratio."""

    def observe(self, estimated: int, reported: int) -> None:
        """Learn from one request: the raw ``estimated`` tokens and the ``reported`` input tokens."""
        if estimated <= 0 or reported <= 0:
            return
        ratio = min(MAX_RATIO, max(MIN_RATIO, reported / estimated))
        # the latest request weighs most (the prompt's mix of text, code and tool output drifts over a run)
        self.ratio = ratio if self.observed == 0 else 0.3 * self.ratio + 0.7 * ratio
        self.observed += 1

    def scale(self, estimated: int) -> int:
        """``estimated`` in the provider's tokens."""
        return int(estimated * self.ratio + 0.5)
