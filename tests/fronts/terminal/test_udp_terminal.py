"""-u in a terminal (a real pty): each typed line is one datagram, each datagram one record with its size;
and --reconnect in a terminal: a new session when the peer closes, until Ctrl-C."""

from __future__ import annotations

import socket
from collections.abc import Callable

from tests.fronts.terminal.conftest import WAIT, LivePeer, Terminal

Start = Callable[..., Terminal]


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(WAIT)
    return sock


def test_typed_lines_are_datagrams_and_each_reply_is_a_record_with_its_size(terminal: Start) -> None:
    with udp_socket() as peer:
        port = peer.getsockname()[1]
        term = terminal("-u", "127.0.0.1", port)
        term.wait_for("connected to 127.0.0.1")
        term.enter("first")
        term.enter("second")
        one, source = peer.recvfrom(100)
        two, _ = peer.recvfrom(100)
        assert (one, two) == (b"first\n", b"second\n")
        peer.sendto(b"\x1b[2Jhostile\x07", source)
        term.wait_for(f"< 127.0.0.1:{port} 12 bytes")
        term.wait_for("hostile")
        assert "\\x1b" in term.text() or "\\e" in term.text() or "^[" in term.text()  # shown, not obeyed
        term.ctrl("c")
        assert term.wait_exit() == 130


def test_icmp_port_unreachable_ends_the_session_with_69(terminal: Start) -> None:
    with udp_socket() as closed:
        port = closed.getsockname()[1]
    term = terminal("-u", "127.0.0.1", port)
    term.wait_for("connected to 127.0.0.1")
    term.enter("anyone?")
    assert term.wait_exit() == 69


def test_listen_in_a_terminal_shows_each_source_and_answers_the_last_sender(terminal: Start) -> None:
    with udp_socket() as probe:
        port = probe.getsockname()[1]
    term = terminal("-u", "-l", "127.0.0.1", port)
    term.wait_for("replies go to the last sender")
    with udp_socket() as a, udp_socket() as b:
        a.sendto(b"from a\n", ("127.0.0.1", port))
        term.wait_for(f"< 127.0.0.1:{a.getsockname()[1]} 7 bytes")
        b.sendto(b"from b\n", ("127.0.0.1", port))
        term.wait_for(f"< 127.0.0.1:{b.getsockname()[1]} 7 bytes")
        term.enter("hello b")
        assert b.recv(100) == b"hello b\n"
    term.ctrl("c")
    assert term.wait_exit() == 130


def test_reconnect_in_a_terminal_starts_a_new_session_when_the_peer_closes(
    terminal: Start, live_peer: LivePeer
) -> None:
    term = terminal("--reconnect", "0", "--reconnect-delay", "0.1", "127.0.0.1", live_peer.port)
    first = live_peer.accept()
    term.wait_for("connected to 127.0.0.1")
    first.close()
    term.wait_for(f"reconnecting to 127.0.0.1:{live_peer.port} in 0.1 s (attempt 2)")
    second = live_peer.accept()
    term.enter("again")
    second.settimeout(WAIT)
    assert second.recv(100) == b"again\n"
    term.ctrl("c")
    assert term.wait_exit() == 130
    second.close()
