"""OpenAI-compatible presets: the openrouter and deepseek cassettes through the official openai SDK."""

from __future__ import annotations

import json

import pytest
from chat_helpers import MISSING, assert_same_request, cassette, fake_server, recorded_tools, replay

import podium
from podium.exceptions import RateLimitError, UserError
from podium.messages import CachePoint, File, Image, Message, Text, Thinking, ToolCall, ToolResult
from podium.providers.compatible import PRESETS, CompatibleChatModel
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings
from podium.streaming import TextDelta, ThinkingDelta
from podium.testing.cassette import ReplayServer

STREAM_FALSE = {("stream",): (MISSING, False)}


def preset(name: str, server: ReplayServer, model_name: str, suffix: str = "", **kw: object) -> CompatibleChatModel:
    return CompatibleChatModel(name, model_name, base_url=server.url + suffix, api_key="k", **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- DeepSeek


def test_deepseek_reasoning_content_and_cache_usage() -> None:
    with replay(cassette("deepseek", "test_deepseek_model_thinking_part.yaml")) as server:
        response = preset("deepseek", server, "deepseek-reasoner").request([Message.user("How do I cross the street?")])
        assert_same_request(
            server.received[0].json, server.interactions[0].request.body, {**STREAM_FALSE, ("n",): (MISSING, 1)}
        )
    recorded = server.interactions[0].json["choices"][0]["message"]
    thinking, text = response.parts
    assert isinstance(thinking, Thinking) and isinstance(text, Text)
    assert thinking.text == recorded["reasoning_content"]
    assert thinking.provider == "deepseek"
    assert text.text == recorded["content"]
    assert response.usage.output_tokens == 789
    assert response.usage.reasoning_tokens == 415
    assert response.usage.details == {"prompt_cache_miss_tokens": 12}


def test_deepseek_reasoning_sent_back_across_tool_call_turns() -> None:
    """Three turns; DeepSeek needs reasoning_content on every assistant tool-call message ("" when none)."""
    path = cassette("deepseek", "test_deepseek_deferred_capability_with_thinking.yaml")
    with replay(path) as server:
        m = preset("deepseek", server, "deepseek-reasoner")
        settings = ModelSettings(tool_choice="auto")
        history = [
            Message.system(
                "You're a dice game, you should roll the die and see if the number you get back matches the "
                "user's guess. If so, tell them they're a winner. Use the player's name in the response."
            ),
            Message.system(
                "The following capabilities are deferred and can be loaded using the `load_capability` tool:\n"
                "- DICE_ROLL"
            ),
            Message.user("My guess is 4"),
        ]
        first = m.request(history, tools=recorded_tools(server.interactions[0].request.body), settings=settings)
        assert isinstance(first.parts[0], Thinking) and first.parts[0].text.startswith("The user wants to play")
        assert first.text == "Let me load the dice rolling capability!"
        assert first.tool_calls == [
            ToolCall("call_00_sXqYgMESDht75NCLLZtt9804", "load_capability", {"id": "DICE_ROLL"})
        ]
        assert (first.usage.input_tokens, first.usage.cache_read_tokens, first.usage.reasoning_tokens) == (563, 512, 60)
        # the recording framework then injected a tool call of its own (not from the model, no reasoning)
        injected = Message(
            "assistant", [ToolCall("auto_load_eb5fc31bb581b4e7", "search_tools", {"queries": ["DICE_ROLL"]})]
        )
        discovered = (
            '{"discovered_tools":[{"name":"get_player_name","description":"Get the player\'s name."},'
            '{"name":"roll_dice","description":"Roll a six-sided die and return the result."}]}'
        )
        history += [
            first.to_message(),
            Message("tool", [ToolResult(first.tool_calls[0].id, "load_capability", [Text("{}")])]),
            injected,
            Message("tool", [ToolResult("auto_load_eb5fc31bb581b4e7", "search_tools", [Text(discovered)])]),
        ]
        second = m.request(history, tools=recorded_tools(server.interactions[1].request.body), settings=settings)
        assert [c.name for c in second.tool_calls] == ["get_player_name", "roll_dice"]
        history += [
            second.to_message(),
            Message(
                "tool",
                [
                    ToolResult(second.tool_calls[0].id, "get_player_name", [Text("Anne")]),
                    ToolResult(second.tool_calls[1].id, "roll_dice", [Text("4")]),
                ],
            ),
        ]
        third = m.request(history, tools=recorded_tools(server.interactions[2].request.body), settings=settings)
        for i in range(3):
            # the injected message was serialized with a compact argument string by the recorder
            listed = dict(STREAM_FALSE)
            if i > 0:
                listed[("messages", 5, "tool_calls", 0, "function", "arguments")] = (
                    '{"queries": ["DICE_ROLL"]}',
                    '{"queries":["DICE_ROLL"]}',
                )
            assert_same_request(server.received[i].json, server.interactions[i].request.body, listed)
    sent = server.received[2].json["messages"]
    assert sent[3]["reasoning_content"].startswith("The user wants to play")
    assert sent[5]["reasoning_content"] == ""
    assert "Congratulations, Anne" in third.text
    assert third.finish_reason == "stop"


@pytest.mark.parametrize(
    ("part", "kind"),
    [
        (Image(data=b"\x89PNG", media_type="image/png"), "images: remove the Image parts"),
        (
            File(data=b"%PDF-1.4", media_type="application/pdf", filename="a.pdf"),
            "application/pdf files: remove the File",
        ),
    ],
)
def test_deepseek_takes_no_media_and_says_so_before_sending(part: Image | File, kind: str) -> None:
    """DeepSeek's API reads text only: images and binary files fail here, in a user message or a tool result."""
    in_result = [
        Message.user("go"),
        Message("assistant", [ToolCall("call_1", "look", {})], provider="openai"),
        Message("tool", [ToolResult("call_1", "look", [Text("see"), part])]),
    ]
    for history in ([Message.user("what is this?", part)], in_result):
        with fake_server(path="/chat/completions") as server:
            m = preset("deepseek", server, "deepseek-chat", retry=RetryPolicy(max_retries=0))
            with pytest.raises(UserError, match=f"deepseek takes no {kind}"):
                m.request(history)
            assert server.received == []


def test_deepseek_inlines_text_files() -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}
    with fake_server((200, "application/json", json.dumps(body).encode()), path="/chat/completions") as server:
        note = File(data=b"hello", media_type="text/plain", filename="note.txt")
        preset("deepseek", server, "deepseek-chat").request([Message.user("read", note)])
    assert server.received[0].json["messages"][0]["content"][1] == {
        "type": "text",
        "text": "<file name='note.txt'>\nhello\n</file>",
    }


