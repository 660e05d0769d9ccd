"""`--proxy URL`: reach HOST PORT through a SOCKS4/4a/5 or HTTP CONNECT proxy, with errors that name the hop.

The connection to the proxy is tcpcli's own (resolving bounded by -w, -s/-p, socket options); the handshake
bytes come from `core.proxywire`. tcpcli resolves the target for socks5:// and socks4://; with socks5h://,
socks4a:// and http:// the proxy gets the name. Credentials never appear in a message: the proxy is named by
HOST:PORT only. (python-socks was measured first: importing it cost 45-53 ms here, more than the whole 30 ms
budget for a proxied start, and its HTTP CONNECT reads the reply with one recv that can swallow the target's
first bytes; these handshakes are a few dozen lines.)
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import TYPE_CHECKING

from tcpcli.core import proxywire as wire
from tcpcli.core.events import Connected, Event, Trying, format_address
from tcpcli.errors import ExitCode, TcpcliError, UsageError, translate_os_error
from tcpcli.net.connect import connect_to, resolve
from tcpcli.settings import ConnectSettings, ProxySettings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "SCHEMES",
    "ProxyHopError",
    "ProxyUrlError",
    "open_proxied",
    "parse_proxy_url",
    "read_proxy_auth",
]

SCHEMES = ("socks5", "socks5h", "socks4", "socks4a", "http")
SOCKS_DEFAULT_PORT = (
    1080  # the IANA port for SOCKS; an HTTP proxy has no such default, so its port is required
)

# SOCKS4: 91 is the one failure a server reports for the target; 92 and 93 are identd (user id) refusals.
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
    proxy = ProxySettings(scheme, host, port)
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
    """A blocking socket connected to HOST PORT through `connect.proxy`, everything within -w from now.

    Errors: ProxyHopError for the proxy itself (unreachable 69/68/75, rejected credentials 77, not speaking
    the protocol 69), TcpcliError 69 when the proxy could not reach the target, 68 when tcpcli cannot resolve
    the target (socks5://, socks4://), 75 when the handshake runs past -w.
    """
    proxy = connect.proxy
    assert proxy is not None
    deadline = time.monotonic() + connect.connect_timeout
    hop = format_address(proxy.host, proxy.port)
    target = format_address(connect.host, connect.port)
    destination = connect.host
    if not proxy.remote_dns:  # tcpcli resolves; the proxy gets an address (SOCKS4 carries IPv4 only)
        family = socket.AF_INET if proxy.scheme == "socks4" else connect.family
        destination = resolve(connect.host, connect.port, family, deadline, report)[0][1][0]
    report(Trying(f"{format_address(destination, connect.port)} through proxy {hop}"))
    sock = _connect_hop(connect, proxy, hop, deadline, report)
    try:
        _Handshake(sock, proxy, hop, target, deadline, connect.connect_timeout).run(destination, connect.port)
        sock.settimeout(None)
        local = sock.getsockname()
    except BaseException:
        sock.close()
        raise
    report(Connected(format_address(local[0], local[1]), f"{target} through proxy {hop}"))
    return sock


def _connect_hop(
    connect: ConnectSettings, proxy: ProxySettings, hop: str, deadline: float, report: Callable[[Event], None]
) -> socket.socket:
    """The TCP connection to the proxy (-s/-p and socket options apply), its failures worded for the hop."""
    settings = connect._replace(host=proxy.host, port=proxy.port, family=socket.AF_UNSPEC, proxy=None)

    def quiet(event: Event) -> None:  # the hop's own trying/connected lines would read as the target's
        if not isinstance(event, Trying | Connected):
            report(event)

    try:
        addresses = resolve(proxy.host, proxy.port, socket.AF_UNSPEC, deadline, quiet)
        return connect_to(addresses, settings, quiet, deadline, doing=f"proxy {hop}")
    except TcpcliError as exc:
        if isinstance(exc, UsageError):
            raise
        message = exc.message if exc.message.startswith("proxy ") else f"proxy {hop}: {exc.message}"
        raise ProxyHopError(message, exc.exit_code) from exc


class _Handshake:
    """One proxy handshake over a connected socket, each read and write bounded by the shared deadline."""

    def __init__(
        self,
        sock: socket.socket,
        proxy: ProxySettings,
        hop: str,
        target: str,
        deadline: float,
        timeout: float,
    ) -> None:
        self._sock = sock
        self._proxy = proxy
        self._hop = hop
        self._target = target
        self._deadline = deadline
        self._timeout = timeout

    def run(self, destination: str, port: int) -> None:
        try:
            if self._proxy.scheme.startswith("socks5"):
                self._socks5(destination, port)
            elif self._proxy.scheme.startswith("socks4"):
                self._socks4(destination, port)
            else:
                self._http(destination, port)
        except wire.ProxyProtocolError as exc:
            raise ProxyHopError(
                f"proxy {self._hop}: {exc} (is it a {self._proxy.scheme}:// proxy?)", ExitCode.UNAVAILABLE
            ) from exc

    # ------------------------------------------------------------ the three protocols

    def _socks5(self, destination: str, port: int) -> None:
        proxy = self._proxy
        credentials = proxy.username is not None
        self._send(wire.socks5_greeting(credentials))
        method = wire.socks5_method(self._recv(2))
        if method == wire.SOCKS5_USER_PASS and credentials:
            self._send(wire.socks5_auth(proxy.username or "", proxy.password or ""))
            if not wire.socks5_auth_ok(self._recv(2)):
                raise self._credentials_refused("")
        elif method in (wire.SOCKS5_USER_PASS, wire.SOCKS5_NO_METHOD):
            raise self._credentials_refused("")
        elif method != wire.SOCKS5_NO_AUTH:
            raise wire.ProxyProtocolError(f"it chose authentication method {method:#04x}, not offered")
        self._send(wire.socks5_connect(destination, port))
        head = self._recv(5)
        size = wire.socks5_reply_size(head)
        if size > 5:
            self._recv(size - 5)  # the bound address: read, so the session starts with the target's bytes
        code = wire.socks5_reply_code(head)
        if code:
            reason = wire.SOCKS5_REPLIES.get(code, "unknown reply")
            raise TcpcliError(f"{self._unreached()}: {reason} (SOCKS5 reply {code})", ExitCode.UNAVAILABLE)

    def _socks4(self, destination: str, port: int) -> None:
        self._send(wire.socks4_connect(destination, port, self._proxy.username))
        code = wire.socks4_reply(self._recv(8))
        if code in SOCKS4_IDENT_REFUSALS:
            raise ProxyHopError(
                f"proxy {self._hop}: user id refused by identd (SOCKS4 reply {code})", ExitCode.NO_PERMISSION
            )
        if code != wire.SOCKS4_GRANTED:
            raise TcpcliError(
                f"{self._unreached()}: request rejected or failed (SOCKS4 reply {code})", ExitCode.UNAVAILABLE
            )

    def _http(self, destination: str, port: int) -> None:
        proxy = self._proxy
        self._send(wire.http_connect(destination, port, proxy.username, proxy.password))
        code, reason = wire.http_status(self._recv_head())
        if code in HTTP_AUTH_STATUSES:
            raise self._credentials_refused(f" (HTTP {code} {reason})".rstrip())
        if not 200 <= code < 300:
            raise TcpcliError(f"{self._unreached()}: HTTP {code} {reason}".rstrip(), ExitCode.UNAVAILABLE)

    # ------------------------------------------------------------ bounded I/O

    def _remaining(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out()
        return remaining

    def _send(self, data: bytes) -> None:
        self._sock.settimeout(self._remaining())
        with self._errors():
            self._sock.sendall(data)

    def _recv(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            self._sock.settimeout(self._remaining())
            with self._errors():
                chunk = self._sock.recv(size - len(data))
            if not chunk:
                raise ProxyHopError(
                    f"proxy {self._hop} closed the connection during the handshake"
                    f" (is it a {self._proxy.scheme}:// proxy?)",
                    ExitCode.UNAVAILABLE,
                )
            data += chunk
        return data

    def _recv_head(self) -> bytes:
        """The HTTP reply head, read a byte at a time: nothing after it is taken from the socket."""
        head = b""
        while wire.http_head_end(head) is None:
            if len(head) > wire.HTTP_HEAD_LIMIT:
                raise wire.ProxyProtocolError("its reply head never ended")
            head += self._recv(1)
        return head

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Socket errors during the handshake: a timeout against -w, anything else the hop's failure."""
        try:
            yield
        except TimeoutError as exc:
            raise self._timed_out() from exc
        except OSError as exc:
            error = translate_os_error(exc, f"proxy {self._hop}")
            raise ProxyHopError(error.message, error.exit_code) from exc

    def _timed_out(self) -> TcpcliError:
        return TcpcliError(
            f"proxy {self._hop}: no answer about {self._target} within {self._timeout:g} s"
            " (raise it with -w)",
            ExitCode.TIMEOUT,
        )

    def _unreached(self) -> str:
        return f"proxy {self._hop} could not reach {self._target}"

    def _credentials_refused(self, detail: str) -> ProxyHopError:
        if self._proxy.username is None:
            problem = "it wants a user name and password (USER:PASS@ in the URL, or --proxy-auth FILE)"
        else:
            problem = "it rejected the user name or password"
        return ProxyHopError(f"proxy {self._hop}: {problem}{detail}", ExitCode.NO_PERMISSION)
