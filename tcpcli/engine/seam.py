"""Where the engines (engine.hub: many peers, engine.pair: one) meet their fronts (pipes or a terminal).

The many-peer engine hands a `Sink` what it receives and what happens; the front drives the engine back
through `Controls` (hold reading when it is behind, stop when it failed or the user pressed Ctrl-C, send typed
input through the outbox). The one-peer engine hands a `Receiver` each received chunk (the terminal's
Inbox), or, fd to fd, passes it through a `Renderer` the front lends it (`-x`, `--struct`). Neither side
imports the other: a mode wires them (tcpcli.modes).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

from tcpcli.core.events import Event
from tcpcli.errors import TcpcliError

__all__ = [
    "ByteTap",
    "Controls",
    "Outbox",
    "Peer",
    "Receiver",
    "Renderer",
    "Sink",
    "SinkFactory",
    "Transcript",
    "TranscriptFactory",
]


class Peer(Protocol):
    """What a front knows of one client: its label (`1.2.3.4:5678`) and its byte counts."""

    @property
    def peer(self) -> str: ...

    @property
    def sent(self) -> int: ...

    @property
    def received(self) -> int: ...


class Outbox(Protocol):
    """Input for the clients: `from_local(data)` sends to every client (in order with the relay)."""

    @property
    def clients(self) -> Collection[Peer]: ...

    def from_local(self, data: bytes) -> None: ...


class Controls(Protocol):
    """What the engine lets its front do."""

    @property
    def outbox(self) -> Outbox: ...

    def hold_reading(self, hold: bool) -> None:
        """The front is behind (True): stop reading clients, their data waits in the kernel; False: go on."""
        ...

    def front_failed(self, error: TcpcliError | None) -> None:
        """The front cannot go on (stdout write failed: `error`; its reader went away: None): stop."""
        ...

    def interrupt(self) -> None:
        """The user asked to stop (Ctrl-C at the input line): like SIGINT."""
        ...


class Sink(Protocol):
    """A front as the engine sees it. All calls come from the event loop."""

    # True: the front feeds the outbox itself (typed lines); False: the engine reads stdin for it.
    typed_input: bool

    def start(self) -> None: ...

    def received(self, client: Peer, data: bytes) -> None:
        """`data` from `client`, as it came (after --telnet filtering); the front labels and times it."""
        ...

    def left(self, client: Peer) -> None:
        """The client is gone (its `ClientLeft` event follows through `event`)."""
        ...

    def event(self, event: Event, always: bool = False) -> None:
        """Show an event (`always`: even without -v, e.g. a client dropped as not reading)."""
        ...

    def warning(self, message: str) -> None: ...

    async def close(self, grace: float | None) -> str | None:
        """The engine is done: write out what was received, waiting at most `grace` s with no progress
        (None: as long as progress is made); returns a one-line account of what could not be written."""
        ...


SinkFactory = Callable[[Controls], Sink]


class ByteTap(Protocol):
    """Where a front copies what it shows (`-o`: every received byte, raw); the mode opens it (OutputFile).

    `write` raises TcpcliError when writing fails."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class Renderer(Protocol):
    """A pipes front's rendering of received bytes (`-x` hex dump, `--struct` JSON Lines), run by the one-peer
    engine in its receiving thread, fd to fd: what `feed` returns is written to stdout as is."""

    def feed(self, data: bytes, timestamp: str | None) -> bytes | memoryview:
        """The rendering of one received chunk; a memoryview is only valid until the next feed()."""
        ...

    def finish(self) -> str | None:
        """Called once at the end; returns a warning line (without `tcpcli: `) or None."""
        ...


class Receiver(Protocol):
    """Where the one-peer engine hands what it receives when a front shows it (the terminal's Inbox).

    Both calls come from the engine's receiving thread, which never waits for the front.
    """

    def put(self, data: bytes, stamp: str | None = None) -> None:
        """`data` as received (after --telnet filtering); `stamp`: the `-t` time of its read, or None."""
        ...

    def close(self, error: TcpcliError | None = None) -> None:
        """The peer finished (None: its FIN, after every chunk before it) or receiving failed (`error`)."""
        ...


class Transcript(Protocol):
    """The relay's front: who said what on each relayed connection (the lines of core/transcript.py).

    All calls come from the relay's event loop and must not block: a front that falls behind keeps what it
    was given in a bounded buffer and calls `Controls.hold_reading(True)` (the relay stops reading both sides
    of every connection; the bytes wait in the kernel) until it has room again. `conn` is the connection's
    number (1, 2, ... in order of accept); `direction` is ">" (client to upstream) or "<" (upstream to
    client); `stamp` is the wall-clock time (time.time(), seconds) of the read, for `-t`.
    """

    # True: the front sends typed lines through Controls.outbox (the relay gives them to the newest open
    # connection, towards its upstream); False: the relay reads stdin for it.
    typed_input: bool

    def start(self) -> None: ...

    def opened(self, conn: int, client: str, upstream: str, stamp: float, faulty: bool | None = None) -> None:
        """Both sides are connected: `#N open CLIENT -> UPSTREAM` (`faulty`: what --fault-rate drew)."""
        ...

    def data(self, conn: int, direction: str, data: bytes, stamp: float) -> None:
        """`data` as read from its sender (before any fault or rewrite), in order per direction."""
        ...

    def event(self, conn: int, direction: str | None, word: bytes, stamp: float) -> None:
        """An event of the connection: b"FIN" / b"RST" / b"STALL" with its direction, b"CUT" / b"RESET"
        with None (the whole connection)."""
        ...

    def closed(self, conn: int, sent_up: int, sent_down: int, seconds: float, stamp: float) -> None:
        """Both sides are done: `#N closed: A bytes >, B bytes <, S.SSS s`."""
        ...

    def warning(self, message: str) -> None: ...

    async def close(self, grace: float | None) -> str | None:
        """The relay is done: write out what is held, waiting at most `grace` s with no progress (None: as
        long as progress is made); returns a one-line account of what could not be written, or None."""
        ...


TranscriptFactory = Callable[[Controls], Transcript]
