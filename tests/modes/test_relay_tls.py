"""The relay with TLS on either side and both (trustme certificates, Python's ssl as the peers)."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PeerServer, echo_handler, recv_all
from tests.listen_helpers import WAIT, Server, recv_exactly
from tests.tls_helpers import Pki, client_context, make_pki, server_context, tls_echo, tls_handler


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@contextlib.contextmanager
def relaying(*args: str, stdout: object = None) -> Iterator[Server]:
    import subprocess

    server = Server("-l", "127.0.0.1", "0", *args, stdout=stdout or subprocess.DEVNULL)
    try:
        yield server
    finally:
        server.kill()


def tls_client(port: int, pki: Pki) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return client_context(pki.ca).wrap_socket(raw, server_hostname="localhost")


def round_trip(sock: socket.socket, data: bytes) -> bytes:
    """Send and read the same amount back (over TLS there is no half-close to wait on)."""
    sock.sendall(data)
    return recv_exactly(sock, len(data))


def test_client_tls_is_terminated_and_the_transcript_shows_plaintext(
    peer: Callable[..., PeerServer], pki: Pki, tmp_path: Path
) -> None:
    upstream = peer(echo_handler)
    tls = ("--tls", "--cert", pki.server.cert, "--key", pki.server.key)
    out = tmp_path / "out"
    with (
        out.open("wb") as stdout,
        relaying(*tls, "--to", f"127.0.0.1:{upstream.port}", stdout=stdout) as server,
    ):
        with tls_client(server.port, pki) as client:
            assert round_trip(client, b"secret\n" * 1000) == b"secret\n" * 1000
        assert server.wait() == 0
    assert "#1 > secret\\n\n" in out.read_text()


def test_upstream_tls_is_verified_and_spoken(peer: Callable[..., PeerServer], pki: Pki) -> None:
    upstream = peer(tls_handler(server_context(pki.server), tls_echo))
    with relaying("--to", f"127.0.0.1:{upstream.port}", "--to-tls", "--cafile", pki.ca) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as client:
            assert round_trip(client, b"x" * 300_000) == b"x" * 300_000
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b""  # FIN towards a TLS upstream: close_notify, then the end
        assert server.wait() == 0


def test_tls_on_both_sides(peer: Callable[..., PeerServer], pki: Pki) -> None:
    upstream = peer(tls_handler(server_context(pki.server), tls_echo))
    tls = ("--tls", "--cert", pki.server.cert, "--key", pki.server.key)
    to = ("--to", f"localhost:{upstream.port}", "--to-tls", "--cafile", pki.ca)
    with relaying(*tls, *to, "--no-transcript") as server:
        with tls_client(server.port, pki) as client:
            assert round_trip(client, b"both ways") == b"both ways"
        assert server.wait() == 0


def test_untrusted_upstream_certificate_resets_the_client_and_exits_76(
    peer: Callable[..., PeerServer], pki: Pki
) -> None:
    upstream = peer(tls_handler(server_context(pki.self_signed), tls_echo))
    with relaying("--to", f"127.0.0.1:{upstream.port}", "--to-tls") as server:
        with (
            pytest.raises(ConnectionResetError),
            socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as client,
        ):
            client.recv(10)
        assert server.wait() == 76
        line = server.rest_of_stderr().strip()
    assert line.startswith(f"tcpcli: #1 upstream 127.0.0.1:{upstream.port} TLS: ")
    assert "self-signed" in line


def test_failed_client_handshake_names_the_client_side(peer: Callable[..., PeerServer], pki: Pki) -> None:
    upstream = peer(echo_handler)
    tls = ("--tls", "--cert", pki.server.cert, "--key", pki.server.key)
    with relaying(*tls, "--to", f"127.0.0.1:{upstream.port}") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as client:
            client.sendall(b"GET / HTTP/1.0\r\n\r\n")  # plain text at a TLS port
            with contextlib.suppress(ConnectionResetError):
                recv_all(client)
        assert server.wait() == 76
        line = server.rest_of_stderr().strip()
    assert line.startswith("tcpcli: #1 TLS handshake with client 127.0.0.1:")
    assert not upstream.connections  # no upstream connection for a client that failed its handshake
