"""Stream mode tells things in the order they happened: --hex-log entries and -v events (issue 11).

The engine runs in-process here (real threads, a real socketpair, real pipes) so that a race that shows in one
exchange out of twenty is exercised hundreds of times in a second.
"""

from __future__ import annotations

import io
import os
import re
import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from tcpcli.engine.pair import FdPair
from tcpcli.report import Reporter
from tcpcli.settings import SessionSettings, ViewSettings

WAIT = 10.0  # seconds: the bound of every wait below
HEADER = re.compile(r"^(\d\d:\d\d:\d\d\.\d{6}) ([<>]) (\d+) bytes$")


def run_session(
    sock: socket.socket, stdin_fd: int, stdout_fd: int, session: SessionSettings
) -> tuple[threading.Thread, list[int], io.StringIO]:
    """Start FdPair on a thread; returns the thread, a box for the exit code, and its stderr."""
    stderr = io.StringIO()
    reporter = Reporter(verbose=True, color=False, stream=stderr)
    code: list[int] = []
    stream = FdPair(sock, session, ViewSettings(), reporter, stdin_fd, stdout_fd, peer="test")
    thread = threading.Thread(target=lambda: code.append(stream.run()), daemon=True)
    thread.start()
    return thread, code, stderr


def read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        ready, _, _ = select.select([fd], [], [], WAIT)
        assert ready, f"no output within {WAIT} s (got {data!r})"
        chunk = os.read(fd, size - len(data))
        assert chunk, "stdout ended early"
        data += chunk
    return data


def serve(conn: socket.socket, handler: Callable[[socket.socket], None]) -> threading.Thread:
    def run() -> None:
        try:
            handler(conn)
        finally:
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def reply_per_line(conn: socket.socket) -> None:
    """A Redis-like peer: answers each line at once, closes after the client's FIN."""
    pending = b""
    while data := conn.recv(4096):
        pending += data
        while b"\n" in pending:
            _, pending = pending.split(b"\n", 1)
            conn.sendall(b"+PONG\r\n")


def test_hex_log_shows_each_request_before_its_reply(tmp_path: Path) -> None:
    """Issue 11.1: a sent chunk was logged only after sendall returned, so a quick reply came first."""
    log = tmp_path / "s.log"
    ours, theirs = socket.socketpair()
    peer = serve(theirs, reply_per_line)
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    exchanges = 300
    thread, code, stderr = run_session(ours, stdin_r, stdout_w, SessionSettings(hex_log=str(log)))
    try:
        for _ in range(exchanges):
            os.write(stdin_w, b"PING\r\n")
            assert read_exactly(stdout_r, 7) == b"+PONG\r\n"  # the next request only after the reply
    finally:
        os.close(stdin_w)
        thread.join(WAIT)
        peer.join(WAIT)
        for fd in (stdin_r, stdout_r, stdout_w):
            os.close(fd)
    assert code == [0], stderr.getvalue()
    headers = [HEADER.match(line) for line in log.read_text().splitlines() if line[:1] not in "<>"]
    assert all(headers)
    directions = "".join(match[2] for match in headers if match)
    assert directions == "><" * exchanges  # each request logged before the reply it caused
    stamps = [match[1] for match in headers if match]
    assert stamps == sorted(stamps)  # and the timestamps never go backwards


def test_input_ended_is_reported_before_the_peer_reacts_to_our_fin() -> None:
    """Issue 11.2: "peer closed its side (FIN)" came before "input ended: sent FIN" in 5 runs of 40."""

    def answer_then_close_on_fin(conn: socket.socket) -> None:
        while conn.recv(4096):
            pass
        conn.sendall(b"+PONG\r\n")  # the peer's reaction to our FIN: its reply and its own FIN

    for _ in range(150):
        ours, theirs = socket.socketpair()
        peer = serve(theirs, answer_then_close_on_fin)
        stdin_r, stdin_w = os.pipe()
        os.write(stdin_w, b"PING\r\n")
        os.close(stdin_w)
        with open(os.devnull, "wb") as devnull:
            thread, code, stderr = run_session(ours, stdin_r, devnull.fileno(), SessionSettings())
            thread.join(WAIT)
        peer.join(WAIT)
        os.close(stdin_r)
        assert code == [0], stderr.getvalue()
        lines = stderr.getvalue().splitlines()
        ended = next(i for i, line in enumerate(lines) if "input ended: sent FIN" in line)
        closed = next(i for i, line in enumerate(lines) if "peer closed its side" in line)
        assert ended < closed, lines
