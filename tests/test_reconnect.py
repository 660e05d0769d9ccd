"""--reconnect against real servers that refuse, accept late, reset or close mid-stream, and restart."""

from __future__ import annotations

import contextlib
import queue
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, run_tcpcli, start_tcpcli
from tests.tls_helpers import make_pki, server_context, tls_echo, tls_handler

WAIT = 10.0
FAST = ("--reconnect-delay", "0.1")


class Restartable:
    """A TCP server on a fixed port that the test starts, stops and starts again; it hands each accepted
    connection to the test through `accepted`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.accepted: queue.Queue[socket.socket] = queue.Queue()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.settimeout(WAIT)
            self.accepted.put(conn)

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not)
            self._listener.close()
            self._listener = None
        if self._thread is not None:
            self._thread.join(WAIT)
            self._thread = None

    def next(self) -> socket.socket:
        try:
            return self.accepted.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"tcpcli did not connect within {WAIT} s")


@pytest.fixture
def server() -> Iterator[Restartable]:
    made = Restartable(free_port())
    yield made
    made.stop()
    while not made.accepted.empty():
        made.accepted.get().close()


def read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def reset(conn: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashing server's kernel does."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def wait_for_stderr(proc: subprocess.Popen[bytes], marker: str) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + WAIT
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline().decode()
        seen += line
        if marker in line or not line:
            break
    assert marker in seen, seen
    return seen


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, bytes, str]:
    if proc.stdin is not None and proc.stdin.closed:
        proc.stdin = None  # closed by the test already: communicate must not flush it
    try:
        out, err = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"tcpcli did not exit within {WAIT} s: {err.decode()}")
    return proc.returncode, out, err.decode()


def send(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.flush()


# ------------------------------------------------------------------ establishment


def test_a_server_that_starts_late_gets_the_whole_stdin(server: Restartable) -> None:
    proc = start_tcpcli("-v", "--reconnect", "0", *FAST, "127.0.0.1", str(server.port))
    send(proc, b"written before the server was up\n")
    wait_for_stderr(proc, "reconnecting to 127.0.0.1:")
    server.start()
    conn = server.next()
    assert proc.stdin is not None
    proc.stdin.close()
    assert read_all(conn) == b"written before the server was up\n"
    conn.close()
    code, _out, err = finish(proc)
    assert code == 0, err


def test_attempts_run_out_with_the_last_failures_code_and_one_line_per_attempt() -> None:
    port = free_port()
    result = run_tcpcli("-v", "--reconnect", "2", *FAST, "127.0.0.1", str(port), stdin=b"x\n")
    assert result.code == 69
    lines = [line for line in result.stderr.splitlines() if "reconnecting" in line]
    assert [line.split("(")[-1] for line in lines] == ["attempt 2)", "attempt 3)"]
    assert lines[0].startswith(f"tcpcli: reconnecting to 127.0.0.1:{port} in 0.")
    assert result.stderr.splitlines()[-1].endswith("connection refused (is anything listening there?)")


def test_without_v_the_waits_are_quiet() -> None:
    result = run_tcpcli("--reconnect", "1", *FAST, "127.0.0.1", str(free_port()), stdin=b"")
    assert result.code == 69
    assert result.stderr.count("\n") == 1 and "reconnecting" not in result.stderr


def test_an_unknown_host_is_never_retried() -> None:
    result = run_tcpcli("-v", "--reconnect", "0", *FAST, "no-such-host.invalid", "80", stdin=b"")
    assert result.code == 68
    assert "reconnecting" not in result.stderr


def test_tls_verification_failure_is_never_retried(tmp_path: Path, peer: Callable[..., object]) -> None:
    pki = make_pki(tmp_path)
    tls_server = peer(tls_handler(server_context(pki.server), tls_echo))
    port = tls_server.port  # type: ignore[attr-defined]
    result = run_tcpcli("-v", "--tls", "--reconnect", "0", *FAST, "127.0.0.1", str(port), stdin=b"")
    assert result.code == 76, result.stderr
    assert "reconnecting" not in result.stderr


def test_sigterm_during_a_wait_ends_the_run_at_once() -> None:
    proc = start_tcpcli("-v", "--reconnect", "0", "--reconnect-delay", "30", "127.0.0.1", str(free_port()))
    wait_for_stderr(proc, "reconnecting")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code, _out, _err = finish(proc)
    assert code == 143
    assert time.monotonic() - started < WAIT  # not the 30 s wait (bounded by finish's own limit anyway)


@pytest.mark.parametrize("given, expected", [("0", "a number"), ("-1", ""), ("x", "")])
def test_bad_reconnect_values_are_usage_errors(given: str, expected: str) -> None:
    result = run_tcpcli("--reconnect", "1", "--reconnect-delay", given, "127.0.0.1", "9")
    assert result.code == 2
    assert result.stderr.startswith("tcpcli: --reconnect-delay")


def test_reconnect_with_listen_is_a_usage_error() -> None:
    result = run_tcpcli("-l", "--reconnect", "1", "0")
    assert result.code == 2 and "--reconnect" in result.stderr


# ------------------------------------------------------------------ an established connection ends early


def test_a_reset_mid_stream_continues_stdin_into_the_next_connection(server: Restartable) -> None:
    server.start()
    proc = start_tcpcli("-v", "--reconnect", "5", *FAST, "127.0.0.1", str(server.port))
    send(proc, b"first\n")
    first = server.next()
    assert read_line(first) == b"first\n"
    reset(first)
    early = wait_for_stderr(proc, "reconnecting")
    second = server.next()
    send(proc, b"second\n")
    assert proc.stdin is not None
    proc.stdin.close()
    assert read_all(second) == b"second\n"
    second.sendall(b"bye\n")
    second.close()
    code, out, err = finish(proc)
    assert code == 0, err
    assert out == b"bye\n"
    closed = [line for line in (early + err).splitlines() if "closed 127.0.0.1" in line]
    assert closed[0].startswith(f"tcpcli: closed 127.0.0.1:{server.port}: sent 6 bytes"), early + err
    assert f"tcpcli: closed 127.0.0.1:{server.port}: sent 7 bytes, received 4 bytes" in closed[-1]


def test_a_server_restart_keeps_the_lines_flowing_in_order(server: Restartable) -> None:
    """A log shipper through a restart: the server closes (FIN) and is down a while; nothing read is lost."""
    server.start()
    proc = start_tcpcli("--reconnect", "0", *FAST, "127.0.0.1", str(server.port))
    first = server.next()
    send(proc, b"line 1\n")
    assert read_line(first) == b"line 1\n"
    server.stop()
    first.close()  # the server goes away: FIN
    time.sleep(0.3)  # down for a while (a gap, not a wait for a state: tcpcli retries meanwhile)
    send(proc, b"line 2\nline 3\n")
    server.start()
    second = server.next()
    assert proc.stdin is not None
    proc.stdin.close()
    assert read_all(second) == b"line 2\nline 3\n"
    second.close()
    code, _out, err = finish(proc)
    assert code == 0, err


def test_a_server_that_accepts_and_drops_at_once_does_not_make_it_spin(server: Restartable) -> None:
    server.start()
    proc = start_tcpcli("-v", "--reconnect", "3", *FAST, "127.0.0.1", str(server.port))
    for _ in range(4):
        server.next().close()
    code, _out, err = finish(proc)
    waits = [
        float(line.split(" in ")[1].split(" s")[0]) for line in err.splitlines() if "reconnecting" in line
    ]
    assert len(waits) == 3
    assert waits[2] > waits[0]  # doubling: a short connection counts as a failed attempt
    assert code == 0  # the last connection was closed normally by the peer


# ------------------------------------------------------------------ -z


def test_probe_waits_until_the_port_accepts(server: Restartable) -> None:
    proc = start_tcpcli("-z", "-v", "--reconnect", "30", *FAST, "-w", "1", "127.0.0.1", str(server.port))
    wait_for_stderr(proc, "reconnecting")
    server.start()
    code, _out, err = finish(proc)
    assert code == 0, err


def test_probe_gives_up_with_1_after_the_attempts() -> None:
    result = run_tcpcli("-z", "-v", "--reconnect", "2", *FAST, "127.0.0.1", str(free_port()))
    assert result.code == 1
    assert result.stderr.count("reconnecting") == 2
