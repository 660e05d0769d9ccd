"""The terminal front wired to the one-peer engine (connect mode, a single listen client, --demo).

Light on purpose (no prompt_toolkit, no rich): the engine's reader starts the moment the connection is open,
while the screen's libraries are still loading (0.2-0.4 s, `preload` overlaps them with connecting), so `-t`
stamps each chunk when it arrived and the closing line's duration counts from the connect. The screen
catches up with what was read meanwhile.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tcpcli.connection import Connection
from tcpcli.core.link import LinkPolicy
from tcpcli.engine.pair import Channel
from tcpcli.engine.taps import HexLog, OutputFile
from tcpcli.fronts.terminal.inbox import BACKLOG, Inbox
from tcpcli.report import Reporter
from tcpcli.settings import Settings

if TYPE_CHECKING:
    from tcpcli.engine.recorder import RecordTap

__all__ = ["preload", "run_interactive", "run_interactive_reconnecting", "start_channel", "tls_state"]


def preload() -> None:
    """Import the terminal front (prompt_toolkit, rich: ~150 ms) in a thread while the connection opens.

    Name resolution, the TCP handshake and TLS wait on the network with the GIL released, so the imports
    overlap them and the input line appears sooner after connecting. Importing from a thread is safe: the
    main thread simply waits on the module lock if it needs the front before the import has finished.
    The light part that starts reading the socket is imported by this module itself, before the thread: once
    connected, the reader must start at once, not wait for a module lock held by the heavy import.
    """
    threading.Thread(
        target=importlib.import_module,
        args=("tcpcli.fronts.terminal.one",),
        name="tcpcli-preload",
        daemon=True,
    ).start()


def start_channel(
    conn: Connection, settings: Settings, peer: str, record: RecordTap | None = None
) -> Channel:
    """The reader and writer threads, running from now on; received bytes wait in the channel's Inbox.

    `record`: --record's tap for this connection."""
    session = settings.session
    channel = Channel(
        conn,
        Inbox(BACKLOG),
        peer,
        output=OutputFile(session.output) if session.output else None,
        hex_log=HexLog(session.hex_log) if session.hex_log else None,
        timestamps=settings.view.timestamps,
        telnet=session.telnet,
        policy=LinkPolicy(session.quit_after_eof, session.idle_timeout),
        record=record,
    )
    channel.start()
    return channel


def tls_state(conn: Connection, settings: Settings) -> tuple[str, bool | None] | None:
    """(TLS version, whether the peer's certificate was verified) or None for plain TCP.

    Verified is None where no check applies: a TLS server that asks its clients for no certificate.
    """
    version = getattr(conn, "version", None)
    if version is None or not callable(version):
        return None
    shown = str(version() or "TLS")
    if settings.connect is not None:
        return shown, not settings.connect.tls.insecure  # the handshake fails when a required check fails
    if settings.listen is not None and settings.listen.tls.cafile:
        return shown, True
    return shown, None


def run_interactive(conn: Connection, settings: Settings, reporter: Reporter, peer: str) -> int:
    """Called by modes.connect: the exit status (0 peer closed, 130 Ctrl-C); errors raise TcpcliError."""
    if settings.session.record is None:
        return _session(conn, settings, peer)[0]
    from tcpcli.engine.recorder import record_one

    with record_one(conn, settings, reporter) as tap:
        return _session(conn, settings, peer, tap)[0]


def run_interactive_reconnecting(
    open_conn: Callable[[], Connection], settings: Settings, reporter: Reporter
) -> int:
    """--reconnect in a terminal: a new session each time the peer closes or resets, until Ctrl-D or Ctrl-C.

    The `reconnecting to ...` line is always shown here (a person is watching); Ctrl-C during a wait is 130.
    """
    from tcpcli.errors import ExitCode, TcpcliError
    from tcpcli.modes.reconnect import RETRIED, Retrying, peer_of

    connect = settings.connect
    assert connect is not None
    retrying = Retrying(connect, reporter, always=True)
    while True:
        lasted: float | None = None
        failure: TcpcliError | None = None
        code = 0
        try:
            conn = open_conn()
        except TcpcliError as exc:
            if exc.exit_code not in RETRIED:
                raise
            failure = exc
            reporter.error(exc.message)
        else:
            started = time.monotonic()
            channel = None
            try:
                code, channel = _session(conn, settings, peer_of(conn, connect))
                if code != 0 or channel.link.input_ended_at is not None:
                    return code  # Ctrl-C, or Ctrl-D and then the peer closed: the person is done
            except TcpcliError as exc:
                if exc.exit_code is not ExitCode.IO_ERROR:
                    raise
                failure = exc
                reporter.error(exc.message)
            lasted = time.monotonic() - started
        if not retrying.wait(lasted):
            if failure is not None:
                raise failure
            return code


def _session(
    conn: Connection, settings: Settings, peer: str, record: RecordTap | None = None
) -> tuple[int, Channel]:
    """One interactive session over `conn`: its exit status and the channel (whose link says how it ended)."""
    started = time.monotonic()
    channel = start_channel(conn, settings, peer, record)
    tls = tls_state(conn, settings)
    import asyncio  # ~150 ms: only once the reader runs

    from tcpcli.fronts.terminal.one import InteractiveSession
    from tcpcli.fronts.terminal.plainfront import terminal_can_be_driven

    plain = not terminal_can_be_driven(settings.env.variables)  # TERM, decided at the face
    session = InteractiveSession(
        channel, settings, peer, started=started, tls=tls, environ=settings.env.variables, plain=plain
    )
    return asyncio.run(session.run()), channel
