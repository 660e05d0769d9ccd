"""-u: UDP in connect mode, listen mode and `-z`, on the datagram engine with the pipes or terminal front."""

from __future__ import annotations

import socket
import time

from tcpcli.core.events import Listening, format_address
from tcpcli.core.link import LinkPolicy
from tcpcli.engine.datagram import RECEIVE_BUFFER, DatagramEngine, icmp_refused
from tcpcli.engine.taps import HexLog, OutputFile
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.net.bind import bind_listener, listening_address
from tcpcli.net.connect import open_udp
from tcpcli.report import Reporter
from tcpcli.settings import Settings, View

__all__ = ["QUIT_AFTER_EOF", "probe_udp", "run_udp_connect", "run_udp_listen"]

# Connect mode: after stdin ends, replies keep coming for this long by default (-q S changes it): a
# request/response exchange (`echo query | tcpcli -u dns 53`) gets its answer without a -q.
QUIT_AFTER_EOF = 0.5


def _engine(sock: socket.socket, settings: Settings, reporter: Reporter, **kwargs: object) -> DatagramEngine:
    session = settings.session
    renderer = None
    if settings.view.view is View.HEX:
        from tcpcli.fronts.pipes.render import DatagramHexRenderer

        renderer = DatagramHexRenderer()
    hex_log = HexLog(session.hex_log) if session.hex_log else None
    if session.record is not None:  # each datagram one event; the tap owns the recorder (closed with it)
        from tcpcli.engine.recorder import DatagramRecordTap, Recorder

        remote = kwargs.get("peer") if kwargs.get("connected") else None
        recorder = Recorder(session.record, settings.mode.value, session.redact, reporter.warning, udp=True)
        local = format_address(*sock.getsockname()[:2])
        hex_log = DatagramRecordTap(recorder, local, None if remote is None else str(remote), hex_log)
    return DatagramEngine(
        sock,
        reporter,
        renderer=renderer,
        output=OutputFile(session.output) if session.output else None,
        hex_log=hex_log,
        timestamps=settings.view.timestamps,
        crlf=session.crlf,
        **kwargs,  # type: ignore[arg-type]
    )


def _terminal(
    sock: socket.socket, settings: Settings, reporter: Reporter, label: str, **kwargs: object
) -> int:
    """The terminal front on the UDP engine: a typed line is a datagram, a datagram a record with its size."""
    from tcpcli.engine.datagram import DatagramChannel
    from tcpcli.fronts.terminal.inbox import BACKLOG, Inbox
    from tcpcli.modes.terminal import preload

    preload()
    started = time.monotonic()
    inbox = Inbox(BACKLOG)
    engine = _engine(sock, settings, reporter, receiver=inbox, input_fd=None, **kwargs)
    channel = DatagramChannel(engine, inbox)
    channel.start()
    import asyncio

    from tcpcli.fronts.terminal.one import InteractiveSession
    from tcpcli.fronts.terminal.plainfront import terminal_can_be_driven

    plain = not terminal_can_be_driven(settings.env.variables)
    session = InteractiveSession(
        channel,  # type: ignore[arg-type]
        settings,
        label,
        started=started,
        environ=settings.env.variables,
        plain=plain,
    )
    with sock:
        try:
            return asyncio.run(session.run())
        finally:
            engine.close()


def run_udp_connect(settings: Settings, reporter: Reporter) -> int:
    """`tcpcli -u HOST PORT`: stdin lines out, datagrams in; ICMP port unreachable is 69."""
    connect = settings.connect
    assert connect is not None
    session = settings.session
    sock = open_udp(connect, reporter.event)
    peer = format_address(*sock.getpeername()[:2])
    quit_after = QUIT_AFTER_EOF if session.quit_after_eof is None else session.quit_after_eof
    policy = LinkPolicy(quit_after, session.idle_timeout)
    if settings.env.interactive:
        return _terminal(sock, settings, reporter, peer, policy=policy, connected=True, peer=peer)
    with sock:
        return _engine(sock, settings, reporter, policy=policy, connected=True, peer=peer).run()


def run_udp_listen(settings: Settings, reporter: Reporter) -> int:
    """`tcpcli -u -l [HOST] PORT`: datagrams from any number of peers until Ctrl-C (or -i, -q after EOF)."""
    listen = settings.listen
    assert listen is not None
    session = settings.session
    sock = bind_listener(listen, socket.SOCK_DGRAM)
    reporter.always(Listening(listening_address(sock)))  # first stderr line: scripts read the port
    policy = LinkPolicy(session.quit_after_eof, session.idle_timeout)
    if settings.env.interactive:
        label = f"UDP {listening_address(sock)} (replies go to the last sender)"
        return _terminal(sock, settings, reporter, label, policy=policy, connected=False, echo=listen.echo)
    with sock:
        return _engine(sock, settings, reporter, policy=policy, connected=False, echo=listen.echo).run()


def probe_udp(settings: Settings, reporter: Reporter) -> int:
    """`-z -u`: one datagram, then -w (default 2 s) for an answer: 0 answered, 1 ICMP refused, 75 silent."""
    connect = settings.connect
    assert connect is not None
    sock = open_udp(connect, reporter.event)
    peer = format_address(*sock.getpeername()[:2])
    deadline = time.monotonic() + connect.connect_timeout
    with sock:
        try:
            sock.send(connect.udp_probe)  # --send DATA; default an empty datagram
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    sock.recv(RECEIVE_BUFFER)
                except TimeoutError:
                    break
                return ExitCode.OK
        except ConnectionRefusedError as exc:
            if settings.session.verbose:
                reporter.error(icmp_refused(peer).message)
            _ = exc
            return ExitCode.PORT_CLOSED
        except OSError as exc:
            raise translate_os_error(exc, f"UDP to {peer}") from exc
    raise TcpcliError(
        f"UDP {peer}: no answer within {connect.connect_timeout:g} s (open or filtered; -w waits longer)",
        ExitCode.TIMEOUT,
    )
