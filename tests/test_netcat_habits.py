"""Netcat habits that work here too: service names, -l -p, -N, -n, -d, and -z over several ports."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import PeerServer, free_port, run_tcpcli, start_tcpcli


def _listening_port(proc: subprocess.Popen[bytes]) -> int:
    assert proc.stderr is not None
    first = proc.stderr.readline().decode()
    assert first.startswith("tcpcli: listening on 127.0.0.1:"), first
    return int(first.rsplit(":", 1)[1])


@pytest.mark.parametrize("argv", [["-l", "-p", "0", "127.0.0.1"], ["-l", "-s", "127.0.0.1", "-p", "0"]])
def test_listen_with_netcat_style_p_and_s(argv: list[str]) -> None:
    """`nc -l -p PORT` (ncat, traditional nc) was 'needs a PORT'."""
    proc = start_tcpcli(*argv, stdin=subprocess.DEVNULL)
    try:
        port = _listening_port(proc)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"hello\n")
            client.shutdown(socket.SHUT_WR)
        out, _err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0
    assert out == b"hello\n"


def test_a_service_name_as_the_port_is_looked_up() -> None:
    result = run_tcpcli("-z", "-v", "-w", "2", "127.0.0.1", "http")
    assert result.code in (0, 1), result.stderr
    assert "127.0.0.1:80" in result.stderr


def test_n_connects_to_an_address_without_dns(echo_server: PeerServer) -> None:
    result = run_tcpcli("-n", "-N", echo_server.host, str(echo_server.port), stdin=b"ping\n", timeout=10)
    assert result.code == 0, result.stderr
    assert result.stdout == b"ping\n"


def test_d_never_reads_stdin_nor_sends_fin(peer: Callable[..., PeerServer]) -> None:
    """-d: stdin is not read (its bytes are not sent) and its EOF is no FIN; the peer's close ends the run."""
    seen: list[bytes | str] = []

    def greet_and_listen(conn: socket.socket) -> None:
        conn.sendall(b"hello\n")
        conn.settimeout(1.0)  # a FIN or data from tcpcli would arrive well within this
        try:
            seen.append(conn.recv(100))
        except TimeoutError:
            seen.append("nothing")

    server = peer(greet_and_listen)
    result = run_tcpcli("-d", server.host, str(server.port), stdin=b"must not be sent\n", timeout=10)
    assert result.code == 0, result.stderr
    assert result.stdout == b"hello\n"
    assert seen == ["nothing"]


@contextlib.contextmanager
def _listeners(count: int) -> Iterator[list[int]]:
    """`count` listening sockets on 127.0.0.1 (ports as the kernel picked them)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(8)
            socks.append(sock)
        yield [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive ports nobody uses on 127.0.0.1 right now."""
    for _ in range(50):
        base = free_port()
        if base + count > 65535:
            continue
        probes = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                probes.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in probes:
                sock.close()
    pytest.skip("no run of consecutive free ports")


def test_z_with_several_ports_reports_each_open_one_in_order() -> None:
    closed = str(free_port())
    with _listeners(2) as (first, second):
        result = run_tcpcli("-z", "-v", "127.0.0.1", str(second), closed, str(first))
    assert result.code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].endswith(f"-> 127.0.0.1:{second}")
    assert lines[1].endswith(f"-> 127.0.0.1:{first}")


def test_z_over_a_range_checks_every_port_in_it() -> None:
    base = _consecutive_free_ports(5)
    with socket.socket() as low, socket.socket() as high:
        for sock, port in ((low, base + 1), (high, base + 3)):
            sock.bind(("127.0.0.1", port))
            sock.listen(8)
        result = run_tcpcli("-z", "-v", "127.0.0.1", f"{base}-{base + 4}")
        quiet = run_tcpcli("-z", "127.0.0.1", f"{base}-{base + 4}")
    assert result.code == 0, result.stderr
    opened = [line.rsplit(":", 1)[1] for line in result.stderr.splitlines()]
    assert opened == [str(base + 1), str(base + 3)], result.stderr
    assert (quiet.code, quiet.stderr) == (0, "")


def test_z_is_1_when_no_port_in_the_list_is_open() -> None:
    base = _consecutive_free_ports(3)
    result = run_tcpcli("-z", "-v", "127.0.0.1", f"{base}-{base + 2}", str(free_port()))
    assert result.code == 1, result.stderr
    assert result.stderr == ""
