"""Running one tool call: validate, call (sync or async), time out, cap output, turn failures into results.

Errors the *model* can fix (bad arguments, :class:`~podium.exceptions.ModelRetry`, an exception raised
by the tool, a timeout) become error :class:`~podium.messages.ToolResult` s sent back to it. Errors in
Podium itself, or a missing injected value (a setup mistake), raise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from podium.exceptions import ApprovalRequired, ModelRetry, UserError
from podium.messages import ContentPart, File, Image, Text, ToolCall, ToolResult
from podium.secrets import register_automatic
from podium.tools.context import RunContext
from podium.tools.tool import Tool

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "ToolInvocation",
    "ToolOutcome",
    "cap_text",
    "run_async",
    "run_sync",
    "to_content",
]

logger = logging.getLogger("podium.tools")

DEFAULT_MAX_OUTPUT = 100_000
"""Characters of tool output kept when a tool sets no ``max_output``."""

_TIMED_OUT: Any = object()

OutcomeKind: TypeAlias = Literal["ok", "invalid_args", "retry", "error", "timeout", "approval"]


@dataclass(frozen=True, slots=True)
class ToolInvocation:
    """A tool call ready to run: the tool, the call, and its context."""

    tool: Tool[..., Any]
    """The tool to run."""
    call: ToolCall
    """The model's call."""
    ctx: RunContext[Any]
    """Context for the call."""


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What running a call gave: the result for the model and how it went."""

    result: ToolResult
    """The result to send back."""
    kind: OutcomeKind = "ok"
    """``ok``, or why it failed."""
    duration: float = 0.0
    """Seconds spent."""
    error: BaseException | None = None
    """The exception raised by the tool, when there was one."""

    @property
    def failed(self) -> bool:
        """Whether the call counts against the tool's retry budget."""
        return self.kind in ("invalid_args", "retry", "error", "timeout")


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, keeping its head and tail and marking the cut."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters cut ...]\n{text[len(text) - tail :]}"


def to_content(value: Any, limit: int) -> tuple[ContentPart, ...]:
    """Convert what a tool returned into result content; text is capped at ``limit`` characters."""
    if isinstance(value, str):
        return (Text(cap_text(value, limit)),)
    if isinstance(value, (Text, Image, File)):
        return (Text(cap_text(value.text, limit)),) if isinstance(value, Text) else (value,)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (Text, Image, File, str)) for v in value):
        parts: list[ContentPart] = []
        for v in value:
            parts.extend(to_content(v, limit))
        return tuple(parts)
    from pydantic_core import to_json

    try:
        text = to_json(value, fallback=str).decode()
    except Exception as exc:  # a tool returned something that cannot be represented
        raise UserError(f"tool returned a value that cannot be serialized to JSON: {exc}") from exc
    return (Text(cap_text(text, limit)),)


def _error(
    call: ToolCall, message: str, kind: OutcomeKind, started: float, exc: BaseException | None = None
) -> ToolOutcome:
    result = ToolResult(call.id, call.name, (Text(message),), is_error=True)
    return ToolOutcome(result, kind, time.perf_counter() - started, exc)


def _prepare(inv: ToolInvocation) -> tuple[Callable[..., Any], list[Any], dict[str, Any]] | str:
    """The function and its arguments, or an error message for the model."""
    from pydantic import ValidationError

    from podium.tools.schema import format_validation_error

    schema = inv.tool.schema
    if inv.call.raw_args is not None:
        return (
            f"The arguments are not a JSON object: {inv.call.raw_args[:500]!r}. "
            "Call the tool again with a JSON object of arguments."
        )
    try:
        kwargs = schema.validate(inv.call.args)
    except ValidationError as exc:
        return format_validation_error(exc)
    for param, key in schema.injected.items():
        if key not in inv.ctx.inject:
            raise UserError(
                f"tool {inv.tool.name!r} needs an injected value {key!r}; pass inject={{{key!r}: ...}} "
                "to the agent or the run"
            )
        kwargs[param] = inv.ctx.inject[key]
        register_automatic(kwargs[param], f"injected:{key}")  # echoed in a result, it is scrubbed when stored
    args: list[Any] = []
    if schema.context_param is not None:
        args.append(inv.ctx)
    for name in schema.positional:
        args.append(kwargs.pop(name))
    return inv.tool.fn, args, kwargs


