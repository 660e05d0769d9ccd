"""The replay driver (`--replay`): play one side of a recorded connection over a live one, check the other.

Blocking calls only, like the dialogue's driver (engine.dialogue): its reader thread (`Inbox`) receives, the
calling thread goes through the recorded steps. Our turn: sent. The peer's turn: read until the pure
`core.turns.TurnMatcher` says it matched (or could not, or `within` seconds passed). Our FIN and RST are
reproduced when their step comes. The peer's FIN or RST is owed, not waited for at once: a peer may close a
little earlier or later than it did when recorded (after our next turn, say), so it is checked when the
steps are done (or when the peer's next data turn would come, which a FIN rules out).

A mismatch raises `TcpcliError` with exit 1 and the one line of `core.turns.mismatch_line`; a transport
failure keeps its own code.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time

from tcpcli.connection import Connection
from tcpcli.core.recording import Mark, RecordedConnection, Turn
from tcpcli.core.turns import MATCHED, MISMATCH, TurnMatcher, mismatch_line
from tcpcli.engine.dialogue import Inbox
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.settings import ReplaySettings

__all__ = ["replay_connection"]

_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER {on, 0 s}: close() sends RST


class _Replay:
    """One connection's replay: what the peer sent that no turn took yet, and how the peer ended."""

    def __init__(self, conn: Connection, peer: str, number: int, replay: ReplaySettings) -> None:
        self.conn = conn
        self.peer = peer
        self.number = number
        self.replay = replay
        self.inbox = Inbox(conn, peer)
        self.surplus = b""
        self.ended = False  # the peer's FIN came
        self.reset = False  # the peer's RST came
        self.turn = 0
        self.sent = 0
        self.received = 0

    def take(self, deadline: float) -> list[bytes]:
        try:
            chunks, ended = self.inbox.take(deadline)
        except TcpcliError as exc:
            if "reset" not in exc.message:  # translate_os_error's wording of ECONNRESET/EPIPE
                raise
            self.reset = self.ended = True
            return []
        self.ended = self.ended or ended
        self.received += sum(map(len, chunks))
        return chunks

    def fail(self, expected: str, received: bytes, note: str = "") -> TcpcliError:
        return TcpcliError(
            mismatch_line(self.number, self.turn, expected, received, note), ExitCode.PORT_CLOSED
        )

    def send(self, data: bytes) -> None:
        try:
            self.conn.sendall(data)
            self.sent += len(data)
        except OSError as exc:
            raise translate_os_error(exc, f"sending to {self.peer}") from exc

    def own_mark(self, mark: Mark) -> bool:
        """Our FIN or RST; True when the connection is over (our RST)."""
        if mark.event == "fin":
            with contextlib.suppress(OSError):  # the peer reset it already: its RST decides
                self.conn.shutdown(socket.SHUT_WR)
            return False
        setsockopt = getattr(self.conn, "setsockopt", None)
        if setsockopt is not None:
            with contextlib.suppress(OSError):
                setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        return True

    def await_turn(self, turn: Turn) -> None:
        matcher = TurnMatcher(turn.parts, self.replay.match, self.surplus)
        deadline = time.monotonic() + self.replay.within
        while matcher.verdict != MATCHED:
            if matcher.verdict == MISMATCH:
                raise self.fail(matcher.expected_text(), bytes(matcher.received))
            if self.ended:
                word = "RST" if self.reset else "FIN"
                raise self.fail(matcher.expected_text(), bytes(matcher.received), f" then {word}")
            if time.monotonic() >= deadline:
                note = f" (nothing more within {self.replay.within:g}s)"
                raise self.fail(matcher.expected_text(), bytes(matcher.received), note)
            for chunk in self.take(deadline):
                matcher.feed(chunk)
        self.surplus = matcher.surplus

    def await_end(self, mark: Mark) -> None:
        """The peer's FIN or RST, owed since its step: nothing more may come before it."""
        deadline = time.monotonic() + self.replay.within
        while not self.ended:
            if self.surplus:
                break
            if time.monotonic() >= deadline:
                raise self.fail(mark.event.upper(), b"", f" (nothing within {self.replay.within:g}s)")
            self.surplus += b"".join(self.take(deadline))
        if self.surplus:
            raise self.fail(mark.event.upper(), self.surplus)
        if mark.event == "rst" and not self.reset:
            raise self.fail("RST", b"", " then FIN")

    def check_nothing_more(self) -> None:
        """The steps are done: bytes the peer sent beyond the recording are a mismatch."""
        self.surplus += b"".join(self.take(time.monotonic()))
        if self.surplus:
            self.turn += 1
            raise self.fail("the end of the recording", self.surplus)


def replay_connection(
    conn: Connection,
    recorded: RecordedConnection,
    server: bool,
    replay: ReplaySettings,
    peer: str,
    number: int,
) -> tuple[int, int]:
    """Replay `recorded` over `conn` (connection `number` in messages): as the server (`server`: we send the
    `<` turns) or the client. Returns (bytes sent, bytes received) when every step matched; TcpcliError
    (exit 1) at the first mismatch.
    The caller closes `conn` (after an RST step, closing it sends the RST)."""
    own = "<" if server else ">"
    run = _Replay(conn, peer, number, replay)
    owed: Mark | None = None
    owed_turn = 0
    previous = recorded.t
    started = time.monotonic()
    try:
        for step in recorded.steps:
            if replay.speed > 0 and step.direction == own:  # --speed: our steps keep the recorded gaps
                time.sleep(max(0.0, started + (step.t - previous) / replay.speed - time.monotonic()))
            run.turn += 1
            if isinstance(step, Turn) and step.direction == own:
                literal = step.literal
                assert literal is not None  # validate refused a pattern on the side we play
                run.send(literal)
            elif isinstance(step, Turn):
                if owed is not None:  # a FIN before more of the peer's data: the data decides
                    run.await_end(owed)
                run.await_turn(step)
            elif step.direction == own:
                if run.own_mark(step):
                    return run.sent, run.received
            else:
                owed = step
                owed_turn = run.turn
            previous, started = step.t, time.monotonic()
        if owed is not None:
            run.turn = owed_turn
            run.await_end(owed)
        else:
            run.check_nothing_more()
    finally:
        run.inbox.stop()
    return run.sent, run.received
