"""The copy strategies of stream mode, one per direction, chosen in one place from what the fds are.

Fast paths move bytes inside the kernel: `os.splice` when stdin or stdout is a pipe, `os.sendfile` when
stdin is a regular file. The portable copy loop handles everything else and every option that must see the
bytes (`-C`, `-o`, `--hex-log`, `-x`, `--struct`, TLS). Each pump's `transfer()` blocks, moves one chunk
and returns its size, 0 at end of stream.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import stat

from tcpcli.connection import Connection, plain_socket
from tcpcli.core.newline import CrlfTranslator
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.stream_views import StreamRenderer
from tcpcli.taps import HexLog, OutputFile, timestamp_now, write_all

COPY_CHUNK = 256 * 1024  # big enough that per-call overhead vanishes, small enough to stay cache friendly
SPLICE_CHUNK = 1 << 20  # the kernel caps a pipe transfer at the pipe's size anyway
ROOM_WAIT_MS = 50  # a full pipe (or one too fragmented for the next segment): look again this soon
PIPE_SIZE = 1 << 20  # Linux's default pipe-max-size: what an unprivileged process may ask for

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
        self, stdin_fd: int, sock: Connection, crlf: bool = False, hex_log: HexLog | None = None
    ) -> None:
        super().__init__(stdin_fd, sock)
        self._buffer = bytearray(COPY_CHUNK)
        self._view = memoryview(self._buffer)
        self._translator = CrlfTranslator() if crlf else None
        self._hex_log = hex_log

    def transfer(self) -> int:
        size = os.readv(self.stdin_fd, [self._buffer])  # into one reused buffer: no allocation per chunk
        if not size:
            return 0
        data = self._view[:size]
        out = self._translator.feed(bytes(data)) if self._translator else data
        self.sending = True
        try:
            self.sock.sendall(out)
        finally:
            self.sending = False
        if self._hex_log is not None:
            self._hex_log.record(">", bytes(out))
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
        return os.splice(self.stdin_fd, self.sock_fd, SPLICE_CHUNK)


class SendfileUplink(_FallbackUplink):
    name = "sendfile"

    def _kernel_transfer(self) -> int:
        return os.sendfile(self.sock_fd, self.stdin_fd, None, SPLICE_CHUNK)


class EmptyUplink(Uplink):
    """stdin is closed or missing: it is at EOF from the start."""

    name = "none (stdin closed)"

    def transfer(self) -> int:
        return 0


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
        renderer: StreamRenderer | None = None,
        output: OutputFile | None = None,
        hex_log: HexLog | None = None,
        timestamps: bool = False,
    ) -> None:
        self._sock = sock
        self._stdout_fd = stdout_fd
        self._buffer = bytearray(COPY_CHUNK)
        self._view = memoryview(self._buffer)
        self._renderer = renderer
        self._output = output
        self._hex_log = hex_log
        self._timestamps = timestamps

    def transfer(self) -> int:
        size = self._sock.recv_into(self._buffer)
        if not size:
            return 0
        data = self._view[:size]
        if self._output is not None:
            self._output.write(data)
        if self._hex_log is not None:
            self._hex_log.record("<", bytes(data))
        if self._renderer is not None:
            stamp = timestamp_now() if self._timestamps else None
            self._write(self._renderer.feed(bytes(data), stamp))
        else:
            self._write(data)
        return size

    def _write(self, data: bytes | memoryview) -> None:
        try:
            write_all(self._stdout_fd, data)
        except BrokenPipeError as exc:
            raise StdoutClosed from exc
        except OSError as exc:  # a full disk, /dev/full: the fault is stdout's, not the connection's
            raise TcpcliError(f"writing to stdout: {exc.strerror or exc}", ExitCode.IO_ERROR) from exc

    def finish(self) -> str | None:
        return self._renderer.finish() if self._renderer is not None else None


def enlarge_pipe(fd: int) -> None:
    """A 64 KiB pipe means a context switch per 64 KiB; 1 MiB (the unprivileged maximum) is ~2x faster."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default size still works


def choose_uplink(
    stdin_fd: int, sock: Connection, crlf: bool, hex_log: HexLog | None, kind: str | None = None
) -> Uplink:
    """The fastest strategy the fds allow, unless an option needs to see the bytes."""
    kind = kind or fd_kind(stdin_fd)
    if kind == "closed":
        return EmptyUplink(stdin_fd, sock)
    if crlf or hex_log is not None or not plain_socket(sock):
        return CopyUplink(stdin_fd, sock, crlf, hex_log)
    if kind == "pipe" and hasattr(os, "splice"):
        return SpliceUplink(stdin_fd, sock)
    if kind == "file" and hasattr(os, "sendfile"):
        return SendfileUplink(stdin_fd, sock)
    return CopyUplink(stdin_fd, sock)


def choose_downlink(
    sock: Connection,
    stdout_fd: int,
    renderer: StreamRenderer | None,
    output: OutputFile | None,
    hex_log: HexLog | None,
    timestamps: bool,
) -> Downlink:
    stdout_is_pipe = fd_kind(stdout_fd) == "pipe"
    if stdout_is_pipe:
        enlarge_pipe(stdout_fd)
    needs_bytes = renderer is not None or output is not None or hex_log is not None
    if stdout_is_pipe and not needs_bytes and plain_socket(sock) and hasattr(os, "splice"):
        return SpliceDownlink(sock, stdout_fd)
    return CopyDownlink(sock, stdout_fd, renderer, output, hex_log, timestamps)
