"""Cohere provider: every Cohere cassette replayed over HTTP through Podium's own transport (no cohere SDK)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

try:  # works whether or not tests/providers is a package
    from .replay_util import (
        ReplayServer,
        assert_same_body,
        cassette,
        closed_port_url,
        imported_after_import_podium,
        recorded_bodies,
        sse,
        synthetic,
    )
except ImportError:
    from replay_util import (
        ReplayServer,
        assert_same_body,
        cassette,
        closed_port_url,
        imported_after_import_podium,
        recorded_bodies,
        sse,
        synthetic,
    )

import podium
from podium.exceptions import (
    AuthenticationError,
    ContextWindowExceeded,
    ProviderConnectionError,
    RateLimitError,
    ServerError,
    UserError,
)
from podium.messages import Message, ModelResponse, Text, Thinking, ToolCall, ToolResult
from podium.providers.base import WireCall
from podium.providers.cohere import CohereModel, cohere_profile
from podium.providers.pricing import compute_cost
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import TextDelta, ToolCallDelta
from podium.usage import Usage

NO_RETRY = RetryPolicy(max_retries=0)
PATH = "/v2/chat"
STREAM_CASSETTE = "test_cohere_v2_chat_legacy_with_tool_calls_and_streaming.yaml"
SIMPLE_CASSETTE = "test_request_simple_success_with_vcr.yaml"
LOCATION = {
    "type": "object",
    "properties": {"location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}},
    "required": ["location"],
}
TOOLS = [
    ToolDefinition("get_weather", "Get the current weather in a given location", LOCATION),
    ToolDefinition("get_time", "Get the current time in a given location", LOCATION),
]
QUESTION = "What is the weather and current time in Tokyo?"


def model_for(server: ReplayServer, name: str, **kw: Any) -> CohereModel:
    return CohereModel(name, base_url=server.url, api_key="test-key", retry=NO_RETRY, **kw)


def final(events: list[Any]) -> ModelResponse:
    assert isinstance(events[-1], ModelResponse)
    assert not any(isinstance(e, ModelResponse) for e in events[:-1])
    return events[-1]


def test_simple_chat() -> None:
    c = cassette("cohere", SIMPLE_CASSETTE)
    with ReplayServer(c) as server:
        response = model_for(server, "command-r7b-12-2024").request([Message.user("hello")])
        sent = server.received[0]
    assert_same_body(sent.json, recorded_bodies(c)[0])
    assert sent.headers["authorization"] == "Bearer test-key"
    assert response.parts == (Text("Hello! How can I assist you today?"),)
    assert response.finish_reason == "stop"
    assert response.provider_details == {"id": "f17a5f6c-1734-4098-bd0d-733ef000ac7b", "finish_reason": "COMPLETE"}
    assert (response.usage.input_tokens, response.usage.output_tokens) == (496, 11)
    assert response.usage.details == {"billed_input_tokens": 1, "billed_output_tokens": 9}
    assert response.model == "command-r7b-12-2024"
    # priced on the billed units, not on the token counts (which include Cohere's own system prompt)
    assert response.cost is not None
    assert response.cost == compute_cost("cohere", "command-r7b-12-2024", Usage(input_tokens=1, output_tokens=9))


def test_stream_with_tool_plan_and_parallel_tool_calls() -> None:
    c = cassette("cohere", STREAM_CASSETTE)
    with ReplayServer(c) as server:
        events = list(model_for(server, "command-r").stream([Message.user(QUESTION)], tools=TOOLS))
        sent = server.received[0]
    assert_same_body(sent.json, recorded_bodies(c)[0])
    assert sent.headers["accept"] == "text/event-stream"
    response = final(events)
    plan = "I will search for the current time and weather in Tokyo."
    assert response.parts == (
        Text(plan, {"cohere_tool_plan": True}),
        ToolCall("get_time_dg5wwc00d8v5", "get_time", {"location": "Tokyo"}),
        ToolCall("get_weather_bc8241gkqss5", "get_weather", {"location": "Tokyo"}),
    )
    text_deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(text_deltas) == 12
    assert "".join(d.text for d in text_deltas) == plan
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls[0] == ToolCallDelta(1, "get_time_dg5wwc00d8v5", "get_time", "")
    assert {d.index for d in calls} == {1, 2}
    assert "".join(d.args_delta for d in calls if d.index == 2) == '{\n    "location": "Tokyo"\n}'
    assert response.finish_reason == "tool_calls"
    assert response.provider_details == {"id": "e6d757a9-f0f3-40fe-9b8a-44cdc3bd18a7", "finish_reason": "TOOL_CALL"}
    assert (response.usage.input_tokens, response.usage.output_tokens) == (968, 83)
    assert response.usage.details == {"billed_input_tokens": 62, "billed_output_tokens": 28}
    # The next turn sends the tool plan, the calls (with Cohere's ids) and the results back.
    history = [
        Message.user(QUESTION),
        response.to_message(),
        Message(
            "tool",
            [
                ToolResult("get_time_dg5wwc00d8v5", "get_time", [Text("10:00")]),
                ToolResult("get_weather_bc8241gkqss5", "get_weather", [Text("rain")]),
            ],
        ),
    ]
    body = CohereModel("command-r", api_key="k").build_body(history, TOOLS, ModelSettings(), None, stream=False)
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "tool_plan": plan,
            "tool_calls": [
                {
                    "id": "get_time_dg5wwc00d8v5",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"location": "Tokyo"}'},
                },
                {
                    "id": "get_weather_bc8241gkqss5",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Tokyo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "get_time_dg5wwc00d8v5", "content": "10:00"},
        {"role": "tool", "tool_call_id": "get_weather_bc8241gkqss5", "content": "rain"},
    ]


# --------------------------------------------------------------------------- stream == request


def test_tool_call_stream_equals_request() -> None:
    with ReplayServer(cassette("cohere", STREAM_CASSETTE)) as server:
        streamed = final(list(model_for(server, "command-r").stream([Message.user(QUESTION)], tools=TOOLS)))
    whole = {
        "id": "e6d757a9-f0f3-40fe-9b8a-44cdc3bd18a7",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "tool_plan": "I will search for the current time and weather in Tokyo.",
            "tool_calls": [
                {
                    "id": "get_time_dg5wwc00d8v5",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{\n    "location": "Tokyo"\n}'},
                },
                {
                    "id": "get_weather_bc8241gkqss5",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{\n    "location": "Tokyo"\n}'},
                },
            ],
        },
        "usage": {
            "billed_units": {"input_tokens": 62, "output_tokens": 28},
            "tokens": {"input_tokens": 968, "output_tokens": 83},
        },
    }
    with ReplayServer(synthetic(PATH, [(200, {}, whole)])) as server:
        assert model_for(server, "command-r").request([Message.user(QUESTION)], tools=TOOLS) == streamed


def _as_stream(data: dict[str, Any], piece: int = 4) -> bytes:
    events: list[dict[str, Any]] = [
        {"type": "message-start", "id": data["id"], "delta": {"message": {"role": "assistant"}}}
    ]
    for index, item in enumerate(data["message"]["content"]):
        key = item["type"]
        events.append(
            {"type": "content-start", "index": index, "delta": {"message": {"content": {"type": key, key: ""}}}}
        )
        text = item[key]
        for start in range(0, len(text), piece):
            chunk = {key: text[start : start + piece]}
            events.append({"type": "content-delta", "index": index, "delta": {"message": {"content": chunk}}})
        events.append({"type": "content-end", "index": index})
    events.append({"type": "message-end", "delta": {"finish_reason": data["finish_reason"], "usage": data["usage"]}})
    return sse(events, event_names=True)


THINKING = {
    "id": "b2c1",
    "finish_reason": "COMPLETE",
    "message": {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Two plus two is four."},
            {"type": "text", "text": "4"},
        ],
    },
    "usage": {
        "billed_units": {"input_tokens": 5, "output_tokens": 20},
        "tokens": {"input_tokens": 40, "output_tokens": 20},
    },
}


@pytest.mark.filterwarnings("ignore::podium.providers.pricing.UnknownPriceWarning")
@pytest.mark.parametrize("source", ["simple", "thinking"])
def test_text_stream_equals_request(source: str) -> None:
    data = THINKING if source == "thinking" else cassette("cohere", SIMPLE_CASSETTE).interactions[0].json
    with ReplayServer(synthetic(PATH, [(200, {}, data)])) as server:
        expected = model_for(server, "command-a-reasoning-08-2025").request([Message.user("q")])
    stream = synthetic(PATH, [(200, {"content-type": "text/event-stream"}, _as_stream(data))])
    with ReplayServer(stream) as server:
        assert final(list(model_for(server, "command-a-reasoning-08-2025").stream([Message.user("q")]))) == expected
    if source == "thinking":
        assert expected.parts == (Thinking("Two plus two is four.", provider="cohere"), Text("4"))


def test_thinking_round_trip_and_settings() -> None:
    response = ModelResponse((Thinking("Two plus two is four.", provider="cohere"), Text("4")), provider="cohere")
    output = OutputSchema("Answer", {"type": "object", "properties": {"n": {"type": "integer"}}})
    settings = ModelSettings(
        thinking=2048,
        temperature=0.3,
        max_tokens=100,
        top_p=0.8,
        seed=1,
        stop=["###"],
        tool_choice="get_time",
        extra={"cohere": {"safety_mode": "STRICT"}},
    )
    body = CohereModel("command-a-reasoning-08-2025", api_key="k").build_body(
        [Message.system("Be exact."), Message.user("2+2?"), response.to_message(), Message.user("and 3+3?")],
        TOOLS,
        settings,
        output,
        stream=False,
    )
    assert body == {
        "model": "command-a-reasoning-08-2025",
        "messages": [
            {"role": "system", "content": "Be exact."},
            {"role": "user", "content": "2+2?"},
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": "Two plus two is four."}, {"type": "text", "text": "4"}],
            },
            {"role": "user", "content": "and 3+3?"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "get_time", "description": TOOLS[1].description, "parameters": LOCATION},
            }
        ],
        "tool_choice": "REQUIRED",
        "stream": False,
        "temperature": 0.3,
        "max_tokens": 100,
        "p": 0.8,
        "seed": 1,
        "stop_sequences": ["###"],
        "thinking": {"type": "enabled", "token_budget": 2048},
        "response_format": {"type": "json_object", "json_schema": output.schema},
        "safety_mode": "STRICT",
    }


def test_foreign_thinking_dropped_and_tool_choice_checks() -> None:
    model = CohereModel("command-r", api_key="k")
    history = [
        Message.user("q"),
        Message(
            "assistant", [Thinking("hidden", signature="x", provider="anthropic"), Text("A")], provider="anthropic"
        ),
    ]
    body = model.build_body(history, None, ModelSettings(), None, stream=False)
    assert body["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "A"}]}
    assert (
        model.build_body([Message.user("q")], TOOLS, ModelSettings(tool_choice="none"), None, stream=False)[
            "tool_choice"
        ]
        == "NONE"
    )
    with pytest.raises(UserError, match="names no tool"):
        model.build_body([Message.user("q")], TOOLS, ModelSettings(tool_choice="nope"), None, stream=False)


# --------------------------------------------------------------------------- errors, async, registry


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (429, {"message": "You are using a Trial key, which is limited to 10 API calls / minute."}, RateLimitError),
        (401, {"message": "invalid api token"}, AuthenticationError),
        (
            400,
            {"message": "too many tokens: total number of tokens in the prompt cannot exceed 4081 - received 4694"},
            ContextWindowExceeded,
        ),
        (500, {"message": "internal server error, this has been reported to our developers"}, ServerError),
    ],
)
def test_http_errors(status: int, body: dict[str, Any], error: type[Exception]) -> None:
    headers = {"retry-after": "2"} if status == 429 else {}
    with ReplayServer(synthetic(PATH, [(status, headers, body)])) as server, pytest.raises(error) as info:
        model_for(server, "command-r").request([Message.user("x")])
    assert info.value.status == status  # type: ignore[attr-defined]
    assert body["message"] in str(info.value)
    if status == 429:
        assert info.value.retry_after == 2.0  # type: ignore[attr-defined]


def test_stream_error_and_connection_error() -> None:
    failed = synthetic(PATH, [(503, {}, {"message": "upstream unavailable"})])
    with ReplayServer(failed) as server, pytest.raises(ServerError, match="upstream unavailable"):
        list(model_for(server, "command-r").stream([Message.user("x")]))
    with pytest.raises(ProviderConnectionError):
        CohereModel("command-r", base_url=closed_port_url(), api_key="k", retry=NO_RETRY).request([Message.user("x")])


def test_missing_api_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CO_API_KEY", raising=False)
    with pytest.raises(UserError, match="CO_API_KEY"):
        CohereModel("command-r", base_url="http://127.0.0.1:1").request([Message.user("x")])


def test_async_request_and_stream() -> None:
    async def run() -> tuple[ModelResponse, ModelResponse]:
        with (
            ReplayServer(cassette("cohere", SIMPLE_CASSETTE)) as s1,
            ReplayServer(cassette("cohere", STREAM_CASSETTE)) as s2,
        ):
            plain = await model_for(s1, "command-r7b-12-2024").arequest([Message.user("hello")])
            events = [e async for e in model_for(s2, "command-r").astream([Message.user(QUESTION)], tools=TOOLS)]
        return plain, final(events)

    plain, streamed = asyncio.run(run())
    assert plain.text == "Hello! How can I assist you today?"
    assert [c.name for c in streamed.tool_calls] == ["get_time", "get_weather"]


def test_registry_profile_and_light_import() -> None:
    model = podium.model("cohere:command-a-03-2025", base_url="http://127.0.0.1:1", api_key="k")
    assert isinstance(model, CohereModel)
    assert model.profile.context_window == 256_000
    assert cohere_profile("command-a-reasoning-08-2025").thinking
    assert cohere_profile("command-a-vision-07-2025").vision
    assert not imported_after_import_podium("cohere")


def test_given_http_clients_are_used() -> None:
    """``http_client=`` / ``async_http_client=``: each call goes through the client given (its headers arrive)."""
    import httpx2

    data = cassette("cohere", SIMPLE_CASSETTE).interactions[0].json
    sync = httpx2.Client(headers={"x-podium-client": "sync"})
    given_async = httpx2.AsyncClient(headers={"x-podium-client": "async"})
    with ReplayServer(synthetic(PATH, [(200, {}, data), (200, {}, data)])) as server:
        model = CohereModel(
            "command-r7b-12-2024",
            base_url=server.url,
            api_key="given",
            retry=NO_RETRY,
            http_client=sync,
            async_http_client=given_async,
        )
        plain = model.request([Message.user("hello")])
        awaited = asyncio.run(model.arequest([Message.user("hello")]))
        received = server.received
    assert model.http.client is sync
    assert [r.headers["x-podium-client"] for r in received] == ["sync", "async"]
    assert [r.headers["authorization"] for r in received] == ["Bearer given"] * 2
    assert plain == awaited
    assert plain.text == "Hello! How can I assist you today?"
    sync.close()


def test_async_calls_from_two_event_loops() -> None:
    data = cassette("cohere", SIMPLE_CASSETTE).interactions[0].json
    with ReplayServer(synthetic(PATH, [(200, {}, data), (200, {}, data)])) as server:
        model = model_for(server, "command-r7b-12-2024")
        first = asyncio.run(model.arequest([Message.user("x")]))
        second = asyncio.run(model.arequest([Message.user("x")]))
    assert first == second


def test_cohere_api_key_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI picks Cohere when COHERE_API_KEY is set; the SDK itself reads CO_API_KEY."""
    monkeypatch.delenv("CO_API_KEY", raising=False)
    monkeypatch.setenv("COHERE_API_KEY", "from-env")
    with ReplayServer(cassette("cohere", SIMPLE_CASSETTE)) as server:
        CohereModel("command-r7b-12-2024", base_url=server.url).request([Message.user("hello")])
        assert server.received[0].headers["authorization"] == "Bearer from-env"


