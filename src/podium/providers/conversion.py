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
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import Literal

from podium.exceptions import UserError
from podium.messages import Message
from podium.messages import Part
from podium.messages import ProviderPart
from podium.messages import Text
from podium.messages import Thinking
from podium.settings import ModelSettings
from podium.settings import ToolDefinition

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


def role_messages(
    messages: Sequence[Message],
    provider: str,
    foreign_thinking: Literal["drop", "text"] | None,
    user: Callable[[list[Part]], Any],
    assistant: Callable[[list[Part]], dict[str, Any] | None],
    tool: Callable[[list[Part]], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """A chat-style API's messages, one role at a time (Mistral's and Cohere's wire formats).

    Each message's parts are prepared for ``provider`` (:func:`prepare_parts`); a system message is its text;
    a user message's content is ``user(parts)``; an assistant message is ``assistant(parts)`` (``None``: left
    out, as when it has nothing to send); a tool message becomes the messages ``tool(parts)`` returns.
    """
    wire: list[dict[str, Any]] = []
    for message in messages:
        parts = prepare_parts(message, provider, foreign_thinking=foreign_thinking)
        if message.role == "system":
            wire.append({"role": "system", "content": "".join(p.text for p in parts if isinstance(p, Text))})
        elif message.role == "user":
            wire.append({"role": "user", "content": user(parts)})
        elif message.role == "assistant":
            item = assistant(parts)
            if item is not None:
                wire.append(item)
        else:
            wire.extend(tool(parts))
    return wire


def offered_tools(tools: Sequence[ToolDefinition] | None, choice: str | None) -> list[ToolDefinition]:
    """The tools a request offers: all of them, or the one a ``tool_choice`` names (an unknown name is an error)."""
    offered = list(tools or ())
    if choice not in (None, "auto", "none", "required"):
        offered = [t for t in offered if t.name == choice]
        if not offered:
            raise UserError(f"tool_choice={choice!r} names no tool given to this request")
    return offered


def append_turn(wire: list[dict[str, Any]], message: Message, blocks: list[dict[str, Any]]) -> None:
    """Add ``message``'s content ``blocks`` to ``wire`` as a user or assistant turn (Anthropic, Bedrock).

    APIs that alternate user and assistant turns take a tool message as a user turn, and consecutive turns of
    one role as one: the blocks then join the last turn. Nothing is added for no blocks.
    """
    if not blocks:
        return
    role = "assistant" if message.role == "assistant" else "user"
    if wire and wire[-1]["role"] == role:
        wire[-1]["content"].extend(blocks)
    else:
        wire.append({"role": role, "content": blocks})


def sampling(settings: ModelSettings, **names: str) -> dict[str, Any]:
    """The sampling settings that are set, under the wire's names: ``sampling(s, max_tokens="num_predict")``.

    Each keyword names a :class:`~podium.settings.ModelSettings` field (``temperature``, ``top_p``,
    ``max_tokens``, ``stop``, ``seed`` ...) and the body field it becomes; unset ones are left out and
    ``stop`` is sent as a list.
    """
    out: dict[str, Any] = {}
    for field, wire in names.items():
        value = getattr(settings, field)
        if value is not None:
            out[wire] = list(value) if field == "stop" else value
    return out
