"""Stream mode against real peers on loopback: byte-exact piping, the EOF policy, full duplex."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tcpcli.engine.paths import REFILL_BELOW, SpliceUplink
from tests.conftest import TCPCLI, PeerServer, recv_all, run_tcpcli, start_tcpcli

Peer = Callable[..., PeerServer]


@pytest.fixture
def quiet_stdin() -> Iterator[int]:
    """A stdin that stays open and never sends anything (the write end is held until the test ends)."""
    read_end, write_end = os.pipe()
    yield read_end
    os.close(read_end)
    os.close(write_end)


def _random_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def test_echo_round_trip_is_byte_exact_through_pipes(echo_server: PeerServer) -> None:
    payload = _random_bytes(1, 1 << 20)
    result = run_tcpcli("-v", "127.0.0.1", str(echo_server.port), stdin=payload)
    assert result.code == 0, result.stderr
    assert result.stdout == payload
    assert "stdin -> socket by splice, socket -> stdout by splice" in result.stderr


def test_regular_file_stdin_goes_by_sendfile_and_file_stdout_by_copy(
    echo_server: PeerServer, tmp_path: os.PathLike[str]
) -> None:
    payload = _random_bytes(2, 3_000_000)
    source = os.path.join(tmp_path, "in.bin")
    target = os.path.join(tmp_path, "out.bin")
    with open(source, "wb") as handle:
        handle.write(payload)
    with open(source, "rb") as stdin, open(target, "wb") as stdout:
        proc = subprocess.run(
            [*TCPCLI, "-v", "127.0.0.1", str(echo_server.port)],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=20,
        )
    assert proc.returncode == 0, proc.stderr
    assert b"stdin -> socket by sendfile, socket -> stdout by copy" in proc.stderr
    with open(target, "rb") as handle:
        assert handle.read() == payload


def test_socket_stdin_takes_the_portable_copy_path(echo_server: PeerServer) -> None:
    payload = _random_bytes(3, 500_000)
    left, right = socket.socketpair()
    feeder = threading.Thread(target=lambda: (left.sendall(payload), left.shutdown(socket.SHUT_WR)))
    feeder.start()
    try:
        result = run_tcpcli("-v", "127.0.0.1", str(echo_server.port), stdin=right.fileno())
    finally:
        feeder.join(5)
        left.close()
        right.close()
    assert result.code == 0, result.stderr
    assert "stdin -> socket by copy" in result.stderr
    assert result.stdout == payload


def test_seeded_10_mib_duplex_exchange_is_byte_exact_both_ways(peer: Peer) -> None:
    """Both sides send 10 MiB at once: full duplex must neither deadlock nor corrupt a byte."""
    up = _random_bytes(10, 10 << 20)
    down = _random_bytes(11, 10 << 20)
    received: list[bytes] = []

    def handler(conn: socket.socket) -> None:
        reader = threading.Thread(target=lambda: received.append(recv_all(conn)))
        reader.start()
        rng = random.Random(12)
        view = memoryview(down)
        while view:
            size = rng.randint(1, 300_000)
            conn.sendall(view[:size])
            view = view[size:]
        reader.join(30)
        conn.shutdown(socket.SHUT_WR)

    server = peer(handler)
    result = run_tcpcli("127.0.0.1", str(server.port), stdin=up, timeout=60)
    assert result.code == 0, result.stderr
    assert result.stdout == down
    assert received == [up]


# ------------------------------------------------------------------ EOF policy


def test_stdin_eof_sends_fin_and_keeps_reading_a_late_reply(peer: Peer) -> None:
    def handler(conn: socket.socket) -> None:
        request = recv_all(conn)  # returns only once tcpcli sent FIN
        time.sleep(0.6)  # later than socat's 0.5 s: tcpcli must still be reading
        conn.sendall(b"late reply to " + request)

    server = peer(handler)
    result = run_tcpcli("127.0.0.1", str(server.port), stdin=b"hello")
    assert result.code == 0, result.stderr
    assert result.stdout == b"late reply to hello"


def test_no_half_close_does_not_send_fin(peer: Peer) -> None:
    saw_fin: list[bool] = []

    def handler(conn: socket.socket) -> None:
        conn.settimeout(0.8)
        data = b""
        try:
            while chunk := conn.recv(100):
                data += chunk
            saw_fin.append(True)
        except TimeoutError:
            saw_fin.append(False)
        conn.sendall(b"got " + data)

    server = peer(handler)
    result = run_tcpcli("--no-half-close", "127.0.0.1", str(server.port), stdin=b"abc")
    assert result.code == 0, result.stderr
    assert result.stdout == b"got abc"
    assert saw_fin == [False]


def _hold_open(conn: socket.socket) -> None:
    conn.settimeout(10)
    try:
        while conn.recv(100):
            pass
        time.sleep(10)
    except OSError:
        pass


def test_quit_after_eof_exits_0_while_the_peer_stays_open(peer: Peer) -> None:
    server = peer(_hold_open)
    started = time.monotonic()
    result = run_tcpcli("-q", "0.3", "127.0.0.1", str(server.port), stdin=b"x")
    elapsed = time.monotonic() - started
    assert result.code == 0, result.stderr
    assert elapsed < 5


def test_quit_after_eof_zero_is_accepted(peer: Peer) -> None:
    server = peer(_hold_open)
    assert run_tcpcli("-q", "0", "127.0.0.1", str(server.port), stdin=b"x").code == 0


def test_peer_close_with_stdin_held_open_exits_after_quiet_period(peer: Peer, quiet_stdin: int) -> None:
    def handler(conn: socket.socket) -> None:
        conn.sendall(b"bye\n")

    server = peer(handler)
    proc = start_tcpcli("-v", "127.0.0.1", str(server.port), stdin=quiet_stdin)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out == b"bye\n"
    assert b"peer closed its side (FIN)" in err
    assert b"input quiet" in err


def test_peer_close_while_a_file_is_still_flowing_uploads_it_whole(
    peer: Peer, tmp_path: os.PathLike[str]
) -> None:
    """A server that half-closes at once but reads everything must still get the whole upload."""
    payload = _random_bytes(20, 8 << 20)
    received: list[bytes] = []

    def handler(conn: socket.socket) -> None:
        conn.shutdown(socket.SHUT_WR)
        time.sleep(0.8)  # the upload stalls on a full socket buffer meanwhile: that is not "quiet"
        received.append(recv_all(conn))

    server = peer(handler)
    for kind in ("file", "pipe"):
        received.clear()
        if kind == "file":
            path = os.path.join(tmp_path, "upload.bin")
            with open(path, "wb") as handle:
                handle.write(payload)
            with open(path, "rb") as stdin:
                result = run_tcpcli("127.0.0.1", str(server.port), stdin=stdin.fileno())
        else:
            result = run_tcpcli("127.0.0.1", str(server.port), stdin=payload)
        assert result.code == 0, (kind, result.stderr)
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received and received[0] == payload, kind


def test_peer_close_with_a_terminal_on_stdin_exits_at_once(peer: Peer) -> None:
    import pty

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"bye\n")

    server = peer(handler)
    controller, terminal = pty.openpty()
    try:
        started = time.monotonic()
        result = run_tcpcli("127.0.0.1", str(server.port), stdin=terminal)
        elapsed = time.monotonic() - started
    finally:
        os.close(controller)
        os.close(terminal)
    assert result.code == 0, result.stderr
    assert result.stdout == b"bye\n"
    assert elapsed < 5


def _reset(conn: socket.socket) -> None:
    conn.sendall(b"partial")
    time.sleep(0.2)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def test_peer_reset_exits_74_with_a_message_and_keeps_what_arrived(peer: Peer, quiet_stdin: int) -> None:
    server = peer(_reset)
    result = run_tcpcli("127.0.0.1", str(server.port), stdin=quiet_stdin)
    assert result.code == 74
    assert result.stdout == b"partial"
    assert result.stderr.startswith("tcpcli: ") and "reset" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_closed_stdout_reader_gives_a_quiet_exit(peer: Peer) -> None:
    def flood(conn: socket.socket) -> None:
        block = b"y" * 65536
        for _ in range(2000):
            conn.sendall(block)

    server = peer(flood)
    proc = start_tcpcli("127.0.0.1", str(server.port), stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        assert proc.stdout.read(10) == b"y" * 10
        proc.stdout.close()  # like `| head -c 10`
        _out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert err == b""


def test_idle_timeout_exits_75(peer: Peer, quiet_stdin: int) -> None:
    server = peer(_hold_open)
    result = run_tcpcli("-i", "0.4", "127.0.0.1", str(server.port), stdin=quiet_stdin)
    assert result.code == 75
    assert "idle timeout" in result.stderr


def test_idle_timeout_is_worded_once_even_with_verbose(peer: Peer, quiet_stdin: int) -> None:
    """-v used to add its own wording ("... for 400 ms") before the error's ("... for 0.4 s (-i 0.4)")."""
    server = peer(_hold_open)
    result = run_tcpcli("-v", "-i", "0.4", "127.0.0.1", str(server.port), stdin=quiet_stdin)
    assert result.code == 75
    idle_lines = [line for line in result.stderr.splitlines() if "idle" in line]
    assert idle_lines == ["tcpcli: idle timeout: no traffic for 0.4 s (-i 0.4)"]


