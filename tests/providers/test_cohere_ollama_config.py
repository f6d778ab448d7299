"""Cohere and Ollama without their SDKs: the hosts, keys, headers and options the SDKs honoured still work.

Requests go to real loopback servers; the SDKs are used only as references (the ollama SDK's own host
parser is the oracle for ``OLLAMA_HOST``) and are blocked from importing in the run-time check.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

try:  # works whether or not tests/providers is a package
    from .replay_util import ReplayServer, cassette, closed_port_url, synthetic
except ImportError:
    from replay_util import ReplayServer, cassette, closed_port_url, synthetic

from podium.exceptions import ProviderConnectionError, UserError
from podium.messages import Message
from podium.providers.cohere import CohereModel, cohere_base_url
from podium.providers.ollama import OllamaModel, OllamaOpenAIModel, ollama_host
from podium.providers.retry import RetryPolicy

NO_RETRY = RetryPolicy(max_retries=0)
COHERE_ANSWER = cassette("cohere", "test_request_simple_success_with_vcr.yaml").interactions[0].json
OLLAMA_ANSWER = cassette("ollama", "test_ollama_chat_legacy.yaml").interactions[0].json
OPENAI_ANSWER = cassette("ollama", "test_ollama_local_native_output_uses_json_schema.yaml").interactions[0].json
HI = [Message.user("hi")]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No Cohere or Ollama settings in the environment."""
    for name in ("OLLAMA_HOST", "OLLAMA_API_KEY", "CO_API_URL", "CO_API_KEY", "COHERE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def ollama_server(n: int = 1, path: str = "/api/chat", answer: dict[str, Any] = OLLAMA_ANSWER) -> ReplayServer:
    return ReplayServer(synthetic(path, [(200, {}, answer)] * n))


# --------------------------------------------------------------------------- OLLAMA_HOST

SDK_HOSTS = [
    "",
    "1.2.3.4",
    ":56789",
    "1.2.3.4:56789",
    "http://1.2.3.4",
    "https://1.2.3.4",
    "https://1.2.3.4:56789",
    "example.com",
    "example.com:56789",
    "http://example.com",
    "https://example.com",
    "https://example.com:56789",
    "example.com/",
    "example.com:56789/",
    "example.com/path",
    "example.com:56789/path",
    "https://example.com:56789/path",
    "example.com:56789/path/",
    "[0001:002:003:0004::1]",
    "[0001:002:003:0004::1]:56789",
    "http://[0001:002:003:0004::1]",
    "https://[0001:002:003:0004::1]:56789",
    "[0001:002:003:0004::1]:56789/path/",
    "localhost",
    "https://ollama.com",
]


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("host", SDK_HOSTS)
def test_a_host_is_read_as_the_ollama_sdk_reads_it(host: str) -> None:
    from ollama._client import _parse_host

    assert ollama_host(host) == _parse_host(host)


@pytest.mark.usefixtures("clean_env")
def test_no_host_is_this_machine_and_ollama_host_is_read() -> None:
    assert ollama_host() == ollama_host(None) == "http://127.0.0.1:11434"
    assert OllamaModel("llama3").base_url == "http://127.0.0.1:11434"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        ("http://0.0.0.0:11434/", "http://127.0.0.1:11434"),
        ("[::]:11434", "http://[::1]:11434"),
        ("https://[::]", "https://[::1]:443"),
    ],
)
def test_every_interface_means_this_machine(host: str, url: str) -> None:
    """A server's ``OLLAMA_HOST=0.0.0.0`` (listen everywhere) is this machine to a client (the SDK fails there)."""
    assert ollama_host(host) == url


@pytest.mark.parametrize("value", ["host:port", "http://[::1", "http://h:99999"])
def test_an_unreadable_host_is_a_clear_error(value: str, clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="Ollama host"):
        OllamaModel("llama3", base_url=value)
    clean_env.setenv("OLLAMA_HOST", value)
    with pytest.raises(UserError, match=r"host:port"):
        OllamaModel("llama3")


