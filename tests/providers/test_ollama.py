"""Ollama provider: every Ollama cassette replayed over HTTP through Podium's own transport (no ollama SDK)."""

from __future__ import annotations

import asyncio
import json
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
        silent_server,
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
        silent_server,
        sse,
        synthetic,
    )

import podium
from podium.exceptions import (
    BadRequestError,
    ProviderConnectionError,
    ProviderTimeoutError,
    ServerError,
    UserError,
)
from podium.messages import File, Image, Message, ModelResponse, Text, Thinking, ToolCall, ToolResult
from podium.providers.base import WireCall
from podium.providers.ollama import OllamaModel, OllamaOpenAIModel, make_model, ollama_profile
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import TextDelta, ThinkingDelta, ToolCallDelta

NO_RETRY = RetryPolicy(max_retries=0)
JOKE = "Tell me a joke about OpenTelemetry"

# ollama-python 0.2-0.4 (the recording client) sent these defaults explicitly; Podium leaves them out.
OLD_SDK_DEFAULTS = {"format": "", "options": {}, "keep_alive": None}


def model_for(server: ReplayServer, name: str, **kw: Any) -> Any:
    return make_model(name, base_url=server.url, retry=NO_RETRY, **kw)


def final(events: list[Any]) -> ModelResponse:
    assert isinstance(events[-1], ModelResponse)
    assert not any(isinstance(e, ModelResponse) for e in events[:-1])
    return events[-1]


def drop_defaults(body: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    for key, value in defaults.items():
        assert body.pop(key) == value, key
    return body


# --------------------------------------------------------------------------- native /api/chat cassettes


def test_chat_legacy() -> None:
    c = cassette("ollama", "test_ollama_chat_legacy.yaml")
    with ReplayServer(c) as server:
        response = model_for(server, "llama3").request([Message.user(JOKE)])
        sent = server.received[0].json
    assert_same_body(sent, drop_defaults(recorded_bodies(c)[0], OLD_SDK_DEFAULTS))
    assert response.text.startswith("A joke about OpenTelemetry!\n\nWhy did the OpenTelemetry agent go to therapy?")
    assert response.parts == (Text(response.text),)
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.requests) == (17, 66, 1)
    assert response.cost == 0.0
    assert response.model == "llama3"
    assert response.provider == "ollama"
    assert response.provider_details == {
        "created_at": "2024-05-24T20:01:31.01558Z",
        "total_duration": 10386172208,
        "load_duration": 8078850750,
        "prompt_eval_duration": 175861000,
        "eval_duration": 2127200000,
        "finish_reason": "stop",
    }


def test_streaming_chat_legacy() -> None:
    c = cassette("ollama", "test_ollama_streaming_chat_legacy.yaml")
    with ReplayServer(c) as server:
        events = list(model_for(server, "llama3").stream([Message.user(JOKE)]))
        sent = server.received[0].json
    assert_same_body(sent, drop_defaults(recorded_bodies(c)[0], OLD_SDK_DEFAULTS))
    response = final(events)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 49
    assert {d.index for d in deltas} == {0}
    assert "".join(d.text for d in deltas) == response.text
    assert response.text.startswith(
        "Why did the OpenTelemetry agent go to therapy?\n\nBecause it was feeling traced out"
    )
    assert response.text.endswith("I hope it brought a smile to your face!)")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (17, 50)
    assert response.finish_reason == "stop"
    assert response.provider_details is not None
    assert response.provider_details["eval_duration"] == 1577990000


