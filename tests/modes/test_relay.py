"""The relay (`-l PORT --to HOST:PORT`) against real peers: Python servers and clients on loopback.

Each behaviour runs on both paths where it applies: `kernel` (--no-transcript: splice) and `copy` (the
transcript on, written to a file). Every wait is bounded (socket timeouts, WAIT).
"""

from __future__ import annotations

import contextlib
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PeerServer, echo_handler, free_port, recv_all
from tests.listen_helpers import WAIT, Server, eventually, recv_exactly

PATHS = {"kernel": ("--no-transcript",), "copy": ()}


def relay(
    upstream_port: int, *extra: str, path: str = "kernel", host: str = "127.0.0.1", **popen: object
) -> Server:
    return Server("-l", "127.0.0.1", "0", "--to", f"{host}:{upstream_port}", *PATHS[path], *extra, **popen)


@contextlib.contextmanager
def relaying(
    upstream_port: int, *extra: str, path: str = "kernel", host: str = "127.0.0.1", **popen: object
) -> Iterator[Server]:
    server = relay(upstream_port, *extra, path=path, host=host, **popen)
    try:
        yield server
    finally:
        server.kill()


def reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER {1, 0})."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def reset_at_once(server: Server) -> None:
    """A client the relay resets right after accept (the RST may even beat connect()'s return)."""
    with pytest.raises(ConnectionResetError), server.connect() as client:
        client.recv(10)


def exchange(sock: socket.socket, data: bytes) -> bytes:
    """Send `data` (then FIN) while reading everything back until the peer's FIN."""
    sender = threading.Thread(target=lambda: (sock.sendall(data), sock.shutdown(socket.SHUT_WR)))
    sender.start()
    back = recv_all(sock)
    sender.join(WAIT)
    return back


@pytest.fixture(params=sorted(PATHS))
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_bytes_are_relayed_verbatim_both_ways_and_the_run_ends_with_its_client(
    peer: Callable[..., PeerServer], path: str, tmp_path: Path
) -> None:
    upstream = peer(echo_handler)
    data = random.Random(7).randbytes(4 << 20)
    with (tmp_path / "out").open("wb") as out, relaying(upstream.port, path=path, stdout=out) as server:
        with server.connect() as client:
            assert exchange(client, data) == data
        assert server.wait() == 0


def test_client_fin_is_relayed_and_the_upstream_can_still_answer(
    peer: Callable[..., PeerServer], path: str, tmp_path: Path
) -> None:
    def count_then_answer(conn: socket.socket) -> None:
        got = recv_all(conn)  # until the client's FIN, relayed
        conn.sendall(b"got %d bytes\n" % len(got))
        conn.shutdown(socket.SHUT_WR)

    upstream = peer(count_then_answer)
    with (tmp_path / "out").open("wb") as out, relaying(upstream.port, path=path, stdout=out) as server:
        with server.connect() as client:
            client.sendall(b"x" * 100_000)
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b"got 100000 bytes\n"
        assert server.wait() == 0
    if path == "copy":
        transcript = (tmp_path / "out").read_text()
        assert "#1 > FIN\n" in transcript and "#1 < FIN\n" in transcript
        assert "#1 closed: 100000 bytes >, 17 bytes <, " in transcript


def test_upstream_fin_is_relayed_and_the_client_can_still_send(
    peer: Callable[..., PeerServer], path: str, tmp_path: Path
) -> None:
    heard: list[bytes] = []

    def speak_first(conn: socket.socket) -> None:
        conn.sendall(b"hello\n")
        conn.shutdown(socket.SHUT_WR)
        heard.append(recv_all(conn))

    upstream = peer(speak_first)
    with (tmp_path / "out").open("wb") as out, relaying(upstream.port, path=path, stdout=out) as server:
        with server.connect() as client:
            assert recv_all(client) == b"hello\n"  # the upstream's FIN reached us...
            client.sendall(b"late words")  # ...and our side is still open
            client.shutdown(socket.SHUT_WR)
            eventually(lambda: heard == [b"late words"])
        assert server.wait() == 0


