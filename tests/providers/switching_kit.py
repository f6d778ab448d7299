"""Per-provider wire kits for the provider-switching matrix (tests/providers/test_switching_matrix.py).

For each provider, a :class:`Kit` knows how to reach its Podium model on a loopback capture server
(the official SDK talks HTTP to :class:`~podium.testing.cassette.ReplayServer`), the path the SDK posts
to, two responses in its wire format (a rich *source* turn: its own thinking with signature or
encrypted content, text and two parallel tool calls with ids in its style; and a minimal *target*
answer), the SDK schema check for its request body (:mod:`sdk_schemas`), and how to read the body:
tool-call ids, tool-result ids, what sits in its native thinking slots, and the images.

The responses are written here after the shapes of the recorded cassettes in tests/cassettes (ids,
fields and nesting as those services return them); they are synthetic, not recordings.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sdk_schemas
from google.oauth2.credentials import Credentials
from switching_views import ANTHROPIC_VIEW, BEDROCK_VIEW, GOOGLE_VIEW, OLLAMA_VIEW, RESPONSES_VIEW, BodyView, chat_view

import podium
from podium.messages import Image, Message, ModelResponse, Text, ToolResult
from podium.providers.base import Model
from podium.providers.retry import RetryPolicy
from podium.settings import ToolDefinition
from podium.testing.cassette import Cassette, Interaction, RecordedRequest, ReplayServer

JsonDict = dict[str, Any]
NO_RETRY = RetryPolicy(max_retries=0)

PNG = (
    base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    + b"\xfb\xff\xbf"
)
"""A 1x1 PNG with three bytes after its end (which decoders ignore), so that its standard and URL-safe
base64 differ (``/`` and ``_``) and a wrong encoding shows."""

TOOLS = [
    ToolDefinition(
        "get_weather",
        "Weather for a city.",
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    ),
    ToolDefinition(
        "get_time",
        "Time in a city.",
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    ),
]
ARGS = {"city": "Paris"}


def thought(provider: str) -> str:
    """The reasoning text a source writes (unique per provider, so it can be found in any body)."""
    return f"The user wants weather and time; {provider} will call both tools at once."


def secret(provider: str) -> str:
    """The signature or encrypted reasoning a source returns (unique per provider)."""
    return base64.b64encode(f"signed-reasoning-of-{provider}".encode()).decode()


def _chat_reply(model: str, message: JsonDict, finish: str, **extra: Any) -> JsonDict:
    return {
        "id": f"chatcmpl-{model.replace('/', '-')}-1",
        "object": "chat.completion",
        "created": 1760000000,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": 52, "completion_tokens": 21, "total_tokens": 73},
        **extra,
    }


def _chat_calls(ids: tuple[str, str], arguments: str = '{"city":"Paris"}', index: bool = False) -> list[JsonDict]:
    calls = []
    for n, (call_id, name) in enumerate(zip(ids, ("get_weather", "get_time"), strict=True)):
        call: JsonDict = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        if index:
            call["index"] = n
        calls.append(call)
    return calls


def _chat_text(provider: str, model: str) -> JsonDict:
    return _chat_reply(model, {"role": "assistant", "content": f"OK from {provider}"}, "stop")


# --------------------------------------------------------------------------- kits


@dataclass(frozen=True)
class Kit:
    """One provider, as a source and as a target of a switch."""

    name: str
    """Podium provider name (``podium.model("<name>:...")``)."""
    source_model: str
    """Model that wrote the source turn (one that reasons and calls tools)."""
    target_model: str
    """Model that continues a conversation (one that takes images, where the provider has such models)."""
    path: str
    """Path the SDK posts a non-streaming request to, for ``{model}``."""
    source_reply: JsonDict
    """Its answer with thinking, text and two parallel tool calls."""
    target_reply: JsonDict
    """A minimal text answer ``OK from <name>``."""
    validate: Callable[[JsonDict, str], None]
    """Raises unless the body is valid for the SDK's request types (body, model)."""
    view: BodyView
    """How to read its request bodies."""
    call_ids: tuple[str, str] | None
    """The tool-call ids it returns, or ``None`` when its wire has none (Podium makes them)."""
    id_pattern: str = r"[a-zA-Z0-9_-]{1,64}"
    """The tool-call ids its API accepts back."""
    own_thinking: tuple[str, ...] = ("text", "secret")
    """What of its own reasoning goes back to it: the text, the signature/encrypted content, or nothing."""
    signed: bool = True
    """Whether its reasoning carries a signature or encrypted content."""
    images: bool = True
    """Whether it takes images in user messages (else a documented error)."""
    result_images: bool = True
    """Whether it takes images in tool results (else a documented error)."""
    pdfs: bool = True
    """Whether it takes PDFs (else a documented error)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Extra options for ``podium.model`` (credentials, region)."""
    base_suffix: str = ""
    """Appended to the server URL for ``base_url``."""
    private: tuple[str, ...] = ()
    """Strings of the source turn's ``provider_details`` (item ids, signatures on calls) that may go
    back to this provider only."""
    family: tuple[str, ...] = ()
    """Providers that speak the same wire and take each other's reasoning (Gemini API and Vertex)."""

    def same_as(self, other: str) -> bool:
        """Whether a turn of ``other`` counts as this provider's own."""
        return other == self.name or other in self.family

    def model(self, url: str, model_name: str) -> Model:
        """Its Podium model on the server at ``url``."""
        return podium.model(
            f"{self.name}:{model_name}", base_url=url + self.base_suffix, retry=NO_RETRY, **dict(self.options)
        )


