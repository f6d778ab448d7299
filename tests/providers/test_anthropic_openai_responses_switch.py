"""Switching between Anthropic and the OpenAI Responses API mid-conversation, both directions.

The histories are Podium's own parse of recorded responses (thinking with signatures or encrypted
reasoning, parallel tool calls, a server-side web search) plus an image; the request each side
builds is checked against the rules in podium.providers.conversion and validated against the other
SDK's request types.
"""

from __future__ import annotations

from typing import Any

import pytest
from _replay import CASSETTES, sdk_valid
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from pydantic import ValidationError
from sdk_schemas import validate_anthropic, validate_openai_responses

from podium.messages import Image, Message, ModelResponse, Text, ToolResult
from podium.providers import anthropic_wire, openai_responses_wire
from podium.settings import ModelSettings, ToolDefinition
from podium.testing.cassette import Cassette

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
ENTITY = ToolDefinition(
    "retrieve_entity_info",
    "Get the knowledge about the given entity.",
    {"type": "object", "properties": {"name": {"type": "string"}}},
)
LOCATION = ToolDefinition("get_location", "", {"type": "object", "properties": {"loc_name": {"type": "string"}}})


def recorded_response(provider: str, name: str, index: int = 0) -> Any:
    return Cassette.load(CASSETTES / provider / name).interactions[index].json


def anthropic_history() -> list[Message]:
    """Thinking (signed) then four parallel tool calls, all produced by Anthropic, plus their results."""
    thinking = anthropic_wire.parse_message(
        recorded_response("anthropic", "test_anthropic_model_thinking_part.yaml"), model_name="claude-sonnet-4-5"
    )
    calls = anthropic_wire.parse_message(
        recorded_response("anthropic", "test_multiple_parallel_tool_calls.yaml"), model_name="claude-haiku-4-5"
    )
    assert thinking.thinking[0].signature is not None
    assert len(calls.tool_calls) == 4
    results = [ToolResult(c.id, c.name, [Text(f"{c.args['name']} is a person")]) for c in calls.tool_calls]
    return [
        Message.system("You are helpful."),
        Message.user("How do I cross the street?", Image(data=PNG, media_type="image/png")),
        thinking.to_message(),
        Message.user("Who is the youngest?"),
        calls.to_message(),
        Message("tool", results),
    ]


def openai_history() -> list[Message]:
    """Encrypted reasoning with summaries, a web search item and two parallel function calls from OpenAI."""
    reasoning = openai_responses_wire.parse_response(
        recorded_response("openai_responses", "test_openai_responses_model_thinking_part.yaml"), model_name="gpt-5"
    )
    calls = openai_responses_wire.parse_response(
        recorded_response("openai_responses", "test_openai_responses_model_retry.yaml"), model_name="gpt-4o"
    )
    search = ModelResponse(
        [
            openai_responses_wire._item_parts(
                {
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "completed",
                    "action": {"type": "search", "query": "q"},
                }
            )[0]
        ],
        provider="openai-responses",
    )
    results = [ToolResult(c.id, c.name, [Text('{"lat": 51}')]) for c in calls.tool_calls]
    return [
        Message.user("How do I cross the street?", Image(data=PNG, media_type="image/png")),
        reasoning.to_message(),
        Message.user("Search, then locate Londos and London."),
        search.to_message(),
        calls.to_message(),
        Message("tool", results),
    ]


def test_anthropic_conversation_continued_on_openai_responses() -> None:
    history = anthropic_history()
    body = openai_responses_wire.build_request(history, model_name="gpt-5", tools=[ENTITY])
    validate_openai_responses(body)  # strict: unknown keys fail too
    items = body["input"]
    assert body["instructions"] == "You are helpful."
    assert not any(item.get("type") == "reasoning" for item in items), "Anthropic thinking is not sent to OpenAI"
    assert items[0]["content"][1]["type"] == "input_image"
    calls = [item for item in items if item.get("type") == "function_call"]
    outputs = [item for item in items if item.get("type") == "function_call_output"]
    assert [c["call_id"] for c in calls] == [o["call_id"] for o in outputs]
    assert calls[0]["call_id"] == "toolu_0167cfEnoQaPviGdVXA95zcu"
    assert all("id" not in c for c in calls), "Anthropic tool calls have no OpenAI item id"
    texts = [item for item in items if item.get("role") == "assistant"]
    assert texts[0]["content"].startswith("Here's how to cross the street safely")
    # With foreign_thinking="text" the reasoning travels as text.
    as_text = openai_responses_wire.build_request(
        history, model_name="gpt-5", tools=[ENTITY], settings=ModelSettings(foreign_thinking="text")
    )
    assert as_text["input"][1]["content"].startswith("<thinking>\nThis is a straightforward question")


def test_openai_responses_conversation_continued_on_anthropic() -> None:
    history = openai_history()
    body, _ = anthropic_wire.build_request(history, model_name="claude-sonnet-4-5", tools=[LOCATION])
    validate_anthropic(body)  # strict: unknown keys fail too
    messages = body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    blocks = [b for m in messages for b in m["content"]]
    assert not any(b["type"] in ("thinking", "redacted_thinking") for b in blocks), "OpenAI reasoning is not sent"
    assert not any(b.get("type") == "web_search_call" for b in blocks), "OpenAI provider items stay with OpenAI"
    assert messages[0]["content"][1]["type"] == "image"
    uses = [b for b in blocks if b["type"] == "tool_use"]
    results = [b for b in blocks if b["type"] == "tool_result"]
    assert [u["id"] for u in uses] == ["call_LWVp74L5HaH2KNvgVz9PJsrj", "call_YnRAWeTyxI91m5uNa5bxXwVO"]
    assert [r["tool_use_id"] for r in results] == [u["id"] for u in uses]
    assert messages[1]["content"][0]["text"].startswith("Here")
    assert all(set(b) == {"type", "text"} for b in messages[1]["content"]), "OpenAI item ids stay with OpenAI"


def test_tool_call_ids_another_api_rejects_are_mapped_the_same_way_for_call_and_result() -> None:
    from podium.messages import ToolCall

    odd = "call:weird|id.1"
    history = [
        Message.user("go"),
        Message("assistant", [ToolCall(odd, "get_location", {"loc_name": "x"})], provider="mistral"),
        Message("tool", [ToolResult(odd, "get_location", [Text("ok")])]),
    ]
    body, _ = anthropic_wire.build_request(history, model_name="claude-sonnet-4-5", tools=[LOCATION])
    use, result = body["messages"][1]["content"][0], body["messages"][2]["content"][0]
    assert use["id"] == result["tool_use_id"] != odd
    assert use["id"].isalnum()
    items = openai_responses_wire.build_request(history, model_name="gpt-5", tools=[LOCATION])["input"]
    assert items[1]["call_id"] == items[2]["call_id"] == use["id"]


def test_sdk_type_check_rejects_a_malformed_body() -> None:
    body, _ = anthropic_wire.build_request([Message.user("hi")], model_name="claude-sonnet-4-5")
    body["messages"][0]["content"][0]["type"] = "txt"
    with pytest.raises(ValidationError):
        sdk_valid(MessageCreateParamsNonStreaming, body)
