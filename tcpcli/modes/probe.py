"""`-z`: connect, close, and say with the exit status whether the port (any of the ports) is open."""

from __future__ import annotations

import time

from tcpcli.core.events import Connected, Event
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.net.connect import Address, connect_to, open_connection, resolve, with_port
from tcpcli.report import Reporter
from tcpcli.settings import ConnectSettings, Settings

__all__ = ["PROBES_IN_FLIGHT", "probe_port"]

# Ports checked at once for `-z HOST 1-65535`: bounds the sockets and threads a range costs (the default soft
# limit is 1024 descriptors), while a range of silent ports takes ~ports/32 times -w, not ports times -w.
PROBES_IN_FLIGHT = 32

# A closed port: the connect failed with one of these codes (refused, unreachable, silent for -w, reset).
_CLOSED = (ExitCode.UNAVAILABLE, ExitCode.TIMEOUT, ExitCode.IO_ERROR)


def probe_port(settings: Settings, reporter: Reporter) -> int:
    """0 if a port accepted, 1 if every one refused, was unreachable or silent; an unknown host is still 68.

    With several ports (`22 80 443`, `20-25`), -v reports one line per open port, in port order.
    """
    connect = settings.connect
    assert connect is not None
    if len(settings.probe_ports) > 1:
        return _probe_many(connect, settings.probe_ports, reporter)
    if connect.udp:
        from tcpcli.modes.udp import probe_udp

        return probe_udp(settings, reporter)
    if connect.reconnect is not None:
        from tcpcli.modes.reconnect import probe_until_open

        return probe_until_open(
            lambda: open_connection(connect, reporter.event), connect, reporter, settings.session.verbose
        )
    try:
        sock = open_connection(connect, reporter.event)
    except TcpcliError as exc:
        if exc.exit_code in _CLOSED and not _proxy_failed(exc):
            if settings.session.verbose:
                reporter.error(exc.message)
            return ExitCode.PORT_CLOSED
        raise
    sock.close()
    return ExitCode.OK


def _proxy_failed(exc: TcpcliError) -> bool:
    """The proxy itself failed (down, bad credentials): that says nothing about the port, so it is no `1`."""
    if type(exc) is TcpcliError or type(exc).__name__ != "ProxyHopError":
        return False
    from tcpcli.net.proxy import ProxyHopError

    return isinstance(exc, ProxyHopError)


def _probe_many(connect: ConnectSettings, ports: tuple[int, ...], reporter: Reporter) -> int:
    deadline = time.monotonic() + connect.connect_timeout
    # imported here: concurrent.futures brings logging (~13 ms), which a one-port -z must not pay for
    from concurrent.futures import ThreadPoolExecutor

    if connect.proxy is not None:  # the proxy resolves and connects: ask it once per port
        check = lambda port: _is_open_through_proxy(connect._replace(port=port))  # noqa: E731
    else:
        addresses = resolve(connect.host, ports[0], connect.family, deadline, reporter.event)
        check = lambda port: _is_open(connect, with_port(addresses, port))  # noqa: E731
    with ThreadPoolExecutor(min(PROBES_IN_FLIGHT, len(ports)), thread_name_prefix="probe") as pool:
        any_open = False
        for connected in pool.map(check, ports):
            if connected is not None:  # reported in port order, each as soon as its port is known
                reporter.event(connected)
                any_open = True
    return ExitCode.OK if any_open else ExitCode.PORT_CLOSED


def _is_open(connect: ConnectSettings, addresses: list[Address]) -> Connected | None:
    """The `connected` event if the port accepted within -w, None if it is closed."""
    events: list[Event] = []
    try:
        sock = connect_to(addresses, connect, events.append)
    except TcpcliError as exc:
        if exc.exit_code in _CLOSED:
            return None
        raise
    sock.close()
    return next((event for event in events if isinstance(event, Connected)), None)


def _is_open_through_proxy(connect: ConnectSettings) -> Connected | None:
    """As `_is_open`, through --proxy: the proxy's own failures still end the run with their code."""
    events: list[Event] = []
    try:
        sock = open_connection(connect, events.append)
    except TcpcliError as exc:
        if exc.exit_code in _CLOSED and not _proxy_failed(exc):
            return None
        raise
    sock.close()
    return next((event for event in events if isinstance(event, Connected)), None)
