"""The conformance suite: the same rules over every engine x front cell, plain TCP and TLS.

Cells (GUIDE.md, "Layout: engines x fronts"): connect (one peer) on pipes and in a terminal, listen for one
client on pipes, listen -k (the many-peer engine) on pipes and in a terminal. Rules:
- duplex: a seeded 1 MiB of random bytes each way at once, in random chunk sizes, checked byte by byte (a
  terminal's input line takes its part pasted as hex lines: 64 KiB, since pasting runs at ~40 KB/s there;
  what a terminal received is read from its `-o` file, raw);
- stdin EOF: one peer gets FIN and may still answer (shown, exit 0); with -k stdin EOF stops input only
  (CONTRACT: the server and its clients go on), so the client gets no FIN and its answer is still shown;
- peer FIN: one peer: exit 0 once input ended or went quiet (a terminal: at once); -k: the server closes that
  client's side too and goes on serving;
- peer RST: one peer: exit 74 saying "reset"; -k: `client ... left (reset)`, the server goes on;
- idle: `-i` ends the connection with the one wording `idle timeout: no traffic for S s (-i S)`; exit 75.

The program runs as a subprocess (pipes, or a real pty read through pyte); peers are small Python sockets.
Every wait is bounded by WAIT.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pyte
import pytest

from tests.conftest import free_port
from tests.tls_helpers import Pki, make_pki

WAIT = 15.0
SIZE = 1 << 20
SEED = 13
IDLE = 0.5
IDLE_WORDING = f"idle timeout: no traffic for {IDLE:g} s (-i {IDLE:g})"
# Input in a terminal goes through the input line (pasted hex lines with -x, ~40 KB/s): a smaller amount.
TERMINAL_UPLINK = 64 * 1024


@dataclass(frozen=True)
class Cell:
    name: str
    listen: bool  # tcpcli listens (the peer is a client) or connects (the peer is a server)
    many: bool  # -k: the many-peer engine
    terminal: bool  # a pty front, else pipes


CELLS = [
    Cell("connect-pipes", listen=False, many=False, terminal=False),
    Cell("connect-terminal", listen=False, many=False, terminal=True),
    Cell("listen-pipes", listen=True, many=False, terminal=False),
    Cell("listen-k-pipes", listen=True, many=True, terminal=False),
    Cell("listen-k-terminal", listen=True, many=True, terminal=True),
]


def wait_until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.005)


def chunks(data: bytes, rng: random.Random, largest: int = 65536) -> Iterator[bytes]:
    """`data` cut at random points (1..largest bytes each)."""
    at = 0
    while at < len(data):
        size = rng.randint(1, largest)
        yield data[at : at + size]
        at += size


class Collector:
    """Reads a pipe or pty on a thread into `data` until it closes."""

    def __init__(self, read: Callable[[], bytes], on_data: Callable[[bytes], None] | None = None) -> None:
        self.data = bytearray()
        self.lock = threading.Lock()
        self._read = read
        self._on_data = on_data
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while chunk := self._read():
                with self.lock:
                    self.data += chunk
                    if self._on_data is not None:
                        self._on_data(chunk)
        except (OSError, ValueError):
            pass
        finally:
            self.closed.set()

    def snapshot(self) -> bytes:
        with self.lock:
            return bytes(self.data)


class AnsweringScreen(pyte.HistoryScreen):
    """A pyte screen with scrollback whose replies (cursor position reports) go back to the program."""

    def __init__(self, columns: int, lines: int, history: int) -> None:
        super().__init__(columns, lines, history=history)
        self.replies: list[str] = []

    def write_process_input(self, data: str) -> None:
        self.replies.append(data)


class Front:
    """The program under test, on pipes or in a pty: input, what it showed, how it ended."""

    def __init__(self, cell: Cell, args: list[str], tmp: Path) -> None:
        self.cell = cell
        self.follow_screen = True
        self.output_file = tmp / "received.bin"  # the terminal cells' received bytes, raw (-o)
        self.code: int | None = None
        command = [sys.executable, "-m", "tcpcli", *args]
        if cell.terminal:
            command[3:3] = ["-o", str(self.output_file)]
            self.screen = AnsweringScreen(120, 30, history=4000)
            self._stream = pyte.ByteStream(self.screen)
            env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
            env.update({"TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp / "state")})
            self.child = pexpect.spawn(command[0], command[1:], dimensions=(30, 120), env=env)
            self.keys: queue.Queue[bytes | None] = queue.Queue()
            self.follow_screen = True  # False: a flood is not fed to pyte (slow), only answered
            self._writer = threading.Thread(target=self._write_keys, daemon=True)
            self._writer.start()
            self.err = Collector(self._read_pty, self._feed_screen)
            self.out = self.err
        else:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            assert self.proc.stdout is not None and self.proc.stderr is not None
            self.out = Collector(lambda: os.read(self.proc.stdout.fileno(), 1 << 16))  # type: ignore[union-attr]
            self.err = Collector(lambda: os.read(self.proc.stderr.fileno(), 1 << 16))  # type: ignore[union-attr]

    # ------------------------------------------------------------ the pty

    def _read_pty(self) -> bytes:
        try:
            return bytes(self.child.read_nonblocking(1 << 16, timeout=WAIT * 4))
        except (pexpect.EOF, pexpect.TIMEOUT):
            return b""

    def _feed_screen(self, data: bytes) -> None:
        if not self.follow_screen:
            if b"\x1b[6n" in data:  # a cursor position request; the answer need not be exact here
                self.keys.put(b"\x1b[1;1R")
            return
        self._stream.feed(data)
        for reply in self.screen.replies:  # prompt_toolkit asks where the cursor is; a terminal answers
            self.keys.put(reply.encode())
        self.screen.replies.clear()

    def _write_keys(self) -> None:
        """The only writer of the pty: typed keys and the screen's replies, in order (the reader never
        waits for a full pty input buffer, so the program can always get its replies)."""
        while (keys := self.keys.get()) is not None:
            with contextlib.suppress(OSError):
                self.child.send(keys)

    def shown(self) -> str:
        """Terminal: the screen and its scrollback; pipes: stderr."""
        if not self.cell.terminal:
            return self.err.snapshot().decode("utf-8", "replace")
        with self.err.lock:
            columns = self.screen.columns
            history = ["".join(line[x].data for x in range(columns)) for line in self.screen.history.top]
            return "\n".join(line.rstrip() for line in [*history, *self.screen.display])

    def wait_shown(self, text: str) -> None:
        wait_until(lambda: text in self.shown(), f"{text!r} shown; so far:\n{self.shown()[-3000:]}")

    def received(self) -> bytes:
        """The bytes received from the peer(s), raw."""
        if self.cell.terminal:
            return self.output_file.read_bytes() if self.output_file.exists() else b""
        return self.out.snapshot()

    def wait_received(self, size: int) -> bytes:
        wait_until(lambda: len(self.received()) >= size, f"{size} bytes received")
        return self.received()

    # ------------------------------------------------------------ input

    def ready(self) -> None:
        """Terminal: wait for the input line (typed keys before it would be lost to the terminal's setup)."""
        if self.cell.terminal:
            self.wait_shown(" client" if self.cell.many else " out ")

    def send(self, data: bytes, rng: random.Random) -> None:
        """`data` as input: written to stdin in random chunks, or pasted as hex lines in a terminal."""
        if not self.cell.terminal:
            assert self.proc.stdin is not None
            for piece in chunks(data, rng):
                self.proc.stdin.write(piece)
                self.proc.stdin.flush()
            return
        for piece in chunks(data, rng, 4096):  # pasted (bracketed paste) as a person would, then Enter
            self.type(f"\x1b[200~{piece.hex()}\x1b[201~\r")

    def type(self, keys: str) -> None:
        self.keys.put(keys.encode())

    def end_input(self) -> None:
        if self.cell.terminal:
            self.type("\x04")
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    # ------------------------------------------------------------ the end

    def wait_exit(self) -> int:
        if self.cell.terminal:
            wait_until(self.err.closed.is_set, f"the program exits; screen:\n{self.shown()[-3000:]}")
            self.child.wait()
            code = self.child.exitstatus
            assert code is not None, f"killed by signal {self.child.signalstatus}"
            self.code = code
        else:
            try:
                self.code = self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                pytest.fail(f"no exit within {WAIT} s; stderr:\n{self.shown()}")
        return self.code

    def stop(self) -> int:
        """-k: stop the server as a user does (Ctrl-C in a terminal: 130, SIGTERM on pipes: 143)."""
        if self.cell.terminal:
            self.type("\x03")
        else:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def close(self) -> None:
        if self.cell.terminal:
            self.keys.put(None)
            if self.child.isalive():
                self.child.terminate(force=True)
            self.child.close()
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


class Session:
    """One cell running: the program (`front`) and how the test reaches it as a peer (`peer()`)."""

    def __init__(self, cell: Cell, tls: bool, pki: Pki, tmp: Path, extra: tuple[str, ...]) -> None:
        self.cell, self.tls, self.pki = cell, tls, pki
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        args = ["-v", *extra]
        if cell.listen:
            if tls:
                args += ["--tls", "--cert", pki.server.cert, "--key", pki.server.key]
            self.port = free_port() if cell.terminal else 0
            args = ["-l", *(["-k"] if cell.many else []), *args, "127.0.0.1", str(self.port)]
        else:
            self._listener = socket.create_server(("127.0.0.1", 0))
            self._listener.settimeout(WAIT)
            if tls:
                args += ["--tls", "--cafile", pki.ca]
            args += ["127.0.0.1", str(self._listener.getsockname()[1])]
        self.front = Front(cell, args, tmp)
        if cell.listen and not cell.terminal:
            self.front.wait_shown("listening on ")
            line = next(x for x in self.front.shown().splitlines() if "listening on " in x)
            self.port = int(line.rsplit(":", 1)[1])

    def peer(self) -> socket.socket:
        """The connected peer (TLS handshaken where the cell is TLS); for listen cells, a new client."""
        if self._listener is not None:
            conn, _ = self._listener.accept()
            self._listener.close()
            self._listener = None
            conn.settimeout(WAIT)
            if self.tls:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(self.pki.server.cert, self.pki.server.key)
                conn = context.wrap_socket(conn, server_side=True)
        else:
            conn = self._connect()
        self._sockets.append(conn)
        if self.cell.listen:
            self.front.wait_shown(f"client 127.0.0.1:{conn.getsockname()[1]} connected")
        return conn

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + WAIT
        while True:  # a terminal cell's server announces its port on the screen only; wait for the bind
            try:
                conn = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        conn.settimeout(WAIT)
        if self.tls:
            context = ssl.create_default_context(cafile=self.pki.ca)
            conn = context.wrap_socket(conn, server_hostname="127.0.0.1")
        return conn

    def close(self) -> None:
        self.front.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        if self._listener is not None:
            self._listener.close()


def recv_until_eof(conn: socket.socket) -> bytes:
    data = bytearray()
    while chunk := conn.recv(1 << 16):
        data += chunk
    return bytes(data)


def recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = conn.recv(min(1 << 16, size - len(data)))
        if not chunk:
            raise AssertionError(f"EOF after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


def duplex_peer(conn: socket.socket, outgoing: bytes, want: int | None) -> bytes:
    """Send `outgoing` in random chunks while reading, on one thread (an SSLSocket must not be read and
    written from two threads at once); reads until EOF, or `want` bytes. Bounded by WAIT * 2."""
    rng = random.Random(1)
    received = bytearray()
    sent = 0
    deadline = time.monotonic() + WAIT * 2
    conn.setblocking(False)
    try:
        while want is None or len(received) < want:
            if time.monotonic() > deadline:
                raise AssertionError(f"duplex: {sent} bytes sent, {len(received)} received in {WAIT * 2} s")
            progress = False
            if sent < len(outgoing):
                with contextlib.suppress(BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    sent += conn.send(outgoing[sent : sent + rng.randint(1, 65536)])
                    progress = True
            try:
                chunk = conn.recv(1 << 16)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                chunk = None
            if chunk == b"":
                break
            if chunk:
                received += chunk
                progress = True
            if not progress:
                writing = [conn] if sent < len(outgoing) else []
                select.select([conn], writing, [], 0.05)
        while sent < len(outgoing):  # -k: the rest of the downlink after the uplink was read
            select.select([], [conn], [], 0.05)
            if time.monotonic() > deadline:
                raise AssertionError(f"duplex: only {sent} bytes sent")
            with contextlib.suppress(BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                sent += conn.send(outgoing[sent : sent + 65536])
    finally:
        conn.settimeout(WAIT)
    return bytes(received)


def peer_fin(conn: socket.socket) -> None:
    """The peer ends its side: FIN, or over TLS close_notify (unwrap waits for ours: on a thread)."""
    if isinstance(conn, ssl.SSLSocket):
        threading.Thread(target=_unwrap_quietly, args=(conn,), daemon=True).start()
    else:
        conn.shutdown(socket.SHUT_WR)


def _unwrap_quietly(conn: ssl.SSLSocket) -> None:
    with contextlib.suppress(OSError, ValueError):
        conn.unwrap()


def peer_sees_end(conn: socket.socket) -> None:
    """The peer reads its end of stream; over TLS it answers close_notify as TLS stacks do (asyncio's TLS
    server closes TCP only after that answer), then reads the TCP FIN."""
    assert conn.recv(1) == b""
    if isinstance(conn, ssl.SSLSocket):
        assert conn.unwrap().recv(1) == b""


def peer_reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()  # SO_LINGER 0: RST (an SSLSocket's close sends no close_notify)


def no_end_of_stream_yet(conn: socket.socket) -> bool:
    """True when nothing is waiting on `conn`: no data and no FIN (a non-blocking look, no wait)."""
    conn.setblocking(False)
    try:
        conn.recv(1)
    except (BlockingIOError, ssl.SSLWantReadError):
        return True
    finally:
        conn.settimeout(WAIT)
    return False


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(params=CELLS, ids=[cell.name for cell in CELLS])
def cell(request: pytest.FixtureRequest) -> Cell:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=[False, True], ids=["plain", "tls"])
def tls(request: pytest.FixtureRequest) -> bool:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def start(cell: Cell, tls: bool, pki: Pki, tmp_path: Path) -> Iterator[Callable[..., Session]]:
    """`session = start(*extra_args)`: the cell's program with the cell's transport; ended afterwards."""
    made: list[Session] = []

    def make(*extra: str) -> Session:
        session = Session(cell, tls, pki, tmp_path, extra)
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


Start = Callable[..., Session]


# ---------------------------------------------------------------- the rules


def test_seeded_random_duplex_exchange_arrives_byte_for_byte_both_ways(cell: Cell, start: Start) -> None:
    rng = random.Random(SEED)
    downlink = rng.randbytes(SIZE)
    uplink = rng.randbytes(TERMINAL_UPLINK if cell.terminal else SIZE)
    args = ("-x",) if cell.terminal else ()  # typed input is hex; -o still gets the raw bytes
    session = start(*args)
    conn = session.peer()
    session.front.ready()
    session.front.follow_screen = False  # the flood's screen is not read; -o has its bytes
    got: list[bytes] = []
    # -k: stdin EOF sends no FIN to clients (CONTRACT), so the client reads what it expects
    want = len(uplink) if cell.many else None
    peer = threading.Thread(target=lambda: got.append(duplex_peer(conn, downlink, want)), daemon=True)
    peer.start()
    session.front.send(uplink, random.Random(2))
    session.front.end_input()
    peer.join(WAIT * 2)
    assert got and got[0] == uplink, "the peer did not get the input byte for byte"
    assert session.front.wait_received(SIZE) == downlink
    peer_fin(conn)
    if cell.many:
        assert session.front.stop() == (130 if cell.terminal else 143)
    else:
        assert session.front.wait_exit() == 0, session.front.shown()


def test_stdin_eof_sends_fin_and_the_peer_still_answers(cell: Cell, start: Start) -> None:
    session = start()
    conn = session.peer()
    session.front.ready()
    session.front.send(b"question\n" if not cell.terminal else b"", random.Random(3))
    if cell.terminal:
        session.front.type("question\r")
    session.front.end_input()
    if cell.many:
        # -k: stdin EOF stops input only; the client gets no FIN and may still talk
        assert recv_exactly(conn, 9) == b"question\n"
        conn.sendall(b"answer\n")
        assert session.front.wait_received(7) == b"answer\n"
        assert no_end_of_stream_yet(conn)
        assert session.front.stop() == (130 if cell.terminal else 143)
        return
    assert recv_until_eof(conn) == b"question\n"  # FIN (close_notify) after the input
    conn.sendall(b"answer\n")
    peer_fin(conn)
    assert session.front.wait_exit() == 0, session.front.shown()
    assert session.front.received() == b"answer\n"


def test_peer_fin_ends_the_connection_once_input_is_quiet(cell: Cell, start: Start) -> None:
    session = start()
    conn = session.peer()
    session.front.ready()
    conn.sendall(b"bye\n")
    peer_fin(conn)  # input stays open and quiet
    if cell.many:
        # -k: the server closes that client's side too, and goes on serving others
        if not isinstance(conn, ssl.SSLSocket):
            assert recv_until_eof(conn) == b""
        session.front.wait_shown("left")
        assert session.front.wait_received(4) == b"bye\n"
        other = session.peer()
        other.sendall(b"next\n")
        assert session.front.wait_received(9) == b"bye\nnext\n"
        assert session.front.stop() == (130 if cell.terminal else 143)
        return
    assert session.front.wait_exit() == 0, session.front.shown()
    assert session.front.received() == b"bye\n"
    assert "peer closed its side (FIN)" in session.front.shown()


def test_peer_reset_is_74_or_a_client_that_left(cell: Cell, start: Start) -> None:
    session = start()
    conn = session.peer()
    session.front.ready()
    conn.sendall(b"partial\n")
    session.front.wait_received(8)
    label = f"127.0.0.1:{conn.getsockname()[1]}"
    peer_reset(conn)
    if cell.many:
        session.front.wait_shown(f"client {label} left (reset)")
        other = session.peer()
        other.sendall(b"still here\n")
        assert session.front.wait_received(19) == b"partial\nstill here\n"
        assert session.front.stop() == (130 if cell.terminal else 143)
        return
    assert session.front.wait_exit() == 74
    assert "reset" in session.front.shown()
    assert session.front.received() == b"partial\n"


def test_idle_timeout_ends_the_connection(cell: Cell, start: Start) -> None:
    session = start("-i", str(IDLE))
    conn = session.peer()
    if cell.many:
        # -k: the idle client is closed (it reads its end of stream), the server goes on
        peer_sees_end(conn)
        session.front.wait_shown("left (idle timeout")
        other = session.peer()
        other.sendall(b"next\n")
        assert session.front.wait_received(5) == b"next\n"
        assert session.front.stop() == (130 if cell.terminal else 143)
        return
    assert session.front.wait_exit() == 75
    peer_sees_end(conn)


def test_idle_timeout_has_one_wording(cell: Cell, start: Start) -> None:
    session = start("-i", str(IDLE))
    conn = session.peer()
    if cell.many:
        peer_sees_end(conn)
        session.front.wait_shown("left (idle timeout")
        shown = session.front.shown()
        session.front.stop()
    else:
        session.front.wait_exit()
        shown = session.front.shown()
    # one client: the line that ends the run; many: the wording inside the client's `left (...)` line
    expected = IDLE_WORDING if cell.terminal or cell.many else f"tcpcli: {IDLE_WORDING}"
    assert expected in shown  # the line that says why the connection ended
