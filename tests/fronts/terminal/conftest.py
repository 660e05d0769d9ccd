"""Drive the real program in a real pseudo-terminal and read what a person would see.

The program runs under pexpect; everything it writes goes into a pyte screen, which also answers the
terminal's cursor-position requests as a real terminal does. Assertions look at the screen, and a failing wait
prints it together with the tail of the raw output.
"""

from __future__ import annotations

import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pyte
import pytest

REPO = Path(__file__).resolve().parents[3]
COLS, ROWS = 100, 30
WAIT = 8.0  # every wait on the screen is bounded by this (seconds)


SCROLLBACK = 2000  # lines kept above the screen, to see what a session leaves behind in the scrollback


class _AnsweringScreen(pyte.HistoryScreen):
    """A pyte screen with scrollback that sends its replies (cursor position reports) back to the program."""

    def __init__(self, columns: int, lines: int) -> None:
        super().__init__(columns, lines, history=SCROLLBACK)
        self.replies: list[str] = []

    def write_process_input(self, data: str) -> None:
        self.replies.append(data)


class Terminal:
    """`python -m tcpcli ARGS` in a COLSxROWS pty; `wait_for` polls the screen until a condition holds."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        cols: int = COLS,
        rows: int = ROWS,
        program: list[str] | None = None,
    ) -> None:
        """`program` (default: this Python with `-m tcpcli`) runs with `args` after it."""
        self.screen = _AnsweringScreen(cols, rows)
        self._stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        command = program or [sys.executable, "-m", "tcpcli"]
        self.child = pexpect.spawn(
            command[0], [*command[1:], *args], dimensions=(rows, cols), env=env, cwd=str(REPO)
        )
        self.exit_status: int | None = None

    # ---------------------------------------------------------------- reading

    def pump(self, timeout: float = 0.05) -> bool:
        """Read what the program wrote within `timeout` into the screen; False once it has closed the pty."""
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.raw += data
        self._stream.feed(data)
        for reply in self.screen.replies:
            self.child.send(reply)
        self.screen.replies.clear()
        return True

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def scrollback(self) -> list[str]:
        """The lines that scrolled off the top, oldest first."""
        columns = self.screen.columns
        return ["".join(line[x].data for x in range(columns)).rstrip() for line in self.screen.history.top]

    def wait_for(self, condition: str | Callable[[Terminal], bool], timeout: float = WAIT) -> None:
        check = (lambda term: condition in term.text()) if isinstance(condition, str) else condition
        deadline = time.monotonic() + timeout
        while True:
            alive = self.pump()
            if check(self):
                return
            if not alive or time.monotonic() > deadline:
                why = "the program ended" if not alive else f"{timeout} s passed"
                pytest.fail(f"{why} before the screen showed {condition!r}\n{self.dump()}")

    def dump(self) -> str:
        tail = bytes(self.raw[-1500:])
        return f"---- screen ----\n{self.text()}\n---- raw output (tail) ----\n{tail!r}"

    def prompt_row(self) -> str:
        """The input line: the last non-empty row above the toolbar."""
        rows = [line.rstrip() for line in self.screen.display]
        filled = [row for row in rows if row]
        return filled[-2] if len(filled) >= 2 else ""

    # ---------------------------------------------------------------- keys and the end

    def type(self, text: str) -> None:
        self.child.send(text)

    def enter(self, text: str = "") -> None:
        self.child.send(text + "\r")

    def ctrl(self, key: str) -> None:
        self.child.sendcontrol(key)

    def wait_exit(self, timeout: float = WAIT) -> int:
        deadline = time.monotonic() + timeout
        while self.pump():
            if time.monotonic() > deadline:
                pytest.fail(f"the program did not exit within {timeout} s\n{self.dump()}")
        self.child.wait()
        status = self.child.exitstatus
        assert status is not None, f"killed by signal {self.child.signalstatus}\n{self.dump()}"
        self.exit_status = status
        return status

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def term_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: history in tmp_path, colour decided by the terminal, a known TERM."""
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "COLUMNS", "LINES")}
    env.update({"TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"})
    return env


@pytest.fixture
def terminal(term_env: dict[str, str]) -> Iterator[Callable[..., Terminal]]:
    """Factory: `term = terminal("127.0.0.1", port, "-b")`; every program started is ended afterwards."""
    started: list[Terminal] = []

    def start(
        *args: object, env: dict[str, str] | None = None, cols: int = COLS, rows: int = ROWS
    ) -> Terminal:
        term = Terminal([str(arg) for arg in args], env or term_env, cols, rows)
        started.append(term)
        return term

    yield start
    for term in started:
        term.close()


def read_until(conn: socket.socket, marker: bytes, timeout: float = WAIT) -> bytes:
    """What the peer received, up to and including `marker` (bounded wait)."""
    conn.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class LivePeer:
    """A real server on 127.0.0.1 whose accepted connection the test drives by hand (`accept()`)."""

    def __init__(self, make_server: Callable[..., object]) -> None:
        self._conns: queue.Queue[socket.socket] = queue.Queue()
        self._release = threading.Event()
        self.server = make_server(self._hold)
        self.port: int = self.server.port  # type: ignore[attr-defined]

    def _hold(self, conn: socket.socket) -> None:
        self._conns.put(conn)
        self._release.wait(30)  # the connection stays ours until the test ends

    def accept(self, timeout: float = WAIT) -> socket.socket:
        try:
            return self._conns.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"tcpcli did not connect within {timeout} s")

    def release(self) -> None:
        self._release.set()


@pytest.fixture
def live_peer(peer: Callable[..., object]) -> Iterator[LivePeer]:
    live = LivePeer(peer)
    yield live
    live.release()
