"""Steering a running run: messages sent with ``stream.send`` reach the model's next request, history valid."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from podium import Agent, CancelToken, tool
from podium.agent.approval import ApprovalPolicy, PausedRun, Rule
from podium.agent.events import AgentEvent, MessageDelivered, ModelRequestStarted, RunFinished, RunPaused
from podium.exceptions import MaxStepsExceeded, RunCancelled, UserError
from podium.messages import Image, Message, Text, ToolCall
from podium.streaming import StreamEvent, TextDelta
from podium.testing import FunctionModel, ScriptedModel
from podium.testing.models import AgentInfo, call
from podium.tools.context import RunContext

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def check_valid(messages: Sequence[Message]) -> None:
    """Every tool call is answered, in order, by the very next message; nothing else comes between."""
    for i, message in enumerate(messages):
        calls = message.tool_calls if message.role == "assistant" else []
        if calls:
            assert i + 1 < len(messages), "the history ends with unanswered calls"
            answer = messages[i + 1]
            assert answer.role == "tool"
            assert [r.call_id for r in answer.tool_results] == [c.id for c in calls]
        if message.role == "tool":
            assert i > 0 and messages[i - 1].tool_calls


class Gate:
    """A sync tool ``wait`` that blocks until released (or abandoned), and says when it started."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.abandoned = threading.Event()

        @tool(name="wait")
        def wait(ctx: RunContext[Any]) -> str:
            """Blocks until released."""
            self.started.set()
            while not self.release.wait(0.01):
                if ctx.abandoned.is_set():
                    self.abandoned.set()
                    return "abandoned"
            return "done waiting"

        self.tool = wait


@tool
def quick(n: int) -> str:
    """Returns at once."""
    return f"quick {n}"


def after(event: threading.Event, action: Any) -> threading.Thread:
    """Run ``action()`` in another thread once ``event`` is set."""

    def go() -> None:
        assert event.wait(30)
        action()

    thread = threading.Thread(target=go)
    thread.start()
    return thread


def request_messages(model: ScriptedModel, n: int) -> list[Message]:
    """The conversation the model received in request ``n`` (0-based), without instructions."""
    return [m for m in model.requests[n][0] if m.role != "system"]


# --------------------------------------------------------------------------- delivery while tools run


def test_message_sent_while_tools_run_is_in_the_next_request() -> None:
    gate = Gate()
    model = ScriptedModel([[call("quick", {"n": 1}), call("wait", {})], "done, and X too"])
    stream = Agent(model, tools=[quick, gate.tool]).stream("do it")

    def send_then_release() -> None:
        stream.send("also do X")
        gate.release.set()

    sender = after(gate.started, send_then_release)
    events = list(stream)
    sender.join()

    sent = request_messages(model, 1)
    assert [m.role for m in sent] == ["user", "assistant", "tool", "user"]
    assert [r.text for r in sent[2].tool_results] == ["quick 1", "done waiting"]  # started tools finished
    assert sent[3].text == "also do X"
    check_valid(sent)
    assert len(model.requests[0][0]) == 1  # the first request did not have it

    result = stream.result
    assert result.output == "done, and X too"
    assert result.messages == [*sent, result.messages[-1]]
    check_valid(result.messages)
    delivered = [e for e in events if isinstance(e, MessageDelivered)]
    assert [e.message.text for e in delivered] == ["also do X"]
    starts = [e for e in events if isinstance(e, ModelRequestStarted)]
    assert [m.role for m in starts[1].appended] == ["tool", "user"]  # the store saves it in order
    assert events.index(delivered[0]) < events.index(starts[1])


