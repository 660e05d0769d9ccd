"""The one-peer engine (engine/pair.py) in-process: real threads, real socketpairs and pipes, a real receiver.

Both ways to meet a front share one engine: fd to fd (FdPair, stream mode) and through the seam (Channel,
the terminal's connection). Every wait is bounded by WAIT.
"""

from __future__ import annotations

import io
import os
import socket
import threading
from pathlib import Path

from tcpcli.engine.pair import Channel, FdPair
from tcpcli.engine.taps import OutputFile
from tcpcli.errors import TcpcliError
from tcpcli.report import Reporter
from tcpcli.settings import SessionSettings, ViewSettings
from tests.engine.test_engine_imports import loaded_modules

WAIT = 10.0  # seconds: the bound of every wait below
IAC, DO, WONT = 255, 253, 252


class Collected:
    """A Receiver that keeps what it is handed (the terminal's Inbox without the screen)."""

    def __init__(self) -> None:
        self.chunks: list[tuple[bytes, str | None]] = []
        self.error: TcpcliError | None = None
        self.closed = threading.Event()

    def put(self, data: bytes, stamp: str | None = None) -> None:
        self.chunks.append((data, stamp))

    def close(self, error: TcpcliError | None = None) -> None:
        self.error = error
        self.closed.set()

    @property
    def data(self) -> bytes:
        return b"".join(chunk for chunk, _stamp in self.chunks)


def read_until_eof(sock: socket.socket) -> bytes:
    sock.settimeout(WAIT)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_channel_hands_received_chunks_to_the_receiver_and_closes_it_at_the_fin() -> None:
    ours, theirs = socket.socketpair()
    receiver = Collected()
    channel = Channel(ours, receiver, "test", timestamps=True)
    channel.start()
    theirs.sendall(b"hello ")
    theirs.sendall(b"world")
    theirs.shutdown(socket.SHUT_WR)
    assert receiver.closed.wait(WAIT)
    assert receiver.error is None
    assert receiver.data == b"hello world"
    assert all(stamp is not None for _data, stamp in receiver.chunks)  # -t: each read stamped
    assert channel.received == 11
    channel.close()
    theirs.close()


def test_channel_sends_typed_lines_in_order_then_the_fin_on_half_close() -> None:
    ours, theirs = socket.socketpair()
    channel = Channel(ours, Collected(), "test")
    channel.start()
    for number in range(100):
        channel.send(f"line {number}\n".encode())
    channel.send(b"")  # nothing typed: nothing sent
    channel.half_close()
    expected = b"".join(f"line {number}\n".encode() for number in range(100))
    assert read_until_eof(theirs) == expected  # EOF: the FIN came after every line
    assert channel.sent == len(expected)
    channel.close()
    theirs.close()


def test_channel_reports_a_reset_to_the_receiver_naming_the_peer() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname(), timeout=WAIT)
    server, _ = listener.accept()
    receiver = Collected()
    client.settimeout(None)
    channel = Channel(client, receiver, "127.0.0.1:9")
    channel.start()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    server.close()  # linger 0: RST
    assert receiver.closed.wait(WAIT)
    assert receiver.error is not None
    assert str(receiver.error) == "receiving from 127.0.0.1:9: connection reset by peer"
    channel.close()
    listener.close()


def test_channel_telnet_keeps_negotiation_out_of_o_and_refuses_it(tmp_path: Path) -> None:
    """--telnet in the terminal: -o gets the data without the negotiation, as in stream mode (options.md).

    The interactive channel used to append the wire's bytes to -o, negotiation included.
    """
    output = tmp_path / "out.bin"
    ours, theirs = socket.socketpair()
    receiver = Collected()
    channel = Channel(ours, receiver, "test", output=OutputFile(str(output)), telnet=True)
    channel.start()
    theirs.sendall(bytes([IAC, DO, 1]) + b"login: ")
    theirs.settimeout(WAIT)
    assert theirs.recv(3) == bytes([IAC, WONT, 1])  # the refusal, sent from the receiving thread
    theirs.shutdown(socket.SHUT_WR)
    assert receiver.closed.wait(WAIT)
    channel.close()
    theirs.close()
    assert receiver.data == b"login: "
    assert output.read_bytes() == b"login: "


def test_channel_passes_a_send_failure_to_whoever_listens_later() -> None:
    ours, theirs = socket.socketpair()
    channel = Channel(ours, Collected(), "test")
    channel.start()
    theirs.close()
    failed = threading.Event()
    errors: list[TcpcliError] = []
    for _ in range(200):  # the first sends may still land in the buffer: keep sending until one fails
        channel.send(b"x" * 65536)
    channel.on_send_error(lambda error: (errors.append(error), failed.set()))
    assert failed.wait(WAIT)
    assert str(errors[0]).startswith("sending to test: ")
    channel.close()


class Upper:
    """A front's Renderer: the engine writes what feed() returns and passes finish()'s warning on."""

    def feed(self, data: bytes, timestamp: str | None) -> bytes:
        return data.upper()

    def finish(self) -> str | None:
        return "done"


def test_fd_pair_writes_through_the_renderer_the_front_lends_it() -> None:
    ours, theirs = socket.socketpair()
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    os.close(stdin_w)  # stdin at EOF from the start
    stderr = io.StringIO()
    reporter = Reporter(verbose=True, color=False, stream=stderr)
    pair = FdPair(
        ours, SessionSettings(), ViewSettings(), reporter, stdin_r, stdout_w, peer="test", renderer=Upper()
    )
    theirs.sendall(b"abc")
    theirs.shutdown(socket.SHUT_WR)
    code: list[int] = []
    runner = threading.Thread(target=lambda: code.append(pair.run()), daemon=True)
    runner.start()
    runner.join(WAIT)
    assert code == [0]
    os.close(stdout_w)
    with os.fdopen(stdout_r, "rb") as stdout:
        assert stdout.read() == b"ABC"
    os.close(stdin_r)
    assert "copy" in stderr.getvalue()  # a renderer needs the bytes: the copy path, not splice
    assert "tcpcli: done" in stderr.getvalue()
    theirs.close()


def test_the_one_peer_engine_loads_no_front_and_no_asyncio() -> None:
    """Stream mode starts fast and the engine knows no front: importing it pulls in neither."""
    forbidden = ("rich", "prompt_toolkit", "asyncio", "tcpcli.fronts", "tcpcli.modes")
    assert loaded_modules("tcpcli.engine.pair", forbidden) == []
