"""Resolve a host and connect to it within the connect timeout, trying each address in turn."""

from __future__ import annotations

__all__ = ["Address", "connect_to", "open_connection", "open_udp", "resolve", "target_label", "with_port"]

import socket
import threading
import time
from collections.abc import Callable

from tcpcli.core.events import Connected, Event, Resolving, Trying, format_address
from tcpcli.errors import ExitCode, TcpcliError, translate_os_error
from tcpcli.net.sockopts import apply_socket_options
from tcpcli.settings import ConnectSettings

Report = Callable[[Event], None]
Address = tuple[int, tuple[str, int] | tuple[str, int, int, int]]

# When a name has several addresses, one that does not answer must not eat the whole -w budget.
MIN_ATTEMPT_SECONDS = 2.0


def open_connection(settings: ConnectSettings, report: Report) -> socket.socket:
    """A connected, blocking socket (TCP, -U Unix, or through --proxy), or a TcpcliError with its code."""
    if settings.unix is not None:
        from tcpcli.net.unix import connect_unix, show_unix

        report(Trying(show_unix(settings.unix)))
        sock = connect_unix(settings.unix, settings.connect_timeout)
        report(Connected("unix socket", show_unix(settings.unix)))
        return sock
    if settings.proxy is not None:
        from tcpcli.net.proxy import open_proxied

        return open_proxied(settings, report)
    deadline = time.monotonic() + settings.connect_timeout
    addresses = resolve(settings.host, settings.port, settings.family, deadline, report)
    return connect_to(addresses, settings, report, deadline)


def target_label(settings: ConnectSettings) -> str:
    """How messages name what we connect to: `host:port`, `unix:/run/app.sock` or `@name`."""
    if settings.unix is not None:
        from tcpcli.net.unix import show_unix

        return show_unix(settings.unix)
    return format_address(settings.host, settings.port)


def with_port(addresses: list[Address], port: int) -> list[Address]:
    """The same resolved addresses with another port (-z checks many ports after one look-up)."""
    return [(family, (sockaddr[0], port, *sockaddr[2:])) for family, sockaddr in addresses]


def connect_to(
    addresses: list[Address],
    settings: ConnectSettings,
    report: Report,
    deadline: float | None = None,
    doing: str | None = None,
) -> socket.socket:
    """Try each resolved address in turn until `deadline` (time.monotonic(); default: -w from now).

    `doing` starts the failure's message (default `connect to HOST:PORT`; the proxy hop says `proxy ...`).
    """
    if deadline is None:
        deadline = time.monotonic() + settings.connect_timeout
    last_error: OSError | None = None
    for index, (family, sockaddr) in enumerate(addresses):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        left = len(addresses) - index
        attempt = remaining if left == 1 else min(remaining, max(remaining / left, MIN_ATTEMPT_SECONDS))
        report(Trying(format_address(sockaddr[0], sockaddr[1])))
        try:
            sock = _connect_one(family, sockaddr, settings, attempt)
        except TcpcliError:
            raise
        except OSError as exc:
            last_error = exc
            continue
        local = sock.getsockname()
        report(Connected(format_address(local[0], local[1]), format_address(sockaddr[0], sockaddr[1])))
        return sock
    doing = doing or f"connect to {format_address(settings.host, settings.port)}"
    if last_error is None:
        raise TcpcliError(
            f"{doing}: timed out after {settings.connect_timeout:g} s (raise it with -w)",
            ExitCode.TIMEOUT,
        )
    error = translate_os_error(last_error, doing)
    if error.exit_code is ExitCode.TIMEOUT:
        error.message += f" after {settings.connect_timeout:g} s (raise it with -w)"
    raise error from last_error


