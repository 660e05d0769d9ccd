"""A relayed connection with faults and rewrites: the copy path, with a timed forwarder per direction.

Only built when a fault or --replace option is given, so a plain relay keeps its own path (engine.relayed)
and its speed. Each direction's bytes go: sender -> transcript (as received) -> core.rewrite.Rewriter ->
core.faults.FaultLine (the decisions: what to write when, when a fault fires) -> the receiver, one write
per answer (one per slice with --slice, with TCP_NODELAY on the receiver's socket). The line's clock is
the loop's (`loop.time()`); timers are `call_later`.

Back-pressure: a direction holding more than QUEUE_LIMIT bytes (a delay or a rate behind its sender)
stops reading its sender until it is under again, and asyncio's write buffer mark still pauses it when
the receiver is slow: memory stays flat whatever the faults.

Faults when they fire: STALL stops forwarding and reading that direction (both sides stay open; the
sender's kernel buffers fill); CUT closes both sides with FIN after what was forwarded (what either side
sends afterwards is read and dropped, so the close is a FIN, not an RST for unread data); RESET waits until
what was forwarded has left (bounded by FLUSH_LIMIT), then resets both sides (SO_LINGER 0). Each is an
event of the transcript: `#N < STALL`, `#N CUT`, `#N RESET`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
from collections.abc import Callable

from tcpcli.core.faults import End, FaultLine, Fire, Wait, Write, draw_faulty
from tcpcli.core.faultspec import DirectionFaults, FaultSettings
from tcpcli.core.rewrite import Rewriter
from tcpcli.engine.relayed import DOWN, UP, CopyConnection, Owner, Side

__all__ = ["FLUSH_LIMIT", "QUEUE_LIMIT", "FaultyConnection", "faulty_connection"]

# A direction holding more than this (delayed or rate-limited bytes) stops reading its sender.
QUEUE_LIMIT = 256 * 1024
# After a CUT, how long a side gets to answer our FIN with its own before it is closed anyway.
CUT_GRACE = 2.0
# Before a RESET, how long we wait for the forwarded bytes to leave (the receiver may not be reading).
FLUSH_LIMIT = 2.0
_FLUSH_POLL = 0.005


def _unsent(sock: socket.socket | None) -> int:
    """Bytes in the socket's send queue not yet acknowledged by the peer (Linux TIOCOUTQ; 0 if unknown)."""
    if sock is None:
        return 0
    try:
        return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0])
    except OSError:
        return 0


class _Forwarder:
    """One direction: from `source` (the Side that reads it) to its other side, through the fault line."""

    def __init__(self, conn: FaultyConnection, source: Side, plan: DirectionFaults) -> None:
        self._conn = conn
        self._loop = conn.loop
        self.source = source
        self.plan = plan
        self.line = FaultLine(plan, self._loop.time(), conn.draw)
        self._rewriter = Rewriter(plan.replace) if plan.replace else None
        self._timer: asyncio.TimerHandle | None = None

    @property
    def dest(self) -> Side:
        assert self.source.other is not None
        return self.source.other

    def start(self) -> None:
        if self.plan.slice:  # small segments must leave as they are written, not be coalesced by Nagle
            transport = self.dest.transport
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is not None and sock.family != socket.AF_UNIX:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pump()

    def feed(self, data: bytes) -> None:
        if self._rewriter is not None:
            data = self._rewriter.feed(data)
        self.line.feed(data, self._loop.time())
        self.pump()

    def feed_end(self) -> None:
        now = self._loop.time()
        if self._rewriter is not None:
            self.line.feed(self._rewriter.finish(), now)
        self.line.feed_end(now)
        self.pump()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def pump(self) -> None:
        """Do what the line says until it says wait (a timer) or nothing."""
        self.stop()
        while True:
            now = self._loop.time()
            action = self.line.next(now)
            if isinstance(action, Write):
                transport = self.dest.transport
                if transport is not None and not transport.is_closing():
                    transport.write(action.data)
                continue
            if isinstance(action, Wait):
                self._timer = self._loop.call_at(action.until, self.pump)
            elif isinstance(action, Fire):
                self._conn.fire(self, action.kind)
                return
            elif isinstance(action, End):
                self._conn.deliver_end(self.source)
                continue
            break
        # a direction far behind its sender stops reading it (memory stays flat)
        self.source.hold("queue", self.line.queued > QUEUE_LIMIT)


