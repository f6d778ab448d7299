"""OpenAI Chat Completions: every openai_chat cassette replayed through the official SDK into Podium."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace

import pytest
from chat_helpers import MISSING, assert_same_request, cassette, collect, recorded_tools, replay

from podium.exceptions import BadRequestError, UserError
from podium.messages import CachePoint, File, Image, Message, Text, ToolCall, ToolResult
from podium.providers.chat_profiles import openai_dialect
from podium.providers.openai import OpenAIChatModel
from podium.settings import ModelSettings, OutputSchema
from podium.streaming import TextDelta, ToolCallDelta
from podium.testing.cassette import ReplayServer

# Fields the recording framework (pydantic-ai) sent that Podium leaves at the API default.
N_1 = {("n",): (MISSING, 1)}
STREAM_FALSE = {("stream",): (MISSING, False)}


def model(server: ReplayServer, name: str, **kwargs: object) -> OpenAIChatModel:
    return OpenAIChatModel(name, base_url=server.url + "/v1", api_key="sk-test", **kwargs)  # type: ignore[arg-type]


def test_valid_response() -> None:
    with replay(cassette("openai_chat", "test_valid_response.yaml")) as server:
        response = model(server, "gpt-4o").request([Message.user("What is the capital of France?")])
        assert_same_request(server.received[0].json, server.interactions[0].request.body, STREAM_FALSE)
    assert response.text == "The capital of France is Paris."
    assert response.finish_reason == "stop"
    assert response.model == "gpt-4o-2024-08-06"
    assert response.provider == "openai"
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.requests) == (14, 7, 1)
    assert response.provider_details is not None
    assert response.provider_details["id"] == "chatcmpl-Bu8vBIrB8kIWKRyTcpEEPncjhHtMU"
    assert response.provider_details["system_fingerprint"] == "fp_a288987b44"
    assert response.provider_details["finish_reason"] == "stop"
    assert response.cost is not None and response.cost > 0


def test_parallel_tool_calls_and_results_round_trip() -> None:
    with replay(cassette("openai_chat", "test_dbos_agent_with_hitl_tool.yaml")) as server:
        m = model(server, "gpt-4o")
        recorded = server.interactions[0].request.body
        tools = recorded_tools(recorded)
        settings = ModelSettings(tool_choice="auto")
        history = [
            Message.system("Just call tools without asking for confirmation."),
            Message.user("Delete the file `.env` and create `test.txt`"),
        ]
        first = m.request(history, tools=tools, settings=settings)
        assert first.finish_reason == "tool_calls"
        assert [(c.id, c.name, c.args) for c in first.tool_calls] == [
            ("call_jYdIdRZHxZTn5bWCq5jlMrJi", "delete_file", {"path": ".env"}),
            ("call_TmlTVWQbzrXCZ4jNsCVNbNqu", "create_file", {"path": "test.txt"}),
        ]
        assert first.usage.input_tokens == 71 and first.usage.output_tokens == 46
        history += [
            first.to_message(),
            Message(
                "tool",
                [
                    ToolResult("call_jYdIdRZHxZTn5bWCq5jlMrJi", "delete_file", [Text("true")]),
                    ToolResult("call_TmlTVWQbzrXCZ4jNsCVNbNqu", "create_file", [Text("Success")]),
                ],
            ),
        ]
        second = m.request(history, tools=tools, settings=settings)
        for i in range(2):
            assert_same_request(server.received[i].json, server.interactions[i].request.body, STREAM_FALSE)
    assert second.text == "The file `.env` has been deleted and `test.txt` has been created successfully."
    assert second.finish_reason == "stop"


def test_document_input() -> None:
    path = cassette("openai_chat", "test_document_as_binary_content_input.yaml")
    with replay(path) as server:
        recorded = server.interactions[0].request.body
        data_url = recorded["messages"][0]["content"][1]["file"]["file_data"]
        pdf = base64.b64decode(data_url.split(",", 1)[1])
        prompt = Message.user(
            "What is the main content on this document?",
            File(pdf, media_type="application/pdf", filename="filename.pdf"),
        )
        response = model(server, "gpt-4o").request([prompt])
        assert_same_request(server.received[0].json, recorded, {**N_1, **STREAM_FALSE})
    assert response.text == 'The main content of the document is "Dummy PDF file."'
    assert response.usage.input_tokens == 235


def test_image_bytes_input() -> None:
    path = cassette("openai_chat", "test_image_url_input_force_download.yaml")
    downloaded = ReplayServer(path).cassette.interactions[0].body  # the recorder downloaded the image first
    with replay(path, host_filter="api.openai.com") as server:
        prompt = Message.user("What is this vegetable?", Image(downloaded, media_type="image/jpeg"))
        response = model(server, "gpt-4.1-nano").request([prompt])
        assert_same_request(server.received[0].json, server.interactions[0].request.body, STREAM_FALSE)
    assert response.text == "This vegetable is a potato."
    assert response.usage.input_tokens == 515


def test_audio_input_keeps_audio_token_counts() -> None:
    with replay(cassette("openai_chat", "test_audio_as_binary_content_input.yaml")) as server:
        recorded = server.interactions[0].request.body
        audio = base64.b64decode(recorded["messages"][0]["content"][1]["input_audio"]["data"])
        prompt = Message.user("Whose name is mentioned in the audio?", File(audio, media_type="audio/mpeg"))
        response = model(server, "gpt-4o-audio-preview").request([prompt])
        assert_same_request(server.received[0].json, recorded, {**N_1, **STREAM_FALSE})
    assert response.text == "The name mentioned in the audio is Marcelo."
    assert response.usage.input_tokens == 64
    assert response.usage.details == {
        "input_audio_tokens": 44,
        "input_text_tokens": 20,
        "output_text_tokens": 9,
    }


def test_o_series_max_completion_tokens_and_reasoning_tokens() -> None:
    with replay(cassette("openai_chat", "test_max_completion_tokens[o3-mini].yaml")) as server:
        m = model(server, "o3-mini")
        response = m.request([Message.user("hello")], settings=ModelSettings(max_tokens=100, temperature=0.5))
        # temperature is left out: o-series models reject it
        assert_same_request(server.received[0].json, server.interactions[0].request.body, STREAM_FALSE)
    assert response.text == "Hello there! How can I help you today?"
    assert response.usage.output_tokens == 87
    assert response.usage.reasoning_tokens == 64
    assert m.profile.thinking and m.profile.structured_output


def test_reasoning_models_use_developer_role_and_effort() -> None:
    body = OpenAIChatModel("o3", api_key="x").build_body(
        [Message.system("Be brief."), Message.user("hi")], settings=ModelSettings(thinking="high", top_p=0.5)
    )
    assert body["messages"][0] == {"role": "developer", "content": "Be brief."}
    assert body["reasoning_effort"] == "high"
    assert "top_p" not in body
    gpt5 = OpenAIChatModel("gpt-5", api_key="x").build_body(
        [Message.user("hi")], settings=ModelSettings(thinking=False)
    )
    assert gpt5["reasoning_effort"] == "minimal"
    o3 = OpenAIChatModel("o3", api_key="x").build_body([Message.user("hi")], settings=ModelSettings(thinking=20000))
    assert o3["reasoning_effort"] == "high"
    plain = OpenAIChatModel("gpt-4o", api_key="x").build_body(
        [Message.system("Be brief."), Message.user("hi")], settings=ModelSettings(thinking=True, temperature=0.2)
    )
    assert plain["messages"][0]["role"] == "system"
    assert "reasoning_effort" not in plain
    assert plain["temperature"] == 0.2


def test_o1_mini_rejects_developer_role() -> None:
    """o1-mini takes neither system nor developer: Podium sends instructions as user; forcing developer fails."""
    assert openai_dialect("o1-mini").system_role == "user"
    path = cassette("openai_chat", "test_openai_o1_mini_system_role[developer].yaml")
    with replay(path) as server:
        m = model(server, "o1-mini", dialect=replace(openai_dialect("o1-mini"), system_role="developer"))
        with pytest.raises(BadRequestError) as info:
            m.request([Message.system("You are a helpful assistant."), Message.user("Hello")])
        assert_same_request(server.received[0].json, server.interactions[0].request.body, {**N_1, **STREAM_FALSE})
    assert info.value.status == 400
    assert "does not support 'developer'" in str(info.value)
    assert info.value.provider == "openai" and info.value.model == "o1-mini"


def test_unknown_model_404() -> None:
    path = cassette("openai_chat", "test_model_name_suggestion[openai-chat].yaml")
    with replay(path) as server, pytest.raises(BadRequestError) as info:
        model(server, "gpt-5.2-proo").request([Message.user("hello")])
    assert info.value.status == 404
    assert "gpt-5.2-proo" in str(info.value)
    assert info.value.body["error"]["code"] == "model_not_found"


def test_prompt_cache_marks_and_cache_usage() -> None:
    with replay(cassette("openai_chat", "test_openai_chat_prompt_cache_e2e.yaml")) as server:
        recorded = server.interactions[0].request.body
        corpus = recorded["messages"][0]["content"][0]["text"]
        settings = ModelSettings(
            extra={
                "openai": {
                    "prompt_cache_key": "pydantic-ai-prompt-cache-e2e-chat",
                    "prompt_cache_options": {"mode": "explicit", "ttl": "30m"},
                }
            }
        )
        prompt = [Message.user(Text(corpus), CachePoint(), Text("Reply with exactly: OK"))]
        m = model(server, "gpt-5.6-sol")
        first = m.request(prompt, settings=settings)
        second = m.request(prompt, settings=settings)
        for i in range(2):
            assert_same_request(server.received[i].json, server.interactions[i].request.body, STREAM_FALSE)
    assert first.text == second.text == "OK"
    assert (first.usage.input_tokens, first.usage.cache_write_tokens, first.usage.cache_read_tokens) == (4020, 4012, 0)
    assert (second.usage.cache_write_tokens, second.usage.cache_read_tokens) == (0, 4012)
    # without explicit cache mode, the mark is not sent (older models reject the field)
    body = m.build_body(prompt)
    assert all("prompt_cache_breakpoint" not in part for part in body["messages"][0]["content"])


def test_native_structured_output_with_tool_round_trip() -> None:
    with replay(cassette("openai_chat", "test_openai_native_output.yaml")) as server:
        m = model(server, "gpt-4o")
        recorded = server.interactions[0].request.body
        fmt = recorded["response_format"]["json_schema"]
        output = OutputSchema(fmt["name"], fmt["schema"], strict=False)
        tools = recorded_tools(recorded)
        settings = ModelSettings(tool_choice="auto")
        history = [Message.user("What is the largest city in the user country?")]
        first = m.request(history, tools=tools, settings=settings, output=output)
        assert [(c.id, c.name, c.args) for c in first.tool_calls] == [
            ("call_PkRGedQNRFUzJp2R7dO7avWR", "get_user_country", {})
        ]
        history += [
            first.to_message(),
            Message("tool", [ToolResult(first.tool_calls[0].id, "get_user_country", [Text("Mexico")])]),
        ]
        second = m.request(history, tools=tools, settings=settings, output=output)
        listed = {**N_1, **STREAM_FALSE}
        assert_same_request(server.received[0].json, server.interactions[0].request.body, listed)
        # Podium writes "content": null beside tool calls; this (older) recording left the key out
        assert_same_request(
            server.received[1].json,
            server.interactions[1].request.body,
            {**listed, ("messages", 1, "content"): (None, MISSING)},
        )
    assert second.text == '{"city":"Mexico City","country":"Mexico"}'
    assert second.finish_reason == "stop"
    assert m.profile.structured_output


def test_tool_output_required_tool_choice() -> None:
    with replay(cassette("openai_chat", "test_openai_tool_output.yaml")) as server:
        m = model(server, "gpt-4o")
        tools = recorded_tools(server.interactions[0].request.body)
        settings = ModelSettings(tool_choice="required")
        history = [Message.user("What is the largest city in the user country?")]
        first = m.request(history, tools=tools, settings=settings)
        history += [
            first.to_message(),
            Message("tool", [ToolResult(first.tool_calls[0].id, "get_user_country", [Text("Mexico")])]),
        ]
        second = m.request(history, tools=tools, settings=settings)
        listed = {**N_1, **STREAM_FALSE}
        assert_same_request(server.received[0].json, server.interactions[0].request.body, listed)
        assert_same_request(
            server.received[1].json,
            server.interactions[1].request.body,
            {**listed, ("messages", 1, "content"): (None, MISSING)},
        )
    assert second.finish_reason == "tool_calls"
    assert second.tool_calls == [
        ToolCall("call_gmD2oUZUzSoCkmNmp3JPUF7R", "final_result", {"city": "Mexico City", "country": "Mexico"})
    ]
    assert second.usage.output_tokens == 36


def test_web_search_options_pass_through() -> None:
    with replay(cassette("openai_chat", "test_openai_web_search_tool.yaml")) as server:
        m = model(server, "gpt-4o-search-preview")
        settings = ModelSettings(extra={"openai": {"web_search_options": {"search_context_size": "low"}}})
        response = m.request(
            [Message.system("You are a helpful assistant."), Message.user("What day is today?")], settings=settings
        )
        assert_same_request(server.received[0].json, server.interactions[0].request.body, STREAM_FALSE)
    assert response.text == "May 14, 2025, 8:51:29 AM "
    assert not m.profile.tools


def test_stream_tool_call_then_answer() -> None:
    with replay(cassette("openai_chat", "test_run_stream_sync_streams_real_model.yaml")) as server:
        m = model(server, "gpt-4o-mini")
        tools = recorded_tools(server.interactions[0].request.body)
        settings = ModelSettings(tool_choice="auto")
        history = [Message.user("What is the capital of the UK? Use the tool, then answer.")]
        deltas, first = collect(list(m.stream(history, tools=tools, settings=settings)))
        assert all(isinstance(d, ToolCallDelta) for d in deltas)
        assert "".join(d.args_delta for d in deltas if isinstance(d, ToolCallDelta)) == '{"country":"UK"}'
        assert deltas[0].id == "call_ZR5UUuTt3pf61kjwAJIYdVMj" and deltas[0].name == "get_capital"  # type: ignore[union-attr]
        call = first.tool_calls[0]
        assert (call.id, call.name, call.args) == ("call_ZR5UUuTt3pf61kjwAJIYdVMj", "get_capital", {"country": "UK"})
        assert first.finish_reason == "tool_calls"
        assert (first.usage.input_tokens, first.usage.output_tokens) == (53, 15)
        history += [first.to_message(), Message("tool", [ToolResult(call.id, "get_capital", [Text("London")])])]
        deltas, second = collect(list(m.stream(history, tools=tools, settings=settings)))
        for i in range(2):
            # the argument string goes back byte for byte ('{"country":"UK"}', not '{"country": "UK"}')
            assert_same_request(server.received[i].json, server.interactions[i].request.body)
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == [
        "The",
        " capital",
        " of",
        " the",
        " UK",
        " is",
        " London",
        ".",
    ]
    assert second.text == "The capital of the UK is London."
    assert (second.usage.input_tokens, second.usage.output_tokens) == (78, 9)


def test_stream_text_async() -> None:
    async def main() -> list[object]:
        with replay(cassette("openai_chat", "test_temporal_agent_run_stream.yaml")) as server:
            events = [
                e async for e in model(server, "gpt-4o").astream([Message.user("What is the capital of Mexico?")])
            ]
            assert_same_request(server.received[0].json, server.interactions[0].request.body)
        return events

    deltas, final = collect(asyncio.run(main()))  # type: ignore[arg-type]
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "The capital of Mexico is Mexico City."
    assert final.text == "The capital of Mexico is Mexico City."
    assert final.finish_reason == "stop"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (14, 8)
    assert (
        final.provider_details is not None and final.provider_details["id"] == "chatcmpl-C2P2HtMJhPkWjQ2adKerkdVilXmRL"
    )


def test_async_request() -> None:
    async def main() -> str:
        with replay(cassette("openai_chat", "test_valid_response.yaml")) as server:
            response = await model(server, "gpt-4o").arequest([Message.user("What is the capital of France?")])
        return response.text

    assert asyncio.run(main()) == "The capital of France is Paris."


def test_missing_api_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        OpenAIChatModel("gpt-4o").request([Message.user("hi")])


def test_file_url_is_a_clear_error() -> None:
    m = OpenAIChatModel("gpt-4o", api_key="x")
    with pytest.raises(UserError, match="Download it"):
        m.build_body([Message.user(File(url="https://example.com/a.pdf"))])