def test_async_send_from_another_task_while_an_async_tool_runs() -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    @tool
    async def slow() -> str:
        """Waits for the test."""
        started.set()
        await release.wait()
        return "slow done"

    model = ScriptedModel([[call("slow", {})], "ok"])

    async def main() -> None:
        stream = Agent(model, tools=[slow]).astream("go")

        async def steer() -> None:
            await started.wait()
            await stream.send("and also Y")
            await stream.send(["look at this", Image(data=PNG, media_type="image/png")])
            release.set()

        steering = asyncio.create_task(steer())
        events = [e async for e in stream]
        await steering
        assert sum(isinstance(e, MessageDelivered) for e in events) == 2
        assert stream.result.output == "ok"
        with pytest.raises(UserError, match="has ended"):
            await stream.send("too late")

    asyncio.run(main())
    sent = request_messages(model, 1)
    assert [m.role for m in sent] == ["user", "assistant", "tool", "user", "user"]
    assert sent[2].tool_results[0].text == "slow done"
    assert sent[3].text == "and also Y"
    assert isinstance(sent[4].parts[1], Image)
    check_valid(sent)


def test_async_send_from_a_thread_while_a_sync_tool_runs() -> None:
    gate = Gate()
    model = ScriptedModel([[call("wait", {})], "ok"])

    async def main() -> list[AgentEvent]:
        stream = Agent(model, tools=[gate.tool]).astream("go")

        def from_thread() -> None:
            asyncio.run(stream.send("from a thread"))
            gate.release.set()

        sender = after(gate.started, from_thread)
        events = [e async for e in stream]
        sender.join()
        return events

    asyncio.run(main())
    assert request_messages(model, 1)[-1].text == "from a thread"


def test_sent_before_the_run_starts_follows_the_prompt() -> None:
    model = ScriptedModel(["ok"])
    stream = Agent(model).stream("first")
    stream.send("second")
    list(stream)
    assert [m.text for m in request_messages(model, 0)] == ["first", "second"]
    assert len(model.requests) == 1


# --------------------------------------------------------------------------- the end of a run


def test_sent_while_the_final_answer_streams_makes_the_run_go_on() -> None:
    model = ScriptedModel(["a long final answer " * 5, "the answer with Z"], stream_chunk=3)
    stream = Agent(model).stream("question")
    sent = False
    for event in stream:
        if isinstance(event, TextDelta) and not sent:
            stream.send("oh, and consider Z")  # same thread as the driver: between two stream events
            sent = True
    result = stream.result
    assert result.output == "the answer with Z"
    assert result.steps == 2
    second = request_messages(model, 1)
    assert [m.role for m in second] == ["user", "assistant", "user"]
    assert second[1].text == "a long final answer " * 5  # the first answer is kept whole
    assert second[2].text == "oh, and consider Z"


class GatedStreamModel(ScriptedModel):
    """Streams its first reply's first delta, then waits for ``gate`` before the rest."""

    def __init__(self, responses: Sequence[Any]) -> None:
        super().__init__(responses, stream_chunk=2)
        self.first_delta = threading.Event()
        self.gate = threading.Event()

    def stream(self, messages: Sequence[Message], **options: Any) -> Iterator[StreamEvent]:
        first = not self.requests
        for n, event in enumerate(super().stream(messages, **options)):
            if first and n == 1:
                self.first_delta.set()
                assert self.gate.wait(30)
            yield event


def test_sent_from_another_thread_while_the_driver_blocks_on_the_model_stream() -> None:
    model = GatedStreamModel(["first answer", "second answer"])
    stream = Agent(model).stream("q")

    def send_then_open() -> None:
        stream.send("one more thing")
        model.gate.set()

    sender = after(model.first_delta, send_then_open)
    list(stream)
    sender.join()
    assert stream.result.output == "second answer"
    assert request_messages(model, 1)[-1].text == "one more thing"


def test_send_after_the_run_ended_is_an_error_not_a_silent_loss() -> None:
    stream = Agent(ScriptedModel(["ok"])).stream("q")
    list(stream)
    with pytest.raises(UserError, match="has ended"):
        stream.send("too late")


