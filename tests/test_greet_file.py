"""--greet-file FILE in listen mode: each client gets the file's bytes as they are at connect time, streamed
with back-pressure (flat memory), then the session goes on like --greet; with nothing more to send (stdin
ended or not read, no relay) each client gets a FIN after the file: the "serve this file" recipe."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import recv_all, run_tcpcli
from tests.listen_helpers import WAIT, Server, recv_exactly, running

LOCAL = "127.0.0.1"


def _big_file(path: Path, mebibytes: int) -> str:
    """A file of distinct 1 MiB blocks (a block out of place changes the digest); returns its SHA-256."""
    block = os.urandom(1024 * 1024 - 8)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for number in range(mebibytes):
            chunk = number.to_bytes(8, "big") + block
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _slow_read_all(client: socket.socket) -> tuple[int, str]:
    """Read to EOF in small pieces with a pause every 4 MiB: a client slower than the server's disk."""
    client.settimeout(WAIT)
    digest = hashlib.sha256()
    total = 0
    while chunk := client.recv(32 * 1024):
        digest.update(chunk)
        total += len(chunk)
        if total % (4 << 20) < len(chunk):
            time.sleep(0.01)
    return total, digest.hexdigest()


def _slow_client(server: Server) -> socket.socket:
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # before connecting: a small window
    client.settimeout(WAIT)
    client.connect((LOCAL, server.port))
    return client


