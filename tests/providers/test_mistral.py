"""Mistral provider: every Mistral cassette replayed over HTTP through the official mistralai SDK."""

from __future__ import annotations

import asyncio
import copy
import gzip
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
    AuthenticationError,
    BadRequestError,
    ContextWindowExceeded,
    ProviderConnectionError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
)
from podium.messages import File, Image, Message, ModelResponse, Text, Thinking, ToolCall, ToolResult
from podium.providers.base import WireCall
from podium.providers.mistral import MistralModel, mistral_profile
from podium.providers.mistral_wire import build_body, tool_call_id
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import TextDelta, ThinkingDelta, ToolCallDelta
from podium.testing.cassette import Cassette

NO_RETRY = RetryPolicy(max_retries=0)
PATH = "/v1/chat/completions"


def model_for(server: ReplayServer, name: str, **kw: Any) -> MistralModel:
    return MistralModel(name, base_url=server.url, api_key="test-key", retry=NO_RETRY, **kw)


def final(events: list[Any]) -> ModelResponse:
    assert isinstance(events[-1], ModelResponse)
    assert not any(isinstance(e, ModelResponse) for e in events[:-1])
    return events[-1]


def tool_def(name: str, description: str, parameters: dict[str, Any]) -> ToolDefinition:
    return ToolDefinition(name, description, parameters)


# --------------------------------------------------------------------------- cassettes


def test_legacy_plain_text_request_is_the_recorded_one() -> None:
    c = cassette("mistral", "test_mistralai_chat_legacy.yaml")
    with ReplayServer(c) as server:
        response = model_for(server, "mistral-tiny").request([Message.user("Tell me a joke about OpenTelemetry")])
        sent = server.received[0]
    assert sent.json == c.interactions[0].request.body  # byte-identical JSON content, nothing to list
    assert sent.headers["authorization"] == "Bearer test-key"
    assert response.text.startswith("Here's a light-hearted, tech-themed joke related to OpenTelemetry")
    assert response.parts == (Text(response.text),)
    assert response.finish_reason == "stop"
    assert response.provider_details == {
        "id": "e9459fcd56c742e0875167c9926c6aae",
        "created": 1757759489,
        "finish_reason": "stop",
    }
    assert response.usage.input_tokens == 11
    assert response.usage.output_tokens == 96
    assert response.usage.requests == 1
    assert response.model == "mistral-tiny"
    assert response.cost is not None
    assert response.cost > 0


def test_gzip_encoded_body_is_decoded() -> None:
    """The legacy cassette stores a gzip body: serve it compressed, with its content-encoding header."""
    recorded = cassette("mistral", "test_mistralai_chat_legacy.yaml").interactions[0]
    body = gzip.compress(recorded.body)
    gz = synthetic(PATH, [(200, {"content-type": "application/json", "content-encoding": "gzip"}, body)])
    with ReplayServer(gz) as server:
        response = model_for(server, "mistral-tiny").request([Message.user("Tell me a joke about OpenTelemetry")])
    assert response.usage.output_tokens == 96
    assert "distributed service calls" in response.text


def test_cached_tokens_from_prompt_tokens_details() -> None:
    c = cassette("mistral", "test_mistralai_chat_with_cache_tokens.yaml")
    with ReplayServer(c) as server:
        response = model_for(server, "mistral-tiny").request([Message.user("Tell me a joke about OpenTelemetry")])
        assert server.received[0].json == c.interactions[0].request.body
    assert response.text == "Why did OpenTelemetry go to therapy? Because it had too many unresolved traces!"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (20, 18)
    assert response.usage.cache_read_tokens == 10
    assert response.finish_reason == "stop"