@pytest.mark.parametrize("form", ["{port}", "127.0.0.1:{port}", "0.0.0.0:{port}", "http://localhost:{port}/"])
def test_requests_go_to_ollama_host(form: str, clean_env: pytest.MonkeyPatch) -> None:
    with ollama_server() as server:
        port = server.url.rsplit(":", 1)[1]
        value = form.format(port=port) if form != "{port}" else f":{port}"
        clean_env.setenv("OLLAMA_HOST", value)
        response = OllamaModel("llama3", retry=NO_RETRY).request(HI)
        assert [r.path for r in server.received] == ["/api/chat"]
    assert response.usage.output_tokens == 66


def test_base_url_wins_over_ollama_host(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OLLAMA_HOST", closed_port_url())
    with ollama_server() as server:
        OllamaModel("llama3", base_url=server.url, retry=NO_RETRY).request(HI)
        assert len(server.received) == 1


def test_an_unreachable_host_says_where_and_what_to_check(clean_env: pytest.MonkeyPatch) -> None:
    url = closed_port_url()
    clean_env.setenv("OLLAMA_HOST", url)
    with pytest.raises(ProviderConnectionError) as info:
        OllamaModel("llama3", retry=NO_RETRY).request(HI)
    assert url in str(info.value) and "is Ollama running" in str(info.value) and "OLLAMA_HOST" in str(info.value)


# --------------------------------------------------------------------------- Ollama keys and headers


@pytest.mark.parametrize(
    ("env", "options", "sent"),
    [
        (None, {}, None),  # a local server: no key, no header
        ("env-key", {}, "Bearer env-key"),
        ("env-key", {"api_key": "given"}, "Bearer given"),
        ("env-key", {"default_headers": {"Authorization": "Bearer mine"}}, "Bearer mine"),  # the SDK's order
        ("env-key", {"headers": {"authorization": "Bearer mine"}}, "Bearer mine"),
    ],
)
def test_ollama_api_key(
    env: str | None, options: dict[str, Any], sent: str | None, clean_env: pytest.MonkeyPatch
) -> None:
    if env is not None:
        clean_env.setenv("OLLAMA_API_KEY", env)
    with ollama_server() as server:
        OllamaModel("llama3", base_url=server.url, retry=NO_RETRY, **options).request(HI)
        headers = server.received[0].headers
    assert headers.get("authorization") == sent


@pytest.mark.usefixtures("clean_env")
def test_ollama_headers_option_and_stream_accept() -> None:
    """``headers=`` (the SDK's option) and ``default_headers=`` reach the server; a stream asks for NDJSON."""
    stream = cassette("ollama", "test_ollama_streaming_chat_legacy.yaml")
    with ReplayServer(stream) as server:
        model = OllamaModel("llama3", base_url=server.url, headers={"x-a": "1"}, default_headers={"x-b": "2"})
        events = list(model.stream([Message.user("Tell me a joke about OpenTelemetry")]))
        headers = server.received[0].headers
    assert (headers["x-a"], headers["x-b"]) == ("1", "2")
    assert headers["accept"] == "application/x-ndjson"
    assert headers["content-type"] == "application/json"
    assert events[-1].usage.output_tokens == 50  # type: ignore[union-attr]


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_ollama_openai_base_url_may_end_in_v1(suffix: str) -> None:
    with ollama_server(path="/v1/chat/completions", answer=OPENAI_ANSWER) as server:
        response = OllamaOpenAIModel("qwen3:0.6b", base_url=server.url + suffix, retry=NO_RETRY).request(HI)
        assert [r.path for r in server.received] == ["/v1/chat/completions"]
    assert json.loads(response.text) == {"city": "Paris", "country": "France"}


def test_unknown_options_are_refused_by_name() -> None:
    with pytest.raises(UserError, match=r"unknown option\(s\) for ollama: client;.*headers"):
        OllamaModel("llama3", client=object())
    with pytest.raises(UserError, match=r"unknown option\(s\) for cohere: max_retries;.*client_name"):
        CohereModel("command-r", api_key="k", max_retries=3)
    with pytest.raises(UserError, match="headers="):
        OllamaModel("llama3", headers=[("x-a", "1")])


# --------------------------------------------------------------------------- Cohere


@pytest.mark.usefixtures("clean_env")
def test_cohere_default_url_and_sdk_url_rules() -> None:
    assert CohereModel("command-r", api_key="k").base_url == "https://api.cohere.com"
    assert cohere_base_url("https://api.cohere.com/v1") == "https://api.cohere.com"  # as the SDK drops it
    assert cohere_base_url("https://api.cohere.ai/v1/") == "https://api.cohere.ai"
    assert cohere_base_url("https://proxy.example/v1/") == "https://proxy.example/v1"  # not cohere's: kept


def test_cohere_co_api_url_and_base_url(clean_env: pytest.MonkeyPatch) -> None:
    with ReplayServer(synthetic("/v2/chat", [(200, {}, COHERE_ANSWER)] * 2)) as server:
        clean_env.setenv("CO_API_URL", server.url + "/")
        CohereModel("command-r7b-12-2024", api_key="k", retry=NO_RETRY).request(HI)
        clean_env.setenv("CO_API_URL", closed_port_url())
        CohereModel("command-r7b-12-2024", api_key="k", base_url=server.url, retry=NO_RETRY).request(HI)
        assert [r.path for r in server.received] == ["/v2/chat"] * 2


@pytest.mark.parametrize(
    ("env", "sent"),
    [
        ({"CO_API_KEY": "co", "COHERE_API_KEY": "cohere"}, "Bearer co"),  # the SDK reads CO_API_KEY first
        ({"COHERE_API_KEY": "cohere"}, "Bearer cohere"),
    ],
)
def test_cohere_key_variables(env: dict[str, str], sent: str, clean_env: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    with ReplayServer(synthetic("/v2/chat", [(200, {}, COHERE_ANSWER)])) as server:
        CohereModel("command-r7b-12-2024", base_url=server.url, retry=NO_RETRY, client_name="my-app").request(HI)
        headers = server.received[0].headers
    assert headers["authorization"] == sent
    assert headers["x-client-name"] == "my-app"


def test_cohere_client_name_must_be_text() -> None:
    with pytest.raises(UserError, match="client_name"):
        CohereModel("command-r", api_key="k", client_name=3)


# --------------------------------------------------------------------------- no SDK at run time

NO_SDK = r"""
import builtins, json, sys
from pathlib import Path

real_import = builtins.__import__

def guarded(name, *args, **kwargs):
    if name.split(".")[0] in ("cohere", "ollama"):
        raise ImportError(f"blocked: {name}")
    return real_import(name, *args, **kwargs)

builtins.__import__ = guarded

from podium.messages import Message
from podium.providers.cohere import CohereModel
from podium.providers.ollama import OllamaModel, OllamaOpenAIModel
from podium.testing.cassette import Cassette, Interaction, RecordedRequest, ReplayServer

answers = json.loads(sys.argv[1])
interactions = []
for path, answer in answers:
    request = RecordedRequest("POST", "http://x" + path, path, {}, None)
    interactions.append(Interaction(request, 200, {"content-type": "application/json"}, json.dumps(answer).encode()))
with ReplayServer(Cassette(Path("no-sdk"), interactions)) as server:
    texts = [
        CohereModel("command-r7b-12-2024", base_url=server.url, api_key="k").request([Message.user("hi")]).text,
        OllamaModel("llama3", base_url=server.url).request([Message.user("hi")]).text[:27],
        OllamaOpenAIModel("qwen3:0.6b", base_url=server.url).request([Message.user("hi")]).text,
    ]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("cohere", "ollama"))
print(json.dumps({"texts": texts, "loaded": loaded}))
"""


def test_the_providers_run_with_their_sdks_unimportable() -> None:
    answers = [("/v2/chat", COHERE_ANSWER), ("/api/chat", OLLAMA_ANSWER), ("/v1/chat/completions", OPENAI_ANSWER)]
    out = subprocess.run(
        [sys.executable, "-c", NO_SDK, json.dumps(answers)], capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out)
    assert result["loaded"] == []
    cohere_text, ollama_text, openai_text = result["texts"]
    assert cohere_text == "Hello! How can I assist you today?"
    assert ollama_text == "A joke about OpenTelemetry!"
    assert json.loads(openai_text) == {"city": "Paris", "country": "France"}