def test_send_after_a_failed_run_errors_and_undelivered_messages_are_reported() -> None:
    gate = Gate()
    token = CancelToken()
    model = ScriptedModel([[call("wait", {})], "never"])
    stream = Agent(model, tools=[gate.tool]).stream("q", cancel=token)

    def send_then_cancel() -> None:
        stream.send("this will not be delivered")
        token.cancel()

    sender = after(gate.started, send_then_cancel)
    with pytest.raises(RunCancelled) as info:
        list(stream)
    sender.join()
    gate.release.set()
    check_valid(info.value.messages)
    assert [m.text for m in stream.undelivered] == ["this will not be delivered"]
    with pytest.raises(UserError, match="has ended"):
        stream.send("after the cancel")


def test_max_steps_still_applies_and_the_message_is_kept() -> None:
    gate = Gate()
    model = ScriptedModel([[call("wait", {})], "never"])
    stream = Agent(model, tools=[gate.tool], max_steps=1).stream("q")

    def send_then_release() -> None:
        stream.send("keep going")
        gate.release.set()

    sender = after(gate.started, send_then_release)
    with pytest.raises(MaxStepsExceeded) as info:
        list(stream)
    sender.join()
    messages = info.value.messages
    assert messages is not None
    assert [m.role for m in messages] == ["user", "assistant", "tool", "user"]
    assert messages[-1].text == "keep going"  # in the history to continue from, not lost
    assert len(model.requests) == 1


# --------------------------------------------------------------------------- interrupt=True


def test_interrupt_abandons_running_tools_and_goes_on_with_the_message() -> None:
    gate = Gate()
    model = ScriptedModel([[call("quick", {"n": 1}), call("wait", {}), call("quick", {"n": 3})], "changed course"])
    stream = Agent(model, tools=[quick, gate.tool]).stream("do it")
    sender = after(gate.started, lambda: stream.send("stop, do Y instead", interrupt=True))
    try:
        events = list(stream)  # returns without the blocked call returning
        assert gate.abandoned.wait(5)  # the running call was told
    finally:
        sender.join()
        gate.release.set()
    assert stream.result.output == "changed course"
    sent = request_messages(model, 1)
    assert [m.role for m in sent] == ["user", "assistant", "tool", "user"]
    results = sent[2].tool_results
    assert results[0].text == "quick 1" and not results[0].interrupted  # finished calls keep their results
    assert results[1].interrupted and results[1].is_error
    assert "new message" in results[1].text
    check_valid(sent)
    assert sent[3].text == "stop, do Y instead"
    assert any(isinstance(e, RunFinished) for e in events)


def test_interrupt_async_while_tools_run() -> None:
    started = asyncio.Event()
    cancelled = []

    @tool
    async def forever() -> str:
        """Never returns on its own."""
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "no"

    model = ScriptedModel([[call("forever", {})], "ok"])

    async def main() -> None:
        stream = Agent(model, tools=[forever]).astream("go")

        async def steer() -> None:
            await started.wait()
            await stream.send("never mind", interrupt=True)

        task = asyncio.create_task(steer())
        async for _ in stream:
            pass
        await task
        assert stream.result.output == "ok"

    asyncio.run(asyncio.wait_for(main(), 20))
    sent = request_messages(model, 1)
    assert sent[2].tool_results[0].interrupted
    assert sent[3].text == "never mind"
    assert cancelled == [True]


def test_interrupt_stops_a_streaming_answer_and_keeps_its_text() -> None:
    model = ScriptedModel(["word " * 200, "short"], stream_chunk=5)
    stream = Agent(model).stream("q")
    deltas = 0
    for event in stream:
        if isinstance(event, TextDelta) and model.requests and len(model.requests) == 1:
            deltas += 1
            if deltas == 3:
                stream.send("stop and be short", interrupt=True)
    assert deltas == 3  # the stream stopped at once
    assert stream.result.output == "short"
    second = request_messages(model, 1)
    assert [m.role for m in second] == ["user", "assistant", "user"]
    assert second[1].text == "word word word "  # what had streamed
    assert second[1].finish_reason == "cancelled"
    assert second[2].text == "stop and be short"


