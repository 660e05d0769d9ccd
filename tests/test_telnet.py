"""--telnet in stream mode against a device that waits for its option requests to be answered (issue E)."""

from __future__ import annotations

import os
import random
import re
import select
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from tests.conftest import TCPCLI, PeerServer, recv_all
from tests.listen_helpers import running

WAIT = 10.0
IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA, TTYPE, NAWS = 1, 3, 24, 31

Peer = Callable[..., PeerServer]

# What a router's telnet port sends first, and the refusals `nc -t` answers with.
REQUESTS = bytes([IAC, DO, TTYPE, IAC, WILL, ECHO, IAC, DO, NAWS, IAC, WILL, SGA])
REFUSALS = bytes([IAC, WONT, TTYPE, IAC, DONT, ECHO, IAC, WONT, NAWS, IAC, DONT, SGA])
# After the prompt: a subnegotiation and an escaped 0xFF that must come out as data.
PROMPT = bytes([IAC, SB, TTYPE, 1, IAC, SE]) + b"login: \xff\xff"


def recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        assert chunk, f"EOF after {data!r}"
        data += chunk
    return data


def device(conn: socket.socket) -> None:
    """Shows its prompt only once every request was refused, then greets the user by the name typed."""
    conn.sendall(REQUESTS)
    assert recv_exactly(conn, len(REFUSALS)) == REFUSALS
    conn.sendall(PROMPT)
    name = b""
    while not name.endswith(b"\n"):
        chunk = conn.recv(64)
        assert chunk, f"EOF after {name!r}"
        name += chunk
    conn.sendall(b"hello " + name.strip() + b"\r\n")
    conn.shutdown(socket.SHUT_WR)
    recv_all(conn)


def read_until(fd: int, needle: bytes) -> bytes:
    data = b""
    while needle not in data:
        ready, _, _ = select.select([fd], [], [], WAIT)
        assert ready, f"no {needle!r} within {WAIT} s; got {data!r}"
        chunk = os.read(fd, 4096)
        assert chunk, f"EOF before {needle!r}; got {data!r}"
        data += chunk
    return data


def test_telnet_refuses_every_option_so_the_device_shows_its_prompt(peer: Peer, tmp_path: Path) -> None:
    server = peer(device)
    log = tmp_path / "log"
    proc = subprocess.Popen(
        [*TCPCLI, "--telnet", "--hex-log", str(log), "127.0.0.1", str(server.port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    shown = read_until(proc.stdout.fileno(), b"login: \xff")  # negotiation hidden, IAC IAC -> 0xFF
    assert shown == b"login: \xff"
    proc.stdin.write(b"admin\n")
    proc.stdin.close()
    proc.stdin = None  # communicate() must not touch it again
    rest, stderr = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, stderr
    assert shown + rest == b"login: \xffhello admin\r\n"
    assert not server.errors
    # the log shows the wire: the requests received, then the refusals sent, then the prompt
    entries = re.findall(r"^\S+ ([<>]) (\d+) bytes$", log.read_text(), re.MULTILINE)
    assert entries[:2] == [("<", str(len(REQUESTS))), (">", str(len(REFUSALS)))]


def test_telnet_without_the_flag_shows_the_raw_negotiation(peer: Peer) -> None:
    def requests_then_close(conn: socket.socket) -> None:
        conn.sendall(REQUESTS)

    server = peer(requests_then_close)
    proc = subprocess.run(
        [*TCPCLI, "127.0.0.1", str(server.port)], stdin=subprocess.DEVNULL, capture_output=True, timeout=WAIT
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == REQUESTS


def test_telnet_sequence_cut_by_the_fin_is_given_back_as_data(peer: Peer) -> None:
    def cut(conn: socket.socket) -> None:
        conn.sendall(b"bye" + bytes([IAC, DO]))

    server = peer(cut)
    proc = subprocess.run(
        [*TCPCLI, "--telnet", "127.0.0.1", str(server.port)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=WAIT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"bye" + bytes([IAC, DO])


def test_refusals_never_break_into_the_data_being_sent(peer: Peer) -> None:
    """stdin flows while requests arrive: the peer gets the payload with whole refusals in it."""
    payload = random.Random(11).randbytes(8 << 20).replace(b"\xff", b"\x00")
    requests = 200
    received = bytearray()

    def asks_while_receiving(conn: socket.socket) -> None:
        def ask() -> None:
            for number in range(requests):
                conn.sendall(bytes([IAC, DO, number % 200]))

        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        received.extend(recv_all(conn))
        asker.join(WAIT)

    server = peer(asks_while_receiving)
    proc = subprocess.run(
        [*TCPCLI, "--telnet", "127.0.0.1", str(server.port)], input=payload, capture_output=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    refusals = re.findall(rb"\xff\xfc[\x00-\xff]", bytes(received))
    assert re.sub(rb"\xff\xfc[\x00-\xff]", b"", bytes(received)) == payload
    assert refusals  # the requests came while stdin was still flowing
    # every request that arrived before our FIN was refused, each as a whole IAC WONT x
    assert [r[2] for r in refusals] == list(range(len(refusals)))


def test_telnet_in_listen_mode_answers_the_client(tmp_path: Path) -> None:
    """-l without -k runs the same stream engine: the refusals go to the one client."""
    read_end, write_end = os.pipe()
    with running("--telnet", "-l", "127.0.0.1", "0", stdin=read_end, stdout=subprocess.PIPE) as server:
        os.close(read_end)
        assert server.proc.stdout is not None
        with server.connect() as client:
            client.sendall(REQUESTS)
            assert recv_exactly(client, len(REFUSALS)) == REFUSALS
            client.sendall(b"ready> ")
            assert read_until(server.proc.stdout.fileno(), b"ready> ") == b"ready> "
            os.write(write_end, b"ls\n")
            assert recv_exactly(client, 3) == b"ls\n"
        os.close(write_end)
        assert server.wait() == 0
