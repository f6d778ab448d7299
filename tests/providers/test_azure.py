"""Azure OpenAI: where requests go and how they authenticate (a local server in the Chat Completions format)."""

from __future__ import annotations

import asyncio
import json

import pytest
from chat_helpers import CASSETTES, fake_server

import podium
from podium.exceptions import UserError
from podium.messages import Message
from podium.providers.openai import AzureOpenAIChatModel
from podium.testing.cassette import Cassette

ANSWER = Cassette.load(CASSETTES / "openai_chat" / "test_valid_response.yaml").interactions[0].json
WHOLE = (200, "application/json", json.dumps(ANSWER).encode())


@pytest.fixture(autouse=True)
def _no_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN", "OPENAI_API_VERSION"):
        monkeypatch.delenv(name, raising=False)


def test_api_key_and_version_go_to_the_deployment() -> None:
    with fake_server(WHOLE, path="/openai/deployments/my-gpt4o/chat/completions") as server:
        model = podium.model("azure:my-gpt4o", base_url=server.url, api_key="az-key", api_version="2024-10-21")
        assert model.request([Message.user("hi")]).text == "The capital of France is Paris."
    [received] = server.received
    assert received.headers["api-key"] == "az-key"
    assert "authorization" not in received.headers
    assert received.query == "api-version=2024-10-21"
    assert received.json["model"] == "my-gpt4o"
    assert model.provider == "azure"


def test_without_a_version_the_v1_api_is_used_and_the_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_server(WHOLE, path="/openai/v1/chat/completions") as server:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url + "/")
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", "from-env")
        assert AzureOpenAIChatModel("gpt-4o").request([Message.user("hi")]).text
    assert server.received[0].headers["api-key"] == "from-env"
    assert server.received[0].query == ""


def test_an_entra_token_provider_is_asked_for_every_request_sync_and_async() -> None:
    tokens = iter(["t1", "t2"])
    with fake_server(WHOLE, WHOLE, path="/openai/v1/chat/completions") as server:
        model = AzureOpenAIChatModel("gpt-4o", base_url=server.url, azure_ad_token_provider=lambda: next(tokens))
        model.request([Message.user("hi")])
        asyncio.run(model.arequest([Message.user("hi")]))
    assert [r.headers["authorization"] for r in server.received] == ["Bearer t1", "Bearer t2"]
    assert all("api-key" not in r.headers for r in server.received)


@pytest.mark.parametrize(
    ("options", "words"),
    [({}, ["AZURE_OPENAI_ENDPOINT", "base_url="]), ({"base_url": "http://127.0.0.1:9"}, ["AZURE_OPENAI_API_KEY"])],
)
def test_missing_endpoint_or_credentials_say_what_to_set(options: dict[str, str], words: list[str]) -> None:
    model = podium.model("azure:gpt-4o", **options)  # made without them: the first request says what is missing
    with pytest.raises(UserError) as info:
        model.request([Message.user("hi")])
    for word in words:
        assert word in str(info.value)


def test_the_deployment_family_picks_the_dialect() -> None:
    body = AzureOpenAIChatModel("prod", model="o3", base_url="http://x", api_key="k").build_body(
        [Message.system("Be brief."), Message.user("hi")], settings=podium.ModelSettings(max_tokens=5)
    )
    assert body["messages"][0]["role"] == "developer"  # o-series take instructions as developer
    assert body["max_completion_tokens"] == 5
