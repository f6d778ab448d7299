"""OpenAI Responses wire translation rules that the cassettes do not exercise (pure functions, no I/O).

Request bodies are also validated against the SDK's own request types (``ResponseCreateParams``).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from _replay import sdk_valid
from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming

from podium.exceptions import UserError
from podium.messages import CachePoint, Image, Message, Text, Thinking, ToolCall, ToolResult
from podium.providers.openai_responses_wire import build_request, is_reasoning_model, parse_response, profile_for
from podium.settings import ModelSettings, ToolDefinition

TOOL = ToolDefinition("lookup", "Look something up.", {"type": "object", "properties": {"q": {"type": "string"}}})


def body_of(messages: list[Message], model: str = "gpt-5", **kwargs: Any) -> dict[str, Any]:
    body = build_request(messages, model_name=model, **kwargs)
    sdk_valid(ResponseCreateParamsNonStreaming, body)
    return body


@pytest.mark.parametrize(
    ("model", "thinking", "effort", "include"),
    [
        ("gpt-5", "minimal", "minimal", True),
        ("gpt-5.2", "minimal", "low", True),
        ("gpt-5", False, "minimal", False),
        ("gpt-5.1", False, "none", False),
        ("o3", False, "low", False),
        ("gpt-5", 1000, "low", True),
        ("gpt-5", 4000, "medium", True),
        ("gpt-5", 20000, "high", True),
        ("gpt-5-mini", True, None, True),
        ("o4-mini", "high", "high", True),
        ("gpt-4o", "high", None, False),
    ],
)
def test_reasoning_effort_per_model(model: str, thinking: Any, effort: str | None, include: bool) -> None:
    body = body_of([Message.user("hi")], model, settings=ModelSettings(thinking=thinking))
    assert body.get("reasoning", {}).get("effort") == effort
    assert ("include" in body) is include


def test_model_families() -> None:
    assert is_reasoning_model("gpt-5.2-2025-12-11")
    assert is_reasoning_model("o3-mini")
    assert not is_reasoning_model("gpt-4o")
    assert not is_reasoning_model("gpt-5-chat-latest")
    assert profile_for("gpt-4.1").context_window == 1_047_576
    assert profile_for("gpt-5").thinking
    assert profile_for("gpt-4o").structured_output
    assert not profile_for("gpt-4o").thinking


def test_system_messages_media_and_tool_results() -> None:
    messages = [
        Message.system("Be brief."),
        Message.system("Use metric units."),
        Message.user("look", Image(data=b"\x89PNG", media_type="image/png", provider_details={"detail": "low"})),
        Message("assistant", [ToolCall("call_1", "lookup", {"q": "x"})], provider="anthropic"),
        Message("tool", [ToolResult("call_1", "lookup", [Text("chart:"), Image(url="https://e.com/c.png")])]),
        Message.system("Now answer."),
    ]
    body = body_of(messages, tools=[TOOL])
    assert body["instructions"] == "Be brief.\n\nUse metric units."
    items = body["input"]
    assert items[0]["content"][1] == {
        "type": "input_image",
        "image_url": "data:image/png;base64,iVBORw==",
        "detail": "low",
    }
    assert items[1] == {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": '{"q":"x"}'}
    assert items[2]["output"] == [
        {"type": "input_text", "text": "chart:"},
        {"type": "input_image", "image_url": "https://e.com/c.png", "detail": "auto"},
    ]
    assert items[3] == {"role": "system", "content": "Now answer."}


def test_failed_tool_results_say_error_in_their_output() -> None:
    """function_call_output has no error flag: the output starts with "Error:" (text or media list)."""
    image = Image(url="https://e.com/c.png")
    calls = [ToolCall(f"call_{n}", "lookup", {"q": "x"}) for n in range(4)]
    results = [
        ToolResult("call_0", "lookup", [Text("no such page")], is_error=True),
        ToolResult("call_1", "lookup", [Text("Error: already marked")], is_error=True),
        ToolResult("call_2", "lookup", [Text("chart broke:"), image], is_error=True),
        ToolResult("call_3", "lookup", [image], is_error=True),
    ]
    history = [Message.user("go"), Message("assistant", calls, provider="openai-responses"), Message("tool", results)]
    outputs = [i["output"] for i in body_of(history, tools=[TOOL])["input"] if i.get("type") == "function_call_output"]
    assert outputs[0] == "Error: no such page"
    assert outputs[1] == "Error: already marked"
    assert outputs[2][0] == {"type": "input_text", "text": "Error: chart broke:"}
    assert outputs[3][0] == {"type": "input_text", "text": "Error:"}
    assert outputs[3][1]["type"] == "input_image"


def test_cache_points_only_on_models_with_explicit_breakpoints() -> None:
    message = Message.user(Text("long prefix"), CachePoint(ttl="12h"), Text("question"))
    new = body_of([message], "gpt-5.6")["input"][0]["content"]
    assert new[0]["prompt_cache_breakpoint"] == {"mode": "explicit", "ttl": "12h"}
    old = body_of([message], "gpt-5")["input"][0]["content"]
    assert all("prompt_cache_breakpoint" not in part for part in old)


def test_refusal_and_foreign_text_round_trip() -> None:
    data = {
        "id": "resp_1",
        "model": "gpt-4o",
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "refusal", "refusal": "I can't help with that."}],
            }
        ],
        "usage": {"input_tokens": 5, "output_tokens": 6},
    }
    response = parse_response(data, model_name="gpt-4o")
    assert response.text == "I can't help with that."
    body = body_of([Message.user("x"), response.to_message(), Message.assistant("from elsewhere")], "gpt-4o")
    assert body["input"][1] == {
        "type": "message",
        "role": "assistant",
        "id": "msg_1",
        "status": "completed",
        "content": [{"type": "refusal", "refusal": "I can't help with that."}],
    }
    assert body["input"][2] == {"role": "assistant", "content": "from elsewhere"}


def test_incomplete_and_failed_finish_reasons() -> None:
    base = {"model": "gpt-5", "output": [], "usage": {"input_tokens": 1, "output_tokens": 2}}
    incomplete = parse_response(
        {**base, "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}, model_name="gpt-5"
    )
    assert incomplete.finish_reason == "length"
    assert incomplete.provider_details is not None
    assert incomplete.provider_details["finish_reason"] == "max_output_tokens"
    filtered = parse_response(
        {**base, "status": "incomplete", "incomplete_details": {"reason": "content_filter"}}, model_name="gpt-5"
    )
    assert filtered.finish_reason == "content_filter"


def test_tool_choice_settings_and_explicit_previous_response_id() -> None:
    history = [Message.user("a"), Message.assistant("b"), Message.user("c")]
    body = body_of(
        history,
        tools=[TOOL],
        settings=ModelSettings(
            tool_choice="lookup",
            parallel_tool_calls=False,
            max_tokens=50,
            top_p=0.5,
            extra={"openai-responses": {"previous_response_id": "resp_9", "store": False}},
        ),
    )
    assert body["tool_choice"] == {"type": "function", "name": "lookup"}
    assert (body["parallel_tool_calls"], body["max_output_tokens"], body["top_p"]) == (False, 50, 0.5)
    assert body["previous_response_id"] == "resp_9"
    assert body["store"] is False
    assert len(body["input"]) == 3
    with pytest.raises(UserError, match="names no tool offered"):
        body_of(history, tools=[TOOL], settings=ModelSettings(tool_choice="other"))


def test_thinking_without_an_item_id_is_dropped() -> None:
    assistant = Message(
        "assistant", [Thinking("idea", provider="openai-responses"), Text("answer")], provider="openai-responses"
    )
    body = body_of([Message.user("q"), assistant, Message.user("more")])
    assert body["input"][1] == {"role": "assistant", "content": "answer"}


def test_seed_is_ignored_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    from podium.providers.openai_responses import OpenAIResponsesModel

    model = OpenAIResponsesModel("gpt-5", api_key="k")
    with caplog.at_level(logging.WARNING, logger="podium.providers.openai_responses"):
        body = model.build_body([Message.user("hi")], None, ModelSettings(seed=3), None, stream=False)
        model.build_body([Message.user("hi")], None, ModelSettings(seed=3), None, stream=False)
    assert "seed" not in body
    assert [r.getMessage() for r in caplog.records] == ["the OpenAI Responses API has no seed; seed=3 is ignored"]


def test_store_false_leaves_out_reasoning_the_api_cannot_resolve() -> None:
    assistant = Message(
        "assistant",
        [
            Thinking("plan", provider="openai-responses", id="rs_1"),
            Thinking("more", provider="openai-responses", id="rs_1"),
            Thinking("", encrypted="gAAA", provider="openai-responses", id="rs_2"),
            Text("answer", {"id": "msg_1", "status": "completed"}),
        ],
        provider="openai-responses",
    )
    history = [Message.user("q"), assistant, Message.user("more")]
    stored = body_of(history)["input"]
    assert stored[1] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "plan"}, {"type": "summary_text", "text": "more"}],
    }
    assert stored[2] == {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAA"}
    assert stored[3]["id"] == "msg_1"
    unstored = body_of(history, store=False)["input"]
    assert [item.get("type") for item in unstored] == [None, "reasoning", None, None]
    assert unstored[1]["id"] == "rs_2"
    assert unstored[2] == {"role": "assistant", "content": "answer"}
