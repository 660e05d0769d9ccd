"""Connect mode: open the connection, then run the session the terminal calls for (interactive or stream)."""

from __future__ import annotations

import errno

from tcpcli.connection import Connection
from tcpcli.core.events import format_address
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.net.connect import open_connection
from tcpcli.report import Reporter
from tcpcli.settings import Settings, View

__all__ = ["run_connect", "run_on_socket"]


def run_connect(settings: Settings, reporter: Reporter) -> int:
    assert settings.connect is not None
    if settings.env.interactive:
        from tcpcli.modes.terminal import preload

        preload()  # the input line's imports run while the connection is being opened
    if settings.connect.tls.enabled:
        from tcpcli.net.tls import client_context, wrap_client

        context = client_context(settings.connect.tls)  # bad certificate files fail before connecting
        sock = open_connection(settings.connect, reporter.event)
        return run_on_socket(wrap_client(sock, context, settings.connect, reporter), settings, reporter)
    return run_on_socket(open_connection(settings.connect, reporter.event), settings, reporter)


def run_on_socket(sock: Connection, settings: Settings, reporter: Reporter) -> int:
    """The session over an open connection; listen mode without -k and the demo use this for their client."""
    try:
        remote = sock.getpeername()
    except OSError as exc:  # ENOTCONN: the peer reset the connection before we got this far
        if exc.errno == errno.ENOTCONN:
            raise TcpcliError("connection reset by peer as soon as it was made", ExitCode.IO_ERROR) from exc
        raise translate_os_error(exc, "connection") from exc
    peer = format_address(remote[0], remote[1])
    if settings.env.interactive:
        from tcpcli.modes.terminal import run_interactive

        return run_interactive(sock, settings, reporter, peer)
    from tcpcli.engine.pair import FdPair

    renderer = None
    if settings.view.view in (View.HEX, View.STRUCT):  # raw output (the common case) imports no front
        from tcpcli.fronts.pipes.render import make_renderer

        renderer = make_renderer(settings.view)  # the pipes front's -x / --struct, lent to the engine
    return FdPair(sock, settings.session, settings.view, reporter, peer=peer, renderer=renderer).run()