def test_failed_tool_results_start_with_error() -> None:
    """Cohere's tool messages have no error flag: a result with is_error says so in its text."""
    from podium.providers.cohere_wire import build_body

    history = [
        Message.user("go"),
        Message("assistant", [ToolCall("f_1", "f", {}), ToolCall("f_2", "f", {})], provider="cohere"),
        Message("tool", [ToolResult("f_1", "f", [Text("boom")], is_error=True), ToolResult("f_2", "f", [Text("ok")])]),
    ]
    body = build_body("command-a-03-2025", WireCall(history, None, ModelSettings(), None, False))
    assert [m["content"] for m in body["messages"] if m["role"] == "tool"] == ["Error: boom", "ok"]


def test_an_assistant_message_with_nothing_to_send_is_left_out() -> None:
    """Another provider's turn that held only thinking leaves no bare ``{"role": "assistant"}``."""
    from podium.providers.cohere_wire import build_body

    turn = Message("assistant", [Thinking("hmm", signature="s", provider="anthropic")], provider="anthropic")
    body = build_body(
        "command-a-03-2025",
        WireCall([Message.user("hi"), turn, Message.user("and?")], None, ModelSettings(), None, False),
    )
    assert [m["role"] for m in body["messages"]] == ["user", "user"]


def test_cached_tokens_are_cache_reads() -> None:
    """Cohere reports prompt-cache hits as ``usage.cached_tokens`` (no recording has them; shape from the API docs)."""
    from podium.providers.cohere_wire import parse_usage

    usage = parse_usage(
        {
            "billed_units": {"input_tokens": 40, "output_tokens": 9},
            "tokens": {"input_tokens": 1200, "output_tokens": 9},
            "cached_tokens": 1024,
        }
    )
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (1200, 9, 1024)
    assert usage.details == {"billed_input_tokens": 40, "billed_output_tokens": 9}


