"""Serving TLS with `-l --tls --cert F --key F`: tcpcli on both ends, openssl s_client as the client,
client certificates with `--cafile`, and certificate problems found before the port is bound."""

from __future__ import annotations

import random
import select
import socket
import subprocess
from pathlib import Path

import pytest

from tcpcli.engine.hub import TLS_HANDSHAKE_TIMEOUT
from tests.conftest import run_tcpcli
from tests.listen_helpers import running
from tests.tls_helpers import OPENSSL, WAIT, Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _serve_args(pki: Pki, *extra: str) -> tuple[str, ...]:
    return ("-l", "--tls", "--cert", pki.server.cert, "--key", pki.server.key, *extra, "127.0.0.1", "0")


def test_tcpcli_to_tcpcli_over_tls_is_byte_exact_both_ways(pki: Pki, tmp_path: Path) -> None:
    rng = random.Random(5)
    to_client, to_server = rng.randbytes(1 << 20), rng.randbytes(1 << 20)
    served_file, received_file = tmp_path / "served.bin", tmp_path / "received.bin"
    served_file.write_bytes(to_client)
    with (
        served_file.open("rb") as stdin,
        received_file.open("wb") as stdout,
        running(*_serve_args(pki), stdin=stdin.fileno(), stdout=stdout.fileno()) as server,
    ):
        client = run_tcpcli("--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port), stdin=to_server)
        assert server.wait() == 0, server.rest_of_stderr()
    assert client.code == 0, client.stderr
    assert client.stdout == to_client
    assert received_file.read_bytes() == to_server


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
def test_openssl_s_client_talks_to_the_tls_server(pki: Pki, tmp_path: Path) -> None:
    received = tmp_path / "received.txt"
    with received.open("wb") as stdout, running(*_serve_args(pki), stdout=stdout.fileno()) as server:
        server.write_stdin(b"from tcpcli\n")
        client = subprocess.Popen(
            [
                *(OPENSSL or "openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-brief"),
                *("-CAfile", pki.ca, "-verify_return_error", "-servername", "localhost"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert client.stdout is not None
            assert select.select([client.stdout], [], [], WAIT)[0], "nothing reached s_client"
            assert client.stdout.readline() == b"from tcpcli\n"
            _, errors = client.communicate(b"from s_client\n", timeout=WAIT)  # then EOF: s_client closes
        finally:
            client.kill()
            client.communicate()
        assert b"Verification: OK" in errors
        assert server.wait() == 0  # the client left; stdin has been quiet
    assert received.read_bytes() == b"from s_client\n"


def test_cafile_makes_the_server_require_a_client_certificate(pki: Pki) -> None:
    with running(*_serve_args(pki, "--cafile", pki.ca)) as server:
        args = ["--tls", "--cafile", pki.ca, "--cert", pki.client.cert, "--key", pki.client.key]
        client = run_tcpcli(*args, "127.0.0.1", str(server.port), stdin=b"with a certificate\n")
        assert client.code == 0, client.stderr
        server.close_stdin()
        assert server.wait() == 0
    with running(*_serve_args(pki, "--cafile", pki.ca)) as server:
        client = run_tcpcli("--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port))
        assert client.code == 76, client.stderr
        assert "requires a client certificate" in client.stderr
        assert server.wait() == 76
        assert "the client sent no certificate" in server.rest_of_stderr()


def test_bad_certificate_or_key_is_66_before_binding(pki: Pki, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("junk\n")
    for cert, key in ((str(junk), pki.server.key), (pki.server.cert, str(junk))):
        result = run_tcpcli("-l", "--tls", "--cert", cert, "--key", key, "127.0.0.1", "0")
        assert result.code == 66
        assert "listening on" not in result.stderr
        assert result.stderr.startswith(
            f"tcpcli: {'--cert' if cert == str(junk) else '--key'} {junk}: holds no PEM"
        )


# ---------------------------------------------------------------- many clients (-k): handshakes reported


def _after_address(line: str) -> str:
    """`... client 127.0.0.1:PORT failed: REASON` -> `failed: REASON` (ports differ between runs)."""
    return line.split(" failed: ", 1)[1] if " failed: " in line else line.split(": ", 2)[-1]


def test_keep_open_reports_a_plain_text_client_with_the_one_client_wording(pki: Pki) -> None:
    with running(*_serve_args(pki)) as one:  # the one-client path: its error line is the reference
        with socket.create_connection(("127.0.0.1", one.port), timeout=WAIT) as plain:
            plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert one.wait() == 76
        reference = one.rest_of_stderr().strip().splitlines()[-1]
    assert "TLS handshake with client 127.0.0.1:" in reference
    with running(*_serve_args(pki, "-k", "--echo")) as server:
        for junk in (b"GET / HTTP/1.0\r\n\r\n", bytes(range(256)) * 4):  # plain text, then garbage
            with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as client:
                client.sendall(junk)
                line = server.wait_stderr("TLS handshake with client 127.0.0.1:")
            if junk.startswith(b"GET"):
                assert _after_address(line) == _after_address(reference), (line, reference)
        assert server.stop() == 143


def test_keep_open_drops_a_stalled_handshake_without_holding_up_the_others(pki: Pki) -> None:
    with running(*_serve_args(pki, "-k", "-v", "--echo")) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as stalled:
            # while the first client says nothing, a second one completes its handshake and is echoed
            args = ["--tls", "--cafile", pki.ca, "127.0.0.1", str(server.port)]
            client = run_tcpcli(*args, stdin=b"not held up\n")
            assert client.code == 0, client.stderr
            assert client.stdout == b"not held up\n"
            line = server.wait_stderr("did not finish", timeout=TLS_HANDSHAKE_TIMEOUT + WAIT)
            assert line.startswith("tcpcli: TLS handshake with client 127.0.0.1:"), line
            stalled.settimeout(WAIT)
            assert stalled.recv(1) == b""  # and its connection is closed
        assert server.stop() == 143


def test_keep_open_verbose_shows_the_tls_and_client_certificate_lines(pki: Pki) -> None:
    with running(*_serve_args(pki, "-k", "-v", "--cafile", pki.ca)) as server:
        args = ["--tls", "--cafile", pki.ca, "--cert", pki.client.cert, "--key", pki.client.key]
        client = run_tcpcli(*args, "127.0.0.1", str(server.port), stdin=b"hi\n")
        assert client.code == 0, client.stderr
        assert "TLS established: TLS" in server.wait_stderr("TLS established")
        assert "(verified)" in server.wait_stderr("peer certificate:")
        assert server.stop() == 143
