"""Odd standard streams from the parent (issue 12.7, 12.8): non-blocking pipes, a directory as stdin.

A parent may leave O_NONBLOCK on the pipe ends it hands us (the flag belongs to the shared open file, so
the child inherits it): reads and writes then fail with EAGAIN whenever the pipe is empty or full. Every
engine must wait instead of losing data or taking it for the end of input.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import TCPCLI, PeerServer
from tests.listen_helpers import recv_exactly, running

WAIT = 10.0

Peer = Callable[..., PeerServer]


class Sink:
    """A peer that keeps every byte it receives until the client's FIN, then closes."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.changed = threading.Condition()

    def __call__(self, conn: socket.socket) -> None:
        while chunk := conn.recv(65536):
            with self.changed:
                self.data += chunk
                self.changed.notify_all()

    def wait_for(self, size: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.data) >= size, WAIT), len(self.data)


def source(payload: bytes) -> Callable[[socket.socket], None]:
    def send(conn: socket.socket) -> None:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):  # until the client's FIN
            pass

    return send


@pytest.fixture
def nonblocking_pipe() -> Iterator[tuple[int, int]]:
    """A pipe (read end, write end) whose ends are both O_NONBLOCK; closed at the end if still open."""
    ends = os.pipe()
    for fd in ends:
        os.set_blocking(fd, False)
    yield ends
    for fd in ends:
        with contextlib.suppress(OSError):
            os.close(fd)


def wait_until_full(write_end: int, proc: subprocess.Popen[bytes]) -> None:
    """Until the pipe behind `write_end` takes no more (the child's next write meets EAGAIN) or it exited."""
    poller = select.poll()
    poller.register(write_end, select.POLLOUT)
    deadline = time.monotonic() + WAIT
    while poller.poll(0) and proc.poll() is None:
        assert time.monotonic() < deadline, "the pipe never filled up"
        time.sleep(0.01)


def read_to_end(fd: int) -> bytes:
    os.set_blocking(fd, True)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------------------------ stdin O_NONBLOCK

STDIN_PATHS = {"splice": [], "copy": ["--hex-log", "{tmp}/log"], "copy -C": ["-C"]}