def test_history_prompt_cache_two_turns() -> None:
    c = cassette("mistral", "test_mistral_history_uses_prompt_cache.yaml")
    settings = ModelSettings(
        top_p=1.0, extra={"mistral": {"prompt_cache_key": "pydantic-ai-test-mistral-history-cache"}}
    )
    prefix = recorded_bodies(c)[0]["messages"][0]["content"]
    assert prefix.startswith("Retain this instruction prefix for the entire conversation.")
    history = [Message.system(prefix), Message.user("Reply with exactly: cache probe one.")]
    with ReplayServer(c) as server:
        model = model_for(server, "mistral-large-latest")
        first = model.request(history, settings=settings)
        history += [first.to_message(), Message.user("Reply with exactly: cache probe two.")]
        second = model.request(history, settings=settings)
        sent = [r.json for r in server.received]
    assert first.text == "cache probe one."
    assert second.text == "cache probe two."
    assert first.usage.cache_read_tokens == 0
    assert (second.usage.input_tokens, second.usage.cache_read_tokens, second.usage.output_tokens) == (268, 224, 5)
    expected = recorded_bodies(c)
    for body in expected:
        # pydantic-ai sends these defaults explicitly; Podium leaves them to the API.
        for key, value in {"frequency_penalty": None, "presence_penalty": None, "stop": None, "n": 1}.items():
            assert body.pop(key) == value
    # pydantic-ai marks a replayed assistant message with its defaults `prefix: false` and `tool_calls: []`.
    assistant = expected[1]["messages"][2]
    assert assistant.pop("prefix") is False
    assert assistant.pop("tool_calls") == []
    for got, want in zip(sent, expected, strict=True):
        assert_same_body(got, want)


WEATHER = {
    "additionalProperties": False,
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "type": "object",
}


def _pydantic_ai_defaults(bodies: list[Any]) -> None:
    """Edits that reconcile pydantic-ai's recorded request defaults with Podium's; each one is listed here."""
    for body in bodies:
        assert body.pop("n") == 1  # pydantic-ai always sends n=1
        for tool in body.get("tools", []):
            tool["type"] = "function"  # the Mistral SDK omitted the default `type`; Podium sends it
        for message in body["messages"]:
            if message["role"] == "assistant":
                assert message.pop("prefix") is False  # pydantic-ai's explicit default


def test_tool_call_round_trip_auto_tool_choice() -> None:
    c = cassette("mistral", "test_tool_choice_matrix[auto-mistral].yaml")
    tools = [tool_def("get_weather", "Get the current weather for a city.", WEATHER)]
    settings = ModelSettings(tool_choice="auto", top_p=1.0)
    history: list[Message] = [Message.user("What's the weather in Paris?")]
    with ReplayServer(c) as server:
        model = model_for(server, "mistral-large-latest")
        first = model.request(history, tools=tools, settings=settings)
        call = first.tool_calls[0]
        history += [
            first.to_message(),
            Message("tool", [ToolResult(call.id, call.name, [Text("Sunny, 22C in Paris")])]),
        ]
        second = model.request(history, tools=tools, settings=settings)
        sent = [r.json for r in server.received]
    assert first.parts == (ToolCall("KikbB849t", "get_weather", {"city": "Paris"}),)
    assert first.finish_reason == "tool_calls"
    assert first.provider_details is not None
    assert first.provider_details["finish_reason"] == "tool_calls"
    assert (first.usage.input_tokens, first.usage.cache_read_tokens, first.usage.output_tokens) == (77, 76, 12)
    assert second.text.startswith("The current weather in **Paris** is **sunny**")
    assert second.finish_reason == "stop"
    assert second.usage.cache_read_tokens == 99
    expected = recorded_bodies(c)
    _pydantic_ai_defaults(expected)
    for got, want in zip(sent, expected, strict=True):
        assert_same_body(got, want)


