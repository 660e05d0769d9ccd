"""-i and -q for a person's session: what the connection's `core.link.Link` decides, as the session needs it.

The peer's FIN is not a clock matter here: the session ends when the screen has shown what came before it.
"""

from __future__ import annotations

from typing import NamedTuple

from tcpcli.core.link import Finish, Link, seconds_until
from tcpcli.errors import ExitCode, TcpcliError

__all__ = ["Ending", "check_clock"]


class Ending(NamedTuple):
    """Time is up: `error` to end with (-i, exit 75), or None and the event line to say (-q, exit 0)."""

    error: TcpcliError | None
    message: str


def check_clock(link: Link, now: float) -> float | Ending | None:
    """Seconds to wait (for Ctrl-D or the time) before looking again, an Ending (time is up), or None.

    None: no deadline is pending (no -i; -q before Ctrl-D): look again only when the input ends.
    """
    decision = link.decide(now)
    if isinstance(decision, Finish):
        error = TcpcliError(decision.message, ExitCode(decision.exit_code)) if decision.is_error else None
        return Ending(error, decision.message)
    return seconds_until(decision, now)
