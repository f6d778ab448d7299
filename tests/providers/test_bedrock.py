"""Bedrock Converse / ConverseStream cassettes replayed through Podium's own transport (podium.providers.bedrock).

Each recorded request is compared with the one Podium builds, as parsed JSON after ``normalize()``
(bytes travel as standard base64, as recorded from boto3), sent to the recorded path. Differences that come
from the recording framework and not from the API are applied to the *recorded* body by the named functions below:

* ``empty_defaults``: pydantic-ai always sends ``"system": []`` and ``"inferenceConfig": {}``;
  Podium leaves empty fields out.
* ``schema_string``: ``outputConfig…jsonSchema.schema`` is a JSON *string*; its key order and spacing
  are the recording framework's, so both strings are compared parsed.
* crewAI only (parallel tool calls): it omits ``toolResult.status`` (Podium always says
  ``success``/``error``) and drops the assistant's text block that came with the tool calls when it
  sends the turn back (Podium sends the whole turn); see ``test_parallel_tool_calls_crewai``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from podium.exceptions import BadRequestError, RateLimitError, ServerError, UserError
from podium.messages import CachePoint, File, Image, Message, ModelResponse, Text, Thinking, ToolResult
from podium.providers.bedrock import BedrockModel
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import TextDelta, ThinkingDelta, ToolCallDelta
from podium.testing.cassette import Cassette, Interaction, RecordedRequest, ReplayServer, normalize

BEDROCK = Path(__file__).parent.parent / "cassettes" / "bedrock"
NO_RETRY = RetryPolicy(max_retries=0)
NOVA = "us.amazon.nova-micro-v1:0"
SONNET_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"

# --------------------------------------------------------------------------- helpers


def bedrock(server: ReplayServer, name: str, region: str = "us-east-1", **kwargs: Any) -> BedrockModel:
    kwargs.setdefault("retry", NO_RETRY)
    return BedrockModel(
        name, base_url=server.url, region=region, aws_access_key_id="x", aws_secret_access_key="x", **kwargs
    )


def run_stream(model: BedrockModel, messages: list[Message], **kwargs: Any) -> tuple[list[Any], ModelResponse]:
    events = list(model.stream(messages, **kwargs))
    final = events[-1]
    assert isinstance(final, ModelResponse)
    assert not any(isinstance(e, ModelResponse) for e in events[:-1])
    return events[:-1], final


def empty_defaults(body: dict[str, Any]) -> dict[str, Any]:
    for key in ("system", "inferenceConfig"):
        if key in body and not body[key]:
            del body[key]
    return body


def schema_string(body: dict[str, Any]) -> dict[str, Any]:
    structure = body.get("outputConfig", {}).get("textFormat", {}).get("structure", {}).get("jsonSchema")
    if structure is not None:
        structure["schema"] = json.loads(structure["schema"])
    return body


def expected_body(recorded: Any) -> Any:
    return normalize(schema_string(empty_defaults(copy.deepcopy(recorded))))


def assert_request(server: ReplayServer, index: int, recorded: Any = None) -> dict[str, Any]:
    received = server.received[index]
    assert received.matched is not None, f"request {index} matched no recorded interaction: {received.path}"
    sent = schema_string(received.json)
    assert normalize(sent) == expected_body(received.matched.request.body if recorded is None else recorded)
    return sent


def results(response: ModelResponse, *values: str, is_error: bool = False) -> Message:
    calls = response.tool_calls
    assert len(calls) == len(values)
    return Message(
        "tool", [ToolResult(c.id, c.name, (Text(v),), is_error=is_error) for c, v in zip(calls, values, strict=True)]
    )


def schema(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"properties": properties, "type": "object", **extra}
    if required is not None:
        out["required"] = required
    return out


# --------------------------------------------------------------------------- text, system, usage


def test_plain_text_with_system() -> None:
    with ReplayServer(BEDROCK / "test_bedrock_model.yaml") as server:
        response = bedrock(server, NOVA).request([Message.system("You are a chatbot."), Message.user("Hello!")])
        assert_request(server, 0)
        assert server.received[0].path == "/model/us.amazon.nova-micro-v1:0/converse"
    assert response.text.startswith("Hello! How can I assist you today?")
    assert response.finish_reason == "stop"
    assert response.provider == "bedrock"
    assert response.model == NOVA
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 30)
    assert response.provider_details is not None
    assert response.provider_details["finish_reason"] == "end_turn"
    assert response.provider_details["metrics"] == {"latencyMs": 268}
    assert response.cost is not None
    assert response.cost > 0


def test_stream_plain_text() -> None:
    with ReplayServer(BEDROCK / "test_bedrock_model_stream.yaml") as server:
        deltas, final = run_stream(
            bedrock(server, NOVA),
            [Message.system("You are a helpful chatbot."), Message.user("What is the capital of France?")],
            settings=ModelSettings(temperature=0.0),
        )
        assert_request(server, 0)
        assert server.received[0].path.endswith("/converse-stream")
    assert len([d for d in deltas if isinstance(d, TextDelta)]) == 29
    assert final.text.startswith("The capital of France is Paris.")
    assert final.text.endswith('"The City of Love."')
    assert final.finish_reason == "stop"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (13, 82)


def test_async_request_and_stream() -> None:
    async def main() -> tuple[ModelResponse, list[Any]]:
        with ReplayServer(BEDROCK / "test_bedrock_model.yaml") as server:
            response = await bedrock(server, NOVA).arequest(
                [Message.system("You are a chatbot."), Message.user("Hello!")]
            )
        with ReplayServer(BEDROCK / "test_bedrock_model_stream.yaml") as server:
            events = [
                e
                async for e in bedrock(server, NOVA).astream(
                    [Message.system("You are a helpful chatbot."), Message.user("What is the capital of France?")],
                    settings=ModelSettings(temperature=0.0),
                )
            ]
            assert_request(server, 0)
        return response, events

    response, events = asyncio.run(main())
    assert response.usage.output_tokens == 30
    assert isinstance(events[-1], ModelResponse)
    assert events[-1].text.startswith("The capital of France is Paris.")
    assert sum(isinstance(e, TextDelta) for e in events) == 29


# --------------------------------------------------------------------------- tools


def test_parallel_tool_calls_crewai() -> None:
    cassette = Cassette.load(
        BEDROCK / "TestBedrockNativeToolCalling.test_bedrock_parallel_native_tool_calling_test_agent_kickoff.yaml"
    )
    first_request = cassette.interactions[0].request.body
    query = {"query": {"description": "Search query", "title": "Query", "type": "string"}}
    tools = [
        ToolDefinition(
            f"parallel_local_search_{n}",
            f"Local search tool #{i} for concurrency testing.",
            schema(query, ["query"], additionalProperties=False),
        )
        for i, n in enumerate(("one", "two", "three"), start=1)
    ]
    settings = ModelSettings(stop=["\nObservation:"])
    history = [
        Message.system(first_request["system"][0]["text"]),
        Message.user(first_request["messages"][0]["content"][0]["text"]),
    ]
    with ReplayServer(cassette) as server:
        model = bedrock(server, "us.anthropic.claude-sonnet-4-6", region="us-west-2")
        first = model.request(history, tools=tools, settings=settings)
        assert_request(server, 0)
        history += [
            first.to_message(),
            results(
                first,
                "[one] latest OpenAI model release notes",
                "[two] latest Anthropic model release notes",
                "[three] latest Gemini model release notes",
            ),
        ]
        second = model.request(history, tools=tools, settings=settings)
        # crewAI differences, applied to the recorded body: status omitted, assistant text dropped
        recorded = copy.deepcopy(cassette.interactions[1].request.body)
        recorded["messages"][1]["content"].insert(0, {"text": first.parts[0].text})  # type: ignore[union-attr]
        for block in recorded["messages"][2]["content"]:
            block["toolResult"]["status"] = "success"
        assert_request(server, 1, recorded)
    assert first.finish_reason == "tool_calls"
    assert first.text == "I'll execute all 3 parallel searches simultaneously right now!"
    assert [c.id for c in first.tool_calls] == [
        "tooluse_kooGjILXmVRg8edl3YuEf4",
        "tooluse_qa71o2cLA65qg5TyweI63c",
        "tooluse_gPf5hAC0sogbIJEjDBTIvO",
    ]
    assert [c.args["query"] for c in first.tool_calls] == [
        "latest OpenAI model release notes",
        "latest Anthropic model release notes",
        "latest Gemini model release notes",
    ]
    assert first.tool_calls[0].provider_details == {"type": "tool_use"}
    assert second.finish_reason == "stop"
    assert second.text.startswith("The three parallel searches were executed simultaneously")
    assert second.usage.input_tokens == 1197


def test_tool_error_result_round_trip() -> None:
    tools = [
        ToolDefinition(
            "get_capital",
            "Get the capital of a country.",
            schema(
                {"country": {"description": "The country name.", "type": "string"}},
                ["country"],
                additionalProperties=False,
            ),
        )
    ]
    settings = ModelSettings(temperature=0.0, tool_choice="auto")
    history = [Message.system("You are a helpful chatbot."), Message.user("What is the capital of France?")]
    with ReplayServer(BEDROCK / "test_bedrock_model_retry.yaml") as server:
        model = bedrock(server, NOVA)
        first = model.request(history, tools=tools, settings=settings)
        assert_request(server, 0)
        history += [
            first.to_message(),
            results(first, "The country is not supported.\n\nFix the errors and try again.", is_error=True),
        ]
        second = model.request(history, tools=tools, settings=settings)
        sent = assert_request(server, 1)
    assert first.tool_calls[0].id == "tooluse_Ze_bgl9CSqu8aJv7XD-_Dw"
    assert first.tool_calls[0].args == {"country": "France"}
    assert first.text.startswith("<thinking> To determine the capital of France")
    assert sent["messages"][2]["content"][0]["toolResult"]["status"] == "error"
    assert second.finish_reason == "stop"
    assert "error" in second.text


def test_stream_tool_call_two_turns() -> None:
    properties = {
        "get_capital": ("Get the capital of a country.", "country", "The country name.", "Country"),
        "get_temperature": ("Get the temperature in a city.", "city", "The city name.", "City"),
    }
    tools = [
        ToolDefinition(
            name,
            description,
            schema(
                {arg: {"description": arg_doc, "title": title, "type": "string"}}, [arg], additionalProperties=False
            ),
        )
        for name, (description, arg, arg_doc, title) in properties.items()
    ]
    settings = ModelSettings(top_p=0.5)
    history = [
        Message.system("You are a helpful chatbot."),
        Message.user("What is the temperature of the capital of France?"),
    ]
    with ReplayServer(BEDROCK / "test_bedrock_model_iter_stream.yaml") as server:
        model = bedrock(server, NOVA)
        deltas, first = run_stream(model, history, tools=tools, settings=settings)
        assert_request(server, 0)
        history += [first.to_message(), results(first, "30°C")]
        _, second = run_stream(model, history, tools=tools, settings=settings)
        assert_request(server, 1)
    call_deltas = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert call_deltas[0].id == "tooluse_lAG_zP8QRHmSYOwZzzaCqA"
    assert call_deltas[0].name == "get_temperature"
    assert call_deltas[1].args_delta == '{"city":"Paris"}'
    assert first.tool_calls[0].args == {"city": "Paris"}
    assert first.finish_reason == "tool_calls"
    assert (first.usage.input_tokens, first.usage.output_tokens) == (471, 91)
    assert second.text == "The current temperature in Paris, the capital of France, is 30°C."


# --------------------------------------------------------------------------- thinking


def test_anthropic_reasoning_with_signature_round_trip() -> None:
    settings = ModelSettings(thinking=1024)
    history = [Message.user("How do I cross the street?")]
    with ReplayServer(BEDROCK / "test_bedrock_model_thinking_part_anthropic.yaml") as server:
        model = bedrock(server, SONNET_4)
        first = model.request(history, settings=settings)
        sent = assert_request(server, 0)
        assert sent["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 1024}}
        history += [
            first.to_message(),
            Message.user("Considering the way to cross the street, analogously, how do I cross the river?"),
        ]
        second = model.request(history, settings=settings)
        sent2 = assert_request(server, 1)
    thinking, text = first.parts
    assert isinstance(thinking, Thinking)
    assert isinstance(text, Text)
    assert thinking.provider == "bedrock"
    assert thinking.text.startswith("This is a straightforward question about crossing the street safely.")
    assert thinking.signature is not None
    assert thinking.signature.startswith("Eu4CCkgIBxABGAIqQCc4A+JUj/DJn5X49FRHzzGDqrWoZCEii+cINeYRllo7Bo")
    back = sent2["messages"][1]["content"][0]["reasoningContent"]["reasoningText"]
    assert back == {"text": thinking.text, "signature": thinking.signature}
    assert second.thinking[0].text.startswith("The human is asking about crossing a river")
    assert second.usage.output_tokens == 432


def test_deepseek_unsigned_reasoning_goes_back_as_think_text() -> None:
    history = [Message.user("How do I cross the street?")]
    with ReplayServer(BEDROCK / "test_bedrock_model_thinking_part_deepseek.yaml") as server:
        model = bedrock(server, "us.deepseek.r1-v1:0")
        first = model.request(history)
        assert_request(server, 0)
        history += [
            first.to_message(),
            Message.user("Considering the way to cross the street, analogously, how do I cross the river?"),
        ]
        second = model.request(history)
        sent = assert_request(server, 1)
    text, thinking = first.parts
    assert isinstance(text, Text)
    assert isinstance(thinking, Thinking)
    assert thinking.signature is None
    assert thinking.text.startswith("Okay, the user is asking how to cross the street.")
    assert sent["messages"][1]["content"][1] == {"text": f"<think>\n{thinking.text}\n</think>"}
    assert second.thinking[0].text.startswith("Okay, the user is asking how to cross a river")


def test_stream_reasoning_with_signature_delta() -> None:
    with ReplayServer(BEDROCK / "test_bedrock_model_thinking_part_stream.yaml") as server:
        deltas, final = run_stream(
            bedrock(server, SONNET_4), [Message.user("Hello")], settings=ModelSettings(thinking=1024)
        )
        assert_request(server, 0)
    thinking_deltas = [d for d in deltas if isinstance(d, ThinkingDelta)]
    assert len(thinking_deltas) == 15
    assert thinking_deltas[-1].signature is not None
    assert thinking_deltas[-1].signature.startswith(
        "Eu0CCkgIBxABGAIqQJDccbDQkr81n7QjZ0Fi43umSvw0YvnGkMPEpaGAa2btYHyWw06"
    )
    thinking, text = final.parts
    assert isinstance(thinking, Thinking)
    assert thinking.signature == thinking_deltas[-1].signature
    assert thinking.text.startswith('The user has greeted me with a simple "Hello".')
    assert text == Text("Hello! It's nice to meet you. How can I help you today?")


def test_redacted_reasoning_round_trips_as_bytes() -> None:
    from podium.providers.bedrock_wire import ConverseAccumulator, build_request

    acc = ConverseAccumulator("bedrock", SONNET_4)
    acc.feed_response(
        {
            "output": {
                "message": {
                    "role": "assistant",
                    "content": [{"reasoningContent": {"redactedContent": b"\x00secret"}}, {"text": "hi"}],
                }
            },
            "stopReason": "end_turn",
            "usage": {"inputTokens": 1, "outputTokens": 2},
        }
    )
    response = acc.build()
    assert response.thinking[0].redacted
    body = build_request(
        [Message.user("q"), response.to_message(), Message.user("again")],
        provider="bedrock",
        model_id=SONNET_4,
        tools=None,
        settings=ModelSettings(),
        output=None,
    )
    assert body["messages"][1]["content"][0] == {"reasoningContent": {"redactedContent": b"\x00secret"}}


@pytest.mark.parametrize(
    ("model_id", "thinking", "expected"),
    [
        (SONNET_4, True, {"thinking": {"type": "enabled", "budget_tokens": 2048}}),
        (SONNET_4, "high", {"thinking": {"type": "enabled", "budget_tokens": 24576}}),
        (SONNET_4, False, {"thinking": {"type": "disabled"}}),
        ("us.amazon.nova-2-lite-v1:0", "high", {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "high"}}),
        ("openai.gpt-oss-120b-1:0", "low", {"reasoning_effort": "low"}),
        (NOVA, True, {}),
    ],
)
def test_thinking_setting_mapping(model_id: str, thinking: Any, expected: dict[str, Any]) -> None:
    from podium.providers.bedrock_wire import thinking_fields

    assert thinking_fields(model_id, thinking) == expected


# --------------------------------------------------------------------------- media, cache, structured output


def test_image_bytes_input() -> None:
    cassette = Cassette.load(BEDROCK / "test_image_url_input.yaml")
    jpeg = cassette.for_host("ftcdn.net")[0].body
    with ReplayServer(cassette, host_filter="amazonaws.com") as server:
        response = bedrock(server, "us.amazon.nova-pro-v1:0").request(
            [
                Message.system("You are a helpful chatbot."),
                Message.user("What is this vegetable?", Image(data=jpeg, media_type="image/jpeg")),
            ]
        )
        sent = assert_request(server, 0)
    assert sent["messages"][0]["content"][1]["image"]["format"] == "jpeg"
    assert response.text.startswith("The image shows a potato.")
    assert response.usage.input_tokens == 1837


def test_cache_points_document_and_cache_usage() -> None:
    cassette = Cassette.load(BEDROCK / "test_bedrock_cache_write_and_read.yaml")
    recorded = cassette.interactions[0].request.body
    user_text = recorded["messages"][0]["content"][0]["text"]
    system_text = recorded["system"][0]["text"]
    empty = {"additionalProperties": False, "properties": {}, "type": "object"}
    tools = [ToolDefinition("catalog_lookup", "", empty), ToolDefinition("diagnostics", "", empty)]
    settings = ModelSettings(tool_choice="auto", extra={"bedrock": {"cache_tools": True}})
    messages = [
        Message("system", [Text(system_text), CachePoint()]),
        Message.user(
            user_text,
            File(data=b"You are a great mathematician", media_type="text/plain"),
            "\n",
            CachePoint(),
            "What is 10 + 11?",
            CachePoint(),
        ),
    ]
    with ReplayServer(cassette) as server:
        model = bedrock(server, "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
        write = model.request(messages, tools=tools, settings=settings)
        sent = assert_request(server, 0)
        read = model.request(messages, tools=tools, settings=settings)
        assert_request(server, 1)
    assert sent["toolConfig"]["tools"][-1] == {"cachePoint": {"type": "default"}}
    assert "cache_tools" not in json.dumps(sent)
    assert write.text == read.text == "21"
    assert (write.usage.cache_write_tokens, write.usage.cache_read_tokens) == (1322, 0)
    assert (read.usage.cache_write_tokens, read.usage.cache_read_tokens) == (0, 1322)
    # input_tokens includes cache reads and writes (Bedrock reports them apart)
    assert write.usage.input_tokens == 2 + 1322
    assert read.usage.total_tokens == 1329


def test_native_structured_output() -> None:
    output = OutputSchema(
        "CityInfo",
        schema(
            {"city": {"type": "string"}, "country": {"type": "string"}, "population": {"type": "integer"}},
            ["city", "country", "population"],
            additionalProperties=False,
        ),
        description="Information about a city.",
    )
    with ReplayServer(BEDROCK / "test_bedrock_native_output_supported_model.yaml") as server:
        model = bedrock(server, "us.anthropic.claude-sonnet-4-6")
        assert model.profile.structured_output
        response = model.request(
            [Message.user("What is the capital of France? Give me the city name, country, and population.")],
            output=output,
        )
        assert_request(server, 0)
    assert json.loads(response.text) == {"city": "Paris", "country": "France", "population": 2161000}


def test_http_url_media_is_a_clear_error() -> None:
    from podium.providers.bedrock_wire import build_request

    with pytest.raises(UserError, match="cannot fetch image URLs"):
        build_request(
            [Message.user("x", Image(url="https://example.com/a.png"))],
            provider="bedrock",
            model_id=NOVA,
            tools=None,
            settings=ModelSettings(),
            output=None,
        )
    body = build_request(
        [Message.user("x", Image(url="s3://bucket/a.png"))],
        provider="bedrock",
        model_id=NOVA,
        tools=None,
        settings=ModelSettings(),
        output=None,
    )
    assert body["messages"][0]["content"][1] == {
        "image": {"format": "png", "source": {"s3Location": {"uri": "s3://bucket/a.png"}}}
    }


# --------------------------------------------------------------------------- errors


def test_invalid_model_400_is_bad_request() -> None:
    with ReplayServer(BEDROCK / "test_bedrock_error.yaml") as server:
        with pytest.raises(BadRequestError) as info:
            bedrock(server, "us.does-not-exist-model-v1:0").request([Message.user("hello")])
        assert_request(server, 0)
    assert info.value.status == 400
    assert str(info.value).startswith("The provided model identifier is invalid.")


def test_invalid_model_with_aws_error_type_header() -> None:
    # pydantic-ai's recorder stripped x-amzn-ErrorType (INDEX.md); the service sends it, so put it back.
    header = {"x-amzn-ErrorType": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    with (
        ReplayServer(BEDROCK / "test_bedrock_error.yaml", extra_headers={0: header}) as server,
        pytest.raises(BadRequestError) as info,
    ):
        bedrock(server, "us.does-not-exist-model-v1:0").request([Message.user("hello")])
    assert info.value.status == 400
    assert str(info.value).startswith("ValidationException: The provided model identifier is invalid.")


def _synthetic(status: int, body: dict[str, Any], path: str, headers: dict[str, str]) -> Interaction:
    request = RecordedRequest("POST", "http://x" + path, path, {}, None)
    return Interaction(request, status, {"content-type": "application/json", **headers}, json.dumps(body).encode())


def test_throttling_is_rate_limit_and_retried() -> None:
    # No Bedrock 429 was recorded (INDEX.md); this follows the service's ThrottlingException shape.
    ok = Cassette.load(BEDROCK / "test_bedrock_model.yaml").interactions[0]
    path = ok.request.path
    throttled = _synthetic(
        429, {"message": "Too many requests, please wait."}, path, {"x-amzn-ErrorType": "ThrottlingException"}
    )
    with ReplayServer(Cassette(Path("synthetic"), [throttled])) as server, pytest.raises(RateLimitError) as info:
        bedrock(server, NOVA).request([Message.user("Hello!")])
    assert info.value.status == 429
    assert str(info.value).startswith("ThrottlingException: Too many requests")
    policy = RetryPolicy(max_retries=1, initial_delay=0.01)
    with ReplayServer(Cassette(Path("synthetic"), [throttled, ok])) as server:
        response = bedrock(server, NOVA, retry=policy).request(
            [Message.system("You are a chatbot."), Message.user("Hello!")]
        )
        assert len(server.received) == 2
    assert response.usage.output_tokens == 30


def test_connection_refused_is_connection_error() -> None:
    from podium.exceptions import ProviderConnectionError

    server = ReplayServer(Cassette(Path("empty"), [])).start()
    url = server.url
    server.stop()
    model = BedrockModel(
        NOVA, base_url=url, region="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", retry=NO_RETRY
    )
    with pytest.raises(ProviderConnectionError):
        model.request([Message.user("hi")])


def test_api_key_is_sent_as_bearer_token() -> None:
    import httpx2

    ok = Cassette.load(BEDROCK / "test_bedrock_model.yaml").interactions[0]
    seen: dict[str, str] = {}

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.update({k.lower(): v for k, v in request.headers.items()})
        seen["url"] = str(request.url)
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=ok.body)

    model = BedrockModel(
        NOVA,
        base_url="https://bedrock.invalid",
        region="us-east-1",
        api_key="BEDROCK-API-KEY",
        retry=NO_RETRY,
        http_client=httpx2.Client(transport=httpx2.MockTransport(answer)),
    )
    response = model.request([Message.user("Hello!")])
    assert seen["authorization"] == "Bearer BEDROCK-API-KEY"
    assert "x-amz-date" not in seen  # a key is sent instead of a signature, not with one
    assert seen["url"] == "https://bedrock.invalid/model/us.amazon.nova-micro-v1%3A0/converse"
    assert response.usage.output_tokens == 30


# --------------------------------------------------------------------------- stream == request


def _frame(event_type: str, payload: dict[str, Any], message_type: str = "event") -> bytes:
    """One AWS event-stream frame (prelude, string headers, JSON payload, CRC32s)."""
    headers = b""
    type_header = ":exception-type" if message_type == "exception" else ":event-type"
    for name, value in (
        (type_header, event_type),
        (":content-type", "application/json"),
        (":message-type", message_type),
    ):
        headers += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", binascii.crc32(message))


def _as_event_stream(response: dict[str, Any]) -> bytes:
    frames = [_frame("messageStart", {"role": "assistant"})]
    for index, block in enumerate(response["output"]["message"]["content"]):
        if "text" in block:
            text = block["text"]
            for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                frames.append(_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}))
        elif "toolUse" in block:
            use = block["toolUse"]
            start = {k: v for k, v in use.items() if k != "input"}
            frames.append(_frame("contentBlockStart", {"contentBlockIndex": index, "start": {"toolUse": start}}))
            delta = {"toolUse": {"input": json.dumps(use["input"])}}
            frames.append(_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        else:
            reasoning = block["reasoningContent"]["reasoningText"]
            frames.append(
                _frame(
                    "contentBlockDelta",
                    {"contentBlockIndex": index, "delta": {"reasoningContent": {"text": reasoning["text"]}}},
                )
            )
            if "signature" in reasoning:
                signature = {"reasoningContent": {"signature": reasoning["signature"]}}
                frames.append(_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": signature}))
        frames.append(_frame("contentBlockStop", {"contentBlockIndex": index}))
    frames.append(_frame("messageStop", {"stopReason": response["stopReason"]}))
    frames.append(_frame("metadata", {"usage": response["usage"], "metrics": response["metrics"]}))
    return b"".join(frames)


@pytest.mark.parametrize(
    ("cassette", "index"),
    [
        ("TestBedrockNativeToolCalling.test_bedrock_parallel_native_tool_calling_test_agent_kickoff.yaml", 0),
        ("test_bedrock_model_thinking_part_anthropic.yaml", 0),
        ("test_bedrock_model_thinking_part_deepseek.yaml", 0),
        ("test_bedrock_cache_write_and_read.yaml", 0),
        ("test_bedrock_model_retry.yaml", 0),
    ],
)
def test_stream_and_request_give_the_same_response(cassette: str, index: int) -> None:
    recorded = Cassette.load(BEDROCK / cassette).interactions[index]
    model_id = recorded.request.path.split("/")[2]
    whole = Interaction(
        RecordedRequest("POST", "http://x", f"/model/{model_id}/converse", {}, None),
        200,
        recorded.headers,
        recorded.body,
    )
    stream = Interaction(
        RecordedRequest("POST", "http://x", f"/model/{model_id}/converse-stream", {}, None),
        200,
        {"content-type": "application/vnd.amazon.eventstream"},
        _as_event_stream(recorded.json),
    )
    with ReplayServer(Cassette(Path("synthetic"), [whole, stream])) as server:
        model = bedrock(server, model_id)
        expected = model.request([Message.user("x")])
        deltas, streamed = run_stream(model, [Message.user("x")])
    assert streamed == expected
    assert deltas


# --------------------------------------------------------------------------- registry, lazy import


def test_registry_resolves_bedrock() -> None:
    import podium

    model = podium.model("bedrock:us.amazon.nova-micro-v1:0", region="us-east-1")
    assert isinstance(model, BedrockModel)
    assert model.model_name == NOVA


def test_import_podium_does_not_import_boto3() -> None:
    import subprocess

    code = "import sys, podium; assert 'boto3' not in sys.modules and 'botocore' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_documents_get_unique_safe_names() -> None:
    from podium.providers.bedrock_wire import build_request

    body = build_request(
        [
            Message.user(
                File(data=b"%PDF", media_type="application/pdf", filename="report: Q3 (final).pdf"),
                File(data=b"a,b", media_type="text/csv"),
            )
        ],
        provider="bedrock",
        model_id=NOVA,
        tools=None,
        settings=ModelSettings(),
        output=None,
    )
    docs = [block["document"] for block in body["messages"][0]["content"]]
    assert [d["name"] for d in docs] == ["report- Q3 (final)", "Document 2"]
    assert [d["format"] for d in docs] == ["pdf", "csv"]
    assert base64.b64encode(docs[0]["source"]["bytes"]) == b"JVBERg=="


def test_conversation_from_gemini_continues_on_bedrock() -> None:
    """Gemini thinking (with thought signatures), parallel calls and an image, continued on Bedrock."""
    from podium.messages import ToolCall
    from podium.providers.bedrock_wire import build_request

    gemini_turn = Message(
        "assistant",
        [
            Thinking("plan", provider="google"),
            ToolCall("gc_abc_1", "lookup", {"q": "a"}, provider_details={"thoughtSignature": "c2ln"}),
            ToolCall("gc_abc_2", "lookup", {"q": "b"}),
        ],
        provider="google",
    )
    history = [
        Message.system("sys"),
        Message.user("look", Image(data=b"\x89PNG", media_type="image/png")),
        gemini_turn,
        Message(
            "tool", [ToolResult("gc_abc_1", "lookup", (Text("A"),)), ToolResult("gc_abc_2", "lookup", (Text("B"),))]
        ),
        Message.user("and now?"),
    ]
    tools = [ToolDefinition("lookup", "Look up.", schema({"q": {"type": "string"}}, ["q"]))]
    body = build_request(
        history, provider="bedrock", model_id=SONNET_4, tools=tools, settings=ModelSettings(), output=None
    )
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assistant = body["messages"][1]["content"]
    assert assistant == [  # foreign thinking dropped, no Gemini signature leaks into toolUse
        {"toolUse": {"toolUseId": "gc_abc_1", "name": "lookup", "input": {"q": "a"}}},
        {"toolUse": {"toolUseId": "gc_abc_2", "name": "lookup", "input": {"q": "b"}}},
    ]
    last = body["messages"][2]["content"]
    assert [b["toolResult"]["toolUseId"] for b in last[:2]] == ["gc_abc_1", "gc_abc_2"]
    assert last[2] == {"text": "and now?"}
    assert body["messages"][0]["content"][1] == {"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}}
    with_text = build_request(
        history,
        provider="bedrock",
        model_id=SONNET_4,
        tools=tools,
        settings=ModelSettings(foreign_thinking="text"),
        output=None,
    )
    assert with_text["messages"][1]["content"][0] == {"text": "<thinking>\nplan\n</thinking>"}


def test_exception_frame_mid_stream_is_mapped_and_not_retried() -> None:
    body = b"".join(
        [
            _frame("messageStart", {"role": "assistant"}),
            _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
            _frame("throttlingException", {"message": "Too many tokens, please wait."}, message_type="exception"),
        ]
    )
    path = f"/model/{NOVA}/converse-stream"
    stream = Interaction(
        RecordedRequest("POST", "http://x" + path, path, {}, None),
        200,
        {"content-type": "application/vnd.amazon.eventstream"},
        body,
    )
    with ReplayServer(Cassette(Path("synthetic"), [stream, stream])) as server:
        events: list[Any] = []
        with pytest.raises(RateLimitError) as info:
            events.extend(
                bedrock(server, NOVA, retry=RetryPolicy(max_retries=3, initial_delay=0.01)).stream([Message.user("hi")])
            )
        assert len(server.received) == 1, "data had arrived: the stream must not be retried"
    assert events == [TextDelta(0, "Hel")]
    assert str(info.value).startswith("ThrottlingException: Too many tokens")


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_streamed_redacted_content_split_over_deltas_is_joined(mode: str) -> None:
    """ConverseStream may send one ``redactedContent`` blob in several deltas: the block is all of them."""
    blob = bytes(range(256)) * 3 + b"tail"  # pieces of 100, 301 and the rest bytes: not multiples of 3
    pieces = [blob[:100], blob[100:401], blob[401:]]
    body = b"".join(
        [
            _frame("messageStart", {"role": "assistant"}),
            *(
                _frame(
                    "contentBlockDelta",
                    {
                        "contentBlockIndex": 0,
                        "delta": {"reasoningContent": {"redactedContent": base64.b64encode(piece).decode()}},
                    },
                )
                for piece in pieces
            ),
            _frame("contentBlockStop", {"contentBlockIndex": 0}),
            _frame("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Hi"}}),
            _frame("contentBlockStop", {"contentBlockIndex": 1}),
            _frame("messageStop", {"stopReason": "end_turn"}),
            _frame("metadata", {"usage": {"inputTokens": 3, "outputTokens": 5}, "metrics": {"latencyMs": 1}}),
        ]
    )
    path = f"/model/{SONNET_4}/converse-stream"
    stream = Interaction(
        RecordedRequest("POST", "http://x" + path, path, {}, None),
        200,
        {"content-type": "application/vnd.amazon.eventstream"},
        body,
    )
    with ReplayServer(Cassette(Path("synthetic"), [stream])) as server:
        model = bedrock(server, SONNET_4)
        if mode == "stream":
            final = run_stream(model, [Message.user("hi")])[1]
        else:

            async def collect() -> list[Any]:
                return [event async for event in model.astream([Message.user("hi")])]

            final = (asyncio.run(collect()))[-1]
    assert isinstance(final, ModelResponse)
    thinking = final.thinking[0]
    assert thinking.encrypted is not None and base64.b64decode(thinking.encrypted) == blob
    assert thinking.redaction == "provider" and thinking.redacted and thinking.text == ""
    assert final.text == "Hi"
    body_back = build_request_for(final)
    assert body_back["messages"][1]["content"][0] == {"reasoningContent": {"redactedContent": blob}}


def test_redacted_content_pieces_as_bytes_are_joined_too() -> None:
    """Pieces given as bytes (as boto3's parsed events carry them) are joined the same way."""
    from podium.providers.bedrock_wire import ConverseAccumulator

    acc = ConverseAccumulator("bedrock", SONNET_4)
    for piece in (b"\x00\x01", b"\x02", b"\x03\x04\x05\x06"):
        acc.feed_event(
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"redactedContent": piece}}}}
        )
    acc.feed_event({"messageStop": {"stopReason": "end_turn"}})
    thinking = acc.build().thinking[0]
    assert thinking.encrypted == base64.b64encode(b"\x00\x01\x02\x03\x04\x05\x06").decode()
    assert thinking.redaction == "provider"