def test_tool_call_history_and_tool_result_legacy() -> None:
    """The request replays an assistant tool call and its result in the native format."""
    c = cassette("ollama", "test_ollama_chat_tool_calls_legacy.yaml")
    call = ToolCall("ollama_1", "get_current_weather", {"location": "San Francisco"})
    history = [
        Message("assistant", [call], provider="ollama", model="llama3.1"),
        Message(
            "tool", [ToolResult(call.id, call.name, [Text("The weather in San Francisco is 70 degrees and sunny.")])]
        ),
    ]
    with ReplayServer(c) as server:
        response = model_for(server, "llama3.1").request(history)
        sent = server.received[0].json
    expected = drop_defaults(recorded_bodies(c)[0], {**OLD_SDK_DEFAULTS, "tools": []})
    # Podium names the tool in the result message (`tool_name`, a field ollama-python 0.3 did not have).
    assert sent["messages"][1].pop("tool_name") == "get_current_weather"
    assert_same_body(sent, expected)
    assert response.text.startswith("This is a simple example, but in a real-world scenario")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (44, 113)
    assert response.finish_reason == "stop"


def test_generate_endpoint_legacy() -> None:
    """/api/generate maps to a single-turn model (endpoint="generate"); its token context is kept."""
    c = cassette("ollama", "test_ollama_generation_legacy.yaml")
    with ReplayServer(c) as server:
        response = model_for(server, "llama3", endpoint="generate").request([Message.user(JOKE)])
        sent = server.received[0].json
    generate_defaults = {"system": "", "template": "", "context": [], "raw": False, "images": [], **OLD_SDK_DEFAULTS}
    assert_same_body(sent, drop_defaults(recorded_bodies(c)[0], generate_defaults))
    assert response.text.startswith(
        "A niche topic!\n\nHere's one:\n\nWhy did the OpenTelemetry collector go to therapy?"
    )
    assert (response.usage.input_tokens, response.usage.output_tokens) == (17, 63)
    assert response.finish_reason == "stop"
    assert response.provider_details is not None
    assert response.provider_details["context"][:3] == [128006, 882, 128007]
    assert len(response.provider_details["context"]) == 80


def test_generate_endpoint_refuses_conversations() -> None:
    model = OllamaModel("llama3", endpoint="generate")
    with pytest.raises(UserError, match="one user message"):
        model.build_body(
            [Message.user("a"), Message.assistant("b"), Message.user("c")], None, ModelSettings(), None, stream=False
        )
    body = model.build_body([Message.system("Be brief."), Message.user("hi")], None, ModelSettings(), None, stream=True)
    assert body == {"model": "llama3", "prompt": "hi", "stream": True, "system": "Be brief."}


# --------------------------------------------------------------------------- OpenAI-compatible /v1 cassettes

FINAL_RESULT = ToolDefinition(
    "final_result",
    "The final response which ends this conversation",
    {
        "additionalProperties": False,
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
        "type": "object",
    },
)


def test_cloud_openai_endpoint_reasoning_and_tool_call() -> None:
    c = cassette("ollama", "test_ollama_cloud_tool_output.yaml")
    recorded = recorded_bodies(c)
    retry_prompt = recorded[1]["messages"][2]["content"]
    settings = ModelSettings(tool_choice="auto")
    history: list[Message] = [Message.user("What is the capital of France?")]
    with ReplayServer(c) as server:
        model = model_for(server, "gpt-oss:20b", api="openai")
        first = model.request(history, tools=[FINAL_RESULT], settings=settings)
        history += [first.to_message(), Message.user(retry_prompt)]
        second = model.request(history, tools=[FINAL_RESULT], settings=settings)
        sent = [r.json for r in server.received]
    for want in recorded:
        assert want.pop("stream") is False  # the OpenAI SDK (recording client) sends it; Podium leaves it out
    for got, want in zip(sent, recorded, strict=True):
        assert_same_body(got, want)  # the reasoning goes back in the assistant message, as recorded
    thinking, text = first.parts
    assert isinstance(thinking, Thinking)
    assert thinking.provider == "ollama"
    assert thinking.text.startswith('We need to answer question: "What is the capital of France?"')
    assert text == Text("Paris.")
    assert first.finish_reason == "stop"
    assert (first.usage.input_tokens, first.usage.output_tokens) == (134, 122)
    (call,) = second.tool_calls
    assert (call.id, call.name, call.args) == ("call_o2vnpxrw", "final_result", {"city": "Paris", "country": "France"})
    assert second.finish_reason == "tool_calls"
    assert second.thinking[0].text.startswith("The conversation: user asked")
    assert (second.usage.input_tokens, second.usage.output_tokens) == (206, 194)
    assert second.cost == 0.0


