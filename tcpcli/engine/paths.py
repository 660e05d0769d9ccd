"""The copy strategies of stream mode, one per direction, chosen in one place from what the fds are.

Fast paths move bytes inside the kernel: `os.splice` when stdin or stdout is a pipe, `os.sendfile` when
stdin is a regular file. The portable copy loop handles everything else and every option that must see the
bytes (`-C`, `-o`, `--hex-log`, `-x`, `--struct`, `--telnet`, TLS). Each pump's `transfer()` blocks, moves
one chunk and returns its size, 0 at end of stream.

stdin and stdout may come non-blocking from the parent (O_NONBLOCK on a shared pipe): every path waits for
readiness on EAGAIN instead of failing (see tcpcli.engine.stdio). Renderings (`-x`, `--struct`) come from the
front as an `engine.seam.Renderer`: the engine never imports a front.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import stat
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from tcpcli.connection import Connection, plain_socket
from tcpcli.core.newline import CrlfTranslator
from tcpcli.engine.stdio import read_into, wait_ready, write_all
from tcpcli.engine.taps import HexLog, OutputFile, timestamp_now
from tcpcli.errors import ExitCode, TcpcliError

if TYPE_CHECKING:  # the seam's Protocols cost ~2 ms to build: types only here
    import queue

    from tcpcli.core.telnet import TelnetFilter
    from tcpcli.engine.seam import Receiver, Renderer

__all__ = [
    "COPY_CHUNK",
    "END_OF_INPUT",
    "PIPE_SIZE",
    "REFILL_BELOW",
    "REFILL_PAUSE",
    "SPLICE_CHUNK",
    "CopyDownlink",
    "CopyUplink",
    "Downlink",
    "EmptyUplink",
    "QueueUplink",
    "ReceiverDownlink",
    "Sender",
    "SendfileUplink",
    "SpliceDownlink",
    "SpliceUplink",
    "StdoutClosed",
    "Uplink",
    "choose_downlink",
    "choose_uplink",
    "enlarge_pipe",
    "fd_kind",
]

COPY_CHUNK = 256 * 1024  # big enough that per-call overhead vanishes, small enough to stay cache friendly
SPLICE_CHUNK = 1 << 20  # the kernel caps a pipe transfer at the pipe's size anyway
ROOM_WAIT_MS = 50  # a full pipe (or one too fragmented for the next segment): look again this soon
PIPE_SIZE = 1 << 20  # Linux's default pipe-max-size: what an unprivileged process may ask for
# A producer that writes small pieces (`head` writes 8 KiB at a time) wakes a waiting splice for each one: we
# moved a few KiB, slept again and preempted it again, ~10,000 times per GiB. After a splice that found the
# pipe nearly empty (less than REFILL_BELOW), pausing REFILL_PAUSE lets the producer fill it for the next
# call: stdin pipe -> socket ~20 % faster (bench/README.md). What was read is already sent; only the next
# pick-up waits, at most REFILL_PAUSE, and only after a chunk (a quiet pipe waits in the kernel as before).
REFILL_BELOW = 64 * 1024
REFILL_PAUSE = 0.0002  # seconds; 0.1 ms and 0.2 ms measured alike, 1 ms slower (a full pipe waits on us)

# splice/sendfile refuse some fd combinations only at the first call (some filesystems and fd kinds):
# those errors mean "use the copy loop", not "the transfer failed".
_NOT_SUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ESPIPE, errno.EBADF}


class StdoutClosed(Exception):
    """The reader of stdout went away (`| head -1`): stop quietly."""


def fd_kind(fd: int) -> str:
    """'pipe', 'file', 'socket', 'tty', 'other' or 'closed' for an inherited fd."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return "closed"
    if stat.S_ISFIFO(mode):
        return "pipe"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISSOCK(mode):
        return "socket"
    if os.isatty(fd):
        return "tty"
    return "other"


