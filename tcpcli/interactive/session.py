"""Interactive mode's entry: start reading the connection at once, then bring up the screen.

Light on purpose (no prompt_toolkit, no rich): the reader thread starts the moment the connection is open,
while the screen's libraries are still loading (0.2-0.4 s), so `-t` stamps each chunk when it arrived and
the closing line's duration counts from the connect. The screen catches up with what was read meanwhile.
"""

from __future__ import annotations

import time

from tcpcli.connection import Connection
from tcpcli.core.link import LinkPolicy
from tcpcli.engine.pair import Channel
from tcpcli.interactive.inbox import Inbox
from tcpcli.report import Reporter
from tcpcli.settings import Settings
from tcpcli.taps import HexLog, OutputFile

__all__ = ["BACKLOG", "FLOOD_TAIL", "FRAME", "run_interactive", "start_channel", "tls_state"]

# Received data is drawn at most once per frame: what arrives meanwhile is printed in one go.
FRAME = 0.03
# Received bytes waiting for the screen; beyond this the oldest are skipped (their display only: -o has them).
BACKLOG = 256 * 1024
# After a skip, a frame shows only the newest bytes: a flood scrolls past faster than anyone reads anyway.
FLOOD_TAIL = 4 * 1024


def start_channel(conn: Connection, settings: Settings, peer: str) -> Channel:
    """The reader and writer threads, running from now on; received bytes wait in the channel's Inbox."""
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
    started = time.monotonic()
    channel = start_channel(conn, settings, peer)
    tls = tls_state(conn, settings)
    import asyncio  # ~150 ms: only once the reader runs

    from tcpcli.interactive.peersession import InteractiveSession
    from tcpcli.interactive.plainfront import terminal_can_be_driven

    plain = not terminal_can_be_driven(settings.env.variables)  # TERM, decided at the face
    session = InteractiveSession(
        channel, settings, peer, started=started, tls=tls, environ=settings.env.variables, plain=plain
    )
    return asyncio.run(session.run())
