"""`--proxy URL`: reach HOST PORT through a SOCKS4/4a/5 or HTTP CONNECT proxy, with errors that name the hop.

The handshakes are python-socks' (imported only here, only when --proxy is given). tcpcli resolves the proxy's
own name (bounded by -w, with its usual wording) and, for socks5:// and socks4://, the target's too; with
socks5h://, socks4a:// and http:// the proxy gets the name. Credentials never appear in a message: the proxy
is named by HOST:PORT only.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

from tcpcli.core.events import Connected, Event, Trying, format_address
from tcpcli.errors import ExitCode, TcpcliError, UsageError, translate_os_error
from tcpcli.net.connect import resolve
from tcpcli.net.sockopts import apply_socket_options
from tcpcli.settings import ConnectSettings, ProxySettings

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "SCHEMES",
    "ProxyHopError",
    "ProxyUrlError",
    "open_proxied",
    "parse_proxy_url",
    "proxy_error",
    "read_proxy_auth",
]

SCHEMES = ("socks5", "socks5h", "socks4", "socks4a", "http")
SOCKS_DEFAULT_PORT = (
    1080  # the IANA port for SOCKS; an HTTP proxy has no such default, so its port is required
)

# RFC 1928 section 6: the reply field of a SOCKS5 server that could not make the connection.
SOCKS5_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by the proxy's rules",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}
# SOCKS4: 91 is the one failure a server reports for the target; 92 and 93 are identd (user id) refusals.
SOCKS4_REJECTED = 91
SOCKS4_IDENT_REFUSALS = {92, 93}
HTTP_AUTH_STATUSES = {401, 407}


class ProxyUrlError(ValueError):
    """A `--proxy` URL tcpcli cannot use (the message never repeats credentials)."""


class ProxyHopError(TcpcliError):
    """The proxy itself failed (unreachable, handshake, credentials): `-z` reports it, not "closed"."""


def parse_proxy_url(url: str) -> ProxySettings:
    """`scheme://[USER[:PASS]@]HOST[:PORT]` -> ProxySettings; USER and PASS are percent-decoded.

    Raises ProxyUrlError for another scheme, no host, a bad port, or a path/query (a proxy URL has none).
    """
    from urllib.parse import unquote, urlsplit

    if "://" not in url:
        raise ProxyUrlError(f"the URL needs a scheme: {', '.join(s + '://' for s in SCHEMES)}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ProxyUrlError(f"bad proxy address ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ProxyUrlError(f"unknown scheme '{scheme}://' (use {', '.join(s + '://' for s in SCHEMES)})")
    host = parts.hostname
    if not host:
        raise ProxyUrlError(f"no proxy host in the URL (try {scheme}://127.0.0.1:1080)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ProxyUrlError("a proxy URL has no path, query or fragment (scheme://HOST:PORT)")
    if port is None:
        if scheme == "http":
            raise ProxyUrlError(f"give the HTTP proxy's port: http://{format_address(host, 8080)}")
        port = SOCKS_DEFAULT_PORT
    if port == 0:
        raise ProxyUrlError("the proxy's port must be 1-65535")
    username = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    proxy = ProxySettings(scheme, host, port, shown=f"{scheme}://{format_address(host, port)}")
    return _with_credentials(proxy, username, password)


def read_proxy_auth(path: str) -> tuple[str, str | None]:
    """(USER, PASS) from FILE's one line `USER:PASS` (trailing newline ignored).

    Raises TcpcliError 66 when FILE cannot be read, UsageError when its line is not USER:PASS (the contents
    are never quoted).
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read(64 * 1024)
    except OSError as exc:
        raise TcpcliError(f"--proxy-auth {path}: cannot read it ({exc.strerror})", ExitCode.NO_INPUT) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"--proxy-auth {path}: not UTF-8 text (expected one line USER:PASS)") from exc
    line = text.removesuffix("\n").removesuffix("\r")
    user, colon, password = line.partition(":")
    if not user or not colon or "\n" in line:
        raise UsageError(f"--proxy-auth {path}: expected one line USER:PASS")
    return user, password


def _with_credentials(proxy: ProxySettings, username: str | None, password: str | None) -> ProxySettings:
    if username is not None and not username:
        raise ProxyUrlError("empty user name before '@'")
    if proxy.scheme.startswith("socks4") and password:
        raise ProxyUrlError("SOCKS4 carries a user id only, no password (use socks5:// for USER:PASS)")
    return proxy._replace(username=username, password=password)


