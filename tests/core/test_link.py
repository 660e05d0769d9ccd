"""One connection's life as a pure decision: one test per rule of CONTRACT.md "End of stream", the wording of
each ending, and a property: every deadline `decide` names is exactly when the decision changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core.link import (
    EXIT_OK,
    EXIT_TIMEOUT,
    INPUT_QUIET_AFTER_PEER_FIN,
    Finish,
    KeepGoing,
    Link,
    LinkPolicy,
    Phase,
    decide_idle,
    ending_message,
    idle_check_in,
    idle_timeout_message,
    seconds_until,
)


def link(
    *,
    started: float = 0.0,
    last_traffic: float = 10.0,
    last_input: float = 0.0,
    input_ended_at: float | None = None,
    peer_finished_at: float | None = None,
    terminal: bool = False,
    quit_after_eof: float | None = None,
    idle_timeout: float | None = None,
) -> Link:
    """A link with its moments set directly (the on_* methods have their own tests)."""
    made = Link(started, LinkPolicy(quit_after_eof, idle_timeout), terminal)
    made.last_traffic = last_traffic
    made.last_input = last_input
    made.input_ended_at = input_ended_at
    made.peer_finished_at = peer_finished_at
    return made


# ------------------------------------------------------------ the rules


def test_nothing_happened_waits_for_events_only() -> None:
    assert link().decide(10.0) == KeepGoing(None)


def test_input_ended_keeps_reading_until_the_peer_closes() -> None:
    assert link(input_ended_at=9.0).decide(10.0) == KeepGoing(None)


def test_peer_closed_after_input_ended_finishes_ok() -> None:
    assert link(input_ended_at=9.0, peer_finished_at=9.5).decide(10.0) == Finish(EXIT_OK, "peer closed")


def test_peer_closed_with_terminal_input_finishes_at_once() -> None:
    assert link(peer_finished_at=10.0, terminal=True).decide(10.0) == Finish(EXIT_OK, "peer closed")


def test_peer_closed_while_input_is_quiet_waits_the_quiet_period() -> None:
    quiet = link(peer_finished_at=10.0, last_input=3.0)
    assert quiet.decide(10.1) == KeepGoing(10.0 + INPUT_QUIET_AFTER_PEER_FIN)
    assert quiet.decide(10.6) == Finish(EXIT_OK, "input quiet", INPUT_QUIET_AFTER_PEER_FIN)


def test_peer_closed_while_input_still_flows_keeps_sending() -> None:
    assert link(peer_finished_at=10.0).decide(20.0, sending=True) == KeepGoing(None)
    recent = link(peer_finished_at=10.0, last_input=10.4)
    assert recent.decide(10.6) == KeepGoing(10.4 + INPUT_QUIET_AFTER_PEER_FIN)


def test_quit_after_eof_bounds_the_wait_for_the_peer() -> None:
    waiting = link(input_ended_at=9.0, quit_after_eof=2)
    assert waiting.decide(10.0) == KeepGoing(11.0)
    assert waiting.decide(11.0) == Finish(EXIT_OK, "quit-after-eof", 2)


def test_quit_after_eof_does_not_start_before_the_input_ends() -> None:
    assert link(quit_after_eof=2).decide(1000.0) == KeepGoing(None)


def test_quit_after_eof_zero_quits_at_input_end() -> None:
    assert isinstance(link(input_ended_at=10.0, quit_after_eof=0).decide(10.0), Finish)


def test_idle_timeout_counts_from_the_last_traffic() -> None:
    idle = link(last_traffic=9.0, idle_timeout=5)
    assert idle.decide(10.0) == KeepGoing(14.0)
    assert idle.decide(14.0) == Finish(EXIT_TIMEOUT, "idle", 5)


def test_earliest_deadline_wins() -> None:
    both = link(last_traffic=10.0, input_ended_at=10.0, quit_after_eof=3, idle_timeout=1)
    assert both.decide(10.0) == KeepGoing(11.0)


def test_the_peer_s_fin_wins_over_a_pending_timeout() -> None:
    done = link(last_traffic=0.0, input_ended_at=0.0, peer_finished_at=1.0, quit_after_eof=0, idle_timeout=1)
    assert done.decide(100.0) == Finish(EXIT_OK, "peer closed")


# ------------------------------------------------------------ what the I/O layer reports


def test_traffic_both_ways_is_counted_and_postpones_the_idle_timeout() -> None:
    live = Link(0.0, LinkPolicy(idle_timeout=5))
    live.on_sent(3, 1.0)
    live.on_received(7, 4.0)
    assert (live.sent, live.received, live.last_input, live.last_traffic) == (3, 7, 1.0, 4.0)
    assert live.decide(8.0) == KeepGoing(9.0)


def test_a_fin_sent_is_traffic_and_the_first_end_of_each_side_is_kept() -> None:
    ends = Link(0.0)
    ends.on_input_ended(2.0)
    ends.on_input_ended(3.0)
    ends.on_peer_finished(4.0)
    ends.on_peer_finished(5.0)
    assert (ends.input_ended_at, ends.peer_finished_at, ends.last_traffic) == (2.0, 4.0, 5.0)


def test_phase_follows_which_sides_have_ended() -> None:
    life = Link(0.0)
    assert life.phase is Phase.OPEN
    life.on_peer_finished(1.0)
    assert life.phase is Phase.PEER_FINISHED
    life.on_input_ended(2.0)
    assert life.phase is Phase.BOTH_ENDED
    other = Link(0.0)
    other.on_input_ended(1.0)
    assert other.phase is Phase.INPUT_ENDED
    assert other.duration(2.5) == 2.5


def test_seconds_until_is_never_negative() -> None:
    assert seconds_until(KeepGoing(None), 5.0) is None
    assert seconds_until(KeepGoing(7.0), 5.0) == 2.0
    assert seconds_until(KeepGoing(4.0), 5.0) == 0.0


def test_idle_check_in_says_when_to_look_again_or_that_the_time_is_up() -> None:
    assert idle_check_in(10.0, 5.0, 12.0) == 3.0
    assert idle_check_in(10.0, 5.0, 15.0) is None
    assert idle_check_in(10.0, 5.0, 14.99) == pytest.approx(0.01)


def test_decide_idle_is_link_s_idle_rule_for_the_many_peer_engine() -> None:
    assert decide_idle(10.0, 5.0, 12.0) == KeepGoing(15.0)
    assert decide_idle(10.0, 5.0, 15.0) == Finish(EXIT_TIMEOUT, "idle", 5.0)


# ------------------------------------------------------------ wording


def test_the_idle_timeout_is_worded_once_with_the_option_as_typed() -> None:
    assert idle_timeout_message(5) == "idle timeout: no traffic for 5 s (-i 5)"
    assert idle_timeout_message(0.5) == "idle timeout: no traffic for 0.5 s (-i 0.5)"
    assert Finish(EXIT_TIMEOUT, "idle", 5).message == idle_timeout_message(5)


@pytest.mark.parametrize(
    ("finish", "line", "error"),
    [
        (Finish(EXIT_OK, "peer closed"), "peer closed its side (FIN)", False),
        (Finish(EXIT_OK, "quit-after-eof", 1), "-q: peer still open 1 s after input ended", False),
        (Finish(EXIT_OK, "input quiet", 0.5), "peer gone and input quiet for 0.5 s, quitting", False),
        (Finish(EXIT_TIMEOUT, "idle", 2), "idle timeout: no traffic for 2 s (-i 2)", True),
    ],
)
def test_every_ending_has_one_line(finish: Finish, line: str, error: bool) -> None:
    assert finish.message == line == ending_message(finish.reason, finish.seconds)
    assert finish.is_error is error


# ------------------------------------------------------------ a property over random lives

moments = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
maybe_moment = st.none() | moments
maybe_seconds = st.none() | st.floats(min_value=0.0, max_value=50.0, allow_nan=False)


@given(
    last_traffic=moments,
    last_input=moments,
    input_ended_at=maybe_moment,
    peer_finished_at=maybe_moment,
    terminal=st.booleans(),
    quit_after_eof=maybe_seconds,
    idle_timeout=maybe_seconds,
    now=moments,
    sending=st.booleans(),
)
def test_a_named_deadline_is_exactly_when_the_decision_turns_into_finish(
    last_traffic: float,
    last_input: float,
    input_ended_at: float | None,
    peer_finished_at: float | None,
    terminal: bool,
    quit_after_eof: float | None,
    idle_timeout: float | None,
    now: float,
    sending: bool,
) -> None:
    """KeepGoing(until) promises: nothing ends before `until` (so waiting for it, or for an event, is safe),
    and at `until` the link finishes (so the waiter never wakes for nothing). Finish stays Finish later."""
    life = link(
        last_traffic=last_traffic,
        last_input=last_input,
        input_ended_at=input_ended_at,
        peer_finished_at=peer_finished_at,
        terminal=terminal,
        quit_after_eof=quit_after_eof,
        idle_timeout=idle_timeout,
    )
    decision = life.decide(now, sending)
    if isinstance(decision, Finish):
        assert isinstance(life.decide(now + 1.0, sending), Finish)
        assert decision.exit_code == (EXIT_TIMEOUT if decision.reason == "idle" else EXIT_OK)
        return
    if decision.until is None:
        assert isinstance(life.decide(now + 1e6, sending), KeepGoing)
        return
    assert decision.until > now
    before = now + (decision.until - now) / 2
    if before < decision.until:
        assert isinstance(life.decide(before, sending), KeepGoing)
    assert isinstance(life.decide(decision.until, sending), Finish)


def test_with_reconnect_the_peers_fin_before_the_input_ended_ends_the_connection_at_once() -> None:
    link = Link(0.0, LinkPolicy(reconnect=True))
    link.on_sent(5, 1.0)
    link.on_peer_finished(2.0)
    decision = link.decide(2.0, sending=True)  # even with input waiting: it goes to the next connection
    assert decision == Finish(0, "peer left")
    assert decision.message == "peer closed its side (FIN) before the input ended"


def test_with_reconnect_the_peers_fin_after_the_input_ended_is_the_usual_close() -> None:
    link = Link(0.0, LinkPolicy(reconnect=True))
    link.on_input_ended(1.0)
    link.on_peer_finished(2.0)
    assert link.decide(2.0) == Finish(0, "peer closed")
