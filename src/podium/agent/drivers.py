"""Drivers perform the loop's effects: a synchronous one (threads) and an asynchronous one (tasks).

Both turn the loop generator into a stream of events and return the run's result. They are the only
place where models are called and tools run.

Tools: in the sync driver every tool call runs on the tool thread pool (:func:`tool_pool`), never in the
caller's thread, so a cancel comes back at once however many calls a turn has; async tools run there on a
private event loop, which also makes them work when the caller's thread runs an event loop (Jupyter). In
the async driver tools are tasks (sync tools on the same pool). A call the run abandons (cancelled, or
timed out) is told through ``RunContext.abandoned``; Python cannot stop a thread, so a sync tool keeps
running until it returns, on a daemon thread that does not hold up the process's exit.

Interrupts in the sync driver: the model request runs in the calling thread, so Ctrl-C reaches it
directly. A ``KeyboardInterrupt`` while the driver waits on the model or on tools becomes a cancellation
(the run raises :class:`~podium.exceptions.RunInterrupted`, a ``RunCancelled`` and ``KeyboardInterrupt``
with a valid ``.messages``). A cancel token triggered *in the driver's thread* while it blocks on the
model (a SIGINT handler such as the CLI's calls ``token.cancel()``) interrupts the request at once; one
triggered from another thread takes effect at the next stream event, or when the request's read timeout
ends a stalled answer.

Steering (:mod:`podium.agent.inbox`): both drivers answer ``TakeMessages`` from the run's inbox and close
it when the run ends. A message sent with ``interrupt=True`` stops the wait on tools or on a model stream
the same way a cancel does (the sync driver sees it at the next stream event), but the run goes on:
the answer is ``Interrupted(steered=True)``. Tools a model message asks for while such a message waits
are not started.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

from podium.agent.approval import Approver, Decision, decision_from
from podium.agent.async_driver import drive_async
from podium.agent.cancel import CancelToken
from podium.agent.children import SyncChildren
from podium.agent.driving import (
    Progress,
    ToolThreads,
    in_context,
    no_final_response,
    partial_response,
    report_done,
    tool_pool,
)
from podium.agent.effects import (
    AbandonTools,
    AskApproval,
    AwaitTool,
    Effect,
    Interrupted,
    RequestModel,
    RunAwaitable,
    StartTools,
    TakeMessages,
)
from podium.agent.events import AgentEvent
from podium.agent.inbox import Inbox
from podium.agent.subagent import ChildInvocation, Tally
from podium.exceptions import RunCancelled, RunInterrupted
from podium.messages import ModelResponse
from podium.providers.base import Model
from podium.streaming import TextDelta
from podium.tools.executor import (
    DEFAULT_MAX_OUTPUT,
    ToolInvocation,
    ToolOutcome,
    run_coroutine,
    run_sync,
    timeout_outcome,
)

__all__ = ["ToolThreads", "drive_async", "drive_sync", "tool_pool"]  # drive_async: from async_driver.py

ResultT = TypeVar("ResultT")
"""What the driven generator returns (a ``RunResult`` for a run)."""


# --------------------------------------------------------------------------- sync driver


class _SyncTools:
    """The running tool calls of one ``StartTools`` effect (sync driver), each on a pool thread.

    Sub-agent calls run on threads of their own (:class:`~podium.agent.children.SyncChildren`).
    """

    def __init__(
        self,
        invocations: list[ToolInvocation],
        max_output: int,
        *,
        start: bool = True,
        cancel: CancelToken | None = None,
        approver: Approver | None = None,
        on_done: Callable[[int, ToolOutcome], None] | None = None,
    ) -> None:
        self.invocations = invocations if start else []
        self.started = time.perf_counter()
        self.children: SyncChildren | None = None
        self.progress = Progress()
        pool = tool_pool()
        self.futures: list[cf.Future[Any]] = []
        for i, inv in enumerate(self.invocations):
            if isinstance(inv, ChildInvocation):
                if self.children is None:
                    self.children = SyncChildren(cancel, approver)
                self.futures.append(self.children.start(i, inv, max_output))
            else:
                self.futures.append(pool.submit(in_context(run_sync, self.progress.attach(inv), max_output)))
        if on_done is not None:
            for i, future in enumerate(self.futures):
                future.add_done_callback(functools.partial(report_done, on_done, i))

    def finished(self, index: int) -> ToolOutcome | None:
        """The outcome of call ``index`` if it has finished (not when it was never started or was cancelled)."""
        if index >= len(self.futures):
            return None
        future = self.futures[index]
        if future.done() and not future.cancelled():
            outcome: ToolOutcome = future.result()
            return outcome
        return None

    def wait(self, index: int, cancel: CancelToken | None, inbox: Inbox | None) -> ToolOutcome | Interrupted | None:
        """The outcome of call ``index``, or a timeout outcome; ``None`` when progress came in meanwhile.

        ``Interrupted`` as soon as ``cancel`` fires or an interrupting message arrives in ``inbox``.
        """
        inv, future = self.invocations[index], self.futures[index]
        timeout = inv.tool.timeout
        remaining = None if timeout is None else max(0.0, self.started + timeout - time.perf_counter())
        waker: cf.Future[Any] = cf.Future()

        def wake() -> None:
            if not waker.done():
                waker.set_result(None)

        poke: cf.Future[Any] = cf.Future()

        def poked() -> None:
            if not poke.done():
                poke.set_result(None)

        unregister = cancel.on_cancel(wake) if cancel is not None else (lambda: None)
        unsteer = inbox.on_interrupt(wake) if inbox is not None else (lambda: None)
        unwatch = self.progress.watch(poked)
        try:
            if inbox is not None and inbox.interrupting:  # arrived before the callback was registered
                wake()
            done, _ = cf.wait([future, waker, poke], timeout=remaining, return_when=cf.FIRST_COMPLETED)
        finally:
            unregister()
            unsteer()
            unwatch()
        if future in done:
            outcome: ToolOutcome = future.result()
            return outcome
        if waker in done:
            return Interrupted(steered=not (cancel is not None and cancel.cancelled))
        if poke in done:
            return None
        future.cancel()  # still queued (a busy pool): it never starts
        inv.abandon()
        return timeout_outcome(inv, timeout or 0.0, self.started)

    def abandon(self) -> dict[str, Tally] | None:
        """Calls not started never start; running ones are told (``ctx.abandoned``) and left to end.

        Returns what the batch's sub-agents used so far, by call id (the loop counts each call once).
        """
        for i, (inv, future) in enumerate(zip(self.invocations, self.futures, strict=True)):
            if not future.done():
                future.cancel()
                inv.abandon()
                if self.children is not None:
                    self.children.abandon(i)
        return self.children.used() if self.children is not None else None


class _Interrupt(KeyboardInterrupt):
    """Raised in the driver's thread by a cancel that arrives there while a model request blocks it."""


