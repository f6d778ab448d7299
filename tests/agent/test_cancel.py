"""Cancelling a run from another thread or task leaves a valid history."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest

from podium import Agent, CancelToken, tool
from podium.exceptions import ProviderConnectionError, RunCancelled
from podium.messages import Message, ModelResponse, Text
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import StreamEvent, TextDelta
from podium.testing import ScriptedModel
from podium.testing.models import call
from podium.tools.context import RunContext


@tool
def quick(n: int) -> str:
    """Returns at once."""
    return f"quick {n}"


def check_interrupted(messages: list[Message]) -> None:
    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    calls = messages[1].tool_calls
    results = messages[2].tool_results
    assert [r.call_id for r in results] == [c.id for c in calls]
    assert results[0].text == "quick 0" and not results[0].interrupted
    assert results[1].interrupted and results[1].is_error
    assert results[2].interrupted


def three_calls() -> ScriptedModel:
    return ScriptedModel([[call("quick", {"n": 0}), call("block", {}), call("quick", {"n": 2})], "never"])


def test_cancel_from_another_thread_during_tools() -> None:
    """The cancel comes from another thread once the first result is in and the blocking call runs."""
    blocker = Blocker()
    model = three_calls()
    token = CancelToken()
    first_done = threading.Event()
    threading.Thread(target=lambda: first_done.wait(30) and blocker.started.wait(30) and token.cancel()).start()
    try:
        with pytest.raises(RunCancelled) as info:
            for event in Agent(model, tools=[quick, blocker.tool]).stream("go", cancel=token):
                if event.kind == "tool_call_finished":
                    first_done.set()
        assert not blocker.finished.is_set()  # it came back without waiting for the blocking tool
    finally:
        blocker.release.set()
    check_interrupted(info.value.messages)
    assert len(model.requests) == 1  # no further model request


def test_cancel_from_another_task_during_tools() -> None:
    async def main() -> None:
        ended = asyncio.Event()

        @tool(name="block")
        async def ablock() -> str:
            """Sleeps long (async)."""
            try:
                await asyncio.sleep(30)
            finally:
                ended.set()
            return "slept"

        token = CancelToken()
        stream = Agent(three_calls(), tools=[quick, ablock]).astream("go", cancel=token)
        with pytest.raises(RunCancelled) as info:
            async for event in stream:
                if event.kind == "tool_call_finished":  # quick 0 is in; the async tool sleeps
                    asyncio.get_running_loop().call_soon(token.cancel)
        check_interrupted(info.value.messages)
        await ended.wait()  # the abandoned task was cancelled, not left sleeping for 30 s

    asyncio.run(asyncio.wait_for(main(), 20))


def test_cancel_through_the_stream_handle() -> None:
    model = ScriptedModel([[call("quick", {"n": 0})], "never"])
    stream = Agent(model, tools=[quick]).stream("go")
    seen = []
    with pytest.raises(RunCancelled) as info:
        for event in stream:
            seen.append(event.kind)
            if event.kind == "tool_call_started":
                stream.cancel()
    assert seen[-1] == "tool_call_started"
    assert info.value.messages[-1].tool_results[0].interrupted


class SlowStreamModel(ScriptedModel):
    """Streams one word at a time (a stand-in for a slow provider)."""

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> Iterator[StreamEvent]:
        words = ["one ", "two ", "three ", "four ", "five"]
        for w in words:
            time.sleep(0.01)
            yield TextDelta(0, w)
        yield ModelResponse((Text("".join(words)),))


def test_cancel_during_a_streamed_reply_keeps_the_partial_text() -> None:
    token = CancelToken()
    seen: list[str] = []
    with pytest.raises(RunCancelled) as info:
        for event in Agent(SlowStreamModel([])).stream("count", cancel=token):
            if isinstance(event, TextDelta):
                seen.append(event.text)
                if len(seen) == 2:
                    token.cancel()
    messages = info.value.messages
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].finish_reason == "cancelled"
    assert messages[1].text == "one two " == "".join(seen)


def test_cancel_before_start_sends_nothing() -> None:
    token = CancelToken()
    token.cancel()
    model = ScriptedModel(["x"])
    with pytest.raises(RunCancelled) as info:
        Agent(model).run("go", cancel=token)
    assert len(model.requests) == 0
    assert [m.role for m in info.value.messages] == ["user"]


class FailingModel(ScriptedModel):
    def request(self, messages: Sequence[Message], **kwargs: object) -> ModelResponse:  # type: ignore[override]
        raise ProviderConnectionError("unreachable", provider="test")


def test_provider_error_carries_a_valid_history() -> None:
    with pytest.raises(ProviderConnectionError) as info:
        Agent(FailingModel([])).run("hello")
    assert info.value.messages is not None
    assert [m.text for m in info.value.messages] == ["hello"]


def test_token_callbacks() -> None:
    token = CancelToken()
    calls: list[str] = []
    remove = token.on_cancel(lambda: calls.append("a"))
    token.on_cancel(lambda: calls.append("b"))
    remove()
    token.cancel("stop")
    token.cancel("again")
    token.on_cancel(lambda: calls.append("late"))
    assert calls == ["b", "late"]
    assert token.cancelled and token.reason == "stop"


class SlowAsyncStreamModel(ScriptedModel):
    """Streams words from ``astream``; with ``stall``, hangs after the second one. Records that it was closed."""

    closed = False
    stall = False

    async def astream(  # type: ignore[override]
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] | None = None,
        settings: ModelSettings | None = None,
        output: OutputSchema | None = None,
    ) -> AsyncIterator[StreamEvent]:
        words = ["one ", "two ", "three ", "four ", "five"]
        try:
            for i, w in enumerate(words):
                await asyncio.sleep(30 if self.stall and i == 2 else 0.01)
                yield TextDelta(0, w)
            yield ModelResponse((Text("".join(words)),))
        finally:
            SlowAsyncStreamModel.closed = True


def test_cancel_during_an_async_streamed_reply_keeps_the_partial_text_and_closes_the_stream() -> None:
    """The model hangs after two words; the cancel stops the stream at once (not 30 s later)."""

    async def main() -> None:
        token = CancelToken()
        model = SlowAsyncStreamModel([])
        model.stall = True
        seen: list[str] = []
        with pytest.raises(RunCancelled) as info:
            async for event in Agent(model).astream("count", cancel=token):
                if isinstance(event, TextDelta):
                    seen.append(event.text)
                    if len(seen) == 2:
                        token.cancel()
        messages = info.value.messages
        assert [m.role for m in messages] == ["user", "assistant"]
        assert messages[1].finish_reason == "cancelled"
        assert messages[1].text == "".join(seen) == "one two "
        assert SlowAsyncStreamModel.closed

    asyncio.run(asyncio.wait_for(main(), 20))


def test_async_stream_events_arrive_in_order_with_the_final_response() -> None:
    async def main() -> None:
        texts = [e.text async for e in Agent(SlowAsyncStreamModel([])).astream("count") if isinstance(e, TextDelta)]
        assert texts == ["one ", "two ", "three ", "four ", "five"]

    asyncio.run(main())


class Blocker:
    """A sync tool that blocks until released; says when it started and ended. A ``cooperative`` one also
    stops when Podium abandons its call (``ctx.abandoned``)."""

    def __init__(self, timeout: float | None = None, cooperative: bool = False) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.saw_abandon = False

        def block() -> str:
            """Blocks until released."""
            self.started.set()
            self.release.wait(30)
            self.finished.set()
            return "released"

        def block_until_abandoned(ctx: RunContext[Any]) -> str:
            """Blocks until released or abandoned."""
            self.started.set()
            while not self.release.is_set():
                if ctx.abandoned.wait(0.01):
                    self.saw_abandon = True
                    break
            self.finished.set()
            return "released"

        self.tool = tool(name="block", timeout=timeout)(block_until_abandoned if cooperative else block)


def cancel_when(event: threading.Event, token: CancelToken) -> None:
    def go() -> None:
        if event.wait(30):
            token.cancel()

    threading.Thread(target=go, daemon=True).start()


@pytest.mark.parametrize("timeout", [None, 60.0], ids=["no-timeout", "timeout"])
@pytest.mark.parametrize("entry", ["run", "stream", "arun"])
def test_cancel_during_one_sync_tool_call_comes_back_before_the_tool_ends(entry: str, timeout: float | None) -> None:
    blocker = Blocker(timeout)
    model = ScriptedModel([[call("block")], "never"])
    agent = Agent(model, tools=[blocker.tool])
    token = CancelToken()
    cancel_when(blocker.started, token)
    try:
        with pytest.raises(RunCancelled) as info:
            if entry == "run":
                agent.run("go", cancel=token)
            elif entry == "stream":
                for _ in agent.stream("go", cancel=token):
                    pass
            else:
                asyncio.run(agent.arun("go", cancel=token))
        assert not blocker.release.is_set() and blocker.started.is_set()
    finally:
        blocker.release.set()
    messages = info.value.messages
    assert [m.role for m in messages] == ["user", "assistant", "tool"]
    [result] = messages[2].tool_results
    assert result.interrupted and result.is_error and result.call_id == messages[1].tool_calls[0].id
    assert len(model.requests) == 1


def test_an_abandoned_call_is_told_through_its_context() -> None:
    blocker = Blocker(cooperative=True)
    token = CancelToken()
    cancel_when(blocker.started, token)
    with pytest.raises(RunCancelled):
        Agent(ScriptedModel([[call("block")], "never"]), tools=[blocker.tool]).run("go", cancel=token)
    assert blocker.finished.wait(10)  # it stopped on its own, never released
    assert blocker.saw_abandon and not blocker.release.is_set()


def test_a_timed_out_call_is_told_through_its_context() -> None:
    blocker = Blocker(timeout=0.05, cooperative=True)
    result = Agent(ScriptedModel([[call("block")], "gave up"]), tools=[blocker.tool]).run("go")
    [r] = result.messages[2].tool_results
    assert r.is_error and "timeout" in r.text
    assert blocker.finished.wait(10)
    assert blocker.saw_abandon and not blocker.release.is_set()
