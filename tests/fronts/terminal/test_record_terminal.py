"""--record in a terminal session: typed lines and the peer's answers, both FINs, in the recording."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

from tests.fronts.terminal.conftest import LivePeer, Terminal, read_until

Start = Callable[..., Terminal]


def test_a_terminal_session_is_recorded(terminal: Start, live_peer: LivePeer, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    term = terminal("--record", str(path), "127.0.0.1", live_peer.port)
    conn = live_peer.accept()
    term.wait_for("connected to 127.0.0.1")
    term.enter("PING")
    assert read_until(conn, b"\n") == b"PING\n"
    conn.sendall(b"+PONG\r\n")
    term.wait_for("+PONG")
    conn.shutdown(socket.SHUT_WR)
    term.ctrl("d")
    assert term.wait_exit() == 0
    events = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    data = [(e["dir"], e.get("text")) for e in events if "b64" in e]
    assert data == [(">", "PING\n"), ("<", "+PONG\r\n")]
    assert events[0]["ev"] == "open" and events[-1]["ev"] == "close"
    assert ("fin", "<") in [(e.get("ev"), e.get("dir")) for e in events]
