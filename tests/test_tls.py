"""TLS client through the real program: verified by default, every failure a line that says what to try.

Peers are Python `ssl` servers on loopback and `openssl s_server`; certificates are made in fixtures.
"""

from __future__ import annotations

import random
import select
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PeerServer, free_port, recv_all, run_tcpcli, start_tcpcli
from tests.tls_helpers import (
    OPENSSL,
    WAIT,
    Identity,
    OpensslServer,
    Pki,
    make_pki,
    server_context,
    tls_echo,
    tls_handler,
    wait_for,
)

Peer = Callable[..., PeerServer]
TlsPeer = Callable[..., PeerServer]
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_peer(peer: Peer) -> TlsPeer:
    """Factory: a TLS server presenting `identity` and running `inner` on each handshaken connection."""

    def make(
        identity: Identity, inner: Callable[[ssl.SSLSocket], None] = tls_echo, **kw: object
    ) -> PeerServer:
        context = kw.pop("context", None) or server_context(identity)
        assert isinstance(context, ssl.SSLContext)
        return peer(tls_handler(context, inner), **kw)

    return make


def _finish(proc: subprocess.Popen[bytes], last: bytes | None = None) -> tuple[int, bytes, str]:
    """Wait a bounded time for the exit; with `last`, send it and then stdin EOF, else keep stdin open."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        if last is not None:
            out, err = proc.communicate(last, timeout=WAIT)
        else:
            proc.wait(WAIT)  # small outputs only: the pipes cannot fill up
            out, err = proc.stdout.read(), proc.stderr.read()
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"tcpcli did not exit within {WAIT} s: {err.decode()}")
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
    return proc.returncode, out, err.decode("utf-8", "replace")


# ---------------------------------------------------------------- data over TLS


def test_verified_echo_is_byte_exact_both_ways_for_1_mib(pki: Pki, tls_peer: TlsPeer) -> None:
    server = tls_peer(pki.server)
    payload = random.Random(8).randbytes(1 << 20)
    result = run_tcpcli("-v", "--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port), stdin=payload)
    assert result.code == 0, result.stderr
    assert result.stdout == payload
    assert "socket by copy, socket -> stdout by copy" in result.stderr  # no splice under TLS


@pytest.mark.parametrize(
    ("view", "sent", "shown"),
    [
        (["-x"], b"hi", b"00000000  68 69" + b" " * 45 + b"|hi|\n"),
        (["--struct", ">HH", "--fields", "a,b"], b"\x00\x01\x00\x02", b'{"a":1,"b":2}\n'),
    ],
    ids=["hex", "struct"],
)
def test_views_render_what_arrives_over_tls(
    pki: Pki, tls_peer: TlsPeer, view: list[str], sent: bytes, shown: bytes
) -> None:
    server = tls_peer(pki.server)
    result = run_tcpcli("--tls", "--cafile", pki.ca, *view, "127.0.0.1", str(server.port), stdin=sent)
    assert result.code == 0, result.stderr
    assert result.stdout == shown


def test_stdin_eof_sends_close_notify_and_keeps_reading(pki: Pki, tls_peer: TlsPeer) -> None:
    clean: list[bool] = []

    def count_then_reply(tls: ssl.SSLSocket) -> None:
        data = recv_all(tls)
        tls.sendall(f"got {len(data)} bytes after your close_notify\n".encode())
        tls.unwrap()  # raises unless the client's close_notify arrived
        clean.append(True)

    server = tls_peer(pki.server, count_then_reply)
    result = run_tcpcli("--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port), stdin=b"hello\n")
    assert result.code == 0, result.stderr
    assert result.stdout == b"got 6 bytes after your close_notify\n"
    assert wait_for(lambda: clean == [True])


def test_no_half_close_sends_no_close_notify_and_q_ends_the_session(pki: Pki, tls_peer: TlsPeer) -> None:
    def reply_while_open(tls: ssl.SSLSocket) -> None:
        tls.recv(100)
        tls.settimeout(0.5)
        try:
            tls.recv(100)
            tls.sendall(b"got an end of stream\n")
        except TimeoutError:
            tls.sendall(b"still open\n")

    server = tls_peer(pki.server, reply_while_open)
    args = ["--tls", "--cafile", pki.ca, "--no-half-close", "-q", "2", "127.0.0.1", str(server.port)]
    result = run_tcpcli(*args, stdin=b"x\n")
    assert result.code == 0, result.stderr
    assert result.stdout == b"still open\n"


@pytest.mark.parametrize("close_notify", [True, False], ids=["close_notify", "bare-tcp-close"])
def test_peer_close_exits_0_while_stdin_stays_open(pki: Pki, tls_peer: TlsPeer, close_notify: bool) -> None:
    def goodbye(tls: ssl.SSLSocket) -> None:
        tls.sendall(b"bye\n")
        if close_notify:
            tls.unwrap()
        # else: SSLSocket.close() closes TCP without close_notify, as many servers do

    server = tls_peer(pki.server, goodbye)
    proc = start_tcpcli("-v", "--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port))
    code, out, err = _finish(proc)  # stdin stays open: the peer's close alone ends the session
    assert code == 0, err
    assert out == b"bye\n"
    assert ("without TLS close_notify" in err) is not close_notify


# ---------------------------------------------------------------- verification failures: 76


def test_unknown_ca_is_76_and_suggests_cafile(pki: Pki, tls_peer: TlsPeer) -> None:
    server = tls_peer(pki.server)
    for extra in ([], ["--cafile", pki.other_ca]):
        result = run_tcpcli("--tls", *extra, "127.0.0.1", str(server.port))
        assert result.code == 76, result.stderr
        assert result.stderr.count("\n") == 1
        assert "issued by a CA that is not trusted here" in result.stderr
        assert "--cafile FILE" in result.stderr and "--insecure" in result.stderr


def test_self_signed_is_76_and_cafile_with_that_certificate_trusts_it(pki: Pki, tls_peer: TlsPeer) -> None:
    server = tls_peer(pki.self_signed)
    refused = run_tcpcli("--tls", "127.0.0.1", str(server.port))
    assert refused.code == 76
    assert "self-signed" in refused.stderr and "--cafile" in refused.stderr
    trusted = run_tcpcli(
        "--tls", "--cafile", pki.self_signed.cert, "localhost", str(server.port), stdin=b"hi\n"
    )
    assert trusted.code == 0, trusted.stderr
    assert trusted.stdout == b"hi\n"


def test_wrong_host_name_is_76_and_sni_names_the_right_one(pki: Pki, tls_peer: TlsPeer) -> None:
    server = tls_peer(pki.wrong_host)
    refused = run_tcpcli("--tls", "--cafile", pki.ca, "localhost", str(server.port))
    assert refused.code == 76
    assert "is not valid for the name 'localhost'" in refused.stderr and "--sni NAME" in refused.stderr
    fixed = run_tcpcli("--tls", "--cafile", pki.ca, "--sni", "other.example", "127.0.0.1", str(server.port))
    assert fixed.code == 0, fixed.stderr


def test_address_is_checked_against_ip_names_and_sni_checks_a_host_name(pki: Pki, tls_peer: TlsPeer) -> None:
    server = tls_peer(pki.no_ip)
    refused = run_tcpcli("--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port))
    assert refused.code == 76
    assert "does not name the address 127.0.0.1" in refused.stderr and "--sni NAME" in refused.stderr
    fixed = run_tcpcli("--tls", "--cafile", pki.ca, "--sni", "localhost", "127.0.0.1", str(server.port))
    assert fixed.code == 0, fixed.stderr


def test_expired_certificate_is_76(pki: Pki, tls_peer: TlsPeer) -> None:
    server = tls_peer(pki.expired)
    result = run_tcpcli("--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port))
    assert result.code == 76
    assert "has expired" in result.stderr and "--insecure" in result.stderr


# ---------------------------------------------------------------- handshake failures


@pytest.mark.parametrize("greeting", [b"220 mail.example ESMTP ready\r\n", None], ids=["smtp", "echo"])
def test_plain_text_service_is_76_not_tls(peer: Peer, greeting: bytes | None) -> None:
    def plain(conn: socket.socket) -> None:
        if greeting:
            conn.sendall(greeting)
        while data := conn.recv(65536):
            conn.sendall(data)

    server = peer(plain)
    result = run_tcpcli("--tls", "127.0.0.1", str(server.port))
    assert result.code == 76, result.stderr
    assert "does not speak TLS on this port (drop --tls, or check the port)" in result.stderr


def test_server_hanging_up_mid_handshake_is_76_at_once(peer: Peer) -> None:
    def hang_up(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(65536)  # the client's close, so ours is a FIN and not a reset

    server = peer(hang_up)
    result = run_tcpcli("--tls", "-w", "5", "127.0.0.1", str(server.port), timeout=3)
    assert result.code == 76, result.stderr
    assert "closed the connection during the handshake (does it speak TLS on this port?" in result.stderr


def test_silent_server_times_out_with_75(peer: Peer) -> None:
    server = peer(lambda conn: conn.recv(65536) and conn.recv(65536))
    result = run_tcpcli("--tls", "-w", "0.5", "127.0.0.1", str(server.port))
    assert result.code == 75
    assert "TLS handshake with 127.0.0.1" in result.stderr and "-w" in result.stderr


def test_no_common_protocol_version_is_76(pki: Pki, tls_peer: TlsPeer) -> None:
    context = server_context(pki.server)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: that is the point
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # an old server: its ciphers are fine, its versions are not
    server = tls_peer(pki.server, context=context)
    result = run_tcpcli("--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port))
    assert result.code == 76
    assert "no TLS version in common" in result.stderr


@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_server_demanding_a_client_certificate_is_76_saying_so(
    pki: Pki, tls_peer: TlsPeer, version: str
) -> None:
    context = server_context(pki.server, client_ca=pki.ca)
    context.maximum_version = ssl.TLSVersion[version]
    server = tls_peer(pki.server, context=context)
    proc = start_tcpcli("--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port))
    code, _, err = _finish(proc)  # stdin open: TLS 1.3 reports the refusal on the first read
    assert code == 76, err
    assert "client certificate" in err and "--cert" in err


def test_client_certificate_is_presented(pki: Pki, tls_peer: TlsPeer) -> None:
    subjects: list[str] = []

    def who(tls: ssl.SSLSocket) -> None:
        cert = tls.getpeercert()
        subjects.append(str(cert.get("subject")))
        tls.sendall(b"hello client\n")
        recv_all(tls)

    context = server_context(pki.server, client_ca=pki.ca)
    server = tls_peer(pki.server, who, context=context)
    args = ["--tls", "--cafile", pki.ca, "--cert", pki.client.cert, "--key", pki.client.key]
    result = run_tcpcli(*args, "127.0.0.1", str(server.port))
    assert result.code == 0, result.stderr
    assert result.stdout == b"hello client\n"
    assert "client.example" in subjects[0]


def test_corrupt_record_after_the_handshake_is_76(pki: Pki, peer: Peer) -> None:
    context = server_context(pki.server)

    def corrupt(conn: socket.socket) -> None:
        raw = conn.dup()
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"fine\n")
            raw.sendall(b"\x17\x03\x03\x00\x20" + bytes(32))  # application data that fails to decrypt
            wait_for(lambda: False, 1.0)
        raw.close()

    server = peer(corrupt)
    proc = start_tcpcli("--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port))
    code, out, err = _finish(proc)
    assert code == 76, err
    assert out == b"fine\n"
    assert err.startswith("tcpcli: TLS error while receiving from 127.0.0.1:"), err
    assert err.endswith(": decryption failed or bad record mac\n")


# ---------------------------------------------------------------- files: 66, before connecting


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_bad_certificate_files_are_66_before_connecting(pki: Pki, tmp_path: Path) -> None:
    junk = _write(tmp_path, "junk.pem", "not a certificate\n")
    other_key = make_pki(tmp_path).server.key  # a valid key that belongs to another certificate
    encrypted = str(tmp_path / "encrypted.key")
    _encrypt_key(pki.client.key, encrypted)
    cases = {
        ("--cafile", junk): "--cafile {junk}: holds no PEM certificate",
        ("--cert", junk, "--key", pki.client.key): "--cert {junk}: holds no PEM certificate",
        ("--cert", pki.client.cert, "--key", junk): "--key {junk}: holds no PEM private key",
        ("--cert", pki.client.cert): f"--cert {pki.client.cert}: holds no private key: give it with --key",
        ("--cert", pki.client.cert, "--key", other_key): "does not belong to the certificate",
        ("--cert", pki.client.cert, "--key", encrypted): f"--key {encrypted}: the key is encrypted",
        ("--cafile", str(tmp_path / "missing.pem")): "cannot read it",
    }
    port = str(free_port())  # nothing listens: a connection attempt would be 69, not 66
    for options, message in cases.items():
        result = run_tcpcli("--tls", *options, "127.0.0.1", port)
        assert result.code == 66, (options, result.stderr)
        assert message.format(junk=junk) in result.stderr
        assert result.stderr.count("\n") == 1


def _encrypt_key(source: str, target: str) -> None:
    from cryptography.hazmat.primitives import serialization

    with open(source, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with open(target, "wb") as handle:
        handle.write(encrypted)


# ---------------------------------------------------------------- --insecure, -v, --sni


def test_insecure_connects_to_anything_and_always_warns(pki: Pki, tls_peer: TlsPeer) -> None:
    server = tls_peer(pki.self_signed)
    result = run_tcpcli("--tls", "--insecure", "127.0.0.1", str(server.port), stdin=b"hi\n")
    assert result.code == 0, result.stderr
    assert result.stdout == b"hi\n"
    assert "tcpcli: --insecure: the server's certificate is NOT checked" in result.stderr


def test_verbose_shows_version_cipher_and_the_certificate(pki: Pki, tls_peer: TlsPeer) -> None:
    server = tls_peer(pki.server)
    result = run_tcpcli("-v", "--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port))
    assert result.code == 0, result.stderr
    lines = [
        line for line in result.stderr.splitlines() if "TLS established" in line or "certificate" in line
    ]
    assert lines[0].startswith("tcpcli: TLS established: TLSv1.3, cipher TLS_")
    assert lines[1].startswith("tcpcli: peer certificate: O=trustme")
    assert "CN=localhost; issued by O=tcpcli test CA" in lines[1]
    assert "expires " in lines[1] and "(verified for 127.0.0.1)" in lines[1]


def test_verbose_insecure_still_shows_who_is_there_with_a_fingerprint(pki: Pki, tls_peer: TlsPeer) -> None:
    server = tls_peer(pki.self_signed)
    result = run_tcpcli("-v", "--tls", "--insecure", "127.0.0.1", str(server.port))
    assert result.code == 0, result.stderr
    assert "peer certificate: CN=localhost; issued by CN=localhost" in result.stderr
    assert "(NOT verified, SHA-256 " in result.stderr


@pytest.mark.parametrize(
    ("host", "sni", "sent"),
    [("127.0.0.1", None, None), ("localhost", None, "localhost"), ("127.0.0.1", "localhost", "localhost")],
)
def test_sni_is_the_host_name_or_the_sni_option_never_an_address(
    pki: Pki, tls_peer: TlsPeer, host: str, sni: str | None, sent: str | None
) -> None:
    seen: list[str | None] = []
    context = server_context(pki.server)
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)  # type: ignore[assignment,misc,return-value]
    server = tls_peer(pki.server, context=context)
    options = ["--sni", sni] if sni else []
    result = run_tcpcli("--tls", "--cafile", pki.ca, *options, host, str(server.port))
    assert result.code == 0, result.stderr
    assert seen == [sent]


def test_ipv6_address_is_checked_against_its_ip_name(pki: Pki, tls_peer: TlsPeer) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = tls_peer(pki.server, family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback")
    result = run_tcpcli("--tls", "--cafile", pki.ca, "::1", str(server.port), stdin=b"six\n")
    assert result.code == 0, result.stderr
    assert result.stdout == b"six\n"


# ---------------------------------------------------------------- openssl s_server as the peer


@pytest.fixture
def openssl_server(pki: Pki) -> Iterator[Callable[..., OpensslServer]]:
    made: list[OpensslServer] = []

    def make(*extra: str) -> OpensslServer:
        server = OpensslServer(pki.server, *extra)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@needs_openssl
def test_openssl_s_server_both_ways_and_close_notify_ends_it(
    pki: Pki, openssl_server: Callable[..., OpensslServer]
) -> None:
    server = openssl_server()
    proc = start_tcpcli("--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port))
    assert proc.stdin is not None and proc.stdout is not None
    assert server.wait_printed(b"CIPHER is")  # the handshake is done
    server.type(b"K\n")  # s_server: TLS 1.3 key update, and ask tcpcli to update its keys too
    time.sleep(0.3)  # s_server treats one read of its stdin as one command: keep the next line apart
    server.type(b"hello from openssl\n")
    assert select.select([proc.stdout], [], [], WAIT)[0], "nothing arrived from s_server"
    assert proc.stdout.readline() == b"hello from openssl\n"
    code, _, err = _finish(proc, b"hello from tcpcli\n")  # then stdin EOF: close_notify; s_server closes
    assert code == 0, err
    printed = server.output()
    assert "SSL_do_handshake -> 1" in printed  # the key update went through
    assert "hello from tcpcli" in printed  # readable only if tcpcli answered the key update right
    assert "DONE" in printed  # s_server saw close_notify


@needs_openssl
def test_openssl_s_server_requiring_a_client_certificate(
    pki: Pki, openssl_server: Callable[..., OpensslServer]
) -> None:
    server = openssl_server("-Verify", "1", "-CAfile", pki.ca)
    args = ["--tls", "--cafile", pki.ca, "--cert", pki.client.cert, "--key", pki.client.key]
    result = run_tcpcli(*args, "127.0.0.1", str(server.port), stdin=b"with a certificate\n")
    assert result.code == 0, result.stderr
    printed = server.output()
    assert "with a certificate" in printed
    assert "client.example" in printed


@needs_openssl
def test_docs_recipe_self_signed_certificate_made_by_openssl(tmp_path: Path, tls_peer: TlsPeer) -> None:
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        [
            *(
                OPENSSL or "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ),
            *("-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=WAIT,
    )
    server = tls_peer(Identity(cert, key))
    result = run_tcpcli("--tls", "--cafile", cert, "localhost", str(server.port), stdin=b"recipe\n")
    assert result.code == 0, result.stderr
    assert result.stdout == b"recipe\n"
