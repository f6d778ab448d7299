"""Default timeouts, and the ways to set them per model and per request, on every provider."""

from __future__ import annotations

import time

import pytest
from fault_kit import PROVIDERS, call, make, serving

from podium.exceptions import ProviderTimeoutError, UserError
from podium.providers.transport.guard import http_timeouts, resolve_timeouts, timeouts_option
from podium.settings import DEFAULT_TIMEOUTS, ModelSettings, Timeouts
from podium.testing.fake_server import Reply


def test_defaults_are_sane() -> None:
    assert (DEFAULT_TIMEOUTS.connect, DEFAULT_TIMEOUTS.read, DEFAULT_TIMEOUTS.total) == (10.0, 120.0, 900.0)
    assert resolve_timeouts(None, None) is DEFAULT_TIMEOUTS


def test_settings_override_the_model_and_nothing_outlasts_the_total() -> None:
    model = Timeouts(connect=5, read=60, total=600)
    assert resolve_timeouts(model, ModelSettings(read_timeout=300)) == Timeouts(connect=5, read=300, total=600)
    assert resolve_timeouts(model, ModelSettings(timeout=2)) == Timeouts(connect=2, read=2, total=2)
    assert resolve_timeouts(None, ModelSettings(connect_timeout=1)).connect == 1
    assert ModelSettings(read_timeout=1).merge(ModelSettings(timeout=9)).read_timeout == 1


def test_a_whole_answer_waits_up_to_the_total_a_stream_up_to_the_read_timeout() -> None:
    timeouts = Timeouts(connect=3, read=20, total=100)
    assert http_timeouts(timeouts, stream=True) == {"connect": 3, "read": 20, "write": 20, "pool": 100}
    assert http_timeouts(timeouts, stream=False)["read"] == 100


@pytest.mark.parametrize("value", [0, -1, "10", True, None])
def test_bad_timeouts_are_refused(value: object) -> None:
    with pytest.raises(UserError, match="seconds greater than 0"):
        Timeouts(read=value)  # type: ignore[arg-type]


def test_an_sdk_style_timeout_number_is_the_total() -> None:
    options: dict[str, object] = {"timeout": 30, "default_headers": {}}
    assert timeouts_option(None, options) == Timeouts(connect=10, read=30, total=30)
    assert "timeout" not in options  # Podium sets the timeouts per request, so the SDK does not get it
    assert timeouts_option(None, {"timeout_ms": 5000}, "timeout_ms", 0.001) == Timeouts(connect=5, read=5, total=5)
    given = Timeouts(total=7)
    assert timeouts_option(given, {"timeout": 30}) is given


@pytest.mark.parametrize("name", PROVIDERS)
def test_timeouts_given_to_the_model_apply(name: str) -> None:
    with serving(Reply.answer(), Reply.hang(), Reply.hang()) as server:
        model = make(server, name, timeouts=Timeouts(connect=1, read=0.2, total=0.5))
        assert model.timeouts == Timeouts(connect=1, read=0.2, total=0.5)
        assert call(model, "request", ModelSettings()).error is None  # warm up (imports, clients)
        stream = call(model, "stream", ModelSettings())
        assert isinstance(stream.error, ProviderTimeoutError) and stream.seconds < 2.5
        sdk_style = make(server, name, timeout=0.3)  # the SDKs' own option: the total
        started = time.monotonic()
        whole = call(sdk_style, "request", ModelSettings())
        assert isinstance(whole.error, ProviderTimeoutError), whole.error
        assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("field", ["timeout", "connect_timeout", "read_timeout"])
def test_bad_timeout_settings_are_refused(field: str) -> None:
    with pytest.raises(UserError, match=f"ModelSettings.{field}=0"):
        ModelSettings(**{field: 0})
