"""Running one tool call: validate, call (sync or async), time out, cap output, turn failures into results.

Errors the *model* can fix (bad arguments, :class:`~podium.exceptions.ModelRetry`, an exception raised
by the tool, a timeout) become error :class:`~podium.messages.ToolResult` s sent back to it. Errors in
Podium itself, or a missing injected value (a setup mistake), raise. A tool that returns a
:class:`~podium.messages.ToolResult` chooses its own parts and error flag (its call id and name are replaced
by the call's): that is how an MCP server's error result reaches the model with its images intact.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypeVar, cast

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
    "interrupted_result",
    "run_async",
    "run_coroutine",
    "run_sync",
    "skipped_result",
    "timeout_outcome",
    "to_content",
]

logger = logging.getLogger("podium.tools")

DEFAULT_MAX_OUTPUT = 100_000
"""Characters of tool output kept when a tool sets no ``max_output``."""

OutcomeKind: TypeAlias = Literal["ok", "invalid_args", "retry", "error", "timeout", "approval", "interrupted"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ToolInvocation:
    """A tool call ready to run: the tool, the call, and its context."""

    tool: Tool[..., Any]
    """The tool to run."""
    call: ToolCall
    """The model's call."""
    ctx: RunContext[Any]
    """Context for the call."""

    def abandon(self) -> None:
        """Tell the call that Podium no longer waits for it (sets ``ctx.abandoned``)."""
        self.ctx.abandoned.set()


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What running a call gave: the result for the model and how it went."""

    result: ToolResult
    """The result to send back."""
    kind: OutcomeKind = "ok"
    """``ok``, or why it failed (``interrupted``: abandoned before it finished, not a failure)."""
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


MAX_MEDIA_PARTS = 16
"""Images and files kept from one tool result (an MCP server may send any number)."""


def _capped_parts(parts: Sequence[ContentPart], limit: int) -> tuple[ContentPart, ...]:
    """A result's own parts with ``limit`` characters of text in all, and at most :data:`MAX_MEDIA_PARTS` media."""
    out: list[ContentPart] = []
    left, media, dropped = limit, 0, 0
    for part in parts:
        if isinstance(part, Text):
            if left <= 0:
                dropped += 1
                continue
            text = cap_text(part.text, left)
            left -= len(text)
            out.append(Text(text))
        elif media < MAX_MEDIA_PARTS:
            media += 1
            out.append(part)
        else:
            dropped += 1
    if dropped:
        out.append(Text(f"[... {dropped} more part(s) of this result cut: over the tool's output limit ...]"))
    return tuple(out)


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
    if isinstance(value, ToolResult):  # the tool chose its parts and error flag (an MCP server's result)
        content = _capped_parts(value.content, limit)
        result = ToolResult(
            inv.call.id, inv.call.name, content, is_error=value.is_error, provider_details=value.provider_details
        )
        return ToolOutcome(result, "error" if value.is_error else "ok", time.perf_counter() - started)
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


@dataclass(frozen=True, slots=True)
class _Raised:
    """An exception the tool itself raised, carried as a value past Podium's own machinery."""

    exc: Exception


_TIMED_OUT: Any = object()
_ABANDONED: Any = object()
_POLL = 0.05  # seconds between looks at a call's ``abandoned`` signal while its coroutine runs


