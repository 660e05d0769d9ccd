"""The one-peer engine: one connection, two directions, each a blocking thread; `core.link` decides the end.

Blocking threads because the connection may be a TLS channel that offers blocking calls only, and because
back-pressure is then the kernel's: a slow peer or a slow reader blocks that direction, memory stays flat.
Each thread tells the connection's `core.link.Link` what happened. Two ways to meet a front, picked by the
mode:
- fd to fd (`FdPair`, the pipes front's raw output): stdin fd -> socket and socket -> stdout fd on the fastest
  path the fds allow (engine.paths: splice, sendfile, copy; `-x`/`--struct` through the front's Renderer);
  `run()` supervises: it asks the link what to do and sleeps on an event until the deadline it names.
- through the seam (`Channel`, the terminal): received chunks go to a `seam.Receiver` (the Inbox), typed input
  comes through `send` / `half_close` (the outbox); the front asks `link` about the clock (-i, -q).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from tcpcli.connection import Connection
from tcpcli.core.events import Closed, InputEnded, PathChosen, PeerFinished, TimedOut
from tcpcli.core.link import NO_TIMEOUTS, Finish, Link, LinkPolicy, seconds_until
from tcpcli.engine.paths import (
    END_OF_INPUT,
    Downlink,
    QueueUplink,
    ReceiverDownlink,
    Sender,
    StdoutClosed,
    Uplink,
    choose_downlink,
    choose_uplink,
    fd_kind,
)
from tcpcli.engine.taps import HexLog, OutputFile
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.report import Reporter
from tcpcli.settings import SessionSettings, ViewSettings

if TYPE_CHECKING:  # the seam's Protocols cost ~2 ms to build: types only here
    from tcpcli.engine.feed import FeedUplink, StdinFeed
    from tcpcli.engine.recorder import RecordTap
    from tcpcli.engine.seam import Receiver, Renderer

__all__ = ["Channel", "FdPair", "Pair", "SeamPair"]

RELEASE_WAIT = 2.0  # seconds: --reconnect waits this long at most for a connection's uplink thread to end

ReceiverT = TypeVar("ReceiverT", bound="Receiver")


class Pair:
    """The two threads around one connection and what they share: the link (counters, moments, the ending),
    the taps (`-o`, `--hex-log`) and the peer's label. Subclasses say what each direction's end means."""

    def __init__(
        self,
        conn: Connection,
        peer: str,
        link: Link,
        uplink: Uplink,
        downlink: Downlink,
        taps: tuple[OutputFile | HexLog | None, ...],
    ) -> None:
        self._conn = conn
        self._peer = peer
        self.link = link
        self._uplink = uplink
        self._downlink = downlink
        self._taps = taps
        self.changed = threading.Event()  # a direction ended or failed: the supervisor looks again
        self._threads = [
            threading.Thread(target=self._pump_up, name="tcpcli-uplink", daemon=True),
            threading.Thread(target=self._pump_down, name="tcpcli-downlink", daemon=True),
        ]

    @property
    def received(self) -> int:
        return self.link.received

    @property
    def sent(self) -> int:
        return self.link.sent

    @property
    def last_traffic(self) -> float:
        """Monotonic seconds of the last byte moved either way (or the FIN we sent)."""
        return self.link.last_traffic

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------ what each end means (subclasses)

    def _input_ended(self) -> None:
        """Every byte of our input went out: send the FIN (or not) and tell the link."""
        raise NotImplementedError

    def _peer_finished(self, warning: str | None) -> None:
        """The peer's FIN came and everything before it was delivered; `warning`: a partial record's."""
        raise NotImplementedError

    def _failed(self, error: TcpcliError, sending: bool) -> None:
        raise NotImplementedError

    def _output_closed(self) -> None:
        """The reader of stdout went away (fd to fd only)."""

    # ------------------------------------------------------------ the threads

    def _pump_up(self) -> None:
        link = self.link
        transfer = self._uplink.transfer
        clock = time.monotonic
        try:
            while moved := transfer():
                link.on_sent(moved, clock())
            self._input_ended()
        except TcpcliError as exc:
            self._failed(exc, sending=True)
        except OSError as exc:
            self._failed(translate_os_error(exc, self._doing("sending to")), sending=True)
        finally:
            self.changed.set()

    def _pump_down(self) -> None:
        link = self.link
        transfer = self._downlink.transfer
        clock = time.monotonic
        try:
            while moved := transfer():
                link.on_received(moved, clock())
            self._peer_finished(self._downlink.finish())
        except StdoutClosed:
            self._output_closed()
        except TcpcliError as exc:
            self._failed(exc, sending=False)
        except OSError as exc:
            self._failed(translate_os_error(exc, self._doing("receiving from")), sending=False)
        finally:
            self.changed.set()

    def _doing(self, what: str) -> str:
        return f"{what} {self._peer}" if self._peer else what.split()[0]

    def _send_fin(self) -> None:
        with contextlib.suppress(OSError):  # the peer may be gone already: its FIN/RST decides
            self._conn.shutdown(socket.SHUT_WR)

    def _close_connection(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.close()
        for tap in self._taps:
            if tap is not None:
                with contextlib.suppress(OSError):
                    tap.close()


class FdPair(Pair):
    """fd to fd (stream mode): stdin -> socket and socket -> stdout verbatim; `run()` returns the exit status.

    `renderer`: the pipes front's `-x` / `--struct` rendering (None: raw bytes, the kernel fast paths open).
    """

    def __init__(
        self,
        sock: Connection,
        session: SessionSettings,
        view: ViewSettings,
        reporter: Reporter,
        stdin_fd: int = 0,
        stdout_fd: int = 1,
        peer: str = "",
        renderer: Renderer | None = None,
        feed: StdinFeed | None = None,
        record: RecordTap | None = None,
    ) -> None:
        """`feed`: --reconnect's stdin, which outlives this connection (`engine.feed`); the peer's FIN
        before the input ended then ends this connection at once (the mode connects again). `record`:
        --record's tap (it takes the copy path both ways, like --hex-log, which it passes on)."""
        self._session = session
        self._reporter = reporter
        self._stdin_fd = stdin_fd
        self._stdin_kind = fd_kind(stdin_fd)
        output = OutputFile(session.output) if session.output else None
        hex_log = HexLog(session.hex_log) if session.hex_log else None
        self._record = record
        if record is not None:
            hex_log = record.tee(hex_log)
        # --telnet: both threads send (stdin's chunks, the refusals), through one Sender that serialises them.
        telnet = Sender(sock, hex_log) if session.telnet else None
        self._reconnecting = feed is not None
        self._feed_uplink: FeedUplink | None = None
        uplink: Uplink
        if feed is not None:
            from tcpcli.engine.feed import FeedUplink

            uplink = self._feed_uplink = FeedUplink(feed, sock, hex_log)
        else:
            uplink = choose_uplink(stdin_fd, sock, session.crlf, hex_log, self._stdin_kind, telnet)
        downlink = choose_downlink(sock, stdout_fd, renderer, output, hex_log, view.timestamps, telnet)
        policy = LinkPolicy(session.quit_after_eof, session.idle_timeout, self._reconnecting)
        link = Link(time.monotonic(), policy, self._stdin_kind == "tty")
        super().__init__(sock, peer, link, uplink, downlink, (output, hex_log))
        self._stdout_closed = False
        self._error: TcpcliError | None = None
        self.ended_by: str | None = None  # the Finish.reason that ended it ("peer left": --reconnect's cue)

    def run(self) -> int:
        self._reporter.event(PathChosen(self._uplink.name, self._downlink.name))
        self.start()
        try:
            return self._supervise()
        finally:
            link = self.link
            duration = link.duration(time.monotonic())
            if self._reconnecting:
                self._release_input()
            self._reporter.event(Closed(link.sent, link.received, duration, self._peer))
            self._close_connection()
            if self._record is not None:
                self._record.event("close")

    def _release_input(self) -> None:
        """--reconnect: stop this connection's uplink before its `sent` is reported and the next one starts.

        A send blocked on a peer that stopped reading is woken (SHUT_RDWR) and gives its unsent tail back;
        an uplink waiting for stdin is detached; then the uplink thread ends, its count final.
        """
        with contextlib.suppress(OSError):
            self._conn.shutdown(socket.SHUT_RDWR)
        if self._feed_uplink is not None:
            self._feed_uplink.release()
        self._threads[0].join(RELEASE_WAIT)

    def _input_ended(self) -> None:
        # Reported before the FIN goes out: the peer's reaction to it (its own FIN, reported by the
        # downlink thread) must not reach stderr first.
        self._reporter.event(InputEnded(sent_fin=self._session.half_close))
        if self._session.half_close:
            if self._record is not None:
                self._record.event("fin", sent=True)
            self._send_fin()
        self.link.on_input_ended(time.monotonic())

    def _peer_finished(self, warning: str | None) -> None:
        if warning:
            self._reporter.warning(warning)
        self._reporter.event(PeerFinished())
        if self._record is not None:
            self._record.event("fin", sent=False)
        self.link.on_peer_finished(time.monotonic())

    def _failed(self, error: TcpcliError, sending: bool) -> None:
        if self._record is not None and not sending and "reset" in error.message:
            self._record.event("rst", sent=False)  # the peer's RST (translate_os_error words ECONNRESET so)
        self._error = error

    def _output_closed(self) -> None:
        self._stdout_closed = True

    def _supervise(self) -> int:
        while True:
            self.changed.clear()
            if self._error is not None:
                raise self._error
            if self._stdout_closed:
                return ExitCode.OK
            now = time.monotonic()
            decision = self.link.decide(now, self._sending())
            if isinstance(decision, Finish):
                return self._finish(decision)
            self.changed.wait(seconds_until(decision, now))

    def _finish(self, finish: Finish) -> int:
        """The exit status of an ending; exit 75 is raised, with link's wording, like any other failure."""
        self.ended_by = finish.reason
        if finish.is_error:
            raise TcpcliError(finish.message, ExitCode(finish.exit_code))
        if finish.reason != "peer closed":  # the peer's FIN was reported as it came
            self._reporter.event(TimedOut(finish.reason, finish.seconds))
        return finish.exit_code

    def _sending(self) -> bool:
        """Input still to send: bytes the uplink holds, or (once the peer has finished) unread stdin."""
        link = self.link
        if self._uplink.sending:
            return True
        if link.peer_finished_at is not None and link.input_ended_at is None:
            return self._stdin_has_data()
        return False

    def _stdin_has_data(self) -> bool:
        """Unread bytes in stdin mean the uplink still has something to send (it is blocked on the socket)."""
        if self._stdin_kind == "file":
            return True  # a regular file is readable until its end: keep going until the uplink sees EOF
        try:
            poller = select.poll()
            poller.register(self._stdin_fd, select.POLLIN)
            return any(mask & select.POLLIN for _fd, mask in poller.poll(0))
        except (OSError, ValueError):
            return False