def _responses(provider: str, output: list[JsonDict], reasoning: int = 0) -> JsonDict:
    return {
        "id": "resp_68c42d0fb418819dbfa579f69406b49508fbf9b1584184ff",
        "object": "response",
        "created_at": 1760000000,
        "status": "completed",
        "model": "gpt-5-2025-08-07",
        "output": output,
        "usage": {
            "input_tokens": 52,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 21,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": 73,
        },
    }


def _responses_message(text: str, item_id: str) -> JsonDict:
    return {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _anthropic(content: list[JsonDict], stop: str) -> JsonDict:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 52,
            "output_tokens": 21,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def _gemini(parts: list[JsonDict], response_id: str) -> JsonDict:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 52, "candidatesTokenCount": 21, "totalTokenCount": 73},
        "modelVersion": "gemini-2.5-pro",
        "responseId": response_id,
    }


def _converse(content: list[JsonDict], stop: str) -> JsonDict:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 52, "outputTokens": 21, "totalTokens": 73},
        "metrics": {"latencyMs": 812},
    }


def _ollama(message: JsonDict) -> JsonDict:
    return {
        "model": "qwen3-vl",
        "created_at": "2025-10-01T12:00:00.123456Z",
        "message": message,
        "done": True,
        "done_reason": "stop",
        "total_duration": 1_000_000,
        "load_duration": 1000,
        "prompt_eval_count": 52,
        "prompt_eval_duration": 1000,
        "eval_count": 21,
        "eval_duration": 1000,
    }


def _cohere(message: JsonDict, finish: str) -> JsonDict:
    return {
        "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
        "message": message,
        "finish_reason": finish,
        "usage": {
            "billed_units": {"input_tokens": 40, "output_tokens": 21},
            "tokens": {"input_tokens": 520, "output_tokens": 30},
        },
    }


def _bedrock_valid(body: JsonDict, model: str) -> None:
    sdk_schemas.validate_bedrock(body, model_id=model)


def _gemini_kit(name: str, path: str, options: Mapping[str, Any]) -> Kit:
    """Gemini on the Gemini API (``google``) or on Vertex AI (``google-vertex``): the same JSON."""
    return Kit(
        name,
        "gemini-2.5-pro",
        "gemini-2.5-pro",
        path,
        _gemini(
            [
                {"text": thought(name), "thought": True, "thoughtSignature": secret(name)},
                {"text": "Checking both."},
                {"functionCall": {"name": "get_weather", "args": ARGS}, "thoughtSignature": secret(f"{name}-call")},
                {"functionCall": {"name": "get_time", "args": ARGS}},
            ],
            "aF3zaKqVBdqJ1dkP7b2j0Qg",
        ),
        _gemini([{"text": f"OK from {name}"}], "bG4AbLrWCerK2elQ8c3k1Rh"),
        lambda body, _: sdk_schemas.validate_google(body),
        GOOGLE_VIEW,
        None,
        options=options,
        private=(secret(f"{name}-call"),),
        family=("google", "google-vertex"),
    )


CLAUDE_ON_BEDROCK = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

