"""--reconnect's stdin: one reader that outlives each connection; no byte it read is lost between them.

The `StdinFeed` thread reads stdin into a short queue (back-pressure: it stops reading while that is full).
Each connection's `FeedUplink` takes chunks from it and sends them. A chunk is handed out to one connection
at a time: if sending fails part way, what the kernel did not take goes back to the front of the queue, and
the next connection sends it first. Bytes the kernel took for a connection that then died may be lost (TCP
cannot tell); the per-connection `sent` count (`-v`) says how many went to each.

Ownership: `attach()` makes a new owner (the next connection) current; a previous owner's uplink thread,
still waiting in `take`, then gets `Detached` instead of a chunk, and `attach` first waits (bounded) until
the chunk that owner holds is settled, so the order of stdin is kept across connections.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections import deque

from tcpcli.connection import Connection, plain_socket
from tcpcli.core.newline import CrlfTranslator
from tcpcli.engine.paths import Uplink
from tcpcli.engine.stdio import read_into
from tcpcli.engine.taps import HexLog
from tcpcli.errors import ExitCode, TcpcliError

__all__ = ["FEED_CHUNK", "FEED_DEPTH", "SETTLE_WAIT", "Detached", "FeedUplink", "StdinFeed"]

FEED_CHUNK = 64 * 1024  # bytes per read of stdin
FEED_DEPTH = 4  # chunks held ahead of the connection: at most 256 KiB read from stdin and not yet sent
SETTLE_WAIT = 2.0  # seconds attach() waits for the previous connection's chunk to come back or go out
SEND_POLL_MS = 200  # a blocked send looks this often whether its connection is still the current one


class Detached(TcpcliError):
    """This connection is no longer the feed's owner (a newer one took over): stop, quietly."""

    def __init__(self) -> None:
        super().__init__("detached from stdin", ExitCode.IO_ERROR)


class StdinFeed:
    """stdin read by one daemon thread into a bounded queue; chunks handed to the current owner in order.

    `crlf`: -C, LF -> CRLF applied once, as read (a chunk given back is never translated twice).
    """

    def __init__(self, stdin_fd: int = 0, crlf: bool = False) -> None:
        self._fd = stdin_fd
        self._translator = CrlfTranslator() if crlf else None
        self._chunks: deque[bytes] = deque()
        self._eof = False
        self._error: TcpcliError | None = None
        self._owner = 0
        self._holder: int | None = None  # the owner holding a chunk, neither sent nor given back yet
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="tcpcli-stdin-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def ended(self) -> bool:
        """stdin reached EOF and every byte of it was handed out and settled."""
        with self._cond:
            return self._eof and not self._chunks and self._holder is None

    def attach(self) -> int:
        """A new owner (the next connection); waits up to SETTLE_WAIT for the previous owner's chunk."""
        with self._cond:
            self._owner += 1
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._holder is None, SETTLE_WAIT)
            self._holder = None  # a sender stuck past the wait keeps its chunk: counted as sent
            return self._owner

    def detach(self) -> None:
        """The current connection ended: its uplink thread gets no more chunks (see `attach`)."""
        self.attach()

    def is_current(self, owner: int) -> bool:
        return owner == self._owner

    def take(self, owner: int) -> bytes:
        """The next chunk for `owner` (b"" at the end of stdin); raises Detached once `owner` is replaced."""
        with self._cond:
            self._cond.wait_for(lambda: owner != self._owner or self._chunks or self._eof or self._error)
            if owner != self._owner:
                raise Detached
            if self._chunks:
                self._holder = owner
                chunk = self._chunks.popleft()
                self._cond.notify_all()  # room in the queue: the reader goes on
                return chunk
            if self._error is not None:
                raise self._error
            return b""

    def settle(self, owner: int, unsent: bytes = b"") -> None:
        """`owner` is done with its chunk; `unsent` (the tail the kernel did not take) goes first."""
        with self._cond:
            if self._holder != owner:
                return  # given up on by attach (SETTLE_WAIT): its chunk no longer counts
            if unsent:
                self._chunks.appendleft(unsent)
            self._holder = None
            self._cond.notify_all()

    def _read(self) -> None:
        buffer = bytearray(FEED_CHUNK)
        try:
            while size := read_into(self._fd, buffer):
                data = bytes(buffer[:size])
                if self._translator is not None:
                    data = self._translator.feed(data)
                with self._cond:
                    self._cond.wait_for(lambda: len(self._chunks) < FEED_DEPTH)
                    self._chunks.append(data)
                    self._cond.notify_all()
            error = None
        except OSError as exc:
            error = TcpcliError(f"reading stdin: {exc.strerror or exc}", ExitCode.IO_ERROR)
        with self._cond:
            self._eof = True
            self._error = error
            self._cond.notify_all()


class FeedUplink(Uplink):
    """One connection's share of the feed: sends each chunk, gives back what the kernel did not take."""

    name = "copy (stdin kept across reconnects)"

    def __init__(self, feed: StdinFeed, sock: Connection, hex_log: HexLog | None = None) -> None:
        super().__init__(-1, sock)
        self._feed = feed
        self._owner = feed.attach()
        self._hex_log = hex_log

    def release(self) -> None:
        """This connection is over: its thread stops taking stdin, its chunk (if any) is settled first."""
        self._feed.detach()

    def transfer(self) -> int:
        chunk = self._feed.take(self._owner)
        if not chunk:
            return 0
        self.sending = True
        sent = 0
        try:
            sent = self._send(chunk)
        finally:
            self.sending = False
            self._feed.settle(self._owner, chunk[sent:])
        return sent

    def _send(self, chunk: bytes) -> int:
        """Bytes of `chunk` the kernel took; an error after a partial send leaves the rest unsent."""
        sock = self.sock
        if not plain_socket(sock):  # a TLS channel offers sendall only: the chunk goes whole or not at all
            self._log(chunk)
            sock.sendall(chunk)
            return len(chunk)
        fd = sock.fileno()
        if fd < 0:
            return 0  # closed under us as the connection ended: the whole chunk goes to the next one
        view = memoryview(chunk)
        sent = 0
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        while sent < len(chunk):
            if not self._feed.is_current(self._owner):
                return sent  # a newer connection took over while this one's peer stopped reading
            try:
                moved = sock.send(view[sent:], socket.MSG_DONTWAIT)
            except BlockingIOError:
                poller.poll(SEND_POLL_MS)
                continue
            self._log(chunk[sent : sent + moved])
            sent += moved
        return sent

    def _log(self, data: bytes) -> None:
        if self._hex_log is not None:
            with contextlib.suppress(TcpcliError):
                self._hex_log.record(">", data)