# --------------------------------------------------------------------------- OpenRouter


def test_openrouter_cache_control_and_cache_usage() -> None:
    path = cassette("openrouter", "test_openrouter_cache_messages_anthropic_real_api.yaml")
    with replay(path) as server:
        recorded = server.interactions[0].request.body
        long_text = recorded["messages"][1]["content"][0]["text"]
        m = preset("openrouter", server, "anthropic/claude-sonnet-4.6", "/api/v1")
        settings = ModelSettings(
            max_tokens=100, extra={"openrouter": {"provider": {"allow_fallbacks": False, "order": ["anthropic"]}}}
        )
        system = Message.system("You are a helpful assistant.")
        first = m.request([system, Message.user(long_text, CachePoint(ttl="5m"))], settings=settings)
        assert first.finish_reason == "length"
        history = [
            system,
            Message.user(long_text),
            first.to_message(),
            Message.user("Can you summarize that in one sentence?", CachePoint(ttl="5m")),
        ]
        second = m.request(history, settings=settings)
        for i in range(2):
            assert_same_request(server.received[i].json, server.interactions[i].request.body, STREAM_FALSE)
    assert first.usage.cache_write_tokens == 3211
    assert (second.usage.input_tokens, second.usage.cache_read_tokens, second.usage.cache_write_tokens) == (
        3329,
        3211,
        115,
    )
    assert second.finish_reason == "stop"
    # OpenRouter reports what it charged: that is the cost
    assert second.cost == pytest.approx(0.00219855)
    assert second.provider_details is not None
    assert second.provider_details["provider"] == "Anthropic"
    assert second.provider_details["native_finish_reason"] == "stop"
    assert second.provider_details["usage"]["cost_details"]["upstream_inference_cost"] == pytest.approx(0.00219855)