def test_interrupt_async_stops_a_streaming_answer() -> None:
    model = ScriptedModel(["word " * 200, "short"], stream_chunk=5)

    async def main() -> int:
        stream = Agent(model).astream("q")
        deltas = 0
        async for event in stream:
            if isinstance(event, TextDelta) and len(model.requests) == 1:
                deltas += 1
                if deltas == 2:
                    await stream.send("stop", interrupt=True)
        assert stream.result.output == "short"
        return deltas

    deltas = asyncio.run(main())
    assert deltas <= 3  # the stream pump may have one more event in hand
    second = request_messages(model, 1)
    assert second[1].finish_reason == "cancelled"
    assert second[2].text == "stop"


def test_tools_asked_for_while_an_interrupt_waits_are_not_started() -> None:
    ran = []

    @tool
    def side_effect() -> str:
        """Must not run."""
        ran.append(True)
        return "ran"

    def reply(messages: list[Message], info: AgentInfo) -> Any:
        if info.step == 0:
            stream.send("wait, don't", interrupt=True)  # arrives while the (non-streamed) request is out
            return [call("side_effect", {})]
        return "ok"

    model = FunctionModel(reply)
    stream = Agent(model, tools=[side_effect]).stream("q", _stream_model=False)
    list(stream)
    assert ran == []
    sent = [m for m in model.requests[1][0]]
    assert [m.role for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[2].tool_results[0].interrupted
    assert sent[3].text == "wait, don't"
    assert stream.result.output == "ok"


# --------------------------------------------------------------------------- order, pause, bad input


def test_concurrent_sends_keep_their_order() -> None:
    gate = Gate()
    model = ScriptedModel([[call("wait", {})], "ok"])
    stream = Agent(model, tools=[gate.tool]).stream("q")
    senders = 4
    per_sender = 25

    def burst(who: int) -> None:
        for n in range(per_sender):
            stream.send(f"{who}:{n}")

    def all_then_release() -> None:
        threads = [threading.Thread(target=burst, args=(w,)) for w in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        gate.release.set()

    sender = after(gate.started, all_then_release)
    list(stream)
    sender.join()
    sent = request_messages(model, 1)[3:]
    assert all(m.role == "user" for m in sent)
    texts = [m.text for m in sent]
    assert len(texts) == senders * per_sender
    for who in range(senders):
        assert [t for t in texts if t.startswith(f"{who}:")] == [f"{who}:{n}" for n in range(per_sender)]


def test_a_paused_run_keeps_queued_messages_and_delivers_them_on_resume() -> None:
    gate = Gate()

    @tool
    def deploy() -> str:
        """Needs a person's yes."""
        return "deployed"

    policy = ApprovalPolicy([Rule("allow", tool="wait"), Rule("ask", tool="deploy")])
    model = ScriptedModel([[call("wait", {}, id="w"), call("deploy", {}, id="d")], "deployed, and noted"])
    agent = Agent(model, tools=[gate.tool, deploy], policy=policy)
    stream = agent.stream("ship it")

    def send_then_release() -> None:
        stream.send("use the blue build")
        gate.release.set()

    sender = after(gate.started, send_then_release)
    events = list(stream)
    sender.join()
    assert isinstance(events[-1], RunPaused)
    paused = stream.result.paused
    assert paused is not None
    assert [m.text for m in paused.queued] == ["use the blue build"]
    with pytest.raises(UserError, match="has ended"):
        stream.send("while paused")

    restored = PausedRun.from_json(paused.to_json())  # survives a restart
    assert restored.queued == paused.queued
    resumed = agent.stream(resume=restored, approvals={"d": True})
    resumed_events = list(resumed)
    assert resumed.result.output == "deployed, and noted"
    sent = request_messages(model, 1)
    assert [m.role for m in sent] == ["user", "assistant", "tool", "user"]
    assert [r.text for r in sent[2].tool_results] == ["done waiting", "deployed"]
    assert sent[3].text == "use the blue build"
    assert [e.message.text for e in resumed_events if isinstance(e, MessageDelivered)] == ["use the blue build"]


def test_paused_run_json_without_queued_messages_is_unchanged() -> None:
    paused = PausedRun([Message.user("q")], [])
    assert '"queued"' not in paused.to_json()
    assert PausedRun.from_json(paused.to_json()).queued == []


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ([], "empty"),
        ([ToolCall("c1", "quick", {"n": 1})], "not ToolCall"),
        (Message.assistant("hi"), "role 'assistant'"),
        (42, "got int"),
    ],
)
def test_bad_messages_are_refused_with_a_clear_error(content: Any, match: str) -> None:
    model = ScriptedModel(["ok"])
    stream = Agent(model).stream("q")
    with pytest.raises(UserError, match=match):
        stream.send(content)
    list(stream)
    assert len(model.requests[0][0]) == 1  # nothing half-sent