def test_local_openai_endpoint_json_schema_output() -> None:
    c = cassette("ollama", "test_ollama_local_native_output_uses_json_schema.yaml")
    recorded = recorded_bodies(c)[0]
    schema = recorded["response_format"]["json_schema"]["schema"]
    output = OutputSchema("CityLocation", schema, strict=False)
    with ReplayServer(c) as server:
        model = model_for(server, "qwen3:0.6b", api="openai")
        assert isinstance(model, OllamaOpenAIModel)
        response = model.request([Message.user("What is the capital of France?")], output=output)
        sent = server.received[0].json
    assert recorded.pop("stream") is False  # sent explicitly by the OpenAI SDK (recording client), not by Podium
    assert sent["response_format"]["json_schema"].pop("strict") is False  # Podium says non-strict explicitly
    assert_same_body(sent, recorded)
    assert json.loads(response.text) == {"city": "Paris", "country": "France"}
    assert response.thinking[0].text.startswith("Okay, the user is asking for the capital of France.")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (136, 15)
    assert response.finish_reason == "stop"


# --------------------------------------------------------------------------- stream == request


def _ndjson(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _as_native_stream(data: dict[str, Any], piece: int = 5) -> bytes:
    head = {"model": data["model"], "created_at": data["created_at"]}
    message = data["message"]
    lines: list[dict[str, Any]] = []
    for field in ("thinking", "content"):
        text = message.get(field) or ""
        for start in range(0, len(text), piece):
            lines.append({**head, "message": {"role": "assistant", field: text[start : start + piece]}, "done": False})
    if message.get("tool_calls"):
        lines.append(
            {
                **head,
                "message": {"role": "assistant", "content": "", "tool_calls": message["tool_calls"]},
                "done": False,
            }
        )
    done = {k: v for k, v in data.items() if k != "message"}
    lines.append({**done, "message": {"role": "assistant", "content": ""}})
    return _ndjson(lines)


NATIVE_TOOLS = {
    "model": "qwen3:0.6b",
    "created_at": "2026-01-01T10:00:00.123Z",
    "message": {
        "role": "assistant",
        "content": "Let me check.",
        "thinking": "The user wants the weather; call the tool.",
        "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"function": {"name": "get_time", "arguments": {"city": "Paris"}}},
        ],
    },
    "done_reason": "stop",
    "done": True,
    "total_duration": 100,
    "prompt_eval_count": 30,
    "eval_count": 20,
}


def test_native_tool_calls_and_thinking_synthetic() -> None:
    """No recorded native response has tool calls or thinking (INDEX.md); this one follows Ollama's API docs."""
    c = synthetic("/api/chat", [(200, {}, NATIVE_TOOLS)])
    tools = [
        ToolDefinition("get_weather", "Weather.", {"type": "object"}),
        ToolDefinition("get_time", "Time.", {"type": "object"}),
    ]
    with ReplayServer(c) as server:
        response = model_for(server, "qwen3:0.6b").request(
            [Message.user("weather and time in Paris?")], tools=tools, settings=ModelSettings(thinking=True)
        )
        sent = server.received[0].json
    assert sent["think"] is True
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather", "get_time"]
    assert [p.type for p in response.parts] == ["thinking", "text", "tool_call", "tool_call"]
    calls = response.tool_calls
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"}), ("get_time", {"city": "Paris"})]
    assert calls[0].id.startswith("ollama_")
    assert calls[0].id != calls[1].id
    assert response.finish_reason == "tool_calls"
    assert response.provider_details is not None
    assert response.provider_details["finish_reason"] == "stop"
    # The next turn sends the thinking, the calls and the named results back in the native shape.
    history = [
        Message.user("q"),
        response.to_message(),
        Message(
            "tool",
            [
                ToolResult(calls[0].id, "get_weather", [Text("sunny")]),
                ToolResult(calls[1].id, "get_time", [Text("noon")]),
            ],
        ),
    ]
    body = OllamaModel("qwen3:0.6b").build_body(history, tools, ModelSettings(), None, stream=False)
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Let me check.",
            "thinking": "The user wants the weather; call the tool.",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_time", "arguments": {"city": "Paris"}}},
            ],
        },
        {"role": "tool", "tool_name": "get_weather", "content": "sunny"},
        {"role": "tool", "tool_name": "get_time", "content": "noon"},
    ]


