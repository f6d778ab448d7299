"""FallbackModel against the fake provider server: real provider classes, real HTTP, scripted faults.

The primary is OpenAI Chat Completions and the fallback Anthropic, both pointed at one fake server that
serves the script in order (the primary's answer first, then the fallback's).
"""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium import Agent
from podium.exceptions import (
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    UserError,
)
from podium.messages import Message, ModelResponse
from podium.providers import FallbackModel
from podium.providers.base import Model
from podium.providers.profiles import ModelProfile
from podium.providers.retry import RetryPolicy
from podium.settings import ModelSettings
from podium.streaming import StreamEvent, TextDelta
from podium.testing.fake_server import FakeProviderServer, Reply
from podium.testing.models import FunctionModel

pytestmark = pytest.mark.filterwarnings("ignore::podium.providers.pricing.UnknownPriceWarning")

NO_RETRY = RetryPolicy(max_retries=0)
PROMPT = [Message.user("Say hello.")]
QUICK = ModelSettings(connect_timeout=0.3, read_timeout=0.3, timeout=2.0)
MODES = ("request", "arequest", "stream", "astream")


@pytest.fixture
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as fake:
        yield fake


def chain(server: FakeProviderServer, **options: Any) -> FallbackModel:
    primary = server.model("openai:gpt-4o", retry=NO_RETRY)
    fallback = server.model("anthropic:claude-sonnet-4-5", retry=NO_RETRY)
    return FallbackModel(primary, fallback, **options)


def run(model: Model, mode: str, settings: ModelSettings = QUICK) -> list[StreamEvent]:
    """The events of one call made ``mode``'s way (a request gives just its response)."""
    if mode == "request":
        return [model.request(PROMPT, settings=settings)]
    if mode == "stream":
        return list(model.stream(PROMPT, settings=settings))

    async def go() -> list[StreamEvent]:
        if mode == "arequest":
            return [await model.arequest(PROMPT, settings=settings)]
        return [event async for event in model.astream(PROMPT, settings=settings)]

    return asyncio.run(go())


def final(events: list[StreamEvent]) -> ModelResponse:
    response = events[-1]
    assert isinstance(response, ModelResponse)
    return response


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Reply.error(429, "slow down", retry_after=0), "RateLimitError"),
        (Reply.error(503, "overloaded"), "ServerError"),
        (Reply.hang(), "ProviderTimeoutError"),
        (Reply.cut_mid_json(after=0), "IncompleteStreamError"),  # cut in the first event: nothing arrived
        (Reply.html(), "InvalidResponseError"),
    ],
    ids=["429", "503", "timeout", "cut", "html"],
)
def test_the_fallback_answers_when_the_primary_fails(
    server: FakeProviderServer, fault: Reply, error: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(fault, Reply.answer("Hello from the fallback."))
    with caplog.at_level(logging.WARNING, logger="podium.providers.fallback"):
        events = run(chain(server), mode)
    response = final(events)
    assert response.text == "Hello from the fallback."
    assert response.provider == "anthropic"
    assert response.provider_details is not None
    record = response.provider_details["fallback"]
    assert record["model"] == "anthropic:claude-sonnet-4-5" and record["index"] == 1
    (failed,) = record["failed"]
    assert failed["model"] == "openai:gpt-4o"
    if error == "IncompleteStreamError" and mode in ("request", "arequest"):
        error = "InvalidResponseError"  # a whole body cut in half does not parse
    assert failed["error"] == error
    assert [r.vendor for r in server.requests] == ["openai-chat", "anthropic"]
    if mode in ("stream", "astream"):
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello from the fallback."
    (log,) = [r for r in caplog.records if r.name == "podium.providers.fallback"]
    assert log.levelno == logging.WARNING
    assert "openai:gpt-4o failed" in log.getMessage() and error in log.getMessage()
    assert "trying anthropic:claude-sonnet-4-5" in log.getMessage()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("status", "kind"), [(400, BadRequestError), (401, AuthenticationError)])
