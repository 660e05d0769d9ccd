"""The dialogue driver: run a step list over one open connection, a deadline per step, blocking calls only.

One reader thread receives (a plain socket, a TLS channel, whatever the connect path gave) into an inbox; the
calling thread sends, waits on the inbox until each step's deadline, and asks the pure `core.matcher` whether
an expectation (or a --fail-on) has matched. Cheap to start (no asyncio), and the same code serves connect
mode and each client of a scripted server.

Ends: after the last step, FIN and no waiting; after a `quit` step, FIN and a wait of at most `quit_wait`
seconds for the peer to close. A failed step raises `TcpcliError` with exit 1 (the peer was reached but did
not answer as expected); a transport failure keeps its own code (a reset while waiting: 74).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from typing import Protocol

from tcpcli.connection import Connection
from tcpcli.core.matcher import Matcher
from tcpcli.core.steps import Expect, FailOn, Quit, Send, Sleep, Step, render
from tcpcli.core.verdict import fail_on_matched, not_seen, peer_closed
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error

__all__ = ["READ_SIZE", "DialogueLog", "Inbox", "run_steps"]

READ_SIZE = 64 * 1024  # bytes asked of the connection per receive


class DialogueLog(Protocol):
    """Where the driver tells what happened (the -v transcript, --print): calls from the driving thread."""

    def sent(self, data: bytes) -> None: ...

    def received(self, data: bytes) -> None: ...

    def event(self, ours: bool, word: bytes) -> None:
        """`word` (b"FIN") from our side (`ours`) or the peer's."""
        ...

    def matched(self, data: bytes) -> None:
        """Received bytes now known to precede the end of a match, in order (what --print writes)."""
        ...


class _Inbox:
    """Chunks the reader thread received; `ended` once the peer closed; `error` if receiving failed."""

    def __init__(self, conn: Connection, peer: str) -> None:
        self._conn = conn
        self._peer = peer
        self._ready = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self.ended = False
        self._error: TcpcliError | None = None
        self._thread = threading.Thread(target=self._read, name="dialogue-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        error: TcpcliError | None = None
        try:
            while data := self._conn.recv(READ_SIZE):
                with self._ready:
                    self._chunks.append(data)
                    self._ready.notify()
        except TcpcliError as exc:  # the TLS channel words its own errors
            error = exc
        except OSError as exc:
            error = translate_os_error(exc, f"receiving from {self._peer}")
        with self._ready:
            self._error = error
            self.ended = True
            self._ready.notify()

    def take(self, deadline: float) -> tuple[list[bytes], bool]:
        """What arrived, waiting until something did, the peer closed, or `deadline` (time.monotonic()).

        Returns the chunks and whether the peer has closed; a receive error is raised once the chunks
        before it have been taken.
        """
        with self._ready:
            while not self._chunks and not self.ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._ready.wait(remaining)
            chunks = list(self._chunks)
            self._chunks.clear()
            if not chunks and self._error is not None:
                raise self._error
            return chunks, self.ended and not self._chunks

    def stop(self) -> None:
        """Wake the reader (SHUT_RD makes a blocked recv return) and let it finish, briefly."""
        with contextlib.suppress(OSError, TcpcliError):  # already closed or reset: the reader is ending
            self._conn.shutdown(socket.SHUT_RD)
        self._thread.join(1.0)


Inbox = _Inbox  # the replay's driver (engine.replay) reads its connection the same way


class _Run:
    """One run of the steps: the matcher, the captures so far, the active --fail-on patterns."""

    def __init__(self, conn: Connection, peer: str, log: DialogueLog) -> None:
        self.conn = conn
        self.peer = peer
        self.log = log
        self.matcher = Matcher()
        self.captures: dict[str, bytes | None] = {}
        self.fail_ons: list[FailOn] = []
        self.inbox = _Inbox(conn, peer)
        self.peer_done = False  # the peer's FIN was seen (and logged)

    def receive(self, deadline: float, match: bool = True) -> bool:
        """Take what arrived by `deadline` (into the matcher if `match`); False when nothing came."""
        chunks, ended = self.inbox.take(deadline)
        for chunk in chunks:
            self.log.received(chunk)
            if match:
                self.matcher.feed(chunk)
        if ended and not self.peer_done:
            self.peer_done = True
            self.log.event(False, b"FIN")
        return bool(chunks)

    def watch(self, expect: Expect | None, deadline: float) -> bool:
        """Wait for `expect` (None: watch the --fail-on patterns only) until `deadline`; True: matched."""
        patterns = [fail_on.pattern for fail_on in self.fail_ons]
        while True:
            hit = self.matcher.advance(None if expect is None else expect.pattern, patterns)
            if dropped := self.matcher.take_dropped():
                self.log.matched(dropped)
            if hit is not None:
                if hit.fail_on is not None:
                    message = fail_on_matched(self.fail_ons[hit.fail_on], expect, hit.seen)
                    raise TcpcliError(message, ExitCode.PORT_CLOSED)
                self.log.matched(hit.consumed)
                self.captures.update(hit.groups)
                return True
            if self.peer_done or time.monotonic() >= deadline:
                return False
            if not self.receive(deadline) and not self.peer_done:
                return False  # the deadline passed

    def send(self, data: bytes) -> None:
        self.log.sent(data)
        try:
            self.conn.sendall(data)
        except OSError as exc:
            raise translate_os_error(exc, f"sending to {self.peer}") from exc

    def finish(self) -> None:
        """FIN (our side is done); the peer may go on talking, nobody listens."""
        try:
            self.conn.shutdown(socket.SHUT_WR)
        except OSError:
            return  # the peer already reset the connection: nothing to close politely
        self.log.event(True, b"FIN")


def run_steps(
    conn: Connection, steps: tuple[Step, ...], log: DialogueLog, peer: str, quit_wait: float
) -> dict[str, bytes | None]:
    """Run `steps` over `conn`; the named groups captured. TcpcliError (exit 1) when a step fails.

    `peer` names the other side in messages; `quit_wait`: seconds a `quit` step waits for the peer to close.
    The connection is left open (the caller closes it).
    """
    run = _Run(conn, peer, log)
    try:
        _run(run, steps, quit_wait)
    finally:
        run.inbox.stop()
    return run.captures


def _run(run: _Run, steps: tuple[Step, ...], quit_wait: float) -> None:
    mark = time.monotonic()  # each step's deadline counts from the end of the previous one
    for step in steps:
        if isinstance(step, FailOn):
            run.fail_ons.append(step)
            run.watch(None, mark)  # already there? (searches what arrived, without waiting)
        elif isinstance(step, Send):
            run.send(render(step.parts, run.captures))
        elif isinstance(step, Expect):
            if not run.watch(step, mark + step.within):
                wording = peer_closed if run.peer_done else not_seen
                raise TcpcliError(wording(step, run.matcher.unmatched), ExitCode.PORT_CLOSED)
        elif isinstance(step, Sleep):
            run.watch(None, time.monotonic() + step.seconds)
            remaining = mark + step.seconds - time.monotonic()
            if remaining > 0:  # the peer closed early: the sleep still lasts its time
                time.sleep(remaining)
        elif isinstance(step, Quit):
            run.send(render(step.parts, run.captures))
            run.finish()
            deadline = time.monotonic() + quit_wait
            while not run.peer_done and time.monotonic() < deadline:
                run.receive(deadline, match=False)  # the reply to a quit goes to the transcript only
            return
        mark = time.monotonic()
    run.finish()
