"""Where the many-peer engine (engine.hub) meets its front (pipes or a terminal): two small interfaces.

The engine hands a `Sink` what it receives and what happens; the front drives the engine back through
`Controls` (hold reading when it is behind, stop when it failed or the user pressed Ctrl-C, send typed input
through the outbox). Neither side imports the other: a mode wires them (tcpcli.listen.many).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

from tcpcli.core.events import Event
from tcpcli.errors import TcpcliError

__all__ = ["Controls", "Outbox", "Peer", "Sink", "SinkFactory"]


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
