"""The agent loop's behaviour: tool errors and retries, structured output, limits, hooks, context."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from podium import Agent, AgentHooks, ModelRetry, tool
from podium.exceptions import (
    MaxStepsExceeded,
    OutputValidationError,
    ToolRetriesExceeded,
    UnexpectedModelBehavior,
    UserError,
)
from podium.messages import Message, ModelResponse, Text, ToolCall, ToolResult
from podium.providers.profiles import ModelProfile
from podium.settings import ModelSettings
from podium.testing import AgentInfo, FunctionModel, ScriptedModel
from podium.testing.models import call
from podium.tools import Injected, RunContext
from podium.usage import Usage


def results(messages: list[Message]) -> list[ToolResult]:
    return [r for m in messages for r in m.tool_results]


def assert_valid_history(messages: list[Message]) -> None:
    """Every tool call is answered by exactly one result, in the next message."""
    for i, m in enumerate(messages):
        if m.tool_calls:
            nxt = messages[i + 1]
            assert nxt.role == "tool"
            assert [r.call_id for r in nxt.tool_results] == [c.id for c in m.tool_calls]


@tool
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


def test_bad_arguments_go_back_to_the_model_as_an_error() -> None:
    model = ScriptedModel([[call("divide", {"a": "x", "b": 1})], [call("divide", {"a": 6, "b": 3})], "2"])
    result = Agent(model, tools=[divide]).run("6/3?")
    first, second = results(result.messages)
    assert first.is_error
    assert "Invalid arguments" in first.text and "a:" in first.text
    assert not second.is_error and second.text == "2.0"
    # the model saw the error in its second request
    assert model.requests[1][0][-1].tool_results[0].is_error


def test_exception_in_tool_becomes_error_result() -> None:
    model = ScriptedModel([[call("divide", {"a": 1, "b": 0})], "cannot"])
    result = Agent(model, tools=[divide]).run("1/0?")
    [r] = results(result.messages)
    assert r.is_error and r.text == "ZeroDivisionError: float division by zero"
    assert result.output == "cannot"


def test_unparseable_arguments_are_reported() -> None:
    model = ScriptedModel([[ToolCall("c1", "divide", {}, raw_args='{"a": 1,')], "ok"])
    result = Agent(model, tools=[divide]).run("?")
    [r] = results(result.messages)
    assert r.is_error and "not a JSON object" in r.text


def test_model_retry_and_retry_budget() -> None:
    attempts: list[int] = []

    @tool(retries=1)
    def flaky(ctx: RunContext[None], x: int) -> str:
        """Fails."""
        attempts.append(ctx.retry)
        raise ModelRetry(f"try a bigger x than {x}")

    model = ScriptedModel([[call("flaky", {"x": 1})], [call("flaky", {"x": 2})], "never"])
    with pytest.raises(ToolRetriesExceeded, match="'flaky' failed 2 times") as info:
        Agent(model, tools=[flaky]).run("go")
    assert attempts == [0, 1]
    assert_valid_history(info.value.messages)
    assert results(info.value.messages)[-1].text == "try a bigger x than 2"


def test_success_resets_the_retry_counter() -> None:
    state = {"n": 0}

    @tool(retries=1)
    def sometimes() -> str:
        """Fails every other call."""
        state["n"] += 1
        if state["n"] % 2:
            raise RuntimeError("odd")
        return "even"

    model = ScriptedModel([[call("sometimes")]] * 4 + ["done"])
    assert Agent(model, tools=[sometimes]).run("go").output == "done"


def test_unknown_tool_is_reported_then_fails_run_if_repeated() -> None:
    model = ScriptedModel([[call("nope")], "fine"])
    result = Agent(model, tools=[divide]).run("?")
    [r] = results(result.messages)
    assert r.is_error and r.text == "Unknown tool 'nope'. Available tools: divide."

    model = ScriptedModel([[call("nope")]] * 10)
    with pytest.raises(UnexpectedModelBehavior, match="unknown tools"):
        Agent(model, tools=[divide]).run("?")


def test_framework_misuse_raises() -> None:
    @tool
    def needs_key(q: str, key: Annotated[str, Injected()]) -> str:
        """Needs a key."""
        return key

    model = ScriptedModel([[call("needs_key", {"q": "x"})], "ok"])
    with pytest.raises(UserError, match=r"inject=\{'key': ...\}"):
        Agent(model, tools=[needs_key]).run("?")
    model = ScriptedModel([[call("needs_key", {"q": "x"})], "ok"])
    result = Agent(model, tools=[needs_key], inject={"key": "secret"}).run("?")
    assert results(result.messages)[0].text == "secret"


def test_deps_and_context_reach_tools() -> None:
    seen: dict[str, Any] = {}

    @tool
    def info(ctx: RunContext[dict[str, int]], key: str) -> int:
        """Look up key."""
        seen.update(step=ctx.step, call=ctx.tool_call, n_messages=len(ctx.messages), run_id=ctx.run_id)
        return ctx.deps[key]

    model = ScriptedModel([[call("info", {"key": "b"})], "done"])
    result = Agent(model, tools=[info]).run("?", deps={"a": 1, "b": 2})
    assert results(result.messages)[0].text == "2"
    assert seen["step"] == 1 and seen["call"].name == "info" and seen["n_messages"] == 2
    assert seen["run_id"] == result.run_id


def test_tool_timeout_sync_and_async() -> None:
    """A call past its timeout gets a timeout error while the tool still runs (no stopwatch needed)."""
    release = threading.Event()  # set only after the runs returned
    cancelled = threading.Event()

    @tool(timeout=0.05)
    def sleepy() -> str:
        """Sleeps too long."""
        release.wait(30)
        return "late"

    @tool(timeout=0.05)
    async def asleepy() -> str:
        """Sleeps too long."""
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    try:
        for t in (sleepy, asleepy):
            model = ScriptedModel([[call(t.name)], "gave up"])
            result = Agent(model, tools=[t]).run("?")
            [r] = results(result.messages)
            assert r.is_error and "did not finish within its 0.05 s timeout" in r.text

            async def main(t: Any = t) -> ToolResult:
                model = ScriptedModel([[call(t.name)], "gave up"])
                res = await Agent(model, tools=[t]).arun("?")
                return results(res.messages)[0]

            r = asyncio.run(main())
            assert r.is_error and "timeout" in r.text
        assert not release.is_set()  # every run came back while the sync tool was still blocked
        assert cancelled.wait(10)  # the async tool was cancelled, not left to sleep
    finally:
        release.set()


def test_output_is_capped_keeping_head_and_tail() -> None:
    @tool(max_output=100)
    def big() -> str:
        """Prints a lot."""
        return "HEAD" + "x" * 10_000 + "TAIL"

    result = Agent(ScriptedModel([[call("big")], "ok"]), tools=[big]).run("?")
    text = results(result.messages)[0].text
    assert text.startswith("HEAD") and text.endswith("TAIL")
    assert "characters cut" in text and len(text) < 200


class Point(BaseModel):
    x: int


def test_non_string_results_are_json() -> None:
    @tool
    def point() -> Point:
        """A point."""
        return Point(x=3)

    result = Agent(ScriptedModel([[call("point")], "ok"]), tools=[point]).run("?")
    assert results(result.messages)[0].text == '{"x":3}'


class City(BaseModel):
    name: str
    population: int


def test_structured_output_tool_mode_with_retry() -> None:
    model = ScriptedModel(
        [
            [call("final_result", {"name": "Paris", "population": "many"})],
            [call("final_result", {"name": "Paris", "population": 2100000})],
        ]
    )
    agent = Agent(model, output_type=City)
    result = agent.run("Largest French city?")
    assert result.output == City(name="Paris", population=2100000)
    # the final_result tool was offered, the choice forced, and the error went back
    info: AgentInfo = model.requests[0][1]
    assert [t.name for t in info.tools] == ["final_result"]
    assert info.settings.tool_choice == "required"
    first = results(result.messages)[0]
    assert first.is_error and "population" in first.text
    assert_valid_history(result.messages)


def test_structured_output_native_mode() -> None:
    model = ScriptedModel(
        ['```json\n{"name": "Lyon", "population": "x"}\n```', '{"name": "Lyon", "population": 500000}'],
        profile=ModelProfile(structured_output=True),
    )
    result = Agent(model, output_type=City).run("?")
    assert result.output == City(name="Lyon", population=500000)
    assert model.requests[0][1].output is not None
    assert model.requests[0][1].output.schema["properties"]["population"] == {"type": "integer"}
    retry_prompt = model.requests[1][0][-1]
    assert retry_prompt.role == "user" and "could not be used" in retry_prompt.text


def test_structured_output_non_object_is_wrapped() -> None:
    model = ScriptedModel([[call("final_result", {"response": [1, 2, 3]})]])
    result = Agent(model, output_type=list[int]).run("?")
    assert result.output == [1, 2, 3]
    schema = model.requests[0][1].tools[0].parameters
    assert schema["properties"]["response"] == {"type": "array", "items": {"type": "integer"}}


def test_structured_output_gives_up_after_budget() -> None:
    model = ScriptedModel(["not json", "still not", "nope"], profile=ModelProfile(structured_output=True))
    with pytest.raises(OutputValidationError) as info:
        Agent(model, output_type=City, output_retries=1).run("?")
    assert info.value.messages[-1].role == "assistant"


def test_max_steps_gives_partial_valid_history() -> None:
    model = ScriptedModel([[call("divide", {"a": 1, "b": 1})]] * 5)
    with pytest.raises(MaxStepsExceeded, match="max_steps=3") as info:
        Agent(model, tools=[divide], max_steps=3).run("loop")
    messages = info.value.messages
    assert len(messages) == 7  # user + 3 x (assistant, tool)
    assert_valid_history(messages)
    assert info.value.usage is not None and info.value.usage.requests == 3


def test_instructions_are_sent_but_not_stored_and_history_continues() -> None:
    model = ScriptedModel(["first", "second"])
    agent = Agent(model, instructions=lambda ctx: f"Be brief (step {ctx.step}).")
    one = agent.run("a")
    two = agent.run("b", message_history=one.messages)
    sent = model.requests[1][0]
    assert sent[0] == Message.system("Be brief (step 1).")
    assert [m.text for m in sent[1:]] == ["a", "first", "b"]
    assert [m.role for m in two.messages] == ["user", "assistant", "user", "assistant"]
    assert [m.text for m in two.new_messages] == ["b", "second"]
    assert two.output == "second"


def test_settings_merge_run_over_agent() -> None:
    model = ScriptedModel(["ok"])
    agent = Agent(model, settings=ModelSettings(temperature=0.1, max_tokens=10, extra={"x": {"a": 1}}))
    agent.run("?", settings=ModelSettings(max_tokens=20, extra={"x": {"b": 2}}))
    s = model.requests[0][1].settings
    assert (s.temperature, s.max_tokens, dict(s.extra["x"])) == (0.1, 20, {"a": 1, "b": 2})


def test_usage_and_cost_add_up() -> None:
    responses = [
        ModelResponse((ToolCall("1", "divide", {"a": 1, "b": 2}),), usage=Usage(10, 5, requests=1), cost=0.5),
        ModelResponse((Text("0.5"),), usage=Usage(20, 3, cache_read_tokens=8, requests=1), cost=0.25),
    ]
    result = Agent(ScriptedModel(responses), tools=[divide]).run("?")
    assert result.usage == Usage(30, 8, cache_read_tokens=8, requests=2)
    assert result.cost == 0.75
    unknown = [responses[0], ModelResponse((Text("x"),), usage=Usage(1, 1, requests=1), cost=None)]
    assert Agent(ScriptedModel(unknown), tools=[divide]).run("?").cost is None


class Recorder(AgentHooks):
    def __init__(self) -> None:
        self.log: list[str] = []

    def on_run_start(self, ctx: RunContext[Any]) -> None:
        self.log.append("start")

    def on_model_request(self, ctx: RunContext[Any], messages: Any) -> None:
        self.log.append(f"request {ctx.step}")

    def on_model_response(self, ctx: RunContext[Any], response: ModelResponse) -> None:
        self.log.append("response")

    def before_tool_call(self, ctx: RunContext[Any], call: ToolCall) -> ToolCall | ToolResult | None:
        self.log.append(f"before {call.name}")
        if call.args.get("b") == 0:
            return ToolResult(call.id, call.name, (Text("refused: b is 0"),), is_error=True)
        return ToolCall(call.id, call.name, {**call.args, "a": call.args["a"] * 10})

    def after_tool_call(self, ctx: RunContext[Any], call: ToolCall, result: ToolResult) -> ToolResult | None:
        self.log.append(f"after {result.text}")
        return ToolResult(result.call_id, result.name, (Text(result.text + "!"),))

    def on_run_end(self, ctx: RunContext[Any], result: Any) -> None:
        self.log.append(f"end {result.output}")


def test_hooks_rewrite_arguments_results_and_short_circuit() -> None:
    hooks = Recorder()
    model = ScriptedModel([[call("divide", {"a": 1, "b": 2}), call("divide", {"a": 1, "b": 0})], "done"])
    result = Agent(model, tools=[divide], hooks=[hooks]).run("?")
    r1, r2 = results(result.messages)
    assert r1.text == "5.0!"  # a was rewritten to 10, then the result changed
    assert r2.text == "refused: b is 0" and r2.is_error
    assert hooks.log == [
        "start",
        "request 1",
        "response",
        "before divide",
        "before divide",
        "after 5.0",
        "request 2",
        "response",
        "end done",
    ]


def test_function_model_sees_tools_and_settings() -> None:
    def answer(messages: list[Message], info: AgentInfo) -> str:
        return f"{len(messages)} messages, tools={[t.name for t in info.tools]}"

    result = Agent(FunctionModel(answer), tools=[divide]).run("hi")
    assert result.output == "1 messages, tools=['divide']"


def test_empty_run_is_an_error() -> None:
    with pytest.raises(UnexpectedModelBehavior, match="nothing to run"):
        Agent(ScriptedModel(["x"])).run()


def test_scripted_model_runs_out() -> None:
    with pytest.raises(UserError, match="script more responses"):
        Agent(ScriptedModel([])).run("?")


def test_duplicate_tool_names_are_refused() -> None:
    @tool(name="divide")
    def other(a: float) -> float:
        """Other."""
        return a

    with pytest.raises(UserError, match="two tools are named 'divide'"):
        Agent(ScriptedModel(["x"]), tools=[divide, other]).run("?")


def test_repeated_identical_call_is_answered_and_tools_turned_off() -> None:
    runs: list[str] = []

    @tool
    def weather(city: str) -> str:
        """Weather."""
        runs.append(city)
        return f"sunny in {city}"

    model = ScriptedModel([[call("weather", {"city": "Paris"})], [call("weather", {"city": "Paris"})], "Sunny."])
    result = Agent(model, tools=[weather]).run("weather?")
    assert result.output == "Sunny."
    assert runs == ["Paris"]  # not run twice
    repeat = result.messages[4].tool_results[0]
    assert repeat.text.startswith("sunny in Paris")
    assert "not run again" in repeat.text
    third = model.requests[2][1]
    assert third.tools == ()
    assert third.settings.tool_choice == "none"
    # a different argument is a new call, and "allow" runs repeats
    model = ScriptedModel([[call("weather", {"city": "Paris"})], [call("weather", {"city": "Paris"})], "ok"])
    Agent(model, tools=[weather], repeated_calls="allow").run("?")
    assert runs == ["Paris", "Paris", "Paris"]
