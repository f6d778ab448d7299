"""An error sent inside a 200 stream is the exception the same error gives as an HTTP answer (synthetic exchanges).

Every SSE provider: the status comes from the error body (Groq's ``error.status_code``, a numeric
``error.code``, Anthropic's ``overloaded_error`` type, Google's ``RESOURCE_EXHAUSTED`` ...), never the
stream's 200. So a 400 is a ``BadRequestError`` raised at once, and a 429/5xx is retried and answered.
Each case is also served as a plain HTTP error with its status, and the two exceptions must be of the same
class.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from raw_server import Raw, RawServer, sse

from podium.exceptions import (
    BadRequestError,
    ProviderError,
    ProviderHTTPError,
    RateLimitError,
    ServerError,
)
from podium.messages import Message, ModelResponse
from podium.providers.retry import RetryPolicy
from podium.testing.fake_wire import Vendor, render

pytestmark = pytest.mark.filterwarnings("ignore::podium.providers.pricing.UnknownPriceWarning")

RETRY_ONCE = RetryPolicy(max_retries=1, initial_delay=0.0, jitter=0.0)
PROMPT = [Message.user("Say hello.")]
KINDS = {400: BadRequestError, 429: RateLimitError, 503: ServerError, 529: ServerError}

Case = tuple[bytes, dict[str, Any]]  # (the stream with the error, the same error as an HTTP body)


def _groq(status: int) -> Case:
    """Groq: ``event: error`` whose ``error.status_code`` is the HTTP status (tool_use_failed is a 400)."""
    code = {400: "tool_use_failed", 429: "rate_limit_exceeded"}.get(status, "service_unavailable")
    error = {
        "message": f"fake {status}",
        "type": "invalid_request_error" if status == 400 else "internal_server_error",
        "code": code,
        "failed_generation": '<function=get_weather{"city": "Paris"}</function>' if status == 400 else None,
    }
    return sse(
        (None, '{"id":"x","object":"chat.completion.chunk","choices":[]}'),
        ("error", json.dumps({"error": {**error, "status_code": status}})),
    ), {"error": error}


def _openrouter(status: int) -> Case:
    """OpenRouter: a data chunk (no event name) with a numeric ``error.code`` and ``finish_reason: error``."""
    error = {"code": status, "message": f"fake {status}"}
    chunk = {
        "id": "x",
        "object": "chat.completion.chunk",
        "error": error,
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    }
    return sse((None, json.dumps(chunk))), {"error": {"code": status, "message": f"fake {status}"}}


def _anthropic(status: int) -> Case:
    kind = {400: "invalid_request_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": f"fake {status}"}}
    start = {
        "type": "message_start",
        "message": {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": 1},
        },
    }
    return sse(("message_start", json.dumps(start)), ("error", json.dumps(body))), body


def _responses(status: int) -> Case:
    code = {400: "invalid_prompt", 429: "rate_limit_exceeded"}.get(status, "server_error")
    event = {"type": "error", "code": code, "message": f"fake {status}", "param": None, "sequence_number": 1}
    created = {"type": "response.created", "response": {"id": "r", "status": "in_progress", "model": "gpt-5"}}
    return sse(("response.created", json.dumps(created)), ("error", json.dumps(event))), {
        "error": {"code": code, "message": f"fake {status}", "type": "invalid_request_error", "param": None}
    }


def _mistral(status: int) -> Case:
    body = {"object": "error", "message": f"fake {status}", "type": "invalid_request_error", "code": status}
    return sse((None, json.dumps(body))), body


def _mistral_event(status: int) -> Case:
    body = {"object": "error", "message": f"fake {status}", "type": "invalid_request_error", "status_code": status}
    return sse(("error", json.dumps(body))), body


def _google(status: int) -> Case:
    name = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}.get(status, "UNAVAILABLE")
    body = {"error": {"code": status, "message": f"fake {status}", "status": name}}
    return sse((None, json.dumps(body))), body


def _cohere(status: int) -> Case:
    body = {"message": f"fake {status}", "status_code": status}
    return sse(("message-start", '{"type":"message-start","id":"c"}'), ("error", json.dumps(body))), {
        "message": f"fake {status}"
    }


PROVIDERS: dict[str, tuple[str, Vendor, Callable[[int], Case], tuple[int, ...]]] = {
    "groq": ("groq:llama-3.3-70b-versatile", "openai-chat", _groq, (400, 429, 503)),
    "openai": ("openai:gpt-4o", "openai-chat", _groq, (400, 429, 503)),
    "openai-compatible": ("vllm:qwen3", "openai-chat", _groq, (400, 503)),
    "openrouter": ("openrouter:openai/gpt-5", "openai-chat", _openrouter, (400, 429, 503)),
    "ollama-openai": ("ollama:qwen3", "openai-chat", _groq, (400, 503)),
    "anthropic": ("anthropic:claude-sonnet-4-5", "anthropic", _anthropic, (400, 429, 529)),
    "openai-responses": ("openai-responses:gpt-5", "openai-responses", _responses, (400, 429, 503)),
    "mistral": ("mistral:mistral-large-latest", "openai-chat", _mistral, (400, 429, 503)),
    "mistral-event": ("mistral:mistral-large-latest", "openai-chat", _mistral_event, (400, 503)),
    "google": ("google:gemini-2.5-flash", "google", _google, (400, 429, 503)),
    "cohere": ("cohere:command-a-03-2025", "cohere", _cohere, (400, 503)),
}
CASES = [(name, status) for name, (_, _, _, statuses) in PROVIDERS.items() for status in statuses]
OPTIONS = {"ollama-openai": {"api": "openai"}}


def _answer(vendor: Vendor) -> Raw:
    rendered = render(vendor, "Recovered.", [], stream=True, model="fake-model")
    return Raw(200, rendered.content_type, b"".join(rendered.pieces))


def _events(server: RawServer, name: str, mode: str) -> list[Any]:
    spec = PROVIDERS[name][0]
    model = server.model(spec, retry=RETRY_ONCE, **OPTIONS.get(name, {}))
    if mode == "stream":
        return list(model.stream(PROMPT))

    async def collect() -> list[Any]:
        return [event async for event in model.astream(PROMPT)]

    return asyncio.run(collect())


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize(("name", "status"), CASES)
def test_an_error_inside_a_stream_has_the_status_its_body_gives(name: str, status: int, mode: str) -> None:
    _, vendor, case, _ = PROVIDERS[name]
    stream_body, _ = case(status)
    with RawServer(Raw(200, "text/event-stream", stream_body), _answer(vendor)) as server:
        if status == 400:
            with pytest.raises(ProviderError) as info:
                _events(server, name, mode)
            assert type(info.value) is BadRequestError, repr(info.value)
            assert isinstance(info.value, ProviderHTTPError) and info.value.status == 400
            assert not info.value.retryable
            assert len(server.paths) == 1, "a 400 is not retried"
        else:
            events = _events(server, name, mode)  # retried once, then answered
            assert isinstance(events[-1], ModelResponse) and events[-1].text == "Recovered."
            assert len(server.paths) == 2


@pytest.mark.parametrize(("name", "status"), CASES)
def test_in_stream_and_http_errors_are_the_same_exception(name: str, status: int) -> None:
    spec, _, case, _ = PROVIDERS[name]
    stream_body, http_body = case(status)
    raised: list[BaseException] = []
    with RawServer(
        Raw(200, "text/event-stream", stream_body), Raw(status, "application/json", json.dumps(http_body).encode())
    ) as server:
        model = server.model(spec, retry=RetryPolicy(max_retries=0), **OPTIONS.get(name, {}))
        for call in (lambda: list(model.stream(PROMPT)), lambda: model.request(PROMPT)):
            with pytest.raises(ProviderError) as info:
                call()
            raised.append(info.value)
    streamed, answered = raised
    assert type(streamed) is type(answered) is KINDS[status], (streamed, answered)
    assert isinstance(streamed, ProviderHTTPError) and isinstance(answered, ProviderHTTPError)
    if status in (400, 429):  # a type name stands for one status; "server_error" is a 500 whatever the answer's 5xx
        assert streamed.status == answered.status == status


def test_groq_tool_use_failed_in_a_stream_says_what_the_model_wrote() -> None:
    """The same message as the HTTP 400: the malformed call the model generated, so it can be fixed."""
    stream_body, _ = _groq(400)
    with RawServer(Raw(200, "text/event-stream", stream_body)) as server:
        model = server.model("groq:llama-3.3-70b-versatile", retry=RETRY_ONCE)
        with pytest.raises(BadRequestError) as info:
            list(model.stream(PROMPT))
    assert "tool_use_failed" in str(info.value)
    assert '<function=get_weather{"city": "Paris"}</function>' in str(info.value)


def test_an_error_event_whose_body_gives_no_status_is_a_retryable_server_error() -> None:
    """Nothing in the body says what went wrong: a 502, retried, as before."""
    body = sse(("error", json.dumps({"error": {"message": "upstream went away"}})))
    with RawServer(Raw(200, "text/event-stream", body), Raw(200, "text/event-stream", body)) as server:
        model = server.model("openai:gpt-4o", retry=RETRY_ONCE)
        with pytest.raises(ServerError) as info:
            list(model.stream(PROMPT))
    assert info.value.status == 502
    assert len(server.paths) == 2
