"""The listening socket: dual-stack unless -4/-6 or a HOST narrows it, bind errors as one-line exit codes."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from collections.abc import Iterator

from tcpcli.core.events import format_address
from tcpcli.errors import ExitCode, TcpcliError, UsageError, translate_os_error
from tcpcli.settings import ListenSettings

# A burst of clients (a load test, the 10,000-client bench) must queue in the kernel rather than be refused
# while the accept loop catches up; the kernel caps this at net.core.somaxconn anyway.
LISTEN_BACKLOG = 4096

# The kernel said "no IPv6 here" (module not loaded, disabled by sysctl): fall back to IPv4 only.
_NO_IPV6 = {errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT}


def bind_listener(settings: ListenSettings, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A bound, listening, blocking socket; every failure is a TcpcliError with its exit code.

    `kind` socket.SOCK_DGRAM (-u): a bound UDP socket, the same addresses and errors, nothing to listen().
    """
    if settings.host is None:
        return _bind_wildcard(settings.port, settings.family, kind)
    family, sockaddr = _resolve(settings.host, settings.port, settings.family)
    return _bind(family, sockaddr, v6only=settings.family == socket.AF_INET6, kind=kind)


@contextlib.contextmanager
def listener_for(settings: ListenSettings) -> Iterator[socket.socket]:
    """The -l listening socket, TCP or Unix (-U), for the length of the `with` block.

    A Unix socket's file is removed on the way out (errors, Ctrl-C and SIGTERM, raised as exceptions,
    included) if it is still ours. The socket itself is the caller's to close (it may hand it on).
    """
    if settings.unix is None:
        yield bind_listener(settings)
        return
    from tcpcli.net.unix import bind_unix

    listener, socket_file = bind_unix(settings.unix, LISTEN_BACKLOG)
    try:
        yield listener
    finally:
        if socket_file is not None:
            socket_file.remove()


def listening_address(sock: socket.socket) -> str:
    """`[::]:PORT`, `0.0.0.0:PORT` or the bound address: the real port when the user asked for 0.

    A Unix socket: `unix:PATH`, or `@name` for an abstract one.
    """
    if sock.family == socket.AF_UNIX:
        from tcpcli.net.unix import show_bound

        return show_bound(sock)
    host, port = sock.getsockname()[:2]
    return format_address(host, port)


def raise_open_file_limit() -> None:
    """Many clients need many descriptors: lift the soft limit to the hard one where the OS allows it."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20  # macOS refuses "infinity" for files
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _bind_wildcard(port: int, family: int, kind: int = socket.SOCK_STREAM) -> socket.socket:
    if family == socket.AF_INET:
        return _bind(socket.AF_INET, ("0.0.0.0", port), v6only=False, kind=kind)
    if family == socket.AF_INET6:
        return _bind(socket.AF_INET6, ("::", port), v6only=True, kind=kind)
    # One `::` socket with IPV6_V6ONLY off takes IPv4 clients too (as ::ffff:a.b.c.d).
    try:
        return _bind(socket.AF_INET6, ("::", port), v6only=False, raw_errors=True, kind=kind)
    except OSError as exc:
        if exc.errno not in _NO_IPV6:
            raise translate_os_error(exc, f"listen on {format_address('::', port)}") from exc
    return _bind(socket.AF_INET, ("0.0.0.0", port), v6only=False, kind=kind)


def _resolve(host: str, port: int, family: int) -> tuple[int, tuple[str, int]]:
    """The first address for HOST (a literal of the wrong family for -4/-6 is a usage error)."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and family != socket.AF_UNSPEC:
        wanted = 4 if family == socket.AF_INET else 6
        if literal.version != wanted:
            raise UsageError(f"listen address {host} is not an IPv{wanted} address (-{wanted})")
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except OSError as exc:
        raise translate_os_error(exc, f"listen address {host}") from exc
    if not infos:
        raise TcpcliError(f"listen address {host}: no address of the requested family", ExitCode.NO_HOST)
    fam, _type, _proto, _name, sockaddr = infos[0]
    return fam, (str(sockaddr[0]), int(sockaddr[1]))


def _bind(
    family: int,
    sockaddr: tuple[str, int],
    *,
    v6only: bool,
    raw_errors: bool = False,
    kind: int = socket.SOCK_STREAM,
) -> socket.socket:
    try:
        sock = socket.socket(family, kind)
    except OSError as exc:
        if raw_errors:
            raise
        raise translate_os_error(exc, "creating the listening socket") from exc
    try:
        # Restarting a test server must not fail on the previous run's TIME_WAIT connections; on Linux this
        # still refuses a port another process is listening on.
        # (Not for UDP: there it would let two programs share the port and split its datagrams.)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
        sock.bind(sockaddr)
        if kind == socket.SOCK_STREAM:
            sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        if raw_errors:
            raise
        raise translate_os_error(exc, f"listen on {format_address(*sockaddr)}") from exc
    return sock