def test_image_in_tool_result_round_trip() -> None:
    c = cassette("mistral", "test_image_as_binary_content_tool_response.yaml")
    recorded = recorded_bodies(c)
    image_url = recorded[1]["messages"][4]["content"][1]["image_url"]["url"]
    import base64

    image = Image(data=base64.b64decode(image_url.split(",", 1)[1]), media_type="image/jpeg")
    tools = [tool_def("get_image", "", {"additionalProperties": False, "properties": {}, "type": "object"})]
    settings = ModelSettings(tool_choice="auto", top_p=1.0)
    question = "What fruit is in the image you can get from the get_image tool? Call the tool."
    history: list[Message] = [Message.user(question)]
    with ReplayServer(c) as server:
        model = model_for(server, "pixtral-12b-latest")
        first = model.request(history, tools=tools, settings=settings)
        call = first.tool_calls[0]
        history += [first.to_message(), Message("tool", [ToolResult(call.id, call.name, [image])])]
        second = model.request(history, tools=tools, settings=settings)
        sent = [r.json for r in server.received]
    assert first.parts == (ToolCall("FI5qQGzDE", "get_image", {}),)
    assert "kiwi" in second.text
    assert (second.usage.input_tokens, second.usage.output_tokens) == (1540, 54)
    _pydantic_ai_defaults(recorded)
    for body in recorded:
        # this older pydantic-ai sent a lone text prompt as a one-chunk list; Podium sends the string
        body["messages"][0]["content"] = question
    # this older pydantic-ai wrote "See file 241a70" without the final period of later versions (and Podium)
    assert recorded[1]["messages"][2]["content"] == "See file 241a70"
    recorded[1]["messages"][2]["content"] = "See file 241a70."
    for got, want in zip(sent, recorded, strict=True):
        assert_same_body(got, want)


def test_document_in_tool_result_round_trip() -> None:
    c = cassette("mistral", "test_multimodal_tool_return_matrix[direct-binary-document-mistral].yaml")
    recorded = recorded_bodies(c)
    doc_url = recorded[1]["messages"][4]["content"][1]["document_url"]
    import base64

    pdf = File(data=base64.b64decode(doc_url.split(",", 1)[1]), media_type="application/pdf")
    tools = [tool_def("get_file", "", {"additionalProperties": False, "properties": {}, "type": "object"})]
    settings = ModelSettings(tool_choice="auto", top_p=1.0)
    history: list[Message] = [
        Message.user("Use the get_file tool now to retrieve a document file, then describe what you received.")
    ]
    with ReplayServer(c) as server:
        model = model_for(server, "mistral-medium-latest")
        first = model.request(history, tools=tools, settings=settings)
        call = first.tool_calls[0]
        history += [first.to_message(), Message("tool", [ToolResult(call.id, call.name, [pdf])])]
        second = model.request(history, tools=tools, settings=settings)
        sent = [r.json for r in server.received]
    assert first.tool_calls == [ToolCall("Df1cqWOle", "get_file", {})]
    assert "Dummy PDF file" in second.text
    _pydantic_ai_defaults(recorded)
    for got, want in zip(sent, recorded, strict=True):
        assert_same_body(got, want)


def test_thinking_stream_magistral() -> None:
    c = cassette("mistral", "test_mistral_model_thinking_part_iter.yaml")
    with ReplayServer(c) as server:
        events = list(model_for(server, "magistral-medium-latest").stream([Message.user("How do I cross the street?")]))
        assert server.received[0].json == c.interactions[0].request.body
        assert server.received[0].headers["accept"] == "text/event-stream"
    response = final(events)
    thinking_deltas = [e for e in events if isinstance(e, ThinkingDelta)]
    text_deltas = [e for e in events if isinstance(e, TextDelta)]
    assert thinking_deltas
    assert text_deltas
    assert {e.index for e in thinking_deltas} == {0}
    assert {e.index for e in text_deltas} == {1}
    assert [p.type for p in response.parts] == ["thinking", "text"]
    thinking = response.parts[0]
    assert isinstance(thinking, Thinking)
    assert thinking.text.startswith("Okay, the user is asking how to cross the street.")
    assert thinking.provider == "mistral"
    assert "".join(e.text for e in thinking_deltas) == thinking.text
    assert response.text.startswith("To cross the street safely, follow these steps:")
    assert response.text.endswith("you can ensure a safe crossing.")
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (10, 232)
    assert response.model == "magistral-medium-latest"
    # The thinking goes back to Mistral as a thinking chunk on the next turn.
    body = build_body(
        "magistral-medium-latest",
        WireCall(
            [Message.user("How do I cross the street?"), response.to_message(), Message.user("And at night?")],
            None,
            ModelSettings(),
            None,
            False,
        ),
    )
    assistant = body["messages"][1]
    assert assistant["content"][0] == {"type": "thinking", "thinking": [{"type": "text", "text": thinking.text}]}
    assert assistant["content"][1] == {"type": "text", "text": response.text}


