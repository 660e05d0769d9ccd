"""-U in a terminal: the one-peer session and the keep-open server over Unix sockets, in a real pty."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

from tests.fronts.terminal.conftest import WAIT, Terminal, read_until

Start = Callable[..., Terminal]


def test_a_unix_session_shows_the_peer_safely_and_sends_typed_lines(terminal: Start, tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    listener.settimeout(WAIT)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
    thread.start()
    term = terminal("-U", str(path))
    thread.join(WAIT)
    conn = accepted[0]
    conn.settimeout(WAIT)
    try:
        term.wait_for(f"unix:{path}")  # the session names the socket (opening line and toolbar)
        conn.sendall(b"ready \x1b[2J>\n")
        term.wait_for(r"ready \x1b[2J>")
        term.enter("status")
        assert read_until(conn, b"\n") == b"status\n"
        conn.close()
        assert term.wait_exit() == 0
    finally:
        listener.close()


def test_keep_open_on_an_abstract_socket_labels_its_clients(terminal: Start) -> None:
    name = f"tcpcli-term-{threading.get_ident()}"
    term = terminal("-l", "-k", "-U", f"@{name}")
    term.wait_for("| 0 clients")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(WAIT)
        client.connect(b"\0" + name.encode())
        term.wait_for(f"client @{name}#1 connected")
        client.sendall(b"hello\n")
        term.wait_for(f"[@{name}#1] hello")
    term.ctrl("c")
    assert term.wait_exit() == 130


def test_a_unix_session_keeps_its_own_history_file() -> None:
    from tcpcli.fronts.terminal.front import history_service
    from tcpcli.settings import ConnectSettings, Mode, SessionSettings, Settings, ViewSettings

    def service(path: str) -> str | None:
        connect = ConnectSettings(host="", port=0, unix=path)
        return history_service(Settings(Mode.CONNECT, SessionSettings(), ViewSettings(), connect=connect))

    assert service("/run/app.sock") == "unix:/run/app.sock"
    assert service("@name") == "unix:@name"
    assert service("/run/app.sock") != service("/run/other.sock")
