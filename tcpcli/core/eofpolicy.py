"""The one EOF policy (CONTRACT.md "End of stream") as a pure decision over a snapshot of the session.

The I/O layer reports what happened and when; this module says whether to keep going (and until when to
sleep at most) or to finish, with which exit status. Clocks are passed in, never read here.
"""

from __future__ import annotations

from typing import NamedTuple

# After the peer's FIN we keep sending stdin only while it flows: once it has had nothing to send for this
# long, we stop (so `tail -f log | tcpcli host port` ends when the server goes away).
INPUT_QUIET_AFTER_PEER_FIN = 0.5

EXIT_OK = 0
EXIT_TIMEOUT = 75


class EofPolicy(NamedTuple):
    quit_after_eof: float | None = None
    idle_timeout: float | None = None


class SessionSnapshot(NamedTuple):
    now: float
    last_traffic: float  # last byte moved either way (or the connect time)
    input_ended_at: float | None  # stdin EOF seen (and its bytes all sent)
    peer_finished_at: float | None  # peer FIN seen and everything before it written out
    last_input_at: float  # last time stdin produced bytes (or the connect time)
    sending: bool  # the uplink holds bytes it has not been able to send yet
    input_is_terminal: bool


class KeepGoing(NamedTuple):
    """Nothing to do yet; look again by `until` (None: only when something happens)."""

    until: float | None


class Finish(NamedTuple):
    exit_code: int
    reason: str  # "peer closed", "input ended", "quit-after-eof", "idle", "input quiet"
    seconds: float = 0.0


Decision = KeepGoing | Finish


def decide(snap: SessionSnapshot, policy: EofPolicy) -> Decision:
    """What the session does now, given what has happened so far."""
    deadlines: list[float] = []
    if snap.peer_finished_at is not None:
        if snap.input_ended_at is not None:
            return Finish(EXIT_OK, "peer closed")
        if snap.input_is_terminal:
            return Finish(EXIT_OK, "peer closed")
        if not snap.sending:
            quiet_since = max(snap.last_input_at, snap.peer_finished_at)
            quiet_until = quiet_since + INPUT_QUIET_AFTER_PEER_FIN
            if snap.now >= quiet_until:
                return Finish(EXIT_OK, "input quiet", INPUT_QUIET_AFTER_PEER_FIN)
            deadlines.append(quiet_until)
    if snap.input_ended_at is not None and policy.quit_after_eof is not None:
        quit_at = snap.input_ended_at + policy.quit_after_eof
        if snap.now >= quit_at:
            return Finish(EXIT_OK, "quit-after-eof", policy.quit_after_eof)
        deadlines.append(quit_at)
    if policy.idle_timeout is not None:
        idle_at = snap.last_traffic + policy.idle_timeout
        if snap.now >= idle_at:
            return Finish(EXIT_TIMEOUT, "idle", policy.idle_timeout)
        deadlines.append(idle_at)
    return KeepGoing(min(deadlines) if deadlines else None)