class Sender:
    """Every send of the copy paths: stdin's chunks (uplink thread) and `--telnet` refusals (downlink thread).

    A chunk goes to `--hex-log` *before* it is handed to the kernel, under the same lock as the send, so the
    log's order is the wire's: a reply can never be logged before the request that caused it. The lock also
    keeps the two threads from interleaving inside a chunk. A refusal that finds the uplink busy (blocked on a
    full socket) is queued and sent by the uplink as soon as its chunk is out: the downlink never waits on the
    uplink and keeps reading.
    """

    def __init__(self, sock: Connection, hex_log: HexLog | None = None) -> None:
        self._sock = sock
        self._hex_log = hex_log
        self._lock = threading.Lock()
        self._replies: deque[bytes] = deque()

    def send(self, data: bytes | memoryview) -> None:
        """Send all of `data` (blocking); raises OSError as socket.sendall does."""
        with self._lock:
            self._send(data)
        if self._replies:
            self._flush()

    def reply(self, data: bytes) -> None:
        """Queue `data` and send it now unless a send is under way (then that sender sends it next).

        Errors are dropped: a peer that is gone shows on the receiving side (EOF, reset) anyway.
        """
        self._replies.append(data)
        with contextlib.suppress(OSError):
            self._flush()

    def _flush(self) -> None:
        # Whoever holds the lock sends what is queued; a reply queued while the lock was held is seen by the
        # holder's check after its release (append happens before the failed acquire), so none is left behind.
        while self._replies and self._lock.acquire(blocking=False):
            try:
                while self._replies:
                    self._send(self._replies.popleft())
            finally:
                self._lock.release()

    def _send(self, data: bytes | memoryview) -> None:
        if self._hex_log is not None:
            self._hex_log.record(">", bytes(data))
        self._sock.sendall(data)


class Uplink:
    """stdin -> socket."""

    name = "copy"

    def __init__(self, stdin_fd: int, sock: Connection) -> None:
        self.stdin_fd = stdin_fd
        self.sock = sock
        self.sending = False  # holds bytes read from stdin but not yet accepted by the socket

    def transfer(self) -> int:
        raise NotImplementedError


class CopyUplink(Uplink):
    name = "copy"

    def __init__(
        self, stdin_fd: int, sock: Connection, crlf: bool = False, sender: Sender | None = None
    ) -> None:
        super().__init__(stdin_fd, sock)
        self._buffer = bytearray(COPY_CHUNK)
        self._view = memoryview(self._buffer)
        self._translator = CrlfTranslator() if crlf else None
        self._sender = sender or Sender(sock)

    def transfer(self) -> int:
        size = read_into(self.stdin_fd, self._buffer)  # into one reused buffer: no allocation per chunk
        if not size:
            return 0
        data = self._view[:size]
        out = self._translator.feed(bytes(data)) if self._translator else data
        self.sending = True
        try:
            self._sender.send(out)
        finally:
            self.sending = False
        return len(out)


class _FallbackUplink(Uplink):
    """A kernel fast path that turns itself into the copy loop if the kernel refuses the fd pair."""

    def __init__(self, stdin_fd: int, sock: socket.socket) -> None:
        super().__init__(stdin_fd, sock)
        self.sock_fd = sock.fileno()
        self._fallback: CopyUplink | None = None

    def transfer(self) -> int:
        if self._fallback is not None:
            return self._fallback.transfer()
        try:
            return self._kernel_transfer()
        except OSError as exc:
            if exc.errno not in _NOT_SUPPORTED:
                raise
            self._fallback = CopyUplink(self.stdin_fd, self.sock)
            self.name = f"copy (kernel refused {self.name})"
            return self._fallback.transfer()

    def _kernel_transfer(self) -> int:
        raise NotImplementedError


class SpliceUplink(_FallbackUplink):
    name = "splice"

    def __init__(self, stdin_fd: int, sock: socket.socket) -> None:
        super().__init__(stdin_fd, sock)
        enlarge_pipe(stdin_fd)

    def _kernel_transfer(self) -> int:
        while True:
            try:
                moved = os.splice(self.stdin_fd, self.sock_fd, SPLICE_CHUNK)
            except BlockingIOError:
                # stdin came O_NONBLOCK: the kernel then makes the whole splice non-blocking, socket side
                # included, so EAGAIN means an empty pipe or a full socket. Wait until both can move.
                wait_ready(self.stdin_fd, select.POLLIN)
                wait_ready(self.sock_fd, select.POLLOUT)
                continue
            if 0 < moved < REFILL_BELOW:
                time.sleep(REFILL_PAUSE)  # let a small-write producer fill the pipe (see REFILL_BELOW)
            return moved


