"""Listen mode: bind, announce the address, then serve one client like connect mode, or many (-k).

Without -k and without the relay options the one client gets exactly the connect-mode session (views, EOF
policy, -q, -o, interactive mode). -k, --echo, --broadcast, --idle-message and --exec need the server to keep
talking to clients on its own, so they run the asyncio server; without -k it still serves a single client.
"""

from __future__ import annotations

import socket
import ssl
from typing import cast

from tcpcli.core.events import ClientConnected, Listening
from tcpcli.engine.acceptor import TLS_HANDSHAKE_TIMEOUT  # one bound for every accepted client's handshake
from tcpcli.engine.client import peer_label
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.modes.connect import run_on_socket
from tcpcli.net.bind import listener_for, listening_address, raise_open_file_limit
from tcpcli.net.sockopts import apply_socket_options
from tcpcli.net.unix import unix_client_label
from tcpcli.report import Reporter
from tcpcli.settings import ListenSettings, Settings, View

__all__ = ["TLS_HANDSHAKE_TIMEOUT", "needs_server_engine", "run_listen"]

# --greet-file through TLS (no sendfile there): read and sent this much at a time.
_FILE_CHUNK = 256 * 1024


def run_listen(settings: Settings, reporter: Reporter) -> int:
    """Bind, announce, serve; the exit status (errors raise TcpcliError, signals their exceptions)."""
    listen = settings.listen
    assert listen is not None
    if listen.udp:
        from tcpcli.modes.udp import run_udp_listen

        return run_udp_listen(settings, reporter)
    context = _tls_context(listen)  # bad certificate or key: fail before binding
    if listen.exec_argv is not None:
        _check_program(listen.exec_argv)
    many = needs_server_engine(listen)
    if many:
        raise_open_file_limit()
    with listener_for(listen) as listener:
        return _serve(listener, settings, reporter, context, many)


def _serve(
    listener: socket.socket,
    settings: Settings,
    reporter: Reporter,
    context: ssl.SSLContext | None,
    many: bool,
) -> int:
    """Announce the bound listener, then serve one client or many."""
    listen = settings.listen
    assert listen is not None
    reporter.always(Listening(listening_address(listener)))  # first stderr line: scripts read the port
    if not many:
        return _serve_one(listener, settings, reporter, context)
    # --exec: the programs answer the clients, tcpcli's own terminal and stdin play no part
    interactive = settings.env.interactive and listen.exec_argv is None
    if listen.exec_argv is not None:
        _warn_unused_with_exec(settings, reporter)
    from tcpcli.modes.many import serve_many

    return serve_many(listener, settings, reporter, interactive, context)


def needs_server_engine(listen: ListenSettings) -> bool:
    """The options that make the server act on its own (not just pipe bytes) need the asyncio server."""
    return (
        listen.keep_open
        or listen.echo
        or listen.broadcast
        or listen.idle_message is not None
        or listen.exec_argv is not None
    )


def _check_program(argv: tuple[str, ...]) -> None:
    """A program that cannot be run would fail every client: say so before binding (exit 66)."""
    from tcpcli.engine.program import check_program

    if (problem := check_program(argv)) is not None:
        raise TcpcliError(f"--exec: cannot run {problem}", ExitCode.NO_INPUT)


def _send_greet_file(stream: socket.socket, path: str) -> None:
    """The file's bytes as they are now; sendfile(2) on a plain socket, chunks through TLS (flat memory)."""
    try:
        file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise TcpcliError(f"--greet-file {path}: {exc.strerror or exc}", ExitCode.NO_INPUT) from exc
    with file:
        if isinstance(stream, socket.socket):
            stream.sendfile(file)
            return
        while chunk := file.read(_FILE_CHUNK):
            stream.sendall(chunk)


def _tls_context(listen: ListenSettings) -> ssl.SSLContext | None:
    if not listen.tls.enabled:
        return None
    from tcpcli.net.tls import server_context

    return server_context(listen.tls)


def _serve_one(
    listener: socket.socket, settings: Settings, reporter: Reporter, context: ssl.SSLContext | None
) -> int:
    """Accept one client, close the listener (a second client is refused, as with nc), run the session."""
    assert settings.listen is not None
    unix_label = unix_client_label(listener, 1)  # before the listener closes
    try:
        conn, address = listener.accept()
    except OSError as exc:
        raise translate_os_error(exc, "accepting a client") from exc
    finally:
        listener.close()
    stream = conn
    label = unix_label or peer_label(address)
    try:
        apply_socket_options(conn, settings.listen.sockopts)
        reporter.event(ClientConnected(label, 1))
        if context is not None:
            from tcpcli.net.tls import wrap_server

            # duck-typed: the TLS channel has the socket calls the sessions make
            stream = cast(socket.socket, wrap_server(conn, context, reporter, TLS_HANDSHAKE_TIMEOUT))
        if settings.listen.greet:
            stream.sendall(settings.listen.greet)
        if settings.listen.greet_file is not None:
            _send_greet_file(stream, settings.listen.greet_file)
    except TcpcliError:
        conn.close()
        raise
    except OSError as exc:
        conn.close()
        raise translate_os_error(exc, f"greeting {label}") from exc
    return run_on_socket(stream, settings, reporter, label)


def _warn_unused_with_exec(settings: Settings, reporter: Reporter) -> None:
    """With --exec tcpcli does not show or log clients' bytes itself (only --hex-log): say what is ignored."""
    session, view = settings.session, settings.view
    unused = [
        name
        for name, given in (
            ("-x/-b/--struct", view.view is not View.TEXT),
            ("-t/--timestamps", view.timestamps),
            ("-o", session.output is not None),
            ("-q", session.quit_after_eof is not None),
            ("--no-half-close", not session.half_close),
        )
        if given
    ]
    if unused:
        reporter.warning(
            f"{', '.join(unused)}: not applied with --exec/--sh-exec (the program gets the bytes)"
        )