# --------------------------------------------------------------------------- stream == request


def _as_stream(data: dict[str, Any], piece: int = 7) -> bytes:
    """A chat.completion response rewritten as the chunks Mistral would stream for it."""
    base = {"id": data["id"], "object": "chat.completion.chunk", "created": data["created"], "model": data["model"]}
    choice = data["choices"][0]
    message = choice["message"]
    chunks: list[dict[str, Any]] = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    content = message.get("content")
    items = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    for item in items:
        if item["type"] == "text":
            text = item["text"]
            for start in range(0, len(text), piece):
                chunks.append({**base, "choices": [{"index": 0, "delta": {"content": text[start : start + piece]}}]})
        else:
            chunks.append({**base, "choices": [{"index": 0, "delta": {"content": [item]}}]})
    if message.get("tool_calls"):
        chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": message["tool_calls"]}}]})
    last = {"index": 0, "delta": {"content": ""}, "finish_reason": choice["finish_reason"]}
    chunks.append({**base, "choices": [last], "usage": data["usage"]})
    return sse(chunks)


@pytest.mark.parametrize(
    "name",
    [
        "test_mistralai_chat_legacy.yaml",
        "test_mistralai_chat_with_cache_tokens.yaml",
        "test_tool_choice_matrix[auto-mistral].yaml",
        "test_image_as_binary_content_tool_response.yaml",
    ],
)
def test_stream_and_request_give_the_same_response(name: str) -> None:
    recorded = cassette("mistral", name).interactions[0]
    data = recorded.json
    streamed = synthetic(PATH, [(200, {"content-type": "text/event-stream"}, _as_stream(data))])
    plain = synthetic(PATH, [(200, {}, data)])
    with ReplayServer(plain) as server:
        expected = model_for(server, data["model"]).request([Message.user("hi")])
    with ReplayServer(streamed) as server:
        events = list(model_for(server, data["model"]).stream([Message.user("hi")]))
    assert final(events) == expected
    assert expected.parts  # something to compare


def test_thinking_request_equals_thinking_stream() -> None:
    c = cassette("mistral", "test_mistral_model_thinking_part_iter.yaml")
    with ReplayServer(c) as server:
        streamed = final(list(model_for(server, "magistral-medium-latest").stream([Message.user("q")])))
    thinking, text = streamed.parts
    assert isinstance(thinking, Thinking)
    assert isinstance(text, Text)
    body = {
        "id": "9f9d90210f194076abeee223863eaaf0",
        "created": 1764296393,
        "model": "magistral-medium-latest",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": thinking.text}]},
                        {"type": "text", "text": text.text},
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 10, "total_tokens": 242, "completion_tokens": 232},
    }
    with ReplayServer(synthetic(PATH, [(200, {}, body)])) as server:
        assert model_for(server, "magistral-medium-latest").request([Message.user("q")]) == streamed


def test_streamed_tool_call_deltas() -> None:
    data = cassette("mistral", "test_tool_choice_matrix[auto-mistral].yaml").interactions[0].json
    with ReplayServer(synthetic(PATH, [(200, {"content-type": "text/event-stream"}, _as_stream(data))])) as server:
        events = list(model_for(server, "mistral-large-latest").stream([Message.user("hi")]))
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls == [ToolCallDelta(0, "KikbB849t", "get_weather", '{"city": "Paris"}')]


# --------------------------------------------------------------------------- async


def test_async_request_and_stream() -> None:
    async def run() -> tuple[ModelResponse, ModelResponse]:
        c1 = cassette("mistral", "test_mistralai_chat_with_cache_tokens.yaml")
        c2 = cassette("mistral", "test_mistral_model_thinking_part_iter.yaml")
        with ReplayServer(c1) as s1, ReplayServer(c2) as s2:
            r1 = await model_for(s1, "mistral-tiny").arequest([Message.user("Tell me a joke about OpenTelemetry")])
            events = [e async for e in model_for(s2, "magistral-medium-latest").astream([Message.user("q")])]
        return r1, final(events)

    plain, streamed = asyncio.run(run())
    assert plain.usage.cache_read_tokens == 10
    assert [p.type for p in streamed.parts] == ["thinking", "text"]
    assert streamed.usage.output_tokens == 232


