"""A todo list per conversation, kept in the conversation itself.

``todo_write`` replaces the whole list; the current list is the arguments of the last successful
``todo_write`` call in the conversation's history. So it belongs to exactly one conversation, survives
saving and resuming it, and is never shared between agents.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from podium.exceptions import ModelRetry
from podium.messages import ToolCall, ToolResult
from podium.tools.context import RunContext
from podium.tools.tool import Tool

__all__ = ["TodoItem", "current_todos", "todo_tools"]

_MARKS = {"pending": "[ ]", "in_progress": "[~]", "done": "[x]"}


class TodoItem(BaseModel):
    """One item of the todo list."""

    content: str = Field(min_length=1, description="What to do.")
    """What to do."""
    status: Literal["pending", "in_progress", "done"] = Field("pending", description="Where it stands.")
    """``pending``, ``in_progress`` or ``done``."""


def current_todos(ctx: RunContext[Any]) -> list[TodoItem]:
    """The list written by the last successful ``todo_write`` call in the conversation."""
    failed = set()
    for message in reversed(ctx.messages):
        for part in reversed(message.parts):
            if isinstance(part, ToolResult) and part.is_error:
                failed.add(part.call_id)
            elif isinstance(part, ToolCall) and part.name.endswith("todo_write") and part.id not in failed:
                items = part.args.get("todos") if isinstance(part.args, dict) else None
                if isinstance(items, list):
                    try:
                        return [TodoItem.model_validate(i) for i in items]
                    except ValueError:
                        continue
    return []


def _render(items: list[TodoItem]) -> str:
    if not items:
        return "[the todo list is empty]"
    return "\n".join(f"{i}. {_MARKS[t.status]} {t.content}" for i, t in enumerate(items, start=1))


def todo_tools() -> list[Tool[..., Any]]:
    """``todo_write`` and ``todo_read``."""

    def todo_write(todos: list[TodoItem]) -> str:
        """Replace the todo list of this conversation (send the whole list each time).

        Args:
            todos: Every item, in order, with its status.
        """
        in_progress = sum(1 for t in todos if t.status == "in_progress")
        if in_progress > 1:
            raise ModelRetry("only one item can be in_progress at a time")
        return "Todo list updated:\n" + _render(todos)

    def todo_read(ctx: RunContext[Any]) -> str:
        """Show the todo list of this conversation."""
        return _render(current_todos(ctx))

    return [Tool(todo_write), Tool(todo_read)]
