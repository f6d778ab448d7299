"""The shared Chat Completions translation: stream/non-stream equivalence, SSE and <think> parsing, edge cases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from chat_helpers import CASSETTES, completion_to_sse, fake_server
from hypothesis import given
from hypothesis import strategies as st

import podium.exceptions as podium_errors
from podium.messages import File, Image, Message, ModelResponse, ProviderPart, Text, Thinking, ToolCall, ToolResult
from podium.providers.chat_dialect import ChatDialect
from podium.providers.chat_stream import ChatTranslator, ThinkSplitter, usage_of
from podium.providers.chat_wire import build_body, messages_to_wire
from podium.providers.compatible import PRESETS, CompatibleChatModel
from podium.providers.groq import GroqModel
from podium.providers.openai import ChatCompletionsModel, OpenAIChatModel
from podium.settings import ModelSettings
from podium.testing.cassette import Cassette, ReplayServer

FAMILY = ("openai_chat", "deepseek", "openrouter", "groq")


def _json_responses() -> list[tuple[str, int]]:
    found = []
    for provider in FAMILY:
        for path in sorted((CASSETTES / provider).glob("*.yaml")):
            for index, item in enumerate(Cassette.load(path).interactions):
                if item.status == 200 and item.headers.get("content-type", "").startswith("application/json"):
                    found.append((f"{provider}/{path.name}", index))
    return found


def _model(provider: str, server: ReplayServer) -> ChatCompletionsModel:
    if provider == "groq":
        return GroqModel("m", base_url=server.url, api_key="k")
    if provider == "openai_chat":
        return OpenAIChatModel("gpt-4o", base_url=server.url + "/v1", api_key="k")
    return CompatibleChatModel(provider, "m", base_url=server.url + "/v1", api_key="k")


@pytest.mark.filterwarnings("ignore::podium.providers.pricing.UnknownPriceWarning")
@pytest.mark.parametrize(("name", "index"), _json_responses())
def test_stream_and_request_give_the_same_response(name: str, index: int) -> None:
    """Every recorded JSON response, also served as the stream the server would send: same ModelResponse."""
    provider = name.split("/")[0]
    data = Cassette.load(CASSETTES / name).interactions[index].json
    path = "/openai/v1/chat/completions" if provider == "groq" else "/v1/chat/completions"
    whole = (200, "application/json", json.dumps(data).encode())
    streamed = (200, "text/event-stream", completion_to_sse(data))
    with fake_server(whole, streamed, path=path) as server:
        m = _model(provider, server)
        response = m.request([Message.user("hi")])
        events = list(m.stream([Message.user("hi")]))
    final = events[-1]
    assert isinstance(final, ModelResponse)
    assert final == response
    assert response.parts, "a recorded response should translate to at least one part"


@given(st.text(alphabet="ab <>/thinkTHINK\n", max_size=30), st.lists(st.integers(1, 9), max_size=12))
def test_think_splitter_any_split(answer: str, cuts: list[int]) -> None:
    text = f"  <think>\nreason <b>bold</b></thin</think>{answer}"
    splitter = ThinkSplitter()
    pieces: list[tuple[bool, str]] = []
    position = 0
    for cut in cuts:
        pieces += splitter.feed(text[position : position + cut])
        position += cut
    pieces += splitter.feed(text[position:])
    pieces += splitter.flush()
    assert "".join(p for thinking, p in pieces if thinking) == "\nreason <b>bold</b></thin"
    assert "".join(p for thinking, p in pieces if not thinking) == answer


def test_think_splitter_ignores_late_tags_and_unclosed_blocks() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("Use <think> tags") == [(False, "Use <think> tags")]
    unclosed = ThinkSplitter()
    assert unclosed.feed("<think>still going") == [(True, "still going")]
    assert unclosed.flush() == []
    short = ThinkSplitter()
    assert short.feed("<thi") == []
    assert short.flush() == [(False, "<thi")]


def test_usage_counters() -> None:
    usage, extra = usage_of(
        {
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 30, "audio_tokens": 5},
            "completion_tokens_details": {"reasoning_tokens": 12, "accepted_prediction_tokens": 0},
            "prompt_cache_miss_tokens": 40,
            "queue_time": 0.5,
        }
    )
    assert (usage.input_tokens, usage.output_tokens, usage.requests) == (100, 20, 1)
    assert (usage.cache_read_tokens, usage.cache_write_tokens, usage.reasoning_tokens) == (60, 30, 12)
    assert usage.details == {"input_audio_tokens": 5, "prompt_cache_miss_tokens": 40}
    assert extra == {"queue_time": 0.5}


def test_refusal_annotations_audio_and_other_choices() -> None:
    dialect = PRESETS["vllm"].dialect
    translator = ChatTranslator(ChatDialect("openai"))
    translator.feed_completion(
        {
            "id": "x",
            "model": "gpt-4o",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "refusal": "I can't."}},
                {"index": 1, "finish_reason": "stop", "message": {"role": "assistant", "content": "other"}},
            ],
        }
    )
    refused = translator.build()
    assert refused.parts == (Text("I can't.", {"refusal": True}),)
    assert refused.finish_reason == "content_filter"
    assert (
        refused.provider_details is not None and refused.provider_details["choices"][0]["message"]["content"] == "other"
    )
    # a refusal goes back as a refusal, to the same provider only
    back = messages_to_wire([refused.to_message()], ChatDialect("openai"))
    assert back == [{"role": "assistant", "refusal": "I can't.", "content": ""}]

    translator = ChatTranslator(dialect)
    cite = [{"type": "url_citation", "url_citation": {"url": "https://x", "start_index": 0, "end_index": 1}}]
    audio = {"id": "audio_1", "data": "AAAA", "transcript": "hi", "expires_at": 1}
    translator.feed_completion(
        {
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"content": "hi", "annotations": cite, "audio": audio, "function_call": {"x": 1}},
                }
            ],
        }
    )
    response = translator.build()
    assert response.parts[0] == Text("hi", {"annotations": cite})
    assert response.parts[1] == ProviderPart("vllm", {"type": "audio", **audio})
    assert response.provider_details is not None and response.provider_details["message"] == {"function_call": {"x": 1}}
    wire = messages_to_wire([response.to_message()], dialect)
    assert wire == [{"role": "assistant", "content": "hi", "audio": {"id": "audio_1"}}]


def test_stream_tool_calls_reusing_index_zero_are_kept_apart() -> None:
    translator = ChatTranslator(ChatDialect("vllm"))
    for delta in (
        {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]},
        {"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}]},
    ):
        translator.feed_chunk({"model": "m", "choices": [{"index": 0, "delta": delta}]})
    calls = translator.build().tool_calls
    assert [(c.id, c.name, c.args) for c in calls] == [("a", "f", {"x": 1}), ("b", "g", {})]
    assert calls[0].provider_details is None  # '{"x": 1}' is what args_json gives back anyway


def test_unparsable_tool_arguments_are_kept_raw() -> None:
    translator = ChatTranslator(ChatDialect("openai"))
    translator.feed_completion(
        {
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "tool_calls": [
                            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
                        ]
                    },
                }
            ],
        }
    )
    call = translator.build().tool_calls[0]
    assert call.args == {} and call.raw_args == "{oops"
    assert (
        messages_to_wire([Message("assistant", [call], provider="openai")], ChatDialect("openai"))[0]["tool_calls"][0][
            "function"
        ]["arguments"]
        == "{oops"
    )


def test_history_from_another_provider() -> None:
    """Foreign thinking is dropped (or sent as text), foreign ids are mapped, media and errors in tool results."""
    png = Image(b"\x89PNG...", media_type="image/png")
    history = [
        Message.system("Be brief."),
        Message.user("Look", png, Image(url="https://example.com/a.png", provider_details={"detail": "low"})),
        Message(
            "assistant",
            [
                Thinking("secret plan", signature="sig", provider="anthropic"),
                Text("Checking."),
                ToolCall("toolu_01|weird", "look", {"q": 1}, provider_details={"arguments": "ignored"}),
            ],
            provider="anthropic",
        ),
        Message(
            "tool",
            [
                ToolResult(
                    "toolu_01|weird",
                    "look",
                    [Text("here:"), png, File(b"%PDF", media_type="application/pdf")],
                    is_error=True,
                )
            ],
        ),
    ]
    wire = messages_to_wire(history, ChatDialect("openai"))
    assert wire[0] == {"role": "system", "content": "Be brief."}
    assert wire[1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert wire[1]["content"][2] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/a.png", "detail": "low"},
    }
    assistant = wire[2]
    assert assistant["content"] == "Checking."
    assert "secret plan" not in json.dumps(assistant)
    mapped = assistant["tool_calls"][0]["id"]
    assert mapped != "toolu_01|weird" and len(mapped) == 24
    assert assistant["tool_calls"][0]["function"]["arguments"] == '{"q": 1}'  # foreign details not used
    tool = wire[3]
    assert tool["tool_call_id"] == mapped
    png_id, pdf_id = tool["content"].split("See file ")[1][:6], tool["content"].split("See file ")[2][:6]
    assert tool["content"] == f"Error: here:\nSee file {png_id}.\nSee file {pdf_id}."
    follow_up = wire[4]
    assert follow_up["role"] == "user"
    assert [p["type"] for p in follow_up["content"]] == ["text", "image_url", "text", "file"]
    assert follow_up["content"][0]["text"] == f"This is file {png_id}:"
    assert follow_up["content"][3]["file"]["filename"] == "file.pdf"
    as_text = messages_to_wire(history, ChatDialect("openai"), ModelSettings(foreign_thinking="text"))
    assert as_text[2]["content"] == "<thinking>\nsecret plan\n</thinking>Checking."


def test_a_foreign_turn_with_only_thinking_is_left_out() -> None:
    """After its thinking is dropped nothing is left of another provider's turn; no empty message is sent."""
    thinking_only = Message("assistant", [Thinking("hmm", signature="s", provider="anthropic")], provider="anthropic")
    history = [Message.user("hi"), thinking_only, Message.user("again?")]
    for dialect in (ChatDialect("openai"), PRESETS["deepseek"].dialect, PRESETS["openrouter"].dialect):
        assert [m["role"] for m in messages_to_wire(history, dialect)] == ["user", "user"]
    as_text = messages_to_wire(history, ChatDialect("openai"), ModelSettings(foreign_thinking="text"))
    assert as_text[1] == {"role": "assistant", "content": "<thinking>\nhmm\n</thinking>"}
    own_empty = Message("assistant", [Text("")], provider="openai")
    assert messages_to_wire([own_empty], ChatDialect("openai")) == [{"role": "assistant", "content": ""}]