def _finish(inv: ToolInvocation, value: Any, started: float, default_limit: int) -> ToolOutcome:
    limit = inv.tool.max_output or default_limit
    result = ToolResult(inv.call.id, inv.call.name, to_content(value, limit))
    return ToolOutcome(result, "ok", time.perf_counter() - started)


def _failure(inv: ToolInvocation, exc: BaseException, started: float) -> ToolOutcome:
    if isinstance(exc, ModelRetry):
        return _error(inv.call, exc.message, "retry", started, exc)
    if isinstance(exc, ApprovalRequired):
        return _error(inv.call, exc.reason or "approval required", "approval", started, exc)
    logger.debug("tool %s raised", inv.tool.name, exc_info=exc)
    return _error(inv.call, f"{type(exc).__name__}: {exc}", "error", started, exc)


def timeout_outcome(inv: ToolInvocation, timeout: float, started: float) -> ToolOutcome:
    """The error outcome of a call that ran out of time."""
    return _error(
        inv.call,
        f"The tool did not finish within its {timeout:g} s timeout; its result was discarded.",
        "timeout",
        started,
    )


def run_sync(inv: ToolInvocation, default_limit: int = DEFAULT_MAX_OUTPUT) -> ToolOutcome:
    """Run a call in the current thread. Async tools run in a fresh event loop (with their timeout).

    A sync tool's timeout is enforced by the driver that runs this in a worker thread.
    """
    started = time.perf_counter()
    prepared = _prepare(inv)
    if isinstance(prepared, str):
        return _error(inv.call, prepared, "invalid_args", started)
    fn, args, kwargs = prepared
    try:
        if inv.tool.schema.is_async:
            import asyncio

            timeout = inv.tool.timeout

            async def main() -> Any:
                task = asyncio.ensure_future(fn(*args, **kwargs))
                done, _ = await asyncio.wait([task], timeout=timeout)
                if not done:
                    task.cancel()
                    return _TIMED_OUT
                return task.result()

            value = asyncio.run(main())
            if value is _TIMED_OUT:
                assert timeout is not None
                return timeout_outcome(inv, timeout, started)
        else:
            value = fn(*args, **kwargs)
    except Exception as exc:
        return _failure(inv, exc, started)
    return _finish(inv, value, started, default_limit)


async def run_async(
    inv: ToolInvocation,
    run_in_thread: Callable[[Callable[[], Any]], Awaitable[Any]],
    default_limit: int = DEFAULT_MAX_OUTPUT,
) -> ToolOutcome:
    """Run a call on the event loop; sync tools go to ``run_in_thread``. Honors the tool's timeout."""
    import asyncio

    started = time.perf_counter()
    prepared = _prepare(inv)
    if isinstance(prepared, str):
        return _error(inv.call, prepared, "invalid_args", started)
    fn, args, kwargs = prepared
    timeout = inv.tool.timeout
    try:
        if inv.tool.schema.is_async:
            aw: Awaitable[Any] = fn(*args, **kwargs)
        else:
            aw = run_in_thread(lambda: fn(*args, **kwargs))
        if timeout is None:
            value = await aw
        else:
            task = asyncio.ensure_future(aw)
            done, _ = await asyncio.wait([task], timeout=timeout)
            if not done:
                task.cancel()
                return timeout_outcome(inv, timeout, started)
            value = task.result()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return _failure(inv, exc, started)
    return _finish(inv, value, started, default_limit)


def interrupted_result(call: ToolCall) -> ToolResult:
    """The result recorded for a call that the run's cancellation cut short (or never started)."""
    return ToolResult(
        call.id,
        call.name,
        (Text("Interrupted: the run was cancelled before this tool call finished."),),
        is_error=True,
        interrupted=True,
    )


def skipped_result(call: ToolCall, reason: str) -> ToolResult:
    """The result recorded for a call the loop decided not to run."""
    return ToolResult(call.id, call.name, (Text(reason),), is_error=True)


def describe(calls: Sequence[ToolCall]) -> str:
    """Short human description of calls, for logs."""
    return ", ".join(f"{c.name}({c.id})" for c in calls)
