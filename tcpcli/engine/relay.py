"""The relay engine (`-l PORT --to TARGET`): every accepted client gets its own upstream connection.

asyncio, like the hub, and sharing its door (engine.acceptor: EMFILE backoff, bounded TLS handshakes, stop
signals). Per client: admit (--max-clients), TLS handshake if --tls, connect upstream (net.upstream: no
thread, -w), TLS to the upstream if --to-tls, then relay (engine.relayed): in the kernel when nothing needs
the bytes (no transcript, no TLS, no --hex-log), else through the copy path, which shows each chunk to the
transcript (the `Transcript` front, engine.seam) and --hex-log. Connections are numbered in order of accept.

An upstream that cannot be reached resets the client (an RST, not an accepted-then-closed connection, so the
client can tell a dead backend from an empty answer) and says `tcpcli: #N upstream HOST:PORT: reason`.
Without -k: one client, and the run's outcome is that connection's (see `RelayOutcome`).

Also the `Controls` its front gets: `outbox` (typed lines go to the newest open connection's upstream),
`hold_reading` (the front is behind: no side of any connection is read), `front_failed`, `interrupt`.
"""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import ssl
import time
from collections.abc import Collection
from typing import Any

from tcpcli.core.events import ClientRejected, Event, RelayClosed, RelayOpened, ServerStopping, format_address
from tcpcli.core.faults import Refusals
from tcpcli.engine.acceptor import Acceptor, accept_tls, add_stop_signals, remove_stop_signals
from tcpcli.engine.client import peer_label
from tcpcli.engine.local import InputReader, can_read_stdin
from tcpcli.engine.relayed import CopyConnection, Relayed, Side, SpliceConnection, reset_socket, side_factory
from tcpcli.engine.seam import Outbox, Peer, Transcript, TranscriptFactory
from tcpcli.engine.taps import RelayLog
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.net.sockopts import apply_socket_options
from tcpcli.net.unix import unix_client_label
from tcpcli.net.upstream import Upstream, target_label
from tcpcli.report import Reporter
from tcpcli.settings import RelaySettings, Settings

__all__ = ["SHUTDOWN_GRACE", "Relay"]

# When stopping: how long the connections get to write out what is queued and close with FIN.
SHUTDOWN_GRACE = 1.0
_DRAIN_POLL = 0.01