@pytest.mark.parametrize("data", ["chat_legacy", "tools"])
def test_native_stream_equals_request(data: str) -> None:
    body = NATIVE_TOOLS if data == "tools" else cassette("ollama", "test_ollama_chat_legacy.yaml").interactions[0].json
    with ReplayServer(synthetic("/api/chat", [(200, {}, body)])) as server:
        expected = model_for(server, body["model"]).request([Message.user("q")])
    stream = synthetic("/api/chat", [(200, {"content-type": "application/x-ndjson"}, _as_native_stream(body))])
    with ReplayServer(stream) as server:
        events = list(model_for(server, body["model"]).stream([Message.user("q")]))
    assert final(events) == expected
    if data == "tools":
        kinds = [type(e) for e in events[:-1]]
        assert ThinkingDelta in kinds
        assert kinds.count(ToolCallDelta) == 2


def test_streamed_cassette_equals_its_assembled_response() -> None:
    recorded = cassette("ollama", "test_ollama_streaming_chat_legacy.yaml").interactions[0].body.decode()
    lines = [json.loads(line) for line in recorded.splitlines() if line.strip()]
    whole = {
        **lines[-1],
        "message": {"role": "assistant", "content": "".join(line["message"]["content"] for line in lines)},
    }
    with ReplayServer(synthetic("/api/chat", [(200, {}, whole)])) as server:
        expected = model_for(server, "llama3").request([Message.user(JOKE)])
    with ReplayServer(cassette("ollama", "test_ollama_streaming_chat_legacy.yaml")) as server:
        assert final(list(model_for(server, "llama3").stream([Message.user(JOKE)]))) == expected


def test_openai_endpoint_stream_equals_request() -> None:
    data = cassette("ollama", "test_ollama_cloud_tool_output.yaml").interactions[1].json
    message = data["choices"][0]["message"]
    head = {k: data[k] for k in ("id", "object", "created", "model", "system_fingerprint")}
    reasoning = message["reasoning"]
    chunks = [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning": reasoning[i : i + 40]}}]}
        for i in range(0, len(reasoning), 40)
    ]
    call = message["tool_calls"][0]
    args = call["function"]["arguments"]
    chunks.append(
        {
            **head,
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{**call, "function": {"name": "final_result", "arguments": args[:10]}}]},
                }
            ],
        }
    )
    chunks.append(
        {
            **head,
            "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args[10:]}}]}}],
        }
    )
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    chunks.append({**head, "choices": [], "usage": data["usage"]})
    with ReplayServer(synthetic("/v1/chat/completions", [(200, {}, data)])) as server:
        expected = model_for(server, "gpt-oss:20b", api="openai").request([Message.user("q")])
    stream = synthetic("/v1/chat/completions", [(200, {"content-type": "text/event-stream"}, sse(chunks))])
    with ReplayServer(stream) as server:
        events = list(model_for(server, "gpt-oss:20b", api="openai").stream([Message.user("q")]))
        assert server.received[0].json["stream_options"] == {"include_usage": True}
    assert final(events) == expected
    assert expected.tool_calls[0].args == {"city": "Paris", "country": "France"}