def test_a_user_message_and_parts_are_accepted_like_a_prompt() -> None:
    model = ScriptedModel(["ok"])
    stream = Agent(model).stream("q")
    stream.send(Message.user("as a message"))
    stream.send(["text and ", Text("parts"), Image(data=PNG, media_type="image/png")])
    list(stream)
    sent = request_messages(model, 0)
    assert [m.text for m in sent] == ["q", "as a message", "text and parts"]
    assert isinstance(sent[2].parts[2], Image)


# --------------------------------------------------------------------------- the store and the sans-IO loop


def test_the_recorder_stores_delivered_messages_in_order(tmp_path: Any) -> None:
    from podium.agent.recording import RunRecorder
    from podium.store import SQLiteStore

    store = SQLiteStore(tmp_path / "conv.db")
    conv = store.create()
    gate = Gate()
    model = ScriptedModel([[call("wait", {})], "ok"])
    stream = Agent(model, tools=[gate.tool]).stream("q")

    def send_then_release() -> None:
        stream.send("steer")
        gate.release.set()

    sender = after(gate.started, send_then_release)
    with RunRecorder(store, conv.id) as recorder:
        for event in stream:
            recorder.record(event)
    sender.join()
    stored = store.messages(conv.id)
    assert [m.role for m in stored] == ["user", "assistant", "tool", "user", "assistant"]
    assert stored[3].text == "steer"
    assert stored == stream.result.messages
    store.close()


def test_a_replay_driver_answers_take_messages_from_a_trace() -> None:
    """The loop learns of sent messages only through ``TakeMessages``: a driver can answer it from a record."""
    from podium.agent.effects import RequestModel, TakeMessages
    from podium.agent.loop import LoopSpec, agent_loop
    from podium.agent.output import OutputHandler
    from podium.messages import ModelResponse

    trace: list[Any] = [[Message.user("recorded steer")], ModelResponse((Text("answer"),)), [], None]
    gen = agent_loop(LoopSpec(prompt=(Text("q"),), history=[], tools={}, output=OutputHandler(None, "auto")))
    answer: Any = None
    takes = 0
    requests: list[RequestModel] = []
    while True:
        try:
            item = gen.send(answer)
        except StopIteration as stop:
            result = stop.value
            break
        answer = None
        if isinstance(item, TakeMessages):
            takes += 1
            answer = trace.pop(0)
        elif isinstance(item, RequestModel):
            requests.append(item)
            answer = trace.pop(0)
    assert takes == 2  # one before the request, one (final) before the run ends
    assert [m.text for m in requests[0].messages] == ["q", "recorded steer"]
    assert result.output == "answer"


