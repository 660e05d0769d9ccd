"""The relay and Unix sockets: `--to unix:PATH` (and `unix:@name`) as the upstream, `-l -U PATH` as the
listening side, on both paths (kernel splice and the transcript's copy path)."""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PeerServer, echo_handler, recv_all
from tests.listen_helpers import WAIT, Server
from tests.modes.test_relay import PATHS, exchange


@contextlib.contextmanager
def unix_echo(address: str) -> Iterator[str]:
    """A Python echo server on a Unix socket (`@name`: abstract), one thread per client."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + address[1:] if address.startswith("@") else address)
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(WAIT)
            threading.Thread(target=lambda c=conn: (echo_handler(c), c.close()), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield address
    finally:
        stop.set()
        thread.join(WAIT)
        listener.close()


@contextlib.contextmanager
def relaying(*args: str, stdout: object = subprocess.PIPE) -> Iterator[Server]:
    server = Server(*args, stdout=stdout)
    try:
        yield server
    finally:
        server.kill()


@pytest.mark.parametrize("path", sorted(PATHS))
def test_to_a_unix_socket_byte_exact_both_ways(tmp_path: Path, path: str) -> None:
    data = random.Random(3).randbytes(1 << 20)
    transcript = tmp_path / "transcript"
    with (
        transcript.open(
            "wb"
        ) as out,  # read after the run: an unread pipe would (rightly) hold the relay back
        unix_echo(str(tmp_path / "up.sock")) as upstream,
        relaying("-l", "127.0.0.1", "0", "--to", f"unix:{upstream}", *PATHS[path], stdout=out) as server,
    ):
        with server.connect() as client:
            assert exchange(client, data) == data
        assert server.wait() == 0
    if path == "copy":
        first = transcript.read_bytes().split(b"\n", 1)[0].decode()
        assert first.startswith("#1 open 127.0.0.1:") and first.endswith(f" -> unix:{upstream}"), first


def test_to_an_abstract_socket_named_like_ss_shows_it(tmp_path: Path) -> None:
    name = f"@tcpcli-relay-{random.Random().getrandbits(40):x}"
    with unix_echo(name), relaying("-l", "127.0.0.1", "0", "--to", f"unix:{name}") as server:
        with server.connect() as client:
            assert exchange(client, b"PING\r\n") == b"PING\r\n"
        assert server.wait() == 0
        assert server.proc.stdout is not None
        transcript = server.proc.stdout.read().decode().splitlines()
    assert transcript[0].endswith(f" -> {name}")
    assert {"#1 > PING\\r\\n", "#1 < PING\\r\\n", "#1 > FIN", "#1 < FIN"} <= set(transcript)


def test_a_missing_unix_upstream_resets_the_client_and_exits_69(tmp_path: Path) -> None:
    missing = tmp_path / "nobody.sock"
    with relaying("-l", "127.0.0.1", "0", "--to", f"unix:{missing}", stdout=subprocess.DEVNULL) as server:
        with pytest.raises(ConnectionResetError), server.connect() as client:
            client.recv(10)
        assert server.wait() == 69
        line = server.rest_of_stderr().strip()
    assert line == f"tcpcli: #1 upstream unix:{missing}: no such file (is the server running?)"


@pytest.mark.parametrize("path", sorted(PATHS))
def test_listening_on_a_unix_socket_relays_to_tcp_and_removes_the_file(tmp_path: Path, path: str) -> None:
    upstream = PeerServer(echo_handler)
    sock_path = tmp_path / "front.sock"
    transcript = tmp_path / "transcript"
    args = ("-l", "-U", str(sock_path), "--to", f"127.0.0.1:{upstream.port}", *PATHS[path])
    try:
        with transcript.open("wb") as out, relaying(*args, stdout=out) as server:
            assert server.address == f"unix:{sock_path}"
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(WAIT)
                client.connect(str(sock_path))
                assert exchange(client, b"hello over unix\n") == b"hello over unix\n"
            assert server.wait() == 0
        assert not sock_path.exists()
        if path == "copy":  # a Unix client has no address: it is named after the socket and its number
            opened = transcript.read_text().splitlines()[0]
            assert opened == f"#1 open unix:{sock_path}#1 -> 127.0.0.1:{upstream.port}"
    finally:
        upstream.close()


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_socat_unix_listener_as_the_upstream(tmp_path: Path) -> None:
    sock_path = tmp_path / "socat.sock"
    socat = subprocess.Popen(
        ["socat", f"UNIX-LISTEN:{sock_path}", "SYSTEM:'tr a-z A-Z'"], stdin=subprocess.DEVNULL
    )
    try:
        for _ in range(200):  # socat binds asynchronously: wait for its file (bounded)
            if sock_path.exists():
                break
            threading.Event().wait(0.02)
        with relaying("-l", "127.0.0.1", "0", "--to", f"unix:{sock_path}", "--no-transcript") as server:
            with server.connect() as client:
                client.sendall(b"shout\n")
                client.shutdown(socket.SHUT_WR)
                assert recv_all(client) == b"SHOUT\n"
            assert server.wait() == 0
    finally:
        socat.kill()
        socat.wait(WAIT)