# --------------------------------------------------------------------------- request building


def test_settings_images_and_format_reach_the_wire() -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    settings = ModelSettings(
        temperature=0.1,
        top_p=0.5,
        max_tokens=64,
        stop=["\n\n"],
        seed=3,
        thinking="high",
        parallel_tool_calls=True,
        extra={"ollama": {"keep_alive": "5m", "options": {"num_ctx": 8192}}},
    )
    output = OutputSchema("City", {"type": "object", "properties": {"city": {"type": "string"}}})
    note = File(data=b"hello notes", media_type="text/plain", filename="notes.txt")
    body = OllamaModel("gemma3").build_body(
        [Message.system("sys"), Message.user("look", Image(data=png, media_type="image/png"), note)],
        None,
        settings,
        output,
        stream=False,
    )
    assert body == {
        "model": "gemma3",
        "messages": [
            {"role": "system", "content": "sys"},
            {
                "role": "user",
                "content": 'look<file name="notes.txt" type=text/plain>\nhello notes\n</file>',
                "images": ["iVBORw0KGgpmYWtl"],
            },
        ],
        "stream": False,
        "think": "high",
        "format": output.schema,
        "options": {"temperature": 0.1, "top_p": 0.5, "num_predict": 64, "stop": ["\n\n"], "seed": 3, "num_ctx": 8192},
        "keep_alive": "5m",
    }


def test_unsupported_inputs_raise_clear_errors() -> None:
    model = OllamaModel("llama3.1")
    tools = [ToolDefinition("f", "F.", {"type": "object"})]
    required = model.build_body([Message.user("x")], tools, ModelSettings(tool_choice="required"), None, stream=False)
    assert [t["function"]["name"] for t in required["tools"]] == ["f"]  # offered; Ollama cannot force it
    with pytest.raises(UserError, match="names no tool"):
        model.build_body([Message.user("x")], tools, ModelSettings(tool_choice="g"), None, stream=False)
    with pytest.raises(UserError, match="not URLs"):
        model.build_body([Message.user(Image(url="https://x/y.png"))], None, ModelSettings(), None, stream=False)
    with pytest.raises(UserError, match="application/pdf"):
        model.build_body(
            [Message.user(File(data=b"%PDF", media_type="application/pdf"))], None, ModelSettings(), None, stream=False
        )
    body = model.build_body([Message.user("x")], tools, ModelSettings(tool_choice="none"), None, stream=False)
    assert "tools" not in body
    with pytest.raises(UserError, match="api="):
        make_model("x", api="grpc")
    with pytest.raises(UserError, match="native API only"):
        make_model("x", api="openai", endpoint="generate")


def test_foreign_thinking_is_not_sent() -> None:
    history = [
        Message.user("q"),
        Message(
            "assistant", [Thinking("secret plan", signature="s", provider="anthropic"), Text("A")], provider="anthropic"
        ),
        Message.user("next"),
    ]
    body = OllamaModel("qwen3").build_body(history, None, ModelSettings(), None, stream=False)
    assert body["messages"][1] == {"role": "assistant", "content": "A"}
    body = OllamaModel("qwen3").build_body(history, None, ModelSettings(foreign_thinking="text"), None, stream=False)
    assert body["messages"][1]["content"] == "<thinking>\nsecret plan\n</thinking>A"


# --------------------------------------------------------------------------- errors, async, registry


def test_http_errors() -> None:
    not_found = {"error": 'model "llama9" not found, try pulling it first'}
    with ReplayServer(synthetic("/api/chat", [(404, {}, not_found)])) as server, pytest.raises(BadRequestError) as info:
        model_for(server, "llama9").request([Message.user("x")])
    assert info.value.status == 404
    assert "try pulling it first" in str(info.value)
    failed = synthetic("/api/chat", [(500, {}, {"error": "llama runner process has terminated"})])
    with ReplayServer(failed) as server, pytest.raises(ServerError, match="llama runner"):
        list(model_for(server, "llama3").stream([Message.user("x")]))


