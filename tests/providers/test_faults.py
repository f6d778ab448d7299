"""Every provider, through its real SDK, against a fake server that misbehaves.

Each fault ends in a clear error of the right type, raised within the configured timeouts, on every path
(sync and async, streamed and whole): a stream cut before its end marker or inside a JSON event, an HTML
page with status 200, a hang before the headers or in the middle of a stream, a slow drip past the total
timeout, a connection reset. Errors after data reached the caller carry it (``partial``) and are not
retried; failures before any data are retried, honouring ``retry-after``.
"""

from __future__ import annotations

import pytest
from fault_kit import MODES, PROVIDERS, QUICK_RETRY, READ, TOTAL, Outcome, call, make, serving

from podium.exceptions import (
    IncompleteStreamError,
    InvalidResponseError,
    ProviderConnectionError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
)
from podium.messages import ModelResponse
from podium.providers.retry import RetryPolicy
from podium.testing.fake_server import Reply

TEXT = "Hello from the fake server."
SLACK = 2.0
"""Generous extra seconds for a loaded machine: these are bounds, not timings."""


def run_all(name: str, reply: Reply, modes: tuple[str, ...] = MODES) -> dict[str, Outcome]:
    """``reply`` to one call in each of ``modes``, after a warm-up call (SDK imports, clients made)."""
    with serving(Reply.answer(), *[reply] * len(modes)) as server:
        model = make(server, name)
        assert call(model, "request").error is None
        outcomes = {mode: call(model, mode) for mode in modes}
        assert len(server.requests) == 1 + len(modes)  # one request each: nothing was retried
    return outcomes


def assert_partial_prefix(outcome: Outcome) -> None:
    """An error after deltas reached the caller carries what they add up to."""
    error = outcome.error
    assert error is not None
    sent = "".join(getattr(event, "text", "") for event in outcome.events)
    partial = getattr(error, "partial", None)
    if outcome.events:
        assert partial is not None, "an error after data must carry the partial response"
        assert partial.finish_reason == "error"
        assert partial.text == sent and TEXT.startswith(partial.text)
    else:
        assert partial is None


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_truncated_stream_is_an_error_not_an_answer(name: str) -> None:
    outcomes = run_all(name, Reply.truncated(TEXT))
    for mode in ("stream", "astream"):
        outcome = outcomes[mode]
        assert isinstance(outcome.error, IncompleteStreamError), (mode, outcome.error)
        assert "end marker" in str(outcome.error) and outcome.error.retryable
        assert outcome.events, "the text before the cut did reach the caller"
        assert_partial_prefix(outcome)
    for mode in ("request", "arequest"):  # a whole answer cut in half is not JSON
        error = outcomes[mode].error
        assert isinstance(error, InvalidResponseError) and "not JSON" in str(error), (mode, error)


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_stream_cut_inside_a_json_event_is_incomplete(name: str) -> None:
    outcomes = run_all(name, Reply.cut_mid_json(after=2, text=TEXT))
    for mode in ("stream", "astream"):
        outcome = outcomes[mode]
        assert isinstance(outcome.error, IncompleteStreamError), (mode, outcome.error)
        assert_partial_prefix(outcome)
    for mode in ("request", "arequest"):
        assert isinstance(outcomes[mode].error, InvalidResponseError), mode


