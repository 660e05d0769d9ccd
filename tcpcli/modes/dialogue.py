"""Dialogue mode (--send/--expect/--script): connect, run the steps, exit 0 (matched) or 1 (did not).

Connect side: the connection comes from the same `open_connection` (and `--tls` wrap) as connect mode, then
the one-peer driver `engine.dialogue.run_steps` talks, and `fronts.pipes.chatlog` writes the -v transcript
and --print's bytes. Listen side (`-l PORT --script FILE`): a scripted test server. Each client gets a thread
of its own running the same driver (a dialogue is a handful of blocking steps: threads are the simplest
robust engine here, and `--max-clients` bounds them); a client that does not follow the script is closed and
reported in one line naming it and the step. Without -k the one client's outcome is the exit status; with
-k the server goes on until SIGINT/SIGTERM.
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING

from tcpcli.connection import Connection
from tcpcli.core.events import ClientConnected, ClientLeft, ClientRejected, Listening, format_address
from tcpcli.core.steps import captures_names
from tcpcli.core.verdict import captures_json
from tcpcli.engine.dialogue import run_steps
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.fronts.pipes.chatlog import ChatLog
from tcpcli.net.connect import open_connection, target_label
from tcpcli.report import Reporter
from tcpcli.settings import Settings

if TYPE_CHECKING:
    from tcpcli.engine.recorder import Recorder

__all__ = ["run_dialogue"]

# accept() failures that concern one client only (it left before we took it): the server goes on
_CLIENT_GONE = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM}
# out of descriptors: wait this long for clients to finish before accepting again
_BACKOFF_SECONDS = 0.1


def run_dialogue(settings: Settings, reporter: Reporter) -> int:
    """0 when every expectation matched; failures raise TcpcliError (exit 1, or the transport's code)."""
    if settings.listen is not None:
        return _serve(settings, reporter)
    connect = settings.connect
    assert connect is not None
    peer = target_label(connect)
    if connect.tls.enabled:
        from tcpcli.net.tls import client_context, wrap_client

        context = client_context(connect.tls)  # bad certificate files fail before connecting
        conn: Connection = wrap_client(open_connection(connect, reporter.event), context, connect, reporter)
    else:
        conn = open_connection(connect, reporter.event)
    recorder = _recorder(settings, reporter)
    try:
        _converse(conn, settings, peer, None, recorder)
    finally:
        conn.close()
        if recorder is not None:
            recorder.close()
    return ExitCode.OK


def _recorder(settings: Settings, reporter: Reporter) -> Recorder | None:
    """--record: one recorder for the run (a scripted server's clients are its numbered connections)."""
    session = settings.session
    if session.record is None:
        return None
    from tcpcli.engine.recorder import Recorder

    return Recorder(session.record, settings.mode.value, session.redact, reporter.warning)


def _converse(
    conn: Connection, settings: Settings, peer: str, number: int | None, recorder: Recorder | None = None
) -> ChatLog:
    """Run the dialogue over `conn`, then print the captured groups if asked; the log (its byte counts).

    `recorder`: --record's, this connection recorded as `number` (1 when None)."""
    dialogue = settings.dialogue
    assert dialogue is not None
    names = captures_names(dialogue.steps)
    as_json = dialogue.print_matched and bool(names)
    log = ChatLog(
        transcript=sys.stderr.buffer if settings.session.verbose else None,
        printed=sys.stdout.buffer if dialogue.print_matched else None,
        conn=number,
        timestamps=settings.view.timestamps,
        visible=settings.env.stdout_tty,
        raw_print=not as_json,
        server=settings.listen is not None,
    )
    if recorder is None:
        captures = run_steps(conn, dialogue.steps, log, peer, dialogue.quit_wait)
    else:
        from tcpcli.engine.recorder import DialogueRecording

        with DialogueRecording(recorder, conn, number or 1, settings.listen is not None, log) as recording:
            captures = run_steps(conn, dialogue.steps, recording, peer, dialogue.quit_wait)
    if as_json:
        log.line(captures_json({name: captures.get(name) for name in names}))
    return log


def _serve(settings: Settings, reporter: Reporter) -> int:
    """Bind, announce, then run the script against one client (exit with its outcome) or many (-k)."""
    from tcpcli.net.bind import listener_for, listening_address

    listen = settings.listen
    assert listen is not None and settings.dialogue is not None
    context = None
    if listen.tls.enabled:
        from tcpcli.net.tls import server_context

        context = server_context(listen.tls)  # bad certificate or key: fail before binding
    with listener_for(listen) as listener, listener:
        reporter.always(Listening(listening_address(listener)))  # first stderr line: scripts read the port
        recorder = _recorder(settings, reporter)
        server = _ScriptedServer(settings, reporter, context, recorder)
        try:
            if listen.keep_open:
                server.serve_forever(listener)
            try:
                conn, address = listener.accept()
            except OSError as exc:
                raise translate_os_error(exc, "accepting a client") from exc
            label = _client_label(listener, address, 1)
            listener.close()  # one client: nobody else may connect while it is served
            server.serve(conn, label, 1)
        finally:
            if recorder is not None:
                recorder.close()
    return ExitCode.OK  # not reached: the loop ends with a signal's exception


def _client_label(listener: socket.socket, address: tuple[str, int] | str, number: int) -> str:
    """`host:port`, or `unix:PATH#N` / `@name#N` for a Unix socket's clients (they have no address)."""
    from tcpcli.net.unix import unix_client_label

    label = unix_client_label(listener, number)
    if label is None:
        assert isinstance(address, tuple)
        label = format_address(address[0], address[1])
    return label


class _ScriptedServer:
    """Runs the dialogue against each accepted client; with -k in a thread per client."""

    def __init__(
        self, settings: Settings, reporter: Reporter, context: object | None, recorder: Recorder | None = None
    ) -> None:
        assert settings.listen is not None
        self._settings = settings
        self._recorder = recorder
        self._reporter = reporter
        self._context = context  # ssl.SSLContext when serving TLS (kept untyped: no ssl import without it)
        self._max = settings.listen.max_clients
        self._lock = threading.Lock()
        self._active = 0

    def serve_forever(self, listener: socket.socket) -> None:
        number = 0
        while True:
            try:
                conn, address = listener.accept()
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    time.sleep(_BACKOFF_SECONDS)
                    continue
                if exc.errno in _CLIENT_GONE:
                    continue
                raise translate_os_error(exc, "accepting a client") from exc
            number += 1
            label = _client_label(listener, address, number)
            with self._lock:
                full = self._max is not None and self._active >= self._max
                if not full:
                    self._active += 1
            if full:
                conn.close()
                self._reporter.event(ClientRejected(label, f"--max-clients {self._max} reached"))
                continue
            thread = threading.Thread(
                target=self._serve_counted, args=(conn, label, number), name=f"client-{number}", daemon=True
            )
            thread.start()

    def _serve_counted(self, conn: socket.socket, label: str, number: int) -> None:
        try:
            self.serve(conn, label, number)
        except TcpcliError as exc:
            self._reporter.error(exc.message)  # the client did not follow the script: the server goes on
        finally:
            with self._lock:
                self._active -= 1

    def serve(self, conn: socket.socket, label: str, number: int) -> None:
        """One client through the script; TcpcliError naming the client when it does not follow it."""
        assert self._settings.listen is not None
        self._reporter.event(ClientConnected(label, self._active or 1))
        stream: Connection = conn
        try:
            if self._context is not None:
                from tcpcli.modes.listen import TLS_HANDSHAKE_TIMEOUT
                from tcpcli.net.tls import wrap_server

                stream = wrap_server(conn, self._context, self._reporter, TLS_HANDSHAKE_TIMEOUT)  # type: ignore[arg-type]
            keep_open = self._settings.listen.keep_open
            shown = number if keep_open else None
            log = _converse(stream, self._settings, f"client {label}", shown, self._recorder)
        except TcpcliError as exc:
            raise TcpcliError(f"client {label}: {exc.message}", exc.exit_code) from exc
        finally:
            stream.close()
        self._reporter.event(ClientLeft(label, log.sent_bytes, log.received_bytes, "followed the script"))
