"""Issue 12's many-clients faults, each as a whole kind, on the real program with real sockets and processes.

1. out of descriptors: said once (and when it recovers), accepting backs off, connected clients are served,
   SIGTERM stops it even with stderr a pipe nobody reads;
3. back-pressure instead of loss: --echo and --broadcast slow the sender; a reader that reads is kept;
4. a client that stops reading is released (RST) after STALL_TIMEOUT, freeing its --max-clients slot;
5. at exit everything received reaches a slow stdout.
Every wait is bounded; figures (stderr lines, CPU) are printed for the issue's closing note (pytest -s).
"""

from __future__ import annotations

import fcntl
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tcpcli.engine.client import STALL_TIMEOUT
from tests.conftest import TCPCLI
from tests.listen_helpers import WAIT, recv_exactly, running

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _limit_descriptors(count: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _connect_many(port: int, count: int) -> list[socket.socket]:
    """`count` connections (the kernel completes them from the backlog even when the server cannot accept)."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        sock.settimeout(WAIT)
        socks.append(sock)
    return socks


def _echoes(sock: socket.socket, payload: bytes = b"ping\n") -> bool:
    sock.sendall(payload)
    return recv_exactly(sock, len(payload)) == payload


def test_out_of_descriptors_is_said_once_backs_off_keeps_serving_and_recovers() -> None:
    # 64 descriptors: ~50 clients fit; the other 50 wait in the backlog instead of flooding stderr
    with running("-l", "-k", "--echo", "127.0.0.1", "0", preexec_fn=lambda: _limit_descriptors(64)) as server:
        clients = _connect_many(server.port, 100)
        line = server.wait_stderr("cannot accept clients")
        assert "Too many open files" in line
        assert _echoes(clients[0])  # connected clients are still served
        cpu_before, started = _cpu_seconds(server.proc.pid), time.monotonic()
        extra = b""
        assert server.proc.stderr is not None
        os.set_blocking(server.proc.stderr.fileno(), False)
        deadline = started + 3.0
        while time.monotonic() < deadline:  # 3 s of exhaustion: count what reaches stderr
            time.sleep(0.2)
            extra += server.proc.stderr.read() or b""
        elapsed = time.monotonic() - started
        cpu = _cpu_seconds(server.proc.pid) - cpu_before
        lines = extra.count(b"\n")
        print(f"\nexhausted: {lines / elapsed:.1f} stderr lines/s, CPU {100 * cpu / elapsed:.1f} %")
        assert lines == 0, extra
        assert cpu < 0.5 * elapsed  # backing off, not spinning (was 84 % of a core)
        os.set_blocking(server.proc.stderr.fileno(), True)
        for sock in clients[:60]:  # descriptors free up: the waiting clients are accepted
            sock.close()
        assert "accepting clients again" in server.wait_stderr("accepting")
        assert _echoes(clients[-1])
        assert server.stop() == 143
        for sock in clients[60:]:
            sock.close()


def test_sigterm_stops_it_with_stderr_a_full_pipe_nobody_reads_and_clients_are_served_meanwhile() -> None:
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, _F_SETPIPE_SZ, 4096)  # one page: a few dozen -v lines fill it
    proc = subprocess.Popen(
        [*TCPCLI, "-l", "-k", "-v", "--echo", "127.0.0.1", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=write_end,
        preexec_fn=lambda: _limit_descriptors(64),
    )
    os.close(write_end)
    clients: list[socket.socket] = []
    try:
        first = os.read(read_end, 200).decode()  # only the `listening on` line is read, then never again
        port = int(first.split("\n")[0].rsplit(":", 1)[1])
        clients = _connect_many(port, 100)  # -v lines, then out of descriptors: far more than 4 KiB
        for _ in range(3):  # clients come and go while nobody reads stderr
            for sock in clients[:20]:
                sock.close()
            clients[:20] = _connect_many(port, 20)
        deadline = time.monotonic() + WAIT
        while True:  # one of the first (accepted) clients: still echoed although stderr is stuck
            try:
                assert _echoes(_first_served(clients))
                break
            except (TimeoutError, AssertionError):
                assert time.monotonic() < deadline, "no client is served while stderr is full"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 143
    finally:
        proc.kill()
        proc.wait(WAIT)
        os.close(read_end)
        for sock in clients:
            sock.close()


def _first_served(clients: list[socket.socket]) -> socket.socket:
    return clients[20]  # never closed above, connected while descriptors were still free


def test_echo_delivers_50_mb_to_a_client_that_reads_slowly(tmp_path: Path) -> None:
    data = tmp_path / "50MB"
    data.write_bytes(os.urandom(50_000_000))
    with running("-l", "-k", "--echo", "127.0.0.1", "0") as server:
        client = " ".join(shlex.quote(part) for part in TCPCLI)
        script = f"{client} 127.0.0.1 {server.port} < {data} | (sleep 2; wc -c)"
        result = subprocess.run(["bash", "-c", script], capture_output=True, timeout=120)
        assert result.stdout.split() == [b"50000000"], result.stderr
        assert server.stop() == 143
        assert "not reading" not in server.rest_of_stderr()


def test_broadcast_of_16_mib_does_not_drop_a_reader_that_reads() -> None:
    size = 16 << 20
    with running("-l", "-k", "-v", "--broadcast", "127.0.0.1", "0") as server:
        reader, sender = server.connect(), server.connect()
        server.wait_stderr("(2 clients)")
        got = 0

        def read() -> None:  # steadily, at a pace far below what the sender can push (~6 MB/s)
            nonlocal got
            while got < size and (chunk := reader.recv(1 << 16)):
                got += len(chunk)
                time.sleep(0.01)

        thread = threading.Thread(target=read)
        thread.start()
        sender.settimeout(3 * WAIT)
        sender.sendall(b"y" * size)
        thread.join(3 * WAIT)
        reader.close()
        sender.close()
        assert got == size
        assert server.stop() == 143
        assert "not reading" not in server.rest_of_stderr()


def test_a_client_that_stops_reading_is_reset_after_the_stall_timeout_and_frees_its_slot() -> None:
    with running("-l", "-k", "-v", "--echo", "-i", "1", "--max-clients", "1", "127.0.0.1", "0") as server:
        stuck = server.connect()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        server.wait_stderr("(1 client)")
        stuck.setblocking(False)
        chunk, deadline = b"z" * 65536, time.monotonic() + 2.0
        while time.monotonic() < deadline:  # send until the kernel takes no more; never read
            try:
                stuck.send(chunk)
            except BlockingIOError:
                time.sleep(0.05)
        stuck.shutdown(socket.SHUT_WR)  # then FIN, and quiet
        left = server.wait_stderr(" left", timeout=STALL_TIMEOUT + 2 * WAIT)
        assert "not reading" in left, left
        with server.connect() as next_client:  # the slot is free again
            assert "(1 client)" in server.wait_stderr("connected")
            assert _echoes(next_client)
        stuck.close()
        assert server.stop() == 143


# reads stdout at ~320 KB/s and prints how many bytes it got: the server still has ~1 MiB for it at the end
_SLOW_READER = """
import sys, time
total = 0
while chunk := sys.stdin.buffer.read1(32768):
    total += len(chunk)
    time.sleep(0.1)
print(total)
"""


def test_everything_received_reaches_a_slow_stdout_before_exit(tmp_path: Path) -> None:
    count = tmp_path / "count"
    server_cmd = " ".join(shlex.quote(part) for part in (*TCPCLI, "-l", "--echo", "127.0.0.1", "0"))
    proc = subprocess.Popen(
        [
            "bash",
            "-c",
            f"{server_cmd} | {shlex.quote(sys.executable)} -c {shlex.quote(_SLOW_READER)} > {count}",
        ],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        port = int(proc.stderr.readline().decode().rsplit(":", 1)[1])
        payload = os.urandom(3_000_000)
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
            back = bytearray()

            def read() -> None:
                while chunk := client.recv(1 << 16):
                    back.extend(chunk)

            thread = threading.Thread(target=read)
            thread.start()
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
            thread.join(3 * WAIT)
        assert bytes(back) == payload
        assert proc.wait(4 * WAIT) == 0, proc.stderr.read()
        assert count.read_text().strip() == "3000000"
    finally:
        proc.kill()
        proc.communicate(timeout=WAIT)


def test_the_pipe_size_constant_is_right_here() -> None:
    assert sys.platform.startswith("linux")  # F_SETPIPE_SZ and /proc are Linux's


def test_a_client_that_sends_fin_but_never_reads_what_is_queued_for_it_is_reset_and_reported() -> None:
    with running("-l", "-k", "-v", "--max-clients", "1", "127.0.0.1", "0") as server:
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
        stuck.settimeout(WAIT)
        stuck.connect(("127.0.0.1", server.port))
        server.wait_stderr("(1 client)")
        feeder = threading.Thread(target=lambda: server.write_stdin(b"s" * (8 << 20)), daemon=True)
        feeder.start()  # stdin waits once the client is behind: the feeder may block, the server does not
        feeder.join(0.5)
        assert feeder.is_alive()  # stdin is held: the client is behind, megabytes are queued for it
        stuck.shutdown(socket.SHUT_WR)  # FIN, with megabytes still to go to it
        left = server.wait_stderr(" left", timeout=STALL_TIMEOUT + 2 * WAIT)
        assert "not reading" in left, left
        with server.connect() as next_client:
            assert "(1 client)" in server.wait_stderr("connected")
            next_client.close()
        stuck.close()
        assert server.stop() == 143