def test_error_line_inside_a_stream() -> None:
    lines = _ndjson(
        [
            {"model": "llama3", "created_at": "t", "message": {"role": "assistant", "content": "Hel"}, "done": False},
            {"error": "an error was encountered while running the model: unexpected EOF"},
        ]
    )
    c = synthetic("/api/chat", [(200, {"content-type": "application/x-ndjson"}, lines)])
    with ReplayServer(c) as server, pytest.raises(ServerError, match="unexpected EOF"):
        list(model_for(server, "llama3").stream([Message.user("x")]))


def test_connection_refused_and_timeout() -> None:
    with pytest.raises(ProviderConnectionError, match="is Ollama running"):
        OllamaModel("llama3", base_url=closed_port_url(), retry=NO_RETRY).request([Message.user("x")])
    with silent_server() as url, pytest.raises(ProviderTimeoutError):
        OllamaModel("llama3", base_url=url, retry=NO_RETRY).request(
            [Message.user("x")], settings=ModelSettings(timeout=0.3)
        )


def test_async_request_and_stream() -> None:
    async def run() -> tuple[ModelResponse, ModelResponse]:
        with (
            ReplayServer(cassette("ollama", "test_ollama_chat_legacy.yaml")) as s1,
            ReplayServer(cassette("ollama", "test_ollama_streaming_chat_legacy.yaml")) as s2,
        ):
            r1 = await model_for(s1, "llama3").arequest([Message.user(JOKE)])
            events = [e async for e in model_for(s2, "llama3").astream([Message.user(JOKE)])]
        return r1, final(events)

    plain, streamed = asyncio.run(run())
    assert plain.usage.output_tokens == 66
    assert streamed.usage.output_tokens == 50
    assert streamed.text.startswith("Why did the OpenTelemetry agent")


def test_api_key_header_registry_profile_and_light_import() -> None:
    with ReplayServer(cassette("ollama", "test_ollama_chat_legacy.yaml")) as server:
        model = podium.model("ollama:llama3", base_url=server.url, api_key="secret")
        assert isinstance(model, OllamaModel)
        model.request([Message.user(JOKE)])
        assert server.received[0].headers["authorization"] == "Bearer secret"
    assert ollama_profile("qwen3:0.6b").thinking
    assert ollama_profile("llava:13b").vision
    assert not ollama_profile("llama3").tools
    assert ollama_profile("llama3.1").tools
    assert not imported_after_import_podium("ollama")


def test_given_http_clients_are_used() -> None:
    """``http_client=`` / ``async_http_client=``: each call goes through the client given (its headers arrive)."""
    import httpx2

    data = cassette("ollama", "test_ollama_chat_legacy.yaml").interactions[0].json
    sync = httpx2.Client(headers={"x-podium-client": "sync"})
    given_async = httpx2.AsyncClient(headers={"x-podium-client": "async"})
    with ReplayServer(synthetic("/api/chat", [(200, {}, data), (200, {}, data)])) as server:
        model = OllamaModel(
            "llama3", base_url=server.url, retry=NO_RETRY, http_client=sync, async_http_client=given_async
        )
        plain = model.request([Message.user(JOKE)])
        awaited = asyncio.run(model.arequest([Message.user(JOKE)]))
        received = server.received
    assert model.http.client is sync
    assert [r.path for r in received] == ["/api/chat"] * 2
    assert [r.headers["x-podium-client"] for r in received] == ["sync", "async"]
    assert plain == awaited
    assert plain.usage.output_tokens == 66
    sync.close()