class SendfileUplink(_FallbackUplink):
    name = "sendfile"

    def _kernel_transfer(self) -> int:
        return os.sendfile(self.sock_fd, self.stdin_fd, None, SPLICE_CHUNK)


class EmptyUplink(Uplink):
    """stdin is closed or missing: it is at EOF from the start."""

    name = "none (stdin closed)"

    def transfer(self) -> int:
        return 0


END_OF_INPUT = b""  # QueueUplink: the input ended, send the FIN (once what was queued before is out)


class QueueUplink(Uplink):
    """A front's typed input -> socket: chunks queued by `put` (from any thread) are sent in order.

    `transfer()` returns 0 at `END_OF_INPUT` (`fin` True: send the FIN) or at `None` (`fin` False: the
    engine is closing, no FIN). Sends go through the `Sender`, so `--hex-log` has each chunk before the kernel
    does and `--telnet` refusals never cut into one.
    """

    name = "typed input"

    def __init__(self, sock: Connection, sender: Sender) -> None:
        import queue  # only the terminal's engine needs it: stream mode's start-up stays lean

        super().__init__(-1, sock)
        self._sender = sender
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.fin = False

    def put(self, item: bytes | None) -> None:
        self._queue.put(item)

    def transfer(self) -> int:
        item = self._queue.get()
        if not item:
            self.fin = item is not None
            return 0
        self.sending = True
        try:
            self._sender.send(item)
        finally:
            self.sending = False
        return len(item)


class Downlink:
    """socket -> stdout."""

    name = "copy"

    def transfer(self) -> int:
        raise NotImplementedError

    def finish(self) -> str | None:
        """After the peer's FIN: a warning for stderr (a partial struct record) or None."""
        return None


class SpliceDownlink(Downlink):
    """socket -> stdout pipe inside the kernel, never sleeping on the socket while holding the pipe.

    A blocking splice from TCP waits for data with the *pipe's* lock held, so the reader of stdout cannot
    drain what is already there: a reader that waits for all of it before sending more deadlocks with us.
    So we wait for the socket with poll() first and splice only what has arrived.
    """

    name = "splice"

    def __init__(self, sock: socket.socket, stdout_fd: int) -> None:
        self._sock = sock
        self._sock_fd = sock.fileno()
        self._stdout_fd = stdout_fd
        self._sock_ready = select.poll()
        self._sock_ready.register(self._sock_fd, select.POLLIN | select.POLLPRI)
        self._room = select.poll()
        self._room.register(stdout_fd, select.POLLOUT)

    def transfer(self) -> int:
        while True:
            self._sock_ready.poll()
            try:
                moved = os.splice(self._sock_fd, self._stdout_fd, SPLICE_CHUNK)
            except BrokenPipeError as exc:
                raise StdoutClosed from exc
            except BlockingIOError:
                # stdout came O_NONBLOCK: its pipe is full. Wait for room as below, then for the socket again.
                self._room.poll(ROOM_WAIT_MS)
                continue
            if moved:
                return moved
            # 0 means end of stream, or no room in the pipe for the next segment: a peek tells them apart.
            try:
                if not self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                    return 0
            except BlockingIOError:
                continue
            self._room.poll(ROOM_WAIT_MS)


