"""-i and -q for a person's session, decided by the one EOF policy (core/eofpolicy.py) as stream mode's are.

The peer's FIN is not a clock matter here: the session ends when the screen has shown what came before it.
"""

from __future__ import annotations

from typing import NamedTuple

from tcpcli.core.eofpolicy import EofPolicy, Finish, KeepGoing, SessionSnapshot, decide
from tcpcli.core.events import TimedOut, describe
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.settings import SessionSettings

__all__ = ["POLL", "Ending", "check_clock"]

# How soon to look again when no deadline is set yet but one may come (-q before Ctrl-D).
POLL = 0.1


class Ending(NamedTuple):
    """Time is up: `error` to end with (-i, exit 75), or None and the event line to say (-q, exit 0)."""

    error: TcpcliError | None
    message: str


def check_clock(
    session: SessionSettings, last_traffic: float, input_ended_at: float | None, now: float
) -> float | Ending | None:
    """Seconds to sleep before looking again, an Ending (time is up), or None (no clock applies)."""
    if session.idle_timeout is None and session.quit_after_eof is None:
        return None
    snap = SessionSnapshot(now, last_traffic, input_ended_at, None, now, False, True)
    decision = decide(snap, EofPolicy(session.quit_after_eof, session.idle_timeout))
    if isinstance(decision, KeepGoing):
        return POLL if decision.until is None else max(0.0, decision.until - now)
    assert isinstance(decision, Finish)
    if decision.exit_code == ExitCode.TIMEOUT:
        seconds = decision.seconds
        error = TcpcliError(f"idle timeout: no traffic for {seconds:g} s (-i {seconds:g})", ExitCode.TIMEOUT)
        return Ending(error, error.message)
    return Ending(None, describe(TimedOut(decision.reason, decision.seconds)))