class SeamPair(Pair, Generic[ReceiverT]):
    """Through the seam (the terminal front): received chunks go to `inbox` as they are read, typed input is
    queued by `send` and ends with `half_close`; the front reads `link` (toolbar, -i/-q clock).

    The front ends the session: on the inbox's close (the peer's FIN is not a clock matter here, the screen
    shows what came before it first), on the clock, or on Ctrl-C; then it calls `close`.
    """

    def __init__(
        self,
        conn: Connection,
        inbox: ReceiverT,
        peer: str,
        output: OutputFile | None = None,
        hex_log: HexLog | None = None,
        timestamps: bool = False,
        telnet: bool = False,
        policy: LinkPolicy = NO_TIMEOUTS,
        record: RecordTap | None = None,
    ) -> None:
        """`policy`: -q and -i; a person types the input, so the link's input is a terminal. `record`:
        --record's tap (it passes every chunk on to `hex_log` too)."""
        self.inbox = inbox  # received bytes wait here for the screen
        self._record = record
        if record is not None:
            hex_log = record.tee(hex_log)
        sender = Sender(conn, hex_log)  # typed lines and --telnet refusals, logged before the kernel has them
        self._queue = QueueUplink(conn, sender)
        downlink = ReceiverDownlink(conn, inbox, output, hex_log, timestamps, sender if telnet else None)
        link = Link(time.monotonic(), policy, input_is_terminal=True)
        super().__init__(conn, peer, link, self._queue, downlink, (output, hex_log))
        self._lock = threading.Lock()
        self._send_failed: Callable[[TcpcliError], None] | None = None
        self._send_error: TcpcliError | None = None

    def on_send_error(self, callback: Callable[[TcpcliError], None]) -> None:
        """Who hears of a failed send (the screen, once it runs); a failure before that is passed on now."""
        with self._lock:
            self._send_failed = callback
            error = self._send_error
        if error is not None:
            callback(error)

    def send(self, data: bytes) -> None:
        if data:
            self._queue.put(data)

    def half_close(self) -> None:
        """Send the FIN once the lines queued before it are out."""
        self._queue.put(END_OF_INPUT)

    def close(self) -> None:
        """Stop the sender, close the connection (the receiving thread: a daemon blocked in recv at most)."""
        self._queue.put(None)
        self._close_connection()
        if self._record is not None:
            self._record.event("close")

    def _input_ended(self) -> None:
        if self._queue.fin:
            if self._record is not None:
                self._record.event("fin", sent=True)
            self._send_fin()

    def _peer_finished(self, warning: str | None) -> None:
        if self._record is not None:
            self._record.event("fin", sent=False)
        self.inbox.close()

    def _failed(self, error: TcpcliError, sending: bool) -> None:
        if not sending:
            self.inbox.close(error)
            return
        with self._lock:
            self._send_error = error
            callback = self._send_failed
        if callback is not None:
            callback(error)


# The terminal front's name for it: its Inbox is a Receiver with more (listen, take), which the front uses.
Channel: TypeAlias = SeamPair[Any]
