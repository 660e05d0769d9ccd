"""Issue 11, items 3-11 and --telnet: the terminal faults as a person saw them, in a real pty."""

from __future__ import annotations

import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import PeerServer
from tests.fronts.terminal.conftest import LivePeer, Terminal, read_until

Start = Callable[..., Terminal]
STAMP = re.compile(r"\[\d\d:\d\d:\d\d\.\d{6}\]")


def connect(
    terminal: Start, live_peer: LivePeer, *flags: object, **size: int
) -> tuple[Terminal, socket.socket]:
    term = terminal(*flags, "127.0.0.1", live_peer.port, **size)
    conn = live_peer.accept()
    term.wait_for("connected to 127.0.0.1")
    return term, conn


def toolbar_row(term: Terminal) -> str:
    return [line.rstrip() for line in term.screen.display if line.strip()][-1]


# ---------------------------------------------------------------- item 3: reading starts at connect


def test_each_chunk_sent_while_the_screen_loads_keeps_its_own_timestamp(
    peer: Callable[..., PeerServer], terminal: Start
) -> None:
    """4 bytes at 0, 0.1, 0.2 and 0.3 s after the connect: four hex lines, four different timestamps."""
    sent = threading.Event()

    def four_chunks(conn: socket.socket) -> None:
        for index in range(4):
            conn.sendall(bytes([0x41 + index]) * 4)
            time.sleep(0.1)
        sent.set()
        conn.recv(1)  # until tcpcli goes

    server = peer(four_chunks)
    term = terminal("-x", "-t", "127.0.0.1", server.port)
    term.wait_for("44 44 44 44")
    stamps = STAMP.findall(term.text())
    assert len(stamps) == 4 and len(set(stamps)) == 4, term.dump()


# ---------------------------------------------------------------- item 4: the echo is never peer data


def test_in_binary_mode_without_colour_the_echo_of_a_reply_to_a_prompt_is_on_its_own_line(
    terminal: Start, live_peer: LivePeer, term_env: dict[str, str]
) -> None:
    term = terminal("-b", "127.0.0.1", live_peer.port, env={**term_env, "NO_COLOR": "1"})
    conn = live_peer.accept()
    conn.sendall(b"\x00\x01login: ")
    term.wait_for(lambda t: "login:" in t.prompt_row())
    term.enter("root")
    assert read_until(conn, b"root") == b"root"
    term.wait_for("> root")
    conn.sendall(b"login: root\n")  # the same words, received
    term.wait_for(lambda t: "login: root" in t.text())
    lines = term.text().splitlines()
    assert lines.count("> root") == 1 and lines.count("login: root") == 1
    assert lines[lines.index("> root") - 1] == r"\x00\x01login:"


# ---------------------------------------------------------------- item 6: Ctrl-Z suspends


def test_ctrl_z_suspends_and_fg_resumes_with_the_input_line_redrawn(
    terminal: Start, live_peer: LivePeer, term_env: dict[str, str]
) -> None:
    shell = Terminal(
        ["--norc", "--noprofile", "-i"], {**term_env, "PS1": "SHELL$ "}, program=["bash"]
    )  # a job-control shell: a pty's own child would be an orphaned group, which SIGTSTP does not stop
    try:
        shell.wait_for("SHELL$")
        shell.enter(f"{sys.executable} -m tcpcli 127.0.0.1 {live_peer.port}")
        conn = live_peer.accept()
        shell.wait_for("connected to 127.0.0.1")
        shell.type("half typed")
        shell.wait_for(lambda t: t.prompt_row() == "> half typed")
        shell.ctrl("z")
        shell.wait_for("Stopped")
        assert "^Z" not in shell.text()
        conn.sendall(b"while you were away\n")
        shell.enter("fg")
        shell.wait_for("while you were away")
        shell.wait_for(lambda t: t.prompt_row() == "> half typed")  # the line being typed survived
        shell.enter(" and sent")
        assert read_until(conn, b"\n") == b"half typed and sent\n"
        conn.close()
        shell.wait_for(lambda t: "closed: sent 20 bytes" in t.text())
        shell.wait_for("SHELL$")
    finally:
        shell.close()


# ---------------------------------------------------------------- item 7: 80 columns and below