def test_non_json_bodies_give_a_provider_error() -> None:
    html = "<html><body>502 from a proxy</body></html>"
    c = synthetic("/api/chat", [(200, {"content-type": "text/html"}, html)])
    with ReplayServer(c) as server, pytest.raises(podium.ProviderError, match=r"content type 'text/html'.*502 from"):
        model_for(server, "llama3").request([Message.user("x")])
    lines = b'{"model":"llama3","created_at":"t","message":{"role":"assistant","content":"Hi"},"done":false}\n{broken\n'
    c = synthetic("/api/chat", [(200, {"content-type": "application/x-ndjson"}, lines)])
    with ReplayServer(c) as server, pytest.raises(podium.ProviderError, match="broken"):
        list(model_for(server, "llama3").stream([Message.user("x")]))


def test_agent_runs_a_tool_loop_on_ollama() -> None:
    """The agent loop end to end on the native API: a tool call, its result, the final answer."""
    first = {
        "model": "llama3.1",
        "created_at": "2026-01-01T10:00:00Z",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "add", "arguments": {"a": 2, "b": 3}}}],
        },
        "done_reason": "stop",
        "done": True,
        "prompt_eval_count": 50,
        "eval_count": 10,
    }
    second = {
        "model": "llama3.1",
        "created_at": "2026-01-01T10:00:01Z",
        "message": {"role": "assistant", "content": "2 + 3 = 5"},
        "done_reason": "stop",
        "done": True,
        "prompt_eval_count": 70,
        "eval_count": 8,
    }

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    with ReplayServer(synthetic("/api/chat", [(200, {}, first), (200, {}, second)])) as server:
        agent = podium.Agent(model_for(server, "llama3.1"), tools=[add])
        result = agent.run("What is 2 + 3?")
        sent = [r.json for r in server.received]
    assert result.output == "2 + 3 = 5"
    assert result.usage.input_tokens == 120
    assert result.cost == 0.0
    assert sent[1]["messages"][-1] == {"role": "tool", "tool_name": "add", "content": "5"}
    assert sent[1]["messages"][-2]["tool_calls"] == [{"function": {"name": "add", "arguments": {"a": 2, "b": 3}}}]


def test_agent_streams_on_ollama() -> None:
    with ReplayServer(cassette("ollama", "test_ollama_streaming_chat_legacy.yaml")) as server:
        events = list(podium.Agent(model_for(server, "llama3")).stream(JOKE))
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 49
    assert "".join(d.text for d in deltas).startswith("Why did the OpenTelemetry agent go to therapy?")


def test_async_calls_from_two_event_loops() -> None:
    data = cassette("ollama", "test_ollama_chat_legacy.yaml").interactions[0].json
    with ReplayServer(synthetic("/api/chat", [(200, {}, data), (200, {}, data)])) as server:
        model = model_for(server, "llama3")
        first = asyncio.run(model.arequest([Message.user("x")]))
        second = asyncio.run(model.arequest([Message.user("x")]))
    assert first == second


def test_failed_tool_results_start_with_error() -> None:
    """The native API's tool messages have no error flag: a result with is_error says so in its text."""
    from podium.providers.ollama_wire import build_chat_body

    history = [
        Message.user("go"),
        Message("assistant", [ToolCall("a", "f", {}), ToolCall("b", "f", {})], provider="ollama"),
        Message("tool", [ToolResult("a", "f", [Text("boom")], is_error=True), ToolResult("b", "f", [Text("ok")])]),
    ]
    body = build_chat_body("llama3", WireCall(history, None, ModelSettings(), None, False))
    assert [m["content"] for m in body["messages"] if m["role"] == "tool"] == ["Error: boom", "ok"]


def test_an_assistant_message_with_nothing_to_send_is_left_out() -> None:
    from podium.providers.ollama_wire import build_chat_body

    turn = Message("assistant", [Thinking("hmm", signature="s", provider="anthropic")], provider="anthropic")
    own = Message("assistant", [Thinking("mine", provider="ollama")], provider="ollama")
    body = build_chat_body("llama3", WireCall([Message.user("hi"), turn, own], None, ModelSettings(), None, False))
    assert body["messages"][1:] == [{"role": "assistant", "content": "", "thinking": "mine"}]