class CopyDownlink(Downlink):
    name = "copy"

    def __init__(
        self,
        sock: Connection,
        stdout_fd: int,
        renderer: Renderer | None = None,
        output: OutputFile | None = None,
        hex_log: HexLog | None = None,
        timestamps: bool = False,
        telnet: Sender | None = None,
    ) -> None:
        """`telnet`: `--telnet`, negotiation taken out of the data and refused through this sender."""
        self._sock = sock
        self._stdout_fd = stdout_fd
        self._buffer = bytearray(COPY_CHUNK)
        self._view = memoryview(self._buffer)
        self._renderer = renderer
        self._output = output
        self._hex_log = hex_log
        self._timestamps = timestamps
        self._telnet: TelnetFilter | None = None
        self._replies = telnet
        if telnet is not None:
            from tcpcli.core.telnet import TelnetFilter  # only then: start-up time is the stream path's

            self._telnet = TelnetFilter()

    def transfer(self) -> int:
        """One received chunk to stdout (and taps); returns the bytes received, 0 at the peer's FIN."""
        size = self._sock.recv_into(self._buffer)
        if not size:
            return 0
        data: bytes | memoryview = self._view[:size]
        if self._hex_log is not None:
            self._hex_log.record("<", bytes(data))  # the wire's bytes, telnet commands included
        if self._telnet is not None and self._replies is not None:
            data, reply = self._telnet.feed(bytes(data))
            if reply:
                self._replies.reply(reply)
        self._deliver(data)
        return size

    def _deliver(self, data: bytes | memoryview) -> None:
        if not data:
            return
        if self._output is not None:
            self._output.write(data)
        if self._renderer is not None:
            stamp = timestamp_now() if self._timestamps else None
            self._write(self._renderer.feed(bytes(data), stamp))
        else:
            self._write(data)

    def _write(self, data: bytes | memoryview) -> None:
        try:
            write_all(self._stdout_fd, data)
        except BrokenPipeError as exc:
            raise StdoutClosed from exc
        except OSError as exc:  # a full disk, /dev/full: the fault is stdout's, not the connection's
            raise TcpcliError(f"writing to stdout: {exc.strerror or exc}", ExitCode.IO_ERROR) from exc

    def finish(self) -> str | None:
        if self._telnet is not None:
            self._deliver(self._telnet.finish())  # a sequence cut off by the FIN is data after all
        return self._renderer.finish() if self._renderer is not None else None


class ReceiverDownlink(CopyDownlink):
    """socket -> a front's `Receiver` (the terminal's Inbox): each chunk as fresh bytes with its `-t` stamp.

    The taps are the copy path's: `--hex-log` has the wire's bytes, `-o` the data without telnet negotiation.
    """

    name = "copy to the front"

    def __init__(
        self,
        sock: Connection,
        receiver: Receiver,
        output: OutputFile | None = None,
        hex_log: HexLog | None = None,
        timestamps: bool = False,
        telnet: Sender | None = None,
    ) -> None:
        super().__init__(sock, -1, None, output, hex_log, timestamps, telnet)
        self._receiver = receiver

    def _deliver(self, data: bytes | memoryview) -> None:
        if not data:
            return
        stamp = timestamp_now() if self._timestamps else None
        if self._output is not None:
            self._output.write(data)
        self._receiver.put(bytes(data), stamp)  # the buffer is reused by the next read: hand over a copy


def enlarge_pipe(fd: int) -> None:
    """A 64 KiB pipe means a context switch per 64 KiB; 1 MiB (the unprivileged maximum) is ~2x faster."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default size still works


def choose_uplink(
    stdin_fd: int,
    sock: Connection,
    crlf: bool,
    hex_log: HexLog | None,
    kind: str | None = None,
    sender: Sender | None = None,
) -> Uplink:
    """The fastest strategy the fds allow, unless an option needs to see the bytes.

    `sender` (shared with the downlink for `--telnet` replies) forces the copy path: a kernel transfer could
    not be kept from interleaving with a reply.
    """
    kind = kind or fd_kind(stdin_fd)
    if kind == "closed":
        return EmptyUplink(stdin_fd, sock)
    if crlf or hex_log is not None or sender is not None or not plain_socket(sock):
        return CopyUplink(stdin_fd, sock, crlf, sender or Sender(sock, hex_log))
    if kind == "pipe" and hasattr(os, "splice"):
        return SpliceUplink(stdin_fd, sock)
    if kind == "file" and hasattr(os, "sendfile"):
        return SendfileUplink(stdin_fd, sock)
    return CopyUplink(stdin_fd, sock)


def choose_downlink(
    sock: Connection,
    stdout_fd: int,
    renderer: Renderer | None,
    output: OutputFile | None,
    hex_log: HexLog | None,
    timestamps: bool,
    telnet: Sender | None = None,
) -> Downlink:
    """`telnet`: the sender for `--telnet` refusals (the copy path then filters the negotiation out)."""
    stdout_is_pipe = fd_kind(stdout_fd) == "pipe"
    if stdout_is_pipe:
        enlarge_pipe(stdout_fd)
    needs_bytes = renderer is not None or output is not None or hex_log is not None or telnet is not None
    if stdout_is_pipe and not needs_bytes and plain_socket(sock) and hasattr(os, "splice"):
        return SpliceDownlink(sock, stdout_fd)
    return CopyDownlink(sock, stdout_fd, renderer, output, hex_log, timestamps, telnet)
