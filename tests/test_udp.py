"""-u: datagrams kept whole, against real UDP peers on loopback (Python sockets, socat), the real program."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import run_tcpcli, start_tcpcli

WAIT = 10.0


class UdpPeer:
    """A UDP socket on 127.0.0.1 that records every datagram (with its source) and can answer."""

    def __init__(self, answer: bytes | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.answer = answer  # None: silent; b"": echo; else: this prefix + the datagram
        self.datagrams: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, address = self.sock.recvfrom(70000)
            except TimeoutError:
                continue
            except OSError:
                return
            self.datagrams.append(data)
            if self.answer is not None:
                self.sock.sendto(self.answer + data, address)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def udp_peer() -> Iterator[type[UdpPeer]]:
    made: list[UdpPeer] = []

    class Made(UdpPeer):
        def __init__(self, answer: bytes | None = None) -> None:
            super().__init__(answer)
            made.append(self)

    yield Made
    for peer in made:
        peer.close()


def closed_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing is bound to: the kernel answers with ICMP port unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_stderr_line(proc: subprocess.Popen[bytes], marker: str) -> str:
    """Lines of the program's stderr until one holds `marker` (bounded by WAIT)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + WAIT
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline().decode()
        seen += line
        if marker in line:
            return line
        if not line:
            break
    pytest.fail(f"no {marker!r} on stderr: {seen!r}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then wait for the exit (bounded) and close the pipes."""
    proc.terminate()
    try:
        proc.communicate(timeout=WAIT)
    finally:
        proc.kill()


def listening_port(proc: subprocess.Popen[bytes]) -> int:
    line = read_stderr_line(proc, "listening on")
    return int(line.rsplit(":", 1)[1])


# ------------------------------------------------------------------ connect mode


def test_each_stdin_line_is_one_datagram_even_when_the_pipe_delivers_them_together(udp_peer) -> None:  # type: ignore[no-untyped-def]
    peer = udp_peer()
    result = run_tcpcli("-u", "-q", "0.2", "127.0.0.1", str(peer.port), stdin=b"one\ntwo\n\nthree")
    assert result.code == 0, result.stderr
    deadline = time.monotonic() + WAIT
    while len(peer.datagrams) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert peer.datagrams == [b"one\n", b"two\n", b"\n", b"three"]


def test_each_received_datagram_is_written_whole_and_replies_after_eof_are_read_for_q(udp_peer) -> None:  # type: ignore[no-untyped-def]
    peer = udp_peer(answer=b"got:")
    result = run_tcpcli("-u", "-v", "127.0.0.1", str(peer.port), stdin=b"a\nb\n")
    assert result.code == 0, result.stderr
    assert result.stdout == b"got:a\ngot:b\n"
    assert result.stderr.count(f"< 127.0.0.1:{peer.port} 6 bytes") == 2


def test_datagrams_up_to_64_kib_arrive_whole(udp_peer) -> None:  # type: ignore[no-untyped-def]
    peer = udp_peer(answer=b"")
    big = b"x" * 65000 + b"\n"
    result = run_tcpcli("-u", "127.0.0.1", str(peer.port), stdin=big + b"small\n")
    assert result.code == 0, result.stderr
    assert peer.datagrams == [big, b"small\n"]
    assert result.stdout == big + b"small\n"


def test_icmp_port_unreachable_is_exit_69() -> None:
    port = closed_udp_port()
    result = run_tcpcli("-u", "127.0.0.1", str(port), stdin=b"anyone?\n")
    assert result.code == 69
    assert result.stderr == f"tcpcli: UDP to 127.0.0.1:{port}: connection refused (ICMP port unreachable)\n"


def test_a_line_too_long_for_one_datagram_is_exit_65_and_nothing_of_it_is_sent(udp_peer) -> None:  # type: ignore[no-untyped-def]
    peer = udp_peer()
    result = run_tcpcli("-u", "127.0.0.1", str(peer.port), stdin=b"x" * 70000 + b"\n")
    assert result.code == 65
    assert result.stderr.startswith("tcpcli: a line of ") and "too long for one UDP datagram" in result.stderr
    assert result.stderr.count("\n") == 1
    assert all(len(d) < 70000 for d in peer.datagrams)


def test_hex_view_dumps_each_datagram_from_offset_0_and_output_file_has_the_bytes(udp_peer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    peer = udp_peer(answer=b"")
    out = tmp_path / "out.bin"
    log = tmp_path / "hex.log"
    result = run_tcpcli(
        "-u", "-x", "-o", str(out), "--hex-log", str(log), "127.0.0.1", str(peer.port), stdin=b"AB\nCD\n"
    )
    assert result.code == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert [line[:8] for line in lines] == ["00000000", "00000000"]
    assert "|AB.|" in lines[0] and "|CD.|" in lines[1]
    assert out.read_bytes() == b"AB\nCD\n"
    assert log.read_text().count(">") >= 2


def test_idle_timeout_is_exit_75(udp_peer) -> None:  # type: ignore[no-untyped-def]
    peer = udp_peer()  # silent
    proc = start_tcpcli("-u", "-i", "0.3", "127.0.0.1", str(peer.port))
    try:
        _out, err = proc.communicate(timeout=WAIT)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 75
    assert "idle timeout: no traffic for 0.3 s (-i 0.3)" in err.decode()


@pytest.mark.parametrize(
    "flag",
    [
        ["--tls"],
        ["--nodelay"],
        ["--keepalive"],
        ["--keepalive-idle", "5"],
        ["--no-half-close"],
        ["--reconnect", "3"],
        ["--telnet"],
        ["--proxy", "socks5://127.0.0.1:1080"],
        ["--expect", "x"],
        ["--script", "x.chat"],
    ],
)
def test_tcp_only_options_are_usage_errors_naming_the_option(flag: list[str]) -> None:
    result = run_tcpcli("-u", *flag, "127.0.0.1", "9")
    assert result.code == 2
    assert result.stderr == f"tcpcli: {flag[0]} is for TCP connections; it cannot be used with -u/--udp\n"


# ------------------------------------------------------------------ -z -u


def test_probe_answered_is_0(udp_peer) -> None:  # type: ignore[no-untyped-def]
    peer = udp_peer(answer=b"pong")
    assert run_tcpcli("-z", "-u", "127.0.0.1", str(peer.port)).code == 0


def test_probe_icmp_unreachable_is_1() -> None:
    result = run_tcpcli("-z", "-u", "-v", "127.0.0.1", str(closed_udp_port()))
    assert result.code == 1
    assert "ICMP port unreachable" in result.stderr


def test_probe_silent_port_is_75_open_or_filtered(udp_peer) -> None:  # type: ignore[no-untyped-def]
    peer = udp_peer()  # bound, never answers
    result = run_tcpcli("-z", "-u", "-w", "0.5", "127.0.0.1", str(peer.port))
    assert result.code == 75
    assert "no answer within 0.5 s (open or filtered" in result.stderr
    assert peer.datagrams == [b""]


def test_probe_sends_the_send_datagram_with_its_escapes(udp_peer) -> None:  # type: ignore[no-untyped-def]
    peer = udp_peer()
    result = run_tcpcli("-z", "-u", "-w", "0.3", "--send", "ping\\x00\\n", "127.0.0.1", str(peer.port))
    assert result.code == 75
    assert peer.datagrams == [b"ping\x00\n"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-u", "-U", "/tmp/x.sock"], "-U/--unix is for TCP connections"),
        (["-u", "--send", "x", "127.0.0.1", "9"], "--send with -u/--udp is for -z -u"),
        (["-u", "-l", "0", "--to", "127.0.0.1:9"], "--to is for TCP connections"),
    ],
)
def test_stream_socket_features_are_usage_errors_with_udp(args: list[str], message: str) -> None:
    result = run_tcpcli(*args)
    assert result.code == 2, result.stderr
    assert message in result.stderr


# ------------------------------------------------------------------ listen mode


def test_listen_takes_datagrams_from_many_concurrent_senders_and_replies_to_the_last() -> None:
    proc = start_tcpcli("-u", "-l", "-v", "127.0.0.1", "0")
    try:
        port = listening_port(proc)
        senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]

        def send(index: int) -> None:
            for n in range(25):
                senders[index].sendto(b"s%d-%02d\n" % (index, n), ("127.0.0.1", port))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        last = senders[2]
        last.sendto(b"last\n", ("127.0.0.1", port))
        assert proc.stdout is not None
        got = b""
        deadline = time.monotonic() + WAIT
        while b"last\n" not in got and time.monotonic() < deadline:
            got += os.read(proc.stdout.fileno(), 65536)
        assert sorted(got.splitlines()) == sorted(
            [b"s%d-%02d" % (i, n) for i in range(4) for n in range(25)] + [b"last"]
        )
        read_stderr_line(proc, f"< 127.0.0.1:{last.getsockname()[1]} 5 bytes")
        assert proc.stdin is not None
        proc.stdin.write(b"to the last\n")
        proc.stdin.flush()
        last.settimeout(WAIT)
        assert last.recvfrom(100)[0] == b"to the last\n"
        for sock in senders:
            sock.close()
    finally:
        stop(proc)
    assert proc.returncode == 143


