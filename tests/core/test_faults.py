"""The fault engine's decisions, on a fake clock: what is forwarded when, and when a fault fires."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core.faults import End, FaultLine, Fire, Refusals, Wait, Write, draw_faulty
from tcpcli.core.faultspec import (
    DOWN,
    UP,
    DirectionFaults,
    Trigger,
    parse_delay,
    parse_fault_rate,
    parse_replace,
    parse_size,
    parse_time,
    parse_trigger,
    split_direction,
)


def _run(line: FaultLine, now: float, until: float = 1e9) -> list[tuple[float, object]]:
    """Play the line as the driver does, jumping the fake clock to each Wait; (time, action) pairs."""
    done: list[tuple[float, object]] = []
    while now <= until:
        action = line.next(now)
        if action is None:
            break
        if isinstance(action, Wait):
            assert action.until > now or action.until == pytest.approx(now)
            now = max(action.until, now)
            continue
        done.append((now, action))
        if isinstance(action, Fire):
            break
    return done


def test_no_faults_forwards_at_once() -> None:
    line = FaultLine(DirectionFaults(), 0.0, lambda: 0.5)
    line.feed(b"hello", 1.0)
    assert line.next(1.0) == Write(b"hello")
    assert line.next(1.0) is None


def test_delay_holds_each_chunk_and_keeps_order() -> None:
    line = FaultLine(DirectionFaults(delay=0.25), 0.0, lambda: 0.5)
    line.feed(b"a", 1.0)
    line.feed(b"b", 1.1)
    assert line.next(1.0) == Wait(1.25)
    assert _run(line, 1.25) == [(1.25, Write(b"a")), (1.35, Write(b"b"))]


def test_jitter_never_reorders_and_stays_within_bounds() -> None:
    draws = iter([0.99, 0.0])  # first chunk +J, second -J
    line = FaultLine(DirectionFaults(delay=1.0, jitter=0.5), 0.0, lambda: next(draws))
    line.feed(b"a", 0.0)  # due ~1.5
    line.feed(b"b", 0.1)  # would be due 0.6: kept after "a"
    times = [t for t, _ in _run(line, 0.0)]
    assert times[0] == pytest.approx(1.49)
    assert times[1] == times[0]


def test_fin_comes_after_the_delayed_data() -> None:
    line = FaultLine(DirectionFaults(delay=0.5), 0.0, lambda: 0.5)
    line.feed(b"x", 0.0)
    line.feed_end(0.1)
    assert _run(line, 0.0) == [(0.5, Write(b"x")), (0.6, End())]
    assert line.done


def test_slice_cuts_writes_and_the_delay_spaces_every_slice() -> None:
    line = FaultLine(DirectionFaults(slice=2), 0.0, lambda: 0.5)
    line.feed(b"abcde", 0.0)
    assert [a for _, a in _run(line, 0.0)] == [Write(b"ab"), Write(b"cd"), Write(b"e")]
    line = FaultLine(DirectionFaults(slice=1, delay=0.1), 0.0, lambda: 0.5)
    line.feed(b"abc", 0.0)
    assert [round(t, 6) for t, _ in _run(line, 0.0)] == [0.1, 0.2, 0.3]


def test_rate_never_exceeds_its_budget_and_keeps_up() -> None:
    line = FaultLine(DirectionFaults(rate=1000), 0.0, lambda: 0.5)
    line.feed(b"x" * 5000, 0.0)
    sent = 0
    for now, action in _run(line, 0.0):
        assert isinstance(action, Write)
        sent += len(action.data)
        assert sent <= 1000 * now + 1e-6
    assert sent == 5000
    assert now == pytest.approx(5.0, rel=0.01)


@pytest.mark.parametrize("kind", ["stall", "cut", "reset"])
def test_a_byte_trigger_forwards_exactly_n_then_fires(kind: str) -> None:
    line = FaultLine(DirectionFaults(**{kind: Trigger(size=100)}), 0.0, lambda: 0.5)
    line.feed(b"x" * 60, 0.0)
    assert line.next(0.0) == Write(b"x" * 60)
    assert line.next(0.0) is None
    line.feed(b"y" * 60, 0.1)
    assert line.next(0.1) == Write(b"y" * 40)
    assert line.next(0.1) == Fire(kind)
    assert line.next(0.2) is None and line.done and line.queued == 0


def test_a_zero_byte_trigger_fires_at_once() -> None:
    line = FaultLine(DirectionFaults(cut=Trigger(size=0)), 0.0, lambda: 0.5)
    assert line.next(0.0) == Fire("cut")


def test_a_time_trigger_fires_at_its_time_whatever_is_queued() -> None:
    line = FaultLine(DirectionFaults(delay=10.0, stall=Trigger(seconds=2.0)), 1.0, lambda: 0.5)
    assert line.next(1.0) == Wait(3.0)
    line.feed(b"late", 1.5)
    assert line.next(1.5) == Wait(3.0)
    assert line.next(3.0) == Fire("stall")


def test_reset_wins_a_tie_with_cut() -> None:
    plan = DirectionFaults(cut=Trigger(size=5), reset=Trigger(size=5))
    line = FaultLine(plan, 0.0, lambda: 0.5)
    line.feed(b"0123456789", 0.0)
    assert [a for _, a in _run(line, 0.0)] == [Write(b"01234"), Fire("reset")]


@given(
    chunks=st.lists(st.binary(min_size=1, max_size=50), max_size=20),
    slice_=st.one_of(st.none(), st.integers(min_value=1, max_value=16)),
    rate=st.one_of(st.none(), st.integers(min_value=10, max_value=10_000)),
)
def test_bytes_come_out_whole_and_in_order(chunks: list[bytes], slice_: int | None, rate: int | None) -> None:
    line = FaultLine(DirectionFaults(delay=0.01, slice=slice_, rate=rate), 0.0, lambda: 0.5)
    for index, chunk in enumerate(chunks):
        line.feed(chunk, index * 0.001)
    line.feed_end(1.0)
    actions = [a for _, a in _run(line, 0.0)]
    assert actions[-1] == End()
    written = [a.data for a in actions if isinstance(a, Write)]
    assert b"".join(written) == b"".join(chunks)
    if slice_:
        assert all(len(piece) <= slice_ for piece in written)


def test_fault_rate_draws_per_connection() -> None:
    assert draw_faulty(1.0, lambda: 0.999) is True
    assert draw_faulty(0.0, lambda: 0.0) is False
    assert draw_faulty(0.5, lambda: 0.4) is True
    assert draw_faulty(0.5, lambda: 0.6) is False


def test_refusals_count_the_first_n_clients() -> None:
    refusals = Refusals(2)
    assert [refusals.refuse() for _ in range(4)] == [True, True, False, False]


def test_values_and_their_units() -> None:
    assert parse_size("100") == 100 and parse_size("4k") == 4096 and parse_size("10M") == 10 << 20
    assert parse_time("1.5s") == 1.5 and parse_time("250ms") == 0.25
    assert parse_trigger("100") == Trigger(size=100)
    assert parse_trigger("2s") == Trigger(seconds=2.0)
    assert parse_delay("100ms~20ms") == (0.1, 0.02)
    assert parse_fault_rate("0.25") == 0.25
    assert parse_replace("a=b=c") == ("a", "b=c")
    assert split_direction("up:1k") == ((UP,), "1k")
    assert split_direction("down:1k") == ((DOWN,), "1k")
    assert split_direction("1k") == ((UP, DOWN), "1k")


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_time, "5"),
        (parse_time, "1m"),
        (parse_size, "1.5k"),
        (parse_size, "-1"),
        (parse_trigger, "soon"),
        (parse_fault_rate, "1.5"),
        (parse_fault_rate, "nan"),
        (parse_replace, "=x"),
        (parse_replace, "abc"),
    ],
)
def test_bad_values_are_value_errors(parse: object, text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)  # type: ignore[operator]
