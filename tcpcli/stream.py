"""Stream mode: stdin -> socket and socket -> stdout verbatim, full duplex, under the one EOF policy.

Each direction runs in its own thread with blocking calls, so back-pressure is the kernel's (a slow peer or
a slow stdout reader simply blocks that direction, memory stays flat). The threads tell `core.link.Link` what
happened; the main thread asks it what to do and sleeps on an event until the deadline it names.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

from tcpcli.connection import Connection
from tcpcli.core.events import Closed, InputEnded, PathChosen, PeerFinished, TimedOut
from tcpcli.core.link import Finish, Link, LinkPolicy, seconds_until
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.pumps import Downlink, Sender, StdoutClosed, Uplink, choose_downlink, choose_uplink, fd_kind
from tcpcli.report import Reporter
from tcpcli.settings import SessionSettings, ViewSettings
from tcpcli.stream_views import make_stream_renderer
from tcpcli.taps import HexLog, OutputFile


class _Progress:
    """What only the I/O knows (the link's life is in `link`): written by the pump threads, read by the
    supervisor (each store is atomic under the GIL); `changed` wakes the supervisor."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.stdout_closed = False
        self.error: TcpcliError | None = None
        self.changed = threading.Event()


class StreamSession:
    """One connection in stream mode; `run()` returns the exit status."""

    def __init__(
        self,
        sock: Connection,
        session: SessionSettings,
        view: ViewSettings,
        reporter: Reporter,
        stdin_fd: int = 0,
        stdout_fd: int = 1,
        peer: str = "",
    ) -> None:
        self._sock = sock
        self._session = session
        self._reporter = reporter
        self._stdin_fd = stdin_fd
        self._stdin_kind = fd_kind(stdin_fd)
        self._peer = peer
        self._output = OutputFile(session.output) if session.output else None
        self._hex_log = HexLog(session.hex_log) if session.hex_log else None
        self._renderer = make_stream_renderer(view)
        # --telnet: both threads send (stdin's chunks, the refusals), through one Sender that serialises them.
        telnet = Sender(sock, self._hex_log) if session.telnet else None
        self._uplink: Uplink = choose_uplink(
            stdin_fd, sock, session.crlf, self._hex_log, self._stdin_kind, telnet
        )
        self._downlink: Downlink = choose_downlink(
            sock, stdout_fd, self._renderer, self._output, self._hex_log, view.timestamps, telnet
        )
        policy = LinkPolicy(session.quit_after_eof, session.idle_timeout)
        self._progress = _Progress(Link(time.monotonic(), policy, self._stdin_kind == "tty"))

    def run(self) -> int:
        self._reporter.event(PathChosen(self._uplink.name, self._downlink.name))
        threads = [
            threading.Thread(target=self._pump_up, name="uplink", daemon=True),
            threading.Thread(target=self._pump_down, name="downlink", daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            code = self._supervise()
        finally:
            self._close()
        return code

    # ------------------------------------------------------------ threads

    def _pump_up(self) -> None:
        progress = self._progress
        link = progress.link
        transfer = self._uplink.transfer
        clock = time.monotonic
        try:
            while moved := transfer():
                link.on_sent(moved, clock())
            # Reported before the FIN goes out: the peer's reaction to it (its own FIN, reported by the
            # downlink thread) must not reach stderr first.
            self._reporter.event(InputEnded(sent_fin=self._session.half_close))
            if self._session.half_close:
                with contextlib.suppress(OSError):  # the peer may be gone already: its FIN/RST decides
                    self._sock.shutdown(socket.SHUT_WR)
            link.on_input_ended(time.monotonic())
        except TcpcliError as exc:
            progress.error = exc
        except OSError as exc:
            progress.error = self._translate(exc, "sending")
        finally:
            progress.changed.set()

    def _pump_down(self) -> None:
        progress = self._progress
        link = progress.link
        transfer = self._downlink.transfer
        clock = time.monotonic
        try:
            while moved := transfer():
                link.on_received(moved, clock())
            warning = self._downlink.finish()
            if warning:
                self._reporter.warning(warning)
            self._reporter.event(PeerFinished())
            link.on_peer_finished(time.monotonic())
        except StdoutClosed:
            progress.stdout_closed = True
        except TcpcliError as exc:
            progress.error = exc
        except OSError as exc:
            progress.error = self._translate(exc, "receiving")
        finally:
            progress.changed.set()

    def _translate(self, exc: OSError, doing: str) -> TcpcliError:
        where = f" from {self._peer}" if doing == "receiving" and self._peer else ""
        return translate_os_error(exc, f"{doing}{where}")

    # ------------------------------------------------------------ supervisor

    def _supervise(self) -> int:
        progress = self._progress
        while True:
            progress.changed.clear()
            if progress.error is not None:
                raise progress.error
            if progress.stdout_closed:
                return ExitCode.OK
            now = time.monotonic()
            decision = progress.link.decide(now, self._sending())
            if isinstance(decision, Finish):
                return self._finish(decision)
            progress.changed.wait(seconds_until(decision, now))

    def _finish(self, finish: Finish) -> int:
        """The exit status of an ending; exit 75 is raised, with link's wording, like any other failure."""
        if finish.is_error:
            raise TcpcliError(finish.message, ExitCode(finish.exit_code))
        if finish.reason != "peer closed":  # the peer's FIN was reported as it came
            self._reporter.event(TimedOut(finish.reason, finish.seconds))
        return finish.exit_code

    def _sending(self) -> bool:
        """Input still to send: bytes the uplink holds, or (once the peer has finished) unread stdin."""
        link = self._progress.link
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

    def _close(self) -> None:
        link = self._progress.link
        self._reporter.event(Closed(link.sent, link.received, link.duration(time.monotonic()), self._peer))
        for tap in (self._output, self._hex_log):
            if tap is not None:
                with contextlib.suppress(OSError):
                    tap.close()
        with contextlib.suppress(OSError):
            self._sock.close()
