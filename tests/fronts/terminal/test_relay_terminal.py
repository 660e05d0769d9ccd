"""The relay's transcript in a terminal: the real program in a pty, a real client and upstream on loopback."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import free_port
from tests.fronts.terminal.conftest import WAIT, LivePeer, Terminal, read_until

Start = Callable[..., Terminal]


@pytest.fixture
def client_of() -> Iterator[Callable[[int], socket.socket]]:
    opened: list[socket.socket] = []

    def connect(port: int) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        sock.settimeout(WAIT)
        opened.append(sock)
        return sock

    yield connect
    for sock in opened:
        sock.close()


def start_relay(
    terminal: Start, upstream: LivePeer, *flags: object, **options: object
) -> tuple[Terminal, int]:
    port = free_port()
    term = terminal("-l", "127.0.0.1", port, "--to", f"127.0.0.1:{upstream.port}", "-k", *flags, **options)
    return term, port


def test_who_said_what_shows_safely_and_a_typed_line_goes_upstream(
    terminal: Start, live_peer: LivePeer, client_of: Callable[[int], socket.socket]
) -> None:
    term, port = start_relay(terminal, live_peer)
    term.wait_for(f"127.0.0.1:{port} -> 127.0.0.1:{live_peer.port}")  # the toolbar names the relay
    term.wait_for("| 0 clients")
    client = client_of(port)
    upstream = live_peer.accept()
    term.wait_for(f"#1 open 127.0.0.1:{client.getsockname()[1]} -> 127.0.0.1:{live_peer.port}")
    term.wait_for("| 1 client")
    client.sendall(b"PING\r\n[bold]x\x1b]0;pwned\x07\x1b[2J end\n")
    assert read_until(upstream, b"end\n") == b"PING\r\n[bold]x\x1b]0;pwned\x07\x1b[2J end\n"
    term.wait_for(r"#1 > PING\r\n")
    term.wait_for(r"#1 > [bold]x\x1b]0;pwned\x07\x1b[2J end\n")
    assert "#1 > PING" in term.text() and term.screen.title == ""  # no clear-screen, no title change
    upstream.sendall(b"+PONG\r\n")
    assert read_until(client, b"\n") == b"+PONG\r\n"
    term.wait_for(r"#1 < +PONG\r\n")
    term.enter("typed")
    assert read_until(upstream, b"\n") == b"typed\n"
    term.wait_for("> typed")
    client.shutdown(socket.SHUT_WR)
    term.wait_for("#1 > FIN")
    upstream.close()
    term.wait_for("#1 closed: ")
    term.wait_for("| 0 clients")
    term.ctrl("c")
    assert term.wait_exit() == 130


def test_a_dumb_terminal_gets_the_same_lines_plainly(
    terminal: Start,
    live_peer: LivePeer,
    client_of: Callable[[int], socket.socket],
    term_env: dict[str, str],
) -> None:
    term, port = start_relay(terminal, live_peer, env={**term_env, "TERM": "dumb"})
    term.wait_for("Enter sends a line to the newest connection")
    client = client_of(port)
    upstream = live_peer.accept()
    term.wait_for("#1 open ")
    client.sendall(b"\x1b[31mred\n")
    term.wait_for(r"#1 > \x1b[31mred\n")
    term.enter("typed")
    assert read_until(upstream, b"typed\n") == b"\x1b[31mred\ntyped\n"
    assert "\x1b[31m" not in term.raw.decode(
        "latin-1"
    )  # no colour on a dumb terminal, and the peer's is shown
    term.ctrl("c")
    assert term.wait_exit() == 130


def test_faults_show_in_the_terminal_the_open_mark_and_the_cut(
    terminal: Start, live_peer: LivePeer, client_of: Callable[[int], socket.socket]
) -> None:
    term, port = start_relay(terminal, live_peer, "--fault-rate", "0", "--cut-after", "down:3")
    term.wait_for("| 0 clients")
    client = client_of(port)
    upstream = live_peer.accept()
    term.wait_for("(not faulty)")  # drawn per connection: this one is relayed untouched
    upstream.sendall(b"hello\n")
    assert read_until(client, b"\n") == b"hello\n"
    term.ctrl("c")
    assert term.wait_exit() == 130
    term, port = start_relay(terminal, live_peer, "--cut-after", "down:3")
    term.wait_for("| 0 clients")
    client = client_of(port)
    upstream = live_peer.accept()
    upstream.sendall(b"hello\n")
    term.wait_for("#1 CUT")
    assert client.recv(100) == b"hel"
    term.ctrl("c")
    assert term.wait_exit() == 130