def test_openrouter_reasoning_details_kept_and_sent_back() -> None:
    path = cassette("openrouter", "test_openrouter_preserve_reasoning_block.yaml")
    with replay(path) as server:
        m = preset("openrouter", server, "openai/gpt-5-mini", "/api/v1")
        first = m.request([Message.user("Hello!")])
        question = "What was the impact of Voltaire's writings on modern french culture?"
        history = [Message.user("Hello!"), first.to_message(), Message.user(question)]
        second = m.request(history)
        for i in range(2):
            assert_same_request(server.received[i].json, server.interactions[i].request.body, STREAM_FALSE)
    recorded = server.interactions[1].json["choices"][0]["message"]
    thinking = second.thinking[0]
    assert thinking.text == recorded["reasoning"]
    assert thinking.provider == "openrouter"
    assert thinking.provider_details == {"reasoning_details": recorded["reasoning_details"]}
    assert second.usage.reasoning_tokens == 704
    # a third turn sends the reasoning_details back verbatim (encrypted item included)
    body = m.build_body([*history, second.to_message(), Message.user("Thanks")])
    assert body["messages"][3]["reasoning_details"] == recorded["reasoning_details"]
    assert body["messages"][3]["content"] == recorded["content"]
    # and another provider never receives them
    deepseek = CompatibleChatModel("deepseek", "deepseek-chat", api_key="k")
    assert "reasoning_details" not in deepseek.build_body([*history, second.to_message()])["messages"][3]


def test_openrouter_429_retried_then_rate_limit_error() -> None:
    with replay(cassette("openrouter", "test_openrouter_errors_raised.yaml")) as server:
        m = preset("openrouter", server, "google/gemini-2.0-flash-exp:free", "/api/v1", retry=RetryPolicy(2, 0.0))
        with pytest.raises(RateLimitError) as info:
            m.request([Message.system("Be helpful."), Message.user("Tell me a joke.")])
        assert len(server.received) == 3  # the first attempt and two retries, as recorded
        for request in server.received:
            assert_same_request(request.json, server.interactions[0].request.body, STREAM_FALSE)
    error = info.value
    assert error.status == 429
    assert error.retryable
    assert "temporarily rate-limited upstream" in str(error)
    assert "Google" in str(error)
    assert error.body["user_id"] == "user_2wT5ElBE4Es3R4QrNLpZiXICmQP"


def test_openrouter_stream_comments_reasoning_and_mid_stream_error() -> None:
    chunks = [
        b": OPENROUTER PROCESSING\n\n",
        b'data: {"id":"gen-1","model":"openai/gpt-5-mini","provider":"OpenAI","choices":[{"index":0,"delta":'
        b'{"role":"assistant","content":"","reasoning":"Think","reasoning_details":[{"type":"reasoning.text",'
        b'"text":"Think","index":0,"format":"unknown"}]},"finish_reason":null}]}\n\n',
        b": OPENROUTER PROCESSING\n\n",
        b'data: {"id":"gen-1","model":"openai/gpt-5-mini","provider":"OpenAI","choices":[{"index":0,"delta":'
        b'{"content":"","reasoning":"ing.","reasoning_details":[{"type":"reasoning.text","text":"ing.","index":0,'
        b'"format":"unknown"}]},"finish_reason":null}]}\n\n',
        b'data: {"id":"gen-1","model":"openai/gpt-5-mini","provider":"OpenAI","choices":[{"index":0,"delta":'
        b'{"content":"Hi!"},"finish_reason":"stop","native_finish_reason":"completed"}]}\n\n',
        b'data: {"id":"gen-1","model":"openai/gpt-5-mini","provider":"OpenAI","choices":[],"usage":'
        b'{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14,"cost":0.0001,'
        b'"completion_tokens_details":{"reasoning_tokens":4}}}\n\n',
        b"data: [DONE]\n\n",
    ]
    with fake_server((200, "text/event-stream", b"".join(chunks)), path="/api/v1/chat/completions") as server:
        m = preset("openrouter", server, "openai/gpt-5-mini", "/api/v1")
        events = list(m.stream([Message.user("hi")]))
        assert server.received[0].json["stream_options"] == {"include_usage": True}
    final = events[-1]
    assert [type(e) for e in events[:-1]] == [ThinkingDelta, ThinkingDelta, TextDelta]
    assert isinstance(final, podium.ModelResponse)
    assert final.thinking[0].text == "Thinking."
    assert final.thinking[0].provider_details == {
        "reasoning_details": [{"type": "reasoning.text", "text": "Thinking.", "index": 0, "format": "unknown"}]
    }
    assert final.text == "Hi!"
    assert final.usage.reasoning_tokens == 4
    assert final.cost == pytest.approx(0.0001)
    assert final.provider_details is not None and final.provider_details["native_finish_reason"] == "completed"

    error_stream = (
        b'data: {"id":"gen-2","model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"id":"gen-2","model":"m","error":{"code":502,"message":"upstream died"},'
        b'"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}\n\n'
    )
    with fake_server((200, "text/event-stream", error_stream), path="/api/v1/chat/completions") as server:
        m = preset("openrouter", server, "m", "/api/v1")
        seen: list[object] = []
        with pytest.raises(podium.ProviderError) as info:
            seen.extend(m.stream([Message.user("hi")]))
    assert "upstream died" in str(info.value)
    assert getattr(info.value, "status", None) == 502


