"""Rules for sending a conversation to a provider other than the one that produced parts of it.

Every provider module prepares history with these functions, so that switching provider
mid-conversation behaves the same everywhere:

* **Thinking** from the same provider is sent back verbatim (signatures, encrypted content).
  Thinking from another provider is dropped, or sent as plain text with
  ``ModelSettings(foreign_thinking="text")``. Redacted/encrypted thinking from another provider is
  always dropped (nobody else can read it).
* **Provider parts** (server tool items and other vendor-only data) go only to their provider.
* **provider_details** of a part or message are used only by the provider that wrote them.
* **Tool-call ids** are kept when the target accepts them, else mapped deterministically
  (:func:`map_tool_call_id`) so a call and its result always get the same new id and ids stay unique.
* **Failed tool results** (``ToolResult.is_error``) use the target's error flag where it has one
  (Anthropic ``is_error``, Bedrock ``status: "error"``, Gemini's ``error`` key); on the others the text
  starts with ``Error:`` (:func:`error_text`), so the model still sees that the call failed.
* An assistant turn with **nothing left to send** (another provider's turn that held only thinking) is
  left out rather than sent empty.
* **Media** a target's API cannot take at all (DeepSeek: images and files; Groq, Ollama's native API,
  Cohere: PDFs) raise :class:`~podium.exceptions.UserError` before anything is sent.

docs/switching.md lists the rules per provider, with the provider x provider test results.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Literal

from podium.messages import Message, Part, ProviderPart, Text, Thinking

__all__ = ["error_text", "map_tool_call_id", "prepare_parts", "same_provider"]


def same_provider(message: Message, provider: str, family: Sequence[str] = ()) -> bool:
    """Whether ``message`` was produced by ``provider`` (or a provider of the same wire ``family``)."""
    return message.provider is not None and (message.provider == provider or message.provider in family)


def prepare_parts(
    message: Message,
    provider: str,
    *,
    family: Sequence[str] = (),
    foreign_thinking: Literal["drop", "text"] | None = None,
) -> list[Part]:
    """The parts of ``message`` that ``provider`` may receive, after applying the rules above."""
    own = message.role != "assistant" or same_provider(message, provider, family)
    out: list[Part] = []
    for part in message.parts:
        if isinstance(part, Thinking):
            mine = (part.provider is None and own) or part.provider == provider or part.provider in family
            if mine:
                out.append(part)
            elif foreign_thinking == "text" and part.text:
                out.append(Text(f"<thinking>\n{part.text}\n</thinking>"))
        elif isinstance(part, ProviderPart):
            if part.provider == provider or part.provider in family:
                out.append(part)
        else:
            out.append(part)
    return out


def map_tool_call_id(
    call_id: str, *, pattern: str = r"^[a-zA-Z0-9_-]{1,64}$", length: int = 24, alphabet: str = ""
) -> str:
    """``call_id`` if it matches ``pattern``, else a deterministic id derived from it.

    The derived id is ``length`` characters from a hash of the original (alphanumeric, or only from
    ``alphabet`` when given), so a call and its result map to the same id, and distinct ids stay distinct.
    """
    if re.fullmatch(pattern.removeprefix("^").removesuffix("$"), call_id):
        return call_id
    digest = hashlib.sha256(call_id.encode()).hexdigest()
    if alphabet:
        number = int(digest, 16)
        chars = []
        for _ in range(length):
            number, rem = divmod(number, len(alphabet))
            chars.append(alphabet[rem])
        return "".join(chars)
    return digest[:length]


def error_text(text: str) -> str:
    """The text of a failed tool result for an API with no error flag: ``Error: `` in front (once)."""
    return text if text.startswith("Error") else f"Error: {text}"
