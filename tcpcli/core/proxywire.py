"""The proxy handshakes as bytes: SOCKS5 (RFC 1928/1929), SOCKS4/4a and HTTP CONNECT requests and replies.

Pure (no sockets): `net/proxy.py` sends what these build and hands back what it read. Replies are parsed
strictly; anything unexpected is a ProxyProtocolError naming what was wrong (never the credentials). The
HTTP reply head is found with `http_head_end`, so the caller reads exactly up to it and the target's first
bytes (a greeting right after `200`) stay in the socket for the session.
"""

from __future__ import annotations

import ipaddress

__all__ = [
    "HTTP_HEAD_LIMIT",
    "SOCKS4_GRANTED",
    "SOCKS5_NO_AUTH",
    "SOCKS5_NO_METHOD",
    "SOCKS5_REPLIES",
    "SOCKS5_USER_PASS",
    "ProxyProtocolError",
    "http_connect",
    "http_head_end",
    "http_status",
    "socks4_connect",
    "socks4_reply",
    "socks5_auth",
    "socks5_auth_ok",
    "socks5_connect",
    "socks5_greeting",
    "socks5_method",
    "socks5_reply_code",
    "socks5_reply_size",
]

SOCKS5_NO_AUTH = 0x00
SOCKS5_USER_PASS = 0x02
SOCKS5_NO_METHOD = 0xFF
SOCKS4_GRANTED = 90
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
# A proxy's reply head longer than this is not an HTTP proxy talking.
HTTP_HEAD_LIMIT = 16 * 1024


class ProxyProtocolError(ValueError):
    """A reply that does not follow the protocol (or a request that cannot be encoded)."""


def socks5_greeting(with_credentials: bool) -> bytes:
    """Version 5 and the methods offered: no authentication, plus user/password when we have credentials."""
    methods = bytes([SOCKS5_NO_AUTH, SOCKS5_USER_PASS]) if with_credentials else bytes([SOCKS5_NO_AUTH])
    return bytes([5, len(methods)]) + methods


def socks5_method(reply: bytes) -> int:
    """The method the server chose, from its 2-byte answer to the greeting (0xFF: none acceptable)."""
    if len(reply) != 2 or reply[0] != 5:
        raise ProxyProtocolError(f"not a SOCKS5 answer ({reply[:2].hex(' ')})")
    return reply[1]


def socks5_auth(username: str, password: str) -> bytes:
    """RFC 1929 user/password request; each at most 255 bytes of UTF-8."""
    user, secret = username.encode(), password.encode()
    if len(user) > 255 or len(secret) > 255:
        raise ProxyProtocolError("SOCKS5 user names and passwords are at most 255 bytes")
    return bytes([1, len(user)]) + user + bytes([len(secret)]) + secret


def socks5_auth_ok(reply: bytes) -> bool:
    """The 2-byte RFC 1929 status: True when the credentials were accepted."""
    if len(reply) != 2:
        raise ProxyProtocolError("malformed SOCKS5 authentication answer")
    return reply[1] == 0


def socks5_connect(host: str, port: int) -> bytes:
    """CONNECT to an IPv4/IPv6 address, or to a name the proxy resolves (at most 255 bytes, IDNA)."""
    return bytes([5, 1, 0]) + _socks5_address(host) + port.to_bytes(2, "big")


def _socks5_address(host: str) -> bytes:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return bytes([1 if address.version == 4 else 4]) + address.packed
    try:
        name = host.encode("idna")
    except UnicodeError as exc:
        raise ProxyProtocolError(f"{host} cannot be sent as a host name ({exc})") from exc
    if len(name) > 255:
        raise ProxyProtocolError("a host name sent to a SOCKS5 proxy is at most 255 bytes")
    return bytes([3, len(name)]) + name


def socks5_reply_size(head: bytes) -> int:
    """The whole reply's size from its first 5 bytes (version, code, reserved, address type, first byte)."""
    if len(head) < 5 or head[0] != 5:
        raise ProxyProtocolError(f"not a SOCKS5 reply ({head[:5].hex(' ')})")
    kind = head[3]
    if kind == 1:
        return 4 + 4 + 2
    if kind == 4:
        return 4 + 16 + 2
    if kind == 3:
        return 4 + 1 + head[4] + 2
    if head[1] != 0:  # some servers send a short reply when failing: the code is all that matters
        return 5
    raise ProxyProtocolError(f"SOCKS5 reply with unknown address type {kind}")


def socks5_reply_code(reply: bytes) -> int:
    """0 when the proxy connected; else its RFC 1928 reply code."""
    if len(reply) < 2 or reply[0] != 5:
        raise ProxyProtocolError("not a SOCKS5 reply")
    return reply[1]


def socks4_connect(host: str, port: int, user_id: str | None) -> bytes:
    """SOCKS4 CONNECT to an IPv4 address, or SOCKS4a (the name after the user id) for anything else."""
    user = (user_id or "").encode() + b"\0"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and address.version != 4:
        raise ProxyProtocolError("SOCKS4 carries IPv4 addresses only")
    if address is not None:
        return bytes([4, 1]) + port.to_bytes(2, "big") + address.packed + user
    try:
        name = host.encode("idna")
    except UnicodeError as exc:
        raise ProxyProtocolError(f"{host} cannot be sent as a host name ({exc})") from exc
    return bytes([4, 1]) + port.to_bytes(2, "big") + b"\0\0\0\1" + user + name + b"\0"


def socks4_reply(reply: bytes) -> int:
    """The 8-byte reply's code: 90 granted, 91 rejected or failed, 92/93 identd refusals."""
    if len(reply) != 8 or reply[0] != 0:
        raise ProxyProtocolError(f"not a SOCKS4 reply ({reply[:2].hex(' ')})")
    return reply[1]


def http_connect(host: str, port: int, username: str | None, password: str | None) -> bytes:
    """`CONNECT host:port HTTP/1.1` with Host and, given credentials, Proxy-Authorization: Basic."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if username is not None:
        import base64

        token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def http_head_end(received: bytes) -> int | None:
    """Where the reply head ends (just after its blank line) in what has arrived, or None: read more."""
    end = received.find(b"\r\n\r\n")
    if end < 0:
        end = received.find(b"\n\n")  # a sloppy proxy's bare LFs
        return None if end < 0 else end + 2
    return end + 4


def http_status(head: bytes) -> tuple[int, str]:
    """(status code, reason) from the head's status line (`HTTP/1.1 407 Proxy Authentication Required`)."""
    line = head.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1")
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not (code.isdigit() and len(code) == 3):
        raise ProxyProtocolError(f"not an HTTP reply ({line[:40]!r})")
    return int(code), reason.strip()