class Relay:
    """Accepts clients and relays each to its own upstream connection until stopped (or, without -k, until
    its one client is done). `run()` returns 0; `error` and `signal` say how it ended otherwise."""

    def __init__(
        self,
        listener: socket.socket,
        settings: Settings,
        reporter: Reporter,
        transcript: TranscriptFactory | None,
        client_tls: ssl.SSLContext | None,
        upstream_tls: ssl.SSLContext | None,
    ) -> None:
        assert settings.listen is not None and settings.relay is not None
        self._listener = listener
        self._listen = settings.listen
        self._relay: RelaySettings = settings.relay
        self._session = settings.session
        self._stdin_tty = settings.env.stdin_tty
        self._reporter = reporter
        self._transcript_factory = transcript
        self._client_tls = client_tls
        self._upstream_tls = upstream_tls
        self._label = target_label(self._relay.target)
        # the kernel path: nothing in user space needs the bytes
        self._kernel = transcript is None and client_tls is None and upstream_tls is None
        self._kernel = self._kernel and self._session.hex_log is None
        self._faults = self._relay.faults  # faults or rewrites: the copy path, through engine.faulty
        self._kernel = self._kernel and self._faults is None
        self._refusals = Refusals(self._faults.refuse_first) if self._faults is not None else None
        self.signal: int | None = None
        self.error: TcpcliError | None = None
        self._numbered = 0
        self._served_one = False
        self._held = False  # the front is behind
        self._conns: dict[Relayed, None] = {}  # open connections, in order of accept
        self._setting_up: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ Controls (what the front may do)

    @property
    def outbox(self) -> Outbox:
        return self

    @property
    def clients(self) -> Collection[Peer]:
        return list(self._conns)

    def from_local(self, data: bytes) -> None:
        """Typed input: to the newest open connection, towards its upstream (dropped when none is open)."""
        if self._conns:
            next(reversed(self._conns)).inject(data)

    def hold_reading(self, hold: bool) -> None:
        if hold != self._held:
            self._held = hold
            conns = list(self._conns)
            if not hold and conns:
                # Resume from a connection picked at random: in accept order, the first few would fill the
                # front's buffer again before the later ones were read (measured: a median first byte back at
                # 4 s for the first 100 of 1,000 connections, 48 s for the last 100).
                start = random.randrange(len(conns))
                conns = conns[start:] + conns[:start]
            for conn in conns:
                conn.hold_reading(hold)

    def front_failed(self, error: TcpcliError | None) -> None:
        if error is not None and self.error is None:
            self.error = error
        self._stopping.set()

    def interrupt(self) -> None:
        self._signalled(signal.SIGINT)

    # ------------------------------------------------------------ running

    async def run(self) -> int:
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(self._loop_error)
        self._stopping = asyncio.Event()
        self._upstream = Upstream(self._relay)
        path = self._session.hex_log
        self._log = RelayLog(path, self._log_failed) if path is not None else None
        self._transcript: Transcript | None = None
        if self._transcript_factory is not None:
            self._transcript = self._transcript_factory(self)
        self._acceptor = Acceptor(self._listener, self._admit, self._warn, lambda: len(self._conns))
        add_stop_signals(self._signalled)
        try:
            if self._transcript is not None:
                self._transcript.start()
            self._acceptor.start()
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                pump = None
                if self._transcript is not None and not self._transcript.typed_input and can_read_stdin():
                    pump = tasks.create_task(self._pump_input())
                await self._stopping.wait()
                if pump is not None:
                    pump.cancel()
                await self._shutdown()
        finally:
            remove_stop_signals()
            if self._log is not None:
                self._log.close()
        if self._transcript is not None:
            hurry = self.signal is not None or self.error is not None
            lost = await self._transcript.close(SHUTDOWN_GRACE if hurry else None)
            if lost is not None:
                if hurry:
                    self._reporter.warning(lost)
                else:
                    self.error = TcpcliError(lost, ExitCode.IO_ERROR)
        return ExitCode.OK

    async def _pump_input(self) -> None:
        """stdin, when the front does not read it itself: to the newest open connection's upstream, as
        typed lines are (input that comes while no connection is open is dropped)."""
        session = self._session
        reader = InputReader(0, self._stdin_tty, session.crlf, session.eol)
        try:
            while data := await reader.read():
                self.from_local(data)
        finally:
            reader.stop()

    # ------------------------------------------------------------ accepting and connecting

    def _admit(self, conn: socket.socket, address: Any) -> None:
        # a Unix client has no address: it is named after the socket and its number (asked while it is open)
        client = unix_client_label(self._listener, self._numbered + 1) or peer_label(address)
        if self._refusals is not None and self._refusals.refuse():  # --refuse-first N
            self._report(ClientRejected(client, f"refused (--refuse-first {self._refusals.limit}); reset"))
            reset_socket(conn)
            conn.close()
            return
        limit = self._listen.max_clients
        reason = ""
        if self._served_one:
            reason = "already relaying a client (add -k to relay many)"
        elif limit is not None and len(self._conns) + len(self._setting_up) >= limit:
            reason = f"--max-clients {limit} reached"
        elif self._stopping.is_set():
            reason = "relay stopping"
        if reason:
            self._report(ClientRejected(client, f"{reason}; reset"))
            reset_socket(conn)
            conn.close()
            return
        self._numbered += 1
        if not self._listen.keep_open:
            self._served_one = True
            self._acceptor.stop(close=True)  # like nc: one client, then the port is closed
        task = self._tasks.create_task(self._open(self._numbered, conn, client))
        self._setting_up.add(task)
        task.add_done_callback(self._setting_up.discard)

    async def _open(self, number: int, conn: socket.socket, client: str) -> None:
        """Both sides connected, then relayed; a side that fails ends this connection only (with -k)."""
        conn.setblocking(False)
        apply_socket_options(conn, self._listen.sockopts)
        client_side: Side | None = None
        upstream: socket.socket | None = None
        try:
            if self._client_tls is not None:
                client_side = await self._client_handshake(number, conn, client)
            upstream = await self._upstream.open_upstream(f"#{number} upstream {self._label}")
            upstream_label = _peer_of(upstream, self._label)
            relayed = await self._relayed(number, client, conn, client_side, upstream, upstream_label)
        except TcpcliError as error:
            if client_side is not None:
                client_side.reset()
            else:
                reset_socket(conn)  # the client sees a reset, not an empty answer
                conn.close()
            if upstream is not None:
                upstream.close()
            self._failed(error)
            return
        except BaseException:
            if client_side is not None:
                client_side.reset()
            else:
                conn.close()
            if upstream is not None:
                upstream.close()
            raise
        self._conns[relayed] = None
        if self._held:
            relayed.hold_reading(True)
        if self._transcript is not None:
            self._transcript.opened(number, client, upstream_label, time.time(), relayed.faulty)
        else:
            self._report(RelayOpened(number, client, upstream_label))
        relayed.start()

    async def _client_handshake(self, number: int, conn: socket.socket, client: str) -> Side:
        assert self._client_tls is not None
        try:
            _transport, side = await accept_tls(conn, side_factory(">", True), self._client_tls)
        except (OSError, ValueError) as exc:  # ssl.SSLError and TimeoutError are OSErrors
            from tcpcli.net.tlserrors import handshake_error

            error = handshake_error(exc, f"client {client}", None, server_side=True)
            raise TcpcliError(f"#{number} {error.message}", error.exit_code) from exc
        assert isinstance(side, Side)
        return side

    async def _relayed(
        self,
        number: int,
        client: str,
        conn: socket.socket,
        client_side: Side | None,
        upstream: socket.socket,
        upstream_label: str,
    ) -> Relayed:
        """The connection on its path: the kernel's when it can, else the copy path."""
        idle = self._session.idle_timeout
        if self._kernel:
            try:
                return SpliceConnection(self, number, client, upstream_label, idle, conn, upstream)
            except OSError:
                pass  # no pipe to be had (out of descriptors): this one goes through Python
        if client_side is None:
            _transport, protocol = await self._loop.connect_accepted_socket(side_factory(">", False), conn)
            assert isinstance(protocol, Side)
            client_side = protocol
        upstream_side = await self._upstream_side(number, upstream)
        if self._faults is not None:
            from tcpcli.engine.faulty import faulty_connection

            sides = (client_side, upstream_side)
            return faulty_connection(self, number, client, upstream_label, idle, sides, self._faults)
        return CopyConnection(self, number, client, upstream_label, idle, client_side, upstream_side)

    async def _upstream_side(self, number: int, upstream: socket.socket) -> Side:
        tls = self._upstream_tls
        if tls is None:
            _transport, protocol = await self._loop.connect_accepted_socket(
                side_factory("<", False), upstream
            )
            assert isinstance(protocol, Side)
            return protocol
        from tcpcli.net.tlserrors import handshake_error

        settings = self._relay.upstream
        name = settings.tls.sni or settings.host
        try:
            _transport, protocol = await self._loop.create_connection(
                side_factory("<", True),
                sock=upstream,
                ssl=tls,
                server_hostname=name,
                ssl_handshake_timeout=settings.connect_timeout,
            )
        except (OSError, ValueError) as exc:
            error = handshake_error(exc, self._label, name, server_side=False)
            raise TcpcliError(f"#{number} upstream {self._label} {error.message}", error.exit_code) from exc
        assert isinstance(protocol, Side)
        return protocol

    def _failed(self, error: TcpcliError) -> None:
        """One connection could not be set up: said at once with -k; without -k it is the run's outcome."""
        if self._listen.keep_open:
            self._warn(error.message)
            return
        if self.error is None:
            self.error = error
        self._stopping.set()

    # ------------------------------------------------------------ what connections report (relayed.Owner)

    def relayed_data(self, conn: Relayed, direction: str, data: bytes) -> None:
        if self._log is not None:
            self._log.record(conn.number, direction, data)
        if self._transcript is not None:
            self._transcript.data(conn.number, direction, data, time.time())

    def relayed_event(self, conn: Relayed, direction: str | None, word: bytes) -> None:
        if self._transcript is not None:
            self._transcript.event(conn.number, direction, word, time.time())

    def relayed_done(self, conn: Relayed) -> None:
        self._conns.pop(conn, None)
        if self._log is not None:
            self._log.forget(conn.number)
        seconds = self._loop.time() - conn.started
        if self._transcript is not None:
            self._transcript.closed(conn.number, conn.up, conn.down, seconds, time.time())
            if conn.how and not conn.reset and self._reporter.verbose:  # an RST is in the transcript
                self._transcript.warning(f"#{conn.number} closed: {conn.how}")
        else:
            self._report(RelayClosed(conn.number, conn.up, conn.down, seconds, conn.how))
        if not self._stopping.is_set():
            self._acceptor.wake()  # a descriptor is free now
        if not self._listen.keep_open and not self._stopping.is_set():
            self.error = self.error or _outcome(conn, self._session.idle_timeout)
            self._stopping.set()

    # ------------------------------------------------------------ reporting and stopping

    def _report(self, event: Event) -> None:
        """-v lines: through the transcript's front when there is one (a terminal keeps its screen)."""
        if not self._reporter.verbose:
            return
        if self._transcript is not None:
            from tcpcli.core.events import describe

            self._transcript.warning(describe(event))
        else:
            self._reporter.event(event)

    def _warn(self, message: str) -> None:
        if self._transcript is not None:
            self._transcript.warning(message)
        else:
            self._reporter.warning(message)

    def _log_failed(self, error: TcpcliError) -> None:
        self.error = self.error or error
        self._stopping.set()

    def _signalled(self, signum: int) -> None:
        if self.signal is None:
            self.signal = signum
        self._stopping.set()

    async def _shutdown(self) -> None:
        """Stop accepting; FIN to both sides of every connection after what is queued (bounded)."""
        self._acceptor.stop(close=True)
        for task in list(self._setting_up):
            task.cancel()
        conns = list(self._conns)
        if self.signal is not None:
            why = "SIGINT" if self.signal == signal.SIGINT else "SIGTERM"
            self._report(ServerStopping(why, len(conns)))
        for conn in conns:
            conn.finish("relay stopping")
        try:
            async with asyncio.timeout(SHUTDOWN_GRACE):
                while self._conns:
                    await asyncio.sleep(_DRAIN_POLL)
        except TimeoutError:
            pass
        for conn in list(self._conns):
            conn.abort("relay stopping")
        for _ in range(2):  # let connection_lost callbacks run: they report the closes
            await asyncio.sleep(0)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's own complaints as one line (never a traceback)."""
        exc = context.get("exception")
        detail = f": {exc}" if exc is not None else ""
        self._warn(f"{context.get('message', 'event loop error')}{detail}")


def _peer_of(sock: socket.socket, fallback: str) -> str:
    """The upstream's address as connected (`127.0.0.1:6379`), for the `#N open` line (a Unix socket has
    none: its target's name)."""
    if sock.family == socket.AF_UNIX:
        return fallback
    try:
        address = sock.getpeername()
    except OSError:
        return fallback
    return format_address(address[0], address[1])


def _outcome(conn: Relayed, idle: float | None) -> TcpcliError | None:
    """Without -k, the run ends as its one connection did: None (exit 0) for an ordinary end; a reset on
    either side is 74, as in connect mode; the -i idle close is 75."""
    if conn.reset:
        return TcpcliError(f"#{conn.number} {conn.how}", ExitCode.IO_ERROR)
    if idle is not None and conn.how.startswith("idle timeout"):
        return TcpcliError(f"#{conn.number} {conn.how}", ExitCode.TIMEOUT)
    return None
