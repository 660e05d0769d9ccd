"""One relayed connection (a client and its own upstream), on the kernel path or the copy path.

Both paths keep the same rules: bytes verbatim both ways; a side that cannot take more stops the other side
from being read (memory stays flat); a FIN is relayed per direction once everything before it is written
(shutdown(SHUT_WR) on the other side: half-close kept); a reset (or any socket error) on one side aborts the
other with SO_LINGER {1, 0}, so it gets an RST too; the connection is done when both sides are.

- `SpliceConnection`: plain TCP both sides, nothing looks at the bytes: engine.splice moves them.
- `CopyConnection`: asyncio transports (TLS on either side, a transcript, --hex-log): each chunk read is
  handed to the owner (transcript, log) and written to the other side, the same bytes object, no copy.
  Over TLS asyncio cannot half-close: a TLS side's end (close_notify or FIN) ends the relayed connection once
  what is queued is written, and a FIN towards a TLS side is a close_notify and a close.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Protocol

from tcpcli.core.link import idle_check_in, idle_timeout_message
from tcpcli.engine.splice import SplicePump

__all__ = ["CopyConnection", "Owner", "Relayed", "Side", "SpliceConnection", "reset_socket"]

UP = ">"  # client to upstream
DOWN = "<"  # upstream to client
# asyncio's buffer per side: past this the side pauses the other's reading (its reads are up to 256 KiB).
WRITE_HIGH_WATER = 256 * 1024
_LINGER_RESET = struct.pack("ii", 1, 0)


class Owner(Protocol):
    """What a connection tells the relay engine."""

    def relayed_data(self, conn: Relayed, direction: str, data: bytes) -> None: ...

    def relayed_event(self, conn: Relayed, direction: str | None, word: bytes) -> None: ...

    def relayed_done(self, conn: Relayed) -> None: ...


def reset_socket(sock: socket.socket | None) -> None:
    """SO_LINGER {1, 0}: the close that follows sends RST instead of FIN."""
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)


class Relayed:
    """What both paths share: number, labels, byte counts, the -i timer, the outcome."""

    faulty: bool | None = None  # --fault-rate below 1: whether this connection drew the faults

    def __init__(
        self, owner: Owner, number: int, client: str, upstream: str, idle_timeout: float | None
    ) -> None:
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self.number = number
        self.client = client
        self.upstream = upstream
        self.up = 0  # bytes client -> upstream
        self.down = 0  # bytes upstream -> client
        self.started = self._loop.time()
        self.last_traffic = self.started
        self.how = ""  # why it ended, when not an ordinary end: "reset by the client", the idle wording...
        self.reset = False  # ended by an RST (relayed)
        self.done = False
        self._idle_timeout = idle_timeout
        self._idle_timer: asyncio.TimerHandle | None = None
        if idle_timeout is not None:
            self._idle_timer = self._loop.call_later(idle_timeout, self._check_idle)

    # Peer (engine.seam): what a front knows of it; counted from the client's side
    @property
    def peer(self) -> str:
        return self.client

    @property
    def sent(self) -> int:
        return self.down

    @property
    def received(self) -> int:
        return self.up

    def start(self) -> None:
        raise NotImplementedError

    def finish(self, how: str) -> None:
        """Close both sides with FIN after what is queued (idle, or the relay stopping)."""
        raise NotImplementedError

    def abort(self, how: str) -> None:
        """Reset both sides now."""
        raise NotImplementedError

    def hold_reading(self, hold: bool) -> None:
        """The front is behind (copy path only: the kernel path has no front)."""

    def inject(self, data: bytes) -> None:
        """Typed input towards the upstream (copy path only)."""

    def _check_idle(self) -> None:
        """-i: both sides quiet for S s: the one-peer engine's decision (core.link), per connection."""
        assert self._idle_timeout is not None
        wait = idle_check_in(self.last_traffic, self._idle_timeout, self._loop.time())
        if wait is not None:
            self._idle_timer = self._loop.call_later(wait, self._check_idle)
            return
        self._idle_timer = None
        self.finish(idle_timeout_message(self._idle_timeout))

    def _ended(self) -> None:
        if self.done:
            return
        self.done = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._owner.relayed_done(self)

    def _side_name(self, direction: str) -> str:
        """Who sends in `direction`."""
        return "the client" if direction == UP else "the upstream"


