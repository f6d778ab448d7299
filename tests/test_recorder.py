"""Recording a cassette through the recording proxy, then replaying it: the same answer, no credentials kept."""

from __future__ import annotations

from pathlib import Path

import pytest

import podium
from podium.messages import Message
from podium.testing.cassette import Cassette, ReplayServer
from podium.testing.fake_server import FakeProviderServer, Reply
from podium.testing.recorder import RecordingProxy

KEY = "sk-recorder-test-0123456789abcdefghij"


def test_a_recorded_exchange_replays_the_same_and_keeps_no_key(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "openai_chat" / "recorded.yaml"
    with FakeProviderServer(Reply.answer("Hello from upstream."), Reply.answer("Streamed hello.")) as upstream:
        with RecordingProxy(upstream.url, path) as proxy:
            model = podium.model("openai:gpt-4o-mini", base_url=proxy.url + "/v1", api_key=KEY)
            whole = model.request([Message.user("Say hi")])
            streamed = list(model.stream([Message.user("Say hi again")]))[-1]
        assert [r.path for r in upstream.requests] == ["/v1/chat/completions"] * 2
        assert upstream.requests[0].headers["authorization"] == f"Bearer {KEY}"  # forwarded upstream
    assert (whole.text, streamed.text) == ("Hello from upstream.", "Streamed hello.")

    text = path.read_text()
    assert KEY not in text and "authorization" not in text.lower()
    cassette = Cassette.load(path)
    assert [i.request.body.get("stream", False) for i in cassette.interactions] == [False, True]
    assert cassette.interactions[1].headers["content-type"].startswith("text/event-stream")

    with ReplayServer(path) as replay:
        again = podium.model("openai:gpt-4o-mini", base_url=replay.url + "/v1", api_key="other-key")
        assert again.request([Message.user("Say hi")]).text == "Hello from upstream."
        assert list(again.stream([Message.user("Say hi again")]))[-1].text == "Streamed hello."
        assert not replay.unplayed


def test_an_upstream_error_is_recorded_and_passed_on(tmp_path: Path) -> None:
    path = tmp_path / "error.yaml"
    with FakeProviderServer(Reply.error(400, "bad model")) as upstream, RecordingProxy(upstream.url, path) as proxy:
        model = podium.model("openai:nope", base_url=proxy.url + "/v1", api_key=KEY)
        with pytest.raises(podium.ProviderError) as info:
            model.request([Message.user("hi")])
        assert info.value.status == 400
    assert Cassette.load(path).interactions[0].status == 400
