"""The tool side of a :class:`~podium.testing.faults.FaultPlan`: a toolset whose calls fail or are slow.

Each tool with faults in the plan is replaced, for the run, by a copy with the same name, schema, timeout
and limits whose function first asks the plan (before the tool runs):

* ``error``: raises ``RuntimeError(message)`` -- an error result the model sees, as a tool bug would give;
* ``retry``: raises :class:`~podium.exceptions.ModelRetry` -- the model is asked to try again;
* ``slow``: waits, by default past the tool's timeout, so the driver's timeout fires (the wait ends once
  the run abandons the call, and the tool then does not run).

Calls are numbered per tool in the order the model asked for them (by turn, then by place in the turn),
whatever order the parallel calls of a turn start in, so a seed gives the same faults on every run.
Sub-agent tools are left as they are (wrap the sub-agent itself with ``plan.agent``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from podium.exceptions import ModelRetry, UserError
from podium.tools.context import RunContext
from podium.tools.tool import Tool
from podium.tools.toolset import ToolResolver, Toolset, ToolsetLike

if TYPE_CHECKING:
    from podium.testing.faults import FaultPlan, ToolFault

__all__ = ["FaultyToolset"]

_CONTEXT = "ctx"


class FaultyToolset(Toolset):
    """``items`` (tools, functions, toolsets) with a plan's tool faults.

    Args:
        plan: Decides which call meets which fault, and logs it.
        items: The tools, as an agent takes them.
    """

    def __init__(self, plan: FaultPlan, items: Sequence[ToolsetLike]) -> None:
        self.plan = plan
        self.resolver = ToolResolver(items)
        self._wrapped: dict[int, tuple[Tool[..., Any], Tool[..., Any]]] = {}
        self._lock = threading.Lock()
        self._numbered: dict[tuple[str, str], tuple[int, int, int]] = {}
        """(run id, call id) -> (number among the calls of its tool, its turn's place in the run, place in the turn)."""
        self._calls: dict[str, int] = {}

    @override
    def get_tools(self, ctx: RunContext[Any] | None = None) -> Sequence[Tool[..., Any]]:
        return [self._wrap(t) for t in self.resolver(ctx).values()]

    @override
    def changed(self) -> bool:
        return self.resolver.changed()

    @override
    def end_run(self) -> None:
        self.resolver.end_run()

    def faults_of(self, name: str) -> tuple[ToolFault, ...]:
        """The plan's faults for tool ``name`` (its own, then those for every tool)."""
        faults = self.plan.tool_faults
        return (*faults.get(name, ()), *faults.get("*", ()))

    def _wrap(self, tool: Tool[..., Any]) -> Tool[..., Any]:
        faults = self.faults_of(tool.name)
        if not faults or any(c.__name__ == "SubAgentTool" for c in type(tool).__mro__):
            return tool
        cached = self._wrapped.get(id(tool))
        if cached is not None and cached[0] is tool:
            return cached[1]
        for fault in faults:
            if fault.kind == "slow" and fault.delay is None and tool.timeout is None:
                raise UserError(
                    f"ToolFault.slow() for tool {tool.name!r}: the tool has no timeout to go past; "
                    "give the fault a delay (ToolFault.slow(delay=...)) or the tool a timeout (@tool(timeout=...))"
                )
        schema = tool.schema
        fn = _async_wrapper(self, tool) if schema.is_async else _sync_wrapper(self, tool)
        clone: Tool[..., Any] = Tool(
            fn,
            name=tool.name,
            timeout=tool.timeout,
            max_output=tool.max_output,
            retries=tool.retries,
            strict=tool.strict,
            metadata=tool.metadata,
        )
        # the wrapper always gets the call's context, first and positional-only (a tool parameter may be "ctx")
        clone._schema = replace(schema, context_param=_CONTEXT)
        self._wrapped[id(tool)] = (tool, clone)
        return clone

    # ------------------------------------------------------------------ numbering and choosing

    def _number(self, tool: Tool[..., Any], ctx: RunContext[Any]) -> tuple[int, int, int]:
        """The call's number among the calls of its tool, its turn's place in the run, its place in the turn."""
        call = ctx.tool_call
        key = (ctx.run_id, call.id if call is not None else f"#{id(ctx)}")
        with self._lock:
            known = self._numbered.get(key)
            if known is None:
                self._register(ctx, tool.name)
                known = self._numbered[key]
            return known

    def _register(self, ctx: RunContext[Any], name: str) -> None:
        """Number the calls of the turn that asked for this call, in the model's order (once per call).

        A call keeps its number when the run pauses and resumes (an approval): the key is the run and the call.
        """
        call = ctx.tool_call
        calls: list[tuple[str, str]] = []
        for message in reversed(ctx.messages):
            if call is not None and any(c.id == call.id for c in message.tool_calls):
                calls = [(c.id, c.name) for c in message.tool_calls]
                break
        if not calls:  # not in the history the tool is given: numbered as it comes
            calls = [(call.id if call is not None else f"#{id(ctx)}", name)]
        seq = self.plan.tick("tool-turn")[1]
        for place, (call_id, call_name) in enumerate(calls):
            if (ctx.run_id, call_id) not in self._numbered:
                self._calls[call_name] = self._calls.get(call_name, 0) + 1
                self._numbered[(ctx.run_id, call_id)] = (self._calls[call_name], seq, place)

    def choose(self, tool: Tool[..., Any], ctx: RunContext[Any]) -> ToolFault | None:
        """The fault this call meets (logged in the plan), if any."""
        from podium.testing.faults import FaultRecord

        number, seq, place = self._number(tool, ctx)
        own = len(self.plan.tool_faults.get(tool.name, ()))
        for index, fault in enumerate(self.faults_of(tool.name)):
            scope = tool.name if index < own else f"*:{tool.name}"
            if self.plan.fires("tool", scope, number, index, fault.at, fault.rate):
                order = (seq, place, 0)
                self.plan.record(FaultRecord("tool", number, fault.kind, tool.name, fault.describe(), order=order))
                return fault
        return None


def _raise(fault: ToolFault) -> None:
    if fault.kind == "retry":
        raise ModelRetry(fault.message)
    raise RuntimeError(fault.message)


def _slow_delay(fault: ToolFault, tool: Tool[..., Any]) -> float:
    return fault.delay if fault.delay is not None else (tool.timeout or 0.0) + 1.0


def _sync_wrapper(toolset: FaultyToolset, tool: Tool[..., Any]) -> Callable[..., Any]:
    fn = tool.fn
    takes_context = tool.schema.context_param is not None

    def call_with_faults(ctx: RunContext[Any], /, *args: Any, **kwargs: Any) -> Any:
        fault = toolset.choose(tool, ctx)
        if fault is not None:
            if fault.kind != "slow":
                _raise(fault)
            if ctx.abandoned.wait(_slow_delay(fault, tool)):
                return None  # the run stopped waiting (the timeout fired): the tool does not run
        return fn(ctx, *args, **kwargs) if takes_context else fn(*args, **kwargs)

    return call_with_faults


def _async_wrapper(toolset: FaultyToolset, tool: Tool[..., Any]) -> Callable[..., Any]:
    fn = tool.fn
    takes_context = tool.schema.context_param is not None

    async def call_with_faults(ctx: RunContext[Any], /, *args: Any, **kwargs: Any) -> Any:
        fault = toolset.choose(tool, ctx)
        if fault is not None:
            if fault.kind != "slow":
                _raise(fault)
            await asyncio.sleep(_slow_delay(fault, tool))  # cancelled when the call's timeout fires
        return await (fn(ctx, *args, **kwargs) if takes_context else fn(*args, **kwargs))

    return call_with_faults
