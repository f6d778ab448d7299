"""The one transport, whatever the provider: connection limits, options, errors and messages, SSE framing."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

import podium
from podium.exceptions import ProviderConnectionError, RateLimitError, ServerError, UserError
from podium.messages import Message
from podium.providers.transport.decoders import DONE, ErrorEvent, NDJSONDecoder, SSEDecoder
from podium.providers.transport.http import DEFAULT_LIMITS
from podium.testing.fake_server import FakeProviderServer, Reply

SPECS = ["openai:m", "anthropic:m", "google:m", "mistral:m", "cohere:m", "groq:m", "ollama:m", "bedrock:m"]


def test_made_clients_allow_500_connections_and_a_given_limit_wins() -> None:
    with FakeProviderServer(default=Reply.answer("hi")) as server:
        model = server.model("openai:gpt-4o-mini")
        assert model.http.client._transport._pool._max_connections == 500

        async def pool_size() -> int:
            return int(model.http.async_client._transport._pool._max_connections)

        assert asyncio.run(pool_size()) == 500
        mine = server.model("openai:gpt-4o-mini", limits=httpx2.Limits(max_connections=3))
        assert mine.http.client._transport._pool._max_connections == 3
    assert DEFAULT_LIMITS.max_keepalive_connections == 20


@pytest.mark.parametrize("spec", SPECS)
def test_an_unknown_option_names_itself_and_the_options_there_are(spec: str) -> None:
    with pytest.raises(UserError) as info:
        podium.model(spec, base_url="http://127.0.0.1:9", api_key="k", colour="blue")
    assert "colour" in str(info.value) and "http_client" in str(info.value) and "proxy" in str(info.value)


@pytest.mark.parametrize("spec", SPECS)
def test_every_provider_says_the_same_things_about_the_same_failures(spec: str) -> None:
    with FakeProviderServer(Reply.error(429, "slow down", retry_after=7), Reply.error(503, "busy")) as server:
        model = server.model(spec, retry=podium.RetryPolicy(max_retries=0))
        with pytest.raises(RateLimitError) as limited:
            model.request([Message.user("hi")])
        assert limited.value.retry_after == 7 and limited.value.status == 429
        with pytest.raises(ServerError) as busy:
            model.request([Message.user("hi")])
        assert busy.value.status == 503
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec_options = {"region": "us-east-1", "aws_access_key_id": "a", "aws_secret_access_key": "b"}
    options = spec_options if spec.startswith("bedrock") else {"api_key": "k"}
    dead = podium.model(spec, base_url=f"http://127.0.0.1:{port}", retry=podium.RetryPolicy(max_retries=0), **options)
    with pytest.raises(ProviderConnectionError) as gone:
        dead.request([Message.user("hi")])
    assert f"could not reach {dead.provider} at http://127.0.0.1:{port}" in str(gone.value)


def _fed(decoder: SSEDecoder | NDJSONDecoder, body: bytes, cuts: list[int]) -> list[Any]:
    """What ``decoder`` makes of ``body`` fed in pieces of the ``cuts`` lengths (the rest at once), then flushed."""
    out: list[Any] = []
    position = 0
    for cut in cuts:
        out += decoder.feed(body[position : position + cut])
        position += cut
    return out + decoder.feed(body[position:]) + decoder.flush()


SSE_LINES = [
    b": a comment line",
    b"",
    b'data: {"a": 1}',
    b"",
    b'data: {"b":',
    b"data: 2}",
    b"",
    b"id: 7",
    b"retry: 100",
    b"event: message",
    b'data:{"c": 3}',
    b"",
    b"event: error",
    b'data: {"error": {"message": "x"}}',
    b"",
    b"data: [DONE]",
    b"",
]
SSE_TAIL = b"data: \xc3\xa9"  # no final blank line; a two-byte character that a cut may split


@given(
    st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_sse_decoding_does_not_depend_on_where_the_bytes_are_cut_or_the_line_endings(
    cuts: list[int], ending: bytes
) -> None:
    out = _fed(SSEDecoder(), ending.join(SSE_LINES) + ending + SSE_TAIL, cuts)
    shown = [f"error:{p.payload}" if isinstance(p, ErrorEvent) else p for p in out]
    assert shown == ['{"a": 1}', '{"b":\n2}', '{"c": 3}', 'error:{"error": {"message": "x"}}', DONE, "é"]


@given(st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=20))
def test_ndjson_decoding_does_not_depend_on_where_the_bytes_are_cut(cuts: list[int]) -> None:
    out = _fed(NDJSONDecoder(), b'{"a": 1}\n\n{"b": "\xc3\xa9"}\r\n{"done": true}', cuts)
    assert [line.strip() for line in out] == ['{"a": 1}', '{"b": "é"}', '{"done": true}']


@pytest.mark.parametrize("follow", [False, True])
def test_a_redirect_is_a_clear_error_unless_the_user_asks_to_follow_it(follow: bool) -> None:
    from podium.exceptions import ProviderHTTPError

    with FakeProviderServer(default=Reply.answer("moved here")) as target:
        new_base = target.url + "/v1"
        with _Redirector(new_base) as old:
            model = podium.model("openai:gpt-4o-mini", base_url=old.url + "/v1", api_key="k", follow_redirects=follow)
            if follow:
                assert model.request([Message.user("hi")]).text == "moved here"
            else:
                with pytest.raises(ProviderHTTPError) as info:
                    model.request([Message.user("hi")])
                assert info.value.status == 307
                assert new_base + "/chat/completions" in str(info.value) and "follow_redirects=True" in str(info.value)


def test_a_followed_redirect_to_another_origin_carries_no_key_sync_or_async() -> None:
    with FakeProviderServer(default=Reply.answer("moved here")) as target, _Redirector(target.url, strip="") as old:
        model = podium.model("azure:gpt-4o", base_url=old.url, api_key="secret-azure-key", follow_redirects=True)
        assert model.request([Message.user("hi")]).text == "moved here"
        assert asyncio.run(model.arequest([Message.user("hi")])).text == "moved here"
        seen = [{k.lower(): v for k, v in r.headers.items()} for r in target.requests]
    assert len(seen) == 2
    assert all("api-key" not in h and "authorization" not in h for h in seen)
    assert all("secret-azure-key" not in str(h) for h in seen)


class _Redirector:
    """A loopback server that answers every POST with a 307 to the same path under ``target``."""

    def __init__(self, target: str, strip: str = "/v1") -> None:
        import http.server
        import threading

        base = target

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                self.send_response(307)
                self.send_header("location", base + self.path.removeprefix(strip))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> _Redirector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_a_proxy_given_as_an_option_or_in_the_environment_carries_the_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server
    import json
    import threading

    seen: list[str] = []
    answer = json.dumps(
        {
            "id": "c",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "via proxy"}, "finish_reason": "stop"}
            ],
        }
    ).encode()

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append(self.path)  # a proxy gets the absolute URL
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        # the API's host never resolves: only the proxy can answer
        target = "http://api.podium-test.invalid/v1"
        model = podium.model("openai:gpt-4o-mini", base_url=target, api_key="k", proxy=proxy)
        assert model.request([Message.user("hi")]).text == "via proxy"
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        from_env = podium.model("openai:gpt-4o-mini", base_url=target, api_key="k")
        assert from_env.request([Message.user("hi")]).text == "via proxy"
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [target + "/chat/completions"] * 2
