"""The UDP engine: one datagram socket and one input, moved by one thread waiting in poll(2).

Datagrams are kept whole both ways: each input line (`core.datagrams.LineDatagrams`) is one datagram, each
datagram received is handed on in one piece with its source. No threads are needed (a UDP send never waits
for the peer), so the engine runs in the caller's thread, where SIGINT/SIGTERM reach it at once.
- connected (`tcpcli -u HOST PORT`): the kernel keeps only the peer's datagrams and turns an ICMP port
  unreachable into ECONNREFUSED on the next send or receive: exit 69.
- bound (`tcpcli -u -l PORT`): datagrams from any number of peers; input lines go to the peer that sent last
  (dropped, with a warning, before any peer has sent), `--echo` returns each datagram to its sender.
The clock (-q after the input ended, -i) is `core.link`'s, as for TCP.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from tcpcli.core.datagrams import DatagramTooLarge, LineDatagrams
from tcpcli.core.events import Closed, Datagram, TimedOut, describe, format_address
from tcpcli.core.link import Finish, Link, LinkPolicy, seconds_until
from tcpcli.engine.paths import StdoutClosed
from tcpcli.engine.stdio import write_all
from tcpcli.engine.taps import HexLog, OutputFile, timestamp_now
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.report import Reporter

if TYPE_CHECKING:
    from tcpcli.engine.seam import Renderer

__all__ = [
    "READ_CHUNK",
    "RECEIVE_BUFFER",
    "SOCKET_BUFFER",
    "DatagramChannel",
    "DatagramEngine",
    "DatagramReceiver",
    "icmp_refused",
]

RECEIVE_BUFFER = 65536  # the largest UDP payload (65507 over IPv4, 65527 over IPv6) fits whole
SOCKET_BUFFER = 4 << 20  # ask the kernel for 4 MiB each way (capped by net.core.[rw]mem_max): bursts queue
# Balance: between two looks at the socket we send at most READ_CHUNK of input (~650 lines of 100 bytes),
# and take up to RECEIVE_BATCH datagrams before reading input again, so replies are drained faster than the
# input makes them (an echo peer's replies must not overflow our receive buffer) and neither side starves.
READ_CHUNK = 64 * 1024  # bytes of input per read: many lines per system call
RECEIVE_BATCH = 4096  # datagrams per wake-up at most


def icmp_refused(peer: str) -> TcpcliError:
    """The one wording of an ICMP port unreachable (exit 69): nothing listens on that UDP port."""
    return TcpcliError(f"UDP to {peer}: connection refused (ICMP port unreachable)", ExitCode.UNAVAILABLE)


class DatagramReceiver(Protocol):
    """A terminal's Inbox as the UDP engine sees it: a header line, then the datagram, per datagram."""

    def note(self, message: str, style: str = "") -> None: ...
    def put(self, data: bytes, stamp: str | None = None, source: object = None) -> None: ...
    def close(self, error: TcpcliError | None = None) -> None: ...


def _crlf(line: bytes) -> bytes:
    """-C: a line's LF becomes CRLF (one already ending in CRLF is left alone)."""
    if line.endswith(b"\n") and not line.endswith(b"\r\n"):
        return line[:-1] + b"\r\n"
    return line


