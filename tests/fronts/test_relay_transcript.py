"""The relay's transcript on stdout, end to end: real clients through the real program to a real upstream.

The transcript must give back every relayed byte (unescaped), per connection and direction, in text and in
`-x` hex, with `-t` stamps on every line; a stdout that stops reading holds the relay (no loss, flat memory)
and a reader that goes away ends it quietly. The relay's behaviour with the bytes themselves (FIN, RST,
failures) is tests/modes/test_relay.py's.
"""

from __future__ import annotations

import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import PeerServer, recv_all
from tests.core.test_transcript import _unescape  # the one reader of the escapes, shared
from tests.listen_helpers import WAIT, Server, eventually, running

_LINE = re.compile(rb"^(?:(\d\d:\d\d:\d\d\.\d{6}) )?#(\d+) (.*)$")
_HEX = re.compile(rb"^([<>]) ([0-9a-f]{8})  ((?:[0-9a-f]{2} {1,2}|   {1,2}){16}) \|.*\|$")
EVENTS = {b"FIN", b"RST"}


def echo_to_fin(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def relay_args(upstream: PeerServer, *extra: str) -> tuple[str, ...]:
    return ("-l", "127.0.0.1", "0", "--to", f"127.0.0.1:{upstream.port}", *extra)


def exchange(sock: socket.socket, data: bytes) -> bytes:
    """Send `data` and FIN while reading the echo back to the relayed FIN."""
    sender = threading.Thread(target=lambda: (sock.sendall(data), sock.shutdown(socket.SHUT_WR)))
    sender.start()
    back = recv_all(sock)
    sender.join(WAIT)
    return back


def parse(transcript: bytes) -> tuple[dict[int, str], dict[tuple[int, str], bytes], list[bytes]]:
    """(conn -> its open line, (conn, direction) -> the bytes its data lines give back, the event lines)."""
    opened: dict[int, str] = {}
    pieces: dict[tuple[int, str], list[bytes]] = {}
    events: list[bytes] = []
    for line in transcript.splitlines():
        match = _LINE.match(line)
        assert match, line
        conn, rest = int(match[2]), match[3]
        if rest.startswith(b"open "):
            opened[conn] = rest.decode()
        elif rest.startswith(b"closed: ") or rest[2:] in EVENTS:
            events.append(b"#%d %s" % (conn, rest))
        else:
            direction, text = rest[:1].decode(), rest[2:]
            pieces.setdefault((conn, direction), []).append(_unescape(text))
    return opened, {key: b"".join(value) for key, value in pieces.items()}, events


def test_two_concurrent_clients_are_told_apart_and_every_byte_is_in_the_transcript(
    peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    upstream = peer(echo_to_fin)
    payloads = [random.Random(seed).randbytes(300_000) + b"FIN" for seed in (1, 2)]
    log = tmp_path / "transcript"
    with log.open("wb") as stdout, running(*relay_args(upstream, "-k"), stdout=stdout) as server:
        clients = [server.connect(), server.connect()]
        threads = [
            threading.Thread(target=lambda c=c, p=p: backs.append((c.getsockname()[1], exchange(c, p))))
            for c, p in zip(clients, payloads, strict=True)
        ]
        backs: list[tuple[int, bytes]] = []
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert sorted(len(back) for _, back in backs) == [300_003, 300_003]
        eventually(lambda: log.read_bytes().count(b" closed: ") == 2)
        assert server.stop(signal.SIGINT) == 130
    opened, data, events = parse(log.read_bytes())
    by_port = {int(line.split()[1].rsplit(":", 1)[1]): conn for conn, line in opened.items()}
    for client, payload in zip(clients, payloads, strict=True):
        conn = by_port[client.getsockname()[1]]
        assert data[conn, ">"] == payload and data[conn, "<"] == payload
        assert b"#%d > FIN" % conn in events and b"#%d < FIN" % conn in events
        assert b"#%d closed: 300003 bytes >, 300003 bytes <, " % conn in b"\n".join(events)
        client.close()


def test_hex_offsets_run_per_connection_and_direction(
    peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    upstream = peer(echo_to_fin)
    log = tmp_path / "transcript"
    with log.open("wb") as stdout, running(*relay_args(upstream, "-k", "-x"), stdout=stdout) as server:
        for size in (40, 20):
            with server.connect() as client:
                assert exchange(client, bytes(range(size))) == bytes(range(size))
        eventually(lambda: log.read_bytes().count(b" closed: ") == 2)
        server.stop(signal.SIGINT)
    rows: dict[tuple[int, str], list[tuple[int, bytes]]] = {}
    for line in log.read_bytes().splitlines():
        match = _LINE.match(line)
        assert match, line
        hex_line = _HEX.match(match[3])
        if hex_line:
            key = (int(match[2]), hex_line[1].decode())
            rows.setdefault(key, []).append((int(hex_line[2], 16), bytes.fromhex(hex_line[3].decode())))
    for conn, size in ((1, 40), (2, 20)):
        for direction in "<>":
            lines = rows[conn, direction]
            assert lines[0][0] == 0  # each connection and direction counts from 0
            assert b"".join(part for _, part in lines) == bytes(range(size))
            assert [offset for offset, _ in lines] == [
                sum(len(p) for _, p in lines[:i]) for i in range(len(lines))
            ]


def test_every_line_carries_its_time_with_t(peer: Callable[..., PeerServer], tmp_path: Path) -> None:
    upstream = peer(echo_to_fin)
    log = tmp_path / "transcript"
    with log.open("wb") as stdout, running(*relay_args(upstream, "-t"), stdout=stdout) as server:
        with server.connect() as client:
            assert exchange(client, b"one\ntwo\n") == b"one\ntwo\n"
        assert server.wait() == 0
    lines = log.read_bytes().splitlines()
    assert len(lines) >= 7  # open, 2 lines each way, 2 FIN, closed
    assert all(re.match(rb"\d\d:\d\d:\d\d\.\d{6} #1 ", line) for line in lines), lines


def test_a_stdout_that_stops_reading_holds_the_relay_and_nothing_is_lost(
    peer: Callable[..., PeerServer],
) -> None:
    upstream = peer(echo_to_fin)
    # text (quick to read back) with a byte to escape per line; larger than every kernel buffer on the way
    line = b"GET /%08d?q=" + b"x" * 80 + b" HTTP/1.1\r\n"
    payload = b"".join(line % index for index in range((20 << 20) // len(line % 0)))
    with running(*relay_args(upstream), stdout=subprocess.PIPE) as server:
        client = server.connect()
        progress = {"sent": 0}

        def send() -> None:
            view = memoryview(payload)
            while view:
                count = client.send(view[: 1 << 16])
                progress["sent"] += count
                view = view[count:]
            client.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        back = bytearray()
        reader = threading.Thread(target=lambda: back.extend(recv_all(client)), daemon=True)
        reader.start()
        # nobody reads the relay's stdout: the client's sending stops well short of the payload (no count
        # changes for a quarter of a second: held, not just slow on a busy machine)
        samples = [-1]

        def stalled() -> bool:
            samples.append(progress["sent"])
            return samples[-1] == samples[-2] > 0

        deadline = time.monotonic() + WAIT
        while not stalled():
            assert time.monotonic() < deadline, "the client never stalled"
            time.sleep(0.25)
        assert progress["sent"] < len(payload)
        assert server.peak_rss_kib() < 100 * 1024
        assert server.proc.stdout is not None
        transcript = server.proc.stdout.read()  # until the relay exits: it ends with its one client
        sender.join(WAIT)
        reader.join(WAIT)
        assert server.wait() == 0
        client.close()
    _opened, data, _events = parse(transcript)
    assert bytes(back) == payload
    assert data[1, ">"] == payload and data[1, "<"] == payload


def test_a_reader_that_goes_away_ends_the_relay_quietly(peer: Callable[..., PeerServer]) -> None:
    upstream = peer(echo_to_fin)
    server = Server(*relay_args(upstream, "-k"), stdout=subprocess.PIPE)
    try:
        assert server.proc.stdout is not None
        server.proc.stdout.close()  # `| head -0`
        with server.connect() as client:
            client.sendall(b"x" * 100_000)
            server.wait()
        rest = server.rest_of_stderr()
        assert "Traceback" not in rest and rest.count("\n") <= 1, rest
    finally:
        server.kill()