class FaultyConnection(CopyConnection):
    """CopyConnection whose directions go through a forwarder each (see the module docstring)."""

    def __init__(
        self,
        owner: Owner,
        number: int,
        client: str,
        upstream: str,
        idle_timeout: float | None,
        client_side: Side,
        upstream_side: Side,
        plans: tuple[DirectionFaults, DirectionFaults],
        draw: Callable[[], float],
    ) -> None:
        super().__init__(owner, number, client, upstream, idle_timeout, client_side, upstream_side)
        self.loop = self._loop
        self.draw = draw
        self._ending = ""  # "cut" or "reset" once one fired: nothing more is forwarded
        self._ends: set[str] = set()  # directions whose FIN was delivered
        self._cut_timer: asyncio.TimerHandle | None = None
        self._forwarders = {
            UP: _Forwarder(self, client_side, plans[0]),
            DOWN: _Forwarder(self, upstream_side, plans[1]),
        }

    def start(self) -> None:
        super().start()
        if self.done or any(side.lost for side in (self._client, self._upstream)):
            return
        for forwarder in self._forwarders.values():
            forwarder.start()

    def data(self, side: Side, data: bytes) -> None:
        self.last_traffic = self._loop.time()
        if side.direction == UP:
            self.up += len(data)
        else:
            self.down += len(data)
        self._owner.relayed_data(self, side.direction, data)  # as received, before faults and rewrites
        if not self._ending:
            self._forwarders[side.direction].feed(data)

    def eof(self, side: Side) -> None:
        side.eof = True
        self._owner.relayed_event(self, side.direction, b"FIN")
        if self._ending:  # after a CUT: the side answered our FIN
            if side.transport is not None:
                side.transport.close()
            return
        self._forwarders[side.direction].feed_end()

    def deliver_end(self, source: Side) -> None:
        """The forwarder reached `source`'s FIN: FIN to the other side (half-close kept)."""
        self._ends.add(source.direction)
        dest = source.other
        assert dest is not None
        transport = dest.transport
        if transport is None or transport.is_closing():
            return
        if len(self._ends) == 2 or source.tls or not transport.can_write_eof():
            transport.close()
            if len(self._ends) == 2 and source.transport is not None:
                source.transport.close()
        else:
            transport.write_eof()

    def lost(self, side: Side, exc: Exception | None) -> None:
        if exc is not None or side.other is None or side.other.lost:
            self._stop_forwarders()
        super().lost(side, exc)
        if self.done:
            self._stop_forwarders()

    def fire(self, forwarder: _Forwarder, kind: str) -> None:
        """A fault fired in `forwarder`'s direction."""
        if self._ending or self.done:
            return
        direction = forwarder.source.direction
        if kind == "stall":
            self._owner.relayed_event(self, direction, b"STALL")
            forwarder.source.hold("stall", True)
            return
        self._ending = kind
        self._stop_forwarders()
        if kind == "cut":
            self._owner.relayed_event(self, None, b"CUT")
            self.how = self.how or "cut (--cut-after)"
            self._cut()
        else:
            self._owner.relayed_event(self, None, b"RESET")
            self.how = self.how or "reset (--reset-after)"
            self._when_flushed(forwarder.dest, self._loop.time() + FLUSH_LIMIT)

    def _cut(self) -> None:
        """FIN to both sides after what was written; each is closed when it answers (or after CUT_GRACE)."""
        for side in (self._client, self._upstream):
            transport = side.transport
            if transport is None or transport.is_closing():
                continue
            side.hold("stall", False)  # read (and drop) what comes, so the close is not an RST
            if side.eof or side.tls or not transport.can_write_eof():
                transport.close()
            else:
                transport.write_eof()
        self._cut_timer = self._loop.call_later(CUT_GRACE, self._close_both)

    def _close_both(self) -> None:
        for side in (self._client, self._upstream):
            if side.transport is not None and not side.transport.is_closing():
                side.transport.close()

    def _when_flushed(self, dest: Side, limit: float) -> None:
        """Reset both sides once what was forwarded to `dest` has left (and been acknowledged), or at
        `limit` (a receiver that does not read never empties its queue)."""
        if self.done:
            return
        transport = dest.transport
        waiting = transport is not None and not dest.lost and transport.get_write_buffer_size() > 0
        if not waiting and transport is not None and not dest.lost:
            waiting = _unsent(transport.get_extra_info("socket")) > 0
        if waiting and self._loop.time() < limit:
            self._loop.call_later(_FLUSH_POLL, self._when_flushed, dest, limit)
            return
        for side in (self._client, self._upstream):
            side.reset()

    def _stop_forwarders(self) -> None:
        for forwarder in self._forwarders.values():
            forwarder.stop()
        if self.done and self._cut_timer is not None:
            self._cut_timer.cancel()
            self._cut_timer = None


def faulty_connection(
    owner: Owner,
    number: int,
    client: str,
    upstream: str,
    idle_timeout: float | None,
    sides: tuple[Side, Side],
    faults: FaultSettings,
) -> FaultyConnection:
    """The connection with its faults drawn (--fault-rate, per connection): a connection that is not
    faulty keeps only the rewrites. The `open` line says which when the rate is below 1."""
    import random

    faulty = draw_faulty(faults.fault_rate, random.random)
    plans = (faults.up, faults.down)
    if not faulty:
        plans = (DirectionFaults(replace=faults.up.replace), DirectionFaults(replace=faults.down.replace))
    conn = FaultyConnection(owner, number, client, upstream, idle_timeout, *sides, plans, random.random)
    conn.faulty = faulty if faults.fault_rate < 1.0 else None
    return conn