def test_traffic_postpones_the_idle_timeout(peer: Peer, quiet_stdin: int) -> None:
    def ticker(conn: socket.socket) -> None:
        for _ in range(6):
            conn.sendall(b".")
            time.sleep(0.15)

    server = peer(ticker)
    result = run_tcpcli("-i", "0.5", "127.0.0.1", str(server.port), stdin=quiet_stdin)
    assert result.code == 0, result.stderr
    assert result.stdout == b"......"


# ------------------------------------------------------------------ options


def test_crlf_turns_lf_into_crlf_and_keeps_existing_crlf(peer: Peer) -> None:
    got: list[bytes] = []
    server = peer(lambda conn: got.append(recv_all(conn)))
    result = run_tcpcli("-C", "127.0.0.1", str(server.port), stdin=b"a\nb\r\nc")
    assert result.code == 0, result.stderr
    assert got == [b"a\r\nb\r\nc"]


def test_output_file_appends_every_received_byte(echo_server: PeerServer, tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "log.bin")
    with open(path, "wb") as handle:
        handle.write(b"old|")
    payload = _random_bytes(5, 200_000)
    result = run_tcpcli("-o", path, "127.0.0.1", str(echo_server.port), stdin=payload)
    assert result.code == 0, result.stderr
    assert result.stdout == payload
    with open(path, "rb") as handle:
        assert handle.read() == b"old|" + payload


