"""Tools for listen-mode tests: start the real server, read its port from stderr, talk to it as clients.

Every wait is bounded by WAIT seconds; a test never sleeps longer than what it is waiting for.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

from tests.conftest import start_tcpcli

WAIT = 10.0


class Server:
    """A running `tcpcli -l ...`; `port` comes from the `listening on` line, the first on stderr."""

    def __init__(
        self,
        *args: str,
        stdin: int | None = subprocess.PIPE,
        stdout: int | None = subprocess.DEVNULL,
        **popen: Any,
    ) -> None:
        # stdout defaults to /dev/null: an unread pipe would (rightly) pause the server's clients.
        self.proc = start_tcpcli(*args, stdin=stdin, stdout=stdout, **popen)
        self._stderr = b""
        self.first_line = self.stderr_line()
        assert "listening on " in self.first_line, self.first_line
        self.address = self.first_line.split("listening on ", 1)[1]  # `[::]:PORT`, `unix:PATH`, `@name`
        port = self.address.rsplit(":", 1)[-1]
        self.port = int(port) if port.isdigit() else 0  # 0: a Unix socket

    def stderr_line(self, timeout: float = WAIT) -> str:
        """The next stderr line (bounded wait)."""
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._stderr:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stderr], [], [], max(0.0, remaining))
            if not ready:
                raise AssertionError(f"no stderr line within {timeout} s; so far {self._stderr!r}")
            chunk = os.read(self.proc.stderr.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"stderr closed; so far {self._stderr!r}")
            self._stderr += chunk
        line, _, self._stderr = self._stderr.partition(b"\n")
        return line.decode()

    def wait_stderr(self, needle: str, timeout: float = WAIT) -> str:
        """Read stderr lines until one contains `needle`; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.stderr_line(max(0.0, deadline - time.monotonic()))
            if needle in line:
                return line

    def connect(self, host: str = "127.0.0.1") -> socket.socket:
        sock = socket.create_connection((host, self.port), timeout=WAIT)
        sock.settimeout(WAIT)
        return sock

    def write_stdin(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        return self.wait()

    def wait(self, timeout: float = WAIT) -> int:
        return self.proc.wait(timeout)

    def rest_of_stderr(self) -> str:
        """Everything left on stderr (after the process ended)."""
        assert self.proc.stderr is not None
        rest = self._stderr + self.proc.stderr.read()
        self._stderr = b""
        return rest.decode()

    def peak_rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc status")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


@contextlib.contextmanager
def running(*args: str, **options: Any) -> Iterator[Server]:
    """A server for the length of a `with` block, killed at the end if the test did not stop it."""
    server = Server(*args, **options)
    try:
        yield server
    finally:
        server.kill()


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise AssertionError(f"EOF after {data!r}, wanted {size} bytes")
        data += chunk
    return data


def recv_until(sock: socket.socket, needle: bytes) -> bytes:
    """Read (bounded by the socket timeout) until `needle` has arrived; returns everything read."""
    data = b""
    while needle not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"EOF before {needle!r}; got {data!r}")
        data += chunk
    return data


def eventually(check: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll a condition the program cannot signal (bounded, short steps)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
