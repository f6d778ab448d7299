"""Transport failures of the Anthropic and OpenAI Responses providers map to Podium's exceptions.

A refused connection, a stream cut in the middle and a server that does not answer in time, each
on a loopback socket, for both providers.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from podium.exceptions import ProviderConnectionError, ProviderTimeoutError
from podium.messages import Message
from podium.providers.anthropic import AnthropicModel
from podium.providers.base import Model
from podium.providers.openai_responses import OpenAIResponsesModel
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings
from podium.streaming import TextDelta

NO_RETRY = RetryPolicy(max_retries=0)

ANTHROPIC_START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"claude-haiku-4-5",'
    b'"content":[],"usage":{"input_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hel"}}\n\n'
)
RESPONSES_START = (
    b'event: response.output_item.added\ndata: {"type":"response.output_item.added","output_index":0,'
    b'"item":{"id":"msg_1","type":"message","role":"assistant","content":[]}}\n\n'
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","output_index":0,'
    b'"content_index":0,"delta":"Hel"}\n\n'
)


def anthropic(url: str) -> Model:
    return AnthropicModel("claude-haiku-4-5", base_url=url, api_key="k", retry=NO_RETRY)


def responses(url: str) -> Model:
    return OpenAIResponsesModel("gpt-4o", base_url=url + "/v1", api_key="k", retry=NO_RETRY)


PROVIDERS = [
    pytest.param(anthropic, ANTHROPIC_START, id="anthropic"),
    pytest.param(responses, RESPONSES_START, id="openai-responses"),
]


@contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A one-connection-at-a-time loopback server whose connections are given to ``handle``."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize(("make", "start"), PROVIDERS)
def test_refused_connection(make: Callable[[str], Model], start: bytes) -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ProviderConnectionError) as info:
        make(f"http://127.0.0.1:{port}").request([Message.user("hi")])
    assert info.value.retryable


@pytest.mark.parametrize(("make", "start"), PROVIDERS)
def test_stream_cut_in_the_middle(make: Callable[[str], Model], start: bytes) -> None:
    def handle(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 100000\r\n\r\n"
        conn.sendall(head + start)

    events: list[object] = []
    with raw_server(handle) as url, pytest.raises(ProviderConnectionError) as info:
        events.extend(make(url).stream([Message.user("hi")]))
    assert events == [TextDelta(0, "Hel")]
    assert "broke in the middle of the answer" in str(info.value)


@pytest.mark.parametrize(("make", "start"), PROVIDERS)
def test_no_answer_in_time(make: Callable[[str], Model], start: bytes) -> None:
    def handle(conn: socket.socket) -> None:
        time.sleep(1.0)

    with raw_server(handle) as url, pytest.raises(ProviderTimeoutError) as info:
        make(url).request([Message.user("hi")], settings=ModelSettings(timeout=0.2))
    assert info.value.retryable