def _connect_one(
    family: int,
    sockaddr: tuple[str, int] | tuple[str, int, int, int],
    settings: ConnectSettings,
    timeout: float,
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if settings.source is not None or settings.source_port is not None:
            _bind_source(sock, family, settings)
        apply_socket_options(sock, settings.sockopts)
        sock.settimeout(timeout)
        sock.connect(sockaddr)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_source(sock: socket.socket, family: int, settings: ConnectSettings) -> None:
    """-s/-p: a bind failure is the user's to fix (in use, not ours), so it ends the run with its code."""
    wildcard = "::" if family == socket.AF_INET6 else "0.0.0.0"
    source = settings.source or wildcard
    port = settings.source_port or 0
    if settings.source_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((source, port))
    except socket.gaierror as exc:
        raise TcpcliError(
            f"-s {source}: not an address of the {_family_name(family)} family of the target", ExitCode.USAGE
        ) from exc
    except OSError as exc:
        raise translate_os_error(exc, f"bind to {format_address(source, port)}") from exc


def _family_name(family: int) -> str:
    return "IPv6" if family == socket.AF_INET6 else "IPv4"


def resolve(host: str, port: int, family: int, deadline: float, report: Report) -> list[Address]:
    """Addresses for host, IPv6 and IPv4 interleaved (the order the resolver prefers, then alternating)."""
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except UnicodeError as exc:  # Python's idna codec, before any look-up: settings.parse_host refuses these
        raise TcpcliError(f"{host} is not a valid host name ({exc})", ExitCode.USAGE) from exc
    except socket.gaierror:
        report(Resolving(host))
        infos = _resolve_name(host, port, family, deadline)
    if not infos:
        raise TcpcliError(f"{host}: no address of the requested family", ExitCode.NO_HOST)
    by_family: dict[int, list[Address]] = {}
    for fam, _type, _proto, _name, sockaddr in infos:
        entry: Address = (fam, sockaddr)  # type: ignore[assignment]
        if entry not in by_family.setdefault(fam, []):
            by_family[fam].append(entry)
    queues = list(by_family.values())
    ordered: list[Address] = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


def _resolve_name(host: str, port: int, family: int, deadline: float) -> list[tuple]:  # type: ignore[type-arg]
    """getaddrinfo cannot be cancelled, so it runs in a daemon thread bounded by the connect timeout."""
    result: list[object] = []

    def lookup() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, family, socket.SOCK_STREAM))
        except OSError as exc:
            result.append(exc)

    worker = threading.Thread(target=lookup, daemon=True, name="resolve")
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if not result:
        raise TcpcliError(f"resolving {host}: timed out (raise it with -w)", ExitCode.TIMEOUT)
    outcome = result[0]
    if isinstance(outcome, socket.gaierror):
        what = (
            "is not a known host name"
            if outcome.errno == socket.EAI_NONAME
            else f"cannot be resolved ({outcome.strerror})"
        )
        if family != socket.AF_UNSPEC and outcome.errno in (
            socket.EAI_NONAME,
            getattr(socket, "EAI_NODATA", -5),
            socket.EAI_ADDRFAMILY,
        ):
            what = f"has no {'IPv6' if family == socket.AF_INET6 else 'IPv4'} address"
        raise TcpcliError(f"{host} {what} (check the spelling)", ExitCode.NO_HOST) from outcome
    if isinstance(outcome, OSError):
        raise translate_os_error(outcome, f"resolving {host}") from outcome
    return outcome  # type: ignore[return-value]


def open_udp(settings: ConnectSettings, report: Report) -> socket.socket:
    """-u: a UDP socket connected to HOST PORT (the kernel then filters other senders out and reports an ICMP
    port unreachable as ECONNREFUSED on the next send or receive). Nothing goes on the wire here.
    """
    deadline = time.monotonic() + settings.connect_timeout
    addresses = resolve(settings.host, settings.port, settings.family, deadline, report)
    family, sockaddr = addresses[0]  # no handshake tells a dead address from a live one: take the first
    report(Trying(format_address(sockaddr[0], sockaddr[1])))
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if settings.source is not None or settings.source_port is not None:
            _bind_source(sock, family, settings)
        sock.connect(sockaddr)
    except TcpcliError:
        sock.close()
        raise
    except OSError as exc:
        sock.close()
        raise translate_os_error(exc, f"UDP to {format_address(settings.host, settings.port)}") from exc
    local = sock.getsockname()
    report(Connected(format_address(local[0], local[1]), format_address(sockaddr[0], sockaddr[1])))
    return sock
