"""Real proxies for the --proxy tests, started on free loopback ports: microsocks, tinyproxy, danted, and a
small logging SOCKS4/5 server (Python threads) that records what it was asked to reach (a name or an address).

Each helper waits (bounded) until its proxy accepts; a test using a binary that is missing is skipped with the
reason (.ci/run installs them).
"""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

WAIT = 10.0

__all__ = ["LoggingSocks", "danted", "microsocks", "tinyproxy"]


def _require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (.ci/run installs it)")
    return path


def _wait_accepting(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the proxy exited at start with status {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.02)
    raise AssertionError(f"the proxy did not accept on port {port} within {WAIT} s")


@contextlib.contextmanager
def _running(argv: list[str], port: int) -> Iterator[int]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_accepting(port, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT)


@contextlib.contextmanager
def microsocks(user: str | None = None, password: str | None = None) -> Iterator[int]:
    """SOCKS5 (with USER/PASS when given) on 127.0.0.1; yields its port."""
    port = free_port()
    argv = [_require("microsocks"), "-i", "127.0.0.1", "-p", str(port)]
    if user is not None:
        argv += ["-u", user, "-P", password or ""]
    with _running(argv, port) as running:
        yield running


@contextlib.contextmanager
def tinyproxy(directory: Path, connect_ports: list[int]) -> Iterator[int]:
    """HTTP CONNECT to the given target ports only, in the foreground (-d); yields its port."""
    binary = _require("tinyproxy")
    port = free_port()
    config = directory / "tinyproxy.conf"
    lines = [f"Port {port}", "Listen 127.0.0.1", "Allow 127.0.0.1", "Timeout 30", "LogLevel Critical"]
    lines += [f"ConnectPort {target}" for target in connect_ports]
    config.write_text("\n".join(lines) + "\n")
    with _running([binary, "-d", "-c", str(config)], port) as running:
        yield running


@contextlib.contextmanager
def danted(directory: Path) -> Iterator[int]:
    """Dante: SOCKS4 and SOCKS5 without authentication on 127.0.0.1 (as root it drops to nobody)."""
    binary = _require("danted")
    port = free_port()
    config = directory / "danted.conf"
    config.write_text(
        f"""logoutput: stderr
internal: 127.0.0.1 port = {port}
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}
socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}
"""
    )
    with _running([binary, "-f", str(config), "-N", "1"], port) as running:
        yield running


class LoggingSocks:
    """A SOCKS4/4a/5 server (no authentication) that records each request, answers `reply`, then echoes.

    `requests` gets (version, "name" or "address", host, port) per request: the proof of who resolved.
    With `reply` other than success (SOCKS5 0 / SOCKS4 90) it answers that code and closes.
    """

    def __init__(self, reply: int | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.reply = reply
        self.requests: list[tuple[int, str, str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(WAIT)
        self.listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(WAIT)
        with conn, contextlib.suppress(OSError, AssertionError):
            version = _exactly(conn, 1)[0]
            ok = self._socks5(conn) if version == 5 else self._socks4(conn)
            if ok:
                while data := conn.recv(65536):
                    conn.sendall(data)

    def _socks5(self, conn: socket.socket) -> bool:
        methods = _exactly(conn, _exactly(conn, 1)[0])
        assert 0 in methods
        conn.sendall(b"\x05\x00")
        _ver, _cmd, _rsv, kind = _exactly(conn, 4)
        if kind == 3:
            host, how = _exactly(conn, _exactly(conn, 1)[0]).decode(), "name"
        else:
            raw = _exactly(conn, 4 if kind == 1 else 16)
            host, how = str(ipaddress.ip_address(raw)), "address"
        port = int.from_bytes(_exactly(conn, 2), "big")
        self.requests.append((5, how, host, port))
        code = self.reply or 0
        conn.sendall(bytes([5, code, 0, 1]) + bytes(6))
        return code == 0

    def _socks4(self, conn: socket.socket) -> bool:
        _cmd = _exactly(conn, 1)
        port = int.from_bytes(_exactly(conn, 2), "big")
        raw = _exactly(conn, 4)
        _user = _until_nul(conn)
        if raw[:3] == b"\0\0\0" and raw[3]:
            host, how = _until_nul(conn).decode(), "name"  # SOCKS4a
        else:
            host, how = str(ipaddress.ip_address(raw)), "address"
        self.requests.append((4, how, host, port))
        code = self.reply or 90
        conn.sendall(bytes([0, code]) + bytes(6))
        return code == 90


def _exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        assert chunk, "client went away"
        data += chunk
    return data


def _until_nul(conn: socket.socket) -> bytes:
    data = b""
    while (byte := _exactly(conn, 1)) != b"\0":
        data += byte
    return data
