"""The shared rate limit, on a clock the test moves."""

from __future__ import annotations

import pytest

from podium.batch import RateState
from podium.exceptions import UserError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_429_pauses_everyone_for_retry_after_and_cuts_the_rate_once_per_second() -> None:
    clock = Clock()
    state = RateState(clock=clock)
    for _ in range(40):  # 20 req/s over the 2 s window
        assert state.reserve() == 0.0
        clock.now += 0.05
    state.throttled(retry_after=2.0)
    state.throttled(retry_after=1.0)  # the same burst: no second cut, the longer pause stays
    assert state.rate == pytest.approx(15.0)
    assert state.stats()["cuts"] == 1 and state.stats()["rate_limited"] == 2
    assert state.reserve() == pytest.approx(2.0)  # everyone waits for the retry-after
    assert state.reserve() == pytest.approx(2.0 + 1 / 15)  # then at the cut rate
    assert state.stats()["paused"] == pytest.approx(2.0)


def test_the_rate_recovers_to_unlimited_after_quiet_seconds() -> None:
    clock = Clock()
    state = RateState(clock=clock)
    for _ in range(40):
        state.reserve()
        clock.now += 0.05
    state.throttled(None)  # no retry-after: a backoff of 0.5 s
    assert state.rate == pytest.approx(15.0)
    clock.now += 1.0
    state.reserve()
    assert state.rate == pytest.approx(19.0, abs=0.4)  # + a fifth of the best rate (about 20/s) per second
    clock.now += 10.0
    state.reserve()
    assert state.rate is None
    assert state.stats()["lowest_rate"] == pytest.approx(15.0)


def test_a_configured_rate_spaces_requests_and_caps_recovery() -> None:
    clock = Clock()
    state = RateState(4.0, clock=clock)
    assert [round(state.reserve(), 3) for _ in range(3)] == [0.0, 0.25, 0.5]
    state.throttled(0.0)
    clock.now += 100
    state.reserve()
    assert state.rate == 4.0
    with pytest.raises(UserError):
        RateState(0)