def test_a_file_with_an_image_type_goes_as_an_image() -> None:
    photo = File(data=b"\x89PNG", media_type="image/png", filename="p.png")
    [message] = messages_to_wire([Message.user("look", photo)], ChatDialect("openai"))
    assert message["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}


def test_settings_map_to_the_wire() -> None:
    from podium.settings import OutputSchema, ToolDefinition

    tool = ToolDefinition("f", "does f", {"type": "object", "properties": {}})
    body = build_body(
        "m",
        [Message.user("hi")],
        ChatDialect("openai", max_tokens_field="max_completion_tokens"),
        tools=[tool],
        settings=ModelSettings(
            temperature=0.1,
            top_p=0.9,
            max_tokens=50,
            stop=["END"],
            seed=7,
            tool_choice="f",
            parallel_tool_calls=False,
            extra={"openai": {"logprobs": True}, "anthropic": {"top_k": 3}},
        ),
        output=OutputSchema("answer", {"type": "object"}, description="The answer."),
        stream=True,
    )
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {"type": "function", "function": {"name": "f", "description": "does f", "parameters": tool.parameters}}
        ],
        "temperature": 0.1,
        "top_p": 0.9,
        "max_completion_tokens": 50,
        "stop": ["END"],
        "seed": 7,
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": False,
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "schema": {"type": "object", "additionalProperties": False},  # closed for strict mode
                "strict": True,
                "description": "The answer.",
            },
        },
        "stream": True,
        "stream_options": {"include_usage": True},
        "logprobs": True,
    }