def test_keep_open_serves_the_file_as_it_is_now_then_fin_when_stdin_is_not_read(tmp_path: Path) -> None:
    page = tmp_path / "page"
    page.write_bytes(b"version 1\n\x00\xff")
    with running("-l", "-k", "--greet-file", str(page), LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        with server.connect() as client:
            assert recv_all(client) == b"version 1\n\x00\xff"
        page.write_bytes(b"version 2, longer\n")
        with server.connect() as client:
            assert recv_all(client) == b"version 2, longer\n"  # read at each connect
        assert server.stop() == 143


def test_single_client_gets_the_file_then_fin_at_stdin_eof(tmp_path: Path) -> None:
    page = tmp_path / "page"
    page.write_bytes(b"hello file\n")
    with running("-l", "--greet-file", str(page), LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        with server.connect() as client:
            assert recv_all(client) == b"hello file\n"
        assert server.wait() == 0


def test_keep_open_with_stdin_the_session_goes_on_after_the_file(tmp_path: Path) -> None:
    page = tmp_path / "page"
    page.write_bytes(b"motd\n")
    with running("-l", "-k", "-v", "--greet-file", str(page), LOCAL, "0") as server:
        with server.connect() as client:
            assert recv_exactly(client, 5) == b"motd\n"
            server.wait_stderr("connected")
            server.write_stdin(b"typed after the file\n")
            assert recv_exactly(client, 21) == b"typed after the file\n"
            server.close_stdin()  # nothing more can come: FIN, as a single client gets at stdin EOF
            assert recv_all(client) == b""
        assert "left: 0 bytes from it, 26 to it" in server.wait_stderr("left")
        assert server.stop() == 143


def test_greet_file_then_echo(tmp_path: Path) -> None:
    page = tmp_path / "page"
    page.write_bytes(b"echo server\n")
    with running(
        "-l", "-k", "--echo", "--greet-file", str(page), LOCAL, "0", stdin=subprocess.DEVNULL
    ) as server:
        with server.connect() as client:
            client.sendall(b"ping\n")
            assert recv_exactly(client, 17) == b"echo server\nping\n"
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b""
        assert server.stop() == 143


def test_client_fin_during_the_file_still_gets_all_of_it(tmp_path: Path) -> None:
    page = tmp_path / "big"
    digest = _big_file(page, 8)
    with running("-l", "-k", "--greet-file", str(page), LOCAL, "0") as server:  # stdin open: no FIN from us
        client = _slow_client(server)
        client.shutdown(socket.SHUT_WR)  # `tcpcli host port </dev/null >copy`: its FIN comes first
        assert _slow_read_all(client) == (8 << 20, digest)
        client.close()
        assert server.stop() == 143


def test_hundred_megabytes_to_a_slow_client_keep_memory_flat(tmp_path: Path) -> None:
    page = tmp_path / "big"
    digest = _big_file(page, 100)
    with running("-l", "-k", "-v", "--greet-file", str(page), LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        with _slow_client(server) as client:
            assert _slow_read_all(client) == (100 << 20, digest)
        server.wait_stderr("left")
        peak = server.peak_rss_kib()
        assert server.stop() == 143
    assert peak < 60 * 1024, f"peak RSS {peak} KiB"


def test_hundred_megabytes_to_the_single_client_keep_memory_flat(tmp_path: Path) -> None:
    page = tmp_path / "big"
    digest = _big_file(page, 100)
    with running("-l", "--greet-file", str(page), LOCAL, "0") as server:  # stdin open: read until it ends
        with _slow_client(server) as client:
            total, got = 0, hashlib.sha256()
            while total < 100 << 20:
                chunk = client.recv(32 * 1024)
                assert chunk
                got.update(chunk)
                total += len(chunk)
            assert (total, got.hexdigest()) == (100 << 20, digest)
            peak = server.peak_rss_kib()
            server.close_stdin()
            assert recv_all(client) == b""
        assert server.wait() == 0
    assert peak < 60 * 1024, f"peak RSS {peak} KiB"


def test_file_gone_after_start_resets_the_client_with_one_line(tmp_path: Path) -> None:
    page = tmp_path / "page"
    page.write_bytes(b"here at start\n")
    with running("-l", "-k", "--greet-file", str(page), LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        page.unlink()
        with server.connect() as client:
            try:
                data = client.recv(1)
            except ConnectionResetError:
                data = None
            assert data is None
        line = server.stderr_line()
        assert line.startswith(f"tcpcli: --greet-file {page}: No such file or directory; client 127.0.0.1:")
        assert line.endswith(" reset")
        assert server.stop() == 143


def test_unreadable_greet_file_is_66_before_binding(tmp_path: Path) -> None:
    result = run_tcpcli("-l", "--greet-file", str(tmp_path / "missing"), LOCAL, "0")
    assert result.code == 66
    assert result.stderr.count("\n") == 1 and "--greet-file" in result.stderr


def test_greet_file_over_tls_with_and_without_keep_open(tmp_path: Path) -> None:
    from tests.tls_helpers import make_pki

    pki = make_pki(tmp_path)
    page = tmp_path / "page"
    content = os.urandom(300_000)  # more than one chunk through the TLS path
    page.write_bytes(content)
    for keep_open in ((), ("-k",)):
        args = ("-l", *keep_open, "--tls", "--cert", pki.server.cert, "--key", pki.server.key)
        with running(*args, "--greet-file", str(page), LOCAL, "0", stdin=subprocess.DEVNULL) as server:
            client = run_tcpcli(
                "--tls", "--cafile", pki.ca, LOCAL, str(server.port), stdin=subprocess.DEVNULL
            )
            assert client.code == 0, client.stderr
            assert client.stdout == content
            if keep_open:
                assert server.stop() == 143
            else:
                assert server.wait() == 0


def test_keep_open_no_half_close_keeps_clients_open_after_the_file_at_stdin_eof(tmp_path: Path) -> None:
    page = tmp_path / "page"
    page.write_bytes(b"the file\n")
    args = ("-l", "-k", "--no-half-close", "--greet-file", str(page), LOCAL, "0")
    with running(*args, stdin=subprocess.DEVNULL) as server:
        with server.connect() as client:
            assert recv_exactly(client, 9) == b"the file\n"
            client.settimeout(0.5)  # no FIN: the connection stays open (nothing arrives either)
            try:
                extra = client.recv(1)
            except TimeoutError:
                extra = None
            assert extra is None
        assert server.stop() == 143