def test_client_reset_is_relayed_as_a_reset_and_ends_the_run_with_74(
    peer: Callable[..., PeerServer], path: str, tmp_path: Path
) -> None:
    outcome: list[str] = []

    def read_until_error(conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                pass
            outcome.append("fin")
        except ConnectionResetError:
            outcome.append("reset")

    upstream = peer(read_until_error)
    with (tmp_path / "out").open("wb") as out, relaying(upstream.port, path=path, stdout=out) as server:
        client = server.connect()
        client.sendall(b"x")
        eventually(lambda: bool(upstream.connections))
        reset(client)
        eventually(lambda: outcome == ["reset"])
        assert server.wait() == 74
        assert "reset by the client" in server.rest_of_stderr()
    if path == "copy":
        assert "#1 > RST\n" in (tmp_path / "out").read_text()


def test_upstream_reset_is_relayed_as_a_reset(
    peer: Callable[..., PeerServer], path: str, tmp_path: Path
) -> None:
    def answer_then_reset(conn: socket.socket) -> None:
        conn.recv(10)
        conn.sendall(b"bye")
        reset(conn)

    upstream = peer(answer_then_reset)
    with (tmp_path / "out").open("wb") as out, relaying(upstream.port, path=path, stdout=out) as server:
        with server.connect() as client:
            client.sendall(b"hi")
            with pytest.raises(ConnectionResetError):
                while client.recv(65536):
                    pass
        assert server.wait() == 74
        assert "#1 reset by the upstream" in server.rest_of_stderr()


def test_refused_upstream_resets_the_client_and_exits_69(path: str) -> None:
    port = free_port()
    with relaying(port, path=path) as server:
        reset_at_once(server)  # an RST, not an empty answer
        assert server.wait() == 69
        line = server.rest_of_stderr().strip()
    assert line == f"tcpcli: #1 upstream 127.0.0.1:{port}: connection refused (is anything listening there?)"


def test_unresolvable_upstream_exits_68() -> None:
    server = Server("-l", "127.0.0.1", "0", "--to", "nosuchhost.invalid:80", "--no-transcript")
    try:
        reset_at_once(server)
        assert server.wait(30) == 68
        assert "#1 upstream nosuchhost.invalid:80: nosuchhost.invalid" in server.rest_of_stderr()
    finally:
        server.kill()


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A loopback listener whose backlog is full and that never accepts: connecting to it times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):  # fill the accept queue; then SYNs are dropped
            sock = socket.socket()
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(listener.getsockname())
            fillers.append(sock)
        yield listener.getsockname()[1]
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


def test_timed_out_upstream_exits_75_after_w() -> None:
    with black_hole() as port, relaying(port, "-w", "1") as server:
        reset_at_once(server)
        assert server.wait() == 75
        assert (
            f"#1 upstream 127.0.0.1:{port}: timed out after 1 s (raise it with -w)" in server.rest_of_stderr()
        )


def test_a_black_holed_upstream_does_not_hold_other_clients(peer: Callable[..., PeerServer]) -> None:
    """-k: clients keep being served while another waits on a dead upstream (no serialized connects)."""
    with black_hole() as port, relaying(port, "-k", "-w", "5") as server:
        stuck = [server.connect() for _ in range(20)]  # 20 connects pending at once
        reset_at_once(server)  # the 21st times out like the others, ~5 s, not 21 x 5 s
        for sock in stuck:
            sock.close()
        assert server.stop(signal.SIGINT) == 130


def test_keep_open_numbers_connections_and_sigint_is_130(
    peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    upstream = peer(echo_handler)
    with (
        (tmp_path / "out").open("wb") as out,
        relaying(upstream.port, "-k", path="copy", stdout=out) as server,
    ):
        for word in (b"one\n", b"two\n"):
            with server.connect() as client:
                assert exchange(client, word) == word
        eventually(lambda: "#2 closed" in (tmp_path / "out").read_text())
        assert server.stop(signal.SIGINT) == 130
    transcript = (tmp_path / "out").read_text()
    assert "#1 > one\\n\n" in transcript and "#1 < one\\n\n" in transcript
    assert "#2 > two\\n\n" in transcript and "#2 < two\\n\n" in transcript
    assert transcript.index("#1 open 127.0.0.1:") < transcript.index("#2 open 127.0.0.1:")


def test_sigterm_is_143_and_open_connections_get_fin(peer: Callable[..., PeerServer], path: str) -> None:
    upstream = peer(echo_handler)
    with relaying(upstream.port, "-k", path=path) as server, server.connect() as client:
        client.sendall(b"ping")
        assert recv_exactly(client, 4) == b"ping"
        assert server.stop(signal.SIGTERM) == 143
        assert recv_all(client) == b""  # an orderly FIN


def test_max_clients_resets_the_one_too_many(peer: Callable[..., PeerServer], path: str) -> None:
    upstream = peer(echo_handler)
    with relaying(upstream.port, "-k", "--max-clients", "1", "-v", path=path) as server:
        with server.connect() as first:
            first.sendall(b"a")
            assert recv_exactly(first, 1) == b"a"
            reset_at_once(server)
            assert "--max-clients 1 reached" in server.wait_stderr("rejected")
            first.sendall(b"b")
            assert recv_exactly(first, 1) == b"b"
        server.stop(signal.SIGINT)


def test_idle_closes_both_sides_with_fin_and_exits_75(peer: Callable[..., PeerServer], path: str) -> None:
    upstream_saw: list[bytes] = []
    upstream = peer(lambda conn: upstream_saw.append(recv_all(conn)))
    with relaying(upstream.port, "-i", "0.5", path=path) as server, server.connect() as client:
        client.sendall(b"hi")
        assert recv_all(client) == b""  # FIN after 0.5 s of quiet
        eventually(lambda: upstream_saw == [b"hi"])  # the upstream got FIN too
        assert server.wait() == 75
        assert "idle timeout: no traffic for 0.5 s (-i 0.5)" in server.rest_of_stderr()


def test_fifty_concurrent_clients_byte_exact(
    peer: Callable[..., PeerServer], path: str, tmp_path: Path
) -> None:
    upstream = peer(echo_handler)
    results: dict[int, bool] = {}
    with (tmp_path / "out").open("wb") as out, relaying(upstream.port, "-k", path=path, stdout=out) as server:

        def one(index: int) -> None:
            data = random.Random(index).randbytes(200_000 + index)
            with server.connect() as client:
                results[index] = exchange(client, data) == data

        threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT * 3)
        assert server.stop(signal.SIGINT) == 130
    assert results == dict.fromkeys(range(50), True)