def _call(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        return _Raised(exc)


async def _acall(fn: Callable[..., Awaitable[Any]], args: list[Any], kwargs: dict[str, Any]) -> Any:
    try:
        return await fn(*args, **kwargs)
    except Exception as exc:
        return _Raised(exc)


async def _bounded(aw: Awaitable[Any], timeout: float | None, abandoned: threading.Event | None) -> Any:
    """``await aw``; ``_TIMED_OUT`` after ``timeout`` seconds, ``_ABANDONED`` once ``abandoned`` is set."""
    import asyncio

    task = asyncio.ensure_future(aw)
    if timeout is None and abandoned is None:
        return await task
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            wait = _POLL if abandoned is not None else None
            if deadline is not None:
                left = max(0.0, deadline - time.monotonic())
                wait = left if wait is None else min(wait, left)
            done, _ = await asyncio.wait([task], timeout=wait)
            if done:
                return task.result()
            if abandoned is not None and abandoned.is_set():
                return _ABANDONED
            if deadline is not None and time.monotonic() >= deadline:
                return _TIMED_OUT
    finally:
        if not task.done():
            task.cancel()


def run_coroutine(make: Callable[[], Awaitable[T]]) -> T:
    """Await ``make()`` from synchronous code, on a private event loop, and return its value.

    In a thread where no event loop runs, the private loop runs right here. Where one already runs (a
    Jupyter cell, a sync call made inside an async app) it runs in a new thread that this one waits
    for: a thread runs one loop at a time, and the caller's loop is busy running the caller.
    """
    import asyncio

    async def main() -> T:
        return await make()

    def run_here() -> T:
        coro = main()
        try:
            return asyncio.run(coro)
        finally:
            coro.close()  # no-op once it ran; else it never started (no "never awaited" warning)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_here()
    box: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            box.append((True, run_here()))
        except BaseException as exc:  # handed to the waiting thread, raised there
            box.append((False, exc))

    thread = threading.Thread(target=target, name="podium-private-loop", daemon=True)
    thread.start()
    thread.join()
    ok, value = box[0]
    if not ok:
        raise value
    return cast(T, value)


def run_sync(inv: ToolInvocation, default_limit: int = DEFAULT_MAX_OUTPUT) -> ToolOutcome:
    """Run a call in the current thread; an async tool runs on a private event loop (with its timeout).

    A sync tool's timeout is enforced by the driver that runs this in a worker thread. Exceptions the tool
    raises become error results; an error in Podium's own machinery (say, no event loop can be made) raises.
    """
    started = time.perf_counter()
    prepared = _prepare(inv)
    if isinstance(prepared, str):
        return _error(inv.call, prepared, "invalid_args", started)
    fn, args, kwargs = prepared
    if inv.tool.schema.is_async:
        timeout = inv.tool.timeout
        value = run_coroutine(lambda: _bounded(_acall(fn, args, kwargs), timeout, inv.ctx.abandoned))
        if value is _TIMED_OUT:
            inv.abandon()
            return timeout_outcome(inv, timeout or 0.0, started)
        if value is _ABANDONED:
            return ToolOutcome(interrupted_result(inv.call), "interrupted", time.perf_counter() - started)
    else:
        value = _call(fn, args, kwargs)
    if isinstance(value, _Raised):
        return _failure(inv, value.exc, started)
    return _finish(inv, value, started, default_limit)


async def run_async(
    inv: ToolInvocation,
    run_in_thread: Callable[[Callable[[], Any]], Awaitable[Any]],
    default_limit: int = DEFAULT_MAX_OUTPUT,
) -> ToolOutcome:
    """Run a call on the event loop; sync tools go to ``run_in_thread``. Honors the tool's timeout.

    Exceptions the tool raises become error results; an error in Podium's own machinery (say, the thread
    pool refuses the call) raises. Cancelling the task abandons the call (:attr:`RunContext.abandoned`).
    """
    import asyncio

    started = time.perf_counter()
    prepared = _prepare(inv)
    if isinstance(prepared, str):
        return _error(inv.call, prepared, "invalid_args", started)
    fn, args, kwargs = prepared
    timeout = inv.tool.timeout
    if inv.tool.schema.is_async:
        aw: Awaitable[Any] = _acall(fn, args, kwargs)
    else:
        aw = run_in_thread(functools.partial(_call, fn, args, kwargs))
    try:
        value = await _bounded(aw, timeout, None)
    except asyncio.CancelledError:
        inv.abandon()
        raise
    if value is _TIMED_OUT:
        inv.abandon()
        return timeout_outcome(inv, timeout or 0.0, started)
    if isinstance(value, _Raised):
        return _failure(inv, value.exc, started)
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
