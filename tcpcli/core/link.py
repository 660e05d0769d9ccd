"""One connection's life: what has happened, the deadlines it sets, when it ends and how that is worded.

The one place for CONTRACT.md "End of stream": stdin EOF, the peer's FIN, `-q`, `-i` and the 0.5 s of quiet
input after the peer's FIN. The I/O layer reports what happened (`Link.on_*`, each with the time it happened)
and asks `Link.decide(now)`: keep going (and until when at most, so it can wait on an event with that
deadline instead of polling), or finish with an exit status and the one line that says why.

Pure: no clock is read here, every time is a `time.monotonic()` value passed in (seconds, float). The pump
threads of the one-peer engine write counters while the supervisor reads them; each `on_*` stores plain
values (atomic under the GIL), and `decide` only reads.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = [
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "INPUT_QUIET_AFTER_PEER_FIN",
    "NO_TIMEOUTS",
    "Decision",
    "Finish",
    "KeepGoing",
    "Link",
    "LinkPolicy",
    "Phase",
    "decide_idle",
    "ending_message",
    "idle_check_in",
    "idle_timeout_message",
    "seconds_until",
]

# After the peer's FIN we keep sending stdin only while it flows: once it has had nothing to send for this
# long, we stop (so `tail -f log | tcpcli host port` ends when the server goes away).
INPUT_QUIET_AFTER_PEER_FIN = 0.5

EXIT_OK = 0  # ExitCode.OK (tcpcli.errors imports socket: the core cannot import it)
EXIT_TIMEOUT = 75  # ExitCode.TIMEOUT


def _secs(seconds: float) -> str:
    """Seconds as the user typed them on the command line: 5 -> '5', 0.5 -> '0.5'."""
    return f"{seconds:g}"


def idle_timeout_message(seconds: float) -> str:
    """The one wording of an idle timeout (`-i S`, exit 75), for every engine: one peer or many.

    >>> idle_timeout_message(5)
    'idle timeout: no traffic for 5 s (-i 5)'
    """
    return f"idle timeout: no traffic for {_secs(seconds)} s (-i {_secs(seconds)})"


_ENDINGS = {
    "peer closed": "peer closed its side (FIN)",
    "quit-after-eof": "-q: peer still open {s} s after input ended",
    "input quiet": "peer gone and input quiet for {s} s, quitting",
    "peer left": "peer closed its side (FIN) before the input ended",
}


def ending_message(reason: str, seconds: float = 0.0) -> str:
    """The one line (without `tcpcli: `) that says why a connection ended, for a `Finish.reason`.

    Used for the error of exit 75, for the `-v` event line and for the interactive screen's last line alike.
    """
    if reason == "idle":
        return idle_timeout_message(seconds)
    return _ENDINGS.get(reason, reason + " after {s} s").format(s=_secs(seconds))


class LinkPolicy(NamedTuple):
    """The clock options of one connection, in seconds; None: not set."""

    quit_after_eof: float | None = None  # -q: after stdin EOF, wait at most this long for the peer's FIN
    idle_timeout: float | None = None  # -i: no traffic either way for this long ends it (exit 75)
    # --reconnect: the peer's FIN before our input ended ends this connection at once (the input goes on
    # into the next one) instead of sending the rest to a peer that stopped talking
    reconnect: bool = False


NO_TIMEOUTS = LinkPolicy()  # neither -q nor -i


class Phase(enum.Enum):
    """Which sides are still open (what the toolbar and -v would call the connection's state)."""

    OPEN = "open"
    INPUT_ENDED = "input ended"  # our input is over (FIN sent, or not with --no-half-close); still reading
    PEER_FINISHED = "peer finished"  # the peer sent FIN; we may still be sending
    BOTH_ENDED = "both ended"


class KeepGoing(NamedTuple):
    """Nothing to do yet; decide again by `until` (a monotonic time; None: only when something happens)."""

    until: float | None


class Finish(NamedTuple):
    """The connection ends with `exit_code`; `reason` names the rule, `seconds` its option's value."""

    exit_code: int
    reason: str  # "peer closed", "quit-after-eof", "idle", "input quiet", "peer left" (--reconnect)
    seconds: float = 0.0

    @property
    def message(self) -> str:
        """The one line that says why it ended (without the `tcpcli: ` prefix).

        For exit 75 it is the error line; otherwise the event line of `-v` and of the interactive screen.
        """
        return ending_message(self.reason, self.seconds)

    @property
    def is_error(self) -> bool:
        """True when the ending is a failure the caller raises (exit 75), not a normal close."""
        return self.exit_code != EXIT_OK


Decision = KeepGoing | Finish


def seconds_until(decision: KeepGoing, now: float) -> float | None:
    """How long to wait for an event before deciding again: never negative; None: wait for an event only."""
    return None if decision.until is None else max(0.0, decision.until - now)


class Link:
    """One connection's counters and moments, fed by the I/O layer, and the decision when it ends.

    `started`, `last_traffic`, `last_input`, `input_ended_at`, `peer_finished_at`: monotonic seconds.
    `sent`, `received`: bytes. `input_is_terminal`: a person types the input, so the peer's FIN ends the
    session at once (nobody is left to wait for).
    """

    __slots__ = (
        "input_ended_at",
        "input_is_terminal",
        "last_input",
        "last_traffic",
        "peer_finished_at",
        "policy",
        "received",
        "sent",
        "started",
    )

    def __init__(self, now: float, policy: LinkPolicy = NO_TIMEOUTS, input_is_terminal: bool = False) -> None:
        self.policy = policy
        self.input_is_terminal = input_is_terminal
        self.started = now
        self.sent = 0
        self.received = 0
        self.last_traffic = now  # last byte moved either way, or a FIN sent (the connect time at first)
        self.last_input = now  # last time the input produced bytes (the connect time at first)
        self.input_ended_at: float | None = None  # our input ended and all of it was sent
        self.peer_finished_at: float | None = None  # the peer's FIN, after everything before it was delivered

    # ------------------------------------------------------------ what happened

    def on_sent(self, nbytes: int, now: float) -> None:
        """`nbytes` of our input went out."""
        self.sent += nbytes
        self.last_traffic = self.last_input = now

    def on_received(self, nbytes: int, now: float) -> None:
        """`nbytes` came from the peer."""
        self.received += nbytes
        self.last_traffic = now

    def on_input_ended(self, now: float) -> None:
        """Our input ended (stdin EOF, Ctrl-D) and all of it was sent; a FIN sent then is traffic too."""
        if self.input_ended_at is None:
            self.input_ended_at = now
        self.last_traffic = now

    def on_peer_finished(self, now: float) -> None:
        """The peer's FIN arrived and what came before it was delivered."""
        if self.peer_finished_at is None:
            self.peer_finished_at = now
        self.last_traffic = now

    # ------------------------------------------------------------ what it means

    @property
    def phase(self) -> Phase:
        if self.input_ended_at is None:
            return Phase.OPEN if self.peer_finished_at is None else Phase.PEER_FINISHED
        return Phase.INPUT_ENDED if self.peer_finished_at is None else Phase.BOTH_ENDED

    def duration(self, now: float) -> float:
        """Seconds since the connection opened."""
        return now - self.started

    def decide(self, now: float, sending: bool = False) -> Decision:
        """Keep going (until when at most) or finish, given everything so far.

        `sending`: input bytes are waiting to go out (read but not yet accepted by the socket, or still
        unread in the input pipe): after the peer's FIN, input that still flows is sent whole first.
        The rules, first match wins: the peer's FIN ends it once our input has ended too, or at once when a
        person types the input, or after 0.5 s without input; `-q` S after our input ended; `-i` S after the
        last traffic. The earliest pending deadline is returned to wait for.
        """
        deadlines: list[float] = []
        policy = self.policy
        if self.peer_finished_at is not None:
            if self.input_ended_at is not None or self.input_is_terminal:
                return Finish(EXIT_OK, "peer closed")
            if policy.reconnect:
                return Finish(EXIT_OK, "peer left")
            if not sending:
                quiet_until = max(self.last_input, self.peer_finished_at) + INPUT_QUIET_AFTER_PEER_FIN
                if now >= quiet_until:
                    return Finish(EXIT_OK, "input quiet", INPUT_QUIET_AFTER_PEER_FIN)
                deadlines.append(quiet_until)
        if self.input_ended_at is not None and policy.quit_after_eof is not None:
            quit_at = self.input_ended_at + policy.quit_after_eof
            if now >= quit_at:
                return Finish(EXIT_OK, "quit-after-eof", policy.quit_after_eof)
            deadlines.append(quit_at)
        if policy.idle_timeout is not None:
            idle_at = self.last_traffic + policy.idle_timeout
            if now >= idle_at:
                return Finish(EXIT_TIMEOUT, "idle", policy.idle_timeout)
            deadlines.append(idle_at)
        return KeepGoing(min(deadlines) if deadlines else None)


def decide_idle(last_traffic: float, idle_timeout: float, now: float) -> Decision:
    """`-i` alone, for an engine that keeps its own per-peer counters (the many-peer engine's clients).

    The same rule as `Link.decide`: Finish(75, "idle", idle_timeout) once `now` is `idle_timeout` seconds past
    `last_traffic`, else KeepGoing(the moment it will be). Word the ending with `Finish.message`.
    """
    return Link(last_traffic, LinkPolicy(idle_timeout=idle_timeout)).decide(now)


def idle_check_in(last_traffic: float, idle_timeout: float, now: float) -> float | None:
    """`decide_idle` as an asyncio engine uses it: seconds (>= 0) until it should look again, or None when the
    peer has been quiet for `idle_timeout` seconds (close it, worded by `idle_timeout_message`)."""
    decision = decide_idle(last_traffic, idle_timeout, now)
    if not isinstance(decision, KeepGoing):
        return None
    until = decision.until if decision.until is not None else now + idle_timeout
    return max(0.0, until - now)