KITS: dict[str, Kit] = {
    "openai": Kit(
        "openai",
        "gpt-4o",
        "gpt-4o",
        "/v1/chat/completions",
        _chat_reply(
            "gpt-4o-2024-08-06",
            {
                "role": "assistant",
                "content": "Checking both.",
                "refusal": None,
                "tool_calls": _chat_calls(("call_Wx2nq8Jc4TtP0bPqYb1UoZ3k", "call_Ry5bC0dKq1mZ8vLp3sTn6uXa")),
            },
            "tool_calls",
            system_fingerprint="fp_cbf1785567",
        ),
        _chat_text("openai", "gpt-4o-2024-08-06"),
        lambda body, _: sdk_schemas.validate_chat_completions(body),
        chat_view(()),
        ("call_Wx2nq8Jc4TtP0bPqYb1UoZ3k", "call_Ry5bC0dKq1mZ8vLp3sTn6uXa"),
        own_thinking=(),
        signed=False,
        options={"api_key": "sk-test"},
        base_suffix="/v1",
    ),
    "openai-responses": Kit(
        "openai-responses",
        "gpt-5",
        "gpt-5",
        "/v1/responses",
        _responses(
            "openai-responses",
            [
                {
                    "id": "rs_68c42d1d0878819d8266007cd3d1402c08fbf9b1584184ff",
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": thought("openai-responses")}],
                    "encrypted_content": secret("openai-responses"),
                },
                _responses_message("Checking both.", "msg_68c42d26866c819da8d5c606621c911608fbf9b1584184ff"),
                {
                    "id": "fc_0050471a34b36ae60068c97bf19d9c819590eaf42c0edc1042",
                    "type": "function_call",
                    "status": "completed",
                    "call_id": "call_LWVp74L5HaH2KNvgVz9PJsrj",
                    "name": "get_weather",
                    "arguments": '{"city":"Paris"}',
                },
                {
                    "id": "fc_0050471a34b36ae60068c97bf2a1b8819590eaf42c0edc1042",
                    "type": "function_call",
                    "status": "completed",
                    "call_id": "call_YnRAWeTyxI91m5uNa5bxXwVO",
                    "name": "get_time",
                    "arguments": '{"city":"Paris"}',
                },
            ],
            reasoning=12,
        ),
        _responses("openai-responses", [_responses_message("OK from openai-responses", "msg_2")]),
        lambda body, _: sdk_schemas.validate_openai_responses(body),
        RESPONSES_VIEW,
        ("call_LWVp74L5HaH2KNvgVz9PJsrj", "call_YnRAWeTyxI91m5uNa5bxXwVO"),
        options={"api_key": "sk-test"},
        base_suffix="/v1",
        private=(
            "rs_68c42d1d0878819d8266007cd3d1402c08fbf9b1584184ff",
            "msg_68c42d26866c819da8d5c606621c911608fbf9b1584184ff",
            "fc_0050471a34b36ae60068c97bf19d9c819590eaf42c0edc1042",
            "fc_0050471a34b36ae60068c97bf2a1b8819590eaf42c0edc1042",
        ),
    ),
    "anthropic": Kit(
        "anthropic",
        "claude-sonnet-4-6",
        "claude-sonnet-4-6",
        "/v1/messages",
        _anthropic(
            [
                {"type": "thinking", "thinking": thought("anthropic"), "signature": secret("anthropic")},
                {"type": "text", "text": "Checking both."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": ARGS},
                {"type": "tool_use", "id": "toolu_01B7yWkZ3pQ8rT2uV5xY9aC4", "name": "get_time", "input": ARGS},
            ],
            "tool_use",
        ),
        _anthropic([{"type": "text", "text": "OK from anthropic"}], "end_turn"),
        lambda body, _: sdk_schemas.validate_anthropic(body),
        ANTHROPIC_VIEW,
        ("toolu_01A09q90qw90lq917835lq9", "toolu_01B7yWkZ3pQ8rT2uV5xY9aC4"),
        id_pattern=r"[a-zA-Z0-9_-]+",
        options={"api_key": "test-key"},
    ),
    "google": _gemini_kit("google", "/v1beta/models/{model}:generateContent", {"api_key": "test-key"}),
    "google-vertex": _gemini_kit(
        "google-vertex",
        "/v1beta1/projects/podium-test/locations/global/publishers/google/models/{model}:generateContent",
        {
            "project": "podium-test",
            "location": "global",
            "credentials": Credentials(token="test-token"),
            "api_version": "v1beta1",
        },
    ),
    "bedrock": Kit(
        "bedrock",
        CLAUDE_ON_BEDROCK,
        CLAUDE_ON_BEDROCK,
        "/model/{model}/converse",
        _converse(
            [
                {"reasoningContent": {"reasoningText": {"text": thought("bedrock"), "signature": secret("bedrock")}}},
                {"text": "Checking both."},
                {"toolUse": {"toolUseId": "tooluse_kooGjILXmVRg8edl3YuEf4", "name": "get_weather", "input": ARGS}},
                {"toolUse": {"toolUseId": "tooluse_qa71o2cLA65qg5TyweI63c", "name": "get_time", "input": ARGS}},
            ],
            "tool_use",
        ),
        _converse([{"text": "OK from bedrock"}], "end_turn"),
        _bedrock_valid,
        BEDROCK_VIEW,
        ("tooluse_kooGjILXmVRg8edl3YuEf4", "tooluse_qa71o2cLA65qg5TyweI63c"),
        options={"region": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"},
    ),
    "mistral": Kit(
        "mistral",
        "magistral-medium-latest",
        "magistral-medium-latest",
        "/v1/chat/completions",
        _chat_reply(
            "magistral-medium-latest",
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "thinking",
                        "thinking": [{"type": "text", "text": thought("mistral")}],
                        "signature": secret("mistral"),
                    },
                    {"type": "text", "text": "Checking both."},
                ],
                "tool_calls": _chat_calls(("D681PevKs", "k3Xb9QmZr"), '{"city": "Paris"}', index=True),
            },
            "tool_calls",
        ),
        _chat_text("mistral", "magistral-medium-latest"),
        lambda body, _: sdk_schemas.validate_mistral(body),
        chat_view(()),
        ("D681PevKs", "k3Xb9QmZr"),
        id_pattern=r"[a-zA-Z0-9]{9}",
        options={"api_key": "test-key"},
    ),
    "groq": Kit(
        "groq",
        "openai/gpt-oss-120b",
        "meta-llama/llama-4-scout-17b-16e-instruct",
        "/openai/v1/chat/completions",
        _chat_reply(
            "openai/gpt-oss-120b",
            {
                "role": "assistant",
                "reasoning": thought("groq"),
                "tool_calls": _chat_calls(
                    ("fc_7c1e2e4a-3b5d-4f6e-8a9b-0c1d2e3f4a5b", "fc_1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
                ),
            },
            "tool_calls",
            x_groq={"id": "req_01jmefve36eajb6c1x6k8ppv5m"},
        ),
        _chat_text("groq", "meta-llama/llama-4-scout-17b-16e-instruct"),
        lambda body, _: sdk_schemas.validate_groq(body),
        chat_view(("reasoning",)),
        ("fc_7c1e2e4a-3b5d-4f6e-8a9b-0c1d2e3f4a5b", "fc_1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
        own_thinking=(),
        signed=False,
        pdfs=False,
        options={"api_key": "gsk-test"},
    ),
    "ollama": Kit(
        "ollama",
        "qwen3-vl",
        "qwen3-vl",
        "/api/chat",
        _ollama(
            {
                "role": "assistant",
                "content": "Checking both.",
                "thinking": thought("ollama"),
                "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": ARGS}},
                    {"function": {"name": "get_time", "arguments": ARGS}},
                ],
            }
        ),
        _ollama({"role": "assistant", "content": "OK from ollama"}),
        lambda body, _: sdk_schemas.validate_ollama(body),
        OLLAMA_VIEW,
        None,
        id_pattern="",
        own_thinking=("text",),
        signed=False,
        pdfs=False,
    ),
    "cohere": Kit(
        "cohere",
        "command-a-reasoning-08-2025",
        "command-a-vision-07-2025",
        "/v2/chat",
        _cohere(
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": thought("cohere")}],
                "tool_plan": "I will check the weather and the time in Paris.",
                "tool_calls": _chat_calls(("get_weather_bc8241gkqss5", "get_time_dg5wwc00d8v5")),
            },
            "TOOL_CALL",
        ),
        _cohere({"role": "assistant", "content": [{"type": "text", "text": "OK from cohere"}]}, "COMPLETE"),
        lambda body, _: sdk_schemas.validate_cohere(body),
        chat_view(()),
        ("get_weather_bc8241gkqss5", "get_time_dg5wwc00d8v5"),
        id_pattern=".+",
        own_thinking=("text",),
        signed=False,
        pdfs=False,
        result_images=False,
        options={"api_key": "test-key"},
    ),
    "deepseek": Kit(
        "deepseek",
        "deepseek-reasoner",
        "deepseek-reasoner",
        "/chat/completions",
        _chat_reply(
            "deepseek-reasoner",
            {
                "role": "assistant",
                "content": "Checking both.",
                "reasoning_content": thought("deepseek"),
                "tool_calls": _chat_calls(
                    ("call_00_sXqYgMESDht75NCLLZtt9804", "call_01_Hw3kQpLm2nRtY7vZx9aB1cDe"), '{"city": "Paris"}', True
                ),
            },
            "tool_calls",
        ),
        _chat_text("deepseek", "deepseek-reasoner"),
        lambda body, _: sdk_schemas.validate_chat_completions(body, message_extras=("reasoning_content",)),
        chat_view(("reasoning_content",)),
        ("call_00_sXqYgMESDht75NCLLZtt9804", "call_01_Hw3kQpLm2nRtY7vZx9aB1cDe"),
        own_thinking=("text",),
        signed=False,
        images=False,
        pdfs=False,
        result_images=False,
        options={"api_key": "sk-test"},
    ),
    "openrouter": Kit(
        "openrouter",
        "anthropic/claude-sonnet-4.5",
        "anthropic/claude-sonnet-4.5",
        "/api/v1/chat/completions",
        _chat_reply(
            "anthropic/claude-sonnet-4.5",
            {
                "role": "assistant",
                "content": "Checking both.",
                "refusal": None,
                "reasoning": thought("openrouter"),
                "reasoning_details": [
                    {
                        "type": "reasoning.text",
                        "text": thought("openrouter"),
                        "signature": secret("openrouter"),
                        "format": "anthropic-claude-v1",
                        "index": 0,
                    }
                ],
                "tool_calls": _chat_calls(
                    ("toolu_vrtx_01Pq7wZsVdKk1rNn2YbLmC3x", "toolu_vrtx_01Xm4tGh8JqPz5WcE6uR2sKd"),
                    '{"city": "Paris"}',
                    True,
                ),
            },
            "tool_calls",
            provider="Anthropic",
        ),
        _chat_text("openrouter", "anthropic/claude-sonnet-4.5"),
        lambda body, _: sdk_schemas.validate_chat_completions(body, message_extras=("reasoning_details",)),
        chat_view(("reasoning_details",)),
        ("toolu_vrtx_01Pq7wZsVdKk1rNn2YbLmC3x", "toolu_vrtx_01Xm4tGh8JqPz5WcE6uR2sKd"),
        options={"api_key": "sk-or-test"},
        base_suffix="/api/v1",
    ),
}
"""Every provider of the matrix, by Podium provider name."""