def test_a_driver_that_answers_take_messages_with_none_still_works() -> None:
    from podium.agent.effects import RequestModel, TakeMessages
    from podium.agent.loop import LoopSpec, agent_loop
    from podium.agent.output import OutputHandler
    from podium.messages import ModelResponse

    gen = agent_loop(LoopSpec(prompt=(Text("q"),), history=[], tools={}, output=OutputHandler(None, "auto")))
    answer: Any = None
    output = None
    while True:
        try:
            item = gen.send(answer)
        except StopIteration as stop:
            output = stop.value.output
            break
        answer = ModelResponse((Text("a"),)) if isinstance(item, RequestModel) else None
        assert not isinstance(item, TakeMessages) or answer is None
    assert output == "a"


def test_take_messages_answered_with_a_non_user_message_is_refused() -> None:
    from podium.agent.effects import TakeMessages
    from podium.agent.loop import LoopSpec, agent_loop
    from podium.agent.output import OutputHandler

    gen = agent_loop(LoopSpec(prompt=(Text("q"),), history=[], tools={}, output=OutputHandler(None, "auto")))
    item = gen.send(None)
    while not isinstance(item, TakeMessages):
        item = gen.send(None)
    with pytest.raises(UserError, match="user messages"):
        gen.send([Message.assistant("injected")])


def test_a_pausing_run_looks_again_until_the_inbox_is_empty() -> None:
    """Messages that arrive while the loop hands the first ones to the pause also go with it (none left behind)."""
    from podium.agent.effects import AskApproval, RequestModel, TakeMessages
    from podium.agent.loop import LoopSpec, agent_loop
    from podium.agent.output import OutputHandler
    from podium.messages import ModelResponse

    @tool
    def deploy() -> str:
        """Needs a yes."""
        return "deployed"

    spec: LoopSpec[str] = LoopSpec(
        prompt=(Text("q"),),
        history=[],
        tools={"deploy": deploy},
        output=OutputHandler(None, "auto"),
        policy=ApprovalPolicy([Rule("ask", tool="deploy")]),
    )
    gen = agent_loop(spec)
    finals = [[Message.user("first")], [Message.user("second")], []]
    answer: Any = None
    final_takes = 0
    while True:
        try:
            item = gen.send(answer)
        except StopIteration as stop:
            result = stop.value
            break
        answer = None
        if isinstance(item, TakeMessages) and item.final:
            final_takes += 1
            answer = finals.pop(0)
        elif isinstance(item, RequestModel):
            answer = ModelResponse((ToolCall("d1", "deploy", {}),))
        elif isinstance(item, AskApproval):
            answer = {}
    assert final_takes == 3
    assert result.status == "paused"
    assert [m.text for m in result.paused.queued] == ["first", "second"]


def test_the_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "steering.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, str(page), "exec"), {})
    out = capsys.readouterr().out
    assert "delivered: also add tests" in out
    assert "['user', 'assistant', 'tool', 'user', 'assistant']" in out


def test_async_sent_while_the_final_answer_streams_and_from_many_tasks_in_order() -> None:
    model = ScriptedModel(["a long final answer " * 5, "the answer with all of it"], stream_chunk=3)

    async def main() -> None:
        stream = Agent(model).astream("question")
        sent = False
        async for event in stream:
            if isinstance(event, TextDelta) and not sent:
                sent = True

                async def burst(who: int) -> None:
                    for n in range(10):
                        await stream.send(f"{who}:{n}")
                        await asyncio.sleep(0)

                await asyncio.gather(*(burst(w) for w in range(3)))
        assert stream.result.output == "the answer with all of it"

    asyncio.run(main())
    second = request_messages(model, 1)
    assert [m.role for m in second[:2]] == ["user", "assistant"]
    texts = [m.text for m in second[2:]]
    assert len(texts) == 30
    for who in range(3):
        assert [t for t in texts if t.startswith(f"{who}:")] == [f"{who}:{n}" for n in range(10)]


