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
import sys
from typing import Any

from tcpcli.core.events import ClientConnected, ClientLeft, ClientRejected, ServerInputEnded, ServerStopping
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.listen.bind import LISTEN_BACKLOG
from tcpcli.listen.client import Client
from tcpcli.listen.labelled import LabelledView
from tcpcli.listen.local import InputReader, OutputWriter, can_read_stdin
from tcpcli.listen.relay import Relay, Relaying
from tcpcli.net.sockopts import apply_socket_options
from tcpcli.report import Reporter
from tcpcli.settings import ListenSettings, Settings
from tcpcli.taps import OutputFile

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

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_error)
        self._stopping = asyncio.Event()
        self._relay = Relay(_relaying(self._listen))
        self._reading_paused = False
        output = OutputFile(self._settings.session.output) if self._settings.session.output else None
        self._writer = OutputWriter(1, output, self._pause_clients, self._output_stopped)
        self._labelled = (
            LabelledView(self._writer.write, self._settings.view.encoding, sys.stdout.encoding or "utf-8")
            if self._interactive
            else None
        )
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._signalled, signum)
        listen = self._listen
        self._server = await loop.create_server(
            lambda: Client(self, self._settings.session.idle_timeout, listen.idle_message),
            sock=self._listener,
            backlog=LISTEN_BACKLOG,
            # A failed handshake only ends that client's connection; asyncio reports it at debug level.
            ssl=self._tls,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if self._tls is not None else None,
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                pump = tasks.create_task(self._pump_input()) if can_read_stdin() else None
                await self._stopping.wait()
                if pump is not None:
                    pump.cancel()
            await self._shutdown()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            if output is not None:
                output.close()
        return ExitCode.OK

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
            self._reporter.event(ClientRejected(client.peer, reason))
            transport.close()
            return False
        apply_socket_options(transport.get_extra_info("socket"), self._listen.sockopts)
        self._relay.add(client)
        if self._reading_paused:
            transport.pause_reading()
        self._reporter.event(ClientConnected(client.peer, len(self._relay.clients)))
        if self._listen.greet:
            client.send(self._listen.greet)
        if not self._listen.keep_open:
            self._served_one = True
            self._server.close()  # like nc: the listener goes once its one client is here
        return True

    def client_data(self, client: Client, data: bytes) -> None:
        if self._labelled is not None:
            self._labelled.feed(client, client.peer, data)
        else:
            self._writer.write(data)
        self._relay.from_client(client, data)

    def client_finished(self, client: Client) -> None:
        """The client sent FIN; it is closed once what is queued for it is written."""

    def client_left(self, client: Client) -> None:
        if client not in self._relay.clients:
            return  # rejected at the door: already reported
        self._relay.remove(client)
        if self._labelled is not None:
            self._labelled.finish(client)
        event = ClientLeft(client.peer, client.sent, client.received, client.leave_reason)
        if client.leave_reason == "not reading":
            self._reporter.always(event)  # data was lost for that client: worth a line even without -v
        else:
            self._reporter.event(event)
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
            self._reporter.event(ServerInputEnded(len(self._relay.clients)))
        finally:
            reader.stop()

    def _pause_clients(self, pause: bool) -> None:
        """stdout is behind: stop reading clients (their data waits in the kernel) until it catches up."""
        if pause == self._reading_paused:
            return
        self._reading_paused = pause
        for client in self._relay.clients:
            if client.transport is not None and not client.transport.is_closing():
                if pause:
                    client.transport.pause_reading()
                else:
                    client.transport.resume_reading()

    def _output_stopped(self) -> None:
        if self._writer.failed is not None:
            self.error = self._writer.failed
        self._stopping.set()

    # ------------------------------------------------------------ stopping

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
            self._reporter.event(ServerStopping(why, len(clients)))
        for client in clients:
            client.leave_reason = client.leave_reason or "server stopping"
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
        if not self._writer.stopped:
            self._writer.drain(SHUTDOWN_GRACE)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's own complaints (e.g. out of file descriptors while accepting) as one stderr line."""
        exc = context.get("exception")
        detail = f": {exc}" if exc is not None else ""
        self._reporter.warning(f"{context.get('message', 'event loop error')}{detail}")


def _relaying(listen: ListenSettings) -> Relaying:
    if listen.echo:
        return Relaying.ECHO
    if listen.broadcast:
        return Relaying.BROADCAST
    return Relaying.NONE
