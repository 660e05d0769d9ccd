"""The interactive session as a person sees it: the real program in a pty, real peers on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import PeerServer
from tests.fronts.terminal.conftest import LivePeer, Terminal, read_until

Start = Callable[..., Terminal]


def connect(terminal: Start, live_peer: LivePeer, *flags: object) -> tuple[Terminal, socket.socket]:
    term = terminal(*flags, "127.0.0.1", live_peer.port)
    conn = live_peer.accept()
    term.wait_for("connected to 127.0.0.1")
    return term, conn


def test_typed_line_is_sent_with_lf_and_echoed(terminal: Start, live_peer: LivePeer) -> None:
    term, conn = connect(terminal, live_peer)
    term.enter("hello there")
    assert read_until(conn, b"\n") == b"hello there\n"
    term.wait_for("> hello there")
    conn.sendall(b"HELLO BACK\n")
    term.wait_for("HELLO BACK")
    term.wait_for(lambda t: "out 12 B" in t.text())
    lines = term.text().splitlines()
    assert lines[2:4] == ["> hello there", "HELLO BACK"]  # echoed once, in order, nothing in between


def test_prompt_without_newline_is_visible_at_once_and_the_echo_starts_its_own_line(
    terminal: Start, live_peer: LivePeer
) -> None:
    term, conn = connect(terminal, live_peer)
    conn.sendall(b"Welcome\nlogin: ")
    term.wait_for(lambda t: t.prompt_row() == "login:")
    term.type("root")
    term.wait_for(lambda t: t.prompt_row() == "login: root")  # typed after the prompt, as on a terminal
    term.enter()
    assert read_until(conn, b"\n") == b"root\n"
    term.wait_for("> root")
    lines = term.text().splitlines()
    assert lines[lines.index("> root") - 1] == "login:"  # the echo never continues the peer's line


def test_hostile_escapes_are_shown_not_obeyed(terminal: Start, live_peer: LivePeer) -> None:
    term, conn = connect(terminal, live_peer)
    conn.sendall(b"first line survives\n")
    term.wait_for("first line survives")
    conn.sendall(b"\x1b]0;pwned\x07\x1b[2J\x1b[H[bold red]x[/] \xc2\x9b31m end\n")
    term.wait_for(" end")
    screen = term.text()
    assert "first line survives" in screen  # the clear-screen did not happen
    assert r"\x1b]0;pwned\x07\x1b[2J\x1b[H[bold red]x[/]" in screen  # shown, brackets literal
    assert r"\u009b31m end" in screen  # a C1 CSI is made visible too
    assert term.screen.title == ""  # the window title was not changed
    row = next(y for y, line in enumerate(term.screen.display) if "[bold red]" in line)
    assert {char.fg for char in term.screen.buffer[row].values()} <= {
        "default",
        "magenta",
    }  # no markup took effect


def test_utf8_split_across_sends_and_invalid_bytes(terminal: Start, live_peer: LivePeer) -> None:
    term, conn = connect(terminal, live_peer)
    conn.sendall(b"caf\xc3")
    time.sleep(0.15)
    conn.sendall(b"\xa9 cr\xc3\xa8me\n")
    term.wait_for("café crème")
    conn.sendall(b"bad \xff\xfe bytes\n")
    term.wait_for(r"bad \xff\xfe bytes")


def test_peer_close_ends_the_session_with_status_0_and_no_key_press(
    terminal: Start, live_peer: LivePeer
) -> None:
    term, conn = connect(terminal, live_peer)
    conn.sendall(b"bye now\n")
    conn.close()
    assert term.wait_exit() == 0
    assert "bye now" in term.text()
    assert "peer closed its side (FIN)" in term.text()


def test_ctrl_d_sends_fin_and_a_late_reply_still_shows(terminal: Start, live_peer: LivePeer) -> None:
    term, conn = connect(terminal, live_peer)
    term.enter("QUIT")
    term.wait_for("> QUIT")
    term.ctrl("d")
    assert read_until(conn, b"\n") == b"QUIT\n"
    assert conn.recv(100) == b""  # the FIN
    term.wait_for("sent FIN, still reading")
    term.wait_for(lambda t: "half-closed" in t.text())
    time.sleep(0.3)
    conn.sendall(b"late reply\n")
    term.wait_for("late reply")
    conn.close()
    assert term.wait_exit() == 0


def test_ctrl_c_exits_130(terminal: Start, live_peer: LivePeer) -> None:
    term, _conn = connect(terminal, live_peer)
    term.type("half typed")
    term.wait_for("half typed")
    term.ctrl("c")
    assert term.wait_exit() == 130


def test_history_is_recalled_in_a_second_run(terminal: Start, live_peer: LivePeer, tmp_path: Path) -> None:
    term, conn = connect(terminal, live_peer)
    term.enter("REMEMBER ME 42")
    read_until(conn, b"\n")
    term.ctrl("c")
    assert term.wait_exit() == 130
    history = tmp_path / "state" / "tcpcli" / "history.d" / f"127.0.0.1:{live_peer.port}"
    assert "REMEMBER ME 42" in history.read_text()
    assert history.stat().st_mode & 0o777 == 0o600

    second, conn2 = connect(terminal, live_peer)
    second.type("\x1b[A")  # Up
    second.wait_for(lambda t: t.prompt_row() == "> REMEMBER ME 42")
    second.enter()
    assert read_until(conn2, b"\n") == b"REMEMBER ME 42\n"


def test_no_history_writes_nothing(terminal: Start, live_peer: LivePeer, tmp_path: Path) -> None:
    term, conn = connect(terminal, live_peer, "--no-history")
    term.enter("private")
    read_until(conn, b"\n")
    term.ctrl("c")
    assert term.wait_exit() == 130
    assert not (tmp_path / "state" / "tcpcli").exists()


def test_unwritable_history_warns_and_the_session_goes_on(
    terminal: Start, live_peer: LivePeer, term_env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory should be")
    term = terminal("127.0.0.1", live_peer.port, env={**term_env, "XDG_STATE_HOME": str(blocker)})
    conn = live_peer.accept()
    term.wait_for("history kept in memory only")
    term.enter("still works")
    assert read_until(conn, b"\n") == b"still works\n"


def test_binary_mode_sends_escapes_without_line_ending(terminal: Start, live_peer: LivePeer) -> None:
    term, conn = connect(terminal, live_peer, "-b")
    term.wait_for(lambda t: t.prompt_row() == "bin>")
    term.enter(r"AB\x00\xff\r\nEND")
    assert read_until(conn, b"END") == b"AB\x00\xff\r\nEND"
    conn.sendall(b"raw \x01\xc3\xa9\n")
    term.wait_for(r"raw \x01\xc3\xa9")


def test_binary_mode_bad_escape_is_an_inline_error_and_sends_nothing(
    terminal: Start, live_peer: LivePeer
) -> None:
    term, conn = connect(terminal, live_peer, "-b")
    term.enter(r"oops \q")
    term.wait_for("unknown escape")
    term.type("\x05\x15")  # Ctrl-E Ctrl-U: clear the line
    term.enter("ok")
    assert read_until(conn, b"ok") == b"ok"  # nothing from the refused line came first


def test_crlf_and_eol_options(terminal: Start, live_peer: LivePeer) -> None:
    term, conn = connect(terminal, live_peer, "-C")
    term.enter("EHLO me")
    assert read_until(conn, b"\n") == b"EHLO me\r\n"
    term.type("\x1b[200~MAIL FROM:<a@b>\nRCPT TO:<c@d>\n\x1b[201~")  # a pasted block of two lines
    term.enter()
    assert read_until(conn, b"d>\r\n") == b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"
    term.wait_for("> MAIL FROM:<a@b>\n> RCPT TO:<c@d>")
    term.ctrl("c")
    term.wait_exit()
    term, conn = connect(terminal, live_peer, "--eol", "none")
    term.enter("abc")
    term.enter("def")
    assert read_until(conn, b"def") == b"abcdef"


def test_hex_mode_typed_hex_and_dump_view(terminal: Start, live_peer: LivePeer) -> None:
    term, conn = connect(terminal, live_peer, "-x")
    term.enter("01 02 0xff")
    assert read_until(conn, b"\xff") == b"\x01\x02\xff"
    term.enter("zz")
    term.wait_for("bad hex")
    conn.sendall(b"ABC\x00")
    term.wait_for("00000000  41 42 43 00")
    term.wait_for("|ABC.|")


def test_struct_view_shows_a_table(terminal: Start, live_peer: LivePeer) -> None:
    term, conn = connect(terminal, live_peer, "--struct", ">HH", "--fields", "id,len")
    term.wait_for(lambda t: any(line.split() == ["id", "len"] for line in t.text().splitlines()))
    conn.sendall(b"\x00\x07\x01\x00\x00\x08")
    term.wait_for(lambda t: any(line.split() == ["7", "256"] for line in t.text().splitlines()))
    conn.sendall(b"\x02\x00")
    term.wait_for(lambda t: any(line.split() == ["8", "512"] for line in t.text().splitlines()))


def test_timestamps_and_output_file(terminal: Start, live_peer: LivePeer, tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    out.write_bytes(b"kept:")
    term, conn = connect(terminal, live_peer, "-t", "-o", out)
    conn.sendall(b"stamped \x1b line\n")
    term.wait_for(
        lambda t: any(line.startswith("[") and "] stamped" in line for line in t.text().splitlines())
    )
    conn.close()
    assert term.wait_exit() == 0
    assert out.read_bytes() == b"kept:stamped \x1b line\n"


def test_reset_by_peer_exits_74(terminal: Start, live_peer: LivePeer) -> None:
    term, conn = connect(terminal, live_peer)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()
    assert term.wait_exit() == 74
    assert "reset" in term.text()


def test_idle_timeout_exits_75(terminal: Start, live_peer: LivePeer) -> None:
    term, _conn = connect(terminal, live_peer, "-i", "0.5")
    assert term.wait_exit() == 75
    assert "idle timeout" in term.text()


def test_f2_switches_between_text_and_hex(terminal: Start, live_peer: LivePeer) -> None:
    term, conn = connect(terminal, live_peer)
    conn.sendall(b"text first\n")
    term.wait_for("text first")
    term.type("\x1bOQ")  # F2
    term.wait_for(lambda t: t.prompt_row() == "hex>")
    conn.sendall(b"\x00\x01")
    term.wait_for("0000000b  00 01")
    term.enter("41 42")
    assert read_until(conn, b"AB") == b"AB"


def row_colours(term: Terminal, text: str) -> set[str]:
    row = next(y for y, line in enumerate(term.screen.display) if text in line)
    return {char.fg for char in term.screen.buffer[row].values() if char.data.strip()}


def test_events_echo_and_data_have_their_own_colours_unless_colour_is_off(
    terminal: Start, live_peer: LivePeer, term_env: dict[str, str]
) -> None:
    term, conn = connect(terminal, live_peer)
    term.enter("sent line")
    read_until(conn, b"\n")
    conn.sendall(b"plain data \x07\n")
    term.wait_for("plain data")
    event, echo, data = (row_colours(term, text) for text in ("-- connected", "> sent line", "plain data"))
    assert len({frozenset(event), frozenset(echo), frozenset(data)}) == 3
    term.ctrl("c")
    term.wait_exit()
    for flags, env in ((["--color", "never"], term_env), ([], {**term_env, "NO_COLOR": "1"})):
        term = terminal(*flags, "127.0.0.1", live_peer.port, env=env)
        conn = live_peer.accept()
        term.enter("sent line")
        read_until(conn, b"\n")
        conn.sendall(b"plain data \x07\n")
        term.wait_for("plain data")
        for text in ("-- connected", "> sent line", "plain data"):
            assert row_colours(term, text) == {"default"}, text
        term.ctrl("c")
        term.wait_exit()


def test_tls_session_sends_echoes_and_ctrl_d_ends_it_cleanly(
    terminal: Start, peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    from tests.tls_helpers import make_pki, server_context, tls_echo, tls_handler

    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    server = peer(tls_handler(server_context(pki.server), tls_echo))
    term = terminal("--tls", "--cafile", pki.ca, "127.0.0.1", server.port)
    term.wait_for("connected to 127.0.0.1")
    term.enter("over tls")
    term.wait_for(lambda t: "over tls" in t.text().replace("> over tls", ""))  # the peer's echo
    term.ctrl("d")
    term.wait_for("peer closed its side")
    assert term.wait_exit() == 0


def test_listen_mode_runs_the_same_session_for_its_one_client(terminal: Start) -> None:
    term = terminal("-l", "127.0.0.1", "0")
    term.wait_for("listening on 127.0.0.1:")
    port = int(term.text().split("listening on 127.0.0.1:")[1].split()[0])
    with socket.create_connection(("127.0.0.1", port), timeout=8) as client:
        term.wait_for("connected to 127.0.0.1:")
        client.sendall(b"hi from the client\n")
        term.wait_for("hi from the client")
        term.enter("hi from the terminal")
        assert read_until(client, b"\n") == b"hi from the terminal\n"
    assert term.wait_exit() == 0