def test_listen_line_before_any_peer_is_dropped_with_a_warning() -> None:
    proc = start_tcpcli("-u", "-l", "127.0.0.1", "0")
    try:
        listening_port(proc)
        assert proc.stdin is not None
        proc.stdin.write(b"nobody\n")
        proc.stdin.flush()
        line = read_stderr_line(proc, "dropped")
        assert (
            line == "tcpcli: no peer has sent a datagram yet: line of 7 bytes dropped (nobody to send to)\n"
        )
    finally:
        stop(proc)


def test_listen_echo_returns_each_datagram_to_its_sender_and_k_is_accepted() -> None:
    proc = start_tcpcli("-u", "-l", "-k", "--echo", "127.0.0.1", "0", stdin=subprocess.DEVNULL)
    try:
        port = listening_port(proc)
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for sock in (a, b):
            sock.settimeout(WAIT)
        a.sendto(b"from a", ("127.0.0.1", port))
        b.sendto(b"from b", ("127.0.0.1", port))
        assert a.recv(100) == b"from a"
        assert b.recv(100) == b"from b"
        a.close()
        b.close()
    finally:
        stop(proc)


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")
def test_socat_udp_recvfrom_peer_answers_each_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """socat `UDP-RECVFROM:p,fork` forks a child per datagram that answers the sender."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["socat", f"UDP-RECVFROM:{port},bind=127.0.0.1,fork", "SYSTEM:'tr a-z A-Z'"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT
        result = None
        while time.monotonic() < deadline:  # socat binds a moment after it starts: try until it answers
            result = run_tcpcli("-u", "-q", "1", "127.0.0.1", str(port), stdin=b"hello\nworld\n")
            if result.code == 0 and result.stdout:
                break
            time.sleep(0.1)
        assert result is not None and result.code == 0, result
        assert sorted(result.stdout.splitlines()) == [b"HELLO", b"WORLD"]
    finally:
        server.terminate()
        server.wait(WAIT)
