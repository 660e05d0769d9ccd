"""Value parsers for the command line: ports (numbers, service names, ranges), seconds, counts, hosts.

Each takes the text as typed and the option's name, returns the value, or raises `UsageError` (exit 2) with
one line naming the option and the value. Used by `validate` only.
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
from typing import NoReturn

from tcpcli.errors import UsageError
from tcpcli.settings import TcpTarget, UnixTarget

__all__ = [
    "MAX_KEEPALIVE_COUNT",
    "MAX_KEEPALIVE_SECONDS",
    "MAX_PROBE_PORTS",
    "MAX_SECONDS",
    "check_family",
    "check_numeric",
    "host_port_hint",
    "is_decimal",
    "parse_count",
    "parse_escaped",
    "parse_host",
    "parse_port",
    "parse_port_list",
    "parse_seconds",
    "parse_target",
]

_DECIMAL = re.compile(r"[0-9]+")
_SECONDS = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}\.?$){_LABEL}(?:\.{_LABEL})*\.?")
_SERVICE = re.compile(r"[A-Za-z][A-Za-z0-9+_.-]*")
_RANGE = re.compile(r"([0-9]+)-([0-9]+)")

# DNS limits (RFC 1035): a label is at most 63 bytes. Longer ones make Python's idna codec raise deep inside
# getaddrinfo, so they are refused here, with the rest of the malformed names.
MAX_LABEL = 63
# The longest duration we accept (~31 years): larger values overflow the OS's timeout types.
MAX_SECONDS = 1e9
# Linux's limits for the keep-alive timers (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT).
MAX_KEEPALIVE_SECONDS = 32767
MAX_KEEPALIVE_COUNT = 127
# -z checks at most every port there is, once.
MAX_PROBE_PORTS = 65535

# Service names every user expects, for machines without /etc/services (Debian's netbase package is
# optional: minimal containers lack it). The system's table is asked first.
_WELL_KNOWN = {
    "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80, "pop3": 110, "imap": 143,
    "imap2": 143, "ldap": 389, "https": 443, "submissions": 465, "submission": 587, "ldaps": 636,
    "imaps": 993, "pop3s": 995, "mysql": 3306, "postgresql": 5432, "redis": 6379, "http-alt": 8080,
}  # fmt: skip


def _usage(message: str) -> NoReturn:
    raise UsageError(message)


def is_decimal(value: str) -> bool:
    return _DECIMAL.fullmatch(value) is not None


def _service_port(name: str) -> int | None:
    """The TCP port of a service name (`http` -> 80) from the system's table, else the built-in one."""
    try:
        return socket.getservbyname(name, "tcp")
    except (OSError, ValueError):
        return _WELL_KNOWN.get(name.lower())


def parse_port(value: str, option: str, *, allow_zero: bool, numeric: bool = False) -> int:
    """A decimal TCP port or a service name (`http`, `smtp`); 0 only where the kernel may pick one.

    `numeric` (-n): no service-name look-ups, like nc -n.
    """
    low = 0 if allow_zero else 1
    if _DECIMAL.fullmatch(value):
        if low <= int(value) <= 65535:
            return int(value)
    elif _SERVICE.fullmatch(value):
        if numeric:
            _usage(f"{option}: '{value}' is a service name, and -n turns name look-ups off: give a number")
        port = _service_port(value)
        if port is not None:
            return port
        _usage(f"{option}: '{value}' is not a port number ({low}-65535) or a known service name")
    _usage(f"{option}: '{value}' is not a port number ({low}-65535)")


def parse_port_list(values: tuple[str, ...], *, numeric: bool = False) -> tuple[int, ...]:
    """-z's ports: each value a port, a service name or a range `LOW-HIGH`; duplicates dropped, order kept."""
    ports: dict[int, None] = {}
    for value in values:
        match = _RANGE.fullmatch(value)
        if match is None:
            ports[parse_port(value, "PORT", allow_zero=False, numeric=numeric)] = None
            continue
        low = parse_port(match[1], "PORT", allow_zero=False, numeric=numeric)
        high = parse_port(match[2], "PORT", allow_zero=False, numeric=numeric)
        if low > high:
            _usage(f"PORT: range '{value}' runs backwards (write it low-high: {high}-{low})")
        ports.update(dict.fromkeys(range(low, high + 1)))
    return tuple(ports)