@pytest.mark.parametrize("mode", ["request", "stream"])
def test_usage_without_token_counts_takes_the_billed_units(mode: str) -> None:
    """An answer whose usage has ``billed_units`` but no ``tokens`` (older API versions, proxies) still counts."""
    data = {
        "id": "u1",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]},
        "usage": {"billed_units": {"input_tokens": 12, "output_tokens": 7}},
    }
    body = (200, {}, data) if mode == "request" else (200, {"content-type": "text/event-stream"}, _as_stream(data))
    with ReplayServer(synthetic(PATH, [body])) as server:
        model = model_for(server, "command-r7b-12-2024")
        response = (
            model.request([Message.user("q")]) if mode == "request" else final(list(model.stream([Message.user("q")])))
        )
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 7)
    assert response.usage.details == {"billed_input_tokens": 12, "billed_output_tokens": 7}
    assert response.cost == compute_cost("cohere", "command-r7b-12-2024", Usage(input_tokens=12, output_tokens=7))


def test_usage_with_only_search_units_billed_is_priced_on_the_token_counts() -> None:
    """Billed search units alone are no billed tokens: the cost comes from the counts, not a silent zero."""
    from podium.providers.cohere_wire import parse_response

    data = {
        "id": "u2",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]},
        "usage": {"billed_units": {"search_units": 1}, "tokens": {"input_tokens": 30, "output_tokens": 4}},
    }
    response = parse_response(data, "command-r7b-12-2024")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (30, 4)
    assert response.usage.details == {"billed_search_units": 1}
    assert response.cost is not None and response.cost > 0
    assert response.cost == compute_cost("cohere", "command-r7b-12-2024", Usage(input_tokens=30, output_tokens=4))
