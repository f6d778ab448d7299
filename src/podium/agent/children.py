"""Running sub-agent calls: the drivers' side of :mod:`podium.agent.subagent`.

A sub-agent call is a child run. The sync driver runs it with the sync driver on a thread of its own (not
the tool pool, which the child's own tools use); the async driver runs it with the async driver as a task.
The child talks to its parent's driver through a *link*: each event it emits goes into the parent's inbox,
wrapped in :class:`~podium.agent.events.SubAgentEvent`, and each approval it needs is put there too, to be
answered by the parent's approver in the parent's thread (so a terminal prompt is asked from where it
always is, one question at a time) -- or, with no approver, left undecided so that the child pauses.

While the parent's loop waits for a call of a batch that has sub-agents, its driver keeps taking what
arrives in the inbox: it yields the children's events as they come and answers their approvals. The events a
child emitted before its call finished are all yielded before that call's outcome goes back to the loop, so
the parent's ``ToolCallFinished`` comes after them.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import inspect
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import replace
from typing import Any, cast

from podium.agent.approval import ApprovalRequest, Approver, Ask, Decision, decision_from
from podium.agent.cancel import CancelToken
from podium.agent.effects import Interrupted
from podium.agent.events import AgentEvent, ContextCompacted, ModelResponseFinished, SubAgentEvent
from podium.agent.inbox import Inbox
from podium.agent.result import RunResult
from podium.agent.subagent import ChildInvocation, SubAgentOutcome, Tally, task_of
from podium.exceptions import AgentRunError, ProviderError, RunCancelled
from podium.messages import Text, ToolResult
from podium.tools.executor import (
    ToolInvocation,
    ToolOutcome,
    interrupted_result,
    run_coroutine,
    timeout_outcome,
    to_content,
)

__all__ = ["AsyncChildren", "AsyncLink", "SyncChildren", "SyncLink", "run_child_async", "run_child_sync"]

_NO_ONE = "no approver to ask: the run pauses until the call is approved (resume with approvals=)"


def wrap(name: str, call_id: str, event: AgentEvent) -> SubAgentEvent:
    """``event`` of the child ``name`` (started by call ``call_id``) as its parent passes it on."""
    if isinstance(event, SubAgentEvent):
        return SubAgentEvent(
            event.agent, event.depth + 1, (name, *event.path), (call_id, *event.call_path), event.event
        )
    return SubAgentEvent(name, 1, (name,), (call_id,), event)


class _Link:
    """The channel between one child run and its parent's driver (shared by both)."""

    def __init__(self, inv: ChildInvocation, parent: CancelToken | None) -> None:
        self.name = inv.scope.name
        self.call_id = inv.call.id
        self.token = CancelToken()
        """The child run's token: cancelled with the parent's, or when the parent abandons the call."""
        self.tally = Tally()
        """What the child's responses (and its sub-agents') used, by agent path."""
        self._unlink = parent.on_cancel(self.cancel) if parent is not None else (lambda: None)

    def cancel(self) -> None:
        """Stop the child run (at its next effect boundary)."""
        self.token.cancel("the parent run was cancelled, or stopped waiting for this sub-agent")

    def unlink(self) -> None:
        """The child run ended: stop listening to the parent's token."""
        self._unlink()

    def wrapped(self, event: AgentEvent) -> SubAgentEvent:
        """``event`` wrapped for the parent, counted when it is a model response."""
        out = wrap(self.name, self.call_id, event)
        if isinstance(out.event, ModelResponseFinished):
            self.tally.add_response("/".join(out.path), out.event.response)
        elif isinstance(out.event, ContextCompacted):  # its summary requests
            self.tally.add("/".join(out.path), out.event.usage, out.event.cost)
        return out

    def request(self, request: ApprovalRequest) -> ApprovalRequest:
        """``request`` as the parent shows it: naming this child."""
        return replace(request, agent="/".join(n for n in (self.name, request.agent) if n))