class _Interrupter:
    """Lets a cancel in the driver's own thread (a SIGINT handler) break into a blocking model call."""

    __slots__ = ("armed", "keyboard", "thread", "unregister")

    def __init__(self, cancel: CancelToken | None) -> None:
        self.armed = False
        self.keyboard = False
        """Whether a ``KeyboardInterrupt`` (not a cancel token) stopped the run."""
        self.thread = threading.get_ident()
        self.unregister = cancel.on_cancel(self._on_cancel) if cancel is not None else (lambda: None)

    def _on_cancel(self) -> None:
        if self.armed and threading.get_ident() == self.thread:
            self.armed = False
            raise _Interrupt("cancelled while waiting for the model")

    def interrupted(self, exc: KeyboardInterrupt, cancel: CancelToken | None) -> None:
        """Record an interrupt that reached the driver (and cancel the run's token with it)."""
        if not isinstance(exc, _Interrupt):
            self.keyboard = True
            if cancel is not None:
                cancel.cancel("interrupted (KeyboardInterrupt)")


def _next(events: Any, interrupter: _Interrupter) -> Any:
    """The next event of a model stream (``None`` at its end); a cancel in this thread interrupts the wait."""
    interrupter.armed = True
    try:
        return next(events, None)
    finally:
        interrupter.armed = False


def _request_sync(
    model: Model,
    item: RequestModel,
    stream: bool,
    cancel: CancelToken | None,
    interrupter: _Interrupter,
    inbox: Inbox | None,
) -> Generator[AgentEvent, None, tuple[Any, BaseException | None]]:
    """Perform one model request (yielding stream events); returns ``(answer, error to throw)``."""
    texts: dict[int, list[str]] = {}
    if inbox is not None and inbox.interrupting:  # sent after the loop's last look: no request to cut short
        return Interrupted(steered=True), None
    try:
        if not stream:
            interrupter.armed = True
            try:
                return model.request(item.messages, tools=item.tools, settings=item.settings, output=item.output), None
            finally:
                interrupter.armed = False
        events = model.stream(item.messages, tools=item.tools, settings=item.settings, output=item.output)
        try:
            while (event := _next(events, interrupter)) is not None:
                if isinstance(event, ModelResponse):
                    return event, None
                if isinstance(event, TextDelta):
                    texts.setdefault(event.index, []).append(event.text)
                yield event
                if cancel is not None and cancel.cancelled:
                    return Interrupted(partial_response(texts)), None
                if inbox is not None and inbox.interrupting:
                    return Interrupted(partial_response(texts), steered=True), None
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return None, no_final_response(model)
    except KeyboardInterrupt as exc:
        interrupter.interrupted(exc, cancel)
        return Interrupted(partial_response(texts)), None
    except Exception as exc:
        return None, exc


