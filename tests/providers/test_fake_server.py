"""The fake provider server speaks each vendor's wire format well enough for the real provider classes."""

from __future__ import annotations

import pytest
from fault_kit import PROVIDERS, call, make

from podium.exceptions import BadRequestError
from podium.messages import ModelResponse
from podium.settings import ModelSettings
from podium.streaming import TextDelta, ToolCallDelta
from podium.testing import FakeProviderServer, Reply

ANSWER = Reply.answer("Two plus three is five.", calls=[("add", {"a": 2, "b": 3})])


@pytest.mark.parametrize("name", PROVIDERS)
def test_every_path_reads_the_same_answer(name: str) -> None:
    with FakeProviderServer(default=ANSWER) as server:
        model = make(server, name)
        modes = ("request", "stream", "arequest", "astream")
        outcomes = {mode: call(model, mode, ModelSettings()) for mode in modes}  # default timeouts
        assert [r.stream for r in server.requests] == [False, True, False, True]
    whole = outcomes["request"].response
    assert whole.text == "Two plus three is five."
    assert [(c.name, c.args) for c in whole.tool_calls] == [("add", {"a": 2, "b": 3})]
    assert whole.usage.input_tokens == 5 and whole.usage.output_tokens == 7
    for mode in ("stream", "arequest", "astream"):
        response = outcomes[mode].response
        assert response.text == whole.text and response.tool_calls == whole.tool_calls, mode
    streamed = outcomes["stream"].events
    assert "".join(e.text for e in streamed if isinstance(e, TextDelta)) == whole.text
    assert any(isinstance(e, ToolCallDelta) and e.name == "add" for e in streamed)
    assert sum(isinstance(e, ModelResponse) for e in streamed) == 1


def test_requests_are_recorded_and_an_empty_script_says_so() -> None:
    with FakeProviderServer() as server:
        server.script(Reply.answer("one"))
        model = make(server, "anthropic")
        assert call(model, "request").response.text == "one"
        error = call(model, "request").error
        assert isinstance(error, BadRequestError) and "no scripted reply left" in str(error)
        first = server.requests[0]
        assert first.vendor == "anthropic" and first.path == "/v1/messages" and not first.stream
        assert first.json["messages"][0]["content"][0]["text"] == "Say hello."
        assert "fake-key" in (first.headers.get("x-api-key", "") + first.headers.get("authorization", ""))


def test_an_error_reply_has_the_vendor_shape_and_retry_after() -> None:
    with FakeProviderServer(Reply.error(429, "slow down", retry_after=3)) as server:
        error = call(make(server, "google"), "request").error
    from podium.exceptions import RateLimitError

    assert isinstance(error, RateLimitError)
    assert error.retry_after == 3 and "slow down" in str(error)
    assert error.body["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_the_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "providers.md"
    section = docs.read_text().split("### Testing against a misbehaving provider", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, str(docs), "exec"), {})
    assert capsys.readouterr().out.strip() == "Hello"  # the cut answer was retried
