"""Shared test tools: run the real program, and real peer servers on loopback.

Every wait here is bounded; pytest-timeout (pyproject) is the backstop.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

TCPCLI = [sys.executable, "-m", "tcpcli"]
RUN_TIMEOUT = 20.0


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: str


def run_tcpcli(
    *args: str,
    stdin: bytes | int | None = b"",
    timeout: float = RUN_TIMEOUT,
    env: dict[str, str] | None = None,
) -> Result:
    """Run `python -m tcpcli ARGS` to completion with stdin bytes (or an fd), bounded by `timeout`."""
    kwargs: dict[str, object] = {}
    if isinstance(stdin, bytes):
        kwargs["input"] = stdin
    else:
        kwargs["stdin"] = stdin if stdin is not None else subprocess.DEVNULL
    proc = subprocess.run(
        [*TCPCLI, *args],
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        **kwargs,  # type: ignore[arg-type]
    )
    return Result(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


def start_tcpcli(*args: str, **popen: object) -> subprocess.Popen[bytes]:
    """Start the program with pipes for stdin/stdout/stderr (unless given); the caller bounds every wait."""
    options: dict[str, object] = {
        "stdin": subprocess.PIPE,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
    }
    options.update(popen)
    return subprocess.Popen([*TCPCLI, *args], **options)  # type: ignore[call-overload, no-any-return]


Handler = Callable[[socket.socket], None]


class PeerServer:
    """A real TCP server on 127.0.0.1 (or ::1) running `handler(conn)` for each client in a thread."""

    def __init__(self, handler: Handler, family: int = socket.AF_INET) -> None:
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self._handler = handler
        self._stop = threading.Event()
        self.errors: list[BaseException] = []
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(15)
            self.connections.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self._handler(conn)
        except OSError:
            pass
        except BaseException as exc:  # surfaced by tests that care
            self.errors.append(exc)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(2)


def recv_all(conn: socket.socket) -> bytes:
    """Read until the peer's FIN."""
    chunks = []
    while True:
        data = conn.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def echo_handler(conn: socket.socket) -> None:
    """Echo until FIN, then FIN back."""
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


@pytest.fixture
def peer() -> Iterator[Callable[..., PeerServer]]:
    """Factory: `server = peer(handler)`; every server made is closed at the end of the test."""
    made: list[PeerServer] = []

    def make(handler: Handler, family: int = socket.AF_INET) -> PeerServer:
        server = PeerServer(handler, family)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def echo_server(peer: Callable[..., PeerServer]) -> PeerServer:
    return peer(echo_handler)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