def test_a_bad_request_does_not_fall_through(
    server: FakeProviderServer, status: int, kind: type[Exception], mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(Reply.error(status, "your request is wrong"), Reply.answer("must not be asked"))
    with caplog.at_level(logging.WARNING, logger="podium.providers.fallback"), pytest.raises(kind):
        run(chain(server), mode)
    assert len(server.requests) == 1
    assert not [r for r in caplog.records if r.name == "podium.providers.fallback"]


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_a_stream_cut_after_output_reached_the_caller_is_raised_with_the_partial(
    server: FakeProviderServer, mode: str
) -> None:
    """The caller has shown the start of the answer: another model cannot continue it."""
    server.script(Reply.truncated("Half an answer"), Reply.answer("must not be asked"))
    model = chain(server)
    seen: list[StreamEvent] = []

    async def consume() -> None:
        async for event in model.astream(PROMPT, settings=QUICK):
            seen.append(event)

    with pytest.raises(IncompleteStreamError) as info:
        if mode == "stream":
            for event in model.stream(PROMPT, settings=QUICK):
                seen.append(event)
        else:
            asyncio.run(consume())
    assert len(server.requests) == 1
    assert info.value.partial is not None
    assert info.value.partial.text == "".join(e.text for e in seen if isinstance(e, TextDelta)) == "Half an answer"


@pytest.mark.parametrize("mode", MODES)
def test_when_every_model_fails_the_last_error_is_raised_and_logged(
    server: FakeProviderServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(Reply.error(503, "primary down"), Reply.error(529, "fallback overloaded"))
    with caplog.at_level(logging.WARNING, logger="podium.providers.fallback"), pytest.raises(ServerError) as info:
        run(chain(server), mode)
    assert info.value.provider == "anthropic" and info.value.status == 529
    messages = [r.getMessage() for r in caplog.records if r.name == "podium.providers.fallback"]
    assert len(messages) == 2
    assert "no model left to try" in messages[1]


def test_three_models_and_the_primary_answering(server: FakeProviderServer) -> None:
    server.script(
        Reply.error(429, "a", retry_after=0),
        Reply.error(500, "b"),
        Reply.answer("third"),
        Reply.answer("primary again"),
    )
    model = FallbackModel(
        server.model("openai:gpt-4o", retry=NO_RETRY),
        server.model("anthropic:claude-sonnet-4-5", retry=NO_RETRY),
        server.model("google:gemini-2.5-flash", retry=NO_RETRY),
    )
    third = model.request(PROMPT, settings=QUICK)
    assert third.provider == "google" and third.text == "third"
    assert third.provider_details is not None
    details = third.provider_details["fallback"]
    assert details["index"] == 2
    assert [(f["model"], f["error"], f["status"]) for f in details["failed"]] == [
        ("openai:gpt-4o", "RateLimitError", 429),
        ("anthropic:claude-sonnet-4-5", "ServerError", 500),
    ]
    again = model.request(PROMPT, settings=QUICK)  # every request starts at the primary
    assert again.provider == "openai" and again.text == "primary again"
    assert again.provider_details is not None
    assert again.provider_details["fallback"] == {"model": "openai:gpt-4o", "index": 0, "failed": []}
    assert again.provider_details["id"] == "chatcmpl-fake"  # the provider's own details are kept


@pytest.mark.parametrize(
    ("fallback_on", "falls"),
    [
        ((RateLimitError,), True),
        (RateLimitError, True),
        ((ServerError, ProviderTimeoutError), False),
        (lambda error: "slow down" in str(error), True),
        (lambda error: False, False),
    ],
)
def test_which_errors_fall_through_is_configurable(server: FakeProviderServer, fallback_on: Any, falls: bool) -> None:
    server.script(Reply.error(429, "slow down", retry_after=0), Reply.answer("fallback"))
    model = chain(server, fallback_on=fallback_on)
    if falls:
        assert model.request(PROMPT, settings=QUICK).text == "fallback"
    else:
        with pytest.raises(RateLimitError):
            model.request(PROMPT, settings=QUICK)


def test_a_bad_request_can_be_made_to_fall_through(server: FakeProviderServer) -> None:
    server.script(Reply.error(400, "this model does not take images"), Reply.answer("fallback"))
    model = chain(server, fallback_on=(ProviderError,))
    assert model.request(PROMPT, settings=QUICK).text == "fallback"


def test_the_profile_is_the_primarys_and_bad_arguments_are_clear() -> None:
    primary = FunctionModel(lambda messages, info: "p", profile=ModelProfile(context_window=1000, vision=False))
    fallback = FunctionModel(lambda messages, info: "f", profile=ModelProfile(context_window=9, vision=True))
    model = FallbackModel(primary, fallback)
    assert model.profile == primary.profile
    assert model.models == [primary, fallback]
    assert repr(model) == "FallbackModel(test:function, test:function)"
    with pytest.raises(UserError, match="at least one fallback"):
        FallbackModel(primary)
    with pytest.raises(UserError, match="takes models or 'provider:model' strings"):
        FallbackModel(primary, 42)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="fallback_on"):
        FallbackModel(primary, fallback, fallback_on="RateLimitError")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="not an exception class"):
        FallbackModel(primary, fallback, fallback_on=(RateLimitError, int))  # type: ignore[arg-type]


def test_strings_are_resolved_lazily_and_an_agent_uses_the_chain(
    server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Agent(FallbackModel("openai:gpt-4o", "anthropic:claude-sonnet-4-5"))``, the SDKs' own env variables."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "fake-key")
    model = FallbackModel("openai:gpt-4o", "anthropic:claude-sonnet-4-5")
    assert model._chain == ["openai:gpt-4o", "anthropic:claude-sonnet-4-5"]  # nothing resolved yet
    # the primary's own retries run first: four 429s with retry-after 0 use them up
    server.script(*[Reply.error(429, "slow down", retry_after=0)] * 4, Reply.answer("Hello from Claude."))
    result = Agent(model).run("Say hello.")
    assert result.output == "Hello from Claude."
    last = result.messages[-1]
    assert (last.provider, last.model) == ("anthropic", "claude-sonnet-4-5")
    assert last.provider_details is not None and last.provider_details["fallback"]["index"] == 1
    assert [r.vendor for r in server.requests] == ["openai-chat"] * 4 + ["anthropic"]


def test_constructing_with_strings_imports_no_vendor_module() -> None:
    code = (
        "import sys\n"
        "from podium.providers import FallbackModel\n"
        "m = FallbackModel('openai:gpt-4o', 'anthropic:claude-sonnet-4-5')\n"
        "print(sorted(n for n in ('openai', 'anthropic', 'podium.providers.openai', 'podium.providers.anthropic')"
        " if n in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_stream_that_ends_without_a_response_is_an_error_not_a_fall_through() -> None:
    class Broken(FunctionModel):
        def stream(self, *args: Any, **kwargs: Any) -> Iterator[StreamEvent]:
            yield from ()

    model = FallbackModel(Broken(lambda m, i: "x"), FunctionModel(lambda m, i: "fallback"))
    with pytest.raises(ProviderError, match="ended without a response"):
        list(model.stream(PROMPT))


def test_the_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "providers.md"
    section = docs.read_text().split("## Fallback chains", 1)[1]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    exec(compile(block, str(docs), "exec"), {})
    assert capsys.readouterr().out == "Hello from Claude. anthropic\n"
