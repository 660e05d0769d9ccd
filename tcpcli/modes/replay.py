"""Replay mode (`--replay FILE`): a mock server (-l) or a mock client made of a recording.

Mock client: one connection per recorded connection, in order, each opened as connect mode opens its own
(`modes.connect.opener`: TCP, -U, --proxy, --tls), replayed by `engine.replay`. Mock server: each accepted
client gets the next recorded connection; without -k one client at a time, and the run ends with the
recording (exit 0) or the first mismatch (exit 1); with -k clients are served concurrently, a thread each (a
replay is a few blocking steps, as a dialogue is), each mismatch is one stderr line, and the run ends when
every recorded connection was served (exit 1 if any did not match). --loop starts the recording over, so
the server runs until SIGINT/SIGTERM (without -k, a mismatch still ends it with exit 1).
"""

from __future__ import annotations

import errno
import socket
import threading
import time

from tcpcli.connection import Connection
from tcpcli.core.events import ClientConnected, ClientLeft, Listening, format_address
from tcpcli.core.recording import RecordedConnection
from tcpcli.engine.replay import replay_connection
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.report import Reporter
from tcpcli.settings import Settings

__all__ = ["run_replay"]

# accept() failures that concern one client only, or a lack of descriptors (wait, then accept again)
_CLIENT_GONE = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM}
_NO_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_BACKOFF_SECONDS = 0.1


def run_replay(settings: Settings, reporter: Reporter) -> int:
    """0 when every recorded connection was replayed and matched; a mismatch raises TcpcliError (exit 1)."""
    if settings.listen is not None:
        return _MockServer(settings, reporter).run()
    from tcpcli.modes.connect import opener

    replay = settings.replay
    assert replay is not None and settings.connect is not None
    open_conn = opener(settings, reporter)
    for number, recorded in enumerate(replay.recording.connections, start=1):
        conn = open_conn()
        try:
            replay_connection(conn, recorded, False, replay, _peer_of(conn), number)
        finally:
            conn.close()
    return ExitCode.OK


def _peer_of(conn: Connection) -> str:
    try:
        address = conn.getpeername()
    except OSError:
        return "the peer"
    return format_address(address[0], address[1]) if isinstance(address, tuple) else str(address)


class _MockServer:
    """Accepts clients and replays the server side of the next recorded connection to each."""

    def __init__(self, settings: Settings, reporter: Reporter) -> None:
        assert settings.listen is not None and settings.replay is not None
        self._listen = settings.listen
        self._replay = settings.replay
        self._reporter = reporter
        self._context: object | None = None  # ssl.SSLContext with -l --tls (no ssl import without it)
        if self._listen.tls.enabled:
            from tcpcli.net.tls import server_context

            self._context = server_context(self._listen.tls)  # bad files: fail before binding
        self._lock = threading.Lock()
        self._failed = 0
        self._threads: list[threading.Thread] = []

    def run(self) -> int:
        from tcpcli.net.bind import listener_for, listening_address

        connections = self._replay.recording.connections
        with listener_for(self._listen) as listener, listener:
            self._reporter.always(Listening(listening_address(listener)))  # scripts read the port
            number = 0
            while self._replay.loop or number < len(connections):
                conn, label = self._accept(listener)
                recorded = connections[number % len(connections)]
                number += 1
                if not self._listen.keep_open:
                    self._serve(conn, label, recorded, number)  # a mismatch ends the run (exit 1)
                    continue
                thread = threading.Thread(
                    target=self._serve_counted, args=(conn, label, recorded, number), daemon=True
                )
                self._threads.append(thread)
                thread.start()
            for thread in self._threads:
                thread.join()
        return ExitCode.PORT_CLOSED if self._failed else ExitCode.OK

    def _accept(self, listener: socket.socket) -> tuple[socket.socket, str]:
        while True:
            try:
                conn, address = listener.accept()
            except OSError as exc:
                if exc.errno in _NO_DESCRIPTORS:
                    time.sleep(_BACKOFF_SECONDS)
                    continue
                if exc.errno in _CLIENT_GONE:
                    continue
                raise translate_os_error(exc, "accepting a client") from exc
            label = format_address(address[0], address[1]) if isinstance(address, tuple) else "unix client"
            return conn, label

    def _serve_counted(
        self, conn: socket.socket, label: str, recorded: RecordedConnection, number: int
    ) -> None:
        try:
            self._serve(conn, label, recorded, number)
        except TcpcliError as exc:
            with self._lock:
                self._failed += 1
            self._reporter.error(exc.message)  # with -k the server goes on

    def _serve(self, conn: socket.socket, label: str, recorded: RecordedConnection, number: int) -> None:
        self._reporter.event(ClientConnected(label, 1))
        stream: Connection = conn
        try:
            if self._context is not None:
                from tcpcli.modes.listen import TLS_HANDSHAKE_TIMEOUT
                from tcpcli.net.tls import wrap_server

                stream = wrap_server(conn, self._context, self._reporter, TLS_HANDSHAKE_TIMEOUT)  # type: ignore[arg-type]
            sent, received = replay_connection(
                stream, recorded, True, self._replay, f"client {label}", number
            )
        finally:
            stream.close()
        self._reporter.event(
            ClientLeft(label, sent, received, f"replayed recorded connection #{recorded.number}")
        )
