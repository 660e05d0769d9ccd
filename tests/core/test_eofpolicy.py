"""The EOF policy as a pure decision: one test per rule of CONTRACT.md "End of stream"."""

from __future__ import annotations

from tcpcli.core.eofpolicy import (
    INPUT_QUIET_AFTER_PEER_FIN,
    EofPolicy,
    Finish,
    KeepGoing,
    SessionSnapshot,
    decide,
)


def snap(**changes: object) -> SessionSnapshot:
    base: dict[str, object] = {
        "now": 10.0,
        "last_traffic": 10.0,
        "input_ended_at": None,
        "peer_finished_at": None,
        "last_input_at": 0.0,
        "sending": False,
        "input_is_terminal": False,
    }
    base.update(changes)
    return SessionSnapshot(**base)  # type: ignore[arg-type]


def test_nothing_happened_waits_for_events_only() -> None:
    assert decide(snap(), EofPolicy()) == KeepGoing(None)


def test_input_ended_keeps_reading_until_the_peer_closes() -> None:
    assert decide(snap(input_ended_at=9.0), EofPolicy()) == KeepGoing(None)


def test_peer_closed_after_input_ended_finishes_ok() -> None:
    assert decide(snap(input_ended_at=9.0, peer_finished_at=9.5), EofPolicy()) == Finish(0, "peer closed")


def test_peer_closed_with_terminal_input_finishes_at_once() -> None:
    decision = decide(snap(peer_finished_at=10.0, input_is_terminal=True), EofPolicy())
    assert decision == Finish(0, "peer closed")


def test_peer_closed_while_input_is_quiet_waits_the_quiet_period() -> None:
    decision = decide(snap(now=10.1, peer_finished_at=10.0, last_input_at=3.0), EofPolicy())
    assert decision == KeepGoing(10.0 + INPUT_QUIET_AFTER_PEER_FIN)
    later = decide(snap(now=10.6, peer_finished_at=10.0, last_input_at=3.0), EofPolicy())
    assert isinstance(later, Finish) and later.exit_code == 0 and later.reason == "input quiet"


def test_peer_closed_while_input_still_flows_keeps_sending() -> None:
    assert decide(snap(now=20.0, peer_finished_at=10.0, sending=True), EofPolicy()) == KeepGoing(None)
    recent = decide(snap(now=10.6, peer_finished_at=10.0, last_input_at=10.4), EofPolicy())
    assert recent == KeepGoing(10.4 + INPUT_QUIET_AFTER_PEER_FIN)


def test_quit_after_eof_bounds_the_wait_for_the_peer() -> None:
    assert decide(snap(now=10.0, input_ended_at=9.0), EofPolicy(quit_after_eof=2)) == KeepGoing(11.0)
    decision = decide(snap(now=11.0, input_ended_at=9.0), EofPolicy(quit_after_eof=2))
    assert decision == Finish(0, "quit-after-eof", 2)


def test_quit_after_eof_zero_quits_at_input_end() -> None:
    assert isinstance(decide(snap(input_ended_at=10.0), EofPolicy(quit_after_eof=0)), Finish)


def test_idle_timeout_counts_from_the_last_traffic() -> None:
    assert decide(snap(now=10.0, last_traffic=9.0), EofPolicy(idle_timeout=5)) == KeepGoing(14.0)
    assert decide(snap(now=14.0, last_traffic=9.0), EofPolicy(idle_timeout=5)) == Finish(75, "idle", 5)


def test_earliest_deadline_wins() -> None:
    decision = decide(snap(now=10.0, last_traffic=10.0, input_ended_at=10.0), EofPolicy(3, 1))
    assert decision == KeepGoing(11.0)