def _prompt(inv: ChildInvocation, started: float) -> str | ToolOutcome | None:
    """The child's prompt (``None`` when resuming), or the error outcome of a call without a task."""
    if inv.resume is not None:
        return None
    task = task_of(inv.call)
    if task is None or not task.strip():
        text = (
            f'Call {inv.tool.name} with a JSON object {{"task": "..."}}: the task for the sub-agent, with '
            "everything it needs to know."
        )
        result = ToolResult(inv.call.id, inv.call.name, (Text(text),), is_error=True)
        return ToolOutcome(result, "invalid_args", time.perf_counter() - started)
    return task


def _finished(inv: ChildInvocation, link: _Link, result: RunResult[Any], started: float, limit: int) -> ToolOutcome:
    duration = time.perf_counter() - started
    if result.status == "paused":
        text = "Waiting for approvals."
        placeholder = ToolResult(inv.call.id, inv.call.name, (Text(text),))
        return SubAgentOutcome(placeholder, "approval", duration, None, link.tally, result.paused)
    content = to_content(result.output, inv.tool.max_output or limit)
    return SubAgentOutcome(ToolResult(inv.call.id, inv.call.name, content), "ok", duration, None, link.tally)


def _failed(inv: ChildInvocation, link: _Link, exc: Exception, started: float) -> ToolOutcome:
    duration = time.perf_counter() - started
    if isinstance(exc, RunCancelled):
        return SubAgentOutcome(interrupted_result(inv.call), "interrupted", duration, exc, link.tally)
    reason = str(exc).split(" `.messages`")[0]
    text = f"The sub-agent {inv.tool.name!r} did not finish ({type(exc).__name__}): {reason}"
    result = ToolResult(inv.call.id, inv.call.name, (Text(text),), is_error=True)
    return SubAgentOutcome(result, "error", duration, exc, link.tally)


def _timed_out(inv: ToolInvocation, timeout: float, started: float, link: _Link | None) -> ToolOutcome:
    """The timeout outcome of a call; for a sub-agent, with what its run used until then."""
    outcome = timeout_outcome(inv, timeout, started)
    if link is None:
        return outcome
    return SubAgentOutcome(outcome.result, "timeout", outcome.duration, None, link.tally.snapshot())


# --------------------------------------------------------------------------- sync


class SyncLink(_Link):
    """A child run's link to a parent driven by the sync driver."""

    def __init__(self, inv: ChildInvocation, parent: CancelToken | None, inbox: queue.SimpleQueue[Any]) -> None:
        super().__init__(inv, parent)
        self.inbox = inbox

    def emit(self, event: AgentEvent) -> None:
        """Pass a child event up."""
        self.inbox.put(self.wrapped(event))

    def ask(self, request: ApprovalRequest) -> Decision:
        """The child's approver: the parent's driver answers (undecided if the child is cancelled meanwhile)."""
        box: cf.Future[Any] = cf.Future()
        self.inbox.put((self.request(request), box))
        waker: cf.Future[Any] = cf.Future()

        def wake() -> None:
            if not waker.done():
                waker.set_result(None)

        unregister = self.token.on_cancel(wake)
        try:
            cf.wait([box, waker], return_when=cf.FIRST_COMPLETED)
        finally:
            unregister()
        if box.done():
            decision: Decision = box.result()
            return decision
        return Ask("the run was cancelled")


def run_child_sync(inv: ChildInvocation, link: SyncLink, max_output: int) -> ToolOutcome:
    """Run (or resume) the child of ``inv`` with the sync driver, in this thread."""
    started = time.perf_counter()
    try:
        prompt = _prompt(inv, started)
        if isinstance(prompt, ToolOutcome):
            return prompt
        stream = inv.subagent.agent.stream(
            prompt,
            deps=inv.ctx.deps,
            cancel=link.token,
            approver=link.ask,
            budget=inv.budget,
            resume=inv.resume,
            approvals=inv.approvals or None,
            _stream_model=inv.scope.stream,
            _scope=inv.scope,
        )
        for event in stream:
            link.emit(event)
        return _finished(inv, link, stream.result, started, max_output)
    except (AgentRunError, ProviderError) as exc:
        return _failed(inv, link, exc, started)
    finally:
        link.unlink()


