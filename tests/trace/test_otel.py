"""OpenTelemetry spans of runs (podium.trace.otel), checked with the real SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from podium import Agent
from podium.agent.compaction import SUMMARY_PROMPT, Compaction, Summarize
from podium.exceptions import RateLimitError
from podium.messages import Message, ModelResponse, Text, ToolCall, ToolResult
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy
from podium.testing import FunctionModel, ScriptedModel
from podium.testing.fake_server import FakeProviderServer, Reply
from podium.testing.models import AgentInfo, call
from podium.trace import OTelSink, Trace
from podium.usage import Usage

DRIVERS = ["sync", "async"]


class Spans:
    """A real SDK tracer provider whose finished spans are kept in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    @property
    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.finished if s.name.startswith(prefix)]

    def one(self, prefix: str) -> ReadableSpan:
        [span] = self.named(prefix)
        return span

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        return [s for s in self.finished if s.parent is not None and s.parent.span_id == parent.context.span_id]


@pytest.fixture
def spans() -> Iterator[Spans]:
    kept = Spans()
    yield kept
    kept.provider.shutdown()


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def boom(x: int) -> int:
    """Always fails."""
    raise RuntimeError("kaput")


def calc(spans: Spans, *, capture: bool = False, script: list[Any] | None = None, **kw: Any) -> Agent[Any]:
    model = ScriptedModel(
        script
        or [
            ModelResponse(
                (call("add", {"a": 1, "b": 2}),), usage=Usage(10, 5, cache_read_tokens=4, requests=1), cost=0.01
            ),
            ModelResponse((Text("three"),), usage=Usage(20, 2, requests=1), cost=0.02),
        ],
        model_name="gpt-4o",
        provider="openai",
    )
    sink = OTelSink(spans.provider, capture_content=capture)
    return Agent(model, tools=kw.pop("tools", [add]), name=kw.pop("name", "calc"), trace_sinks=[sink], **kw)


def run(agent: Agent[Any], prompt: str, driver: str, **kwargs: Any) -> Any:
    if driver == "sync":
        return agent.run(prompt, **kwargs)
    if driver == "stream":  # the model's answers streamed, events consumed
        stream = agent.stream(prompt, **kwargs)
        for _ in stream:
            pass
        return stream.result
    if driver == "astream":

        async def consume() -> Any:
            astream = agent.astream(prompt, **kwargs)
            async for _ in astream:
                pass
            return astream.result

        return asyncio.run(consume())
    return asyncio.run(agent.arun(prompt, **kwargs))


def inside(child: ReadableSpan, parent: ReadableSpan) -> bool:
    assert child.start_time is not None and child.end_time is not None
    assert parent.start_time is not None and parent.end_time is not None
    return parent.start_time <= child.start_time <= child.end_time <= parent.end_time


# --------------------------------------------------------------------------- structure and attributes