def build_request_for(response: ModelResponse) -> dict[str, Any]:
    from podium.providers.bedrock_wire import build_request

    return build_request(
        [Message.user("q"), response.to_message(), Message.user("again")],
        provider="bedrock",
        model_id=SONNET_4,
        tools=None,
        settings=ModelSettings(),
        output=None,
    )


@pytest.mark.parametrize(
    ("code", "kind", "requests"),
    [("validationException", BadRequestError, 1), ("serviceUnavailableException", ServerError, 2)],
)
def test_an_exception_frame_before_any_output_maps_like_the_http_error(
    code: str, kind: type[Exception], requests: int
) -> None:
    """In a 200 event stream, the exception type gives the class: a 400 is raised at once, a 503 retried."""
    failing = b"".join(
        [
            _frame("messageStart", {"role": "assistant"}),
            _frame(code, {"message": f"fake {code}"}, message_type="exception"),
        ]
    )
    path = f"/model/{NOVA}/converse-stream"
    request = RecordedRequest("POST", "http://x" + path, path, {}, None)
    stream = {"content-type": "application/vnd.amazon.eventstream"}
    cassette = Cassette(Path("synthetic"), [Interaction(request, 200, stream, failing)] * 2)
    with ReplayServer(cassette) as server:
        model = bedrock(server, NOVA, retry=RetryPolicy(max_retries=1, initial_delay=0.0, jitter=0.0))
        with pytest.raises(kind):
            list(model.stream([Message.user("hi")]))
        assert len(server.received) == requests