class SyncChildren:
    """The sub-agent calls of one tool batch in the sync driver, and the inbox their runs report to."""

    def __init__(self, cancel: CancelToken | None, approver: Approver | None) -> None:
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.cancel = cancel
        self.approver = approver
        self.links: dict[int, SyncLink] = {}

    def start(self, index: int, inv: ChildInvocation, max_output: int) -> cf.Future[Any]:
        """Start the child run of call ``index`` on a thread of its own."""
        link = self.links[index] = SyncLink(inv, self.cancel, self.inbox)
        future: cf.Future[Any] = cf.Future()
        future.set_running_or_notify_cancel()  # running: cancel() cannot take it from the thread that sets it
        context = contextvars.copy_context()

        def target() -> None:
            try:
                future.set_result(context.run(run_child_sync, inv, link, max_output))
            except BaseException as exc:  # handed to the parent's driver, raised there
                future.set_exception(exc)

        threading.Thread(target=target, name=f"podium-subagent-{inv.scope.name}", daemon=True).start()
        return future

    def abandon(self, index: int) -> None:
        """The parent stopped waiting for call ``index``: cancel its child run."""
        link = self.links.get(index)
        if link is not None:
            link.cancel()

    def used(self) -> dict[str, Tally]:
        """What each child run used so far, by call id."""
        return {link.call_id: link.tally.snapshot() for link in self.links.values()}

    def wait(
        self, index: int, inv: ToolInvocation, future: cf.Future[Any], started: float, steering: Inbox | None = None
    ) -> Generator[AgentEvent, None, ToolOutcome | Interrupted]:
        """Wait for call ``index`` (``future``), yielding the children's events and answering their approvals.

        ``Interrupted`` once the run is cancelled, or (``steered``) an interrupting message arrives in ``steering``.
        """
        timeout = inv.tool.timeout
        deadline = None if timeout is None else started + timeout
        unregister = self.cancel.on_cancel(lambda: self.inbox.put(None)) if self.cancel is not None else None
        unsteer = steering.on_interrupt(lambda: self.inbox.put(None)) if steering is not None else None
        future.add_done_callback(lambda _: self.inbox.put(None))  # a plain tool's future wakes the wait too
        try:
            while True:
                done = future.done()  # before draining: what the call emitted before it finished is queued
                yield from self._drain()
                if done:
                    outcome: ToolOutcome = future.result()
                    return outcome
                if self.cancel is not None and self.cancel.cancelled:
                    return Interrupted()
                if steering is not None and steering.interrupting:
                    return Interrupted(steered=True)
                if future.done():  # it finished while we drained, and its wake-up may be gone with the drain
                    continue
                left = None if deadline is None else deadline - time.perf_counter()
                if left is not None and left <= 0:
                    future.cancel()
                    inv.abandon()
                    self.abandon(index)
                    return _timed_out(inv, timeout or 0.0, started, self.links.get(index))
                try:
                    item = self.inbox.get(timeout=left)
                except queue.Empty:
                    continue
                yield from self._handle(item)
        finally:
            if unregister is not None:
                unregister()
            if unsteer is not None:
                unsteer()

    def _drain(self) -> Generator[AgentEvent, None, None]:
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                return
            yield from self._handle(item)

    def _handle(self, item: Any) -> Generator[AgentEvent, None, None]:
        if isinstance(item, SubAgentEvent):
            yield item
        elif isinstance(item, tuple):
            request, box = item
            try:
                box.set_result(self._answer(request))
            except Exception as exc:  # the approver failed: the child's run raises it
                box.set_exception(exc)

    def _answer(self, request: ApprovalRequest) -> Decision:
        if self.approver is None:
            return Ask(_NO_ONE)
        value: Any = self.approver(request)
        if inspect.isawaitable(value):
            aw = value
            value = run_coroutine(lambda: aw)
        return decision_from(value)


# --------------------------------------------------------------------------- async


class AsyncLink(_Link):
    """A child run's link to a parent driven by the async driver (both on one event loop)."""

    def __init__(self, inv: ChildInvocation, parent: CancelToken | None, inbox: _AsyncInbox) -> None:
        super().__init__(inv, parent)
        self.inbox = inbox

    def emit(self, event: AgentEvent) -> None:
        """Pass a child event up."""
        self.inbox.put(self.wrapped(event))

    async def ask(self, request: ApprovalRequest) -> Decision:
        """The child's approver: the parent's driver answers."""
        import asyncio

        box: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self.inbox.put((self.request(request), box))
        return await box


