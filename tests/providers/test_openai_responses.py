"""The OpenAI Responses provider against every recorded exchange in tests/cassettes/openai_responses.

Each test drives the official ``openai`` SDK over HTTP to a local replay server through
``OpenAIResponsesModel``, checks the universal result, and compares every request Podium sent with
the recorded one; later turns are built from Podium's own response of the earlier turns.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from _replay import CASSETTES, assert_request, b64decode, recorded_requests, replay, synthetic

from podium.exceptions import BadRequestError, RateLimitError, ServerError, UserError
from podium.messages import CachePoint, File, Image, Message, ModelResponse, ProviderPart, Text, Thinking, ToolResult
from podium.providers.openai_responses import OpenAIResponsesModel
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings, OutputSchema, ToolDefinition
from podium.streaming import TextDelta, ThinkingDelta, ToolCallDelta
from podium.testing.cassette import ReplayServer

DIR = "openai_responses"
NO_PARAMS = {"additionalProperties": False, "properties": {}, "type": "object"}
EXTRA = "openai-responses"

# Settings and defaults of the recording framework (pydantic-ai) that Podium does not send.
EMPTY_INSTRUCTIONS = {"instructions": "older pydantic-ai sends instructions='' when there is no system prompt"}
NO_STREAM_FLAG = {"stream": "older pydantic-ai leaves stream out; Podium always sends stream=false/true"}
NULL_PREVIOUS = {"previous_response_id": "pydantic-ai sends previous_response_id=null; Podium leaves it out"}


def model(server: ReplayServer, name: str, **kwargs: Any) -> OpenAIResponsesModel:
    return OpenAIResponsesModel(name, base_url=server.url + "/v1", api_key="test-key", **kwargs)


def final(events: list[Any]) -> ModelResponse:
    assert isinstance(events[-1], ModelResponse)
    assert not any(isinstance(e, ModelResponse) for e in events[:-1])
    return events[-1]


def drop_empty_assistant(body: dict[str, Any]) -> None:
    """Older pydantic-ai sends an empty assistant message before tool calls; Podium does not."""
    assert body["input"][1] == {"content": "", "role": "assistant"}
    del body["input"][1]


def item_ids(*positions: int) -> dict[str, str]:
    reason = "Podium sends function_call item ids back (lossless); older pydantic-ai left them out"
    return {f"input[{i}].id": reason for i in positions}


# --------------------------------------------------------------------------- text, media, settings


def test_simple_response() -> None:
    with replay(DIR, "test_openai_responses_model_simple_response.yaml") as server:
        response = model(server, "gpt-4o").request([Message.user("What is the capital of France?")])
        assert_request(server, 0)
    assert response.text == "The capital of France is Paris."
    assert response.finish_reason == "stop"
    assert response.model == "gpt-4o-2024-08-06"
    assert response.provider == "openai-responses"
    assert response.provider_details is not None
    assert response.provider_details["id"] == "resp_68c2e8c147ac819491bcd667055eadbc02e845978fbbb592"
    assert response.provider_details["finish_reason"] == "completed"
    text = response.parts[0]
    assert isinstance(text, Text)
    assert text.provider_details == {
        "id": "msg_68c2e8c26114819489dae5b59fceb7bf02e845978fbbb592",
        "status": "completed",
    }
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.requests) == (14, 8, 1)
    assert response.cost is not None
    assert response.cost > 0


def test_pdf_document_input() -> None:
    with replay(DIR, "test_openai_responses_document_as_binary_content_input.yaml") as server:
        data_url = recorded_requests(server)[0]["input"][0]["content"][1]["file_data"]
        pdf = b64decode(data_url.split(",", 1)[1])
        message = Message.user(
            "What is in the document?", File(data=pdf, media_type="application/pdf", filename="filename.pdf")
        )
        response = model(server, "gpt-4o").request([message])
        assert_request(server, 0, {**EMPTY_INSTRUCTIONS, **NO_STREAM_FLAG})
    assert pdf.startswith(b"%PDF")
    assert response.text == 'The document contains the text "Dummy PDF file."'


def test_image_url_input() -> None:
    url = "https://t3.ftcdn.net/jpg/00/85/79/92/360_F_85799278_0BBGV9OAdQDTLnKwAPBCcg1J7QtiieJY.jpg"
    with replay(DIR, "test_openai_responses_image_url_input.yaml") as server:
        response = model(server, "gpt-4o").request([Message.user("hello", Image(url=url))])
        sent = assert_request(server, 0, {**EMPTY_INSTRUCTIONS, **NO_STREAM_FLAG})
    assert sent["input"][0]["content"][1] == {"type": "input_image", "image_url": url, "detail": "auto"}
    assert "potato" in response.text
    assert response.usage.input_tokens == 663


def test_json_error_returned_to_a_stream_request() -> None:
    with replay(DIR, "test_openai_responses_model_http_error.yaml") as server:
        with pytest.raises(BadRequestError) as info:
            list(
                model(server, "gpt-4o").stream(
                    [Message.user("What is the capital of France?")], settings=ModelSettings(temperature=-1)
                )
            )
        sent = assert_request(server, 0, EMPTY_INSTRUCTIONS)
    assert sent["stream"] is True
    assert info.value.status == 400
    assert "Invalid 'temperature'" in str(info.value)
    assert info.value.body["error"]["code"] == "decimal_below_min_value"


def test_explicit_cache_breakpoints_and_cache_usage() -> None:
    settings = ModelSettings(
        extra={
            EXTRA: {
                "prompt_cache_key": "pydantic-ai-prompt-cache-e2e-responses",
                "prompt_cache_options": {"mode": "explicit", "ttl": "30m"},
            }
        }
    )
    with replay(DIR, "test_openai_responses_prompt_cache_e2e.yaml") as server:
        catalogue = recorded_requests(server)[0]["input"][0]["content"][0]["text"]
        message = Message.user(Text(catalogue), CachePoint(), Text("Reply with exactly: OK"))
        m = model(server, "gpt-5.6-sol")
        first = m.request([message], settings=settings)
        sent = assert_request(server, 0)
        second = m.request([message], settings=settings)
        assert_request(server, 1)
    assert sent["input"][0]["content"][0]["prompt_cache_breakpoint"] == {"mode": "explicit"}
    assert first.text == second.text == "OK"
    assert (first.usage.input_tokens, first.usage.cache_write_tokens, first.usage.cache_read_tokens) == (4020, 4012, 0)
    assert (second.usage.cache_write_tokens, second.usage.cache_read_tokens) == (0, 4012)
    text = first.parts[0]
    assert isinstance(text, Text)
    assert text.provider_details is not None
    assert text.provider_details["phase"] == "final_answer"


# --------------------------------------------------------------------------- reasoning


def test_reasoning_summaries_and_encrypted_content_round_trip() -> None:
    settings = ModelSettings(thinking="high", extra={EXTRA: {"reasoning": {"summary": "detailed"}}})
    with replay(DIR, "test_openai_responses_model_thinking_part.yaml") as server:
        m = model(server, "gpt-5")
        history = [Message.user("How do I cross the street?")]
        first = m.request(history, settings=settings)
        sent = assert_request(server, 0)
        history += [
            first.to_message(),
            Message.user("Considering the way to cross the street, analogously, how do I cross the river?"),
        ]
        second = m.request(history, settings=settings)
        sent_again = assert_request(server, 1)
    assert sent["include"] == ["reasoning.encrypted_content"]
    assert sent["reasoning"] == {"effort": "high", "summary": "detailed"}
    thinking = first.thinking
    assert len(thinking) == 6
    assert {t.id for t in thinking} == {"rs_68c42c90b950819c9e32c46d4f8326ca07460311b0c8d3de"}
    assert thinking[0].encrypted is not None
    assert thinking[0].encrypted.startswith("gAAAAABoxCyzDT6i7ehEoWDB")
    assert all(t.encrypted is None for t in thinking[1:])
    assert thinking[0].text.startswith("**Considering street crossing safety**")
    reasoning_item = sent_again["input"][1]
    assert reasoning_item["type"] == "reasoning"
    assert len(reasoning_item["summary"]) == 6
    assert reasoning_item["encrypted_content"] == thinking[0].encrypted
    assert (first.usage.output_tokens, first.usage.reasoning_tokens) == (2199, 1920)
    assert len(second.thinking) == 5
    assert second.usage.reasoning_tokens == 2112


def test_reasoning_summary_auto_with_instructions() -> None:
    settings = ModelSettings(thinking="high", extra={EXTRA: {"reasoning": {"summary": "auto"}}})
    history = [
        Message.system("You are a helpful coding assistant."),
        Message.user("Write a Python function that calculates the factorial of a number. Think step by step."),
    ]
    with replay(DIR, "test_reasoning_summary_auto.yaml") as server:
        response = model(server, "gpt-5.2").request(history, settings=settings)
        sent = assert_request(server, 0)
    assert sent["instructions"] == "You are a helpful coding assistant."
    assert response.thinking[0].text.startswith("**Generating factorial function**")
    assert "def factorial" in response.text
    assert (response.usage.reasoning_tokens, response.usage.output_tokens) == (59, 226)


def test_reasoning_summary_stream() -> None:
    settings = ModelSettings(thinking="high", extra={EXTRA: {"reasoning": {"summary": "detailed"}}})
    with replay(DIR, "test_openai_responses_thinking_part_iter.yaml") as server:
        events = list(model(server, "o3-mini").stream([Message.user("How do I cross the street?")], settings=settings))
        assert_request(server, 0)
    response = final(events)
    assert len(response.thinking) == 4
    for index, part in enumerate(response.thinking):
        pieces = [e.text for e in events if isinstance(e, ThinkingDelta) and e.index == index]
        assert "".join(pieces) == part.text
    assert response.thinking[0].encrypted is not None
    text_deltas = [e for e in events if isinstance(e, TextDelta)]
    assert {e.index for e in text_deltas} == {4}
    assert "".join(e.text for e in text_deltas) == response.text
    assert response.text.startswith("I'm not a road safety professional")
    assert response.usage.reasoning_tokens > 0


def test_streamed_tool_call_with_encrypted_reasoning() -> None:
    tool = ToolDefinition(
        "final_result",
        "The final response which ends this conversation",
        {
            "additionalProperties": False,
            "properties": {"result": {"type": "integer"}},
            "required": ["result"],
            "type": "object",
        },
        strict=True,
    )
    settings = ModelSettings(
        thinking="low",
        tool_choice="required",
        extra={EXTRA: {"reasoning": {"summary": None}, "service_tier": "flex"}},
    )
    with replay(DIR, "test_openai_responses_streaming_usage.yaml") as server:
        events = list(
            model(server, "gpt-5").stream([Message.user("Calculate 100 * 200 / 3")], tools=[tool], settings=settings)
        )
        assert_request(server, 0, NULL_PREVIOUS)
    response = final(events)
    assert [p.type for p in response.parts] == ["thinking", "tool_call"]
    assert response.thinking[0].redacted
    call = response.tool_calls[0]
    assert (call.id, call.name, call.args) == ("call_CWXgs68YprAjp6t0371hiPOI", "final_result", {"result": 6666})
    assert call.provider_details == {
        "id": "fc_0050471a34b36ae60068c97bf19d9c819590eaf42c0edc1042",
        "status": "completed",
    }
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0] == ToolCallDelta(1, call.id, "final_result", "")
    assert "".join(d.args_delta for d in deltas) == '{"result":6666}'
    assert response.finish_reason == "tool_calls"
    assert response.usage.reasoning_tokens > 0
    assert response.usage.output_tokens >= response.usage.reasoning_tokens


def test_required_tool_choice_with_reasoning_model() -> None:
    tool = ToolDefinition(
        "get_weather",
        "Get weather for a city",
        {
            "additionalProperties": False,
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "type": "object",
        },
        strict=True,
    )
    with replay(DIR, "test_tool_choice_matrix[required-openai_responses].yaml") as server:
        response = model(server, "gpt-5-mini").request(
            [Message.user("What's the weather in Paris?")], tools=[tool], settings=ModelSettings(tool_choice="required")
        )
        assert_request(server, 0)
    assert response.tool_calls[0].args == {"city": "Paris"}
    assert response.thinking[0].redacted
    assert (response.usage.reasoning_tokens, response.finish_reason) == (64, "tool_calls")


# --------------------------------------------------------------------------- tools


def test_tool_call_round_trip() -> None:
    tool = ToolDefinition(
        "get_capital",
        "",
        {
            "additionalProperties": False,
            "properties": {"country": {"type": "string"}},
            "required": ["country"],
            "type": "object",
        },
        strict=True,
    )
    settings = ModelSettings(tool_choice="auto")
    description = {"tools[0].description": "ToolDefinition.description is a string; pydantic-ai sent null"}
    with replay(DIR, "test_openai_responses_model_simple_response_with_tool_call.yaml") as server:
        m = model(server, "gpt-4o")
        history = [Message.user("What is the capital of PotatoLand?")]
        first = m.request(history, tools=[tool], settings=settings)
        assert_request(server, 0, description)
        call = first.tool_calls[0]
        history += [first.to_message(), Message("tool", [ToolResult(call.id, call.name, [Text("Potato City")])])]
        second = m.request(history, tools=[tool], settings=settings)
        assert_request(
            server,
            1,
            {
                **description,
                **item_ids(1),
                "input[1].status": "pydantic-ai sends status=null on function_call items; Podium leaves status out",
            },
        )
    assert (call.id, call.args) == ("call_YfwRsW8sUxDKipwyhWTzOXCA", {"country": "PotatoLand"})
    assert first.finish_reason == "tool_calls"
    assert second.text == "The capital of PotatoLand is Potato City."


def test_parallel_tool_calls_with_an_error_result() -> None:
    tool = ToolDefinition(
        "get_location",
        "",
        {
            "additionalProperties": False,
            "properties": {"loc_name": {"type": "string"}},
            "required": ["loc_name"],
            "type": "object",
        },
        strict=True,
    )
    settings = ModelSettings(tool_choice="auto")
    with replay(DIR, "test_openai_responses_model_retry.yaml") as server:
        m = model(server, "gpt-4o")
        history = [Message.user("What is the location of Londos and London?")]
        first = m.request(history, tools=[tool], settings=settings)
        assert_request(server, 0, {**EMPTY_INSTRUCTIONS, **NO_STREAM_FLAG})
        wrong, right = first.tool_calls
        results = [
            ToolResult(
                wrong.id,
                wrong.name,
                [Text('Wrong location, I only know about "London".\n\nFix the errors and try again.')],
                is_error=True,
            ),
            ToolResult(right.id, right.name, [Text('{"lat": 51, "lng": 0}')]),
        ]
        history += [first.to_message(), Message("tool", results)]
        second = m.request(history, tools=[tool], settings=settings)
        # pydantic-ai sends a retry prompt as plain output; Podium marks a failed result with "Error:",
        # since function_call_output has no error flag.
        error_prefix = {"input[3].output": "Podium prefixes a failed result with 'Error: '"}
        sent = assert_request(
            server,
            1,
            {**EMPTY_INSTRUCTIONS, **NO_STREAM_FLAG, **item_ids(1, 2), **error_prefix},
            adjust=drop_empty_assistant,
        )
        assert sent["input"][3]["output"] == "Error: " + results[0].text
    assert [c.args for c in first.tool_calls] == [{"loc_name": "Londos"}, {"loc_name": "London"}]
    assert first.usage.input_tokens == 0
    assert first.finish_reason == "tool_calls"
    assert "London" in second.text
    assert second.finish_reason == "stop"


def test_native_output_with_a_tool_call() -> None:
    schema = {
        "additionalProperties": False,
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
        "type": "object",
    }
    tool = ToolDefinition("get_user_country", "", NO_PARAMS, strict=False)
    output = OutputSchema("CityLocation", schema)
    settings = ModelSettings(tool_choice="auto")
    with replay(DIR, "test_native_output.yaml") as server:
        m = model(server, "gpt-4o")
        history = [Message.user("What is the largest city in the user country?")]
        first = m.request(history, tools=[tool], settings=settings, output=output)
        sent = assert_request(server, 0)
        call = first.tool_calls[0]
        history += [first.to_message(), Message("tool", [ToolResult(call.id, call.name, [Text("Mexico")])])]
        second = m.request(history, tools=[tool], settings=settings, output=output)
        assert_request(server, 1, item_ids(1), adjust=drop_empty_assistant)
    assert sent["text"] == {"format": {"type": "json_schema", "name": "CityLocation", "schema": schema, "strict": True}}
    assert json.loads(second.text) == {"city": "Mexico City", "country": "Mexico"}


# --------------------------------------------------------------------------- built-in tools, server state


def test_web_search_stream_items_sent_back() -> None:
    settings = ModelSettings(
        tool_choice="auto",
        extra={
            EXTRA: {
                "tools": [{"type": "web_search", "search_context_size": "medium"}],
                "include": ["reasoning.encrypted_content", "web_search_call.action.sources"],
            }
        },
    )
    history = [
        Message.system("You are a helpful assistant."),
        Message.user("What is the weather in San Francisco today?"),
    ]
    with replay(DIR, "test_openai_responses_model_web_search_tool_stream.yaml") as server:
        m = model(server, "gpt-5")
        events = list(m.stream(history, settings=settings))
        assert_request(server, 0, NULL_PREVIOUS)
        first = final(events)
        history += [first.to_message(), Message.user("how about Mexico City?")]
        second = m.request(history, settings=settings)
        sent = assert_request(server, 1, NULL_PREVIOUS)
    assert [p.type for p in first.parts] == ["thinking", "provider", "thinking", "text"]
    search = first.parts[1]
    assert isinstance(search, ProviderPart)
    assert search.data["type"] == "web_search_call"
    assert search.data["action"]["sources"] == [{"type": "api", "name": "oai-weather"}]
    assert "sources" not in sent["input"][2]["action"]
    # The encrypted reasoning sent back is the one from response.output_item.done, as the API asks.
    assert sent["input"][1]["encrypted_content"].startswith("gAAAAABoydMADQ6HaJB8mYQXlwd")
    assert {e.index for e in events if isinstance(e, TextDelta)} == {3}
    assert (first.usage.input_tokens, first.usage.cache_read_tokens, first.usage.reasoning_tokens) == (9463, 8320, 512)
    assert first.text.startswith("San Francisco weather today")
    assert second.text.startswith("Mexico City weather today")


def test_previous_response_id_auto() -> None:
    differences = {
        **EMPTY_INSTRUCTIONS,
        "text": "pydantic-ai sends the default text format; Podium leaves it out",
        "include": "Podium asks reasoning models for encrypted reasoning; pydantic-ai did not here",
        "stream": "pydantic-ai left stream out; Podium always sends stream=false/true",
    }
    with replay(DIR, "test_openai_previous_response_id.yaml") as server:
        m = model(server, "gpt-5", previous_response_id="auto")
        history = [Message.user("The secret key is sesame")]
        first = m.request(history)
        assert_request(server, 0, differences)
        history += [first.to_message(), Message.user("What is the secret key again?")]
        second = m.request(history)
        sent = assert_request(server, 1, differences)
    assert first.provider_details is not None
    assert first.provider_details["id"] == "resp_1234"
    assert sent["previous_response_id"] == "resp_1234"
    assert len(sent["input"]) == 1
    assert second.text == "sesame"


# --------------------------------------------------------------------------- async, equivalence, errors


def test_async_request_and_stream() -> None:
    async def run() -> tuple[ModelResponse, list[Any]]:
        with replay(DIR, "test_openai_responses_model_simple_response.yaml") as server:
            whole = await model(server, "gpt-4o").arequest([Message.user("What is the capital of France?")])
            assert_request(server, 0)
        settings = ModelSettings(thinking="high", extra={EXTRA: {"reasoning": {"summary": "detailed"}}})
        with replay(DIR, "test_openai_responses_thinking_part_iter.yaml") as server:
            events = [
                e
                async for e in model(server, "o3-mini").astream(
                    [Message.user("How do I cross the street?")], settings=settings
                )
            ]
        return whole, events

    whole, events = asyncio.run(run())
    assert whole.text == "The capital of France is Paris."
    assert len(final(events).thinking) == 4


def _sse(response: dict[str, Any]) -> bytes:
    """A Responses stream that adds up to ``response`` (the event shapes the API streams)."""
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**response, "output": [], "status": "in_progress"}}
    ]
    for index, item in enumerate(response["output"]):
        kind = item["type"]
        added = {**item, "status": "in_progress"}
        if kind == "message":
            added["content"] = []
        if kind == "reasoning":
            added["summary"] = []
        if kind == "function_call":
            added["arguments"] = ""
        events.append({"type": "response.output_item.added", "output_index": index, "item": added})
        if kind == "message":
            for c, part in enumerate(item["content"]):
                text = part["text"]
                for i in range(0, len(text), 9):
                    events.append(
                        {
                            "type": "response.output_text.delta",
                            "item_id": item["id"],
                            "output_index": index,
                            "content_index": c,
                            "delta": text[i : i + 9],
                        }
                    )
        elif kind == "reasoning":
            for s, summary in enumerate(item["summary"]):
                text = summary["text"]
                for i in range(0, len(text), 13):
                    events.append(
                        {
                            "type": "response.reasoning_summary_text.delta",
                            "item_id": item["id"],
                            "output_index": index,
                            "summary_index": s,
                            "delta": text[i : i + 13],
                        }
                    )
        elif kind == "function_call":
            events.append(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "delta": item["arguments"],
                }
            )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": response})
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("test_openai_responses_model_thinking_part.yaml", 0),
        ("test_openai_responses_model_retry.yaml", 0),
        ("test_reasoning_summary_auto.yaml", 0),
        ("test_tool_choice_matrix[required-openai_responses].yaml", 0),
    ],
)
def test_stream_and_request_give_the_same_response(name: str, index: int) -> None:
    recorded = ReplayServer(CASSETTES / DIR / name).interactions[index]
    data = recorded.json
    cassette = synthetic(
        "/v1/responses",
        (200, {"content-type": "application/json"}, recorded.body),
        (200, {"content-type": "text/event-stream"}, _sse(data)),
    )
    with ReplayServer(cassette) as server:
        m = model(server, data["model"])
        whole = m.request([Message.user("hi")])
        events = list(m.stream([Message.user("hi")]))
    assert final(events) == whole
    for index_, part in enumerate(whole.parts):
        if isinstance(part, Text):
            assert "".join(e.text for e in events if isinstance(e, TextDelta) and e.index == index_) == part.text
        if isinstance(part, Thinking) and part.text:
            assert "".join(e.text for e in events if isinstance(e, ThinkingDelta) and e.index == index_) == part.text


def test_failed_response_event_and_rate_limit() -> None:
    failed = {
        "type": "response.failed",
        "response": {
            "id": "resp_x",
            "status": "failed",
            "model": "gpt-5",
            "error": {"code": "server_error", "message": "The server had an error"},
        },
    }
    stream = f"event: response.failed\ndata: {json.dumps(failed)}\n\n".encode()
    cassette = synthetic("/v1/responses", (200, {"content-type": "text/event-stream"}, stream))
    with ReplayServer(cassette) as server, pytest.raises(ServerError) as info:
        list(model(server, "gpt-5", retry=RetryPolicy(max_retries=0)).stream([Message.user("hi")]))
    assert "The server had an error" in str(info.value)
    limited = json.dumps(
        {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    ).encode()
    headers = {"content-type": "application/json", "retry-after": "7"}
    with (
        ReplayServer(synthetic("/v1/responses", (429, headers, limited))) as server,
        pytest.raises(RateLimitError) as limit,
    ):
        model(server, "gpt-5", retry=RetryPolicy(max_retries=0)).request([Message.user("hi")])
    assert limit.value.retry_after == 7.0
    assert limit.value.status == 429


def test_store_false_leaves_out_item_ids_but_keeps_reasoning() -> None:
    from podium.providers.openai_responses_wire import build_request

    path = CASSETTES / DIR / "test_tool_choice_matrix[required-openai_responses].yaml"
    with ReplayServer(path) as server:
        tool = ToolDefinition(
            "get_weather", "Get weather for a city", recorded_requests(server)[0]["tools"][0]["parameters"]
        )
        response = model(server, "gpt-5-mini").request([Message.user("Weather in Paris?")], tools=[tool])
    call = response.tool_calls[0]
    history = [
        Message.user("Weather in Paris?"),
        response.to_message(),
        Message("tool", [ToolResult(call.id, call.name, [Text("sunny")])]),
    ]
    body = build_request(history, model_name="gpt-5-mini", store=False)
    reasoning, function_call, output = body["input"][1:]
    assert body["store"] is False
    assert reasoning["id"].startswith("rs_")
    assert reasoning["encrypted_content"]
    assert "id" not in function_call
    assert function_call["call_id"] == call.id
    assert output == {"type": "function_call_output", "call_id": call.id, "output": "sunny"}


def test_unsupported_settings_are_clear_errors() -> None:
    from podium.providers.openai_responses_wire import build_request

    with pytest.raises(UserError, match="no stop sequences"):
        build_request([Message.user("hi")], model_name="gpt-5", settings=ModelSettings(stop=["x"]))
    with pytest.raises(UserError, match="previous_response_id"):
        OpenAIResponsesModel("gpt-5", previous_response_id="resp_1")  # type: ignore[arg-type]


def test_registry_and_lazy_import() -> None:
    import subprocess
    import sys

    import podium

    with ReplayServer(CASSETTES / DIR / "test_openai_responses_model_simple_response.yaml") as server:
        m = podium.model("openai-responses:gpt-4o", base_url=server.url + "/v1", api_key="k")
        assert isinstance(m, OpenAIResponsesModel)
        assert m.request([Message.user("What is the capital of France?")]).text == "The capital of France is Paris."
    code = "import sys, podium; podium.Message; assert 'openai' not in sys.modules, 'openai imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_openai_responses_cassette_is_replayed() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    names = sorted(p.name for p in (CASSETTES / DIR).glob("*.yaml"))
    assert len(names) == 15
    missing = [n for n in names if f'"{n}"' not in source]
    assert not missing, f"cassettes without a test: {missing}"


def test_agent_run_reproduces_the_recorded_tool_conversation() -> None:
    from podium import Agent

    def get_capital(country: str) -> str:
        return "Potato City"

    differences = {
        "tools[0].description": "a tool without a docstring has description ''; pydantic-ai sent null",
        "tools[0].strict": "Podium asks for strict schemas only when the tool says so; pydantic-ai chose strict",
    }
    with replay(DIR, "test_openai_responses_model_simple_response_with_tool_call.yaml") as server:
        agent = Agent(model(server, "gpt-4o"), tools=[get_capital], settings=ModelSettings(tool_choice="auto"))
        result = agent.run("What is the capital of PotatoLand?")
        assert_request(server, 0, differences)
        assert_request(
            server,
            1,
            {
                **differences,
                **item_ids(1),
                "input[1].status": "pydantic-ai sends status=null on function_call items; Podium leaves status out",
            },
        )
    assert result.output == "The capital of PotatoLand is Potato City."


def _reply(status: str, output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "resp_syn",
        "object": "response",
        "model": "gpt-5-2025-08-07",
        "status": status,
        "output": output,
        "usage": {"input_tokens": 9, "output_tokens": 16, "output_tokens_details": {"reasoning_tokens": 16}},
        **extra,
    }


def _stream_of(data: dict[str, Any], end: str) -> bytes:
    """``data`` as a stream of ``output_item.done`` events closed by ``end`` (``response.incomplete`` ...)."""
    events: list[dict[str, Any]] = [{"type": "response.created", "response": {**data, "status": "in_progress"}}]
    for index, item in enumerate(data["output"]):
        events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": end, "response": data})
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def _both(data: dict[str, Any], end: str = "response.completed", **settings: Any) -> tuple[ModelResponse, ...]:
    """``data`` answered whole, then streamed: the two responses."""
    cassette = synthetic(
        "/v1/responses",
        (200, {"content-type": "application/json"}, json.dumps(data).encode()),
        (200, {"content-type": "text/event-stream"}, _stream_of(data, end)),
    )
    with ReplayServer(cassette) as server:
        m = model(server, "gpt-5", retry=RetryPolicy(max_retries=0))
        whole = m.request([Message.user("hi")], settings=ModelSettings(**settings))
        streamed = final(list(m.stream([Message.user("hi")], settings=ModelSettings(**settings))))
    return whole, streamed


@pytest.mark.parametrize(("reason", "finish"), [("max_output_tokens", "length"), ("content_filter", "content_filter")])
def test_an_incomplete_reply_reports_the_raw_reason(reason: str, finish: str) -> None:
    """``status: incomplete``: the raw finish reason is ``incomplete_details.reason``, whole or streamed."""
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": []}
    data = _reply("incomplete", [reasoning], incomplete_details={"reason": reason})
    for response in _both(data, end="response.incomplete"):
        assert response.finish_reason == finish
        assert response.provider_details is not None
        assert response.provider_details["finish_reason"] == reason
        assert response.provider_details["incomplete_details"] == {"reason": reason}


def test_a_reasoning_item_without_a_summary_is_redacted_as_encrypted() -> None:
    """No summary asked for: the item is encrypted reasoning with no text, redacted (not by the provider).

    ``thinking=False`` on gpt-5 still reasons (``minimal``) and asks for no ``encrypted_content``: the item
    comes with neither a summary nor the content, and the API holds it by id.
    """
    held = {"type": "reasoning", "id": "rs_held", "summary": []}
    sealed = {"type": "reasoning", "id": "rs_sealed", "summary": [], "encrypted_content": "gAAAAB-sealed"}
    summarized = {"type": "reasoning", "id": "rs_read", "summary": [{"type": "summary_text", "text": "Plan."}]}
    answer = {
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hi", "annotations": []}],
    }
    data = _reply("completed", [held, sealed, summarized, answer])
    for response in _both(data, thinking=False):
        first, second, third = response.thinking
        assert first.redacted, "no summary, no encrypted_content: still encrypted reasoning with no text"
        assert (first.redacted, first.redaction, first.encrypted, first.id) == (True, "encrypted", None, "rs_held")
        assert (second.redacted, second.redaction, second.encrypted) == (True, "encrypted", "gAAAAB-sealed")
        assert (third.redacted, third.redaction, third.text) == (False, None, "Plan.")
        assert response.text == "Hi"
