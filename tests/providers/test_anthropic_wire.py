"""Anthropic wire translation rules that the cassettes do not exercise (pure functions, no I/O).

Request bodies are also validated against the SDK's own request types (``MessageCreateParams``).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from _replay import sdk_valid
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

from podium.exceptions import UserError
from podium.messages import CachePoint, File, Image, Message, Text, Thinking, ToolCall, ToolResult
from podium.providers.anthropic import AnthropicModel
from podium.providers.anthropic_wire import build_request, claude_family, parse_message, profile_for
from podium.settings import ModelSettings, OutputSchema, ToolDefinition

TOOL = ToolDefinition("lookup", "Look something up.", {"type": "object", "properties": {"q": {"type": "string"}}})
SCHEMA = OutputSchema("City", {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


def body_of(messages: list[Message], model: str = "claude-sonnet-4-5", **kwargs: Any) -> dict[str, Any]:
    body, _ = build_request(messages, model_name=model, **kwargs)
    sdk_valid(MessageCreateParamsNonStreaming, body)
    return body


@pytest.mark.parametrize(
    ("model", "thinking", "expected_thinking", "effort", "max_tokens"),
    [
        ("claude-sonnet-4-5", True, {"type": "enabled", "budget_tokens": 8192}, None, 10240),
        ("claude-sonnet-4-5", "low", {"type": "enabled", "budget_tokens": 2048}, None, 4096),
        ("claude-haiku-4-5-20251001", "high", {"type": "enabled", "budget_tokens": 16384}, None, 18432),
        ("claude-sonnet-4-5", 1024, {"type": "enabled", "budget_tokens": 1024}, None, 4096),
        ("claude-opus-4-6", True, {"type": "adaptive"}, None, 4096),
        ("claude-opus-4-6", "high", {"type": "adaptive"}, "high", 4096),
        ("claude-sonnet-4-6", "minimal", {"type": "adaptive"}, "low", 4096),
        ("claude-opus-4-6", 5000, {"type": "enabled", "budget_tokens": 5000}, None, 7048),
        ("claude-opus-4-7", 5000, {"type": "adaptive"}, "medium", 4096),
        ("claude-mythos-preview", 1500, {"type": "adaptive"}, "low", 4096),
        ("claude-opus-5", "medium", {"type": "adaptive"}, "medium", 4096),
        ("claude-sonnet-4-5", False, {"type": "disabled"}, None, 4096),
    ],
)
def test_thinking_setting_per_model_family(
    model: str, thinking: Any, expected_thinking: dict[str, Any], effort: str | None, max_tokens: int
) -> None:
    body = body_of([Message.user("hi")], model, settings=ModelSettings(thinking=thinking))
    assert body["thinking"] == expected_thinking
    assert body.get("output_config", {}).get("effort") == effort
    assert body["max_tokens"] == max_tokens


def test_thinking_budget_errors_are_clear() -> None:
    with pytest.raises(UserError, match="at least 1024"):
        body_of([Message.user("hi")], settings=ModelSettings(thinking=500))
    with pytest.raises(UserError, match="leaves no room for the thinking budget"):
        body_of([Message.user("hi")], settings=ModelSettings(thinking=2048, max_tokens=2000))
    with pytest.raises(UserError, match="unknown thinking level"):
        body_of([Message.user("hi")], settings=ModelSettings(thinking="extreme"))


def test_model_families_and_profiles() -> None:
    assert claude_family("claude-opus-4-20250514").version == (4, 0)
    assert claude_family("claude-sonnet-4-5-20250929").version == (4, 5)
    assert claude_family("claude-3-5-haiku-latest").version == (3, 5)
    assert claude_family("us.anthropic.claude-3-7-sonnet-20250219-v1:0").version == (3, 7)
    assert not claude_family("claude-opus-4-7").budget_thinking
    assert claude_family("claude-opus-4-6").budget_thinking
    assert claude_family("claude-opus-4-6").adaptive_thinking
    assert not profile_for("claude-3-5-haiku-latest").structured_output
    assert not profile_for("claude-3-5-haiku-latest").thinking
    assert profile_for("claude-haiku-4-5").structured_output
    assert profile_for("claude-opus-4-6").max_output_tokens == 128_000
    assert profile_for("claude-3-haiku-20240307").max_output_tokens == 4096


def test_cache_points_become_cache_control() -> None:
    messages = [
        Message("system", [Text("Be brief."), CachePoint()]),
        Message.user("first", CachePoint(ttl="1h"), "second"),
        Message.assistant("answer"),
        Message.user(CachePoint(), "next"),
    ]
    body = body_of(messages)
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "first", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "second"},
    ]
    # A cache point that opens a message marks the last block before it.
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "answer", "cache_control": {"type": "ephemeral"}}
    ]


def test_structured_output_falls_back_to_a_forced_tool() -> None:
    model = "claude-3-5-haiku-latest"
    body, output_tool = build_request([Message.user("Paris?")], model_name=model, tools=[TOOL], output=SCHEMA)
    sdk_valid(MessageCreateParamsNonStreaming, body)
    assert output_tool == "City"
    assert [t["name"] for t in body["tools"]] == ["lookup", "City"]
    assert body["tool_choice"] == {"type": "tool", "name": "City"}
    assert "output_config" not in body
    message = {
        "model": model,
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "City", "input": {"city": "Paris"}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }
    response = parse_message(message, model_name=model, output_tool="City")
    assert response.text == '{"city": "Paris"}'
    assert response.tool_calls == []
    # Sent back, the answer is plain text (the forced call needs no tool result).
    again = body_of([Message.user("Paris?"), response.to_message(), Message.user("thanks")], model)
    assert again["messages"][1]["content"] == [{"type": "text", "text": '{"city": "Paris"}'}]
    # With thinking on, the API allows only tool_choice auto.
    thinking_body, _ = build_request(
        [Message.user("x")], model_name="claude-3-7-sonnet-latest", output=SCHEMA, settings=ModelSettings(thinking=True)
    )
    assert thinking_body["tool_choice"] == {"type": "auto"}


def test_tool_choice_parallel_calls_and_sampling() -> None:
    body = body_of(
        [Message.user("hi")],
        tools=[TOOL],
        settings=ModelSettings(
            tool_choice="lookup", parallel_tool_calls=False, stop=["END"], top_p=0.9, temperature=0.5, max_tokens=100
        ),
    )
    assert body["tool_choice"] == {"type": "tool", "name": "lookup", "disable_parallel_tool_use": True}
    assert (body["stop_sequences"], body["top_p"], body["temperature"], body["max_tokens"]) == (["END"], 0.9, 0.5, 100)
    assert body_of([Message.user("hi")], tools=[TOOL], settings=ModelSettings(tool_choice="none"))["tool_choice"] == {
        "type": "none"
    }
    assert body_of([Message.user("hi")], tools=[TOOL], settings=ModelSettings(parallel_tool_calls=True))[
        "tool_choice"
    ] == {"type": "auto", "disable_parallel_tool_use": False}
    with pytest.raises(UserError, match="names no tool offered"):
        body_of([Message.user("hi")], tools=[TOOL], settings=ModelSettings(tool_choice="missing"))


def test_media_blocks() -> None:
    message = Message.user(
        Image(url="https://example.com/cat.png"),
        File(url="https://example.com/doc.pdf"),
        File(data=b"plain words", media_type="text/plain", filename="notes.txt"),
        Image(data=b"\x89PNG", media_type="image/png"),
    )
    content = body_of([message])["messages"][0]["content"]
    assert content[0] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}
    assert content[1] == {"type": "document", "source": {"type": "url", "url": "https://example.com/doc.pdf"}}
    assert content[2] == {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "plain words"},
        "title": "notes.txt",
    }
    assert content[3]["source"] == {"type": "base64", "media_type": "image/png", "data": "iVBORw=="}
    with pytest.raises(UserError, match="PDFs, plain text and images"):
        body_of([Message.user(File(data=b"x", media_type="application/zip"))])


def test_tool_results_come_first_and_errors_are_flagged() -> None:
    call = ToolCall("toolu_1", "lookup", {"q": "x"})
    messages = [
        Message.user("go"),
        Message("assistant", [call], provider="anthropic"),
        Message("tool", [ToolResult("toolu_1", "lookup", [Text("boom")], is_error=True)]),
        Message.user("and then?"),
    ]
    last = body_of(messages, tools=[TOOL])["messages"][2]
    assert last["role"] == "user"
    assert last["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "boom", "is_error": True},
        {"type": "text", "text": "and then?"},
    ]
    user_first = body_of(
        [*messages[:2], Message("user", [Text("note"), ToolResult("toolu_1", "lookup", [Text("ok")])])], tools=[TOOL]
    )
    assert [b["type"] for b in user_first["messages"][2]["content"]] == ["tool_result", "text"]


def test_unsigned_anthropic_thinking_is_dropped_and_empty_text_left_out() -> None:
    assistant = Message(
        "assistant",
        [Thinking("half a thought", provider="anthropic"), Text(""), Text("done")],
        provider="anthropic",
    )
    body = body_of([Message.user("hi"), assistant, Message.user("ok")])
    assert body["messages"][1]["content"] == [{"type": "text", "text": "done"}]


def test_seed_is_ignored_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    model = AnthropicModel("claude-sonnet-4-5", api_key="k")
    with caplog.at_level(logging.WARNING, logger="podium.providers.anthropic"):
        body = model.build_body([Message.user("hi")], None, ModelSettings(seed=3), None, stream=False)
        model.build_body([Message.user("hi")], None, ModelSettings(seed=3), None, stream=False)
    assert "seed" not in body
    assert [r.getMessage() for r in caplog.records] == ["anthropic has no seed setting; seed=3 is ignored"]