@pytest.mark.parametrize("driver", [*DRIVERS, "stream", "astream"])
def test_a_run_gives_an_agent_span_with_chat_and_tool_spans_as_the_conventions_name_them(
    spans: Spans, driver: str
) -> None:
    result = run(calc(spans), "what is 1 + 2?", driver)
    assert result.output == "three"
    agent = spans.one("invoke_agent")
    assert agent.name == "invoke_agent calc" and agent.kind is SpanKind.INTERNAL and agent.parent is None
    chats = sorted(spans.named("chat "), key=lambda s: s.start_time or 0)
    [tool] = spans.named("execute_tool")
    assert [c.name for c in chats] == ["chat gpt-4o", "chat gpt-4o"] and tool.name == "execute_tool add"
    assert {s.context.span_id for s in spans.children(agent)} == {s.context.span_id for s in [*chats, tool]}
    assert len({s.context.trace_id for s in spans.finished}) == 1
    assert all(inside(s, agent) for s in [*chats, tool])
    assert chats[0].end_time <= tool.start_time <= tool.end_time <= chats[1].start_time  # type: ignore[operator]

    a = agent.attributes
    assert a["gen_ai.operation.name"] == "invoke_agent" and a["gen_ai.agent.name"] == "calc"
    assert a["gen_ai.provider.name"] == "openai" and a["gen_ai.system"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o" and a["podium.run.status"] == "completed"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (30, 7)  # the run's totals
    assert a["podium.cost"] == pytest.approx(0.03) and a["podium.steps"] == 2
    assert agent.status.status_code is StatusCode.UNSET

    c = chats[0].attributes
    assert chats[0].kind is SpanKind.CLIENT
    assert c["gen_ai.operation.name"] == "chat" and c["gen_ai.request.model"] == "gpt-4o"
    assert c["gen_ai.provider.name"] == "openai" and c["gen_ai.response.model"] == "gpt-4o"
    assert c["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert (c["gen_ai.usage.input_tokens"], c["gen_ai.usage.output_tokens"]) == (10, 5)
    assert c["gen_ai.usage.cache_read.input_tokens"] == 4 and c["podium.cost"] == pytest.approx(0.01)
    assert c["podium.step"] == 1 and c["podium.request.purpose"] == "answer"
    assert chats[1].attributes["gen_ai.response.finish_reasons"] == ("stop",)

    t = tool.attributes
    assert t["gen_ai.operation.name"] == "execute_tool" and t["gen_ai.tool.name"] == "add"
    assert t["gen_ai.tool.call.id"] == next(m for m in result.messages if m.tool_calls).tool_calls[0].id
    assert t["gen_ai.tool.description"] == "Add two numbers." and t["gen_ai.tool.type"] == "function"
    assert tool.kind is SpanKind.INTERNAL and tool.status.status_code is StatusCode.UNSET

    content = {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"}
    content |= {"gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.tool.definitions"}
    assert not any(content & set(s.attributes or {}) for s in spans.finished)  # no contents unless asked


def test_request_settings_and_the_run_span_under_the_callers_current_span(spans: Spans) -> None:
    from podium.settings import ModelSettings

    agent = calc(spans, settings=ModelSettings(temperature=0.2, max_tokens=100, top_p=0.9, stop=["END"], seed=7))
    tracer = spans.provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as outer:
        agent.run("go")
    run_span = spans.one("invoke_agent")
    assert run_span.parent is not None and run_span.parent.span_id == outer.get_span_context().span_id
    chat = spans.named("chat")[0].attributes
    assert chat["gen_ai.request.temperature"] == 0.2 and chat["gen_ai.request.max_tokens"] == 100
    assert chat["gen_ai.request.top_p"] == 0.9 and chat["gen_ai.request.stop_sequences"] == ("END",)
    assert chat["gen_ai.request.seed"] == 7


@pytest.mark.parametrize("driver", DRIVERS)
def test_parallel_tool_calls_give_overlapping_spans_each_ending_with_its_call(spans: Spans, driver: str) -> None:
    def slow(n: int) -> int:
        """Sleeps a while."""
        time.sleep(0.3)
        return n

    def quick(n: int) -> int:
        """Returns at once."""
        time.sleep(0.01)
        return n

    script = [[call("slow", {"n": 1}), call("quick", {"n": 2})], "done"]
    run(calc(spans, script=script, tools=[slow, quick]), "go", driver)
    slow_span, quick_span = spans.one("execute_tool slow"), spans.one("execute_tool quick")
    agent = spans.one("invoke_agent")
    assert inside(slow_span, agent) and inside(quick_span, agent)
    # both started with the batch; the quick one ended at its own time, not when the loop took its answer
    assert quick_span.start_time < slow_span.end_time  # type: ignore[operator]
    assert quick_span.end_time < slow_span.end_time  # type: ignore[operator]
    assert slow_span.end_time - slow_span.start_time >= 0.3e9  # type: ignore[operator]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_failing_tool_gives_an_error_span_and_the_run_goes_on(spans: Spans, driver: str) -> None:
    script = [[call("boom", {"x": 1}), call("add", {"a": 1, "b": 1})], "sorry"]
    result = run(calc(spans, script=script, tools=[boom, add]), "go", driver)
    assert result.output == "sorry"
    failed, fine = spans.one("execute_tool boom"), spans.one("execute_tool add")
    assert failed.status.status_code is StatusCode.ERROR and "kaput" in (failed.status.description or "")
    assert failed.attributes["error.type"] == "RuntimeError"
    assert failed.attributes["podium.tool.outcome"] == "error"
    [event] = [e for e in failed.events if e.name == "exception"]
    assert event.attributes == {"exception.type": "RuntimeError", "exception.message": "kaput"}
    assert fine.status.status_code is StatusCode.UNSET and "error.type" not in fine.attributes
    assert spans.one("invoke_agent").status.status_code is StatusCode.UNSET


def test_invalid_tool_arguments_are_an_error_span_too(spans: Spans) -> None:
    script = [[call("add", {"a": "one"})], "ok"]
    calc(spans, script=script).run("go")
    tool = spans.one("execute_tool add")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes["podium.tool.outcome"] == "invalid_args"


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_failing_provider_gives_error_spans_for_the_request_and_the_run(spans: Spans, driver: str) -> None:
    with FakeProviderServer(Reply.error(500, "the server broke")) as server:
        model = server.model("openai:gpt-4o", retry=RetryPolicy(max_retries=0))
        agent = Agent(model, name="fragile", trace_sinks=[OTelSink(spans.provider)])
        with pytest.raises(Exception, match="the server broke"):
            run(agent, "hi", driver)
    chat, agent_span = spans.one("chat gpt-4o"), spans.one("invoke_agent fragile")
    for span in (chat, agent_span):
        assert span.status.status_code is StatusCode.ERROR
        assert str(span.attributes["error.type"]).startswith("podium.exceptions.")
    assert chat.attributes["http.response.status_code"] == 500
    assert agent_span.attributes["podium.run.status"] == "error"
    assert chat.parent is not None and chat.parent.span_id == agent_span.context.span_id
    assert inside(chat, agent_span)


def test_a_retried_request_is_one_chat_span_covering_the_retries(spans: Spans) -> None:
    with FakeProviderServer(Reply.error(429, "slow down", retry_after=0.05), Reply.answer("fine")) as server:
        model = server.model("anthropic:claude-sonnet-4-5", retry=RetryPolicy(max_retries=2, initial_delay=0.01))
        result = Agent(model, name="patient", trace_sinks=[OTelSink(spans.provider)]).run("hi")
    assert result.output == "fine"
    chat = spans.one("chat claude-sonnet-4-5")
    assert chat.status.status_code is StatusCode.UNSET
    assert chat.attributes["gen_ai.provider.name"] == "anthropic"
    assert chat.attributes["gen_ai.response.id"] == "msg_fake"  # the provider's id of the response
    assert chat.attributes["podium.cost"] == pytest.approx(result.cost) and result.cost > 0  # priced by Podium
    assert spans.one("invoke_agent").attributes["podium.cost"] == pytest.approx(result.cost)
    assert chat.end_time - chat.start_time >= 0.05e9  # type: ignore[operator]
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0


def test_a_model_that_raises_gives_an_error_span(spans: Spans) -> None:
    def fail(messages: list[Message], info: AgentInfo) -> ModelResponse:
        raise RateLimitError("too many", status=429, provider="test")

    agent = Agent(FunctionModel(fail), name="limited", trace_sinks=[OTelSink(spans.provider)])
    with pytest.raises(RateLimitError):
        agent.run("hi")
    chat = spans.named("chat")[0]
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["error.type"] == "podium.exceptions.RateLimitError"
    assert spans.one("invoke_agent").status.status_code is StatusCode.ERROR


# --------------------------------------------------------------------------- content


def test_contents_only_when_asked_in_the_conventions_shapes_and_scrubbed(spans: Spans) -> None:
    secret = "sk-proj-" + "a1B2c3D4" * 5
    script = [[call("add", {"a": 1, "b": 2})], f"three; my key is {secret}"]
    calc(spans, capture=True, script=script, instructions="Be exact.").run("1 + 2?")
    first, second = sorted(spans.named("chat"), key=lambda s: s.start_time or 0)
    assert json.loads(str(first.attributes["gen_ai.system_instructions"])) == [{"type": "text", "content": "Be exact."}]
    assert json.loads(str(first.attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "1 + 2?"}]}
    ]
    [definition] = json.loads(str(first.attributes["gen_ai.tool.definitions"]))
    assert definition["type"] == "function" and definition["name"] == "add" and "properties" in definition["parameters"]
    [out] = json.loads(str(first.attributes["gen_ai.output.messages"]))
    assert out["role"] == "assistant" and out["finish_reason"] == "tool_calls"
    [part] = out["parts"]
    assert part["type"] == "tool_call" and part["name"] == "add" and part["arguments"] == {"a": 1, "b": 2}
    sent = json.loads(str(second.attributes["gen_ai.input.messages"]))
    assert sent[-1] == {"role": "tool", "parts": [{"type": "tool_call_response", "id": part["id"], "response": "3"}]}
    tool = spans.one("execute_tool")
    assert json.loads(str(tool.attributes["gen_ai.tool.call.arguments"])) == {"a": 1, "b": 2}
    assert tool.attributes["gen_ai.tool.call.result"] == "3"
    everything = json.dumps([dict(s.attributes or {}) for s in spans.finished])
    assert secret not in everything and "[REDACTED" in everything


def test_without_a_provider_the_global_no_op_one_is_used_and_nothing_is_recorded() -> None:
    sink = OTelSink()
    assert not sink.tracer.start_span("probe").is_recording()
    result = Agent(ScriptedModel([[call("add", {"a": 1, "b": 2})], "3"]), tools=[add], trace_sinks=[sink]).run("go")
    assert result.output == "3"


def test_import_podium_trace_does_not_import_opentelemetry() -> None:
    code = "import sys, podium, podium.trace; print(any(m.startswith('opentelemetry') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------- many runs, sub-agents


def test_concurrent_async_runs_through_one_sink_keep_their_spans_apart(spans: Spans) -> None:
    sink = OTelSink(spans.provider)

    def slow_add(a: int, b: int) -> int:
        """Adds slowly."""
        time.sleep(0.05)
        return a + b

    agents = [
        Agent(ScriptedModel([[call("slow_add", {"a": n, "b": n})], f"r{n}"]), tools=[slow_add], name=f"a{n}")
        for n in range(4)
    ]
    for agent in agents:
        agent.trace_sinks.append(sink)

    async def main() -> list[Any]:
        return await asyncio.gather(*(a.arun("go") for a in agents))

    results = asyncio.run(main())
    assert [r.output for r in results] == ["r0", "r1", "r2", "r3"]
    runs = spans.named("invoke_agent")
    assert sorted(s.name for s in runs) == [f"invoke_agent a{n}" for n in range(4)]
    for run_span in runs:
        kids = spans.children(run_span)
        assert sorted(k.name for k in kids) == ["chat scripted", "chat scripted", "execute_tool slow_add"]
        assert all(inside(k, run_span) and k.context.trace_id == run_span.context.trace_id for k in kids)
    assert len({s.context.trace_id for s in runs}) == 4


def test_concurrent_sync_runs_in_threads_keep_their_spans_apart(spans: Spans) -> None:
    sink = OTelSink(spans.provider)
    agents = [
        Agent(ScriptedModel([[call("add", {"a": n, "b": 1})], f"r{n}"]), tools=[add], name=f"t{n}", trace_sinks=[sink])
        for n in range(3)
    ]
    threads = [threading.Thread(target=a.run, args=("go",)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for run_span in spans.named("invoke_agent"):
        assert len(spans.children(run_span)) == 3


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_sub_agent_run_is_a_child_of_the_tool_call_that_started_it(spans: Spans, driver: str) -> None:
    sink = OTelSink(spans.provider)
    child = Agent(
        ScriptedModel([[call("add", {"a": 1, "b": 2})], "three"], model_name="small"),
        tools=[add],
        name="helper",
        trace_sinks=[sink],
    )
    other = Agent(ScriptedModel(["four"], model_name="small"), name="other", trace_sinks=[sink])
    parent_model = ScriptedModel(
        [[call("other", {"task": "2 + 2?"}), call("helper", {"task": "1 + 2?"})], "three and four"],
        model_name="big",
    )
    parent = Agent(parent_model, tools=[child.as_tool(), other.as_tool()], name="boss", trace_sinks=[sink])
    assert run(parent, "sums", driver).output == "three and four"
    boss, helper, other_span = (spans.one(f"invoke_agent {n}") for n in ("boss", "helper", "other"))
    helper_call, other_call = spans.one("execute_tool helper"), spans.one("execute_tool other")
    assert helper.parent is not None and helper.parent.span_id == helper_call.context.span_id
    assert other_span.parent is not None and other_span.parent.span_id == other_call.context.span_id
    assert inside(helper, helper_call) and inside(other_span, other_call) and inside(helper_call, boss)
    assert len({s.context.trace_id for s in spans.finished}) == 1
    assert spans.one("execute_tool add").parent.span_id == helper.context.span_id  # type: ignore[union-attr]
    assert {s.parent.span_id for s in spans.named("chat big")} == {boss.context.span_id}  # type: ignore[union-attr]


# --------------------------------------------------------------------------- compaction, unfinished runs


def test_a_compaction_summary_is_a_marked_chat_span_with_the_summarisers_model(spans: Spans) -> None:
    def answer(messages: list[Message], info: AgentInfo) -> ModelResponse:
        usage = Usage(sum(len(m.text) + sum(len(r.text) for r in m.tool_results) for m in messages) // 4, 5, requests=1)
        text = "the summary" if messages[0].text == SUMMARY_PROMPT else "ok"
        return ModelResponse((Text(text),), usage=usage)

    profile = ModelProfile(context_window=4_000, max_output_tokens=500)
    main = FunctionModel(answer, profile=profile, summaries="ask", model_name="main")
    cheap = FunctionModel(answer, profile=profile, summaries="ask", model_name="cheap")
    history = [Message.system("sys"), Message.user("THE GOAL")]
    for n in range(8):
        history += [
            Message("assistant", (ToolCall(f"c{n}", "read", {"n": n}),)),
            Message("tool", (ToolResult(f"c{n}", "read", (Text("y" * 5_000),)),)),
        ]
    agent = Agent(
        main,
        compaction=Compaction(strategies=(Summarize(model=cheap, keep_recent=1),)),
        trace_sinks=[OTelSink(spans.provider)],
    )
    agent.run("next?", message_history=history)
    summary, answer_span = sorted(spans.named("chat"), key=lambda s: s.start_time or 0)
    assert summary.name == "chat cheap" and summary.attributes["podium.request.purpose"] == "compaction"
    assert answer_span.name == "chat main" and answer_span.attributes["podium.request.purpose"] == "answer"
    [event] = [e for e in spans.one("invoke_agent").events if e.name == "podium.compaction"]
    assert event.attributes is not None
    assert event.attributes["podium.compaction.tokens_after"] < event.attributes["podium.compaction.tokens_before"]


def test_a_stream_left_unfinished_ends_its_spans_when_the_run_is_dropped(spans: Spans) -> None:
    def slow(n: int) -> int:
        """Sleeps."""
        time.sleep(0.01)
        return n

    agent = calc(spans, script=[[call("slow", {"n": 1})], [call("slow", {"n": 2})], "done"], tools=[slow])
    stream = agent.stream("go")
    for event in stream:
        if event.kind == "tool_call_started":
            break
    assert spans.named("invoke_agent") == []  # still running
    del stream, event
    gc.collect()
    run_span = spans.one("invoke_agent")
    assert run_span.attributes["podium.run.status"] == "abandoned"
    assert run_span.status.status_code is StatusCode.UNSET  # the caller stopped it: not an error
    assert all(s.end_time is not None and inside(s, run_span) for s in spans.children(run_span))


def test_a_conversation_id_in_the_run_record_is_the_conventions_conversation_id(spans: Spans) -> None:
    sink = OTelSink(spans.provider)
    sink({"seq": 0, "kind": "run", "agent": "a", "model": "openai:gpt-4o", "conversation_id": "conv-7"}, "")
    sink({"seq": 1, "kind": "end", "status": "completed"}, "")
    assert spans.one("invoke_agent a").attributes["gen_ai.conversation.id"] == "conv-7"


def test_a_saved_trace_can_be_exported_afterwards(spans: Spans) -> None:
    trace = Trace()
    Agent(ScriptedModel([[call("add", {"a": 1, "b": 2})], "3"]), tools=[add], name="saved").run("go", trace=trace)
    OTelSink(spans.provider).export(Trace.from_jsonl(trace.to_jsonl()))
    run_span = spans.one("invoke_agent saved")
    assert sorted(s.name for s in spans.children(run_span)) == ["chat scripted", "chat scripted", "execute_tool add"]


def test_approval_decisions_a_pause_and_the_resumed_run(spans: Spans) -> None:
    from podium import tool
    from podium.agent.rules import ApprovalPolicy, Rule

    @tool(metadata={"command_param": "command"})
    def shell(command: str) -> str:
        """Run a command."""
        return f"ran: {command}"

    script = [[call("shell", {"command": "ls"}, id="a"), call("shell", {"command": "make"}, id="c")], "done"]
    policy = ApprovalPolicy([Rule("allow", command="ls"), Rule("ask", tool="*")])
    agent = Agent(ScriptedModel(script), tools=[shell], policy=policy, trace_sinks=[OTelSink(spans.provider)])
    paused = agent.run("clean up")
    assert paused.status == "paused" and paused.paused is not None
    first = spans.one("invoke_agent")
    assert first.attributes["podium.run.status"] == "paused" and first.status.status_code is StatusCode.UNSET
    decisions = [e.attributes for e in first.events if e.name == "podium.approval.decision"]
    assert [(d["gen_ai.tool.call.id"], d["podium.decision"], d["podium.decision.source"]) for d in decisions] == [
        ("a", "allow", "policy"),
        ("c", "ask", "policy"),
    ]
    [pause] = [e for e in first.events if e.name == "podium.paused"]
    assert pause.attributes == {"podium.pending": ("c",)}
    assert [s.attributes["gen_ai.tool.call.id"] for s in spans.named("execute_tool")] == ["a"]

    assert agent.run(resume=paused.paused, approvals={"c": True}).output == "done"
    second = next(s for s in spans.named("invoke_agent") if s is not first and s.name == first.name)
    assert second.attributes["podium.resumed"] is True and "podium.resumed" not in first.attributes
    assert second.attributes["podium.run_id"] == first.attributes["podium.run_id"] == paused.paused.run_id
    assert second.attributes["podium.run.status"] == "completed"
    assert [s.attributes["gen_ai.tool.call.id"] for s in spans.children(second) if s.name.startswith("execute")] == [
        "c"
    ]


def test_a_sink_wrapped_in_a_function_still_tells_concurrent_runs_apart(spans: Spans) -> None:
    sink = OTelSink(spans.provider)
    gate = threading.Barrier(3)

    def slow_add(a: int, b: int) -> int:
        """Waits for the other runs, so that all three are in flight at once."""
        gate.wait(timeout=10)
        return a + b

    def wrapped(record: dict[str, Any], line: str) -> None:
        sink(record, line)

    agents = [
        Agent(ScriptedModel([[call("slow_add", {"a": n, "b": 1})], f"r{n}"]), tools=[slow_add], name=f"w{n}")
        for n in range(3)
    ]
    for agent in agents:
        agent.trace_sinks.append(wrapped)
    threads = [threading.Thread(target=a.run, args=("go",)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = spans.named("invoke_agent")
    assert len(runs) == 3
    for run_span in runs:
        kids = spans.children(run_span)
        assert sorted(k.name for k in kids) == ["chat scripted", "chat scripted", "execute_tool slow_add"]
        assert all(inside(k, run_span) for k in kids)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_cancelled_run_ends_its_open_spans_without_calling_them_errors(spans: Spans, driver: str) -> None:
    from podium import CancelToken
    from podium.exceptions import RunCancelled

    token = CancelToken()
    started = threading.Event()

    def wait(n: int) -> int:
        """Waits until the run is cancelled."""
        started.set()
        for _ in range(200):
            if token.cancelled:
                break
            time.sleep(0.01)
        return n

    threading.Thread(target=lambda: started.wait(10) and token.cancel(), daemon=True).start()
    agent = calc(spans, script=[[call("wait", {"n": 1})], "never"], tools=[wait])
    with pytest.raises(RunCancelled):
        run(agent, "go", driver, cancel=token)
    run_span = spans.one("invoke_agent")
    assert run_span.attributes["podium.run.status"] == "cancelled"
    assert run_span.status.status_code is StatusCode.UNSET
    [tool] = spans.named("execute_tool wait")
    assert tool.attributes["podium.tool.outcome"] in ("interrupted", "abandoned")
    assert tool.status.status_code is StatusCode.UNSET and inside(tool, run_span)


def test_a_sampler_that_drops_runs_leaves_no_spans_and_the_run_works() -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    agent = Agent(ScriptedModel([[call("add", {"a": 1, "b": 2})], "3"]), tools=[add], trace_sinks=[OTelSink(provider)])
    assert agent.run("go").output == "3"
    assert exporter.get_finished_spans() == ()


BAD_VALUES: list[Any] = [None, 5, "x", [], {}, [1, "a", None], {"$": "response"}, {"value": 3}, -1.5]


def test_malformed_records_fed_by_hand_never_raise(spans: Spans, caplog: pytest.LogCaptureFixture) -> None:
    sink = OTelSink(spans.provider, capture_content=True)
    kinds = ["request", "response", "tools", "tool", "abandon", "decision", "compaction", "paused", "take"]
    keys = ["step", "model", "settings", "messages", "tools", "answer", "calls", "call_id", "index", "decision"]
    keys += ["purpose", "output", "pending", "strategies", "tokens_before", "usage", "cost", "status", "error"]
    sink({"seq": 0, "kind": "run", "agent": None, "model": 7, "settings": "bad", "prompt": "not a list"}, "")
    for n, kind in enumerate(kinds * 3):
        record = {"seq": n + 1, "kind": kind}
        for i, key in enumerate(keys):
            record[key] = BAD_VALUES[(n + i) % len(BAD_VALUES)]
        sink(record, "")
    sink({"seq": 99, "kind": "end", "status": "error", "error": {"type": 5}, "usage": [], "cost": "x"}, "")
    assert spans.one("invoke_agent agent").attributes["podium.run.status"] == "error"
    assert "could not read" not in caplog.text  # read without tripping, not just caught


def test_an_agent_run_inside_a_tool_function_is_under_that_calls_span(spans: Spans) -> None:
    sink = OTelSink(spans.provider)
    inner = Agent(ScriptedModel(["inner answer"] * 2), name="inner", trace_sinks=[sink])

    def ask_inner(question: str) -> str:
        """Asks another agent."""
        return str(inner.run(question).output)

    outer = calc(spans, script=[[call("ask_inner", {"question": "q"})], "done"], tools=[ask_inner], name="outer")
    outer.trace_sinks = [sink]
    assert outer.run("go").output == "done"
    tool, inner_span = spans.one("execute_tool ask_inner"), spans.one("invoke_agent inner")
    assert inner_span.parent is not None and inner_span.parent.span_id == tool.context.span_id
    assert inside(inner_span, tool)


def test_a_run_started_by_the_code_driving_another_run_is_not_put_under_its_tool_calls(spans: Spans) -> None:
    sink = OTelSink(spans.provider)
    other = Agent(ScriptedModel(["side answer"]), name="side", trace_sinks=[sink])

    def fast(n: int) -> int:
        """Returns soon."""
        time.sleep(0.01)
        return n

    def slow(n: int) -> int:
        """Sleeps."""
        time.sleep(0.3)
        return n

    script = [[call("fast", {"n": 1}), call("slow", {"n": 2})], "done"]
    main = calc(spans, script=script, tools=[fast, slow], name="main")
    main.trace_sinks = [sink]
    for event in main.stream("go"):
        if event.kind == "tool_call_finished" and event.call.name == "fast":  # type: ignore[attr-defined]
            assert spans.named("execute_tool slow") == []  # still open
            other.run("meanwhile")
    side = spans.one("invoke_agent side")
    assert side.parent is None  # a run of its own, not a child of main's open tool call
