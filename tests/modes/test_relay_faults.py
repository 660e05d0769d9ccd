"""Faults and rewrites in the relay, against real clients and upstreams on loopback.

What arrives and when is measured on the receiving side; margins are generous (a delay is checked to be
at least what was asked, never at most something tight), and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PeerServer, echo_handler, recv_all, run_tcpcli
from tests.listen_helpers import WAIT, Server, eventually, recv_exactly


@contextlib.contextmanager
def relaying(upstream: int, *extra: str, out: Path | None = None) -> Iterator[Server]:
    """`tcpcli -l 127.0.0.1 0 --to 127.0.0.1:UPSTREAM EXTRA...`, its transcript in `out` (if given)."""
    with contextlib.ExitStack() as stack:
        stdout = stack.enter_context(out.open("wb")) if out is not None else None
        popen: dict[str, object] = {"stdout": stdout} if stdout is not None else {}
        server = Server("-l", "127.0.0.1", "0", "--to", f"127.0.0.1:{upstream}", *extra, **popen)
        try:
            yield server
        finally:
            server.kill()


def sender(payload: bytes, then: Callable[[socket.socket], None] | None = None) -> Callable[..., None]:
    """An upstream that sends `payload` at once, then runs `then` (default: waits for the client's end)."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(payload)
        if then is not None:
            then(conn)
        else:
            recv_all(conn)

    return handler


def test_delay_holds_each_direction_at_least_as_long_as_asked(
    peer: Callable[..., PeerServer],
) -> None:
    upstream = peer(echo_handler)
    with relaying(upstream.port, "--delay", "200ms") as server, server.connect() as client:
        started = time.monotonic()
        client.sendall(b"ping\n")
        assert recv_exactly(client, 5) == b"ping\n"
        # no prefix: both directions, each delayed on its own: at least 2 x 200 ms for the round trip
        assert time.monotonic() - started >= 0.4


def test_a_prefix_delays_one_direction_only(peer: Callable[..., PeerServer]) -> None:
    upstream = peer(echo_handler)
    with relaying(upstream.port, "--delay", "up:300ms") as server, server.connect() as client:
        started = time.monotonic()
        client.sendall(b"a")
        assert recv_exactly(client, 1) == b"a"
        assert time.monotonic() - started >= 0.3


def test_rate_holds_the_average_under_the_limit(peer: Callable[..., PeerServer]) -> None:
    size, rate = 300 * 1024, 200 * 1024
    upstream = peer(sender(b"r" * size, lambda conn: conn.shutdown(socket.SHUT_WR)))
    with relaying(upstream.port, "--rate", "down:200k", "--no-transcript") as server:
        with server.connect() as client:
            started = time.monotonic()
            assert recv_all(client) == b"r" * size
            seconds = time.monotonic() - started
        assert server.wait() == 0
    # never above the rate (a token bucket starting empty); well within reach of it (a loaded machine)
    assert size / seconds <= rate * 1.1
    assert size / seconds >= rate * 0.5


def test_slice_with_delay_gives_a_one_byte_at_a_time_client(peer: Callable[..., PeerServer]) -> None:
    reads: list[bytes] = []

    def record_reads(conn: socket.socket) -> None:
        while chunk := conn.recv(65536):
            reads.append(chunk)

    upstream = peer(record_reads)
    with relaying(upstream.port, "--slice", "up:1", "--delay", "up:50ms") as server:
        with server.connect() as client:
            client.sendall(b"GET /\r\n")
            client.shutdown(socket.SHUT_WR)
            eventually(lambda: b"".join(reads) == b"GET /\r\n")
        assert server.wait() == 0
    assert all(len(chunk) == 1 for chunk in reads), reads


def test_stall_after_n_bytes_forwards_n_then_keeps_both_sides_open(
    peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    heard: list[bytes] = []

    def talk(conn: socket.socket) -> None:
        conn.sendall(b"hello world")
        heard.append(conn.recv(100))
        conn.sendall(b"more")
        recv_all(conn)

    upstream = peer(talk)
    out = tmp_path / "transcript"
    with relaying(upstream.port, "--stall-after", "down:5", out=out) as server, server.connect() as client:
        assert recv_exactly(client, 5) == b"hello"
        client.settimeout(0.5)
        with pytest.raises(TimeoutError):  # the stalled direction is open, and silent
            client.recv(100)
        client.settimeout(WAIT)
        client.sendall(b"still there?")  # the other direction still flows
        eventually(lambda: heard == [b"still there?"])
        eventually(lambda: "#1 < STALL\n" in out.read_text())


@pytest.mark.parametrize("trigger", ["100", "down:100"])
def test_cut_after_100_delivers_exactly_100_bytes_then_fin(
    peer: Callable[..., PeerServer], tmp_path: Path, trigger: str
) -> None:
    upstream_ends: list[bytes] = []
    upstream = peer(sender(b"z" * 10_000, lambda conn: upstream_ends.append(recv_all(conn))))
    out = tmp_path / "transcript"
    with relaying(upstream.port, "--cut-after", trigger, out=out) as server:
        with server.connect() as client:
            assert recv_all(client) == b"z" * 100  # then FIN: recv_all ends without a reset
        assert server.wait() == 0
        eventually(lambda: upstream_ends == [b""])  # the upstream got a FIN too
    assert "#1 CUT\n" in out.read_text()


def test_cut_after_a_time_closes_an_idle_connection(peer: Callable[..., PeerServer]) -> None:
    upstream = peer(lambda conn: recv_all(conn) and None)
    with relaying(upstream.port, "--cut-after", "300ms") as server, server.connect() as client:
        started = time.monotonic()
        assert recv_all(client) == b""
        assert time.monotonic() - started >= 0.3


def test_reset_after_100_delivers_100_bytes_then_rst(peer: Callable[..., PeerServer], tmp_path: Path) -> None:
    upstream = peer(sender(b"q" * 10_000))
    out = tmp_path / "transcript"
    with relaying(upstream.port, "--reset-after", "down:100", out=out) as server:
        with server.connect() as client:
            assert recv_exactly(client, 100) == b"q" * 100
            with pytest.raises(ConnectionResetError):
                client.recv(100)
        assert server.wait() == 0
    assert "#1 RESET\n" in out.read_text()


def test_refuse_first_two_then_a_retrying_client_gets_through(peer: Callable[..., PeerServer]) -> None:
    upstream = peer(echo_handler)
    with relaying(upstream.port, "--refuse-first", "2", "-v") as server:
        attempts = 0
        answer = b""
        while not answer and attempts < 5:  # the client's retry loop
            attempts += 1
            try:
                with server.connect() as client:
                    client.sendall(b"hi")
                    client.shutdown(socket.SHUT_WR)
                    answer = recv_all(client)
            except (ConnectionResetError, BrokenPipeError):
                continue
        assert (attempts, answer) == (3, b"hi")
        assert server.wait() == 0
        assert server.rest_of_stderr().count("--refuse-first 2") == 2


@pytest.mark.parametrize(("rate", "mark", "received"), [("0", " (not faulty)", 1000), ("1", "", 10)])
def test_fault_rate_zero_never_and_one_always(
    peer: Callable[..., PeerServer], tmp_path: Path, rate: str, mark: str, received: int
) -> None:
    upstream = peer(sender(b"f" * 1000, lambda conn: conn.shutdown(socket.SHUT_WR)))
    out = tmp_path / "transcript"
    with relaying(upstream.port, "--fault-rate", rate, "--cut-after", "down:10", out=out) as server:
        with server.connect() as client:
            assert len(recv_all(client)) == received
        assert server.wait() == 0
    first = out.read_text().splitlines()[0]
    assert first.startswith("#1 open ") and first.endswith(f":{upstream.port}{mark}")


def test_replace_works_when_old_is_split_across_writes(
    peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    upstream = peer(echo_handler)
    out = tmp_path / "transcript"
    pairs = ("--replace", "up:PING=PONG", "--replace", "down:\\n=\\r\\n")
    with relaying(upstream.port, *pairs, out=out) as server:
        with server.connect() as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.sendall(b"PI")
            eventually(lambda: "#1 > PI\n" in out.read_text())  # held back, and shown as received
            client.sendall(b"NG\n")
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b"PONG\r\n"
        assert server.wait() == 0
    transcript = out.read_text()
    assert "#1 > NG\\n\n" in transcript and "#1 < PONG\\n\n" in transcript


def test_a_slow_rate_stops_reading_the_sender_memory_stays_flat(peer: Callable[..., PeerServer]) -> None:
    upstream = peer(lambda conn: recv_all(conn) and None)
    slow = ("--rate", "up:10k", "--no-transcript")
    with relaying(upstream.port, *slow) as server, server.connect() as client:
        client.setblocking(False)
        sent = 0
        deadline = time.monotonic() + WAIT
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - quiet_since < 1.0:
            try:
                sent += client.send(b"m" * 65536)
                quiet_since = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
        # the kernel buffers on both hops plus the relay's queue bound, not everything offered
        assert sent < 16 << 20
        assert server.peak_rss_kib() < 200_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--delay", "5"), "--delay: '5' is not a time"),
        (("--delay", "up:1s~x"), "--delay: 'x' is not a time"),
        (("--rate", "0"), "--rate: '0' is not a size of at least 1 byte"),
        (("--slice", "1.5"), "--slice: '1.5' is not a size"),
        (("--stall-after", "soon"), "--stall-after: 'soon' is neither a byte count"),
        (("--cut-after", "1m"), "--cut-after: '1m' is neither"),
        (("--reset-after", "-3"), "--reset-after: '-3' is neither"),
        (("--refuse-first", "two"), "--refuse-first: 'two' is not a whole number"),
        (("--fault-rate", "1.5"), "--fault-rate: '1.5' is not between 0 and 1"),
        (("--replace", "nothing"), "--replace: 'nothing' is not OLD=NEW"),
        (("--replace", "=x"), "--replace: OLD is empty"),
        (("--replace", "a\\q=b"), "--replace: unknown escape"),
        (("--cut-after", "up:5", "--cut-after", "5"), "--cut-after is given twice for client to upstream"),
    ],
)
def test_bad_fault_values_are_usage_errors_naming_the_option(args: tuple[str, ...], message: str) -> None:
    result = run_tcpcli("-l", "0", "--to", "127.0.0.1:9", *args)
    assert result.code == 2
    assert result.stderr.startswith(f"tcpcli: {message}"), result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [("127.0.0.1", "9"), ("-l", "0")])
def test_fault_options_are_only_for_the_relay(args: tuple[str, ...]) -> None:
    result = run_tcpcli(*args, "--cut-after", "10")
    assert result.code == 2
    assert result.stderr == "tcpcli: --cut-after is for the relay: use it with -l PORT --to HOST:PORT\n"


def test_a_relay_with_a_fault_never_takes_the_kernel_path(peer: Callable[..., PeerServer]) -> None:
    """--no-transcript alone splices; with --replace the bytes must pass through Python to change."""
    upstream = peer(echo_handler)
    with relaying(upstream.port, "--no-transcript", "--replace", "a=b") as server:
        with server.connect() as client:
            client.sendall(b"banana")
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b"bbnbnb"
        assert server.wait() == 0
