"""Gemini API and Vertex AI cassettes replayed through Podium's own transport into podium.providers.google.

Each recorded request is compared with the one Podium builds, as parsed JSON after ``normalize()``.
Differences that come from the recording framework (pydantic-ai, crewAI) and not from the API are
applied to the *recorded* body by the named functions below, so every one of them is listed here:

* ``framework_defaults``: pydantic-ai always sends ``generationConfig.responseModalities: ["TEXT"]``
  (or an empty ``generationConfig``); Podium sends neither unless asked.
* ``snake_keys``: google-genai passes dict-typed fields through in snake_case
  (``parameters_json_schema``, ``include_thoughts``, ``file_uri``, ``mime_type``); Podium sends the
  documented camelCase names (proto3 JSON accepts both).
* ``openapi_parameters``: older pydantic-ai converted tool schemas to Gemini's OpenAPI subset
  (``parameters`` with ``"type": "STRING"``); Podium sends the JSON schema as ``parametersJsonSchema``.
* ``tool_result_key``: pydantic-ai wraps tool results as ``{"return_value": ...}``; Podium uses
  Gemini's documented ``{"output": ...}`` / ``{"error": ...}``.
* ``signature_alphabet``: google-genai decodes a ``thoughtSignature`` and re-encodes it as base64url;
  Podium sends the string back exactly as received (standard base64). Same bytes.
* ``call_ids``: Gemini < 3 returns no call ids, so each framework makes its own (pydantic-ai
  ``pyd_ai_…``, Podium ``gc_<responseId>_<index>``); the recorded ids are mapped one-to-one onto ours.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from podium.exceptions import AuthenticationError, BadRequestError, RateLimitError
from podium.messages import File, Image, Message, ModelResponse, Text, Thinking, ToolCall, ToolResult
from podium.providers.google import GoogleModel
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import TextDelta, ThinkingDelta, ToolCallDelta
from podium.testing.cassette import Cassette, Interaction, RecordedRequest, ReplayServer, normalize

CASSETTES = Path(__file__).parent.parent / "cassettes"
GEMINI = CASSETTES / "gemini"
VERTEX = CASSETTES / "gemini_vertex"
NO_RETRY = RetryPolicy(max_retries=0)
TEXT_ONLY = {"google": {"generationConfig": {"responseModalities": ["TEXT"]}}}

# --------------------------------------------------------------------------- helpers


def gemini(server: ReplayServer, name: str, **kwargs: Any) -> GoogleModel:
    kwargs.setdefault("retry", NO_RETRY)
    return GoogleModel(name, base_url=server.url, api_key="test-key", **kwargs)


def vertex(server: ReplayServer, name: str) -> GoogleModel:
    from google.oauth2.credentials import Credentials

    return GoogleModel(
        name,
        vertex=True,
        project="pydantic-ai",
        location="global",
        credentials=Credentials(token="test-token"),
        base_url=server.url,
        api_version="v1beta1",
        retry=NO_RETRY,
    )


def run_stream(model: GoogleModel, messages: list[Message], **kwargs: Any) -> tuple[list[Any], ModelResponse]:
    events = list(model.stream(messages, **kwargs))
    final = events[-1]
    assert isinstance(final, ModelResponse)
    assert not any(isinstance(e, ModelResponse) for e in events[:-1])
    return events[:-1], final


def _walk(value: Any, fn: Callable[[Any], Any]) -> Any:
    value = fn(value)
    if isinstance(value, dict):
        return {k: _walk(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, fn) for v in value]
    return value


def framework_defaults(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("generationConfig")
    if isinstance(config, dict):
        config.pop("responseModalities", None)
        if not config:
            del body["generationConfig"]
    return body


SNAKE = {
    "parameters_json_schema": "parametersJsonSchema",
    "include_thoughts": "includeThoughts",
    "file_uri": "fileUri",
    "mime_type": "mimeType",
}


def snake_keys(body: dict[str, Any]) -> dict[str, Any]:
    def fix(v: Any) -> Any:
        return {SNAKE.get(k, k): x for k, x in v.items()} if isinstance(v, dict) else v

    return _walk(body, fix)  # type: ignore[no-any-return]


def _lower_types(schema: Any) -> Any:
    def fix(v: Any) -> Any:
        if isinstance(v, dict) and isinstance(v.get("type"), str):
            return {**v, "type": v["type"].lower()}
        return v

    return _walk(schema, fix)


def openapi_parameters(body: dict[str, Any]) -> dict[str, Any]:
    for tool in body.get("tools", []):
        for decl in tool.get("functionDeclarations", []):
            if "parameters" in decl:
                decl["parametersJsonSchema"] = _lower_types(decl.pop("parameters"))
    return body


def tool_result_key(body: dict[str, Any]) -> dict[str, Any]:
    for content in body.get("contents", []):
        for part in content["parts"]:
            response = part.get("functionResponse", {}).get("response")
            if isinstance(response, dict) and "return_value" in response:
                response["output"] = response.pop("return_value")
    return body


def signature_alphabet(body: Any) -> Any:
    def fix(v: Any) -> Any:
        if isinstance(v, dict) and "thoughtSignature" in v:
            return {**v, "thoughtSignature": v["thoughtSignature"].replace("-", "+").replace("_", "/")}
        return v

    return _walk(body, fix)


def _call_ids(body: dict[str, Any]) -> list[str]:
    ids = []
    for content in body.get("contents", []):
        for part in content["parts"]:
            call = part.get("functionCall")
            if call and "id" in call:
                ids.append(call["id"])
    return ids


def call_ids(recorded: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    old, new = _call_ids(recorded), _call_ids(sent)
    assert len(old) == len(new), (old, new)
    assert len(set(new)) == len(new), f"Podium's call ids are not unique: {new}"
    mapping = dict(zip(old, new, strict=True))

    def fix(v: Any) -> Any:
        if isinstance(v, dict) and v.get("id") in mapping and ("name" in v):
            return {**v, "id": mapping[v["id"]]}
        return v

    return _walk(recorded, fix)  # type: ignore[no-any-return]


def expected_body(recorded: Any, sent: dict[str, Any]) -> Any:
    body = copy.deepcopy(recorded)
    body = framework_defaults(body)
    body = snake_keys(body)
    body = openapi_parameters(body)
    body = tool_result_key(body)
    body = call_ids(body, sent)
    return normalize(signature_alphabet(body))


def assert_request(server: ReplayServer, index: int) -> dict[str, Any]:
    received = server.received[index]
    assert received.matched is not None, f"request {index} matched no recorded interaction: {received.path}"
    sent = received.json
    assert normalize(signature_alphabet(sent)) == expected_body(received.matched.request.body, sent)
    return sent  # type: ignore[no-any-return]


def tool(name: str, description: str, properties: dict[str, Any], required: list[str] | None = None) -> ToolDefinition:
    schema: dict[str, Any] = {"properties": properties, "type": "object"}
    if required is not None:
        schema["required"] = required
    return ToolDefinition(name, description, schema)


def results(response: ModelResponse, *values: str) -> Message:
    calls = response.tool_calls
    assert len(calls) == len(values)
    return Message("tool", [ToolResult(c.id, c.name, (Text(v),)) for c, v in zip(calls, values, strict=True)])


# --------------------------------------------------------------------------- plain text, system, usage


def test_plain_text_with_system_and_reasoning_usage() -> None:
    with ReplayServer(GEMINI / "test_google_model.yaml") as server:
        model = gemini(server, "gemini-2.5-flash")
        response = model.request(
            [Message.system("You are a chatbot."), Message.user("Hello!")],
            settings=ModelSettings(extra=TEXT_ONLY),
        )
        # extra is merged into the body, so this one matches the recording with no adjustment at all
        assert normalize(server.received[0].json) == normalize(server.received[0].matched.request.body)  # type: ignore[union-attr]
    assert response.text == "Hello! How can I help you today?"
    assert response.finish_reason == "stop"
    assert response.provider == "google"
    assert response.model == "gemini-2.5-flash"
    assert response.usage.input_tokens == 9
    assert response.usage.output_tokens == 9 + 34
    assert response.usage.reasoning_tokens == 34
    assert response.usage.details["input_text_tokens"] == 9
    assert response.provider_details is not None
    assert response.provider_details["finish_reason"] == "STOP"
    assert response.provider_details["responseId"] == "bzlXaa_EE_aHqtsPi_zw8Ao"
    assert response.cost is not None
    assert response.cost > 0


def test_stream_plain_text() -> None:
    with ReplayServer(GEMINI / "test_google_model_stream.yaml") as server:
        model = gemini(server, "gemini-2.0-flash-exp")
        deltas, final = run_stream(
            model,
            [Message.system("You are a helpful chatbot."), Message.user("What is the capital of France?")],
            settings=ModelSettings(temperature=0.0),
        )
        assert_request(server, 0)
        assert server.received[0].path.endswith(":streamGenerateContent")
        assert server.received[0].query == "alt=sse"
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == ["The", " capital of France", " is Paris.\n"]
    assert final.parts == (Text("The capital of France is Paris.\n"),)
    assert final.finish_reason == "stop"
    # the last chunk carries the final usage
    assert (final.usage.input_tokens, final.usage.output_tokens) == (13, 8)


def test_async_request_and_stream() -> None:
    async def main() -> tuple[ModelResponse, list[Any]]:
        with ReplayServer(GEMINI / "test_google_model.yaml") as server:
            response = await gemini(server, "gemini-2.5-flash").arequest(
                [Message.system("You are a chatbot."), Message.user("Hello!")]
            )
        with ReplayServer(GEMINI / "test_google_model_stream.yaml") as server:
            events = [
                e
                async for e in gemini(server, "gemini-2.0-flash-exp").astream(
                    [Message.system("You are a helpful chatbot."), Message.user("What is the capital of France?")],
                    settings=ModelSettings(temperature=0.0),
                )
            ]
            assert_request(server, 0)
        return response, events

    response, events = asyncio.run(main())
    assert response.text == "Hello! How can I help you today?"
    assert response.usage.reasoning_tokens == 34
    assert isinstance(events[-1], ModelResponse)
    assert events[-1].text == "The capital of France is Paris.\n"
    assert sum(isinstance(e, TextDelta) for e in events) == 3


# --------------------------------------------------------------------------- tools


def test_parallel_tool_calls_with_thought_signatures_five_turns() -> None:
    tools = [
        ToolDefinition("generate_topic", "", {"additionalProperties": False, "properties": {}, "type": "object"}),
        ToolDefinition(
            "final_result",
            "The final response which ends this conversation",
            {
                "properties": {"response": {"items": {"type": "string"}, "type": "array"}},
                "required": ["response"],
                "type": "object",
            },
        ),
    ]
    settings = ModelSettings(tool_choice="required")
    history = [Message.system("Tell three jokes. Generate topics with the generate_topic tool."), Message.user("")]
    topics = [("cars", "penguins", "cars"), ("penguins",), ("cars",), ("penguins",)]
    with ReplayServer(GEMINI / "test_google_instructions_only_with_tool_calls.yaml") as server:
        model = gemini(server, "gemini-3-flash-preview")
        responses = []
        for turn in range(5):
            response = model.request(history, tools=tools, settings=settings)
            responses.append(response)
            sent = assert_request(server, turn)
            assert sent["toolConfig"] == {
                "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["generate_topic", "final_result"]}
            }
            if turn < 4:
                history += [response.to_message(), results(response, *topics[turn])]
        assert not server.unplayed
    first = responses[0]
    assert [c.name for c in first.tool_calls] == ["generate_topic"] * 3
    assert first.finish_reason == "tool_calls"
    assert len({c.id for r in responses for c in r.tool_calls}) == 7
    # the signature sits on the first call only, as Gemini sent it, and went back on that same part
    signatures = [(c.provider_details or {}).get("thoughtSignature") for c in first.tool_calls]
    assert signatures[0] is not None
    assert signatures[0].startswith("Es8FCswFAXLI2nx")
    assert signatures[1:] == [None, None]
    assert first.usage.reasoning_tokens == 190
    assert first.usage.output_tokens == 30 + 190
    last = responses[4].tool_calls[0]
    assert last.name == "final_result"
    assert len(last.args["response"]) == 3
    assert "Lamborghini" in last.args["response"][0]


def test_stream_tool_calls_three_turns() -> None:
    tools = [
        tool(
            "get_capital",
            "Get the capital of a country.",
            {"country": {"description": "The country name.", "type": "string"}},
            ["country"],
        ),
        tool(
            "get_temperature",
            "Get the temperature in a city.",
            {"city": {"description": "The city name.", "type": "string"}},
            ["city"],
        ),
    ]
    history = [
        Message.system("You are a helpful chatbot."),
        Message.user("What is the temperature of the capital of France?"),
    ]
    with ReplayServer(GEMINI / "test_google_model_iter_stream.yaml") as server:
        model = gemini(server, "gemini-2.0-flash")
        deltas1, first = run_stream(model, history, tools=tools)
        assert_request(server, 0)
        history += [first.to_message(), results(first, "Paris")]
        _, second = run_stream(model, history, tools=tools)
        assert_request(server, 1)
        history += [second.to_message(), results(second, "30°C")]
        deltas3, third = run_stream(model, history, tools=tools)
        assert_request(server, 2)
    call_deltas = [d for d in deltas1 if isinstance(d, ToolCallDelta)]
    assert call_deltas
    assert call_deltas[0].name == "get_capital"
    assert first.tool_calls[0].args == {"country": "France"}
    assert first.finish_reason == "tool_calls"
    assert second.tool_calls[0].name == "get_temperature"
    assert second.tool_calls[0].args == {"city": "Paris"}
    assert third.text == "The temperature in Paris is 30°C.\n"
    assert third.finish_reason == "stop"
    assert [d.text for d in deltas3 if isinstance(d, TextDelta)] == ["The temperature in Paris", " is 30°C.\n"]
    assert third.usage.input_tokens == 79


def test_tool_output_forced_with_allowed_function_names() -> None:
    tools = [
        tool("get_user_country", "", {}),
        tool(
            "final_result",
            "The final response which ends this conversation",
            {"city": {"type": "string"}, "country": {"type": "string"}},
            ["city", "country"],
        ),
    ]
    settings = ModelSettings(tool_choice="required")
    history = [Message.user("What is the largest city in the user country?")]
    with ReplayServer(GEMINI / "test_google_tool_output.yaml") as server:
        model = gemini(server, "gemini-2.0-flash")
        first = model.request(history, tools=tools, settings=settings)
        assert_request(server, 0)
        history += [first.to_message(), results(first, "Mexico")]
        second = model.request(history, tools=tools, settings=settings)
        sent = assert_request(server, 1)
    assert first.tool_calls[0].name == "get_user_country"
    assert second.tool_calls[0].args == {"city": "Mexico City", "country": "Mexico"}
    assert sent["contents"][2]["parts"][0]["functionResponse"]["response"] == {"output": "Mexico"}
    assert second.provider_details is not None
    assert second.provider_details["avgLogprobs"] < 0


def test_forced_single_tool_and_bad_tool_choice() -> None:
    from podium.exceptions import UserError
    from podium.providers.google_wire import build_request

    tools = [tool("a", "", {}), tool("b", "", {})]
    body = build_request(
        [Message.user("x")],
        provider="google",
        model_name="gemini-2.5-flash",
        tools=tools,
        settings=ModelSettings(tool_choice="b"),
        output=None,
    )
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}}
    with pytest.raises(UserError, match="names no offered tool"):
        build_request(
            [Message.user("x")],
            provider="google",
            model_name="gemini-2.5-flash",
            tools=tools,
            settings=ModelSettings(tool_choice="c"),
            output=None,
        )


# --------------------------------------------------------------------------- thinking


def test_thinking_parts_and_signature_round_trip() -> None:
    tools = [ToolDefinition("dummy", "", {"additionalProperties": False, "properties": {}, "type": "object"})]
    settings = ModelSettings(thinking=True)
    history = [Message.system("You are a helpful assistant."), Message.user("How do I cross the street?")]
    with ReplayServer(GEMINI / "test_google_model_thinking_part.yaml") as server:
        model = gemini(server, "gemini-3-pro-preview")
        first = model.request(history, tools=tools, settings=settings)
        sent = assert_request(server, 0)
        assert sent["generationConfig"]["thinkingConfig"] == {"includeThoughts": True}
        history += [
            first.to_message(),
            Message.user("Considering the way to cross the street, analogously, how do I cross the river?"),
        ]
        second = model.request(history, tools=tools, settings=settings)
        sent2 = assert_request(server, 1)
    thinking, text = first.parts
    assert isinstance(thinking, Thinking)
    assert isinstance(text, Text)
    assert thinking.text.startswith("**A Safe Street-Crossing Guide")
    assert thinking.provider == "google"
    assert text.provider_details is not None
    signature = text.provider_details["thoughtSignature"]
    assert signature.startswith("EqoeCqceAdHtim+cXhv3WM3Av2yBDu1t4su/bUCXEv2")
    # sent back verbatim, on the text part it came with, after the thought part
    model_turn = sent2["contents"][1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0]["thought"] is True
    assert model_turn["parts"][1]["thoughtSignature"] == signature
    assert first.usage.reasoning_tokens == 1001
    assert second.parts[0].text.startswith("**Navigating Nature")  # type: ignore[union-attr]
    assert second.usage.output_tokens == 958 + 1115


def test_thinking_stream_signature_on_first_text_chunk() -> None:
    tools = [tool("dummy", "", {})]
    with ReplayServer(GEMINI / "test_google_model_thinking_part_iter.yaml") as server:
        model = gemini(server, "gemini-2.5-pro")
        deltas, final = run_stream(
            model,
            [Message.system("You are a helpful assistant."), Message.user("How do I cross the street?")],
            tools=tools,
            settings=ModelSettings(thinking=True),
        )
        assert_request(server, 0)
    thinking_deltas = [d for d in deltas if isinstance(d, ThinkingDelta)]
    assert len(thinking_deltas) == 4
    assert [type(p) for p in final.parts] == [Thinking, Text]
    thinking, text = final.parts
    assert isinstance(thinking, Thinking)
    assert isinstance(text, Text)
    assert thinking.text.startswith("**Clarifying User Goals**")
    assert "**Crafting Safe Instructions**" in thinking.text
    assert text.text.startswith("This is a great question!")
    assert text.text.endswith("Always assume a driver might not see you.")
    assert text.provider_details is not None
    assert text.provider_details["thoughtSignature"].startswith("CiIB0e2Kb6Syj1a961EfbWv4W5C8RgAA")
    assert final.usage.reasoning_tokens == 787
    assert final.usage.output_tokens == 469 + 787


@pytest.mark.parametrize(
    ("model_name", "thinking", "expected"),
    [
        ("gemini-2.5-flash", "low", {"includeThoughts": True, "thinkingBudget": 1024}),
        ("gemini-2.5-flash", 2000, {"includeThoughts": True, "thinkingBudget": 2000}),
        ("gemini-2.5-flash", False, {"thinkingBudget": 0}),
        ("gemini-3-pro-preview", "medium", {"includeThoughts": True, "thinkingLevel": "high"}),
        ("gemini-3-flash-preview", "minimal", {"includeThoughts": True, "thinkingLevel": "minimal"}),
        ("gemini-3-flash-preview", False, {"thinkingLevel": "minimal"}),
    ],
)
def test_thinking_setting_mapping(model_name: str, thinking: Any, expected: dict[str, Any]) -> None:
    from podium.providers.google_wire import thinking_config

    assert thinking_config(model_name, thinking) == expected


# --------------------------------------------------------------------------- media


def test_pdf_bytes_input() -> None:
    cassette = Cassette.load(GEMINI / "test_google_model_document_url_input.yaml")
    pdf = cassette.for_host("w3.org")[0].body
    with ReplayServer(cassette, host_filter="googleapis.com") as server:
        response = gemini(server, "gemini-2.0-flash").request(
            [
                Message.system("You are a helpful chatbot."),
                Message.user(
                    "What is the main content on this document?", File(data=pdf, media_type="application/pdf")
                ),
            ]
        )
        sent = assert_request(server, 0)
    assert sent["contents"][0]["parts"][1]["inlineData"]["mimeType"] == "application/pdf"
    assert response.text == "The document appears to be a dummy PDF file.\n"
    assert response.usage.details["input_document_tokens"] == 1290


def test_image_bytes_input() -> None:
    cassette = Cassette.load(GEMINI / "test_google_model_image_url_input.yaml")
    jpeg = cassette.for_host("ftcdn.net")[0].body
    with ReplayServer(cassette, host_filter="googleapis.com") as server:
        response = gemini(server, "gemini-2.0-flash").request(
            [
                Message.system("You are a helpful chatbot."),
                Message.user("What is this vegetable?", Image(data=jpeg, media_type="image/jpeg")),
            ]
        )
        assert_request(server, 0)
    assert response.text == "That is a potato."
    assert response.usage.details["input_image_tokens"] == 1806


def test_youtube_url_as_file_data() -> None:
    with ReplayServer(GEMINI / "test_google_model_youtube_video_url_input.yaml") as server:
        response = gemini(server, "gemini-2.5-flash").request(
            [
                Message.system("You are a helpful chatbot."),
                Message.user("Explain me this video in a few sentences", File(url="https://youtu.be/lCdaVNyHtjU")),
            ],
        )
        sent = assert_request(server, 0)
    assert sent["contents"][0]["parts"][1] == {
        "fileData": {"fileUri": "https://youtu.be/lCdaVNyHtjU", "mimeType": "video/mp4"}
    }
    assert response.text.startswith("This video demonstrates using an AI agent")
    assert response.usage.details["input_video_tokens"] == 15780
    assert response.usage.details["input_audio_tokens"] == 1917


# --------------------------------------------------------------------------- structured output, safety, search


def test_native_structured_output() -> None:
    output = OutputSchema(
        "CityLocation",
        {
            "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
            "required": ["city", "country"],
            "type": "object",
        },
        description="A city and its country.",
    )
    with ReplayServer(GEMINI / "test_google_native_output.yaml") as server:
        model = gemini(server, "gemini-2.0-flash")
        assert model.profile.structured_output
        response = model.request([Message.user("What is the largest city in Mexico?")], output=output)
        sent = assert_request(server, 0)
    assert sent["generationConfig"]["responseMimeType"] == "application/json"
    assert json.loads(response.text) == {"city": "Mexico City", "country": "Mexico"}


def test_safety_block_is_content_filter() -> None:
    safety = [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_LOW_AND_ABOVE"}]
    with ReplayServer(GEMINI / "test_google_model_safety_settings.yaml") as server:
        response = gemini(server, "gemini-1.5-flash").request(
            [Message.system("You hate the world!"), Message.user("Tell me a joke about a Brazilians.")],
            settings=ModelSettings(extra={"google": {"safetySettings": safety}}),
        )
        assert_request(server, 0)
    assert response.parts == ()
    assert response.finish_reason == "content_filter"
    assert response.provider_details is not None
    assert response.provider_details["finish_reason"] == "SAFETY"
    ratings = response.provider_details["safetyRatings"]
    assert ratings[0] == {"blocked": True, "category": "HARM_CATEGORY_HATE_SPEECH", "probability": "LOW"}
    assert response.usage.input_tokens == 14


def test_google_search_grounding_stream_then_request() -> None:
    search = ModelSettings(extra={"google": {"tools": [{"googleSearch": {}}]}})
    history = [
        Message.system("You are a helpful chatbot."),
        Message.user("What is the weather in San Francisco today?"),
    ]
    with ReplayServer(GEMINI / "test_google_model_web_search_tool_stream.yaml") as server:
        model = gemini(server, "gemini-2.5-pro")
        _, first = run_stream(model, history, settings=search)
        assert_request(server, 0)
        history += [first.to_message(), Message.user("how about Mexico City?")]
        second = model.request(history, settings=search)
        assert_request(server, 1)
    assert first.text.startswith("### Weather in San Francisco is Mild and Partly Cloudy Today")
    assert first.provider_details is not None
    assert "searchEntryPoint" in first.provider_details["groundingMetadata"]
    assert first.usage.details["tool_use_prompt_tokens"] == 102
    assert second.provider_details is not None
    grounding = second.provider_details["groundingMetadata"]
    assert grounding["webSearchQueries"] == ["weather in Mexico City today"]
    assert len(grounding["groundingChunks"]) == 4
    # input includes the tool-use prompt tokens: input + output == totalTokenCount
    assert second.usage.input_tokens == 249 + 319
    assert second.usage.total_tokens == 1109


# --------------------------------------------------------------------------- explicit context cache


def test_explicit_context_cache_create_use_delete() -> None:
    cassette = Cassette.load(GEMINI / "test_google_model_cached_content.yaml")
    long_text = cassette.interactions[0].request.body["contents"][0]["parts"][0]["text"]
    with ReplayServer(cassette) as server:
        model = gemini(server, "gemini-2.5-flash")
        cache = model.create_cache(
            [Message.system("You are a geography expert. Be concise."), Message.user(long_text)], ttl=120
        )
        assert normalize(server.received[0].json) == normalize(cassette.interactions[0].request.body)
        assert cache.name == "cachedContents/7lf5him5ev4iemi1yjv2gwli5bhpz3yidzejwllo"
        assert cache.tokens == 3512
        # with a cache, the system prompt (kept in the cache) is left out of later requests
        settings = ModelSettings(extra={"google": {"cached_content": cache.name}})
        history = [
            Message.system("You are a geography expert. Be concise."),
            Message.user("What is the capital of France?"),
        ]
        first = model.request(history, settings=settings)
        assert_request(server, 1)
        history += [first.to_message(), Message.user("Say the capital one more time.")]
        second = model.request([history[0], history[-1]], settings=settings)
        assert_request(server, 2)
        model.delete_cache(cache)
        assert server.received[3].method == "DELETE"
        assert server.received[3].path == "/v1beta/cachedContents/7lf5him5ev4iemi1yjv2gwli5bhpz3yidzejwllo"
        assert not server.unplayed
    assert first.text == second.text == "Paris."
    assert first.usage.cache_read_tokens == 3512
    assert first.usage.input_tokens == 3520
    assert first.usage.reasoning_tokens == 42
    assert first.usage.details["cache_text_tokens"] == 3512


# --------------------------------------------------------------------------- errors


def test_stream_400_api_key_invalid_is_authentication_error_without_retries() -> None:
    cassette = GEMINI / "test_google_streaming_returns_usage_metrics.yaml"
    recorded = Cassette.load(cassette).interactions[0].request.body
    task = recorded["contents"][0]["parts"][0]["text"]
    system = recorded["systemInstruction"]["parts"][0]["text"]
    with ReplayServer(cassette) as server:
        model = gemini(server, "gemini-2.0-flash-exp", retry=RetryPolicy())  # the default policy
        with pytest.raises(AuthenticationError) as info:
            list(
                model.stream(
                    [Message.system(system), Message.user(task)], settings=ModelSettings(stop=["\nObservation:"])
                )
            )
        assert len(server.received) == 1, "a 400 must not be retried (crewAI's client retried it twice)"
        assert server.received[0].json == recorded  # crewAI body: no normalization needed
    error = info.value
    assert error.status == 400
    assert "API key not valid" in str(error)
    assert error.body["error"]["status"] == "INVALID_ARGUMENT"
    assert error.provider == "google"


def test_unknown_model_404_is_bad_request() -> None:
    with ReplayServer(GEMINI / "test_model_name_suggestion[google].yaml") as server:
        with pytest.raises(BadRequestError) as info:
            gemini(server, "gemini-3.6-flahs").request([Message.user("hello")])
        assert_request(server, 0)
    assert info.value.status == 404
    assert "gemini-3.6-flahs is not found" in str(info.value)


def _synthetic(status: int, body: dict[str, Any], path: str) -> Interaction:
    request = RecordedRequest("POST", "http://x" + path, path, {}, None)
    return Interaction(request, status, {"content-type": "application/json"}, json.dumps(body).encode())


def test_429_resource_exhausted_retry_info_is_honoured() -> None:
    # No Gemini 429 was recorded (INDEX.md); this one follows the documented RESOURCE_EXHAUSTED shape.
    path = "/v1beta/models/gemini-2.5-flash:generateContent"
    limited = {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.05s"}],
        }
    }
    ok = Cassette.load(GEMINI / "test_google_model.yaml").interactions[0]
    cassette = Cassette(Path("synthetic"), [_synthetic(429, limited, path), ok])
    with ReplayServer(cassette) as server:
        with pytest.raises(RateLimitError) as info:
            gemini(server, "gemini-2.5-flash").request([Message.user("Hello!")])
        assert info.value.retry_after == pytest.approx(0.05)
        assert info.value.status == 429
    with ReplayServer(Cassette(Path("synthetic"), [_synthetic(429, limited, path), ok])) as server:
        response = gemini(server, "gemini-2.5-flash", retry=RetryPolicy(max_retries=2)).request(
            [Message.user("Hello!")]
        )
        assert len(server.received) == 2
    assert response.text == "Hello! How can I help you today?"


def test_connection_refused_is_connection_error() -> None:
    from podium.exceptions import ProviderConnectionError

    server = ReplayServer(Cassette(Path("empty"), [])).start()
    url = server.url
    server.stop()
    model = GoogleModel("gemini-2.5-flash", base_url=url, api_key="x", retry=NO_RETRY)
    with pytest.raises(ProviderConnectionError):
        model.request([Message.user("hi")])


# --------------------------------------------------------------------------- Vertex AI


def test_vertex_plain_text() -> None:
    with ReplayServer(VERTEX / "test_google_model_vertex_provider.yaml") as server:
        model = vertex(server, "gemini-2.0-flash")
        response = model.request(
            [Message.system("You are a helpful chatbot."), Message.user("What is the capital of France?")]
        )
        assert_request(server, 0)
        assert server.received[0].path == (
            "/v1beta1/projects/pydantic-ai/locations/global/publishers/google/models/gemini-2.0-flash:generateContent"
        )
        assert server.received[0].headers["authorization"] == "Bearer test-token"
    assert response.provider == "google-vertex"
    assert response.text == "The capital of France is Paris.\n"
    assert response.provider_details is not None
    assert response.provider_details["usage_metadata"]["trafficType"] == "ON_DEMAND"


def test_vertex_gcs_image_uri() -> None:
    with ReplayServer(VERTEX / "test_google_url_input[ImageUrl (gs)].yaml") as server:
        response = vertex(server, "gemini-2.0-flash").request(
            [
                Message.user(
                    "What is the main content of this URL?", Image(url="gs://pydantic-ai-dev/wikipedia_screenshot.png")
                )
            ]
        )
        sent = assert_request(server, 0)
    assert sent["contents"][0]["parts"][1] == {
        "fileData": {"fileUri": "gs://pydantic-ai-dev/wikipedia_screenshot.png", "mimeType": "image/png"}
    }
    assert response.text.startswith("The main content of the URL is the Wikipedia homepage")
    assert response.usage.details["input_image_tokens"] == 2580


def test_vertex_stream_signature_on_text() -> None:
    # pydantic-ai asked for the flex service tier with a header the recorder stripped; nothing in the body.
    with ReplayServer(VERTEX / "test_google_vertex_service_tier_flex_stream.yaml") as server:
        deltas, final = run_stream(
            vertex(server, "gemini-3-flash-preview"),
            [Message.user("Reply with exactly: OK")],
        )
        assert_request(server, 0)
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == ["OK"]
    (text,) = final.parts
    assert isinstance(text, Text)
    assert text.text == "OK"
    assert text.provider_details is not None
    assert text.provider_details["thoughtSignature"].startswith("CiQBjz1rX")
    assert final.usage.reasoning_tokens == 100
    assert final.usage.total_tokens == 106


# --------------------------------------------------------------------------- stream == request


def _as_sse(response: dict[str, Any]) -> bytes:
    """A whole generateContent response cut into SSE chunks the way Gemini streams it."""
    candidate = response["candidates"][0]
    parts = candidate.get("content", {}).get("parts", [])
    chunks = []
    for part in parts:
        if "text" in part and len(part["text"]) > 6:
            text, third = part["text"], len(part["text"]) // 3
            pieces = [text[:third], text[third : 2 * third], text[2 * third :]]
            for i, piece in enumerate(pieces):
                piece_part = {k: v for k, v in part.items() if k != "text" and (k != "thoughtSignature" or i == 0)}
                chunks.append(
                    {"candidates": [{"content": {"parts": [{"text": piece, **piece_part}], "role": "model"}}]}
                )
        else:
            chunks.append({"candidates": [{"content": {"parts": [part], "role": "model"}}]})
    last_candidate = {k: v for k, v in candidate.items() if k != "content"}
    tail = {k: v for k, v in response.items() if k != "candidates"}
    if chunks:
        chunks[-1]["candidates"][0].update(last_candidate)
        chunks[-1].update(tail)
    else:
        chunks.append({"candidates": [last_candidate], **tail})
    for chunk in chunks:
        chunk.setdefault("responseId", response.get("responseId"))
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)


@pytest.mark.parametrize(
    ("cassette", "index"),
    [
        ("test_google_instructions_only_with_tool_calls.yaml", 0),
        ("test_google_instructions_only_with_tool_calls.yaml", 3),
        ("test_google_model_thinking_part.yaml", 0),
        ("test_google_model_safety_settings.yaml", 0),
        ("test_google_model_web_search_tool_stream.yaml", 1),
        ("test_google_model_cached_content.yaml", 1),
    ],
)
def test_stream_and_request_give_the_same_response(cassette: str, index: int) -> None:
    recorded = Cassette.load(GEMINI / cassette).interactions[index]
    path = "/v1beta/models/m:generateContent"
    stream = Interaction(
        RecordedRequest("POST", "http://x", "/v1beta/models/m:streamGenerateContent", {}, None),
        200,
        {"content-type": "text/event-stream"},
        _as_sse(recorded.json),
    )
    whole = Interaction(RecordedRequest("POST", "http://x", path, {}, None), 200, recorded.headers, recorded.body)
    with ReplayServer(Cassette(Path("synthetic"), [whole, stream])) as server:
        model = gemini(server, "m")
        expected = model.request([Message.user("x")])
        deltas, streamed = run_stream(model, [Message.user("x")])
    assert streamed == expected
    assert len(deltas) >= len([p for p in expected.parts if isinstance(p, (Text, Thinking, ToolCall))])


# --------------------------------------------------------------------------- switching provider, lazy import


def test_foreign_thinking_and_ids_from_another_provider() -> None:
    from podium.providers.google_wire import build_request

    history = [
        Message.user("hi", Image(url="https://example.com/cat.png")),
        Message(
            "assistant",
            [
                Thinking("let me think", signature="anthropic-sig", provider="anthropic"),
                ToolCall("toolu_01|weird id", "lookup", {"q": 1}),
            ],
            provider="anthropic",
        ),
        Message("tool", [ToolResult("toolu_01|weird id", "lookup", (Text('{"a": 1}'),), is_error=True)]),
    ]
    body = build_request(
        history, provider="google", model_name="gemini-2.5-flash", tools=None, settings=ModelSettings(), output=None
    )
    model_parts = body["contents"][1]["parts"]
    assert model_parts[0]["functionCall"]["name"] == "lookup"  # foreign thinking dropped by default
    call_id = model_parts[0]["functionCall"]["id"]
    assert call_id != "toolu_01|weird id"
    assert call_id.isalnum()
    response = body["contents"][2]["parts"][0]["functionResponse"]
    assert response == {"id": call_id, "name": "lookup", "response": {"error": {"a": 1}}}
    assert body["contents"][0]["parts"][1] == {
        "fileData": {"fileUri": "https://example.com/cat.png", "mimeType": "image/png"}
    }
    as_text = build_request(
        history,
        provider="google",
        model_name="gemini-2.5-flash",
        tools=None,
        settings=ModelSettings(foreign_thinking="text"),
        output=None,
    )
    assert as_text["contents"][1]["parts"][0] == {"text": "<thinking>\nlet me think\n</thinking>"}


def test_registry_resolves_google_and_vertex() -> None:
    import podium

    model = podium.model("google:gemini-2.5-flash", api_key="x")
    assert isinstance(model, GoogleModel)
    assert model.provider == "google"
    vertex_model = podium.model("google-vertex:gemini-2.5-flash", project="p", location="us-central1")
    assert isinstance(vertex_model, GoogleModel)
    assert vertex_model.provider == "google-vertex"


def test_import_podium_does_not_import_google_sdk() -> None:
    import subprocess

    code = (
        "import sys, podium; assert not any(m == 'google.genai' or m.startswith('google.genai.') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_inline_data_is_base64url_like_the_sdk() -> None:
    from podium.providers.google_wire import build_request

    data = bytes(range(250, 256)) * 3
    body = build_request(
        [Message.user(Image(data=data, media_type="image/png"))],
        provider="google",
        model_name="gemini-2.5-flash",
        tools=None,
        settings=ModelSettings(),
        output=None,
    )
    encoded = body["contents"][0]["parts"][0]["inlineData"]["data"]
    assert "+" not in encoded
    assert "/" not in encoded
    assert base64.urlsafe_b64decode(encoded) == data


def test_conversation_from_bedrock_continues_on_gemini() -> None:
    """Bedrock (Claude) signed reasoning, parallel calls and an image, continued on Gemini."""
    from podium.providers.google_wire import build_request

    bedrock_turn = Message(
        "assistant",
        [
            Thinking("plan", signature="bedrock-sig", provider="bedrock"),
            Text("Calling.", provider_details={"citations": []}),
            ToolCall("tooluse_1", "lookup", {"q": "a"}, provider_details={"type": "tool_use"}),
            ToolCall("tooluse_2", "lookup", {"q": "b"}),
        ],
        provider="bedrock",
    )
    history = [
        Message.user("look", Image(data=b"\x89PNG", media_type="image/png")),
        bedrock_turn,
        Message(
            "tool", [ToolResult("tooluse_1", "lookup", (Text("A"),)), ToolResult("tooluse_2", "lookup", (Text("B"),))]
        ),
    ]
    body = build_request(
        history, provider="google", model_name="gemini-2.5-flash", tools=None, settings=ModelSettings(), output=None
    )
    model_parts = body["contents"][1]["parts"]
    assert model_parts == [  # foreign thinking and foreign provider_details are not sent
        {"text": "Calling."},
        {"functionCall": {"id": "tooluse_1", "name": "lookup", "args": {"q": "a"}}},
        {"functionCall": {"id": "tooluse_2", "name": "lookup", "args": {"q": "b"}}},
    ]
    responses = [p["functionResponse"] for p in body["contents"][2]["parts"]]
    assert [(r["id"], r["response"]) for r in responses] == [
        ("tooluse_1", {"output": "A"}),
        ("tooluse_2", {"output": "B"}),
    ]


def test_call_ids_without_a_response_id_do_not_repeat_across_turns() -> None:
    """A response with no ``responseId`` (and calls without ids) still gets ids unique in the conversation."""
    from podium.providers.google_wire import GeminiAccumulator

    call = {"functionCall": {"name": "get_time", "args": {"city": "Paris"}}}
    chunk = {"candidates": [{"content": {"role": "model", "parts": [call, call]}, "finishReason": "STOP"}]}
    turns = []
    for _ in range(2):
        acc = GeminiAccumulator("google", "gemini-2.5-flash")
        deltas = acc.feed(chunk)
        response = acc.build()
        ids = [c.id for c in response.tool_calls]
        assert [d.id for d in deltas if isinstance(d, ToolCallDelta) and d.id] == ids  # stream ids = final ids
        turns.append(ids)
    every = turns[0] + turns[1]
    assert len(set(every)) == 4
    assert all(i.startswith("gc_") for i in every)