# --------------------------------------------------------------------------- presets


def test_presets_resolve_by_name_with_their_urls() -> None:
    cases = {
        "openrouter": "https://openrouter.ai/api/v1",
        "deepseek": "https://api.deepseek.com",
        "vllm": "http://localhost:8000/v1",
        "llamacpp": "http://localhost:8080/v1",
        "together": "https://api.together.xyz/v1",
        "xai": "https://api.x.ai/v1",
    }
    for name, url in cases.items():
        m = podium.model(f"{name}:some-model", api_key="k")
        assert isinstance(m, CompatibleChatModel)
        assert m.provider == name
        assert m.base_url == url
    generic = podium.model("openai-compatible:my-model", base_url="http://127.0.0.1:9/v1")
    assert generic.provider == "openai-compatible"
    with pytest.raises(UserError, match="base URL"):
        podium.model("openai-compatible:my-model")
    assert set(PRESETS) == {*cases, "openai-compatible"}


def test_local_servers_need_no_key_but_hosted_ones_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    from podium.providers.transport.auth import HeaderAuth

    auth = podium.model("vllm:qwen3").http.endpoint.auth  # type: ignore[attr-defined]
    assert isinstance(auth, HeaderAuth)
    assert auth.headers == {"authorization": "Bearer not-needed"}
    with pytest.raises(UserError, match="DEEPSEEK_API_KEY"):
        podium.model("deepseek:deepseek-chat").request([Message.user("hi")])


def test_thinking_settings_per_preset() -> None:
    def body(name: str, thinking: object) -> dict[str, object]:
        m = CompatibleChatModel(name, "m", base_url="http://127.0.0.1:9", api_key="k")
        return m.build_body([Message.user("hi")], settings=ModelSettings(thinking=thinking))  # type: ignore[arg-type]

    assert body("openrouter", "high")["reasoning"] == {"effort": "high"}
    assert body("openrouter", 2048)["reasoning"] == {"max_tokens": 2048}
    assert body("openrouter", False)["reasoning"] == {"enabled": False}
    assert body("deepseek", True)["thinking"] == {"type": "enabled"}
    assert body("vllm", False)["chat_template_kwargs"] == {"enable_thinking": False}
    assert body("xai", "low")["reasoning_effort"] == "low"
    assert body("llamacpp", True)["chat_template_kwargs"] == {"enable_thinking": True}
    assert "stream_options" not in CompatibleChatModel("llamacpp", "m", api_key="k").build_body(
        [Message.user("hi")], stream=True
    )


def test_vllm_think_tags_and_reasoning_content_stream() -> None:
    sse = (
        "".join(
            f"data: {json.dumps({'id': 'c', 'model': 'qwen3', 'choices': [{'index': 0, 'delta': d}]})}\n\n"
            for d in [
                {"content": "<thi"},
                {"content": "nk>\nplan"},
                {"content": " it</th"},
                {"content": "ink>\n\nDone."},
            ]
        )
        + "data: [DONE]\n\n"
    )
    with fake_server((200, "text/event-stream", sse.encode()), path="/v1/chat/completions") as server:
        m = CompatibleChatModel("vllm", "qwen3", base_url=server.url + "/v1")
        events = list(m.stream([Message.user("hi")]))
    final = events[-1]
    assert isinstance(final, podium.ModelResponse)
    assert final.thinking[0].text == "\nplan it"
    assert final.text == "\n\nDone."
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == "\nplan it"