class SpliceConnection(Relayed):
    """Plain TCP on both sides, bytes moved in the kernel (engine.splice), one pump per direction."""

    def __init__(
        self,
        owner: Owner,
        number: int,
        client: str,
        upstream: str,
        idle_timeout: float | None,
        client_sock: socket.socket,
        upstream_sock: socket.socket,
    ) -> None:
        self._client_sock = client_sock
        self._upstream_sock = upstream_sock
        self._pumps: dict[str, SplicePump] = {}
        self._open = {UP, DOWN}  # directions not yet ended
        # the pipes first: without them (out of descriptors) the caller takes the copy path instead
        up = SplicePump(client_sock, upstream_sock, self._moved_up, self._ended_up, self._failed_up)
        try:
            down = SplicePump(
                upstream_sock, client_sock, self._moved_down, self._ended_down, self._failed_down
            )
        except OSError:
            up.stop()
            raise
        self._pumps = {UP: up, DOWN: down}
        super().__init__(owner, number, client, upstream, idle_timeout)

    def start(self) -> None:
        for pump in self._pumps.values():
            pump.start()

    def _moved_up(self, count: int) -> None:
        self.up += count
        self.last_traffic = self._loop.time()

    def _moved_down(self, count: int) -> None:
        self.down += count
        self.last_traffic = self._loop.time()

    def _ended_up(self) -> None:
        self._direction_ended(UP)

    def _ended_down(self) -> None:
        self._direction_ended(DOWN)

    def _failed_up(self, side: str, exc: OSError) -> None:
        self._failed(UP if side == "src" else DOWN, exc)

    def _failed_down(self, side: str, exc: OSError) -> None:
        self._failed(DOWN if side == "src" else UP, exc)

    def _direction_ended(self, direction: str) -> None:
        self._owner.relayed_event(self, direction, b"FIN")
        self._open.discard(direction)
        if not self._open:
            self._close(reset=False)

    def _failed(self, sender: str, exc: OSError) -> None:
        """The side that sends in `sender` reset (or failed): RST to the other, both closed."""
        if self.done:
            return
        self._owner.relayed_event(self, sender, b"RST")
        self.reset = True
        self.how = f"reset by {self._side_name(sender)}"
        if not isinstance(exc, ConnectionResetError | BrokenPipeError):
            self.how = f"{self._side_name(sender)} failed: {exc.strerror or exc}"
        self._close(reset=True)

    def finish(self, how: str) -> None:
        if self.done:
            return
        self.how = self.how or how
        for sock in (self._client_sock, self._upstream_sock):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        self._close(reset=False)

    def abort(self, how: str) -> None:
        if not self.done:
            self.how = self.how or how
            self._close(reset=True)

    def _close(self, reset: bool) -> None:
        for pump in self._pumps.values():
            pump.stop()
        for sock in (self._client_sock, self._upstream_sock):
            if reset:
                reset_socket(sock)
            sock.close()
        self._ended()


class Side(asyncio.Protocol):
    """One socket of a copy-path connection; `direction` is the direction of what it reads."""

    __slots__ = ("_holds", "conn", "direction", "eof", "lost", "other", "tls", "transport")

    def __init__(self, direction: str, tls: bool) -> None:
        self.direction = direction
        self.tls = tls
        self.conn: CopyConnection | None = None
        self.other: Side | None = None
        self.transport: asyncio.Transport | None = None
        self.eof = False
        self.lost = False
        self._holds: set[str] = {"start"}  # read nothing until both sides are connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        if self.conn is not None:
            self.conn.data(self, data)

    def eof_received(self) -> bool:
        if self.conn is not None:
            self.conn.eof(self)
        return not self.tls  # asyncio's TLS transport cannot stay half-open (True would only log a warning)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.conn is not None:
            self.conn.lost(self, exc)

    def pause_writing(self) -> None:
        if self.other is not None:
            self.other.hold("peer", True)

    def resume_writing(self) -> None:
        if self.other is not None:
            self.other.hold("peer", False)

    def hold(self, reason: str, hold: bool) -> None:
        """Stop reading while any reason holds (the other side is full, the front is behind, not started)."""
        if hold:
            self._holds.add(reason)
        else:
            self._holds.discard(reason)
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._holds:
            if transport.is_reading():
                transport.pause_reading()
        elif not transport.is_reading():
            transport.resume_reading()

    def reset(self) -> None:
        """Abort with an RST."""
        transport = self.transport
        if transport is not None and not self.lost:
            reset_socket(transport.get_extra_info("socket"))
            transport.abort()


