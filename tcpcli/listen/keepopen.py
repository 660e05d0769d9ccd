"""The many-clients server (-k, and the relay options): an asyncio server owning clients, input and output.

Every task has an owner (one TaskGroup); signals set a stop request instead of raising inside callbacks, so
stopping is always the same orderly path: stop accepting, send FIN to every client after its queued data
(bounded by SHUTDOWN_GRACE), then report the signal's exit status.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
from typing import TYPE_CHECKING, Any

from tcpcli.core.events import (
    ClientConnected,
    ClientLeft,
    ClientRejected,
    Event,
    ProgramFailed,
    ServerInputEnded,
    ServerStopping,
)
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.listen.bind import LISTEN_BACKLOG, listening_address
from tcpcli.listen.client import Client
from tcpcli.listen.local import InputReader, OutputWriter, can_read_stdin
from tcpcli.listen.program import Programs
from tcpcli.listen.relay import Relay, Relaying
from tcpcli.listen.telnet import ClientTelnet
from tcpcli.listen.views import ClientLog, ClientViews
from tcpcli.net.sockopts import apply_socket_options
from tcpcli.report import Reporter
from tcpcli.settings import ListenSettings, Settings
from tcpcli.taps import OutputFile

if TYPE_CHECKING:
    from tcpcli.listen.terminal import ServerTerminal

# A client that never completes the TLS handshake is dropped after this long.
TLS_HANDSHAKE_TIMEOUT = 10.0
# When stopping: how long queued data and FINs get to reach the clients before the sockets are closed.
SHUTDOWN_GRACE = 1.0
_DRAIN_POLL = 0.01


def serve_many(
    listener: socket.socket,
    settings: Settings,
    reporter: Reporter,
    interactive: bool,
    tls: ssl.SSLContext | None = None,
) -> int:
    """Run until SIGINT/SIGTERM (or, without -k, until the one client leaves); returns the exit status."""
    server = KeepOpenServer(listener, settings, reporter, interactive, tls)
    code = asyncio.run(server.run())
    if server.signal == signal.SIGINT:
        raise KeyboardInterrupt
    if server.signal == signal.SIGTERM:
        from tcpcli.cli import Terminated

        raise Terminated
    if server.error is not None:
        raise server.error
    return code


class KeepOpenServer:
    """Accepts clients, admits them (--max-clients), greets them, and routes data through the relay."""

    def __init__(
        self,
        listener: socket.socket,
        settings: Settings,
        reporter: Reporter,
        interactive: bool,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        assert settings.listen is not None
        self._listener = listener
        self._tls = tls
        self._settings = settings
        self._listen: ListenSettings = settings.listen
        self._reporter = reporter
        self._interactive = interactive
        self.signal: int | None = None
        self.error: TcpcliError | None = None
        self._served_one = False
        self._programs: Programs | None = None  # --exec / --sh-exec: each client's program
        self._telnet = ClientTelnet() if settings.session.telnet else None
        # stdin is read: with --greet-file a client gets FIN after its file only once this is False
        self._input_open = False

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_error)
        self._stopping = asyncio.Event()
        self._relay = Relay(Relaying.chosen_by(self._listen))
        session = self._settings.session
        self._output = OutputFile(session.output) if session.output else None
        self._log = ClientLog(session.hex_log, self._failed) if session.hex_log else None
        self._writer: OutputWriter | None = None
        self._views: ClientViews | None = None
        self._terminal: ServerTerminal | None = None
        if self._interactive:
            from tcpcli.listen.terminal import ServerTerminal

            address = listening_address(self._listener)
            self._terminal = ServerTerminal(self._settings, address, self._relay, self._interrupted)
        else:
            views = ClientViews.wanted(self._settings.view)  # then -o gets the raw bytes on the loop
            self._writer = OutputWriter(
                1, None if views else self._output, self._relay.pause_reading, self._output_stopped
            )
            self._views = ClientViews(self._settings.view, self._writer.write) if views else None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._signalled, signum)
        listen, tap = self._listen, self._log.sent if self._log is not None else None
        self._server = await loop.create_server(
            lambda: Client(self, session.idle_timeout, listen.idle_message, tap),
            sock=self._listener,
            backlog=LISTEN_BACKLOG,
            # A failed handshake only ends that client's connection; asyncio reports it at debug level.
            ssl=self._tls,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if self._tls is not None else None,
        )
        try:
            if self._terminal is not None:
                await self._serve_terminal(self._terminal)
            else:
                await self._serve_pipes()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            for file in (self._output, self._log):
                if file is not None:
                    file.close()
        return ExitCode.OK

    async def _serve_pipes(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            if self._listen.exec_argv is not None:  # the programs answer the clients: stdin is not read
                self._programs = Programs(self._listen.exec_argv, tasks, self._report, self._program_failed)
            self._input_open = self._programs is None and can_read_stdin()
            pump = tasks.create_task(self._pump_input()) if self._input_open else None
            await self._stopping.wait()
            if pump is not None:
                pump.cancel()
            await self._shutdown()  # inside the group: a program still starting is waited for

    async def _serve_terminal(self, terminal: ServerTerminal) -> None:
        """The input line runs on this loop; it goes after the last events (clients told to go) are shown."""
        from prompt_toolkit.patch_stdout import patch_stdout

        self._input_open = True  # typed lines may come until Ctrl-D: a --greet-file client stays open
        with patch_stdout(raw=True):  # a stray print (a library warning) must not tear the input line
            terminal.start()
            try:
                await self._stopping.wait()
                await self._shutdown()
            finally:
                await terminal.close()

    # ------------------------------------------------------------ what clients report (the Hub protocol)

    def client_joined(self, client: Client) -> bool:
        transport = client.transport
        assert transport is not None
        limit = self._listen.max_clients
        if self._served_one:  # without -k: one more slipped in before the listener closed
            reason = "already serving a client (add -k to serve many)"
        elif limit is not None and len(self._relay.clients) >= limit:
            reason = f"--max-clients {limit} reached"
        else:
            reason = ""
        if reason:
            self._report(ClientRejected(client.peer, reason))
            transport.close()
            return False
        apply_socket_options(transport.get_extra_info("socket"), self._listen.sockopts)
        self._relay.add(client)
        if self._relay.reading_paused:
            transport.pause_reading()
        self._report(ClientConnected(client.peer, len(self._relay.clients)))
        if self._listen.greet:
            client.send(self._listen.greet)
        if self._listen.greet_file is not None and not self._greet_with_file(client):
            return True  # dropped: `client left` reports it
        if self._programs is not None:
            self._programs.start(client)
        if not self._listen.keep_open:
            self._served_one = True
            self._server.close()  # like nc: the listener goes once its one client is here
        return True

    def client_data(self, client: Client, data: bytes) -> None:
        if self._log is not None:
            self._log.received(client, data)  # as on the wire, telnet commands included
        if self._telnet is not None and not (data := self._telnet.received(client, data)):
            return
        self._deliver(client, data)

    def _deliver(self, client: Client, data: bytes) -> None:
        """A client's data to where it goes: its program, or the local output and the relay."""
        if self._programs is not None:
            self._programs.received(client, data)
            return
        if self._terminal is not None:
            self._write_output(data)
            self._terminal.received(client, data)
        elif self._views is not None:
            self._write_output(data)
            self._views.received(client, data)
        elif self._writer is not None:
            self._writer.write(data)
        self._relay.from_client(client, data)

    def client_finished(self, client: Client) -> bool:
        """The client sent FIN; it is closed once what is queued for it is written (--exec: its program
        gets EOF and the client is closed when the program is done)."""
        if self._telnet is not None and (rest := self._telnet.finished(client)):
            self._deliver(client, rest)
        if self._programs is None:
            return False
        self._programs.finished(client)
        return True

    def client_file_sent(self, client: Client) -> None:
        """--greet-file: the file is out. FIN to the client if nothing more can come to it (no stdin, no
        relay, no program): then `tcpcli -l -k PORT --greet-file F </dev/null` serves F to every client."""
        if not self._input_open and self._relay_idle():
            client.finish()

    def _relay_idle(self) -> bool:
        return not (self._listen.echo or self._listen.broadcast or self._programs is not None)

    def _greet_with_file(self, client: Client) -> bool:
        """Open --greet-file now (so a changed file is served as it is now) and start streaming it."""
        path = self._listen.greet_file
        assert path is not None
        try:
            file = open(path, "rb", buffering=0)  # noqa: SIM115 - the client closes it at the file's end
        except OSError as exc:
            message = f"--greet-file {path}: {exc.strerror or exc}; client {client.peer} reset"
            if self._terminal is not None:
                self._terminal.warning(message)  # a line above the input line, not through it
            else:
                self._reporter.warning(message)
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
        if client not in self._relay.clients:
            return  # rejected at the door: already reported
        self._relay.remove(client)
        if self._telnet is not None:
            self._telnet.left(client)
        if self._programs is not None:
            self._programs.left(client)
        if self._terminal is not None:
            self._terminal.left(client)
        if self._views is not None and (warning := self._views.left(client)):
            self._reporter.warning(warning)
        if self._log is not None:
            self._log.left(client)
        event = ClientLeft(client.peer, client.sent, client.received, client.leave_reason)
        # data was lost for a client that was not reading: worth a line even without -v
        self._report(event, always=client.leave_reason == "not reading")
        if not self._listen.keep_open and not self._stopping.is_set():
            if client.leave_reason == "idle":
                seconds = f"{self._settings.session.idle_timeout:g}"
                self.error = TcpcliError(
                    f"idle timeout: no traffic for {seconds} s (-i {seconds})", ExitCode.TIMEOUT
                )
            self._stopping.set()

    # ------------------------------------------------------------ local input and output

    async def _pump_input(self) -> None:
        terminal = os.isatty(0)
        session = self._settings.session
        reader = InputReader(0, terminal, session.crlf, session.eol)
        try:
            while data := await reader.read():
                self._relay.from_local(data)
            self._report(ServerInputEnded(len(self._relay.clients)))
            self._input_open = False
            if self._listen.greet_file is not None and self._relay_idle():
                self._relay.flush()  # the last input first, then FIN to the clients whose file is out
                for client in list(self._relay.clients):
                    client.finish()  # one still streaming its file gets FIN after it
        finally:
            reader.stop()

    def _write_output(self, data: bytes) -> None:
        """-o in a terminal: the file gets every byte on the loop (a file write does not block for long)."""
        if self._output is None or self._stopping.is_set():
            return
        try:
            self._output.write(data)
        except TcpcliError as exc:
            self._failed(exc)

    def _failed(self, error: TcpcliError) -> None:
        """Writing a file (-o, --hex-log) failed: the server stops with that error."""
        self.error = error
        self._stopping.set()

    def _report(self, event: Event, always: bool = False) -> None:
        """In a terminal every event is a line above the input line; else on stderr (with -v, or always)."""
        if self._terminal is not None:
            self._terminal.event(event)
        elif always:
            self._reporter.always(event)
        else:
            self._reporter.event(event)

    def _output_stopped(self) -> None:
        assert self._writer is not None
        if self._writer.failed is not None:
            self.error = self._writer.failed
        self._stopping.set()

    # ------------------------------------------------------------ stopping

    def _interrupted(self) -> None:
        """Ctrl-C at the input line (the terminal is in raw mode: no SIGINT) stops the server like SIGINT."""
        self._signalled(signal.SIGINT)

    def _signalled(self, signum: int) -> None:
        if self.signal is None:
            self.signal = signum
        self._stopping.set()

    async def _shutdown(self) -> None:
        self._server.close()
        self._relay.flush()
        clients = list(self._relay.clients)
        if self.signal is not None or clients:
            why = "SIGINT" if self.signal == signal.SIGINT else "SIGTERM" if self.signal else "done"
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
        if self._writer is not None and not self._writer.stopped:
            self._writer.drain(SHUTDOWN_GRACE)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's own complaints (e.g. out of file descriptors while accepting) as one stderr line."""
        exc = context.get("exception")
        detail = f": {exc}" if exc is not None else ""
        message = f"{context.get('message', 'event loop error')}{detail}"
        if self._terminal is not None:
            self._terminal.warning(message)
        else:
            self._reporter.warning(message)