def test_timeout_reaches_the_sdk() -> None:
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from podium.exceptions import ProviderTimeoutError
    from podium.providers.retry import RetryPolicy

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(1.0)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        m = OpenAIChatModel("gpt-4o", base_url=url, api_key="k", retry=RetryPolicy(max_retries=0))
        started = time.perf_counter()
        with pytest.raises(ProviderTimeoutError):
            m.request([Message.user("hi")], settings=ModelSettings(timeout=0.2))
        assert time.perf_counter() - started < 0.9
    finally:
        server.shutdown()
        server.server_close()


def test_connection_refused_is_a_connection_error() -> None:
    import socket

    from podium.exceptions import ProviderConnectionError
    from podium.providers.retry import RetryPolicy

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    m = GroqModel("m", base_url=f"http://127.0.0.1:{port}", api_key="k", retry=RetryPolicy(max_retries=0))
    with pytest.raises(ProviderConnectionError):
        m.request([Message.user("hi")])
    o = OpenAIChatModel("m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", retry=RetryPolicy(max_retries=0))
    with pytest.raises(ProviderConnectionError):
        list(o.stream([Message.user("hi")]))


def test_import_podium_does_not_import_the_sdks() -> None:
    code = (
        "import sys, podium; podium.Message; podium.model;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'groq', 'httpx', 'httpx2')"
        " or m.startswith('podium.providers.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd())
    loaded = eval(out.stdout)
    assert [m for m in loaded if not m.startswith("podium.providers.")] == []
    assert "podium.providers.openai" not in loaded and "podium.providers.groq" not in loaded


def test_strict_output_schema_is_closed_or_downgraded() -> None:
    from podium.providers.chat_wire import strict_schema
    from podium.settings import OutputSchema

    closed = {
        "type": "object",
        "properties": {
            "properties": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        },
        "required": ["properties", "items"],
        "$defs": {
            "Item": {"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 2]}}, "required": ["n"]}
        },
    }
    strict = strict_schema(closed)
    assert strict is not None
    assert strict["additionalProperties"] is False
    assert strict["$defs"]["Item"]["additionalProperties"] is False
    assert strict["properties"]["properties"] == {"type": "string"}
    assert "additionalProperties" not in closed  # the input is not modified
    optional = {"type": "object", "properties": {"a": {"type": "string"}}, "required": []}
    assert strict_schema(optional) is None
    body = build_body("m", [Message.user("hi")], ChatDialect("openai"), output=OutputSchema("o", optional))
    assert body["response_format"]["json_schema"]["strict"] is False
    body = build_body("m", [Message.user("hi")], ChatDialect("openai"), output=OutputSchema("o", closed))
    assert body["response_format"]["json_schema"] == {"name": "o", "schema": strict, "strict": True}


def test_stop_as_a_single_string() -> None:
    body = build_body("m", [Message.user("hi")], ChatDialect("openai"), settings=ModelSettings(stop="END"))  # type: ignore[arg-type]
    assert body["stop"] == ["END"]


def test_stream_opening_is_retried_but_not_a_started_stream() -> None:
    from podium.exceptions import ServerError
    from podium.providers.retry import RetryPolicy

    data = Cassette.load(CASSETTES / "openai_chat" / "test_valid_response.yaml").interactions[0].json
    failure = (500, "application/json", b'{"error": {"message": "boom"}}')
    with fake_server(failure, (200, "text/event-stream", completion_to_sse(data))) as server:
        m = OpenAIChatModel("gpt-4o", base_url=server.url + "/v1", api_key="k", retry=RetryPolicy(2, 0.0))
        final = list(m.stream([Message.user("hi")]))[-1]
        assert len(server.received) == 2
    assert isinstance(final, ModelResponse) and final.text == "The capital of France is Paris."

    broken = b'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: {"choi'
    with fake_server((200, "text/event-stream", broken)) as server:
        m = OpenAIChatModel("gpt-4o", base_url=server.url + "/v1", api_key="k", retry=RetryPolicy(2, 0.0))
        seen: list[object] = []
        with pytest.raises(podium_errors.IncompleteStreamError, match="end marker") as info:
            seen.extend(m.stream([Message.user("hi")]))
        assert len(server.received) == 1  # data had arrived: no retry
        assert info.value.partial is not None and info.value.partial.text == "Hi"  # what the caller had seen
    with fake_server((500, "application/json", b'{"error": {"message": "boom"}}')) as server:
        m = OpenAIChatModel("gpt-4o", base_url=server.url + "/v1", api_key="k", retry=RetryPolicy(0))
        with pytest.raises(ServerError, match="boom"):
            list(m.stream([Message.user("hi")]))


def test_given_http_clients_are_used_for_every_request() -> None:
    import asyncio

    import httpx2

    data = Cassette.load(CASSETTES / "openai_chat" / "test_valid_response.yaml").interactions[0].json
    whole = (200, "application/json", json.dumps(data).encode())
    seen: list[str] = []
    with fake_server(whole, whole, whole) as server:
        client = httpx2.Client(event_hooks={"request": [lambda r: seen.append("sync")]})
        m = OpenAIChatModel("gpt-4o", base_url=server.url + "/v1", api_key="sk-given", http_client=client)
        assert m.http.client is client
        assert m.request([Message.user("hi")]).text == "The capital of France is Paris."

        async def ask() -> str:
            return (await m.arequest([Message.user("hi")])).text

        # two event loops in a row: each gets its own async client (a shared one would fail on the second)
        assert asyncio.run(ask()) == asyncio.run(ask()) == "The capital of France is Paris."
        assert [r.headers["authorization"] for r in server.received] == ["Bearer sk-given"] * 3
    assert seen == ["sync"]  # the given client carried the sync request, made clients the async ones


def test_given_async_http_client_is_used() -> None:
    import asyncio

    import httpx2

    data = Cassette.load(CASSETTES / "openai_chat" / "test_valid_response.yaml").interactions[0].json
    whole = (200, "application/json", json.dumps(data).encode())
    seen: list[str] = []

    async def hook(request: httpx2.Request) -> None:
        seen.append(request.url.path)

    async def ask(m: OpenAIChatModel) -> str:
        return (await m.arequest([Message.user("hi")])).text

    with fake_server(whole) as server:
        client = httpx2.AsyncClient(event_hooks={"request": [hook]})
        m = OpenAIChatModel("gpt-4o", base_url=server.url + "/v1", api_key="k", async_http_client=client)
        assert asyncio.run(ask(m)) == "The capital of France is Paris."
    assert seen == ["/v1/chat/completions"]


def test_profiles() -> None:
    from podium.providers.chat_profiles import deepseek_profile, groq_profile, openai_profile, openrouter_profile

    assert openai_profile("gpt-4o").vision and openai_profile("gpt-4o").structured_output
    assert openai_profile("gpt-4.1-mini").context_window == 1_047_576
    assert openai_profile("o1-mini").tools is False
    assert openai_profile("o3").thinking and openai_profile("gpt-5-mini").thinking
    assert not openai_profile("gpt-5-chat-latest").thinking
    assert deepseek_profile("deepseek-reasoner").thinking and not deepseek_profile("deepseek-chat").thinking
    assert groq_profile("openai/gpt-oss-120b").structured_output
    assert openrouter_profile("anthropic/claude-sonnet-4.6").vision
    assert openrouter_profile("openai/gpt-4o") == openai_profile("gpt-4o")