def test_at_80_columns_nothing_breaks_mid_word_and_the_toolbar_keeps_its_keys(
    terminal: Start, live_peer: LivePeer
) -> None:
    term, _conn = connect(terminal, live_peer, cols=80)
    term.wait_for(lambda t: "| open" in toolbar_row(t))
    toolbar = toolbar_row(term)
    assert "^D FIN" in toolbar and "^C quit" in toolbar and f"127.0.0.1:{live_peer.port}" in toolbar
    assert "-- Enter: send  Ctrl-D: FIN  Ctrl-C: quit  Ctrl-O: secret line  Ctrl-Z: suspend" in term.text()


def test_narrower_than_80_columns_events_wrap_at_words_and_quit_stays_in_view(
    terminal: Start, live_peer: LivePeer
) -> None:
    term, _conn = connect(terminal, live_peer, cols=50)
    term.wait_for(lambda t: "^C quit" in toolbar_row(t))
    rows = term.text().splitlines()
    hint_rows = rows[1:3]
    assert " ".join(row.strip() for row in hint_rows).split() == (
        [
            "--",
            "Enter:",
            "send",
            "Ctrl-D:",
            "FIN",
            "Ctrl-C:",
            "quit",
            "Ctrl-O:",
            "secret",
            "line",
            "Ctrl-Z:",
            "suspend",
        ]
    )  # no word cut in two by the terminal's wrap
    assert all(len(row) <= 50 for row in rows)


# ---------------------------------------------------------------- item 8: a 200-line paste


def test_a_200_line_paste_stays_within_the_screen_and_leaves_only_its_echo(
    terminal: Start, live_peer: LivePeer
) -> None:
    term, conn = connect(terminal, live_peer, rows=30)
    block = "".join(f"pasted line {index:03d}\n" for index in range(200))
    term.type("\x1b[200~" + block.rstrip("\n") + "\x1b[201~")
    term.wait_for(lambda t: "200 lines" in toolbar_row(t))
    rows = [line.rstrip() for line in term.screen.display]
    assert rows[0].startswith("-- connected to"), term.dump()  # nothing was pushed off the top
    assert sum("pasted line" in row for row in rows) <= 15  # the input area is at most half the screen
    term.enter()
    assert read_until(conn, b"pasted line 199\n").count(b"\n") == 200
    term.wait_for(lambda t: "> pasted line 199" in t.text() and "lines" not in toolbar_row(t))
    everything = term.scrollback() + term.text().splitlines()
    assert [line for line in everything if "pasted line 007" in line] == ["> pasted line 007"]
    assert sum("^D FIN" in line or "Ctrl-D: FIN  Ctrl-C" in line for line in everything) == 1  # one toolbar


# ---------------------------------------------------------------- item 9: TERM=dumb


def test_a_dumb_terminal_gets_plain_lines_with_peer_data_still_made_safe(
    terminal: Start, live_peer: LivePeer, term_env: dict[str, str]
) -> None:
    term = terminal("127.0.0.1", live_peer.port, env={**term_env, "TERM": "dumb"})
    conn = live_peer.accept()
    term.wait_for("plain line mode")
    conn.sendall(b"hello \x1b[2J\x1b]0;title\x07\nPING")
    term.wait_for("PING")
    term.enter("PONG")
    assert read_until(conn, b"\n") == b"PONG\n"
    term.ctrl("d")
    assert read_until(conn, b"x") == b""  # FIN
    conn.sendall(b"bye\n")
    conn.close()
    assert term.wait_exit() == 0
    assert b"\x1b" not in bytes(term.raw)  # no cursor moves, no colour: and the peer's escapes made visible
    text = term.text()
    assert r"hello \x1b[2J\x1b]0;title\x07" in text
    assert "-- peer closed its side (FIN)" in text and "-- closed: sent 5 bytes, received 29 bytes" in text


# ---------------------------------------------------------------- item 10: Ctrl-C says how it ended


def test_ctrl_c_ends_with_the_closing_line_like_every_other_ending(
    terminal: Start, live_peer: LivePeer
) -> None:
    term, conn = connect(terminal, live_peer)
    term.enter("hi")
    read_until(conn, b"\n")
    term.ctrl("c")
    assert term.wait_exit() == 130
    text = term.text()
    assert "-- interrupted (Ctrl-C)" in text and re.search(
        r"-- closed: sent 3 bytes, received 0 bytes in", text
    )


# ---------------------------------------------------------------- item 11: secrets and per-service history