class DatagramEngine:
    """One UDP socket: input lines out as datagrams, datagrams in to `deliver(data, source, stamp)`.

    `connected`: the socket is connected to `peer` (connect mode); else it is bound and answers whoever
    sent last. `input_fd`: stdin (None: no input, -d). `renderer`: the pipes front's per-datagram rendering
    (None: raw bytes to stdout_fd). `headers`: report each datagram with `-v` (`< 1.2.3.4:53 12 bytes`).
    """

    def __init__(
        self,
        sock: socket.socket,
        reporter: Reporter,
        policy: LinkPolicy,
        *,
        connected: bool,
        peer: str = "",
        input_fd: int | None = 0,
        stdout_fd: int = 1,
        renderer: Renderer | None = None,
        output: OutputFile | None = None,
        hex_log: HexLog | None = None,
        timestamps: bool = False,
        crlf: bool = False,
        echo: bool = False,
        receiver: DatagramReceiver | None = None,
    ) -> None:
        self._sock = sock
        self._receiver = receiver
        self._reporter = reporter
        self._connected = connected
        self._peer = peer
        self._input_fd = input_fd
        self._stdout_fd = stdout_fd
        self._renderer = renderer
        self._output = output
        self._hex_log = hex_log
        self._timestamps = timestamps
        self._crlf = crlf
        self._echo = echo
        self._lines = LineDatagrams()
        self._last_sender: Any = None  # the address datagrams from stdin go to (bound socket)
        self._labels: dict[Any, str] = {}  # address -> `1.2.3.4:53`, made once per peer
        self.link = Link(time.monotonic(), policy)
        self._buffer = bytearray(RECEIVE_BUFFER)
        self._stdout_held: list[bytes] = []  # this batch's output, written at its end
        self._stop_read, self._stop_write = os.pipe()  # stop(): wakes the poll of a threaded run
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)

    def run(self) -> int:
        """Until the clock says so (-q after the input ended, -i) or a failure; returns the exit status."""
        started = time.monotonic()
        try:
            return self._loop()
        except StdoutClosed:
            return ExitCode.OK  # the reader of stdout went away (`| head -1`): stop quietly
        finally:
            link = self.link
            self._reporter.event(Closed(link.sent, link.received, time.monotonic() - started, self._peer))
            self.close()

    def close(self) -> None:
        """The taps and the stop pipe (the socket is the caller's)."""
        for tap in (self._output, self._hex_log):
            if tap is not None:
                with contextlib.suppress(OSError):
                    tap.close()
        for fd in (self._stop_read, self._stop_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def start(self) -> None:
        """Run in a thread for a front that keeps the clock itself (the terminal): received datagrams go to
        the receiver, a failure closes it; `stop()` ends the thread."""
        threading.Thread(target=self._serve, name="tcpcli-udp", daemon=True).start()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._stop_write, b"x")

    def _serve(self) -> None:
        assert self._receiver is not None
        try:
            self._loop(clock=False)
        except TcpcliError as exc:
            self._receiver.close(exc)
        except OSError as exc:
            self._receiver.close(translate_os_error(exc, "UDP"))

    def _loop(self, clock: bool = True) -> int:
        """Poll the socket first (a reply is never held up behind input), then the input; `clock`: decide
        the ending here (-q, -i), else run until stop()."""
        poller = select.poll()
        sock_fd = self._sock.fileno()
        poller.register(sock_fd, select.POLLIN)
        poller.register(self._stop_read, select.POLLIN)
        if self._input_fd is not None:
            poller.register(self._input_fd, select.POLLIN)
        chunk = bytearray(READ_CHUNK)
        wait: float | None = None
        while True:
            if clock:
                now = time.monotonic()
                decision = self.link.decide(now)
                if isinstance(decision, Finish):
                    if decision.is_error:
                        raise TcpcliError(decision.message, ExitCode(decision.exit_code))
                    self._reporter.event(TimedOut(decision.reason, decision.seconds))
                    return decision.exit_code
                wait = seconds_until(decision, now)
            ready = {
                fd for fd, _mask in poller.poll(None if wait is None else max(1, int(wait * 1000 + 0.999)))
            }
            if sock_fd in ready:
                self._receive()
            if self._stop_read in ready:
                return ExitCode.OK
            if self._input_fd in ready and not self._read_input(chunk):
                assert self._input_fd is not None
                poller.unregister(self._input_fd)
                self.link.on_input_ended(time.monotonic())

    # ------------------------------------------------------------ receiving

    def _receive(self) -> None:
        """Take what has arrived (at most RECEIVE_BATCH datagrams), each delivered whole; what goes to
        stdout is written once per batch (one system call for many datagrams)."""
        view = memoryview(self._buffer)
        try:
            for _ in range(RECEIVE_BATCH):
                try:
                    size, address = self._sock.recvfrom_into(self._buffer, 0, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    return
                except ConnectionRefusedError as exc:
                    if self._connected:
                        raise icmp_refused(self._peer) from exc
                    continue  # a bound socket may hear of an earlier reply's ICMP: not our business
                except OSError as exc:
                    raise translate_os_error(exc, f"receiving from {self._peer or 'UDP'}") from exc
                self.link.on_received(size, time.monotonic())
                self._datagram_in(bytes(view[:size]), address)
        finally:
            if self._stdout_held:
                held, self._stdout_held = self._stdout_held, []
                self._write(b"".join(held))

    def _datagram_in(self, data: bytes, address: Any) -> None:
        label = self._labels.get(address)
        if label is None:
            label = self._peer if self._connected else format_address(address[0], address[1])
            if len(self._labels) < 4096:  # bounded: a flood of spoofed sources must not grow memory
                self._labels[address] = label
        if not self._connected:
            self._last_sender = address
        header = Datagram("<", label, len(data))
        if self._hex_log is not None:
            self._hex_log.record("<", data, None if self._connected else label)
        if self._output is not None:
            self._output.write(data)
        stamp = timestamp_now() if self._timestamps else None
        if self._receiver is not None:
            self._receiver.note(describe(header))
            self._receiver.put(data, stamp)
        else:
            if self._reporter.verbose:  # the header on stderr must come before its datagram on stdout
                self._write(b"".join(self._stdout_held))
                self._stdout_held = []
                self._reporter.event(header)
            self._stdout_held.append(
                data if self._renderer is None else bytes(self._renderer.feed(data, stamp))
            )
        if self._echo:
            self._send_to(data, address)

    def _write(self, data: bytes | memoryview) -> None:
        if not data:
            return
        try:
            write_all(self._stdout_fd, data)
        except BrokenPipeError as exc:
            raise StdoutClosed from exc
        except OSError as exc:
            raise TcpcliError(f"writing to stdout: {exc.strerror or exc}", ExitCode.IO_ERROR) from exc

    # ------------------------------------------------------------ sending

    def _read_input(self, chunk: bytearray) -> bool:
        """One read of the input, its complete lines sent; False at its end (the last line then sent)."""
        assert self._input_fd is not None
        try:
            size = os.readv(self._input_fd, [chunk])
        except BlockingIOError:
            return True  # a non-blocking stdin from the parent: nothing yet
        except OSError as exc:
            raise TcpcliError(f"reading stdin: {exc.strerror or exc}", ExitCode.IO_ERROR) from exc
        try:
            if not size:
                last = self._lines.finish()
                if last is not None:
                    self.send([last])
                return False
            self.send(self._lines.feed(bytes(chunk[:size])))
        except DatagramTooLarge as exc:
            raise TcpcliError(str(exc), ExitCode.DATA_ERROR) from exc
        return True

    def send(self, datagrams: list[bytes]) -> None:
        """Each item one datagram, to the peer (connected) or to whoever sent last (bound)."""
        if not datagrams:
            return
        if self._crlf:
            datagrams = [_crlf(datagram) for datagram in datagrams]
        if not self._connected:
            if self._last_sender is None:
                self._hold(datagrams)
                return
            for datagram in datagrams:
                self._send_to(datagram, self._last_sender)
            return
        send = self._sock.send
        hex_log = self._hex_log
        total = 0
        try:
            for datagram in datagrams:
                if hex_log is not None:
                    hex_log.record(">", datagram)
                total += send(datagram)
        except ConnectionRefusedError as exc:
            raise icmp_refused(self._peer) from exc
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                raise TcpcliError(f"UDP to {self._peer}: {exc.strerror}", ExitCode.IO_ERROR) from exc
            raise translate_os_error(exc, f"sending to {self._peer}") from exc
        finally:
            if total:
                self.link.on_sent(total, time.monotonic())

    def _send_to(self, datagram: bytes, address: Any) -> None:
        label = self._labels.get(address) or format_address(address[0], address[1])
        if self._hex_log is not None:
            self._hex_log.record(">", datagram, label)
        try:
            self.link.on_sent(self._sock.sendto(datagram, address), time.monotonic())
        except OSError as exc:  # one peer gone must not end the service of the others
            self._reporter.warning(f"sending to {label}: {exc.strerror or exc}")

    def _hold(self, datagrams: list[bytes]) -> None:
        """Before any peer has sent: nobody to send to. Dropped, with one warning per line."""
        for datagram in datagrams:
            self._reporter.warning(
                f"no peer has sent a datagram yet: line of {len(datagram)} bytes dropped (nobody to send to)"
            )


class DatagramChannel:
    """The UDP engine as the terminal front's one-peer channel: each typed line is one datagram (sent from the
    caller's thread: a UDP send is one atomic call), received datagrams wait in `inbox`."""

    def __init__(self, engine: DatagramEngine, inbox: DatagramReceiver) -> None:
        self._engine = engine
        self.inbox = inbox
        self._send_failed: Callable[[TcpcliError], None] | None = None

    @property
    def link(self) -> Link:
        return self._engine.link

    @property
    def received(self) -> int:
        return self._engine.link.received

    @property
    def sent(self) -> int:
        return self._engine.link.sent

    def start(self) -> None:
        self._engine.start()

    def send(self, data: bytes) -> None:
        try:
            self._engine.send([data])
        except TcpcliError as exc:
            if self._send_failed is not None:
                self._send_failed(exc)

    def half_close(self) -> None:
        """Ctrl-D: UDP has no FIN; the input ended, replies are still shown (-q)."""

    def close(self) -> None:
        self._engine.stop()

    def on_send_error(self, callback: Callable[[TcpcliError], None]) -> None:
        self._send_failed = callback
