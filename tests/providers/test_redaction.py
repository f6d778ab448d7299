"""``Thinking.redacted`` means the same on every provider, and old stored conversations still load.

Redacted = reasoning with no readable text. ``Thinking.redaction`` says why: ``"provider"`` (Anthropic
``redacted_thinking``, Bedrock ``redactedContent``: the provider withheld the block) or ``"encrypted"``
(an OpenAI Responses reasoning item without a summary, OpenRouter ``reasoning.encrypted`` details, a signed
block with no text). Each provider's own redacted blocks go back to it verbatim.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chat_helpers import fake_server

from podium.exceptions import SerializationError
from podium.messages import Message, ModelResponse, Text, Thinking, dump_messages, load_messages
from podium.providers.anthropic_wire import build_request as anthropic_request
from podium.providers.anthropic_wire import parse_message
from podium.providers.bedrock_wire import ConverseAccumulator
from podium.providers.bedrock_wire import build_request as bedrock_request
from podium.providers.compatible import openrouter
from podium.providers.google_wire import GeminiAccumulator
from podium.providers.google_wire import build_request as google_request
from podium.providers.openai_responses_wire import build_request as responses_request
from podium.providers.openai_responses_wire import parse_response
from podium.settings import ModelSettings

SONNET = "claude-sonnet-4-5"
BEDROCK_SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0"


def _again(response: ModelResponse) -> list[Message]:
    return [Message.user("q"), response.to_message(), Message.user("again")]


# --------------------------------------------------------------------------- each provider's blocks


def test_anthropic_redacted_thinking_is_redacted_by_the_provider() -> None:
    data = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": SONNET,
        "content": [
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy-sealed"},
            {"type": "thinking", "thinking": "Readable.", "signature": "sig-1"},
            {"type": "text", "text": "Hi"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    response = parse_message(data, model_name=SONNET)
    withheld, readable = response.thinking
    assert (withheld.redacted, withheld.redaction, withheld.encrypted) == (True, "provider", "EmwKAhgBEgy-sealed")
    assert (readable.redacted, readable.redaction) == (False, None)
    body, _ = anthropic_request(_again(response), model_name=SONNET)
    assert body["messages"][1]["content"][0] == {"type": "redacted_thinking", "data": "EmwKAhgBEgy-sealed"}


def test_bedrock_redacted_content_is_redacted_by_the_provider() -> None:
    acc = ConverseAccumulator("bedrock", BEDROCK_SONNET)
    acc.feed_response(
        {
            "output": {
                "message": {"role": "assistant", "content": [{"reasoningContent": {"redactedContent": "AAE="}}]}
            },
            "stopReason": "end_turn",
            "usage": {"inputTokens": 1, "outputTokens": 2},
        }
    )
    thinking = acc.build().thinking[0]
    assert (thinking.redacted, thinking.redaction, thinking.encrypted) == (True, "provider", "AAE=")
    body = bedrock_request(
        _again(acc.build()),
        provider="bedrock",
        model_id=BEDROCK_SONNET,
        tools=None,
        settings=ModelSettings(),
        output=None,
    )
    assert body["messages"][1]["content"][0] == {"reasoningContent": {"redactedContent": b"\x00\x01"}}


def test_responses_reasoning_without_summary_is_encrypted_not_provider_redacted() -> None:
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-sealed"}
    response = parse_response({"status": "completed", "output": [item]}, model_name="gpt-5")
    thinking = response.thinking[0]
    assert (thinking.redacted, thinking.redaction) == (True, "encrypted")
    body = responses_request(_again(response), model_name="gpt-5")
    assert body["input"][1] == {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-sealed"}


def test_gemini_signed_thought_without_text_is_redacted_and_still_goes_back() -> None:
    """A thought part with only a signature: encrypted reasoning with no text; Gemini needs the signature back."""
    acc = GeminiAccumulator("google", "gemini-2.5-flash")
    acc.feed(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": "", "thought": True, "thoughtSignature": "c2ln"}, {"text": "Hi"}],
                    },
                    "finishReason": "STOP",
                }
            ]
        }
    )
    response = acc.build()
    thinking = response.thinking[0]
    assert (thinking.redacted, thinking.redaction, thinking.signature) == (True, "encrypted", "c2ln")
    body = google_request(
        _again(response),
        provider="google",
        model_name="gemini-2.5-flash",
        tools=None,
        settings=ModelSettings(),
        output=None,
    )
    assert {"text": "", "thought": True, "thoughtSignature": "c2ln"} in body["contents"][1]["parts"]


@pytest.mark.parametrize(
    ("message", "redacted"),
    [
        (
            {
                "role": "assistant",
                "content": "Hi",
                "reasoning_details": [{"type": "reasoning.encrypted", "data": "xyz"}],
            },
            True,
        ),
        (
            {
                "role": "assistant",
                "content": "Hi",
                "reasoning": "Readable.",
                "reasoning_details": [
                    {"type": "reasoning.text", "text": "Readable."},
                    {"type": "reasoning.encrypted", "data": "xyz"},
                ],
            },
            False,
        ),
    ],
)
def test_openrouter_encrypted_reasoning_details_are_redacted_unless_readable(
    message: dict[str, Any], redacted: bool
) -> None:
    data = {
        "id": "gen-1",
        "object": "chat.completion",
        "created": 1,
        "model": "openai/gpt-5",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }
    with fake_server((200, "application/json", json.dumps(data).encode())) as server:
        response = openrouter("openai/gpt-5", base_url=server.url + "/v1", api_key="k").request([Message.user("q")])
    thinking = response.thinking[0]
    assert thinking.redacted is redacted
    assert thinking.redaction == ("encrypted" if redacted else None)
    assert thinking.provider_details == {"reasoning_details": message["reasoning_details"]}


def test_readable_reasoning_is_never_redacted() -> None:
    assert not Thinking("plan", signature="sig", provider="anthropic").redacted
    assert not Thinking("plan", provider="groq").redacted
    assert not Thinking().redacted  # nothing at all: no reasoning to hide
    with pytest.raises(ValueError, match="not redacted"):
        Thinking("plan", redaction="provider")
    with pytest.raises(ValueError, match="redaction must be"):
        Thinking(encrypted="x", redaction="hidden")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- stored conversations


def _old(part: dict[str, Any]) -> str:
    """A conversation as Podium wrote it before ``redaction`` existed."""
    return json.dumps(
        {"version": 1, "messages": [{"role": "assistant", "parts": [part, {"type": "text", "text": "Hi"}]}]}
    )


@pytest.mark.parametrize(
    ("part", "redaction"),
    [
        ({"type": "thinking", "text": "", "encrypted": "EmwK", "provider": "anthropic"}, "provider"),
        ({"type": "thinking", "text": "", "encrypted": "AAE=", "provider": "bedrock"}, "provider"),
        (
            {"type": "thinking", "text": "", "encrypted": "gAAA", "provider": "openai-responses", "id": "rs_1"},
            "encrypted",
        ),
        ({"type": "thinking", "text": "", "provider": "openai-responses", "id": "rs_2"}, "encrypted"),
        ({"type": "thinking", "text": "", "signature": "c2ln", "provider": "google"}, "encrypted"),
        ({"type": "thinking", "text": "plan", "signature": "sig", "provider": "anthropic"}, None),
        ({"type": "thinking", "text": "plan", "provider": "groq", "provider_details": {"x": 1}}, None),
        ({"type": "thinking", "text": "", "provider": "openrouter"}, None),
    ],
)
def test_old_json_without_redaction_loads_with_it_derived(part: dict[str, Any], redaction: str | None) -> None:
    (message,) = load_messages(_old(part))
    thinking = message.parts[0]
    assert isinstance(thinking, Thinking)
    assert thinking.redaction == redaction
    assert thinking.redacted is (redaction is not None)
    assert message.parts[1] == Text("Hi")
    (again,) = load_messages(dump_messages([message]))  # and it round-trips from there
    assert again == message


def test_redaction_round_trips_and_bad_values_are_clear_errors() -> None:
    parts = [
        Thinking("", encrypted="EmwK", provider="anthropic", redaction="provider"),
        Thinking("", provider="openai-responses", id="rs_1", redaction="encrypted"),
        Thinking("", encrypted="x", provider="anthropic", redaction="encrypted"),  # kept as given, not re-derived
        Thinking("plan", signature="sig", provider="anthropic"),
    ]
    text = dump_messages([Message("assistant", parts)])
    assert load_messages(text)[0].parts == tuple(parts)
    assert json.loads(text)["messages"][0]["parts"][0]["redaction"] == "provider"
    assert "redaction" not in json.loads(text)["messages"][0]["parts"][3]
    bad = _old({"type": "thinking", "text": "", "encrypted": "x", "redaction": "hidden"})
    with pytest.raises(SerializationError, match=r"messages\[0\]\.parts\[0\]\.redaction: unknown value 'hidden'"):
        load_messages(bad)
    with_text = _old({"type": "thinking", "text": "plan", "redaction": "provider"})
    with pytest.raises(SerializationError, match="not redacted"):
        load_messages(with_text)


def test_bedrock_blob_base64_is_checked() -> None:
    from podium.exceptions import InvalidResponseError

    acc = ConverseAccumulator("bedrock", BEDROCK_SONNET)
    with pytest.raises(InvalidResponseError, match="not base64"):
        acc.feed_event(
            {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"redactedContent": "%%"}}}}
        )
