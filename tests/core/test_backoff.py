"""The reconnect schedule: doubling to the cap, jitter bounds, reset after a healthy connection, the limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core.backoff import CAP, HEALTHY, JITTER, Backoff


def _middle() -> float:
    return 0.5  # no jitter: 1 + 0.2 * (2 * 0.5 - 1) == 1


def test_waits_double_up_to_the_cap() -> None:
    backoff = Backoff(1.0, 0, _middle)
    waits = [backoff.after(None) for _ in range(8)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, CAP, CAP, CAP]


def test_attempts_are_numbered_from_one() -> None:
    backoff = Backoff(1.0, 0, _middle)
    assert backoff.attempt == 1
    backoff.after(None)
    assert backoff.attempt == 2


def test_n_more_attempts_then_none() -> None:
    backoff = Backoff(0.5, 3, _middle)
    assert [backoff.after(None) for _ in range(4)] == [0.5, 1.0, 2.0, None]
    assert backoff.attempt == 4  # the last attempt made
    assert backoff.after(None) is None


def test_a_healthy_connection_resets_the_wait_a_short_one_does_not() -> None:
    backoff = Backoff(1.0, 0, _middle)
    assert backoff.after(None) == 1.0
    assert backoff.after(HEALTHY - 0.1) == 2.0  # dropped soon after accept: a failure
    assert backoff.after(HEALTHY) == 1.0
    assert backoff.after(None) == 2.0


@given(
    st.floats(min_value=0.01, max_value=60), st.lists(st.floats(min_value=0, max_value=0.999999), max_size=12)
)
def test_jitter_stays_within_twenty_percent(first: float, draws: list[float]) -> None:
    randoms = iter(draws)
    backoff = Backoff(first, 0, lambda: next(randoms))
    base = first
    for _ in draws:
        wait = backoff.after(None)
        assert wait is not None
        assert base * (1 - JITTER) - 1e-9 <= wait <= base * (1 + JITTER) + 1e-9
        base = min(CAP, base * 2)


def test_bad_values_are_refused() -> None:
    for delay, retries in ((0.0, 0), (-1.0, 0), (1.0, -1)):
        with pytest.raises(ValueError, match="must be"):
            Backoff(delay, retries, _middle)
