"""TlsChannel and the wrap functions in-process: two threads on one channel, close_notify, the server side."""

from __future__ import annotations

import contextlib
import io
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.net.tls import TlsChannel, client_context, server_context, wrap_client, wrap_server
from tcpcli.report import Reporter
from tcpcli.settings import ConnectSettings, TlsSettings
from tests.conftest import PeerServer, recv_all
from tests.tls_helpers import WAIT, Pki, make_pki, tls_echo, tls_handler
from tests.tls_helpers import server_context as peer_context

Peer = Callable[..., PeerServer]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def connect(pki: Pki) -> Iterator[Callable[..., tuple[TlsChannel, io.StringIO]]]:
    """Factory: a verified client channel to `server`, with the `-v` lines it reported."""
    made: list[TlsChannel] = []

    def make(server: PeerServer, **tls: object) -> tuple[TlsChannel, io.StringIO]:
        settings = TlsSettings(enabled=True, cafile=pki.ca, **tls)  # type: ignore[arg-type]
        target = ConnectSettings("127.0.0.1", server.port, connect_timeout=WAIT, tls=settings)
        lines = io.StringIO()
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
        sock.settimeout(None)
        channel = wrap_client(sock, client_context(settings), target, Reporter(verbose=True, stream=lines))
        made.append(channel)
        return channel, lines

    yield make
    for channel in made:
        channel.close()


def _in_thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_one_reader_and_one_writer_thread_move_8_mib_each_way(
    pki: Pki, peer: Peer, connect: Callable[..., tuple[TlsChannel, io.StringIO]]
) -> None:
    channel, _ = connect(peer(tls_handler(peer_context(pki.server), tls_echo)))
    rng = random.Random(88)
    payload = rng.randbytes(8 << 20)
    cuts = sorted(rng.sample(range(1, len(payload)), 2000))

    def write() -> None:
        start = 0
        for cut in [*cuts, len(payload)]:
            channel.sendall(payload[start:cut])
            start = cut
        channel.shutdown(socket.SHUT_WR)

    writer = _in_thread(write)
    received = bytearray()
    buffer = bytearray(rng.randrange(1000, 70000))
    while size := channel.recv_into(buffer):
        received += buffer[:size]
    writer.join(WAIT)
    assert received == payload
    assert channel.clean_end is True


def test_reader_keeps_reading_while_a_writer_is_blocked_on_a_peer_that_never_reads(
    pki: Pki, peer: Peer, connect: Callable[..., tuple[TlsChannel, io.StringIO]]
) -> None:
    release = threading.Event()

    def talk_but_never_read(tls: ssl.SSLSocket) -> None:
        for index in range(20):
            tls.sendall(f"line {index}\n".encode())
            time.sleep(0.01)
        release.wait(WAIT)

    channel, _ = connect(peer(tls_handler(peer_context(pki.server), talk_but_never_read)))
    writer_blocked = threading.Event()

    def flood() -> None:
        writer_blocked.set()
        with contextlib.suppress(TcpcliError):  # the peer goes away at the end of the test
            channel.sendall(bytes(64 << 20))  # far beyond what the kernel buffers: blocks in sendall

    _in_thread(flood)
    assert writer_blocked.wait(WAIT)
    time.sleep(0.2)
    received = bytearray()
    while received.count(b"\n") < 20:
        received += channel.recv(4096)
    assert received.endswith(b"line 19\n")
    started = time.monotonic()
    channel.close()  # must not wait for the blocked writer's lock
    assert time.monotonic() - started < 1.0
    release.set()


def test_data_held_inside_tls_survives_sending_close_notify(
    pki: Pki, peer: Peer, connect: Callable[..., tuple[TlsChannel, io.StringIO]]
) -> None:
    """SSL_shutdown discards application data it reads; the channel must take it out of the way first."""
    records = [bytes([65 + index]) * 10000 for index in range(5)]
    sent = threading.Event()

    def send_records_then_tail(tls: ssl.SSLSocket) -> None:
        for record in records:
            tls.sendall(record)
        sent.set()
        recv_all(tls)  # our close_notify
        tls.sendall(b"tail after close_notify")
        tls.unwrap()

    channel, _ = connect(peer(tls_handler(peer_context(pki.server), send_records_then_tail)))
    assert sent.wait(WAIT)
    time.sleep(0.1)  # let every record reach our kernel buffer
    first = channel.recv(10)  # one record read: the rest of it waits inside OpenSSL, more in the BIO
    channel.shutdown(socket.SHUT_WR)
    rest = bytearray()
    while data := channel.recv(100000):
        rest += data
    assert first + rest == b"".join(records) + b"tail after close_notify"
    assert channel.clean_end is True


def test_bare_tcp_close_ends_reading_and_is_reported(
    pki: Pki, peer: Peer, connect: Callable[..., tuple[TlsChannel, io.StringIO]]
) -> None:
    channel, lines = connect(peer(tls_handler(peer_context(pki.server), lambda tls: tls.sendall(b"x"))))
    assert channel.recv(10) == b"x"
    assert channel.recv(10) == b""
    assert channel.recv(10) == b""  # stays at the end
    assert channel.clean_end is False
    assert "tcpcli: peer closed without TLS close_notify" in lines.getvalue()


