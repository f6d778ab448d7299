"""The Anthropic and OpenAI Responses providers on Podium's own transport, without their SDKs.

What the SDKs did for them is done by Podium and checked here on a loopback server: the URL, the
credentials and version headers, the SDKs' environment variables, client options (a ready ``httpx2``
client is used), long Anthropic requests made as streams, and no SDK module imported at all.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import httpx2
import pytest
from _replay import CASSETTES, synthetic

from podium.exceptions import IncompleteStreamError, InvalidResponseError, UserError
from podium.messages import Message, ModelResponse
from podium.providers.anthropic import AnthropicModel
from podium.providers.anthropic_wire import needs_stream
from podium.providers.openai_responses import OpenAIResponsesModel
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings, OutputSchema
from podium.testing.cassette import ReplayServer

JSON_TYPE = {"content-type": "application/json"}
SSE_TYPE = {"content-type": "text/event-stream"}
HI = [Message.user("hi")]
ANTHROPIC_ANSWER = (
    ReplayServer(CASSETTES / "anthropic/test_anthropic_sampling_settings_reach_the_wire.yaml").interactions[0].body
)
RESPONSES_ANSWER = (
    ReplayServer(CASSETTES / "openai_responses/test_openai_responses_model_simple_response.yaml").interactions[0].body
)
CREDENTIAL_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_CUSTOM_HEADERS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_CUSTOM_HEADERS",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def anthropic_server(*bodies: bytes) -> ReplayServer:
    return ReplayServer(synthetic("/v1/messages", *[(200, JSON_TYPE, body) for body in bodies or [ANTHROPIC_ANSWER]]))


def responses_server() -> ReplayServer:
    return ReplayServer(synthetic("/v1/responses", (200, JSON_TYPE, RESPONSES_ANSWER)))


def sent_headers(make: Any, server: ReplayServer) -> dict[str, str]:
    """The headers of the one request ``make(server)`` sends."""
    with server:
        make(server).request(HI)
        (received,) = server.received
    return received.headers


# --------------------------------------------------------------------------- Anthropic credentials and headers


def test_anthropic_sends_its_key_version_and_path() -> None:
    with anthropic_server() as server:
        response = AnthropicModel("claude-haiku-4-5", base_url=server.url, api_key="sk-ant-test").request(HI)
        (received,) = server.received
    assert response.text.startswith("Hello!")
    assert (received.method, received.path, received.query) == ("POST", "/v1/messages", "")
    headers = received.headers
    assert headers["x-api-key"] == "sk-ant-test"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json"
    assert "authorization" not in headers
    assert received.json["stream"] is False


@pytest.mark.parametrize(
    ("environment", "arguments", "expected"),
    [
        ({"ANTHROPIC_API_KEY": "env-key"}, {}, ("x-api-key", "env-key")),
        ({"ANTHROPIC_AUTH_TOKEN": "env-token"}, {}, ("authorization", "Bearer env-token")),
        ({"ANTHROPIC_API_KEY": "env-key", "ANTHROPIC_AUTH_TOKEN": "env-token"}, {}, ("x-api-key", "env-key")),
        ({"ANTHROPIC_API_KEY": "env-key"}, {"auth_token": "arg-token"}, ("authorization", "Bearer arg-token")),
        ({"ANTHROPIC_AUTH_TOKEN": "env-token"}, {"api_key": "arg-key"}, ("x-api-key", "arg-key")),
    ],
    ids=["env-key", "env-token", "env-key-wins", "explicit-token-alone", "explicit-key-alone"],
)
def test_anthropic_credentials_are_read_as_the_sdk_reads_them(
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    arguments: dict[str, str],
    expected: tuple[str, str],
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    headers = sent_headers(
        lambda s: AnthropicModel("claude-haiku-4-5", base_url=s.url, **arguments), anthropic_server()
    )
    name, value = expected
    assert headers[name] == value
    other = "authorization" if name == "x-api-key" else "x-api-key"
    assert other not in headers, "one credential is sent, never both"


def test_anthropic_base_url_and_custom_headers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Gateway: team-a\nnot a header\nanthropic-beta: b1")
    with anthropic_server() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url + "/")
        model = AnthropicModel("claude-haiku-4-5", default_headers={"anthropic-beta": "mine"})
        assert model.base_url == server.url
        model.request(HI)
        (received,) = server.received
    assert received.path == "/v1/messages"
    assert received.headers["x-gateway"] == "team-a"
    assert received.headers["anthropic-beta"] == "mine", "default_headers= win over the environment's"


@pytest.mark.parametrize("provider", ["anthropic", "openai-responses"])
def test_a_header_given_in_another_case_replaces_podiums_and_is_sent_once(
    monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    sent: list[list[tuple[str, str]]] = []
    client = httpx2.Client(event_hooks={"request": [lambda request: sent.append(request.headers.multi_items())]})
    mine = {"Accept": "application/json; q=1", "Anthropic-Version": "2099-01-01", "OpenAI-Project": "proj-mine"}
    if provider == "anthropic":
        monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "Anthropic-Version: 2001-01-01")
        server = anthropic_server()
    else:
        monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "OpenAI-Organization: org-custom")
        monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
        server = responses_server()
    with server:
        options = {"api_key": "k", "http_client": client, "default_headers": mine, "project": "proj-arg"}
        if provider == "anthropic":
            del options["project"]
            model: Any = AnthropicModel("claude-haiku-4-5", base_url=server.url, **options)
        else:
            model = OpenAIResponsesModel("gpt-4o", base_url=server.url + "/v1", **options)
        model.request(HI)
    client.close()
    (items,) = sent
    values: dict[str, list[str]] = {}
    for name, value in items:
        values.setdefault(name.lower(), []).append(value)
    assert values["accept"] == ["application/json; q=1"]
    if provider == "anthropic":
        assert values["anthropic-version"] == ["2099-01-01"]
    else:
        assert values["openai-organization"] == ["org-custom"], "OPENAI_CUSTOM_HEADERS win over OPENAI_ORG_ID"
        assert values["openai-project"] == ["proj-mine"], "default_headers win over project="
    assert all(len(v) == 1 for v in values.values()), values


def test_anthropic_own_credential_header_needs_no_key() -> None:
    headers = sent_headers(
        lambda s: AnthropicModel("claude-haiku-4-5", base_url=s.url, default_headers={"Authorization": "Bearer gw"}),
        anthropic_server(),
    )
    assert headers["authorization"] == "Bearer gw"
    assert "x-api-key" not in headers


def test_anthropic_without_credentials_fails_at_the_first_request_not_before() -> None:
    with anthropic_server() as server:
        model = AnthropicModel("claude-haiku-4-5", base_url=server.url)  # made without a key: fine
        with pytest.raises(UserError, match="ANTHROPIC_API_KEY"):
            model.request(HI)
        assert server.received == [], "nothing is sent without a credential"
        server.unplayed.clear()


def test_an_sdk_client_option_is_refused_with_the_options_there_are() -> None:
    with pytest.raises(UserError) as info:
        AnthropicModel("claude-haiku-4-5", api_key="k", client=object())
    assert "client" in str(info.value) and "http_client" in str(info.value)
    with pytest.raises(UserError, match="unknown option"):
        OpenAIResponsesModel("gpt-5", api_key="k", max_retries=3)


# --------------------------------------------------------------------------- OpenAI Responses credentials and headers


def test_responses_sends_bearer_key_organization_and_project() -> None:
    headers = sent_headers(
        lambda s: OpenAIResponsesModel(
            "gpt-4o", base_url=s.url + "/v1", api_key="sk-test", organization="org-1", project="proj-1"
        ),
        responses_server(),
    )
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["openai-organization"] == "org-1"
    assert headers["openai-project"] == "proj-1"


def test_responses_reads_the_sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "env-key")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-env")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Team: blue")
    with responses_server() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        model = OpenAIResponsesModel("gpt-4o", project="proj-arg")
        response = model.request(HI)
        (received,) = server.received
    assert response.text
    assert received.path == "/v1/responses"
    headers = received.headers
    assert headers["authorization"] == "Bearer env-key"
    assert headers["openai-organization"] == "org-env"
    assert headers["openai-project"] == "proj-arg", "an argument wins over the environment"
    assert headers["x-team"] == "blue"
    assert received.json["stream"] is False


def test_responses_without_a_key_says_how_to_set_one() -> None:
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        OpenAIResponsesModel("gpt-5", base_url="http://127.0.0.1:9/v1").request(HI)


# --------------------------------------------------------------------------- client options


@pytest.mark.parametrize("provider", ["anthropic", "openai-responses"])
def test_a_given_http_client_is_the_one_used(provider: str) -> None:
    seen: list[str] = []

    def record(request: httpx2.Request) -> None:
        seen.append(f"sync {request.url.path}")

    async def arecord(request: httpx2.Request) -> None:
        seen.append(f"async {request.url.path}")

    sync_client = httpx2.Client(event_hooks={"request": [record]})
    async_client = httpx2.AsyncClient(event_hooks={"request": [arecord]})
    options = {"api_key": "k", "http_client": sync_client, "async_http_client": async_client}
    if provider == "anthropic":
        server, path = anthropic_server(ANTHROPIC_ANSWER, ANTHROPIC_ANSWER), "/v1/messages"
    else:
        body = RESPONSES_ANSWER
        server, path = ReplayServer(synthetic("/v1/responses", *[(200, JSON_TYPE, body)] * 2)), "/v1/responses"
    with server:
        if provider == "anthropic":
            model: Any = AnthropicModel("claude-haiku-4-5", base_url=server.url, **options)
        else:
            model = OpenAIResponsesModel("gpt-4o", base_url=server.url + "/v1", **options)
        first = model.request(HI)

        async def second_async() -> ModelResponse:
            try:
                return await model.arequest(HI)
            finally:
                await async_client.aclose()

        second = asyncio.run(second_async())
    sync_client.close()
    assert first == second
    assert seen == [f"sync {path}", f"async {path}"]


# --------------------------------------------------------------------------- long Anthropic requests stream


def _stream_of(message: dict[str, Any], *, cut: bool = False) -> bytes:
    start = {**message, "content": [], "stop_reason": None}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": message["content"][0]["text"]},
        },
    ]
    if not cut:
        events += [
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 16}},
            {"type": "message_stop"},
        ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def test_the_sdk_rule_for_requests_that_must_stream() -> None:
    # an hour for 128,000 tokens, at most ten minutes without a stream: 21,333 tokens
    assert not needs_stream("claude-sonnet-4-5", 21_333)
    assert needs_stream("claude-sonnet-4-5", 21_334)
    # Opus 4 and 4.1 take at most 8,192 tokens without a stream
    assert not needs_stream("claude-opus-4-0", 8_192)
    assert needs_stream("claude-opus-4-0", 8_193)
    assert needs_stream("claude-opus-4-1@20250805", 8_193)
    assert not needs_stream("claude-opus-4-5", 8_193)
    assert not needs_stream("claude-sonnet-4-5", "lots")  # not a number: the API says what is wrong


def test_a_long_async_request_streams_and_a_cut_stream_is_retried_whole() -> None:
    message = json.loads(ANTHROPIC_ANSWER)
    cassette = synthetic(
        "/v1/messages",
        (200, SSE_TYPE, _stream_of(message, cut=True)),
        (200, SSE_TYPE, _stream_of(message)),
        (200, SSE_TYPE, _stream_of(message)),
    )
    settings = ModelSettings(max_tokens=32_000)
    with ReplayServer(cassette) as server:
        retry = RetryPolicy(max_retries=1, initial_delay=0.0, jitter=0.0)
        model = AnthropicModel("claude-haiku-4-5", base_url=server.url, api_key="k", retry=retry)
        response = asyncio.run(model.arequest(HI, settings=settings))  # the cut stream is retried
        again = model.request(HI, settings=settings)
        bodies = [r.json for r in server.received]
    assert [b["stream"] for b in bodies] == [True, True, True]
    assert [b["max_tokens"] for b in bodies] == [32_000] * 3
    assert isinstance(response, ModelResponse)
    assert response == again
    assert response.text == message["content"][0]["text"]
    assert (response.finish_reason, response.usage.output_tokens) == ("stop", 16)


def test_a_long_request_whose_stream_is_cut_fails_as_an_incomplete_stream() -> None:
    message = json.loads(ANTHROPIC_ANSWER)
    with ReplayServer(synthetic("/v1/messages", (200, SSE_TYPE, _stream_of(message, cut=True)))) as server:
        model = AnthropicModel("claude-haiku-4-5", base_url=server.url, api_key="k", retry=RetryPolicy(max_retries=0))
        with pytest.raises(IncompleteStreamError, match="message_stop"):
            model.request(HI, settings=ModelSettings(max_tokens=64_000))


def test_the_output_tool_is_known_to_streams_and_to_long_requests() -> None:
    """On a model without JSON-schema output the answer comes as a call of the output tool: text, not a call."""
    events = [
        {"type": "message_start", "message": {"id": "m", "model": "claude-3-5-haiku-20241022", "content": []}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "City"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"city"'}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ':"Rome"}'}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    stream = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
    city = OutputSchema("City", {"type": "object", "properties": {"city": {"type": "string"}}})
    with ReplayServer(synthetic("/v1/messages", *[(200, SSE_TYPE, stream)] * 2)) as server:
        model = AnthropicModel("claude-3-5-haiku-latest", base_url=server.url, api_key="k")
        streamed = list(model.stream(HI, output=city))
        long = model.request(HI, output=city, settings=ModelSettings(max_tokens=30_000))
        bodies = [r.json for r in server.received]
    assert [b["tool_choice"] for b in bodies] == [{"type": "tool", "name": "City"}] * 2
    assert len(streamed) == 1, "the output tool's call is not shown as tool-call deltas"
    for response in (streamed[-1], long):
        assert isinstance(response, ModelResponse)
        assert json.loads(response.text) == {"city": "Rome"}
        assert not response.tool_calls


# --------------------------------------------------------------------------- answers that are not the API's


@pytest.mark.parametrize("provider", ["anthropic", "openai-responses"])
def test_json_that_is_not_an_object_is_an_invalid_response(provider: str) -> None:
    path = "/v1/messages" if provider == "anthropic" else "/v1/responses"
    with ReplayServer(synthetic(path, (200, JSON_TYPE, b'["not", "an", "answer"]'))) as server:
        once = RetryPolicy(max_retries=0)
        if provider == "anthropic":
            model: Any = AnthropicModel("claude-haiku-4-5", base_url=server.url, api_key="k", retry=once)
        else:
            model = OpenAIResponsesModel("gpt-4o", base_url=server.url + "/v1", api_key="k", retry=once)
        with pytest.raises(InvalidResponseError, match="not an object"):
            model.request(HI)


def test_neither_sdk_is_imported_to_talk_to_either_api() -> None:
    code = (
        "import sys\n"
        "from podium.providers.anthropic import AnthropicModel\n"
        "from podium.providers.openai_responses import OpenAIResponsesModel\n"
        "AnthropicModel('claude-haiku-4-5', api_key='k'); OpenAIResponsesModel('gpt-5', api_key='k')\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('anthropic', 'openai')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