@pytest.mark.parametrize("name", PROVIDERS)
def test_an_html_page_with_status_200_is_a_clear_error(name: str) -> None:
    for mode, outcome in run_all(name, Reply.html()).items():
        error = outcome.error
        assert isinstance(error, InvalidResponseError) and not isinstance(error, IncompleteStreamError), mode
        assert "text/html" in str(error) and "Captive portal" in str(error), (mode, str(error))
        assert error.content_type is not None and error.content_type.startswith("text/html")
        assert error.retryable and not outcome.events


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_connection_reset_is_a_connection_error(name: str) -> None:
    for mode, outcome in run_all(name, Reply.reset(after=3, text=TEXT)).items():
        assert isinstance(outcome.error, ProviderConnectionError), (mode, outcome.error)
        if mode in ("stream", "astream"):
            assert_partial_prefix(outcome)


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_hang_before_the_headers_times_out(name: str) -> None:
    outcomes = run_all(name, Reply.hang(), ("stream", "arequest"))
    stream, whole = outcomes["stream"], outcomes["arequest"]
    assert isinstance(stream.error, ProviderTimeoutError), stream.error
    assert READ * 0.8 <= stream.seconds < READ + SLACK  # a stream waits the read timeout for its first byte
    assert isinstance(whole.error, ProviderTimeoutError), whole.error
    assert READ * 0.8 <= whole.seconds < TOTAL + SLACK  # a whole answer waits up to the total


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_stream_that_stalls_times_out_with_what_arrived(name: str) -> None:
    outcome = run_all(name, Reply.stall(after=3, text=TEXT), ("astream",))["astream"]
    assert isinstance(outcome.error, ProviderTimeoutError), outcome.error
    assert outcome.seconds < READ + SLACK
    assert_partial_prefix(outcome)


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_slow_drip_is_cut_at_the_total_timeout(name: str) -> None:
    drip = Reply.drip(0.1, text=TEXT * 2)  # each piece within the read timeout, all of them past the total
    modes = ("stream", "request")
    for mode, outcome in run_all(name, drip, modes).items():
        assert isinstance(outcome.error, ProviderTimeoutError), (mode, outcome.error)
        assert "total timeout" in str(outcome.error), (mode, str(outcome.error))
        assert TOTAL * 0.8 <= outcome.seconds < TOTAL + READ + SLACK, (mode, outcome.seconds)


@pytest.mark.parametrize("name", PROVIDERS)
def test_failures_before_any_data_are_retried(name: str) -> None:
    replies = [
        Reply.error(429, "slow down", retry_after=0),
        Reply.error(503, "overloaded"),
        Reply.html(),
        Reply.cut_mid_json(after=0),  # cut before any text: nothing reached the caller
        Reply.answer(TEXT),
    ]
    for mode in ("stream", "arequest"):
        with serving(*replies) as server:
            retry = RetryPolicy(max_retries=len(replies) - 1, initial_delay=0.0, jitter=0.0)
            outcome = call(make(server, name, retry=retry), mode)
            assert outcome.response.text == TEXT, mode
            assert len(server.requests) == len(replies), mode


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_stream_that_broke_after_data_is_not_retried(name: str) -> None:
    with serving(Reply.truncated(TEXT), Reply.answer(TEXT)) as server:
        outcome = call(make(server, name, retry=QUICK_RETRY), "stream")
        sent = "".join(getattr(e, "text", "") for e in outcome.events if not isinstance(e, ModelResponse))
        if outcome.error is None:
            # On a busy machine the whole cut stream can arrive before the client's first read, and an HTTP
            # client that reads greedily (urllib3, under botocore) then fails on that read: nothing reached the
            # caller, so one retry is right. Never may the caller see text twice.
            assert len(server.requests) == 2 and sent == TEXT, (len(server.requests), sent)
            return
        assert isinstance(outcome.error, IncompleteStreamError)
        assert len(server.requests) == 1  # the caller had seen text: a retry would repeat it
        assert_partial_prefix(outcome)


@pytest.mark.parametrize("name", ["openai", "anthropic", "google", "bedrock", "cohere", "ollama"])
def test_rate_limit_and_server_errors_without_retries(name: str) -> None:
    with serving(Reply.error(429, "slow down", retry_after=7), Reply.error(500, "boom")) as server:
        model = make(server, name)
        limited = call(model, "request").error
        assert isinstance(limited, RateLimitError) and limited.retry_after == 7, limited
        failed = call(model, "stream").error
        assert isinstance(failed, ServerError) and failed.retryable, failed


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_failure_after_the_end_marker_does_not_lose_the_answer(name: str) -> None:
    for reply in (Reply.reset(after=10_000, text=TEXT), Reply.stall(after=10_000, text=TEXT)):
        outcomes = run_all(name, reply, ("stream", "astream"))
        for mode, outcome in outcomes.items():
            assert outcome.response.text == TEXT, (mode, reply.fault)


@pytest.mark.parametrize("name", ["openai", "anthropic", "google", "bedrock", "cohere", "ollama", "openai-responses"])
def test_retry_after_is_honoured_before_a_retry(name: str) -> None:
    limited = Reply.error(429, "slow down", retry_after=0.4)
    with serving(limited, Reply.answer(TEXT), limited, Reply.answer(TEXT)) as server:
        model = make(server, name, retry=QUICK_RETRY)
        for mode in ("stream", "request"):
            outcome = call(model, mode)
            assert outcome.response.text == TEXT, mode
            assert outcome.seconds >= 0.35, (mode, outcome.seconds)  # waited as told, not the policy's 0 s
        assert len(server.requests) == 4
