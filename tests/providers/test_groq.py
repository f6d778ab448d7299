"""Groq: every groq cassette replayed through the official groq SDK into Podium."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from chat_helpers import (
    MISSING,
    assert_same_request,
    cassette,
    collect,
    completion_to_sse,
    fake_server,
    recorded_tools,
    replay,
)

from podium.exceptions import BadRequestError, UserError
from podium.messages import File, Image, Message, ModelResponse, Text, Thinking, ToolResult
from podium.providers.groq import GroqModel
from podium.settings import ModelSettings, OutputSchema
from podium.streaming import TextDelta
from podium.testing.cassette import ReplayServer

# pydantic-ai sent these defaults; Podium leaves them to the API.
DEFAULTS = {("n",): (MISSING, 1), ("stream",): (MISSING, False)}


def model(server: ReplayServer, name: str) -> GroqModel:
    return GroqModel(name, base_url=server.url, api_key="gsk-test")


def test_instructions_and_groq_usage_fields() -> None:
    with replay(cassette("groq", "test_groq_model_instructions.yaml")) as server:
        response = model(server, "llama-3.3-70b-versatile").request(
            [Message.system("You are a helpful assistant."), Message.user("What is the capital of France?")]
        )
        assert_same_request(server.received[0].json, server.interactions[0].request.body, DEFAULTS)
    assert response.text == "The capital of France is Paris."
    assert (response.usage.input_tokens, response.usage.output_tokens) == (48, 8)
    assert response.provider == "groq"
    details = response.provider_details
    assert details is not None
    assert details["x_groq"] == {"id": "req_01jr8hj0hzeq9b86xqb5dn7wqs"}
    assert details["usage"]["queue_time"] == pytest.approx(0.100731848)
    assert details["usage_breakdown"] == {"models": None}


def test_thinking_raw_think_tags_then_parsed_reasoning() -> None:
    with replay(cassette("groq", "test_groq_model_thinking_part.yaml")) as server:
        m = model(server, "deepseek-r1-distill-llama-70b")
        system = Message.system("You are a chef.")
        question = Message.user("I want a recipe to cook Uruguayan alfajores.")
        first = m.request([system, question], settings=ModelSettings(extra={"groq": {"reasoning_format": "raw"}}))
        content = server.interactions[0].json["choices"][0]["message"]["content"]
        think, answer = content.split("</think>", 1)
        assert isinstance(first.parts[0], Thinking) and first.parts[0].text == think.removeprefix("<think>")
        assert isinstance(first.parts[1], Text) and first.parts[1].text == answer
        history = [
            system,
            question,
            first.to_message(),
            Message.user("Considering the Uruguayan recipe, how can I cook the Argentinian one?"),
        ]
        second = m.request(history, settings=ModelSettings(extra={"groq": {"reasoning_format": "parsed"}}))
        # Groq takes no reasoning in input: only the answer text goes back
        for i in range(2):
            assert_same_request(server.received[i].json, server.interactions[i].request.body, DEFAULTS)
    message = server.interactions[1].json["choices"][0]["message"]
    assert second.thinking[0].text == message["reasoning"]
    assert second.thinking[0].provider == "groq"
    assert second.text == message["content"]
    assert second.usage.output_tokens == 1590


def test_native_output_with_reasoning() -> None:
    with replay(cassette("groq", "test_groq_native_output.yaml")) as server:
        fmt = server.interactions[0].request.body["response_format"]["json_schema"]
        output = OutputSchema(fmt["name"], fmt["schema"], description=fmt["description"], strict=True)
        m = model(server, "openai/gpt-oss-120b")
        response = m.request([Message.user("What is the largest city in Mexico?")], output=output)
        assert_same_request(server.received[0].json, server.interactions[0].request.body, DEFAULTS)
    assert json.loads(response.text) == {"city": "Mexico City", "country": "Mexico"}
    assert response.thinking[0].text.startswith('The user asks: "What is the largest city in Mexico?"')
    assert m.profile.structured_output and m.profile.thinking


def test_image_in_tool_result_goes_in_a_user_message() -> None:
    path = cassette("groq", "test_image_as_binary_content_tool_response.yaml")
    with replay(path) as server:
        m = model(server, "meta-llama/llama-4-maverick-17b-128e-instruct")
        tools = recorded_tools(server.interactions[0].request.body)
        settings = ModelSettings(tool_choice="auto")
        prompt = Message.user("What fruit is in the image you can get from the get_image tool (without any arguments)?")
        first = m.request([prompt], tools=tools, settings=settings)
        call = first.tool_calls[0]
        assert (call.id, call.name, call.args) == ("911ra51k8", "get_image", {})
        url = server.interactions[1].request.body["messages"][3]["content"][1]["image_url"]["url"]
        kiwi = Image(base64.b64decode(url.split(",", 1)[1]), media_type="image/jpeg")
        history = [prompt, first.to_message(), Message("tool", [ToolResult(call.id, "get_image", [kiwi])])]
        second = m.request(history, tools=tools, settings=settings)
        # this recording wrapped a lone user text in a list and left "content" out beside tool calls
        as_list = [{"text": prompt.text, "type": "text"}]
        assert_same_request(
            server.received[0].json,
            server.interactions[0].request.body,
            {**DEFAULTS, ("messages", 0, "content"): (prompt.text, as_list)},
        )
        assert_same_request(
            server.received[1].json,
            server.interactions[1].request.body,
            {
                **DEFAULTS,
                ("messages", 0, "content"): (prompt.text, as_list),
                ("messages", 1, "content"): (None, MISSING),
            },
        )
    assert second.text == "The fruit in the image is a kiwi."
    assert second.usage.input_tokens == 1501


def test_tool_choice_auto_round_trip() -> None:
    with replay(cassette("groq", "test_tool_choice_matrix[auto-groq].yaml")) as server:
        m = model(server, "meta-llama/llama-4-scout-17b-16e-instruct")
        tools = recorded_tools(server.interactions[0].request.body)
        settings = ModelSettings(tool_choice="auto")
        history = [Message.user("What's the weather in Paris?")]
        first = m.request(history, tools=tools, settings=settings)
        assert first.finish_reason == "tool_calls"
        call = first.tool_calls[0]
        history += [
            first.to_message(),
            Message("tool", [ToolResult(call.id, call.name, [Text("Sunny, 22C in Paris")])]),
        ]
        second = m.request(history, tools=tools, settings=settings)
        assert_same_request(server.received[0].json, server.interactions[0].request.body, DEFAULTS)
        assert_same_request(
            server.received[1].json,
            server.interactions[1].request.body,
            {**DEFAULTS, ("messages", 1, "content"): (None, MISSING)},
        )
    assert call.args == {"city": "Paris"}
    assert second.text == "The weather in Paris is sunny with a temperature of 22C."


def test_unknown_model_404() -> None:
    with replay(cassette("groq", "test_tool_regular_error.yaml")) as server:
        with pytest.raises(BadRequestError) as info:
            model(server, "non-existent").request([Message.user("hello")])
        assert_same_request(server.received[0].json, server.interactions[0].request.body, DEFAULTS)
    assert info.value.status == 404
    assert info.value.provider == "groq"
    assert "does not exist" in str(info.value)


def test_stream_usage_from_x_groq() -> None:
    with replay(cassette("groq", "test_chat_streaming_legacy.yaml")) as server:
        events = list(model(server, "llama3-8b-8192").stream([Message.user("Tell me a joke about opentelemetry")]))
        assert_same_request(server.received[0].json, server.interactions[0].request.body)
    deltas, final = collect(events)
    assert all(isinstance(d, TextDelta) for d in deltas)
    assert final.text.startswith("A joke about OpenTelemetry!\n\nWhy did the OpenTelemetry Span go to therapy?")
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == final.text
    assert (final.usage.input_tokens, final.usage.output_tokens) == (18, 73)
    assert final.finish_reason == "stop"
    assert final.provider_details is not None
    assert final.provider_details["x_groq"]["id"] == "req_01jmefve36eajb6c1x6k8ppv5m"


def test_stream_async() -> None:
    async def main() -> list[object]:
        with replay(cassette("groq", "test_chat_streaming_legacy.yaml")) as server:
            return [e async for e in model(server, "llama3-8b-8192").astream([Message.user("Tell me a joke")])]

    deltas, final = collect(asyncio.run(main()))  # type: ignore[arg-type]
    assert len(deltas) == 72
    assert final.usage.output_tokens == 73


def test_tool_use_failed_is_a_bad_request_with_the_failed_generation() -> None:
    body = {
        "error": {
            "message": (
                "Failed to call a function. Please adjust your prompt. See 'failed_generation' for more details."
            ),
            "type": "invalid_request_error",
            "code": "tool_use_failed",
            "failed_generation": '<function=get_weather{"city": "Paris"}</function>',
        }
    }
    with (
        fake_server((400, "application/json", json.dumps(body).encode()), path="/openai/v1/chat/completions") as server,
        pytest.raises(BadRequestError) as info,
    ):
        model(server, "llama-3.3-70b-versatile").request([Message.user("weather?")])
    assert info.value.status == 400
    assert "tool_use_failed" in str(info.value)
    assert '<function=get_weather{"city": "Paris"}</function>' in str(info.value)
    assert info.value.body == body


def test_pdfs_and_audio_are_refused_before_sending() -> None:
    """Groq's content parts are text and images: a binary file is a clear error, not a 400 from the API."""
    for part in (File(data=b"%PDF-1.4", media_type="application/pdf"), File(data=b"RIFF", media_type="audio/wav")):
        with fake_server(path="/openai/v1/chat/completions") as server:
            with pytest.raises(UserError, match=r"groq takes no (application/pdf|audio/wav) files: remove the File"):
                model(server, "meta-llama/llama-4-scout-17b-16e-instruct").request([Message.user("read", part)])
            assert server.received == []