def test_a_line_typed_at_a_password_prompt_is_neither_echoed_nor_saved(
    terminal: Start, live_peer: LivePeer, tmp_path: Path
) -> None:
    term, conn = connect(terminal, live_peer)
    conn.sendall(b"login: ")
    term.wait_for(lambda t: t.prompt_row() == "login:")
    term.enter("root")
    read_until(conn, b"\n")
    conn.sendall(b"Password: ")
    term.wait_for(lambda t: "SECRET" in toolbar_row(t))
    term.type("hunter2")
    term.wait_for(lambda t: t.prompt_row() == "Password: *******")
    term.enter()
    assert read_until(conn, b"\n") == b"hunter2\n"
    term.wait_for("> (secret line sent: not shown, not saved)")
    term.wait_for(lambda t: "SECRET" not in toolbar_row(t))
    term.ctrl("o")  # by hand, for a prompt the detection does not know
    term.wait_for(lambda t: "SECRET" in toolbar_row(t))
    term.enter("s3cret")
    assert read_until(conn, b"\n") == b"s3cret\n"
    term.enter("visible")
    read_until(conn, b"\n")
    term.wait_for("> visible")
    term.ctrl("c")
    assert term.wait_exit() == 130
    assert "hunter2" not in term.text() and "s3cret" not in term.text()
    state = tmp_path / "state" / "tcpcli"
    saved = (state / "history.d" / f"127.0.0.1:{live_peer.port}").read_text()
    assert "root" in saved and "visible" in saved
    assert "hunter2" not in saved and "s3cret" not in saved


def test_up_recalls_this_services_lines_before_the_shared_ones(
    terminal: Start, live_peer: LivePeer, peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    state = tmp_path / "state" / "tcpcli"
    state.mkdir(parents=True)
    (state / "history").write_text("\n+chat line from before\n")
    other = LivePeer(peer)
    try:
        term, conn = connect(terminal, other)
        term.enter("PING")
        read_until(conn, b"\n")
        term.ctrl("c")
        term.wait_exit()
    finally:
        other.release()
    term, conn = connect(terminal, live_peer)
    term.type("\x1b[A")  # Up: not the PING of the other service, the shared line
    term.wait_for(lambda t: t.prompt_row() == "> chat line from before")


# ---------------------------------------------------------------- --telnet


def test_telnet_negotiation_is_refused_and_hidden_in_the_interactive_session(
    peer: Callable[..., PeerServer], terminal: Start
) -> None:
    replies: list[bytes] = []

    def telnetd(conn: socket.socket) -> None:
        conn.sendall(b"\xff\xfd\x01\xff\xfb\x03Welcome\r\n\xff\xff marks one 0xff\r\nlogin: ")
        replies.append(read_until(conn, b"\xfe\x03"))  # IAC WONT ECHO, IAC DONT SGA
        replies.append(read_until(conn, b"\n"))
        conn.sendall(b"bye\r\n")

    server = peer(telnetd)
    term = terminal("--telnet", "127.0.0.1", server.port)
    term.wait_for(lambda t: t.prompt_row() == "login:")
    assert r"\xff marks one 0xff" in term.text() and "\\xfd" not in term.text()
    term.enter("guest")
    assert term.wait_exit() == 0
    assert replies == [b"\xff\xfc\x01\xff\xfe\x03", b"guest\n"]


def test_a_dumb_terminal_session_keeps_the_idle_timeout(
    terminal: Start, live_peer: LivePeer, term_env: dict[str, str]
) -> None:
    term = terminal("-i", "0.5", "127.0.0.1", live_peer.port, env={**term_env, "TERM": "dumb"})
    live_peer.accept()
    assert term.wait_exit() == 75
    text = term.text()
    assert "-- closed: sent 0 bytes, received 0 bytes" in text
    assert "tcpcli: idle timeout: no traffic for 0.5 s (-i 0.5)" in text


def test_ctrl_c_in_a_dumb_terminal_also_ends_with_the_closing_line(
    terminal: Start, live_peer: LivePeer, term_env: dict[str, str]
) -> None:
    term = terminal("127.0.0.1", live_peer.port, env={**term_env, "TERM": "dumb"})
    conn = live_peer.accept()
    term.wait_for("plain line mode")
    conn.sendall(b"hello\n")
    term.wait_for("hello")
    term.ctrl("c")
    assert term.wait_exit() == 130
    assert "-- interrupted (Ctrl-C)\n-- closed: sent 0 bytes, received 6 bytes" in term.text()
