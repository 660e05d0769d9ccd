"""Connect mode: open the connection, then run the session the terminal calls for (interactive or stream)."""

from __future__ import annotations

import errno
from collections.abc import Callable

from tcpcli.connection import Connection
from tcpcli.core.events import format_address
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.net.connect import open_connection, target_label
from tcpcli.report import Reporter
from tcpcli.settings import Settings, View

__all__ = ["opener", "run_connect", "run_on_socket"]


def run_connect(settings: Settings, reporter: Reporter) -> int:
    assert settings.connect is not None
    if settings.env.interactive:
        from tcpcli.modes.terminal import preload

        preload()  # the input line's imports run while the connection is being opened
    if settings.connect.udp:
        from tcpcli.modes.udp import run_udp_connect

        return run_udp_connect(settings, reporter)
    open_conn = opener(settings, reporter)
    if settings.connect.reconnect is not None:
        if settings.env.interactive:
            from tcpcli.modes.terminal import run_interactive_reconnecting

            return run_interactive_reconnecting(open_conn, settings, reporter)
        from tcpcli.modes.reconnect import run_reconnecting

        return run_reconnecting(open_conn, settings, reporter)
    return run_on_socket(open_conn(), settings, reporter, _peer(settings))


def opener(settings: Settings, reporter: Reporter) -> Callable[[], Connection]:
    """The one function that opens connect mode's connection (TLS included); --reconnect calls it again."""
    connect = settings.connect
    assert connect is not None
    if not connect.tls.enabled:
        return lambda: open_connection(connect, reporter.event)
    from tcpcli.net.tls import client_context, wrap_client

    context = client_context(connect.tls)  # bad certificate files fail before connecting

    def open_tls() -> Connection:
        return wrap_client(open_connection(connect, reporter.event), context, connect, reporter)

    return open_tls


def _peer(settings: Settings) -> str | None:
    """The label for a -U socket or a target behind --proxy (the socket's peer is not what the user named)."""
    connect = settings.connect
    assert connect is not None
    if connect.unix is None and connect.proxy is None:
        return None
    return target_label(connect)


def run_on_socket(sock: Connection, settings: Settings, reporter: Reporter, peer: str | None = None) -> int:
    """The session over an open connection; listen mode without -k and the demo use this for their client.

    `peer`: the label to show; None asks the socket (a TCP peer's address).
    """
    if peer is None:
        peer = _peer_address(sock)
    if settings.env.interactive:
        from tcpcli.modes.terminal import run_interactive

        return run_interactive(sock, settings, reporter, peer)
    from tcpcli.engine.pair import FdPair

    renderer = None
    if settings.view.view in (View.HEX, View.STRUCT):  # raw output (the common case) imports no front
        from tcpcli.fronts.pipes.render import make_renderer

        renderer = make_renderer(settings.view)  # the pipes front's -x / --struct, lent to the engine
    if settings.session.record is None:
        return FdPair(sock, settings.session, settings.view, reporter, peer=peer, renderer=renderer).run()
    from tcpcli.engine.recorder import record_one

    with record_one(sock, settings, reporter) as tap:
        pair = FdPair(
            sock, settings.session, settings.view, reporter, peer=peer, renderer=renderer, record=tap
        )
        return pair.run()


def _peer_address(sock: Connection) -> str:
    try:
        remote = sock.getpeername()
    except OSError as exc:  # ENOTCONN: the peer reset the connection before we got this far
        if exc.errno == errno.ENOTCONN:
            raise TcpcliError("connection reset by peer as soon as it was made", ExitCode.IO_ERROR) from exc
        raise translate_os_error(exc, "connection") from exc
    return format_address(remote[0], remote[1])