# --------------------------------------------------------------------------- errors (no Mistral error cassette exists)


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        (
            429,
            {"message": "Requests rate limit exceeded", "type": "rate_limited"},
            {"retry-after": "7"},
            RateLimitError,
        ),
        (401, {"message": "Unauthorized", "request_id": "x"}, {}, AuthenticationError),
        (
            400,
            {
                "object": "error",
                "message": "Prompt contains 140000 tokens, too large for model with 131072 maximum context length",
                "type": "invalid_request_message_error",
                "code": 3051,
            },
            {},
            ContextWindowExceeded,
        ),
        (
            422,
            {
                "object": "error",
                "message": {"detail": [{"msg": "Input should be a valid list"}]},
                "type": "invalid_request_error",
            },
            {},
            BadRequestError,
        ),
        (503, {"object": "error", "message": "Service unavailable", "type": "internal_server_error"}, {}, ServerError),
    ],
)
def test_http_errors_are_mapped(
    status: int, body: dict[str, Any], headers: dict[str, str], error: type[Exception]
) -> None:
    c = synthetic(PATH, [(status, headers, body)])
    for streaming in (False, True):
        cc = Cassette(c.path, list(c.interactions))
        with ReplayServer(cc) as server:
            model = model_for(server, "mistral-small-latest")
            with pytest.raises(error) as info:
                _call(model, streaming)
        exc = info.value
        assert exc.status == status  # type: ignore[attr-defined]
        assert exc.provider == "mistral"  # type: ignore[attr-defined]
        if status == 429:
            assert exc.retry_after == 7.0  # type: ignore[attr-defined]


def _call(model: MistralModel, streaming: bool) -> object:
    if streaming:
        return list(model.stream([Message.user("hi")]))
    return model.request([Message.user("hi")])


def test_retries_server_errors_then_succeeds() -> None:
    ok = cassette("mistral", "test_mistralai_chat_with_cache_tokens.yaml").interactions[0].json
    c = synthetic(PATH, [(500, {}, {"message": "boom"}), (200, {}, ok)])
    with ReplayServer(c) as server:
        model = MistralModel("mistral-tiny", base_url=server.url, api_key="k", retry=RetryPolicy(initial_delay=0.0))
        response = model.request([Message.user("hi")])
        assert len(server.received) == 2
    assert response.usage.cache_read_tokens == 10


def test_connection_and_timeout_errors() -> None:
    with pytest.raises(ProviderConnectionError):
        MistralModel("mistral-tiny", base_url=closed_port_url(), api_key="k", retry=NO_RETRY).request(
            [Message.user("x")]
        )
    with silent_server() as url, pytest.raises(ProviderTimeoutError):
        MistralModel("mistral-tiny", base_url=url, api_key="k", retry=NO_RETRY).request(
            [Message.user("x")], settings=ModelSettings(timeout=0.3)
        )


def test_error_event_inside_a_stream() -> None:
    body = sse(
        [{"object": "error", "message": "Internal error while streaming", "type": "internal_error", "code": 500}]
    )
    c = synthetic(PATH, [(200, {"content-type": "text/event-stream"}, body)])
    with ReplayServer(c) as server, pytest.raises(ServerError, match="Internal error while streaming"):
        list(model_for(server, "mistral-tiny").stream([Message.user("hi")]))


# --------------------------------------------------------------------------- request building


def test_settings_tools_and_structured_output_reach_the_wire() -> None:
    c = synthetic(PATH, [(200, {}, cassette("mistral", "test_mistralai_chat_legacy.yaml").interactions[0].json)])
    settings = ModelSettings(
        temperature=0.2,
        max_tokens=50,
        top_p=0.9,
        stop=["END"],
        seed=7,
        tool_choice="get_weather",
        parallel_tool_calls=False,
        thinking="low",
        extra={"mistral": {"safe_prompt": True}, "openai": {"ignored": 1}},
    )
    output = OutputSchema("City", {"type": "object", "properties": {"city": {"type": "string"}}}, description="A city")
    with ReplayServer(c) as server:
        model_for(server, "mistral-small-latest").request(
            [Message.user("hi")], tools=[tool_def("get_weather", "Weather.", WEATHER)], settings=settings, output=output
        )
        sent = server.received[0].json
    assert sent == {
        "model": "mistral-small-latest",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": WEATHER}}
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "temperature": 0.2,
        "max_tokens": 50,
        "top_p": 0.9,
        "stop": ["END"],
        "random_seed": 7,
        "reasoning_effort": "low",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "City", "schema": output.schema, "strict": True, "description": "A city"},
        },
        "safe_prompt": True,
    }