STRACE = ("strace", "-f", "-qq", "-e", "trace=splice", "-o")
RELAY_ARGS = ("-l", "127.0.0.1", "0", "--no-transcript", "--to")


def test_kernel_path_really_splices(peer: Callable[..., PeerServer], tmp_path: Path) -> None:
    import shutil

    if shutil.which("strace") is None:
        pytest.skip("strace not installed")
    upstream = peer(echo_handler)
    trace = tmp_path / "trace"
    proc = subprocess.Popen(
        [*STRACE, str(trace), sys.executable, "-m", "tcpcli", *RELAY_ARGS, f"127.0.0.1:{upstream.port}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        if "listening on" not in line:
            pytest.skip(f"strace cannot trace here: {line.strip()}")
        port = int(line.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
            client.settimeout(WAIT)
            assert exchange(client, b"z" * 1_000_000) == b"z" * 1_000_000
        assert proc.wait(WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(WAIT)
        if proc.stderr is not None:
            proc.stderr.close()
    assert "splice(" in trace.read_text()


def test_hex_log_numbers_connections(peer: Callable[..., PeerServer], tmp_path: Path) -> None:
    upstream = peer(echo_handler)
    log = tmp_path / "hex.log"
    with relaying(upstream.port, "--hex-log", str(log), "--no-transcript") as server:
        with server.connect() as client:
            assert exchange(client, b"PING\r\n") == b"PING\r\n"
        assert server.wait() == 0
    text = log.read_text()
    assert " #1 > 6 bytes\n#1 > 00000000  50 49 4e 47 0d 0a" in text
    assert " #1 < 6 bytes\n#1 < 00000000  50 49 4e 47 0d 0a" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["127.0.0.1", "1", "--to", "127.0.0.1:2"], "--to is a listen-mode option"),
        (["-l", "0", "--to", "127.0.0.1:2", "--echo"], "--echo cannot be used with --to"),
        (["-l", "0", "--to", "127.0.0.1:2", "--exec", "cat"], "--exec cannot be used with --to"),
        (["-l", "0", "--to", "127.0.0.1:2", "-o", "f"], "use --hex-log FILE"),
        (["-l", "0", "--to", "127.0.0.1:2", "--struct", "<H"], "--struct cannot be used with --to"),
        (["-l", "0", "--to", "127.0.0.1:2", "--cafile", "ca.pem"], "--cafile applies to the upstream"),
        (["-l", "0", "--to", "127.0.0.1:2", "--cert", "c.pem"], "--cert serves TLS to the clients"),
        (["-l", "0", "--to-tls"], "--to-tls is for the relay: add --to"),
        (["-l", "0", "--to", "127.0.0.1"], "expected HOST:PORT"),
        (["-l", "0", "--to", "127.0.0.1:0"], "--to"),
        (["-l", "0", "--to", "unix:/tmp/" + "x" * 200], "--to unix:PATH: "),
        (["-l", "0", "--to", "127.0.0.1:2", "--no-transcript", "-x"], "--no-transcript turns off"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], message: str) -> None:
    from tests.conftest import run_tcpcli

    result = run_tcpcli(*args)
    assert result.code == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("tcpcli: ")


def test_w_s_and_p_apply_to_the_upstream(peer: Callable[..., PeerServer]) -> None:
    seen: list[tuple[str, int]] = []
    upstream = peer(lambda conn: (seen.append(conn.getpeername()), echo_handler(conn)))
    source_port = free_port()
    with relaying(upstream.port, "-s", "127.0.0.1", "-p", str(source_port), "-w", "3") as server:
        with server.connect() as client:
            assert exchange(client, b"x") == b"x"
        assert server.wait() == 0
    assert seen == [("127.0.0.1", source_port)]


def vm_rss_kib(pid: int) -> int:
    """The process's resident memory now; 0 once it has exited (a zombie has no VmRSS line)."""
    with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


PUSH = 300 << 20


@pytest.mark.parametrize("stopped", ["upstream", "client"])
def test_memory_stays_flat_when_a_side_stops_reading(
    peer: Callable[..., PeerServer], path: str, stopped: str
) -> None:
    """300 MiB pushed at a side that reads nothing for a while: the relay stops reading the sender."""
    go = threading.Event()
    got: list[int] = []
    chunk = b"A" * (1 << 20)

    def drain(sock: socket.socket) -> None:
        go.wait(WAIT * 3)
        total = 0
        while data := sock.recv(1 << 20):
            total += len(data)
        got.append(total)

    def push(sock: socket.socket) -> None:
        for _ in range(PUSH // len(chunk)):
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)

    upstream = peer(drain if stopped == "upstream" else push)
    with relaying(upstream.port, path=path, stdout=subprocess.DEVNULL) as server, server.connect() as client:
        client.settimeout(WAIT * 6)
        worker = threading.Thread(
            target=push if stopped == "upstream" else drain, args=(client,), daemon=True
        )
        worker.start()
        peak = 0
        for _ in range(20):  # while the reader is stopped and the sender blocks
            peak = max(peak, vm_rss_kib(server.proc.pid))
            threading.Event().wait(0.05)
        go.set()
        eventually(lambda: bool(got), WAIT * 6)
        peak = max(peak, vm_rss_kib(server.proc.pid))
        worker.join(WAIT)
        assert got == [PUSH]
        assert peak < 100 * 1024, f"VmRSS {peak} KiB"
        if stopped == "upstream":
            client.close()


def test_ipv6_upstream(peer: Callable[..., PeerServer]) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    upstream = peer(echo_handler, socket.AF_INET6)
    with relaying(upstream.port, host="[::1]") as server:
        with server.connect() as client:
            assert exchange(client, b"six") == b"six"
        assert server.wait() == 0


def test_stdin_goes_to_the_newest_connections_upstream(
    peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    heard: list[bytes] = []

    def listen_for_a_line(conn: socket.socket) -> None:
        data = b""
        while b"\n" not in data:
            data += conn.recv(100)
        heard.append(data)

    upstream = peer(listen_for_a_line)
    with (
        (tmp_path / "out").open("wb") as out,
        relaying(upstream.port, "-k", path="copy", stdout=out) as server,
    ):
        with server.connect():
            eventually(lambda: "#1 open" in (tmp_path / "out").read_text())
            server.write_stdin(b"injected\n")
            eventually(lambda: heard == [b"injected\n"])
        server.stop(signal.SIGINT)


def test_verbose_without_transcript_reports_opens_and_closes(peer: Callable[..., PeerServer]) -> None:
    upstream = peer(echo_handler)
    with relaying(upstream.port, "-v") as server:
        with server.connect() as client:
            assert exchange(client, b"12345") == b"12345"
        assert server.wait() == 0
        rest = server.rest_of_stderr()
    assert "tcpcli: #1 open 127.0.0.1:" in rest and f"-> 127.0.0.1:{upstream.port}\n" in rest
    assert "tcpcli: #1 closed: 5 bytes >, 5 bytes <, " in rest


def test_with_keep_open_an_unreachable_upstream_is_one_line_per_client(path: str, tmp_path: Path) -> None:
    port = free_port()
    with (tmp_path / "out").open("wb") as out, relaying(port, "-k", path=path, stdout=out) as server:
        for number in (1, 2):
            reset_at_once(server)
            line = server.wait_stderr("upstream")
            refused = "connection refused (is anything listening there?)"
            assert line == f"tcpcli: #{number} upstream 127.0.0.1:{port}: {refused}"
        assert server.stop(signal.SIGINT) == 130
    assert "open" not in (tmp_path / "out").read_text()  # never both sides connected: no transcript lines