def parse_seconds(value: str, option: str, *, allow_zero: bool = False) -> float:
    """Seconds as a decimal number (`0.5` works); `-q` accepts 0, the others must be > 0."""
    if _SECONDS.fullmatch(value):
        seconds = float(value)
        if seconds > MAX_SECONDS:
            _usage(f"{option}: '{value}' is too long (at most {MAX_SECONDS:.0f} seconds)")
        if math.isfinite(seconds) and (seconds > 0 or (allow_zero and seconds == 0)):
            return seconds
    bound = ">= 0" if allow_zero else "> 0"
    _usage(f"{option}: '{value}' is not a number of seconds {bound} (e.g. 5 or 0.5)")


def parse_count(value: str, option: str) -> int:
    if _DECIMAL.fullmatch(value) and int(value) > 0:
        return int(value)
    _usage(f"{option}: '{value}' is not a positive whole number")


def parse_host(value: str, what: str = "host", *, command: str = "tcpcli") -> str:
    """A host name or an address literal; `[::1]` loses its brackets. Malformed values are usage errors.

    `command` starts the suggested command line when the value looks like `HOST:PORT`.
    """
    text = value
    if text.startswith("[") or text.endswith("]"):
        if not (text.startswith("[") and text.endswith("]")):
            host_port_hint(value, what, command)
            _usage(f"{what} '{value}' has unbalanced brackets")
        text = text[1:-1]
        if ":" not in text:
            _usage(f"{what} '{value}': brackets are only for IPv6 addresses, e.g. [::1]")
    if ":" in text:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            host_port_hint(value, what, command)
            _usage(f"{what} '{value}' is not a valid IPv6 address")
        return text
    if not _HOST_NAME.fullmatch(text):
        _usage(f"{what} '{value}' is not a valid host name or address")
    longest = max(text.rstrip(".").split("."), key=len)
    if len(longest) > MAX_LABEL:
        _usage(
            f"{what} '{value}' is not a valid host name: the part '{longest[:12]}...' is {len(longest)} "
            f"characters long (DNS allows at most {MAX_LABEL} between dots)"
        )
    return text


def parse_target(value: str, option: str = "--to") -> TcpTarget | UnixTarget:
    """`HOST:PORT`, `[V6]:PORT` or `unix:PATH` (the relay's upstream); anything else is a usage error."""
    if value.startswith("unix:"):
        if not value[5:]:
            _usage(f"{option} unix:PATH: the path is empty")
        return UnixTarget(value[5:])
    host, colon, port = value.rpartition(":")
    if not colon or not host or (":" in host and not host.startswith("[")):
        _usage(
            f"{option} '{value}': expected HOST:PORT, [IPv6]:PORT or unix:PATH (e.g. {option} 127.0.0.1:6379)"
        )
    return TcpTarget(parse_host(host, f"{option} host"), parse_port(port, option, allow_zero=False))


def host_port_hint(value: str, what: str, command: str = "tcpcli") -> None:
    """`HOST:PORT` or `[IPv6]:PORT` given as one argument: say how to write it, as two (a usage error)."""
    head, _, tail = value.rpartition(":")
    if what not in ("host", "listen address") or not head or not _DECIMAL.fullmatch(tail):
        return
    if head.startswith("[") and head.endswith("]"):
        head = head[1:-1]
        try:
            ipaddress.IPv6Address(head)
        except ValueError:
            return
    elif ":" in head or "[" in head or "]" in head:
        return
    _usage(f"'{value}': give host and port as two arguments: {command} {head} {tail}")


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_family(host: str, family: int, what: str) -> None:
    """An address literal of the other family than -4/-6 asks for can never work: a usage error."""
    literal = _literal(host)
    if literal is None or family == socket.AF_UNSPEC:
        return
    wanted = 4 if family == socket.AF_INET else 6
    if literal.version != wanted:
        _usage(f"{what} {host} is an IPv{literal.version} address, and -{wanted} asks for IPv{wanted}")


def check_numeric(host: str, what: str) -> None:
    """-n: no DNS, so a host must be an address literal."""
    if _literal(host) is None:
        _usage(f"{what} '{host}' is a name, and -n turns DNS off: give an address such as 127.0.0.1 or ::1")


def parse_escaped(text: str, option: str, encoding: str) -> bytes:
    """An option's text with `\\r \\n \\t \\0 \\xNN \\\\` escapes, encoded (bytes).

    Raises UsageError naming the option for a bad escape."""
    from tcpcli.core.hexinput import HexInputError, parse_escapes

    try:
        return parse_escapes(text, encoding)
    except HexInputError as exc:
        _usage(f"{option}: {exc}")