@pytest.mark.parametrize("path", list(STDIN_PATHS))
def test_nonblocking_stdin_pipe_is_sent_whole(
    peer: Peer, nonblocking_pipe: tuple[int, int], tmp_path: Path, path: str
) -> None:
    """Issue 12.7: exit 74 'Resource temporarily unavailable' after 2-4 KB of 20 KB."""
    sink = Sink()
    server = peer(sink)
    read_end, write_end = nonblocking_pipe
    os.set_blocking(write_end, True)  # only the child's end matters; ours writes plainly
    options = [option.replace("{tmp}", str(tmp_path)) for option in STDIN_PATHS[path]]
    payload = random.Random(7).randbytes(20_000).replace(b"\n", b"x")  # -C must not change it
    proc = subprocess.Popen(
        [*TCPCLI, "-v", *options, "127.0.0.1", str(server.port)],
        stdin=read_end,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(read_end)
    os.write(write_end, payload[:10_000])
    sink.wait_for(10_000)  # the child has drained the pipe: its next read meets EAGAIN
    os.write(write_end, payload[10_000:])
    os.close(write_end)
    _, stderr = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, stderr
    assert bytes(sink.data) == payload
    assert f"stdin -> socket by {path.split()[0]}".encode() in stderr


def test_nonblocking_regular_file_stdin_goes_by_sendfile(peer: Peer, tmp_path: Path) -> None:
    sink = Sink()
    server = peer(sink)
    payload = random.Random(8).randbytes(3_000_000)
    source_file = tmp_path / "in.bin"
    source_file.write_bytes(payload)
    fd = os.open(source_file, os.O_RDONLY | os.O_NONBLOCK)
    try:
        proc = subprocess.run(
            [*TCPCLI, "-v", "127.0.0.1", str(server.port)],
            stdin=fd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=WAIT,
        )
    finally:
        os.close(fd)
    assert proc.returncode == 0, proc.stderr
    assert b"stdin -> socket by sendfile" in proc.stderr
    assert bytes(sink.data) == payload


# ----------------------------------------------------------------------------------- stdout O_NONBLOCK

STDOUT_PATHS = {"splice": [], "copy -o": ["-o", "{tmp}/out"], "copy -x": ["-x"]}


@pytest.mark.parametrize("path", list(STDOUT_PATHS))
def test_nonblocking_stdout_pipe_gets_every_byte(
    peer: Peer, nonblocking_pipe: tuple[int, int], tmp_path: Path, path: str
) -> None:
    """Issue 12.7: on the copy paths, exit 74 after 1.1 of 4 MiB."""
    payload = random.Random(9).randbytes(4 << 20)
    server = peer(source(payload))
    read_end, write_end = nonblocking_pipe
    options = [option.replace("{tmp}", str(tmp_path)) for option in STDOUT_PATHS[path]]
    proc = subprocess.Popen(
        [*TCPCLI, "-v", *options, "127.0.0.1", str(server.port)],
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=subprocess.PIPE,
    )
    wait_until_full(write_end, proc)  # nobody reads yet: the child must wait, not fail
    os.close(write_end)
    output = read_to_end(read_end)
    _, stderr = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, stderr
    assert f"socket -> stdout by {path.split()[0]}".encode() in stderr
    if path == "copy -x":
        lines = output.splitlines()
        assert len(lines) == len(payload) // 16  # one dump line per 16 bytes: nothing lost
        assert lines[-1].startswith(b"003ffff0  ")
    else:
        assert output == payload
    if path == "copy -o":
        assert (tmp_path / "out").read_bytes() == payload


# -------------------------------------------------------------------------------------------- -l -k


def test_listen_keep_open_waits_on_a_nonblocking_stdin(nonblocking_pipe: tuple[int, int]) -> None:
    """Issue 12.7: with -l -k, a non-blocking stdin was silently taken as ended at its first EAGAIN."""
    read_end, write_end = nonblocking_pipe
    os.set_blocking(write_end, True)
    with running("-v", "-l", "-k", "127.0.0.1", "0", stdin=read_end) as server:
        os.close(read_end)
        with server.connect() as client:
            server.wait_stderr("connected")  # the first line only once its client is there
            for line in (b"one\n", b"two\n"):
                os.write(write_end, line)
                assert recv_exactly(client, len(line)) == line
        server.stop(signal.SIGTERM)


def test_listen_keep_open_waits_on_a_nonblocking_stdout(nonblocking_pipe: tuple[int, int]) -> None:
    read_end, write_end = nonblocking_pipe
    payload = random.Random(10).randbytes(4 << 20)
    with (
        running("-l", "-k", "127.0.0.1", "0", stdin=subprocess.DEVNULL, stdout=write_end) as server,
        server.connect() as client,
    ):
        sender = threading.Thread(target=client.sendall, args=(payload,), daemon=True)
        sender.start()
        wait_until_full(write_end, server.proc)
        os.close(write_end)
        received = bytearray()
        os.set_blocking(read_end, True)
        while len(received) < len(payload):
            ready, _, _ = select.select([read_end], [], [], WAIT)
            assert ready, f"stdout stalled at {len(received)} bytes"
            chunk = os.read(read_end, 1 << 20)
            assert chunk, f"stdout ended at {len(received)} bytes"
            received += chunk
        sender.join(WAIT)
        server.stop(signal.SIGTERM)
    assert bytes(received) == payload


# ------------------------------------------------------------------------- a directory as a std stream

LAUNCHER = Path(__file__).resolve().parent.parent / "bin" / "tcpcli"


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """The launcher as pip installs it: bin/tcpcli next to the environment's bin/python (here a wrapper that
    runs the test venv's interpreter), plus links to it the way pipx exposes apps in ~/.local/bin."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    shutil.copy(LAUNCHER, bin_dir / "tcpcli")
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    links = tmp_path / "local" / "bin"
    links.mkdir(parents=True)
    (links / "tcpcli").symlink_to(bin_dir / "tcpcli")
    (links / "tcpcli-relative").symlink_to(os.path.relpath(bin_dir / "tcpcli", links))
    return tmp_path


@pytest.mark.parametrize(("redirect", "name"), [(0, "stdin"), (1, "stdout"), (2, "stderr")])
def test_a_directory_as_a_standard_stream_is_one_line_and_66(
    installed: Path, redirect: int, name: str
) -> None:
    """Issue 12.8: CPython aborted in its own start-up with a 5-line "Fatal Python error"."""
    fd = os.open(installed, os.O_RDONLY | os.O_DIRECTORY)
    streams: dict[str, object] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
    }
    streams[name] = fd
    try:
        proc = subprocess.run(
            [str(installed / "venv" / "bin" / "tcpcli"), "127.0.0.1", "9"],
            timeout=WAIT,
            **streams,  # type: ignore[call-overload]
        )
    finally:
        os.close(fd)
    assert proc.returncode == 66
    if name != "stderr":
        assert proc.stderr == f"tcpcli: {name} is a directory: give a file, a pipe or a terminal\n".encode()


@pytest.mark.parametrize("command", ["venv/bin/tcpcli", "local/bin/tcpcli", "local/bin/tcpcli-relative"])
def test_the_launcher_runs_tcpcli_with_the_python_next_to_it(
    installed: Path, command: str, peer: Peer, tmp_path: Path
) -> None:
    """Through pipx's links too; arguments pass unchanged; the current directory cannot shadow modules."""
    server = peer(source(b"hello"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "socket.py").write_text("raise SystemExit('the current directory was on sys.path')\n")
    proc = subprocess.run(
        [str(installed / command), "-v", "127.0.0.1", str(server.port)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        cwd=workdir,
        timeout=WAIT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"hello"


def test_a_report_waits_for_room_on_a_full_non_blocking_stderr() -> None:
    """stderr left O_NONBLOCK by the parent and full: the line waits for room instead of being lost."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    filled = 0
    try:
        while True:
            filled += os.write(write_end, b"." * 4096)
    except BlockingIOError:
        pass
    code = "from tcpcli.report import Reporter; Reporter().error('the line')"
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=write_end)
    os.close(write_end)
    try:
        deadline = time.monotonic() + 10
        wchan = Path(f"/proc/{proc.pid}/wchan")
        # wait for a state: the child blocked waiting for room (poll), or gone (the line was dropped)
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if "poll" in wchan.read_text():
                    break
            time.sleep(0.01)
        data = b""
        while chunk := os.read(read_end, 1 << 16):
            data += chunk
        assert proc.wait(10) == 0
    finally:
        os.close(read_end)
        if proc.poll() is None:
            proc.kill()
    assert len(data) == filled + len(b"tcpcli: the line\n")
    assert data.endswith(b"tcpcli: the line\n")
