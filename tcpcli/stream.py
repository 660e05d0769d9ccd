"""Stream mode: stdin -> socket and socket -> stdout verbatim, full duplex, under the one EOF policy.

Each direction runs in its own thread with blocking calls, so back-pressure is the kernel's (a slow peer or
a slow stdout reader simply blocks that direction, memory stays flat). The main thread only watches the
clock and asks `core.eofpolicy.decide` what to do.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

from tcpcli.connection import Connection
from tcpcli.core.eofpolicy import EofPolicy, Finish, SessionSnapshot, decide
from tcpcli.core.events import Closed, InputEnded, PathChosen, PeerFinished, TimedOut
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.pumps import Downlink, Sender, StdoutClosed, Uplink, choose_downlink, choose_uplink, fd_kind
from tcpcli.report import Reporter
from tcpcli.settings import SessionSettings, ViewSettings
from tcpcli.stream_views import make_stream_renderer
from tcpcli.taps import HexLog, OutputFile


class _Progress:
    """Written by the pump threads, read by the supervisor (each store is atomic under the GIL)."""

    def __init__(self, now: float) -> None:
        self.started = now
        self.sent = 0
        self.received = 0
        self.last_traffic = now
        self.last_input = now
        self.input_ended_at: float | None = None
        self.peer_finished_at: float | None = None
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
        now = time.monotonic()
        self._progress = _Progress(now)

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
        try:
            while True:
                moved = self._uplink.transfer()
                if not moved:
                    break
                progress.sent += moved
                progress.last_traffic = progress.last_input = time.monotonic()
            # Reported before the FIN goes out: the peer's reaction to it (its own FIN, reported by the
            # downlink thread) must not reach stderr first.
            self._reporter.event(InputEnded(sent_fin=self._session.half_close))
            if self._session.half_close:
                with contextlib.suppress(OSError):  # the peer may be gone already: its FIN/RST decides
                    self._sock.shutdown(socket.SHUT_WR)
            progress.input_ended_at = progress.last_traffic = time.monotonic()  # a FIN is traffic too
        except TcpcliError as exc:
            progress.error = exc
        except OSError as exc:
            progress.error = self._translate(exc, "sending")
        finally:
            progress.changed.set()

    def _pump_down(self) -> None:
        progress = self._progress
        try:
            while True:
                moved = self._downlink.transfer()
                if not moved:
                    break
                progress.received += moved
                progress.last_traffic = time.monotonic()
            warning = self._downlink.finish()
            if warning:
                self._reporter.warning(warning)
            self._reporter.event(PeerFinished())
            progress.peer_finished_at = progress.last_traffic = time.monotonic()
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
        policy = EofPolicy(self._session.quit_after_eof, self._session.idle_timeout)
        while True:
            progress.changed.clear()
            if progress.error is not None:
                raise progress.error
            if progress.stdout_closed:
                return ExitCode.OK
            decision = decide(self._snapshot(), policy)
            if isinstance(decision, Finish):
                if decision.reason != "peer closed":
                    self._reporter.event(TimedOut(decision.reason, decision.seconds))
                if decision.exit_code == ExitCode.TIMEOUT:
                    seconds = f"{decision.seconds:g}"
                    raise TcpcliError(
                        f"idle timeout: no traffic for {seconds} s (-i {seconds})", ExitCode.TIMEOUT
                    )
                return decision.exit_code
            timeout = None if decision.until is None else max(0.0, decision.until - time.monotonic())
            progress.changed.wait(timeout)

    def _snapshot(self) -> SessionSnapshot:
        progress = self._progress
        sending = self._uplink.sending
        if progress.peer_finished_at is not None and progress.input_ended_at is None and not sending:
            sending = self._stdin_has_data()
        return SessionSnapshot(
            now=time.monotonic(),
            last_traffic=progress.last_traffic,
            input_ended_at=progress.input_ended_at,
            peer_finished_at=progress.peer_finished_at,
            last_input_at=progress.last_input,
            sending=sending,
            input_is_terminal=self._stdin_kind == "tty",
        )

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
        progress = self._progress
        self._reporter.event(
            Closed(progress.sent, progress.received, time.monotonic() - progress.started, self._peer)
        )
        for tap in (self._output, self._hex_log):
            if tap is not None:
                with contextlib.suppress(OSError):
                    tap.close()
        with contextlib.suppress(OSError):
            self._sock.close()
