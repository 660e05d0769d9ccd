"""The pure parts of interactive mode: typed-line decisions, the inbox, the toolbar, history, rendering."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest
from prompt_toolkit.history import InMemoryHistory

from tcpcli.fronts.terminal.display import PARTIAL_LIMIT, SECRET_ECHO, Display, flood_note
from tcpcli.fronts.terminal.history import SafeFileHistory, history_path, open_history, service_history_path
from tcpcli.fronts.terminal.inbox import Batch, Chunk, Inbox
from tcpcli.fronts.terminal.pacing import MAX_BUDGET, MIN_BUDGET, TARGET_SECONDS, FramePacer
from tcpcli.fronts.terminal.plainfront import terminal_can_be_driven
from tcpcli.fronts.terminal.render import make_console
from tcpcli.fronts.terminal.secret import SecretLine
from tcpcli.fronts.terminal.structview import StructView
from tcpcli.fronts.terminal.toolbar import LinkState, Stats, format_size, toolbar_fragments
from tcpcli.fronts.terminal.typed import INPUT_CLOSED, InputRules, Refuse, Send, decide_line
from tcpcli.fronts.terminal.views import BinaryView, HexView, ReceivedView, TextView, make_view
from tcpcli.settings import View, ViewSettings

# ---------------------------------------------------------------- typed lines


@pytest.mark.parametrize(
    ("mode", "line", "eol", "expected"),
    [
        (View.TEXT, "PING", b"\r\n", Send(b"PING\r\n")),
        (View.TEXT, "", b"\n", Send(b"\n")),
        (View.TEXT, "x", b"", Send(b"x")),
        (View.TEXT, "one\ntwo\n", b"\r\n", Send(b"one\r\ntwo\r\n")),  # a pasted block: a line ending each
        (View.TEXT, "one\n\nthree", b"\n", Send(b"one\n\nthree\n")),
        (View.STRUCT, "hi", b"\n", Send(b"hi\n")),
        (View.BINARY, r"a\x00\n", b"\n", Send(b"a\x00\n")),  # no line ending added
        (View.HEX, "de ad 0xbe \\xef", b"\n", Send(b"\xde\xad\xbe\xef")),
    ],
)
def test_a_typed_line_becomes_exactly_these_bytes(mode: View, line: str, eol: bytes, expected: Send) -> None:
    assert decide_line(line, InputRules(mode, "utf-8", eol)) == expected


def test_bad_escape_bad_hex_and_unencodable_text_are_refused_with_a_position() -> None:
    bad_escape = decide_line(r"ok \q", InputRules(View.BINARY, "utf-8", b""))
    assert isinstance(bad_escape, Refuse) and bad_escape.position == 3
    bad_hex = decide_line("01 zz", InputRules(View.HEX, "utf-8", b""))
    assert isinstance(bad_hex, Refuse) and bad_hex.position == 3
    euro = decide_line("price: €", InputRules(View.TEXT, "latin-1", b"\n"))
    assert isinstance(euro, Refuse) and euro.position == 7 and "latin-1" in euro.message
    pasted = decide_line("ok\nprice: €", InputRules(View.TEXT, "latin-1", b"\n"))
    assert isinstance(pasted, Refuse) and pasted.position == 10


def test_nothing_is_sent_after_ctrl_d() -> None:
    assert decide_line("more", InputRules(View.TEXT, "utf-8", b"\n", closed=True)) == Refuse(INPUT_CLOSED, 4)


# ---------------------------------------------------------------- inbox


def test_inbox_hands_over_in_order_within_the_budget_and_wakes_once() -> None:
    wakes: list[int] = []
    inbox = Inbox(limit=1000, notify=lambda: wakes.append(1))
    inbox.put(b"abc", "t1")
    inbox.put(b"defg", "t2")
    assert wakes == [1]
    first = inbox.take(budget=5, tail=2)
    assert first == Batch([Chunk(b"abc", "t1"), Chunk(b"de", "t2")], more=True)
    assert inbox.take(budget=5, tail=2) == Batch([Chunk(b"fg")])  # the rest of a read has no stamp again
    inbox.close()
    assert inbox.take(5, 2) == Batch(ended=True)


def test_inbox_under_a_flood_keeps_the_tail_and_counts_what_it_skipped() -> None:
    inbox = Inbox(limit=10, notify=lambda: None)
    for index in range(10):
        inbox.put(bytes([65 + index]) * 4)  # AAAA BBBB ... JJJJ, 40 bytes
    batch = inbox.take(budget=100, tail=6)
    assert batch.chunks == [Chunk(b"II"), Chunk(b"JJJJ")]
    assert batch.skipped == 34
    assert sum(map(len, (c.data for c in batch.chunks))) + batch.skipped == 40


def test_inbox_flood_tail_starts_on_a_whole_line_when_it_can() -> None:
    inbox = Inbox(limit=12, notify=lambda: None)
    inbox.put(b"0123456789")
    inbox.put(b"ab\ncd\nef\n")  # over the limit: the first read is dropped
    batch = inbox.take(budget=100, tail=7)  # the last 7 bytes start mid-line ("\ncd..."): go to "cd"
    assert batch.chunks == [Chunk(b"cd\nef\n")]
    assert batch.skipped == 13


def test_inbox_reports_an_error_after_the_data_before_it() -> None:
    from tcpcli.errors import ExitCode, TcpcliError

    inbox = Inbox(limit=100, notify=lambda: None)
    inbox.put(b"last words")
    error = TcpcliError("reset", ExitCode.IO_ERROR)
    inbox.close(error)
    assert inbox.take(4, 4) == Batch([Chunk(b"last")], more=True)
    assert inbox.take(100, 4) == Batch([Chunk(b" words")], ended=True, error=error)


def test_inbox_from_two_threads_loses_nothing_it_does_not_count() -> None:
    inbox = Inbox(limit=5000, notify=lambda: None)
    total = 0

    def reader() -> None:
        for _ in range(2000):
            inbox.put(b"x" * 37)
        inbox.close()

    thread = threading.Thread(target=reader)
    thread.start()
    while True:
        batch = inbox.take(1000, 500)
        total += batch.skipped + sum(len(chunk.data) for chunk in batch.chunks)
        if batch.ended:
            break
    thread.join()
    assert total == 2000 * 37


# ---------------------------------------------------------------- toolbar


def test_toolbar_shows_peer_mode_encoding_counts_and_state() -> None:
    stats = Stats("[::1]:6379", "text", "utf-8", 1536, 12, LinkState.HALF_CLOSED)
    text = "".join(fragment[1] for fragment in toolbar_fragments(stats))
    assert text.startswith(" [::1]:6379 | text | utf-8 | in 1.5 KiB out 12 B | half-closed |")
    assert "Ctrl-C: quit" in text and "Ctrl-D" not in text


def toolbar_text(stats: Stats, width: int, can_toggle: bool = True) -> str:
    return "".join(fragment[1] for fragment in toolbar_fragments(stats, can_toggle, width))


WIDE_PEER = Stats("[2001:db8::1]:6379", "text", "utf-8", 1536, 12, LinkState.OPEN, tls=("TLSv1.3", False))


@pytest.mark.parametrize("width", [80, 100, 200])
def test_toolbar_fits_80_columns_and_keeps_the_keys_and_the_tls_warning(width: int) -> None:
    """Issue 11 item 7: at 80 columns prompt_toolkit cut the key hints off the right edge."""
    for stats in (Stats("127.0.0.1:5555", "text", "utf-8", 1536, 12, LinkState.OPEN), WIDE_PEER):
        text = toolbar_text(stats, width)
        assert len(text) <= width
        assert "quit" in text and ("FIN" in text or stats.tls)
    assert "TLS unverified" in toolbar_text(WIDE_PEER, 80)


@pytest.mark.parametrize("width", [79, 60, 50, 40, 30])
def test_narrower_toolbars_give_up_detail_before_the_quit_key(width: int) -> None:
    text = toolbar_text(Stats("127.0.0.1:5555", "text", "utf-8", 10, 2, LinkState.OPEN), width)
    assert len(text) <= width and "^C quit" in text and "| open " in text


def test_toolbar_says_secret_lines_pasted_lines_and_tls() -> None:
    stats = Stats(
        "h:1", "text", "utf-8", 0, 0, LinkState.OPEN, tls=("TLSv1.3", True), secret=True, input_lines=200
    )
    text = toolbar_text(stats, 200)
    assert "| TLSv1.3 |" in text and "SECRET: not echoed, not saved" in text and "200 lines to send" in text
    assert "SECRET" in toolbar_text(stats, 60)


@pytest.mark.parametrize(
    ("count", "shown"), [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (20 * 2**20, "20.0 MiB")]
)
def test_format_size(count: int, shown: str) -> None:
    assert format_size(count) == shown


# ---------------------------------------------------------------- history


def test_history_path_follows_xdg_state_home_and_ignores_a_relative_one() -> None:
    assert history_path({"XDG_STATE_HOME": "/s", "HOME": "/h"}) == Path("/s/tcpcli/history")
    assert history_path({"XDG_STATE_HOME": "rel", "HOME": "/h"}) == Path("/h/.local/state/tcpcli/history")
    assert history_path({"HOME": "/h"}) == Path("/h/.local/state/tcpcli/history")


def test_history_file_is_created_private(tmp_path: Path) -> None:
    history = open_history(True, pytest.fail, {"XDG_STATE_HOME": str(tmp_path)})
    assert isinstance(history, SafeFileHistory)
    assert os.stat(tmp_path / "tcpcli" / "history").st_mode & 0o777 == 0o600


def test_unwritable_history_falls_back_to_memory_with_one_warning(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    warnings: list[str] = []
    history = open_history(True, warnings.append, {"XDG_STATE_HOME": str(tmp_path / "file")})
    assert isinstance(history, InMemoryHistory)
    assert len(warnings) == 1 and "in memory only" in warnings[0]


def test_history_failing_mid_session_warns_once_and_goes_on(tmp_path: Path) -> None:
    warnings: list[str] = []
    history = SafeFileHistory(tmp_path / "gone" / "history", warnings.append)
    history.append_string("one")
    history.append_string("two")
    assert list(history.get_strings()) == ["one", "two"]
    assert len(warnings) == 1


def test_each_service_has_its_own_history_and_the_shared_one_comes_after_it(tmp_path: Path) -> None:
    """Issue 11 item 11: Up in a Redis session recalled a chat line."""
    env = {"XDG_STATE_HOME": str(tmp_path)}
    shared = open_history(True, pytest.fail, env)
    shared.append_string("old shared line")
    chat = open_history(True, pytest.fail, env, "chat.example:7000")
    chat.append_string("hello everyone")
    redis = open_history(True, pytest.fail, env, "[::1]:6379")
    redis.append_string("PING")
    assert service_history_path("[::1]:6379", env) == tmp_path / "tcpcli" / "history.d" / "[::1]:6379"
    assert os.stat(service_history_path("[::1]:6379", env)).st_mode & 0o777 == 0o600
    again = open_history(True, pytest.fail, env, "[::1]:6379")
    assert list(again.load_history_strings()) == ["PING", "old shared line"]  # newest first; no chat line
    assert "PING" not in history_path(env).read_text()


def test_history_disabled_is_memory_only() -> None:
    assert isinstance(open_history(False, pytest.fail), InMemoryHistory)


# ---------------------------------------------------------------- the screen


def screen_of(view: ReceivedView | None = None, timestamps: bool = False) -> tuple[Display, io.StringIO]:
    out = io.StringIO()
    display = Display(make_console(out, color=False), view or TextView("utf-8"), timestamps, None)
    return display, out


def test_a_partial_line_is_held_for_the_input_line_and_the_echo_starts_a_line_of_its_own() -> None:
    display, out = screen_of()
    display.received(Batch([Chunk(b"220 ready\r\nlogin: ")]))
    assert out.getvalue() == "220 ready\n"
    assert display.partial == "login: "
    display.echo(["root"])
    assert out.getvalue() == "220 ready\nlogin: \n> root\n"  # never `login: root`: that looks received
    assert display.partial == ""
    display.echo(["next"])
    display.echo([""])
    display.end_partial_line()
    assert out.getvalue() == "220 ready\nlogin: \n> root\n> next\n> \n"


@pytest.mark.parametrize("view", [TextView("utf-8"), BinaryView()])
def test_without_colour_a_sent_line_and_a_received_one_never_look_alike(view: ReceivedView) -> None:
    """Issue 11 item 4: `login: root` typed and `login: root` received, in -b with NO_COLOR."""
    typed, out_typed = screen_of(view)
    typed.received(Batch([Chunk(b"\x00\x01login: ")]))
    typed.echo(["root"])
    received, out_received = screen_of(type(view)("utf-8") if isinstance(view, TextView) else BinaryView())
    received.received(Batch([Chunk(b"\x00\x01login: root\n")]))
    assert out_typed.getvalue() != out_received.getvalue()
    assert out_typed.getvalue().splitlines()[-1] == "> root"


def test_a_secret_line_is_echoed_without_its_text() -> None:
    display, out = screen_of()
    display.received(Batch([Chunk(b"Password: ")]))
    assert display.last_line == "Password: "
    display.echo_secret()
    assert out.getvalue() == f"Password: \n> {SECRET_ECHO}\n"


def test_the_last_line_is_the_held_partial_or_the_last_whole_line() -> None:
    display, _out = screen_of()
    display.received(Batch([Chunk(b"one\nEnter PIN:\n")]))
    assert display.last_line == "Enter PIN:"
    display.received(Batch([Chunk(b"x\nlogin: ")]))
    assert display.last_line == "login: "


def test_events_end_a_partial_line_first() -> None:
    display, out = screen_of()
    display.received(Batch([Chunk(b"password: ")]))
    display.event("peer closed its side (FIN)")
    assert out.getvalue() == "password: \n-- peer closed its side (FIN)\n"


def test_a_very_long_partial_line_is_printed_not_held() -> None:
    display, out = screen_of()
    display.received(Batch([Chunk(b"x" * (PARTIAL_LIMIT + 1))]))
    assert out.getvalue() == "x" * (PARTIAL_LIMIT + 1) + "\n"
    assert display.partial == ""


def test_peer_markup_and_escapes_print_literally() -> None:
    display, out = screen_of()
    display.received(Batch([Chunk(b"[bold red]x[/] \x1b[2J :smile: \xff\n")]))
    assert out.getvalue() == "[bold red]x[/] \\x1b[2J :smile: \\xff\n"


def test_flood_note_and_timestamps() -> None:
    display, out = screen_of(timestamps=True)
    display.received(Batch([Chunk(b"tail\n", "12:00:00.000001")], skipped=12345))
    assert out.getvalue() == f"-- {flood_note(12345, None)}\n[12:00:00.000001] tail\n"
    assert "-o FILE keeps every byte" in flood_note(2, None)
    assert "all of them are in x.bin" in flood_note(2, "x.bin")


def test_hex_view_offset_runs_on_across_a_skip() -> None:
    display, out = screen_of(HexView())
    display.received(Batch([Chunk(b"AB")]))
    display.received(Batch([Chunk(b"C")], skipped=14))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("00000000  41 42")
    assert lines[-1].startswith("00000010  43")


def test_struct_view_header_rows_realignment_and_leftover() -> None:
    display, out = screen_of(StructView(">HH", ("id", "len")))
    display.show_header()
    display.received(Batch([Chunk(b"\x00\x01\x00\x02\x00")]))
    display.received(Batch([Chunk(b"\x03")]))
    # 6 bytes seen + 3 skipped: the next record edge (offset 12) is 3 bytes into the following data
    display.received(Batch([Chunk(b"zzz\x00\x04\x00\x05\x09")], skipped=3, ended=True))
    rows = [line.split() for line in out.getvalue().splitlines()]
    assert rows[0] == ["id", "len"]
    assert ["1", "2"] in rows and ["3"] not in rows
    assert ["4", "5"] in rows
    assert "1 trailing byte did not make a whole 4-byte record: 09" in out.getvalue()


def test_make_view_is_the_one_place_views_are_chosen() -> None:
    settings = ViewSettings(struct_format="<I")
    assert [make_view(mode, settings).mode for mode in View] == list(View)


# ---------------------------------------------------------------- frame pacing


def test_pacer_shrinks_the_budget_for_costly_bytes_and_grows_it_for_cheap_ones() -> None:
    pacer = FramePacer()
    for _ in range(10):
        pacer.record(pacer.budget, pacer.budget / 100_000)  # 100 kB/s: random bytes
    assert MIN_BUDGET <= pacer.budget < 2 * 100_000 * TARGET_SECONDS
    for _ in range(10):
        pacer.record(pacer.budget, pacer.budget / 50_000_000)  # 50 MB/s: plain lines
    assert pacer.budget == MAX_BUDGET
    pacer.record(10, 5.0)  # too small a sample to learn from
    assert pacer.budget == MAX_BUDGET


def test_a_secret_line_is_armed_by_a_password_prompt_and_ends_when_sent_or_the_peer_moves_on() -> None:
    secret = SecretLine()
    secret.peer_said("login: ")
    assert not secret.active
    secret.peer_said("Password: ")
    assert secret.active
    secret.sent()
    assert not secret.active
    secret.peer_said("Password: ")  # the same line still held: it does not arm again
    assert not secret.active
    secret.peer_said("Login incorrect")
    secret.peer_said("Password: ")
    assert secret.active
    secret.peer_said("$ ")  # the peer moved on: back to normal
    assert not secret.active
    secret.toggle()  # Ctrl-O: by hand, kept whatever the peer says
    secret.peer_said("welcome")
    assert secret.active


@pytest.mark.parametrize(
    ("term", "driven"),
    [("xterm-256color", True), ("screen", True), ("dumb", False), ("unknown", False), ("", False)],
)
def test_only_a_terminal_that_can_move_its_cursor_gets_the_full_screen(term: str, driven: bool) -> None:
    assert terminal_can_be_driven({"TERM": term}) is driven
    assert terminal_can_be_driven({}) is False
