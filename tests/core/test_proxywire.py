"""The proxy handshakes as bytes (core.proxywire): requests byte for byte, replies parsed strictly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core import proxywire as wire


def test_socks5_requests_follow_rfc_1928_and_1929() -> None:
    assert wire.socks5_greeting(False) == b"\x05\x01\x00"
    assert wire.socks5_greeting(True) == b"\x05\x02\x00\x02"
    assert wire.socks5_auth("bob", "pw") == b"\x01\x03bob\x02pw"
    assert wire.socks5_connect("127.0.0.1", 80) == b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50"
    assert wire.socks5_connect("::1", 443) == b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x01\xbb"
    assert wire.socks5_connect("example.org", 25) == b"\x05\x01\x00\x03\x0bexample.org\x00\x19"


def test_socks5_replies_of_each_address_type_have_their_size() -> None:
    assert wire.socks5_reply_size(b"\x05\x00\x00\x01\x7f") == 10
    assert wire.socks5_reply_size(b"\x05\x00\x00\x04\x00") == 22
    assert wire.socks5_reply_size(b"\x05\x00\x00\x03\x05") == 12
    assert wire.socks5_reply_code(b"\x05\x05\x00\x01") == 5
    with pytest.raises(wire.ProxyProtocolError, match="not a SOCKS5 reply"):
        wire.socks5_reply_size(b"HTTP/")
    with pytest.raises(wire.ProxyProtocolError, match="not a SOCKS5 answer"):
        wire.socks5_method(b"\x04\x00")


def test_socks4_sends_an_address_and_socks4a_a_name() -> None:
    assert wire.socks4_connect("127.0.0.1", 80, "me") == b"\x04\x01\x00\x50\x7f\x00\x00\x01me\x00"
    assert wire.socks4_connect("host.lan", 80, None) == b"\x04\x01\x00\x50\x00\x00\x00\x01\x00host.lan\x00"
    assert wire.socks4_reply(b"\x00\x5a" + bytes(6)) == 90
    with pytest.raises(wire.ProxyProtocolError, match="IPv4 addresses only"):
        wire.socks4_connect("::1", 80, None)


def test_http_connect_carries_basic_credentials_and_brackets_ipv6() -> None:
    assert (
        wire.http_connect("::1", 443, None, None) == b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"
    )
    request = wire.http_connect("example.org", 443, "bob", "s3cret")
    assert b"Proxy-Authorization: Basic Ym9iOnMzY3JldA==\r\n" in request
    assert wire.http_status(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n") == (
        407,
        "Proxy Authentication Required",
    )
    with pytest.raises(wire.ProxyProtocolError, match="not an HTTP reply"):
        wire.http_status(b"\x05\x00")


@given(st.binary(max_size=40), st.integers(min_value=1, max_value=50))
def test_the_http_head_ends_at_the_same_byte_however_it_arrives(after: bytes, step: int) -> None:
    """Read in pieces (as a slow proxy sends it), the head ends where it does when read whole: the bytes
    after it (the target's greeting) are never counted as head."""
    reply = b"HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n" + after
    whole = wire.http_head_end(reply)
    assert whole is not None and reply[:whole].endswith(b"\r\n\r\n")
    received = b""
    found = None
    while found is None:
        received += reply[len(received) : len(received) + step]
        found = wire.http_head_end(received)
    assert found == whole
