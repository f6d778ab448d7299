"""Switching provider mid-conversation into and between Mistral, Ollama (native and /v1) and Cohere.

Each request body is validated against the vendor SDK's own request schema (:mod:`sdk_schemas`, strict:
unknown keys fail), so "valid for that API" is checked by the vendor's code, not by ours. The full
provider x provider matrix is in test_switching_matrix.py; this module adds Ollama's ``/v1`` endpoint and
responses parsed from recorded cassettes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sdk_schemas import validate_chat_completions, validate_cohere, validate_mistral, validate_ollama

try:  # works whether or not tests/providers is a package
    from .replay_util import cassette
except ImportError:
    from replay_util import cassette

from podium.messages import Image, Message, ModelResponse, Text, Thinking, ToolCall, ToolResult
from podium.providers.chat_stream import ChatTranslator
from podium.providers.cohere import CohereModel
from podium.providers.cohere_wire import CohereStreamState
from podium.providers.mistral import MistralModel
from podium.providers.mistral_wire import MistralStreamState
from podium.providers.ollama import OLLAMA_DIALECT, OllamaModel, OllamaOpenAIModel
from podium.providers.transport.decoders import DONE, SSEDecoder
from podium.settings import ModelSettings, ToolDefinition

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
TOOLS = [
    ToolDefinition(
        "get_weather", "Weather for a city.", {"type": "object", "properties": {"city": {"type": "string"}}}
    ),
    ToolDefinition("get_time", "Time in a city.", {"type": "object", "properties": {"city": {"type": "string"}}}),
]


def _validate_ollama_v1(body: dict[str, Any]) -> None:
    validate_chat_completions(body, message_extras=("reasoning",))  # Ollama's /v1 takes reasoning back


TARGETS: dict[str, tuple[Callable[[], Any], Callable[[dict[str, Any]], None]]] = {
    "mistral": (lambda: MistralModel("mistral-large-latest", api_key="k"), validate_mistral),
    "ollama": (lambda: OllamaModel("qwen3"), validate_ollama),
    "ollama-v1": (lambda: OllamaOpenAIModel("qwen3"), _validate_ollama_v1),
    "cohere": (lambda: CohereModel("command-a-03-2025", api_key="k"), validate_cohere),
}


def body_of(model: Any, messages: list[Message], settings: ModelSettings) -> dict[str, Any]:
    """The request body a model builds (Chat Completions models take keyword arguments)."""
    if isinstance(model, OllamaOpenAIModel):
        body: dict[str, Any] = model.build_body(messages, tools=TOOLS, settings=settings)
        return body
    result: dict[str, Any] = model.build_body(messages, TOOLS, settings, None, stream=False)
    return result


def foreign_conversation() -> list[Message]:
    """A conversation made by another provider: signed thinking, two parallel tool calls, an image."""
    return [
        Message.system("You are helpful."),
        Message.user(
            "What is in this picture, and the weather and time in Paris?", Image(data=PNG, media_type="image/png")
        ),
        Message(
            "assistant",
            [
                Thinking("I should call both tools.", signature="EqQBCkYIBxgC", provider="anthropic"),
                Text("Let me check both."),
                ToolCall("toolu_01A9xZ", "get_weather", {"city": "Paris"}),
                ToolCall("toolu_01B7yW", "get_time", {"city": "Paris"}),
            ],
            provider="anthropic",
            model="claude-sonnet-4-5",
        ),
        Message(
            "tool",
            [
                ToolResult("toolu_01A9xZ", "get_weather", [Text("sunny")]),
                ToolResult("toolu_01B7yW", "get_time", [Text("noon")], is_error=False),
            ],
        ),
        Message.user("Thanks. And tomorrow?"),
    ]


def _call_ids(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    calls = [c.get("id") for m in body["messages"] for c in m.get("tool_calls", ())]
    results = [m.get("tool_call_id") for m in body["messages"] if m["role"] == "tool"]
    return [c for c in calls if c is not None], [r for r in results if r is not None]


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("foreign_thinking", ["drop", "text"])
def test_foreign_conversation_continues_on(target: str, foreign_thinking: str) -> None:
    make, validate = TARGETS[target]
    settings = ModelSettings(foreign_thinking=foreign_thinking)  # type: ignore[arg-type]
    body = body_of(make(), foreign_conversation(), settings)
    validate(body)
    text = json.dumps(body)
    assert "EqQBCkYIBxgC" not in text  # another provider's signature never leaves
    assert ("I should call both tools." in text) == (foreign_thinking == "text")
    calls, results = _call_ids(body)
    assert calls == results or target == "ollama"  # the native Ollama API has no call ids
    if target == "mistral":
        assert all(len(i) == 9 and i.isalnum() for i in calls)
        assert len(set(calls)) == 2
    if target == "ollama":
        assert [m.get("tool_name") for m in body["messages"] if m["role"] == "tool"] == ["get_weather", "get_time"]
    assert "iVBORw0KGgo" in text  # the image went along (base64)


def _payloads(body: bytes) -> list[Any]:
    """A recorded SSE body's parsed payloads, up to ``[DONE]`` (decoded as the transport decodes streams)."""
    decoder = SSEDecoder()
    payloads = [*decoder.feed(body), *decoder.flush()]
    if DONE in payloads:
        payloads = payloads[: payloads.index(DONE)]
    return [json.loads(p) for p in payloads]


def _mistral_thinking_response() -> ModelResponse:
    data = cassette("mistral", "test_mistral_model_thinking_part_iter.yaml").interactions[0].body
    state = MistralStreamState()
    for payload in _payloads(data):
        state.feed(payload)
    return state.finish()


def _cohere_tool_response() -> ModelResponse:
    data = cassette("cohere", "test_cohere_v2_chat_legacy_with_tool_calls_and_streaming.yaml").interactions[0]
    state = CohereStreamState("command-r")
    for payload in _payloads(data.body):
        state.feed(payload)
    return state.finish()


def _ollama_tool_response() -> ModelResponse:
    data = cassette("ollama", "test_ollama_cloud_tool_output.yaml").interactions[1].json
    translator = ChatTranslator(OLLAMA_DIALECT)
    translator.feed_completion(data)
    return translator.build()


SOURCES: dict[str, Callable[[], ModelResponse]] = {
    "mistral": _mistral_thinking_response,
    "cohere": _cohere_tool_response,
    "ollama": _ollama_tool_response,
}


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_recorded_responses_continue_on_each_other(source: str, target: str) -> None:
    response = SOURCES[source]()
    history = [Message.user("question"), response.to_message()]
    if response.tool_calls:
        history.append(Message("tool", [ToolResult(c.id, c.name, [Text("result")]) for c in response.tool_calls]))
    else:
        history.append(Message.user("and then?"))
    make, validate = TARGETS[target]
    body = body_of(make(), history, ModelSettings())
    validate(body)
    text = json.dumps(body)
    own = target.split("-")[0] == source
    for thinking in response.thinking:
        assert (json.dumps(thinking.text)[1:40] in text) == own  # reasoning goes back only to its own provider
    calls, results = _call_ids(body)
    assert calls == results or target == "ollama"
    assert len(calls) == len(response.tool_calls) or target == "ollama"
    if target == "mistral":
        assert all(len(i) == 9 and i.isalnum() for i in calls)
    elif target != "ollama":  # the native Ollama API carries no call ids
        assert calls == [c.id for c in response.tool_calls]
