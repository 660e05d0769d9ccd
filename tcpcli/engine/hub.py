"""The many-peer engine (-k, and the relay options): accept, admit, greet, route, stop, on one asyncio loop.

It knows no front: what it receives and what happens goes to a `Sink` (engine.seam), which drives it back
through `Controls`. Every task has an owner; signals set a stop request instead of raising inside callbacks,
so stopping is always the same orderly path: stop accepting, FIN to every client after its queued data
(bounded by SHUTDOWN_GRACE), let the front write out what it holds, then report the signal's exit status.

Accepting is engine.acceptor's loop (shared with the relay): out of descriptors it stops accepting and tries
again later or as soon as a client leaves. Connected clients are served all along. TLS handshakes run per
client, each bounded by TLS_HANDSHAKE_TIMEOUT; a failed one is reported with the one-client wording
(net.tlserrors), and -v adds the certificate lines.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from tcpcli.core.events import (
    ClientConnected,
    ClientLeft,
    ClientRejected,
    Event,
    ProgramFailed,
    ServerInputEnded,
    ServerStopping,
)
from tcpcli.core.link import idle_timeout_message
from tcpcli.engine.acceptor import (
    ACCEPT_RETRY_MAX,
    TLS_HANDSHAKE_TIMEOUT,
    Acceptor,
    accept_tls,
    add_stop_signals,
    remove_stop_signals,
)
from tcpcli.engine.client import STALL_TIMEOUT, Client, peer_label
from tcpcli.engine.local import InputReader, can_read_stdin
from tcpcli.engine.program import Programs
from tcpcli.engine.routing import Relay, Relaying
from tcpcli.engine.seam import Outbox, Sink, SinkFactory
from tcpcli.engine.taps import ClientLog
from tcpcli.engine.telnet import ClientTelnet
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.net.sockopts import apply_socket_options
from tcpcli.net.unix import unix_client_label
from tcpcli.report import Reporter
from tcpcli.settings import ListenSettings, Settings

if TYPE_CHECKING:
    from tcpcli.engine.hubrecord import HubRecording

__all__ = ["ACCEPT_RETRY_MAX", "SHUTDOWN_GRACE", "TLS_HANDSHAKE_TIMEOUT", "Hub"]

# When stopping: how long queued data and FINs get to reach the clients before the sockets are closed.
SHUTDOWN_GRACE = 1.0
_DRAIN_POLL = 0.01
# How often the stall watch looks at clients that are behind or draining while closing.
_WATCH_EVERY = 1.0


class Hub:
    """Accepts clients, admits them (--max-clients), greets them, and routes data through the relay.

    Also the `Controls` its front gets (engine.seam): `outbox`, `hold_reading`, `front_failed`, `interrupt`.
    """

    def __init__(
        self,
        listener: socket.socket,
        settings: Settings,
        reporter: Reporter,
        sink_factory: SinkFactory,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        assert settings.listen is not None
        self._listener = listener
        self._tls = tls
        self._settings = settings
        self._listen: ListenSettings = settings.listen
        self._reporter = reporter
        self._sink_factory = sink_factory
        self.signal: int | None = None
        self.error: TcpcliError | None = None
        self._served_one = False
        self._programs: Programs | None = None  # --exec / --sh-exec: each client's program
        self._telnet = ClientTelnet() if settings.session.telnet else None
        # stdin is read: with --greet-file a client gets FIN after its file only once this is False
        self._input_open = False
        self._accepted = 0  # connections accepted so far: numbers Unix clients (`unix:PATH#N`)
        self._connecting: set[asyncio.Task[None]] = set()
        self._draining: dict[Client, None] = {}  # closing with data unsent: watched for progress
        self._watch: asyncio.TimerHandle | None = None
        self._quit_timer: asyncio.TimerHandle | None = None
        self._quit_reason = "done"  # how `stopping (...)` words a stop that no signal asked for
        self._front_held = False  # the front is behind (hold_reading)
        self._record_behind = False  # --record's writer is behind

    # ------------------------------------------------------------ Controls (what the front may do)

    @property
    def outbox(self) -> Outbox:
        return cast(Outbox, self._relay)

    def hold_reading(self, hold: bool) -> None:
        self._front_held = hold
        self._relay.pause_reading(hold or self._record_behind)

    def _record_hold(self, behind: bool) -> None:
        self._record_behind = behind
        self._relay.pause_reading(self._front_held or behind)

    def front_failed(self, error: TcpcliError | None) -> None:
        if error is not None and self.error is None:
            self.error = error
        self._stopping.set()

    def interrupt(self) -> None:
        self._signalled(signal.SIGINT)

    # ------------------------------------------------------------ running

    async def run(self) -> int:
        loop = self._loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_error)
        self._stopping = asyncio.Event()
        self._relay = Relay(Relaying.chosen_by(self._listen))
        session = self._settings.session
        self._log = ClientLog(session.hex_log, self._log_failed) if session.hex_log else None
        self._sink: Sink = self._sink_factory(self)
        self._record: HubRecording | None = None
        recorder = None
        if session.record is not None:
            from tcpcli.engine.hubrecord import HubRecording
            from tcpcli.engine.recorder import Recorder

            recorder = Recorder(session.record, "listen", session.redact, self._sink.warning)
            self._record = HubRecording(recorder, self._record_hold)
        self._acceptor = Acceptor(self._listener, self._admit, self._sink.warning, self._held)
        # asyncio's transport factory for an accepted socket (private, but what its own server uses; the
        # public connect_accepted_socket is the fallback)
        self._make_transport: Callable[..., object] | None = getattr(loop, "_make_socket_transport", None)
        add_stop_signals(self._signalled)
        try:
            self._sink.start()
            self._acceptor.start()
            async with asyncio.TaskGroup() as tasks:
                if self._listen.exec_argv is not None:  # the programs answer the clients: stdin is not read
                    self._programs = Programs(
                        self._listen.exec_argv, tasks, self._report, self._program_failed
                    )
                if self._sink.typed_input:
                    self._input_open = True  # typed lines may come until Ctrl-D
                    pump = None
                else:
                    self._input_open = self._programs is None and can_read_stdin()
                    pump = tasks.create_task(self._pump_input()) if self._input_open else None
                await self._stopping.wait()
                if pump is not None:
                    pump.cancel()
                await self._shutdown()  # inside the group: a program still starting is waited for
        finally:
            remove_stop_signals()
            if self._log is not None:
                self._log.close()
            if recorder is not None:
                try:
                    await asyncio.to_thread(recorder.close)
                except TcpcliError as exc:
                    self.error = self.error or exc
        # what was received reaches the output before we go: as long as it makes progress, or `grace`
        # seconds without progress once a signal (or a failed output) asked us to go
        hurry = self.signal is not None or self.error is not None
        lost = await self._sink.close(SHUTDOWN_GRACE if hurry else None)
        if lost is not None:
            if self.signal is not None or self.error is not None:
                self._reporter.warning(lost)  # the exit status already says we did not finish
            else:
                self.error = TcpcliError(lost, ExitCode.IO_ERROR)
        return ExitCode.OK

    # ------------------------------------------------------------ accepting

    def _held(self) -> int:
        """Connections we hold: joined clients and those whose transport (or handshake) is on its way."""
        return len(self._relay.clients) + len(self._connecting)

    def _admit(self, conn: socket.socket, address: Any) -> None:
        self._accepted += 1
        label = unix_client_label(self._listener, self._accepted)  # None for TCP: its address names it
        if self._tls is None and self._make_transport is not None:
            # What asyncio's own server does per connection: the transport at once, no task and no coroutine
            # per client (connect_accepted_socket's task costs a quarter of the time to hold 10,000 clients).
            conn.setblocking(False)
            session = self._settings.session
            tap = self._sent_tap()
            client = Client(self, session.idle_timeout, self._listen.idle_message, tap, label)
            try:
                self._make_transport(conn, client, extra={"peername": address})
            except OSError:
                conn.close()
            return
        task = self._loop.create_task(self._connect(conn, address, label))  # it sets conn non-blocking
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, conn: socket.socket, address: Any, label: str | None = None) -> None:
        """Make the client's transport (over TLS: after its handshake, bounded, reported when it fails)."""
        session = self._settings.session
        tap = self._sent_tap()

        def client() -> Client:
            return Client(self, session.idle_timeout, self._listen.idle_message, tap, label)

        if self._tls is None:
            try:
                await self._loop.connect_accepted_socket(client, conn)
            except OSError:
                conn.close()  # gone before its transport was made: nothing to report
            return
        try:
            transport, _client = await accept_tls(conn, client, self._tls)
        except (OSError, ValueError) as exc:  # ssl.SSLError and TimeoutError are OSErrors
            conn.close()
            self._handshake_failed(exc, label or address)
            return
        if self._reporter.verbose and not transport.is_closing():
            self._report_tls(transport)

    def _sent_tap(self) -> Callable[[Client, bytes], None] | None:
        """Where a client's sent bytes are copied: --hex-log, --record, both or neither."""
        log, record = self._log, self._record
        if record is None:
            return None if log is None else log.sent
        if log is None:
            return record.sent

        def both(client: Client, data: bytes) -> None:
            log.sent(client, data)
            record.sent(client, data)

        return both

    def _handshake_failed(self, exc: BaseException, address: Any) -> None:
        from tcpcli.net.tlserrors import handshake_error

        peer = f"client {peer_label(address)}"
        self._sink.warning(handshake_error(exc, peer, None, server_side=True).message)

    def _report_tls(self, transport: asyncio.BaseTransport) -> None:
        """-v: the version, cipher and client certificate lines, as for one client (net.tls)."""
        from tcpcli.net import tls

        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is not None:
            reporter = _SinkReporter(self._sink, self._reporter.verbose)
            tls.report_session(sslobj, cast(Reporter, reporter), None)  # one wording for both paths

    # ------------------------------------------------------------ what clients report (client.Hub)

    def client_joined(self, client: Client) -> bool:
        transport = client.transport
        assert transport is not None
        limit = self._listen.max_clients
        if self._served_one:  # without -k: one more slipped in before the listener closed
            reason = "already serving a client (add -k to serve many)"
        elif limit is not None and len(self._relay.clients) >= limit:
            reason = f"--max-clients {limit} reached"
        elif self._stopping.is_set():
            reason = "server stopping"
        else:
            reason = ""
        if reason:
            self._report(ClientRejected(client.peer, reason))
            transport.close()
            return False
        apply_socket_options(transport.get_extra_info("socket"), self._listen.sockopts)
        self._relay.add(client)
        if self._record is not None:
            self._record.joined(client, peer_label(transport.get_extra_info("sockname")))
        self._report(ClientConnected(client.peer, len(self._relay.clients)))
        if self._listen.greet:
            client.send(self._listen.greet)
        if self._listen.greet_file is not None and not self._greet_with_file(client):
            return True  # dropped: `client left` reports it
        if self._programs is not None:
            self._programs.start(client)
        if not self._listen.keep_open:
            self._served_one = True
            self._acceptor.stop(close=True)  # like nc: the listener goes once its one client is here
        return True

    def client_data(self, client: Client, data: bytes) -> None:
        if self._log is not None:
            self._log.received(client, data)  # as on the wire, telnet commands included
        if self._record is not None:
            self._record.received(client, data)
        if self._telnet is not None and not (data := self._telnet.received(client, data)):
            return
        self._deliver(client, data)

    def _deliver(self, client: Client, data: bytes) -> None:
        """A client's data to where it goes: its program, or the front and the relay."""
        if self._programs is not None:
            self._programs.received(client, data)
            return
        self._sink.received(client, data)
        self._relay.from_client(client, data)

    def client_finished(self, client: Client) -> bool:
        """The client sent FIN; it is closed once what is queued for it is written (--exec: its program
        gets EOF and the client is closed when the program is done)."""
        if self._record is not None:
            self._record.finished(client)
        if self._telnet is not None and (rest := self._telnet.finished(client)):
            self._deliver(client, rest)
        if self._programs is None:
            return False
        self._programs.finished(client)
        return True

    def client_file_sent(self, client: Client) -> None:
        """--greet-file: the file is out. FIN to the client if nothing more can come to it (no stdin, no
        relay, no program): then `tcpcli -l -k PORT --greet-file F </dev/null` serves F to every client.
        --no-half-close: no FIN, the client stays open after its file."""
        if not self._input_open and self._relay_idle() and self._settings.session.half_close:
            client.finish()

    def client_behind(self, client: Client, behind: bool) -> None:
        if behind:
            self._start_watch(client)
        self._relay.set_behind(client, behind)

    def client_draining(self, client: Client) -> None:
        self._draining[client] = None
        self._start_watch(client)

    def _relay_idle(self) -> bool:
        return not (self._listen.echo or self._listen.broadcast or self._programs is not None)

    def _greet_with_file(self, client: Client) -> bool:
        """Open --greet-file now (so a changed file is served as it is now) and start streaming it."""
        path = self._listen.greet_file
        assert path is not None
        try:
            file = open(path, "rb", buffering=0)  # noqa: SIM115 - the client closes it at the file's end
        except OSError as exc:
            self._sink.warning(f"--greet-file {path}: {exc.strerror or exc}; client {client.peer} reset")
            client.drop("greeting file unreadable", reset=True)
            return False
        client.send_file(file)
        return True

    def _program_failed(self, client: Client, reason: str) -> None:
        """With -k: one line per client whose program did not start; without -k: the exit status (66)."""
        assert self._listen.exec_argv is not None
        program = self._listen.exec_argv[0]
        if self._listen.keep_open:
            self._report(ProgramFailed(client.peer, program, reason), always=True)
        elif self.error is None:
            self.error = TcpcliError(
                f"client {client.peer}: cannot start {program}: {reason}", ExitCode.NO_INPUT
            )

    def client_left(self, client: Client) -> None:
        self._draining.pop(client, None)
        if not self._stopping.is_set():
            self._acceptor.wake()  # a descriptor is free now
        if client not in self._relay.clients:
            return  # rejected at the door: already reported
        self._relay.remove(client)
        if self._telnet is not None:
            self._telnet.left(client)
        if self._programs is not None:
            self._programs.left(client)
        self._sink.left(client)
        if self._log is not None:
            self._log.left(client)
        if self._record is not None:
            self._record.left(client, client.leave_reason)
        event = ClientLeft(client.peer, client.sent, client.received, client.leave_reason)
        # data was lost for a client that was not reading: worth a line even without -v
        self._report(event, always="not reading" in client.leave_reason)
        if not self._listen.keep_open and not self._stopping.is_set():
            idle = self._settings.session.idle_timeout
            if client.leave_reason.startswith("idle timeout") and idle is not None:
                self.error = TcpcliError(idle_timeout_message(idle), ExitCode.TIMEOUT)
            self._stopping.set()

    # ------------------------------------------------------------ the stall watch

    def _start_watch(self, client: Client) -> None:
        """From now on the client must take bytes at least every STALL_TIMEOUT s."""
        client.progress_at = self._loop.time()
        client.last_unsent = client.unsent
        if self._watch is None:
            self._watch = self._loop.call_later(_WATCH_EVERY, self._look)

    def _look(self) -> None:
        """Drop (RST) the clients that are behind or closing and took nothing for STALL_TIMEOUT."""
        self._watch = None
        now = self._loop.time()
        watched = [*self._relay.behind, *self._draining]
        for client in watched:
            unsent = client.unsent
            if unsent < client.last_unsent:
                client.progress_at = now
            client.last_unsent = unsent
            if unsent and now - client.progress_at >= STALL_TIMEOUT:
                before = client.leave_reason
                client.leave_reason = f"{before}; not reading" if before else "not reading"
                client.drop(client.leave_reason, reset=True)
        if self._relay.behind or self._draining:
            self._watch = self._loop.call_later(_WATCH_EVERY, self._look)

    # ------------------------------------------------------------ local input

    async def _pump_input(self) -> None:
        terminal = self._settings.env.stdin_tty  # decided at the face
        session = self._settings.session
        reader = InputReader(0, terminal, session.crlf, session.eol)
        try:
            while data := await reader.read():
                await self._relay.room.wait()  # a client is behind: stdin waits like any sender
                self._relay.from_local(data)
            self._report(ServerInputEnded(len(self._relay.clients)))
            self._input_open = False
            # stdin EOF sends FIN only where nothing else can reach a client any more (a greeting file
            # served to clients that get no relay): elsewhere they stay open; --no-half-close: never
            if self._listen.greet_file is not None and self._relay_idle() and session.half_close:
                self._relay.flush()  # the last input first, then FIN to the clients whose file is out
                for client in list(self._relay.clients):
                    client.finish()  # one still streaming its file gets FIN after it
            if (seconds := session.quit_after_eof) is not None:
                self._quit_timer = self._loop.call_later(seconds, self._quit_after_eof)
        finally:
            reader.stop()

    def _quit_after_eof(self) -> None:
        """-q S with many clients: S seconds after stdin ended the server stops (exit 0), FIN to each."""
        self._quit_reason = "-q: input ended"
        self._stopping.set()

    def _log_failed(self, error: TcpcliError) -> None:
        """Writing --hex-log failed: the server stops with that error."""
        self.error = error
        self._stopping.set()

    def _report(self, event: Event, always: bool = False) -> None:
        self._sink.event(event, always)

    # ------------------------------------------------------------ stopping

    def _signalled(self, signum: int) -> None:
        if self.signal is None:
            self.signal = signum
        self._stopping.set()

    async def _shutdown(self) -> None:
        self._acceptor.stop(close=True)
        if self._quit_timer is not None:
            self._quit_timer.cancel()
        for task in list(self._connecting):  # handshakes still running: those clients never joined
            task.cancel()
        self._relay.flush()
        clients = list(self._relay.clients)
        if self.signal is not None or clients:
            why = (
                "SIGINT" if self.signal == signal.SIGINT else "SIGTERM" if self.signal else self._quit_reason
            )
            self._report(ServerStopping(why, len(clients)))
        for client in clients:
            client.leave_reason = client.leave_reason or "server stopping"
        if self._programs is not None:
            await self._programs.stop()  # EOF to each program; its last output reaches its client
        for client in clients:
            client.finish()
        try:
            async with asyncio.timeout(SHUTDOWN_GRACE):
                while any(client.unsent for client in clients):
                    await asyncio.sleep(_DRAIN_POLL)
        except TimeoutError:
            pass
        for client in clients:
            if client.unsent:
                client.drop("server stopping")
            else:
                client.close("server stopping")
        for _ in range(2):  # let connection_lost callbacks run: they report the `client left` events
            await asyncio.sleep(0)
        if self._watch is not None:
            self._watch.cancel()

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's own complaints as one line through the front (never a traceback)."""
        exc = context.get("exception")
        detail = f": {exc}" if exc is not None else ""
        self._sink.warning(f"{context.get('message', 'event loop error')}{detail}")


class _SinkReporter:
    """The part of Reporter that net.tls's -v lines use, shown through the front."""

    def __init__(self, sink: Sink, verbose: bool) -> None:
        self._sink = sink
        self.verbose = verbose

    def event(self, event: Event) -> None:
        self._sink.event(event)

    def warning(self, message: str) -> None:
        self._sink.warning(message)