def random_sends_during_a_run(rng: Any, use_async: bool) -> None:
    """One run of 3 tool turns; another thread sends 12 messages at random moments (every 5th interrupting)."""

    @tool
    def work(n: int) -> str:
        """A short piece of work."""
        threading.Event().wait(rng.random() * 0.004)
        return f"worked {n}"

    def reply(messages: list[Message], info: AgentInfo) -> Any:
        if info.step < 3:
            return [call("work", {"n": info.step}), call("work", {"n": info.step + 10})]
        return "finished"

    agent = Agent(FunctionModel(reply, stream_chunk=2), tools=[work])
    accepted: list[str] = []
    refused: list[str] = []
    go = threading.Event()

    def sender(send: Any) -> None:
        go.wait(10)
        for n in range(12):
            threading.Event().wait(rng.random() * 0.003)
            try:
                send(f"m{n}", n % 5 == 4)
            except UserError:
                refused.append(f"m{n}")
            else:
                accepted.append(f"m{n}")

    async def main() -> Any:
        stream = agent.astream("start")
        thread = threading.Thread(target=sender, args=(lambda t, i: asyncio.run(stream.send(t, interrupt=i)),))
        thread.start()
        go.set()
        async for _ in stream:
            pass
        await asyncio.to_thread(thread.join)
        return stream

    if use_async:
        stream: Any = asyncio.run(main())
    else:
        stream = agent.stream("start")
        thread = threading.Thread(target=sender, args=(lambda t, i: stream.send(t, interrupt=i),))
        thread.start()
        go.set()
        list(stream)
        thread.join()
    messages = stream.result.messages
    check_valid(messages)
    delivered = [m.text for m in messages if m.role == "user"][1:]
    assert delivered == accepted  # every accepted message, once, in the order sent
    assert refused == [f"m{n}" for n in range(12 - len(refused), 12)]  # refused only once the run has ended
    assert stream.undelivered == ()


@pytest.mark.parametrize("use_async", [False, True])
def test_no_message_is_lost_or_doubled_whenever_it_is_sent(use_async: bool) -> None:
    """Sends at random moments from another thread: each is delivered once, in order, or refused after the end."""
    import random

    rng = random.Random(12)
    for _ in range(15):
        random_sends_during_a_run(rng, use_async)


def test_a_stream_whose_driver_has_no_inbox_refuses_messages() -> None:
    from podium.agent.agent import RunStream
    from podium.agent.drivers import drive_sync
    from podium.agent.loop import LoopSpec, agent_loop
    from podium.agent.output import OutputHandler

    model = ScriptedModel(["ok"])
    spec: LoopSpec[str] = LoopSpec(prompt=(Text("q"),), history=[], tools={}, output=OutputHandler(None, "auto"))
    stream = RunStream(drive_sync(agent_loop(spec), model, stream=True), CancelToken())
    with pytest.raises(UserError, match="no inbox"):
        stream.send("lost?")
    list(stream)
    assert stream.result.output == "ok"


class StallingModel(ScriptedModel):
    """Its first async request waits until cancelled (a slow provider); the others answer at once."""

    def __init__(self, responses: Sequence[Any]) -> None:
        super().__init__(responses)
        self.waiting = asyncio.Event()
        self.cancelled = False

    async def arequest(self, messages: Sequence[Message], **options: Any) -> Any:
        if not self.requests:
            self.requests.append((list(messages), AgentInfo((), options["settings"], None, 0)))
            self.waiting.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        return await super().arequest(messages, **options)


def test_interrupt_abandons_an_async_request_that_is_out() -> None:
    model = StallingModel(["(stalled)", "answer to the new message"])

    async def main() -> Any:
        stream = Agent(model).astream("q", _stream_model=False)

        async def steer() -> None:
            await model.waiting.wait()
            await stream.send("forget it, answer this", interrupt=True)

        task = asyncio.create_task(steer())
        async for _ in stream:
            pass
        await task
        return stream.result

    result = asyncio.run(asyncio.wait_for(main(), 20))
    assert model.cancelled
    assert result.output == "answer to the new message"
    assert [m.role for m in result.messages] == ["user", "user", "assistant"]
    assert result.messages[1].text == "forget it, answer this"
