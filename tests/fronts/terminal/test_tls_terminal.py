"""Interactive mode over TLS, as a person sees it: typed lines go out encrypted, Ctrl-D sends close_notify."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import pytest

from tests.conftest import PeerServer
from tests.fronts.terminal.conftest import Terminal
from tests.tls_helpers import Pki, make_pki, server_context, tls_handler


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_typed_lines_over_tls_and_ctrl_d_sends_close_notify(
    pki: Pki, peer: Callable[..., PeerServer], terminal: Callable[..., Terminal]
) -> None:
    def shout_back_then_answer_the_close(tls: ssl.SSLSocket) -> None:
        received = b""
        while data := tls.recv(4096):  # until close_notify
            received += data
            if data.endswith(b"\n"):
                tls.sendall(data.upper())
        tls.sendall(b"close_notify seen after %d bytes\n" % len(received))
        tls.unwrap()

    server = peer(tls_handler(server_context(pki.server), shout_back_then_answer_the_close))
    term = terminal("--tls", "--cafile", pki.ca, "127.0.0.1", server.port)
    term.wait_for("connected to 127.0.0.1")
    term.enter("hello over tls")
    term.wait_for("HELLO OVER TLS")
    term.ctrl("d")
    term.wait_for("close_notify seen after 15 bytes")
    assert term.wait_exit() == 0


def _hold_open(tls: ssl.SSLSocket) -> None:
    tls.recv(1)  # until tcpcli goes


def test_a_tls_session_says_so_in_the_connected_line_and_the_toolbar(
    pki: Pki, peer: Callable[..., PeerServer], terminal: Callable[..., Terminal]
) -> None:
    """Issue 11 item 5: only -v used to tell a TLS session from a plain one."""
    server = peer(tls_handler(server_context(pki.server), _hold_open))
    term = terminal("--tls", "--cafile", pki.ca, "127.0.0.1", server.port)
    term.wait_for(f"connected to 127.0.0.1:{server.port} over TLSv1.3 (certificate verified)")
    term.wait_for(lambda t: "| TLSv1.3 |" in t.text())
    assert "unverified" not in term.text()


def test_insecure_tls_is_marked_unverified_in_a_warning_colour(
    pki: Pki, peer: Callable[..., PeerServer], terminal: Callable[..., Terminal]
) -> None:
    server = peer(tls_handler(server_context(pki.server), _hold_open))
    term = terminal("--tls", "--insecure", "127.0.0.1", server.port)
    term.wait_for("over TLSv1.3 (certificate NOT verified: --insecure)")
    term.wait_for(lambda t: "| TLSv1.3 unverified |" in t.text())
    row = next(y for y, line in enumerate(term.screen.display) if "TLSv1.3 unverified" in line)
    x = term.screen.display[row].index("unverified")
    assert term.screen.buffer[row][x].fg == "red" or term.screen.buffer[row][x].bg == "red"


def test_the_tls_servers_toolbar_says_tls(pki: Pki, terminal: Callable[..., Terminal]) -> None:
    term = terminal("-l", "-k", "--tls", "--cert", pki.server.cert, "--key", pki.server.key, "127.0.0.1", 0)
    term.wait_for("| 0 clients")
    assert " | TLS | 0 clients |" in term.text()