def test_channel_answers_the_socket_questions_callers_ask(
    pki: Pki, peer: Peer, connect: Callable[..., tuple[TlsChannel, io.StringIO]]
) -> None:
    server = peer(tls_handler(peer_context(pki.server), tls_echo))
    channel, lines = connect(server)
    assert channel.version() == "TLSv1.3"
    assert channel.cipher() is not None
    assert channel.getpeername()[1] == server.port
    assert channel.getsockname()[0] == "127.0.0.1"
    assert channel.fileno() == channel.raw.fileno()
    assert channel.getpeercert()["subjectAltName"]
    assert channel.pending() == 0
    assert "tcpcli: TLS established: TLSv1.3" in lines.getvalue()


# ---------------------------------------------------------------- the server side


@pytest.fixture
def accepted() -> Iterator[Callable[[], tuple[socket.socket, socket.socket]]]:
    """Factory: (client socket, accepted server socket) on loopback."""
    made: list[socket.socket] = []

    def make() -> tuple[socket.socket, socket.socket]:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            client = socket.create_connection(listener.getsockname(), timeout=WAIT)
            server, _ = listener.accept()
        made.extend((client, server))
        return client, server

    yield make
    for sock in made:
        sock.close()


def _client_handshake(client: socket.socket, context: ssl.SSLContext, outcome: list[object]) -> None:
    try:
        with context.wrap_socket(client, server_hostname="localhost") as tls:
            tls.sendall(b"hello server")
            outcome.append(tls.recv(100))
    except (OSError, ValueError) as exc:
        outcome.append(exc)


def test_wrap_server_serves_a_client_and_reports_its_certificate(
    pki: Pki, accepted: Callable[[], tuple[socket.socket, socket.socket]]
) -> None:
    context = server_context(
        TlsSettings(enabled=True, cert=pki.server.cert, key=pki.server.key, cafile=pki.ca)
    )
    client_side = ssl.create_default_context(cafile=pki.ca)
    client_side.load_cert_chain(pki.client.cert, pki.client.key)
    client, server = accepted()
    outcome: list[object] = []
    thread = _in_thread(lambda: _client_handshake(client, client_side, outcome))
    lines = io.StringIO()
    channel = wrap_server(server, context, Reporter(verbose=True, stream=lines), timeout=WAIT)
    assert channel.recv(100) == b"hello server"
    channel.sendall(b"hello client")
    thread.join(WAIT)
    channel.close()
    assert outcome == [b"hello client"]
    assert "peer certificate: O=trustme" in lines.getvalue()
    assert "CN=client.example; issued by O=tcpcli test CA" in lines.getvalue()


def test_wrap_server_requires_a_client_certificate_when_given_a_cafile(
    pki: Pki, accepted: Callable[[], tuple[socket.socket, socket.socket]]
) -> None:
    context = server_context(
        TlsSettings(enabled=True, cert=pki.server.cert, key=pki.server.key, cafile=pki.ca)
    )
    client, server = accepted()
    outcome: list[object] = []
    thread = _in_thread(lambda: _client_handshake(client, ssl.create_default_context(cafile=pki.ca), outcome))
    with pytest.raises(TcpcliError) as caught:
        wrap_server(server, context, Reporter(stream=io.StringIO()), timeout=WAIT)
    thread.join(WAIT)
    assert caught.value.exit_code == ExitCode.TLS
    assert "the client sent no certificate" in caught.value.message
    assert server.fileno() == -1  # closed on failure


def test_wrap_server_turns_away_plain_text_and_silence(
    pki: Pki, accepted: Callable[[], tuple[socket.socket, socket.socket]]
) -> None:
    context = server_context(TlsSettings(enabled=True, cert=pki.server.cert, key=pki.server.key))
    client, server = accepted()
    client.sendall(b"GET / HTTP/1.0\r\n\r\n")
    with pytest.raises(TcpcliError) as caught:
        wrap_server(server, context, Reporter(stream=io.StringIO()), timeout=WAIT)
    assert caught.value.exit_code == ExitCode.TLS
    assert "the client does not speak TLS" in caught.value.message
    _, silent = accepted()
    started = time.monotonic()
    with pytest.raises(TcpcliError) as timed_out:
        wrap_server(silent, context, Reporter(stream=io.StringIO()), timeout=0.3)
    assert timed_out.value.exit_code == ExitCode.TIMEOUT
    assert time.monotonic() - started < 2


def test_contexts_verify_by_default_and_serving_needs_a_certificate(pki: Pki, tmp_path: Path) -> None:
    default = client_context(TlsSettings(enabled=True))
    assert default.verify_mode == ssl.CERT_REQUIRED and default.check_hostname
    insecure = client_context(TlsSettings(enabled=True, insecure=True))
    assert insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname
    assert default.minimum_version == ssl.TLSVersion.TLSv1_2
    served = server_context(TlsSettings(enabled=True, cert=pki.server.cert, key=pki.server.key))
    assert served.verify_mode == ssl.CERT_NONE
    with pytest.raises(TcpcliError) as caught:
        server_context(TlsSettings(enabled=True))
    assert caught.value.exit_code == ExitCode.USAGE
    combined = tmp_path / "combined.pem"
    combined.write_text(Path(pki.server.cert).read_text() + Path(pki.server.key).read_text())
    client_context(TlsSettings(enabled=True, cert=str(combined)))  # key in the certificate file: fine
