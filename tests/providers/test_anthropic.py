"""The Anthropic provider against every recorded exchange in tests/cassettes/anthropic.

Each test drives the official ``anthropic`` SDK over HTTP to a local replay server through
``AnthropicModel``, checks the universal result, and compares every request Podium sent with the
recorded one; later turns are built from Podium's own response of the earlier turns.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from _replay import CASSETTES, assert_request, b64decode, recorded_requests, replay, synthetic

from podium.exceptions import BadRequestError, ServerError
from podium.messages import File, Image, Message, ModelResponse, ProviderPart, Text, ToolResult
from podium.providers.anthropic import AnthropicModel
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import TextDelta, ThinkingDelta, ToolCallDelta
from podium.testing.cassette import ReplayServer

# The SDK warns that some recorded model names reach end of life in 2026; that is the SDK's business.
pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

DIR = "anthropic"
HOST = "api.anthropic.com"
NO_PARAMS = {"additionalProperties": False, "properties": {}, "type": "object"}


def model(server: ReplayServer, name: str, **kwargs: Any) -> AnthropicModel:
    return AnthropicModel(name, base_url=server.url, api_key="test-key", **kwargs)


def final(events: list[Any]) -> ModelResponse:
    assert isinstance(events[-1], ModelResponse)
    assert not any(isinstance(e, ModelResponse) for e in events[:-1])
    return events[-1]


def tool_message(*results: ToolResult) -> Message:
    return Message("tool", results)


# --------------------------------------------------------------------------- text, system, settings


def test_sampling_settings_reach_the_wire() -> None:
    with replay(DIR, "test_anthropic_sampling_settings_reach_the_wire.yaml") as server:
        settings = ModelSettings(temperature=0.2, extra={"anthropic": {"top_k": 40}})
        response = model(server, "claude-haiku-4-5").request([Message.user("hello")], settings=settings)
        assert_request(server, 0)
    assert response.text == "Hello! \U0001f44b How can I help you today?"
    assert response.finish_reason == "stop"
    assert response.provider_details is not None
    assert response.provider_details["finish_reason"] == "end_turn"
    assert response.provider_details["id"] == "msg_011CeEgv4QcC6bo2wwJgepD6"
    assert response.model == "claude-haiku-4-5-20251001"
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.requests) == (8, 16, 1)
    assert response.cost is not None
    assert response.cost > 0


def test_cache_usage_counts_cache_tokens_in_input() -> None:
    with replay(DIR, "test_anthropic_cache_real_api.yaml") as server:
        prompt = recorded_requests(server)[0]["messages"][0]["content"][0]["text"]
        settings = ModelSettings(extra={"anthropic": {"cache_control": {"type": "ephemeral", "ttl": "5m"}}})
        m = model(server, "claude-sonnet-4-5")
        history = [Message.system("You are a helpful assistant."), Message.user(prompt)]
        first = m.request(history, settings=settings)
        assert_request(server, 0)
        history += [first.to_message(), Message.user("Can you summarize that in one sentence?")]
        second = m.request(history, settings=settings)
        assert_request(server, 1)
    assert first.text.startswith("# What is Python?")
    assert (first.usage.input_tokens, first.usage.cache_read_tokens, first.usage.cache_write_tokens) == (1114, 1111, 0)
    assert first.usage.output_tokens == 406
    assert second.text.startswith("Python is a beginner-friendly")
    assert (second.usage.input_tokens, second.usage.cache_read_tokens, second.usage.cache_write_tokens) == (
        3 + 418 + 1111,
        1111,
        418,
    )
    assert second.usage.details == {"ephemeral_5m_input_tokens": 418}


def test_effort_error_is_bad_request_with_the_api_body() -> None:
    with replay(DIR, "test_anthropic_explicit_effort_xhigh_unsupported_model_errors.yaml") as server:
        settings = ModelSettings(extra={"anthropic": {"output_config": {"effort": "xhigh"}}})
        with pytest.raises(BadRequestError) as info:
            model(server, "claude-opus-4-6").request([Message.user("What is 2+2?")], settings=settings)
        assert_request(server, 0)
    error = info.value
    assert error.status == 400
    assert "does not support effort level 'xhigh'" in str(error)
    assert error.body["error"]["type"] == "invalid_request_error"
    assert error.provider == "anthropic"
    assert error.model == "claude-opus-4-6"
    # Podium's own transport read the HTTP answer: its headers travel with the error (no SDK exception behind it).
    assert error.headers["server-timing"] == "x-originResponse;dur=53"
    assert error.body["request_id"] == "req_011Ca7jT9AHpgXgdv8igm4z9"


def test_high_max_tokens_request_streams_under_the_hood() -> None:
    with replay(DIR, "test_request_stream_fallback_for_high_max_tokens.yaml") as server:
        response = model(server, "claude-sonnet-4-5").request(
            [Message.user("What is 1+1? Answer with just the number.")], settings=ModelSettings(max_tokens=32000)
        )
        sent = assert_request(server, 0)
    assert sent["stream"] is True
    assert response.text == "2"
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (20, 5)


# --------------------------------------------------------------------------- media


def test_pdf_document_input() -> None:
    with replay(DIR, "test_document_binary_content_input.yaml") as server:
        pdf = b64decode(recorded_requests(server)[0]["messages"][0]["content"][1]["source"]["data"])
        message = Message.user(
            "What is the main content on this document?", File(data=pdf, media_type="application/pdf")
        )
        response = model(server, "claude-sonnet-4-5").request([message])
        assert_request(server, 0)
    assert pdf.startswith(b"%PDF")
    assert "Dummy PDF file" in response.text
    assert response.usage.input_tokens == 1615


def test_image_input_base64() -> None:
    with replay(DIR, "test_image_url_input_force_download.yaml", host=HOST) as server:
        jpeg = b64decode(recorded_requests(server)[0]["messages"][0]["content"][1]["source"]["data"])
        message = Message.user("What is this vegetable?", Image(data=jpeg, media_type="image/jpeg"))
        response = model(server, "claude-haiku-4-5").request([message])
        assert_request(server, 0)
    assert "potato" in response.text
    assert (response.usage.input_tokens, response.usage.output_tokens) == (276, 92)


# --------------------------------------------------------------------------- thinking


def test_thinking_signature_round_trip() -> None:
    settings = ModelSettings(thinking=1024)
    with replay(DIR, "test_anthropic_model_thinking_part.yaml") as server:
        m = model(server, "claude-sonnet-4-5")
        history = [Message.user("How do I cross the street?")]
        first = m.request(history, settings=settings)
        sent = assert_request(server, 0)
        history += [
            first.to_message(),
            Message.user("Considering the way to cross the street, analogously, how do I cross the river?"),
        ]
        second = m.request(history, settings=settings)
        assert_request(server, 1)
        recorded = recorded_requests(server)
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    thinking = first.thinking[0]
    assert thinking.provider == "anthropic"
    assert thinking.signature == recorded[1]["messages"][1]["content"][0]["signature"]
    assert thinking.text.startswith("This is a straightforward question about pedestrian safety.")
    assert [p.type for p in first.parts] == ["thinking", "text"]
    assert second.thinking[0].signature is not None
    assert second.thinking[0].signature.startswith("EvgHCkYICxgCKkBW")
    assert (second.usage.input_tokens, second.usage.output_tokens) == (354, 525)


def test_redacted_thinking_sent_back_verbatim() -> None:
    settings = ModelSettings(thinking=1024)
    with replay(DIR, "test_anthropic_model_thinking_part_redacted.yaml") as server:
        m = model(server, "claude-sonnet-4-5-20250929")
        history = [Message.user(recorded_requests(server)[0]["messages"][0]["content"][0]["text"])]
        first = m.request(history, settings=settings)
        assert_request(server, 0)
        history += [first.to_message(), Message.user("What was that?")]
        second = m.request(history, settings=settings)
        sent = assert_request(server, 1)
    redacted = first.thinking[0]
    assert redacted.redacted
    assert redacted.text == ""
    assert redacted.encrypted is not None
    assert redacted.encrypted.startswith("EvgFCkYIBxgCKkBmxKtC")
    assert sent["messages"][1]["content"][0] == {"type": "redacted_thinking", "data": redacted.encrypted}
    assert second.thinking[0].redacted
    assert second.text.startswith("That message appeared to be an attempt")


def test_thinking_stream_with_signature_delta() -> None:
    with replay(DIR, "test_anthropic_model_thinking_part_stream.yaml") as server:
        events = list(
            model(server, "claude-sonnet-4-0").stream(
                [Message.user("How do I cross the street?")], settings=ModelSettings(thinking=1024)
            )
        )
        assert_request(server, 0)
    response = final(events)
    thinking_deltas = [e for e in events if isinstance(e, ThinkingDelta)]
    signature = "".join(e.signature or "" for e in thinking_deltas)
    assert signature.startswith("EvMCCkYICxgCKkCHP2cS")
    assert signature == response.thinking[0].signature
    assert "".join(e.text for e in thinking_deltas) == response.thinking[0].text
    assert response.thinking[0].text.startswith("This is a straightforward question about pedestrian safety.")
    text_deltas = [e for e in events if isinstance(e, TextDelta)]
    assert {e.index for e in text_deltas} == {1}
    assert "".join(e.text for e in text_deltas) == response.text
    assert response.text.startswith("Here are the basic steps for safely crossing the street:")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (43, 282)
    assert response.finish_reason == "stop"


# --------------------------------------------------------------------------- tools


def test_streamed_tool_call_and_result_round_trip() -> None:
    tool = ToolDefinition(
        "get_current_temperature",
        "Get the current temperature in a city.",
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The name of the city to get the temperature for."}
            },
            "required": ["city"],
        },
    )
    # crewAI sent plain-string user content and left out is_error; Podium always sends content blocks and is_error.
    crewai = {
        "messages[0].content": "crewAI sends the user prompt as a string; Podium as a list of text blocks",
    }
    with replay(DIR, "TestAnthropicToolCallStreaming.test_anthropic_streaming_emits_tool_call_events.yaml") as server:
        m = model(server, "claude-3-5-haiku-latest")
        history = [Message.user("What is the temperature in San Francisco?")]
        events = list(m.stream(history, tools=[tool]))
        assert_request(server, 0, crewai)
        first = final(events)
        call = first.tool_calls[0]
        history += [
            first.to_message(),
            tool_message(ToolResult(call.id, call.name, [Text("The temperature in San Francisco is 72\u00b0F")])),
        ]
        second = final(list(m.stream(history, tools=[tool])))
        assert_request(
            server,
            1,
            {
                **crewai,
                "messages[2].content[0].is_error": "crewAI leaves is_error out; Podium always sends it",
            },
        )
    assert (call.id, call.name, call.args) == (
        "toolu_01Lfr3kUnHMZApePPRWMv1uS",
        "get_current_temperature",
        {"city": "San Francisco"},
    )
    assert first.text.startswith("I'll help you find out the current temperature")
    assert first.finish_reason == "tool_calls"
    tool_deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert (tool_deltas[0].id, tool_deltas[0].name, tool_deltas[0].index) == (call.id, call.name, 1)
    assert "".join(d.args_delta for d in tool_deltas) == '{"city": "San Francisco"}'
    assert (first.usage.input_tokens, first.usage.output_tokens) == (351, 85)
    assert second.text == (
        "The current temperature in San Francisco is 72\u00b0F. It sounds like a pleasant day! "
        "Is there anything else I can help you with?"
    )
    assert second.finish_reason == "stop"


def test_parallel_tool_calls_and_results() -> None:
    tool = ToolDefinition(
        "retrieve_entity_info",
        "Get the knowledge about the given entity.",
        {
            "additionalProperties": False,
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
            "type": "object",
        },
    )
    facts = {
        "Alice": "alice is bob's wife",
        "Bob": "bob is alice's husband",
        "Charlie": "charlie is alice's son",
        "Daisy": "daisy is bob's daughter and charlie's younger sister",
    }
    settings = ModelSettings(tool_choice="auto")
    with replay(DIR, "test_multiple_parallel_tool_calls.yaml") as server:
        m = model(server, "claude-haiku-4-5")
        history = [
            Message.system(recorded_requests(server)[0]["system"]),
            Message.user("Alice, Bob, Charlie and Daisy are a family. Who is the youngest?"),
        ]
        first = m.request(history, tools=[tool], settings=settings)
        assert_request(server, 0)
        results = [ToolResult(c.id, c.name, [Text(facts[c.args["name"]])]) for c in first.tool_calls]
        history += [first.to_message(), tool_message(*results)]
        second = m.request(history, tools=[tool], settings=settings)
        assert_request(server, 1)
    assert [c.args["name"] for c in first.tool_calls] == ["Alice", "Bob", "Charlie", "Daisy"]
    assert next(c.id for c in first.tool_calls) == "toolu_0167cfEnoQaPviGdVXA95zcu"
    assert first.finish_reason == "tool_calls"
    assert second.finish_reason == "stop"
    assert "Daisy" in second.text


def test_tool_result_with_text_and_image() -> None:
    tool = ToolDefinition("get_mixed_content", "", NO_PARAMS)
    settings = ModelSettings(tool_choice="auto")
    with replay(DIR, "test_mixed_content_ordering[anthropic].yaml") as server:
        m = model(server, "claude-sonnet-4-5")
        history = [Message.user("Call the get_mixed_content tool and describe what you received.")]
        first = m.request(history, tools=[tool], settings=settings)
        assert_request(server, 0)
        recorded_content = recorded_requests(server)[1]["messages"][2]["content"][0]["content"]
        call = first.tool_calls[0]
        result = ToolResult(
            call.id,
            call.name,
            [
                Text("Here is the image:"),
                Image(data=b64decode(recorded_content[1]["source"]["data"]), media_type="image/jpeg"),
                Text('{"pydantic_ai_marker":"test_42"}'),
            ],
        )
        history += [first.to_message(), tool_message(result)]
        second = m.request(history, tools=[tool], settings=settings)
        assert_request(
            server,
            1,
            {
                "messages[1].content[1].caller": "the API returned caller={'type': 'direct'}; Podium sends it back, pydantic-ai drops it"  # noqa: E501
            },
        )
    assert call.provider_details == {"caller": {"type": "direct"}}
    assert first.text == "I'll call the get_mixed_content tool for you."
    assert second.text.startswith("I received mixed content from the tool")


def test_tool_output_mode_with_required_tool_choice() -> None:
    final_result = ToolDefinition(
        "final_result",
        "The final response which ends this conversation",
        {
            "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
            "required": ["city", "country"],
            "title": "CityLocation",
            "type": "object",
        },
    )
    tools = [ToolDefinition("get_user_country", "", NO_PARAMS), final_result]
    settings = ModelSettings(tool_choice="required")
    with replay(DIR, "test_anthropic_tool_output.yaml") as server:
        m = model(server, "claude-sonnet-4-5")
        history = [Message.user("What is the largest city in the user country?")]
        first = m.request(history, tools=tools, settings=settings)
        sent = assert_request(server, 0)
        call = first.tool_calls[0]
        history += [first.to_message(), tool_message(ToolResult(call.id, call.name, [Text("Mexico")]))]
        second = m.request(history, tools=tools, settings=settings)
        assert_request(server, 1)
    assert sent["tool_choice"] == {"type": "any"}
    assert (call.name, call.args) == ("get_user_country", {})
    assert second.tool_calls[0].name == "final_result"
    assert second.tool_calls[0].args == {"city": "Mexico City", "country": "Mexico"}
    assert second.finish_reason == "tool_calls"


def test_prompted_output_with_auto_tool_choice() -> None:
    tools = [ToolDefinition("get_user_country", "", NO_PARAMS)]
    settings = ModelSettings(tool_choice="auto")
    prompt = (
        "What is the largest city in the user country? Use the get_user_country tool and then your own world knowledge."
    )
    with replay(DIR, "test_anthropic_prompted_output.yaml") as server:
        m = model(server, "claude-sonnet-4-5")
        history = [Message.system(recorded_requests(server)[0]["system"]), Message.user(prompt)]
        first = m.request(history, tools=tools, settings=settings)
        assert_request(server, 0)
        call = first.tool_calls[0]
        history += [first.to_message(), tool_message(ToolResult(call.id, call.name, [Text("Mexico")]))]
        second = m.request(history, tools=tools, settings=settings)
        assert_request(server, 1)
    assert call.id == "toolu_01ArHq5f2wxRpRF2PVQcKExM"
    assert json.loads(second.text) == {"city": "Mexico City", "country": "Mexico"}


def test_native_structured_output() -> None:
    schema = {
        "additionalProperties": False,
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "country", "population"],
        "type": "object",
    }
    with replay(DIR, "test_no_tools_native_output_strict_true.yaml") as server:
        m = model(server, "claude-sonnet-4-5")
        assert m.profile.structured_output
        response = m.request([Message.user("Tell me about London")], output=OutputSchema("CityLocation", schema))
        sent = assert_request(server, 0)
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert json.loads(response.text) == {"city": "London", "country": "United Kingdom", "population": 9002488}


# --------------------------------------------------------------------------- server tools


def test_web_search_server_tool_stream_keeps_blocks_and_citations() -> None:
    web_search = {
        "type": "web_search_20250305",
        "name": "web_search",
        "allowed_domains": None,
        "blocked_domains": None,
        "user_location": None,
    }
    settings = ModelSettings(tool_choice="auto", extra={"anthropic": {"tools": [web_search]}})
    history = [
        Message.system("You are a helpful assistant.\n\n"),
        Message.user("Give me the top 3 news in the world today."),
    ]
    with replay(DIR, "test_anthropic_web_search_tool_stream.yaml") as server:
        m = model(server, "claude-sonnet-4-0")
        events = list(m.stream(history, settings=settings))
        assert_request(server, 0)
    response = final(events)
    kinds = [p.type if not isinstance(p, ProviderPart) else p.data["type"] for p in response.parts]
    assert kinds[:6] == [
        "server_tool_use",
        "web_search_tool_result",
        "text",
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    assert len(kinds) == 22
    search = response.parts[0]
    assert isinstance(search, ProviderPart)
    assert search.provider == "anthropic"
    assert search.data["input"] == {"query": "top world news today"}
    results = response.parts[1]
    assert isinstance(results, ProviderPart)
    assert results.data["content"][0]["encrypted_content"].startswith("EtweCioIBhgCIiQ0NGFlNjc2Yy05NThm")
    cited = response.parts[6]
    assert isinstance(cited, Text)
    assert cited.provider_details is not None
    assert cited.provider_details["citations"][0]["url"] == "https://www.npr.org/sections/news/"
    assert response.usage.details == {"web_search_requests": 2}
    assert (response.usage.input_tokens, response.usage.output_tokens) == (31772, 644)
    # Sent back to Anthropic, the server blocks and citations come out exactly as they came in.
    from podium.providers.anthropic_wire import build_request

    body, _ = build_request(
        [*history, response.to_message(), Message.user("more?")], model_name="claude-sonnet-4-0", settings=settings
    )
    assistant = body["messages"][1]["content"]
    assert assistant[0] == search.data
    assert assistant[1] == results.data
    assert assistant[6]["citations"] == cited.provider_details["citations"]
    assert [b["type"] for b in body["tools"]] == ["web_search_20250305"]


# --------------------------------------------------------------------------- async, equivalence, errors


def test_async_request_and_stream() -> None:
    async def run() -> tuple[ModelResponse, list[Any]]:
        settings = ModelSettings(thinking=1024)
        with replay(DIR, "test_anthropic_model_thinking_part.yaml") as server:
            m = model(server, "claude-sonnet-4-5")
            first = await m.arequest([Message.user("How do I cross the street?")], settings=settings)
            assert_request(server, 0)
            history = [
                Message.user("How do I cross the street?"),
                first.to_message(),
                Message.user("Considering the way to cross the street, analogously, how do I cross the river?"),
            ]
            second = await m.arequest(history, settings=settings)
            assert_request(server, 1)
        with replay(DIR, "test_anthropic_model_thinking_part_stream.yaml") as server:
            events = [
                e
                async for e in model(server, "claude-sonnet-4-0").astream(
                    [Message.user("How do I cross the street?")], settings=settings
                )
            ]
        return second, events

    second, events = asyncio.run(run())
    assert second.thinking[0].signature is not None
    assert final(events).thinking[0].signature == "".join(
        e.signature or "" for e in events if isinstance(e, ThinkingDelta)
    )


def _sse(message: dict[str, Any]) -> bytes:
    """A Messages API stream that adds up to ``message`` (the shape the API streams)."""
    events: list[dict[str, Any]] = []
    start = {k: v for k, v in message.items() if k not in ("content", "stop_reason", "stop_sequence")}
    usage = dict(message["usage"])
    start["usage"] = {**usage, "output_tokens": 1}
    events.append(
        {"type": "message_start", "message": {**start, "content": [], "stop_reason": None, "stop_sequence": None}}
    )
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            events.append(
                {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
            )
            text = block["text"]
            for i in range(0, len(text), 7):
                events.append(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": text[i : i + 7]},
                    }
                )
        elif kind == "thinking":
            events.append(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                }
            )
            text = block["thinking"]
            for i in range(0, len(text), 11):
                events.append(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "thinking_delta", "thinking": text[i : i + 11]},
                    }
                )
            events.append(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "signature_delta", "signature": block["signature"]},
                }
            )
        elif kind == "tool_use":
            events.append({"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}})
            raw = json.dumps(block["input"])
            for i in range(0, len(raw), 5):
                events.append(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": raw[i : i + 5]},
                    }
                )
        else:
            events.append({"type": "content_block_start", "index": index, "content_block": block})
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
            "usage": {"output_tokens": usage["output_tokens"]},
        }
    )
    events.append({"type": "message_stop"})
    return "".join(f"event: {e['type']}\r\ndata: {json.dumps(e)}\r\n\r\n" for e in events).encode()


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("test_anthropic_model_thinking_part.yaml", 0),
        ("test_anthropic_model_thinking_part_redacted.yaml", 0),
        ("test_multiple_parallel_tool_calls.yaml", 0),
        ("test_mixed_content_ordering[anthropic].yaml", 0),
    ],
)
def test_stream_and_request_give_the_same_response(name: str, index: int) -> None:
    recorded = ReplayServer(CASSETTES / DIR / name).interactions[index]
    message = recorded.json
    cassette = synthetic(
        "/v1/messages",
        (200, {"content-type": "application/json"}, recorded.body),
        (200, {"content-type": "text/event-stream"}, _sse(message)),
    )
    request = [Message.user("hi")]
    with ReplayServer(cassette) as server:
        m = model(server, message["model"])
        whole = m.request(request)
        events = list(m.stream(request))
    streamed = final(events)
    assert streamed == whole
    assert len(whole.parts) == len(message["content"])
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == whole.text


def test_overloaded_529_is_a_server_error_and_is_retried() -> None:
    overloaded = json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}).encode()
    ok = ReplayServer(CASSETTES / DIR / "test_anthropic_sampling_settings_reach_the_wire.yaml").interactions[0].body
    json_type = {"content-type": "application/json"}
    with (
        ReplayServer(synthetic("/v1/messages", (529, json_type, overloaded))) as server,
        pytest.raises(ServerError) as info,
    ):
        model(server, "claude-haiku-4-5", retry=RetryPolicy(max_retries=0)).request([Message.user("hello")])
    assert info.value.status == 529
    assert info.value.retryable
    assert info.value.body["error"]["type"] == "overloaded_error"
    cassette = synthetic("/v1/messages", (529, json_type, overloaded), (200, json_type, ok))
    with ReplayServer(cassette) as server:
        m = model(server, "claude-haiku-4-5", retry=RetryPolicy(max_retries=1, initial_delay=0.0, jitter=0.0))
        response = m.request([Message.user("hello")])
        assert len(server.received) == 2
    assert response.text.startswith("Hello!")


def test_error_event_inside_a_stream_is_a_server_error() -> None:
    lines = [
        {
            "type": "message_start",
            "message": {"id": "msg_1", "model": "claude-haiku-4-5", "content": [], "usage": {"input_tokens": 3}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    ]
    stream = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in lines).encode()
    events: list[Any] = []

    def consume(server: ReplayServer) -> None:
        events.extend(model(server, "claude-haiku-4-5").stream([Message.user("hello")]))

    cassette = synthetic("/v1/messages", (200, {"content-type": "text/event-stream"}, stream))
    with ReplayServer(cassette) as server, pytest.raises(ServerError) as info:
        consume(server)
    assert events == [TextDelta(0, "Hel")]
    assert info.value.status == 529
    assert "Overloaded" in str(info.value)


def test_registry_and_lazy_import() -> None:
    import subprocess
    import sys

    import podium

    with ReplayServer(CASSETTES / DIR / "test_anthropic_sampling_settings_reach_the_wire.yaml") as server:
        m = podium.model("anthropic:claude-haiku-4-5", base_url=server.url, api_key="k")
        assert isinstance(m, AnthropicModel)
        response = m.request(
            [Message.user("hello")], settings=ModelSettings(temperature=0.2, extra={"anthropic": {"top_k": 40}})
        )
    assert response.provider == "anthropic"
    code = "import sys, podium; podium.Message; assert 'anthropic' not in sys.modules, 'anthropic imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_anthropic_cassette_is_replayed() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    names = sorted(p.name for p in (CASSETTES / DIR).glob("*.yaml"))
    assert len(names) == 16
    missing = [n for n in names if f'"{n}"' not in source]
    assert not missing, f"cassettes without a test: {missing}"


def test_agent_run_reproduces_the_recorded_parallel_tool_conversation() -> None:
    from podium import Agent, Compaction

    facts = {
        "Alice": "alice is bob's wife",
        "Bob": "bob is alice's husband",
        "Charlie": "charlie is alice's son",
        "Daisy": "daisy is bob's daughter and charlie's younger sister",
    }

    def retrieve_entity_info(name: str) -> str:
        """Get the knowledge about the given entity."""
        return facts[name]

    with replay(DIR, "test_multiple_parallel_tool_calls.yaml") as server:
        agent = Agent(
            model(server, "claude-haiku-4-5"),
            tools=[retrieve_entity_info],
            instructions=recorded_requests(server)[0]["system"],
            settings=ModelSettings(tool_choice="auto"),
            # the recording framework did not cache; by default the loop adds two cache_control breakpoints
            # (tested against a caching recording in test_anthropic_agent_cache.py)
            compaction=Compaction(cache_points=False),
        )
        result = agent.run("Alice, Bob, Charlie and Daisy are a family. Who is the youngest?")
        assert_request(server, 0)
        assert_request(server, 1)
    assert "Daisy" in result.output