def test_verbose_reports_the_lifecycle_with_byte_counts(echo_server: PeerServer) -> None:
    result = run_tcpcli("-v", "localhost", str(echo_server.port), "-4", stdin=b"12345")
    assert result.code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "tcpcli: resolving localhost"
    assert any(line.startswith("tcpcli: connected 127.0.0.1:") for line in lines)
    assert "tcpcli: peer closed its side (FIN)" in lines
    assert lines[-1].startswith(
        f"tcpcli: closed 127.0.0.1:{echo_server.port}: sent 5 bytes, received 5 bytes in "
    )


def test_ipv6_literal_with_and_without_brackets(peer: Peer) -> None:
    try:
        server = peer(lambda conn: conn.sendall(b"six"), socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    for host in ("::1", "[::1]"):
        result = run_tcpcli("-6", host, str(server.port), stdin=b"")
        assert result.code == 0, result.stderr
        assert result.stdout == b"six"


def test_family_flag_excludes_the_other_family() -> None:
    result = run_tcpcli("-4", "::1", "9")
    assert result.code == 2  # an address literal of the wrong family is a usage error (was 68)
    assert "IPv4" in result.stderr


def test_source_address_and_port_are_used(peer: Peer) -> None:
    seen: list[tuple[str, int]] = []

    def handler(conn: socket.socket) -> None:
        seen.append(conn.getpeername())

    server = peer(handler)
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        source_port = probe.getsockname()[1]
    result = run_tcpcli("-s", "127.0.0.2", "-p", str(source_port), "127.0.0.1", str(server.port))
    assert result.code == 0, result.stderr
    assert seen == [("127.0.0.2", source_port)]


def _fetch_socket_option(pid: int, level: int, option: int) -> int:
    """Read a socket option of another process's connection through pidfd_getfd (Linux >= 5.6)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                continue
            fd = libc.syscall(438, pidfd, int(name), 0)
            if fd < 0:
                pytest.skip("pidfd_getfd not permitted here")
            sock = socket.socket(fileno=fd)
            try:
                if sock.type == socket.SOCK_STREAM and sock.family in (socket.AF_INET, socket.AF_INET6):
                    return int(sock.getsockopt(level, option))
            finally:
                sock.close()
    finally:
        os.close(pidfd)
    raise AssertionError("no TCP socket found in the process")


@pytest.mark.parametrize(
    ("flags", "level", "option", "expected"),
    [
        (["--nodelay"], socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
        ([], socket.IPPROTO_TCP, socket.TCP_NODELAY, 0),
        (["--keepalive"], socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        ([], socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0),
        (["--keepalive-idle", "7"], socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (["--keepalive-idle", "7"], socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 7),
        (["--keepalive-interval", "2.5"], socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 3),
        (["--keepalive-count", "4"], socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 4),
    ],
)
def test_socket_options_are_set_on_the_real_connection(
    peer: Peer, flags: list[str], level: int, option: int, expected: int
) -> None:
    if not hasattr(os, "pidfd_open"):
        pytest.skip("needs pidfd_open")
    accepted = threading.Event()
    release = threading.Event()

    def handler(conn: socket.socket) -> None:
        accepted.set()
        release.wait(10)

    server = peer(handler)
    proc = start_tcpcli(*flags, "127.0.0.1", str(server.port))
    try:
        assert accepted.wait(10)
        time.sleep(0.2)  # options are set before connect; give the process time to reach its pump loop
        assert _fetch_socket_option(proc.pid, level, option) == expected
    finally:
        release.set()
        proc.kill()
        proc.communicate(timeout=10)


def test_keepalive_timer_is_visible_to_ss(peer: Peer) -> None:
    """The kernel's own view (`ss -tnoi`) shows the keep-alive timer on the connection."""
    import shutil

    if not shutil.which("ss"):
        pytest.skip("ss not installed")
    accepted = threading.Event()
    release = threading.Event()
    server = peer(lambda conn: (accepted.set(), release.wait(10)))
    proc = start_tcpcli("--keepalive-idle", "30", "127.0.0.1", str(server.port))
    try:
        assert accepted.wait(10)
        time.sleep(0.2)
        listing = subprocess.run(
            ["ss", "-tnoi", "dport", f"= :{server.port}"], capture_output=True, text=True, timeout=10
        ).stdout
        assert "timer:(keepalive" in listing
    finally:
        release.set()
        proc.kill()
        proc.communicate(timeout=10)


def test_zero_io_reports_open_and_closed_ports(echo_server: PeerServer) -> None:
    assert run_tcpcli("-z", "127.0.0.1", str(echo_server.port)).code == 0
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        result = run_tcpcli("-z", "127.0.0.1", str(port))
    assert result.code == 1
    assert result.stderr == ""


def test_socat_as_a_real_peer_receives_the_bytes_exactly(tmp_path: os.PathLike[str]) -> None:
    import shutil

    if not shutil.which("socat"):
        pytest.skip("socat not installed (.ci/run installs it)")
    target = os.path.join(tmp_path, "socat.out")
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    server = subprocess.Popen(
        ["socat", "-u", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr", f"CREATE:{target}"],
        stderr=subprocess.DEVNULL,
    )
    payload = _random_bytes(30, 2_000_000)
    try:
        deadline = time.monotonic() + 10
        while (result := run_tcpcli("127.0.0.1", str(port), stdin=payload)).code == 69:
            assert time.monotonic() < deadline, "socat did not start listening"
            time.sleep(0.05)
        assert result.code == 0, result.stderr
        server.wait(10)
        with open(target, "rb") as handle:
            assert handle.read() == payload
    finally:
        server.kill()
        server.wait(5)


def test_netcat_as_a_real_peer_gets_our_fin_and_its_reply_reaches_us() -> None:
    """OpenBSD nc as the server: it prints what we sent, and its own stdin reaches us."""
    import shutil

    if not shutil.which("nc"):
        pytest.skip("nc not installed (.ci/run installs netcat-openbsd)")
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    server = subprocess.Popen(
        ["nc", "-l", "-N", "127.0.0.1", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdin is not None
        server.stdin.write(b"from nc\n")
        server.stdin.close()  # -N: nc sends FIN after its stdin, like tcpcli
        deadline = time.monotonic() + 10
        while (result := run_tcpcli("127.0.0.1", str(port), stdin=b"to nc\n")).code == 69:
            assert time.monotonic() < deadline, "nc did not start listening"
            time.sleep(0.05)
        server.wait(10)
        assert server.stdout is not None
        server_out = server.stdout.read()
    finally:
        if server.stdout is not None:
            server.stdout.close()
        server.kill()
        server.wait(5)
    assert result.code == 0, result.stderr
    assert result.stdout == b"from nc\n"
    assert server_out == b"to nc\n"


def test_stream_mode_starts_without_the_heavy_imports(echo_server: PeerServer) -> None:
    """Scripts pay the start-up on every call: no typer, rich, prompt_toolkit or asyncio for a plain pipe."""
    proc = subprocess.run(
        [*TCPCLI[:1], "-X", "importtime", *TCPCLI[1:], "127.0.0.1", str(echo_server.port)],
        input=b"x",
        capture_output=True,
        timeout=20,
    )
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines() if "|" in line}
    assert "tcpcli.engine.pair" in imported  # the listing was read right
    for heavy in ("typer", "click", "rich", "prompt_toolkit", "asyncio", "ssl"):
        assert heavy not in imported, heavy


def test_splice_uplink_sends_a_small_piece_before_pausing_for_the_pipe_to_fill() -> None:
    """The refill pause (paths.REFILL_PAUSE) comes after a small chunk is sent, never holding it back."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=10)
        server, _ = listener.accept()
    read_end, write_end = os.pipe()
    try:
        server.settimeout(10)
        uplink = SpliceUplink(read_end, client)
        for piece in (b"first line\n", b"second\n"):
            os.write(write_end, piece)
            assert uplink.transfer() == len(piece) < REFILL_BELOW
            assert server.recv(100) == piece  # on the wire when transfer() returns
        os.close(write_end)
        write_end = -1
        assert uplink.transfer() == 0
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)
        client.close()
        server.close()
