"""One accepted client of the keep-open server: its bounded send queue, idle timer and byte counts.

A greeting file (--greet-file) is streamed to it a chunk at a time as its socket takes them, ahead of anything
sent later, so a large file costs one chunk of memory per client however slowly the client reads.

A protocol object rather than a task per client: at 10,000 clients the per-connection cost is a few small
objects, and a send to a client that is keeping up goes straight to the kernel with no task switch.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import BinaryIO, Protocol

from tcpcli.core.events import format_address
from tcpcli.core.link import idle_check_in, idle_timeout_message

__all__ = [
    "CLIENT_QUEUE_LIMIT",
    "FILE_CHUNK",
    "QUEUE_HIGH_WATER",
    "QUEUE_LOW_WATER",
    "STALL_TIMEOUT",
    "TRANSPORT_HIGH_WATER",
    "Client",
    "Hub",
    "peer_label",
]

# Back-pressure: past QUEUE_HIGH_WATER bytes queued for a client (beyond its kernel buffers and asyncio's) the
# client is "behind" and the hub stops reading whoever feeds it (the echoing client itself, every --broadcast
# sender, stdin) until its queue is under QUEUE_LOW_WATER. So a reader that keeps up, however slowly, loses
# nothing. Queued chunks are shared bytes objects: slow clients of one broadcast share the data, not copies.
QUEUE_HIGH_WATER = 256 * 1024
QUEUE_LOW_WATER = 64 * 1024
# Last resort only (the sources are paused long before): what one client may have queued at most.
CLIENT_QUEUE_LIMIT = 64 << 20
# A client that is behind (or being closed with data still unsent) and takes no byte for this long is not
# reading: it is dropped with an RST, so it holds neither the senders nor a descriptor/--max-clients slot.
STALL_TIMEOUT = 10.0

# asyncio's transport buffer is a private copy per client: keep it small and queue the rest ourselves.
TRANSPORT_HIGH_WATER = 64 * 1024

# A greeting file is read this much at a time, only while the socket takes data (one chunk per client).
FILE_CHUNK = 64 * 1024


class Hub(Protocol):
    """What a client reports to the server that owns it."""

    def client_joined(self, client: Client) -> bool: ...

    def client_data(self, client: Client, data: bytes) -> None: ...

    def client_finished(self, client: Client) -> bool:
        """The client sent FIN; True keeps the connection open for what is still to be sent to it."""
        ...

    def client_file_sent(self, client: Client) -> None: ...

    def client_left(self, client: Client) -> None: ...

    def client_behind(self, client: Client, behind: bool) -> None:
        """Its queue went over QUEUE_HIGH_WATER (True) or back under QUEUE_LOW_WATER (False)."""
        ...

    def client_draining(self, client: Client) -> None:
        """It is being closed with data still unsent: watch that it makes progress (STALL_TIMEOUT)."""
        ...


def peer_label(sockaddr: tuple[str, int] | tuple[str, int, int, int] | str | None) -> str:
    """`1.2.3.4:5678` for a peer address as asyncio reports it (None once the socket is gone).

    A string is a label already (a Unix client's `unix:PATH#N`).
    """
    if not sockaddr:
        return "?"
    if isinstance(sockaddr, str):
        return sockaddr
    return format_address(sockaddr[0], sockaddr[1])


class Client(asyncio.Protocol):
    """One connection: counts bytes, queues what it cannot send yet, closes itself when idle."""

    __slots__ = (
        "_after_file",
        "_file",
        "_holds",
        "_hub",
        "_idle_message",
        "_idle_timeout",
        "_idle_timer",
        "_label",
        "_loop",
        "_paused",
        "_queue",
        "_queued",
        "_sent_tap",
        "behind",
        "last_traffic",
        "last_unsent",
        "leave_reason",
        "on_writable",
        "peer",
        "progress_at",
        "received",
        "sent",
        "transport",
    )

    def __init__(
        self,
        hub: Hub,
        idle_timeout: float | None,
        idle_message: bytes | None,
        sent_tap: Callable[[Client, bytes], None] | None = None,
        label: str | None = None,
    ) -> None:
        """`label`: the name of a client whose address says nothing (`unix:PATH#3`); None: its address."""
        self._hub = hub
        self._label = label
        self._sent_tap = sent_tap  # --hex-log: sees what is sent to this client, when it is handed to us
        self._idle_timeout = idle_timeout
        self._idle_message = idle_message
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.sent = 0
        self.received = 0
        self.leave_reason = ""
        self.last_traffic = self._loop.time()
        self.progress_at = self.last_traffic  # last time the kernel took bytes for it (the stall watch)
        self.last_unsent = 0  # unsent bytes at the stall watch's last look
        self.behind = False  # over QUEUE_HIGH_WATER: its senders are held
        self._holds: set[str] = set()  # why reading it is paused: "output", "relay", "program"
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._paused = False
        self._idle_timer: asyncio.TimerHandle | None = None
        self._file: BinaryIO | None = None  # --greet-file being streamed
        self._after_file: Callable[[], None] | None = None  # a finish/close asked for while it streams
        # --exec: told when the client takes more data (True) or is behind (False), to pace the program
        self.on_writable: Callable[[bool], None] | None = None

    # ------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=TRANSPORT_HIGH_WATER)
        self.peer = self._label or peer_label(transport.get_extra_info("peername"))
        if not self._hub.client_joined(self):
            return
        if self._idle_timeout is not None:
            self._idle_timer = self._loop.call_later(self._idle_timeout, self._check_idle)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        self.last_traffic = self._loop.time()
        self._hub.client_data(self, data)

    def eof_received(self) -> bool:
        """The client is done sending: what is queued for it still goes out, then we close too (FIN).

        Over TLS asyncio cannot stay half-open (it closes whatever we answer, with a logged warning if we
        answer True): a TLS client's end of input ends the connection.
        """
        keep_open = self._hub.client_finished(self)  # --exec: the program may still answer
        if self._file is not None:
            self._after_file = self._after_file or (lambda: self.close(""))
            keep_open = True
        transport = self.transport
        if transport is not None and transport.get_extra_info("sslcontext") is not None:
            keep_open = False
        if not keep_open:
            self._release_queue()
        if not keep_open and self.unsent:
            self._hub.client_draining(self)  # bounded: a client that stopped reading is reset
        return keep_open  # False: the transport closes once its buffer is written

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self.leave_reason:
            self.leave_reason = "reset" if isinstance(exc, ConnectionResetError) else f"error: {exc}"
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._queue.clear()
        self._end_file()
        self._hub.client_left(self)

    def pause_writing(self) -> None:
        self._paused = True
        if self.on_writable is not None:
            self.on_writable(False)

    def resume_writing(self) -> None:
        self._paused = False
        self.progress_at = self.last_traffic = self._loop.time()
        if self._file is not None:
            self._pump_file()
        else:
            self._release_queue(everything=False)
        if self.on_writable is not None and self.writable:
            self.on_writable(True)
        if self.behind and self._queued < QUEUE_LOW_WATER:
            self.behind = False
            self._hub.client_behind(self, False)

    def hold_reading(self, reason: str, hold: bool) -> None:
        """Pause reading this client while any reason holds it (stdout behind, receivers behind, a full
        program stdin); each reason is released on its own, so one cannot resume what another paused."""
        if hold:
            self._holds.add(reason)
        else:
            self._holds.discard(reason)
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._holds:
            transport.pause_reading()
        else:
            transport.resume_reading()

    @property
    def writable(self) -> bool:
        """The socket takes data now and no greeting file is ahead of it."""
        return not self._paused and self._file is None

    # ------------------------------------------------------------ sending

    def send(self, data: bytes) -> None:
        """Send now if the transport takes it, else queue; past CLIENT_QUEUE_LIMIT the client is dropped."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._sent_tap is not None:
            self._sent_tap(self, data)
        if not self._paused and not self._queue and self._file is None:
            self.last_traffic = self._loop.time()  # queued bytes are no traffic: -i still sees a stall
            self.sent += len(data)
            transport.write(data)
            return
        self._queue.append(data)
        self._queued += len(data)
        if self._queued > CLIENT_QUEUE_LIMIT:
            self.drop("not reading", reset=True)
        elif not self.behind and self._queued > QUEUE_HIGH_WATER:
            self.behind = True
            self._hub.client_behind(self, True)

    def drop(self, reason: str, reset: bool = False) -> None:
        """Close at once, discarding what is queued (reason shows in the `client left` event); `reset`:
        with an RST, so the client sees an error rather than an ordinary end of stream."""
        if not self.leave_reason:
            self.leave_reason = reason
        self._queue.clear()
        self._queued = 0
        self._end_file()
        if self.transport is None:
            return
        if reset and (sock := self.transport.get_extra_info("socket")) is not None:
            with contextlib.suppress(OSError):  # SO_LINGER 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def finish(self) -> None:
        """Server stopping: hand over the queue and send FIN once it is written."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._file is not None:
            self._after_file = self.finish
            return
        self._release_queue()
        if transport.can_write_eof():
            transport.write_eof()

    def close(self, reason: str, last_words: bytes | None = None) -> None:
        """Send `last_words` (if any) after what is queued, then FIN and close."""
        if not self.leave_reason:
            self.leave_reason = reason
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._file is not None:
            self._after_file = lambda: self.close(reason, last_words)
            return
        self._release_queue()
        if last_words:
            if self._sent_tap is not None:
                self._sent_tap(self, last_words)
            self.sent += len(last_words)
            transport.write(last_words)
        transport.close()
        if self.unsent:
            self._hub.client_draining(self)  # a client that stopped reading must not hold its slot

    @property
    def unsent(self) -> int:
        """Bytes not yet handed to the kernel (our queue plus the transport's buffer; one chunk for a file
        still streaming)."""
        buffered = self.transport.get_write_buffer_size() if self.transport is not None else 0
        return self._queued + buffered + (FILE_CHUNK if self._file is not None else 0)

    # ------------------------------------------------------------ a greeting file

    def send_file(self, file: BinaryIO) -> None:
        """Stream `file` (opened unbuffered) ahead of anything sent later; it is closed at its end."""
        self._file = file
        self._pump_file()

    def _pump_file(self) -> None:
        """Write chunks while the socket takes them; resume_writing() brings us back when it drains."""
        transport = self.transport
        while (file := self._file) is not None and not self._paused:
            if transport is None or transport.is_closing():
                self._end_file()
                return
            try:
                chunk = file.read(FILE_CHUNK)
            except OSError as exc:
                self.drop(f"reading the greeting file failed: {exc.strerror or exc}")
                return
            if not chunk:
                self._end_file()
                self._file_done()
                return
            self.last_traffic = self._loop.time()
            if self._sent_tap is not None:
                self._sent_tap(self, chunk)
            self.sent += len(chunk)
            transport.write(chunk)  # past TRANSPORT_HIGH_WATER this calls pause_writing()

    def _file_done(self) -> None:
        after, self._after_file = self._after_file, None
        if after is not None:
            after()
            return
        self._release_queue(everything=False)
        if self.on_writable is not None and self.writable:
            self.on_writable(True)
        self._hub.client_file_sent(self)

    def _end_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _release_queue(self, everything: bool = True) -> None:
        """Move queued chunks to the transport: all of them when closing, else until it pauses us again."""
        transport = self.transport
        if transport is None:
            return
        if everything and self._queue:
            data = b"".join(self._queue)
            self._queue.clear()
            self._queued = 0
            self.sent += len(data)
            transport.write(data)
            if self.behind:  # closing: nothing more is queued for it, its senders go on
                self.behind = False
                self._hub.client_behind(self, False)
            return
        while self._queue and not self._paused:  # write() calls pause_writing() itself past the high mark
            data = self._queue.popleft()
            self._queued -= len(data)
            self.sent += len(data)
            transport.write(data)

    def _check_idle(self) -> None:
        """-i: the one-peer engine's idle decision (core.link), taken per client."""
        assert self._idle_timeout is not None
        wait = idle_check_in(self.last_traffic, self._idle_timeout, self._loop.time())
        if wait is not None:
            self._idle_timer = self._loop.call_later(wait, self._check_idle)
            return
        self._idle_timer = None
        reason = idle_timeout_message(self._idle_timeout)  # the one wording (core.link), as for one client
        if self._file is not None:  # the client stopped taking the file: what is left cannot reach it
            self.drop(reason)
            return
        self.close(reason, self._idle_message)