def test_required_tool_choice_and_unknown_tool_name() -> None:
    tools = [tool_def("get_weather", "Weather.", WEATHER)]
    body = build_body("m", WireCall([Message.user("x")], tools, ModelSettings(tool_choice="required"), None, False))
    assert body["tool_choice"] == "any"
    with pytest.raises(podium.UserError, match="names no tool"):
        build_body("m", WireCall([Message.user("x")], tools, ModelSettings(tool_choice="nope"), None, False))


def test_foreign_tool_call_ids_are_mapped_and_thinking_dropped() -> None:
    call = ToolCall("call_Xy9kL2mN8pQ4rS6t", "get_weather", {"city": "Paris"})
    history = [
        Message.user("weather?"),
        Message(
            "assistant", [Thinking("let me think", signature="sig", provider="anthropic"), call], provider="anthropic"
        ),
        Message("tool", [ToolResult(call.id, call.name, [Text("sunny")])]),
    ]
    body = build_body("m", WireCall(history, None, ModelSettings(), None, False))
    mapped = body["messages"][1]["tool_calls"][0]["id"]
    assert len(mapped) == 9
    assert mapped.isalnum()
    assert mapped == tool_call_id(call.id) == body["messages"][2]["tool_call_id"]
    assert tool_call_id("call_other_id_123") != mapped
    assert body["messages"][1]["content"] == []  # anthropic thinking is not sent to Mistral
    as_text = build_body("m", WireCall(history, None, ModelSettings(foreign_thinking="text"), None, False))
    assert as_text["messages"][1]["content"] == [{"type": "text", "text": "<thinking>\nlet me think\n</thinking>"}]
    assert tool_call_id("KikbB849t") == "KikbB849t"


def test_thinking_signature_round_trips() -> None:
    data = {
        "id": "r1",
        "created": 1,
        "model": "magistral-small-latest",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}], "signature": "c2ln"},
                        {"type": "reference", "reference_ids": [1, 2]},
                        {"type": "text", "text": "Done."},
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    with ReplayServer(synthetic(PATH, [(200, {}, data)])) as server:
        response = model_for(server, "magistral-small-latest").request([Message.user("x")])
    thinking = response.parts[0]
    assert isinstance(thinking, Thinking)
    assert thinking.signature == "c2ln"
    assert thinking.text == "hmm"
    assert response.parts[1] == podium.ProviderPart("mistral", {"type": "reference", "reference_ids": [1, 2]})
    body = build_body("m", WireCall([response.to_message()], None, ModelSettings(), None, False))
    assert body["messages"][0]["content"] == copy.deepcopy(data["choices"][0]["message"]["content"])


def test_registry_profile_and_light_import() -> None:
    model = podium.model("mistral:magistral-medium-latest", base_url="http://127.0.0.1:1", api_key="k")
    assert isinstance(model, MistralModel)
    assert model.profile.thinking
    assert model.profile.structured_output
    assert mistral_profile("pixtral-12b-latest").vision
    assert not mistral_profile("mistral-tiny").vision
    assert mistral_profile("mistral-tiny").context_window == 32_000
    assert not imported_after_import_podium("mistralai")