def drive_sync(
    gen: Generator[Effect | AgentEvent, Any, ResultT],
    model: Model,
    *,
    stream: bool,
    cancel: CancelToken | None = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    approver: Approver | None = None,
    inbox: Inbox | None = None,
) -> Generator[AgentEvent, None, ResultT]:
    """Run the loop in this thread, tools on the tool pool; yields events, returns the result.

    ``inbox`` holds the messages sent into the run (steering); it is closed when the run ends.
    """
    answer: Any = None
    throw: BaseException | None = None
    tools: _SyncTools | None = None
    interrupter = _Interrupter(cancel)
    try:
        while True:
            try:
                item = gen.throw(throw) if throw is not None else gen.send(answer)
            except StopIteration as stop:
                result: ResultT = stop.value
                return result
            except RunCancelled as exc:
                if interrupter.keyboard and not isinstance(exc, RunInterrupted):
                    raise _as_interrupted(exc) from exc.__cause__
                raise
            answer, throw = None, None
            if isinstance(item, RequestModel):
                if cancel is not None and cancel.cancelled:
                    answer = Interrupted()
                    continue
                answer, throw = yield from _request_sync(
                    item.model or model, item, stream and item.stream is not False, cancel, interrupter, inbox
                )
            elif isinstance(item, TakeMessages):
                answer = inbox.take(final=item.final) if inbox is not None else ()
            elif isinstance(item, StartTools):
                start = inbox is None or not inbox.interrupting
                tools = _SyncTools(
                    item.invocations, max_output, start=start, cancel=cancel, approver=approver, on_done=item.on_done
                )
            elif isinstance(item, AwaitTool):
                assert tools is not None
                answer = yield from _await_tool_sync(tools, item.index, cancel, interrupter, inbox)
            elif isinstance(item, AbandonTools):
                answer = tools.abandon() if tools is not None else None
            elif isinstance(item, AskApproval):
                answer, throw = _settle(functools.partial(_ask_sync, item, approver))
            elif isinstance(item, RunAwaitable):
                answer, throw = _settle(functools.partial(_await_sync, item.awaitable))
            else:
                yield item
    finally:
        interrupter.unregister()
        if inbox is not None:
            inbox.close()
        if tools is not None:
            tools.abandon()  # the run ended early (an error, or the caller stopped iterating)


def _await_tool_sync(
    tools: _SyncTools, index: int, cancel: CancelToken | None, interrupter: _Interrupter, inbox: Inbox | None
) -> Generator[AgentEvent, None, ToolOutcome | Interrupted]:
    """Wait for call ``index``; in a batch with sub-agent calls, yield their events meanwhile."""
    if cancel is not None and cancel.cancelled:
        return Interrupted()
    if inbox is not None and inbox.interrupting:  # a call that already finished keeps its result
        return tools.finished(index) or Interrupted(steered=True)
    try:
        if tools.children is None:
            while (outcome := tools.wait(index, cancel, inbox)) is None:
                yield from tools.progress.take()
            yield from tools.progress.take()
            tools.progress.finish(tools.invocations[index].call.id)
            return outcome
        inv, future = tools.invocations[index], tools.futures[index]
        return (yield from tools.children.wait(index, inv, future, tools.started, inbox))
    except KeyboardInterrupt as exc:
        interrupter.interrupted(exc, cancel)
        return Interrupted()


def _await_sync(aw: Awaitable[Any]) -> Any:
    """The value of ``aw`` (a hook or approver written as a coroutine), awaited on a private event loop."""
    return run_coroutine(lambda: aw)


def _settle(fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """``(fn(), None)``, or ``(None, exc)`` to throw into the loop where the awaited code was called."""
    try:
        return fn(), None
    except Exception as exc:
        return None, exc


def _as_interrupted(exc: RunCancelled) -> RunInterrupted:
    """``exc`` as the :class:`RunInterrupted` a Ctrl-C gives (same history and usage)."""
    return RunInterrupted(
        "the run was interrupted (Ctrl-C); `.messages` is a valid history to continue from",
        messages=exc.messages or (),
        new_messages=exc.new_messages,
        usage=exc.usage,
    )


def _ask_sync(effect: AskApproval, approver: Approver | None) -> dict[str, Decision]:
    """Answers of an approver (none: nothing is decided and the run pauses); an async one runs on a private loop."""
    if approver is None:
        return {}
    answers: dict[str, Decision] = {}
    for request in effect.requests:
        value: Any = approver(request)
        if inspect.isawaitable(value):
            value = _await_sync(value)
        answers[request.call_id] = decision_from(value)
    return answers
