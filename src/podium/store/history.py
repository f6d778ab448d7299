"""Pure functions over a stored history: repair of unanswered tool calls, exchanges, previews."""

from __future__ import annotations

from collections.abc import Sequence

from podium.messages import Message, ToolCall

__all__ = ["exchange_start", "interrupted_message", "preview_text", "repair_history", "unanswered_calls"]

PREVIEW_CHARS = 200
"""Characters of text kept per message for listings."""


def unanswered_calls(messages: Sequence[Message], index: int) -> list[ToolCall]:
    """Tool calls of ``messages[index]`` that the tool messages right after it leave unanswered."""
    calls = messages[index].tool_calls
    if not calls:
        return []
    answered: set[str] = set()
    for message in messages[index + 1 :]:
        if message.role != "tool":
            break
        answered.update(r.call_id for r in message.tool_results)
    return [c for c in calls if c.id not in answered]


def interrupted_message(calls: Sequence[ToolCall]) -> Message:
    """A tool message answering ``calls`` with interrupted error results."""
    from podium.tools.executor import interrupted_result  # imported when needed: it pulls in pydantic

    return Message("tool", tuple(interrupted_result(c) for c in calls))


def repair_history(messages: Sequence[Message]) -> list[Message]:
    """``messages`` with every unanswered tool call given an interrupted error result.

    The results go in one tool message placed after the tool messages (if any) that follow the call's
    assistant message, so the history is valid to send to any provider and to continue from.
    """
    out: list[Message] = []
    n = len(messages)
    i = 0
    while i < n:
        message = messages[i]
        out.append(message)
        i += 1
        if message.role != "assistant" or not message.tool_calls:
            continue
        missing = unanswered_calls(messages, i - 1)
        while i < n and messages[i].role == "tool":
            out.append(messages[i])
            i += 1
        if missing:
            out.append(interrupted_message(missing))
    return out


def exchange_start(roles: Sequence[str], runs: Sequence[str | None]) -> int | None:
    """Index of the user message that begins the last exchange, or ``None`` when there is none.

    An exchange begins at a user message that is not part of an earlier message's run (a loop's
    request to fix an invalid output is a user message inside a run, not a new exchange).
    """
    for i in range(len(roles) - 1, -1, -1):
        if roles[i] != "user":
            continue
        run = runs[i]
        if run is None or i == 0 or runs[i - 1] != run:
            return i
    return None


def preview_text(message: Message) -> str:
    """A short single-line text of a message, for listings."""
    text = message.text
    if not text and message.role == "tool":
        text = " ".join(r.text for r in message.tool_results)
    text = " ".join(text.split())
    return text[:PREVIEW_CHARS]