class CopyConnection(Relayed):
    """Each chunk goes through Python: to the owner (transcript, --hex-log), then to the other side."""

    def __init__(
        self,
        owner: Owner,
        number: int,
        client: str,
        upstream: str,
        idle_timeout: float | None,
        client_side: Side,
        upstream_side: Side,
    ) -> None:
        super().__init__(owner, number, client, upstream, idle_timeout)
        self._client = client_side
        self._upstream = upstream_side
        client_side.other, upstream_side.other = upstream_side, client_side
        client_side.conn = upstream_side.conn = self

    def start(self) -> None:
        for side in (self._client, self._upstream):
            if side.lost:  # gone while the other side was being connected
                self.lost(side, ConnectionResetError())
                return
        for side in (self._client, self._upstream):
            side.hold("start", False)

    def hold_reading(self, hold: bool) -> None:
        self._client.hold("front", hold)
        self._upstream.hold("front", hold)

    def inject(self, data: bytes) -> None:
        transport = self._upstream.transport
        if transport is not None and not transport.is_closing():
            self.up += len(data)
            transport.write(data)

    def data(self, side: Side, data: bytes) -> None:
        self.last_traffic = self._loop.time()
        if side.direction == UP:
            self.up += len(data)
        else:
            self.down += len(data)
        self._owner.relayed_data(self, side.direction, data)
        other = side.other
        assert other is not None and other.transport is not None
        if not other.transport.is_closing():
            other.transport.write(data)

    def eof(self, side: Side) -> None:
        """`side` sent FIN: FIN to the other side once what is queued for it is written (half-close kept).

        When both have sent FIN, or either side is TLS (no half-close there), both are closed after their
        queues instead."""
        side.eof = True
        self._owner.relayed_event(self, side.direction, b"FIN")
        other = side.other
        assert other is not None and other.transport is not None and side.transport is not None
        if other.transport.is_closing():
            return
        if other.eof or side.tls or not other.transport.can_write_eof():
            other.transport.close()
            if not side.transport.is_closing():
                side.transport.close()
        else:
            other.transport.write_eof()

    def lost(self, side: Side, exc: Exception | None) -> None:
        other = side.other
        assert other is not None
        if exc is not None and not self.done and not other.lost:
            # a reset (or another error) on this side: reset the other too
            self._owner.relayed_event(self, side.direction, b"RST")
            self.reset = True
            if isinstance(exc, ConnectionResetError | BrokenPipeError):
                self.how = self.how or f"reset by {self._side_name(side.direction)}"
            else:
                self.how = self.how or f"{self._side_name(side.direction)} failed: {exc}"
            other.reset()
        elif not other.lost and other.transport is not None and not other.transport.is_closing():
            other.transport.close()  # this side is gone without an RST: the other ends after its queue
        if side.lost and other.lost:
            self._ended()

    def finish(self, how: str) -> None:
        if self.done:
            return
        self.how = self.how or how
        for side in (self._client, self._upstream):
            if side.transport is not None:
                side.transport.close()

    def abort(self, how: str) -> None:
        if self.done:
            return
        self.how = self.how or how
        for side in (self._client, self._upstream):
            side.reset()


def side_factory(direction: str, tls: bool) -> Callable[[], Side]:
    """A protocol factory for asyncio (one Side per call)."""
    return lambda: Side(direction, tls)
