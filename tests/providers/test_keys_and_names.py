"""A provider with no key, and a model string with no model, give a clear UserError (never a traceback)."""

from __future__ import annotations

import os

import pytest

import podium
from podium.exceptions import UserError
from podium.messages import Message
from podium.providers.registry import PROVIDERS
from podium.testing.fake_server import FakeProviderServer, Reply

KEYLESS_ENV = {
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
    "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/adc.json",
}


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment with no provider credentials at all."""
    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_AUTH_TOKEN")) or name.startswith(("AWS_", "GOOGLE_", "GEMINI_", "CO_")):
            monkeypatch.delenv(name)
    for name, value in KEYLESS_ENV.items():
        monkeypatch.setenv(name, value)


# (model string, options, words the message must contain)
NEEDS_A_KEY = [
    ("openai:gpt-4o", {}, ["OPENAI_API_KEY", "api_key="]),
    ("openai-responses:gpt-5", {}, ["OPENAI_API_KEY", "api_key="]),
    ("anthropic:claude-sonnet-4-5", {}, ["ANTHROPIC_API_KEY", "api_key="]),
    ("google:gemini-2.5-flash", {}, ["GOOGLE_API_KEY", "api_key="]),
    ("google-vertex:gemini-2.5-flash", {}, ["project=", "Application Default Credentials"]),
    ("bedrock:us.amazon.nova-micro-v1:0", {"region": "us-east-1"}, ["AWS credentials", "api_key="]),
    ("bedrock:us.amazon.nova-micro-v1:0", {}, ["region", "AWS_REGION"]),
    ("mistral:mistral-large-latest", {}, ["MISTRAL_API_KEY", "api_key="]),
    ("cohere:command-a-03-2025", {}, ["CO_API_KEY", "api_key="]),
    ("groq:llama-3.3-70b-versatile", {}, ["GROQ_API_KEY", "api_key="]),
    ("openrouter:openai/gpt-5", {}, ["OPENROUTER_API_KEY"]),
    ("deepseek:deepseek-chat", {}, ["DEEPSEEK_API_KEY"]),
    ("together:meta/llama", {}, ["TOGETHER_API_KEY"]),
    ("xai:grok-4", {}, ["XAI_API_KEY"]),
]


@pytest.mark.usefixtures("no_keys")
@pytest.mark.parametrize(("spec", "options", "words"), NEEDS_A_KEY, ids=[f"{s}{o}" for s, o, _ in NEEDS_A_KEY])
@pytest.mark.parametrize("path", ["request", "stream", "arequest"])
def test_a_provider_without_a_key_says_how_to_set_one(spec: str, options: dict, words: list[str], path: str) -> None:
    import asyncio

    model = podium.model(spec, **options)  # no base_url: a connection attempt would fail the network guard
    with pytest.raises(UserError) as info:
        if path == "request":
            model.request([Message.user("hi")])
        elif path == "stream":
            list(model.stream([Message.user("hi")]))
        else:
            asyncio.run(model.arequest([Message.user("hi")]))
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.usefixtures("no_keys")
@pytest.mark.parametrize(
    "spec", ["vllm:m", "llamacpp:m", "openai-compatible:m", "ollama:llama3.1", "mistral:mistral-large-latest"]
)
def test_local_servers_need_no_key(spec: str) -> None:
    with FakeProviderServer(default=Reply.answer("hi there")) as server:
        base = server.url + ("/v1" if spec.split(":")[0] in ("vllm", "llamacpp", "openai-compatible") else "")
        assert podium.model(spec, base_url=base).request([Message.user("hi")]).text == "hi there"


REMOTE = sorted(set(PROVIDERS) - {"local", "test"})


@pytest.mark.parametrize("provider", REMOTE)
@pytest.mark.parametrize("name", ["", " ", "   "])
def test_a_provider_prefix_without_a_model_name_is_refused(provider: str, name: str) -> None:
    with pytest.raises(UserError) as info:
        podium.model(f"{provider}:{name}")
    assert f"'{provider}:<model>'" in str(info.value)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("openai", ["has no provider", "'provider:model'"]),
        (":", ["has no provider"]),
        (":gpt-4o", ["has no provider"]),
        ("openai: ", ["no model name for openai"]),
        ("unknown:x", ["unknown provider 'unknown'", "openai"]),
        ("", ["has no provider"]),
    ],
)
def test_odd_model_strings_get_a_clear_error(spec: str, words: list[str]) -> None:
    with pytest.raises(UserError) as info:
        podium.model(spec)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_spaces_around_the_parts_are_ignored() -> None:
    model = podium.model(" openai : gpt-4o ", api_key="k")
    assert (model.provider, model.model_name) == ("openai", "gpt-4o")


def test_model_classes_refuse_an_empty_name_too() -> None:
    from podium.providers.anthropic import AnthropicModel
    from podium.providers.openai import OpenAIChatModel

    for make in (lambda: OpenAIChatModel(""), lambda: AnthropicModel("  ")):
        with pytest.raises(UserError, match="no model name"):
            make()
    with pytest.raises(UserError, match="a model is named by a string"):
        podium.model(None)  # type: ignore[arg-type]