def _rebuilt(response: ModelResponse) -> str:
    """The text the model wrote, from the thinking part's ``inline_tags`` and the answer."""
    thinking = response.thinking[0]
    assert thinking.provider_details is not None
    tags = thinking.provider_details["inline_tags"]
    return tags["leading"] + tags["open"] + thinking.text + tags["close"] + response.text


def test_thinking_from_inline_tags_records_them_so_the_text_can_be_rebuilt() -> None:
    """Recorded: Groq's ``reasoning_format: raw`` answer; the thinking says it came from ``<think>`` tags."""
    with replay(cassette("groq", "test_groq_model_thinking_part.yaml")) as server:
        m = model(server, "deepseek-r1-distill-llama-70b")
        question = [Message.system("You are a chef."), Message.user("I want a recipe to cook Uruguayan alfajores.")]
        first = m.request(question, settings=ModelSettings(extra={"groq": {"reasoning_format": "raw"}}))
        m.request(question, settings=ModelSettings(extra={"groq": {"reasoning_format": "parsed"}}))
    content = server.interactions[0].json["choices"][0]["message"]["content"]
    assert first.thinking[0].provider_details == {
        "inline_tags": {"open": "<think>", "close": "</think>", "leading": ""}
    }
    assert _rebuilt(first) == content
    parsed = server.interactions[1].json["choices"][0]["message"]
    assert "reasoning" in parsed  # thinking that came as a field is not marked as inline


@pytest.mark.parametrize(
    "content",
    [
        "\n <think>\nplan the answer\n</think>\n\nThe answer.",  # whitespace before the block
        "<think>still thinking when the answer was cut",  # never closed
        "<think></think>Straight answer.",  # an empty block
    ],
)
@pytest.mark.parametrize("mode", ["request", "stream"])
def test_inline_tags_rebuild_the_exact_text(content: str, mode: str) -> None:
    data = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1,
        "model": "qwen/qwen3-32b",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }
    if mode == "request":
        answer = (200, "application/json", json.dumps(data).encode())
    else:
        answer = (200, "text/event-stream", completion_to_sse(data, pieces=7))
    with fake_server(answer, path="/openai/v1/chat/completions") as server:
        m = model(server, "qwen/qwen3-32b")
        response = (
            m.request([Message.user("q")]) if mode == "request" else collect(list(m.stream([Message.user("q")])))[1]
        )
    assert isinstance(response.parts[0], Thinking)
    assert _rebuilt(response) == content