class _AsyncInbox:
    def __init__(self) -> None:
        import asyncio

        self.items: deque[Any] = deque()
        self.wake = asyncio.Event()

    def put(self, item: Any) -> None:
        self.items.append(item)
        self.wake.set()


async def run_child_async(inv: ChildInvocation, link: AsyncLink, max_output: int) -> ToolOutcome:
    """Run (or resume) the child of ``inv`` with the async driver, within the call's timeout."""
    import asyncio

    started = time.perf_counter()
    try:
        if inv.tool.timeout is None:
            return await _run_child_async(inv, link, max_output, started)
        try:
            return await asyncio.wait_for(_run_child_async(inv, link, max_output, started), inv.tool.timeout)
        except asyncio.TimeoutError:
            inv.abandon()
            link.cancel()
            return _timed_out(inv, inv.tool.timeout, started, link)
    finally:
        link.unlink()


async def _run_child_async(inv: ChildInvocation, link: AsyncLink, max_output: int, started: float) -> ToolOutcome:
    try:
        prompt = _prompt(inv, started)
        if isinstance(prompt, ToolOutcome):
            return prompt
        stream = inv.subagent.agent.astream(
            prompt,
            deps=inv.ctx.deps,
            cancel=link.token,
            approver=cast("Approver", link.ask),  # an approver may be async
            budget=inv.budget,
            resume=inv.resume,
            approvals=inv.approvals or None,
            _stream_model=inv.scope.stream,
            _scope=inv.scope,
        )
        async for event in stream:
            link.emit(event)
        return _finished(inv, link, stream.result, started, max_output)
    except (AgentRunError, ProviderError) as exc:
        return _failed(inv, link, exc, started)


class AsyncChildren:
    """The sub-agent calls of one tool batch in the async driver, and the inbox their runs report to."""

    def __init__(self, cancel: CancelToken | None, approver: Approver | None) -> None:
        self.inbox = _AsyncInbox()
        self.cancel = cancel
        self.approver = approver
        self.links: dict[int, AsyncLink] = {}

    def start(self, index: int, inv: ChildInvocation, max_output: int) -> Awaitable[ToolOutcome]:
        """The coroutine that runs the child of call ``index``."""
        link = self.links[index] = AsyncLink(inv, self.cancel, self.inbox)
        return run_child_async(inv, link, max_output)

    def abandon(self, index: int) -> None:
        """The parent stopped waiting for call ``index``: cancel its child run."""
        link = self.links.get(index)
        if link is not None:
            link.cancel()

    def used(self) -> dict[str, Tally]:
        """What each child run used so far, by call id."""
        return {link.call_id: link.tally.snapshot() for link in self.links.values()}

    async def wait(
        self, task: Any, interruption: Callable[[], Interrupted | None], halt: Any
    ) -> AsyncIterator[AgentEvent | ToolOutcome | Interrupted]:
        """Wait for ``task``, yielding the children's events (and answering approvals); its outcome last.

        ``interruption()`` says whether the run was cancelled or steered; ``halt`` (an event) is set when it is.
        """
        import asyncio

        while True:
            done = task.done()
            while self.inbox.items:
                item = self.inbox.items.popleft()
                if isinstance(item, SubAgentEvent):
                    yield item
                else:
                    await self._answer(*item)
            if done:
                yield task.result()
                return
            stopped = interruption()
            if stopped is not None:
                yield stopped
                return
            self.inbox.wake.clear()
            waiters = [asyncio.ensure_future(self.inbox.wake.wait()), asyncio.ensure_future(halt.wait())]
            try:
                await asyncio.wait([task, *waiters], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def _answer(self, request: ApprovalRequest, box: Any) -> None:
        try:
            if self.approver is None:
                decision: Decision = Ask(_NO_ONE)
            else:
                value: Any = self.approver(request)
                if inspect.isawaitable(value):
                    value = await value
                decision = decision_from(value)
        except Exception as exc:  # the approver failed: the child's run raises it
            if not box.done():
                box.set_exception(exc)
            return
        if not box.done():
            box.set_result(decision)