# --------------------------------------------------------------------------- exchanges


def _cassette(path: str, reply: JsonDict) -> Cassette:
    request = RecordedRequest("POST", f"http://capture{path}", path, {}, None)
    headers = {"content-type": "application/json"}
    return Cassette(Path("capture.yaml"), [Interaction(request, 200, headers, json.dumps(reply).encode())])


@contextmanager
def capture(kit: Kit, model_name: str, reply: JsonDict) -> Iterator[ReplayServer]:
    """A loopback server answering one request of ``kit``'s SDK with ``reply``."""
    with ReplayServer(_cassette(kit.path.format(model=model_name), reply)) as server:
        yield server


def exchange(
    kit: Kit, model_name: str, reply: JsonDict, messages: list[Message], **kwargs: Any
) -> tuple[ModelResponse, JsonDict]:
    """Send ``messages`` through ``kit``'s Podium model; the response and the body the SDK sent."""
    with capture(kit, model_name, reply) as server:
        response = kit.model(server.url, model_name).request(messages, tools=TOOLS, **kwargs)
        assert len(server.received) == 1, [r.path for r in server.received]
        received = server.received[0]
        assert received.matched is not None, f"{kit.name} posted to {received.path}, expected {kit.path}"
        return response, received.json


def opening() -> list[Message]:
    """The first turn: instructions and a question with an image."""
    return [
        Message.system("You are a helpful assistant."),
        Message.user(
            "What is in this picture? And what are the weather and the time in Paris?",
            Image(PNG, media_type="image/png"),
        ),
    ]


def source_turn(kit: Kit) -> ModelResponse:
    """The assistant turn ``kit`` answers to :func:`opening`, parsed by its own Podium model.

    A provider that takes no images (DeepSeek) is asked without the image.
    """
    question = opening()
    if not kit.images:
        question[-1] = Message.user(question[-1].text)
    response, _ = exchange(kit, kit.source_model, kit.source_reply, question)
    return response


def conversation(turn: ModelResponse) -> list[Message]:
    """:func:`opening`, the source's turn, both tool results (the second failed) and a follow-up question."""
    weather, time = turn.tool_calls
    results = [
        ToolResult(weather.id, weather.name, [Text("sunny, 21 C")]),
        ToolResult(time.id, time.name, [Text("the clock service is down")], is_error=True),
    ]
    return [*opening(), turn.to_message(), Message("tool", results), Message.user("Thanks. Should I take an umbrella?")]