def open_proxied(connect: ConnectSettings, report: Callable[[Event], None]) -> socket.socket:
    """A blocking socket connected to HOST PORT through `connect.proxy`, within -w from now (each step).

    Errors: ProxyHopError for the proxy itself (unreachable 69/68/75, rejected credentials 77), TcpcliError
    69 (68 for a name the proxy could not resolve) when the proxy could not reach the target, 75 on timeout.
    """
    proxy = connect.proxy
    assert proxy is not None
    deadline = time.monotonic() + connect.connect_timeout
    hop = format_address(proxy.host, proxy.port)
    try:
        proxy_ip = resolve(proxy.host, proxy.port, socket.AF_UNSPEC, deadline, report)[0][1][0]
    except TcpcliError as exc:
        raise ProxyHopError(f"proxy {hop}: {exc.message}", exc.exit_code) from exc
    destination = connect.host
    if not proxy.remote_dns:  # tcpcli resolves; the proxy gets an address (SOCKS4 carries IPv4 only)
        family = socket.AF_INET if proxy.scheme == "socks4" else connect.family
        destination = resolve(connect.host, connect.port, family, deadline, report)[0][1][0]
    target = format_address(connect.host, connect.port)
    report(Trying(f"{format_address(destination, connect.port)} through proxy {hop}"))
    sock = _handshake(proxy, proxy_ip, destination, connect, deadline)
    try:
        sock.settimeout(None)
        apply_socket_options(sock, connect.sockopts)
        local = sock.getsockname()
    except OSError as exc:
        sock.close()
        raise translate_os_error(exc, f"proxy {hop}") from exc
    report(Connected(format_address(local[0], local[1]), f"{target} through proxy {hop}"))
    return sock


def _handshake(
    proxy: ProxySettings, proxy_ip: str, destination: str, connect: ConnectSettings, deadline: float
) -> socket.socket:
    from python_socks import ProxyType
    from python_socks.sync import Proxy

    kinds = {"socks5": ProxyType.SOCKS5, "socks5h": ProxyType.SOCKS5, "http": ProxyType.HTTP}
    kinds.update(socks4=ProxyType.SOCKS4, socks4a=ProxyType.SOCKS4)
    client = Proxy.create(
        kinds[proxy.scheme], proxy_ip, proxy.port, proxy.username, proxy.password, rdns=proxy.remote_dns
    )
    remaining = max(0.001, deadline - time.monotonic())
    try:
        return client.connect(destination, connect.port, timeout=remaining)
    except Exception as exc:  # python-socks' errors (and raw OSErrors from its stream): mapped in one place
        raise proxy_error(
            exc, proxy, format_address(connect.host, connect.port), connect.connect_timeout
        ) from exc


def proxy_error(exc: BaseException, proxy: ProxySettings, target: str, timeout: float) -> TcpcliError:
    """The one mapping from python-socks' exceptions to a message naming the hop and an exit code."""
    from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

    hop = format_address(proxy.host, proxy.port)
    if isinstance(exc, ProxyTimeoutError):
        return TcpcliError(
            f"proxy {hop}: no answer about {target} within {timeout:g} s (raise it with -w)", ExitCode.TIMEOUT
        )
    if isinstance(exc, ProxyConnectionError):
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
        error = translate_os_error(cause, f"proxy {hop}")
        if error.exit_code is ExitCode.TIMEOUT:
            error.message += f" after {timeout:g} s (raise it with -w)"
        return ProxyHopError(error.message, error.exit_code)
    if isinstance(exc, ProxyError):
        return _reply_error(str(exc), exc.error_code, proxy, hop, target)
    if isinstance(exc, OSError):
        error = translate_os_error(exc, f"proxy {hop}")
        return ProxyHopError(error.message, error.exit_code)
    return ProxyHopError(f"proxy {hop}: handshake failed ({exc})", ExitCode.UNAVAILABLE)


def _reply_error(reason: str, code: int | None, proxy: ProxySettings, hop: str, target: str) -> TcpcliError:
    """A proxy's refusal: of our credentials (77), or to reach the target (69)."""
    unreached = f"proxy {hop} could not reach {target}"
    if proxy.scheme == "http" and code is not None:
        if code in HTTP_AUTH_STATUSES:
            return ProxyHopError(
                f"proxy {hop}: {_credentials_problem(proxy)} (HTTP {reason})", ExitCode.NO_PERMISSION
            )
        return TcpcliError(f"{unreached}: HTTP {reason}", ExitCode.UNAVAILABLE)
    if proxy.scheme.startswith("socks5") and code is not None:
        return TcpcliError(
            f"{unreached}: {SOCKS5_REPLIES.get(code, 'unknown reply')} (SOCKS5 reply {code})",
            ExitCode.UNAVAILABLE,
        )
    if proxy.scheme.startswith("socks4") and code is not None:
        if code in SOCKS4_IDENT_REFUSALS:
            return ProxyHopError(
                f"proxy {hop}: user id refused by identd (SOCKS4 reply {code})", ExitCode.NO_PERMISSION
            )
        return TcpcliError(
            f"{unreached}: request rejected or failed (SOCKS4 reply {code})", ExitCode.UNAVAILABLE
        )
    lowered = reason.lower()
    if "authentication failure" in lowered or "no acceptable authentication" in lowered:
        return ProxyHopError(f"proxy {hop}: {_credentials_problem(proxy)}", ExitCode.NO_PERMISSION)
    return ProxyHopError(
        f"proxy {hop}: handshake failed ({reason}; is it a {proxy.scheme}:// proxy?)", ExitCode.UNAVAILABLE
    )


def _credentials_problem(proxy: ProxySettings) -> str:
    if proxy.username is None:
        return "it wants a user name and password (USER:PASS@ in the URL, or --proxy-auth FILE)"
    return "it rejected the user name or password"
