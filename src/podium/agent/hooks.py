"""Hooks: code that runs at each step of a run and may change calls and results.

Subclass :class:`AgentHooks` and override what you need; every method is a no-op by default. A method
may be written as a coroutine (``async def``): the driver awaits it, on the event loop in ``arun`` /
``astream`` and on a private event loop in ``run`` / ``stream``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from podium.messages import Message, ModelResponse, ToolCall, ToolResult
from podium.tools.context import RunContext

if TYPE_CHECKING:
    from podium.agent.approval import Decision
    from podium.agent.result import RunResult

__all__ = ["AgentHooks", "MaybeAwaitable"]

T = TypeVar("T")
MaybeAwaitable: TypeAlias = T | Awaitable[T]
"""A hook's return value, or an awaitable of it (a hook written with ``async def``)."""


class AgentHooks:
    """Lifecycle hooks of an agent run. Hooks run in the loop, in the order given to the agent."""

    def on_run_start(self, ctx: RunContext[Any]) -> MaybeAwaitable[None]:
        """The run started."""

    def on_model_request(self, ctx: RunContext[Any], messages: Sequence[Message]) -> MaybeAwaitable[None]:
        """A request with ``messages`` is about to be sent."""

    def on_model_response(self, ctx: RunContext[Any], response: ModelResponse) -> MaybeAwaitable[None]:
        """The model answered."""

    def before_tool_call(
        self, ctx: RunContext[Any], call: ToolCall
    ) -> MaybeAwaitable[ToolCall | ToolResult | Decision | None]:
        """A tool call is about to run.

        Return a changed ``ToolCall`` to run that instead (rewritten arguments), a ``ToolResult`` to
        skip the tool and use that result, an approval decision (``Allow``, ``Deny``, ``Ask``) that
        overrides the policy, or ``None`` to go ahead unchanged.
        """
        return None

    def after_tool_call(
        self, ctx: RunContext[Any], call: ToolCall, result: ToolResult
    ) -> MaybeAwaitable[ToolResult | None]:
        """A tool call finished; return a changed ``ToolResult`` to replace it, or ``None``."""
        return None

    def on_run_end(self, ctx: RunContext[Any], result: RunResult[Any]) -> MaybeAwaitable[None]:
        """The run finished with ``result``."""