@pytest.mark.filterwarnings("ignore::podium.providers.pricing.UnknownPriceWarning")
def test_non_json_error_body_and_json_dumps_of_args() -> None:
    c = synthetic(PATH, [(502, {"content-type": "text/html"}, "<html>Bad gateway</html>")])
    with ReplayServer(c) as server, pytest.raises(ServerError) as info:
        model_for(server, "mistral-tiny").request([Message.user("x")])
    assert info.value.body == "<html>Bad gateway</html>"
    # dict arguments (some Mistral deployments send them) are accepted like strings
    data = {
        "id": "a",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "content": "",
                    "tool_calls": [{"id": "abcdefghi", "function": {"name": "f", "arguments": {"a": 1}}}],
                },
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    }
    with ReplayServer(synthetic(PATH, [(200, {}, data)])) as server:
        response = model_for(server, "m").request([Message.user("x")])
    assert response.tool_calls == [ToolCall("abcdefghi", "f", {"a": 1})]
    assert json.loads(response.tool_calls[0].args_json) == {"a": 1}


def test_logprobs_are_kept_in_stream_and_request() -> None:
    tokens = [{"token": "Hi", "logprob": -0.1}, {"token": "!", "logprob": -0.5}]
    base = {"id": "lp", "created": 2, "model": "mistral-small-latest"}
    usage = {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    whole = {
        **base,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Hi!"},
                "logprobs": {"content": tokens},
            }
        ],
        "usage": usage,
    }
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"content": t["token"]}, "logprobs": {"content": [t]}}]}
        for t in tokens
    ]
    chunks.append(
        {**base, "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}], "usage": usage}
    )
    with ReplayServer(synthetic(PATH, [(200, {}, whole)])) as server:
        expected = model_for(server, "mistral-small-latest").request([Message.user("x")])
    with ReplayServer(synthetic(PATH, [(200, {"content-type": "text/event-stream"}, sse(chunks))])) as server:
        streamed = final(list(model_for(server, "mistral-small-latest").stream([Message.user("x")])))
    assert expected.provider_details is not None
    assert expected.provider_details["logprobs"] == {"content": tokens}
    assert streamed == expected


def test_agent_runs_the_recorded_tool_loop() -> None:
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        return f"Sunny, 22C in {city}"

    c = cassette("mistral", "test_tool_choice_matrix[auto-mistral].yaml")
    with ReplayServer(c) as server:
        agent = podium.Agent(model_for(server, "mistral-large-latest"), tools=[get_weather])
        result = agent.run("What's the weather in Paris?")
        sent = [r.json for r in server.received]
    assert result.output.startswith("The current weather in **Paris** is **sunny**")
    assert sent[1]["messages"][-1] == {"role": "tool", "tool_call_id": "KikbB849t", "content": "Sunny, 22C in Paris"}
    assert result.usage.input_tokens == 77 + 100
    assert result.usage.cache_read_tokens == 76 + 99


def test_async_calls_from_two_event_loops() -> None:
    data = cassette("mistral", "test_mistralai_chat_with_cache_tokens.yaml").interactions[0].json
    with ReplayServer(synthetic(PATH, [(200, {}, data), (200, {}, data)])) as server:
        model = model_for(server, "mistral-tiny")
        first = asyncio.run(model.arequest([Message.user("x")]))
        second = asyncio.run(model.arequest([Message.user("x")]))  # a new loop gets its own async client
    assert first == second


def test_failed_tool_results_start_with_error() -> None:
    """Mistral's tool messages have no error flag: a result with is_error says so in its text."""
    history = [
        Message.user("go"),
        Message("assistant", [ToolCall("aaaaaaaaa", "f", {}), ToolCall("bbbbbbbbb", "f", {})], provider="mistral"),
        Message(
            "tool",
            [ToolResult("aaaaaaaaa", "f", [Text("boom")], is_error=True), ToolResult("bbbbbbbbb", "f", [Text("ok")])],
        ),
    ]
    body = build_body("mistral-large-latest", WireCall(history, None, ModelSettings(), None, False))
    assert [m["content"] for m in body["messages"] if m["role"] == "tool"] == ["Error: boom", "ok"]


def test_an_assistant_message_with_nothing_to_send_is_left_out() -> None:
    """Another provider's turn that held only thinking: Mistral rejects an empty assistant message."""
    turn = Message("assistant", [Thinking("hmm", signature="s", provider="anthropic")], provider="anthropic")
    body = build_body(
        "mistral-large-latest",
        WireCall([Message.user("hi"), turn, Message.user("and?")], None, ModelSettings(), None, False),
    )
    assert [m["role"] for m in body["messages"]] == ["user", "user"]
