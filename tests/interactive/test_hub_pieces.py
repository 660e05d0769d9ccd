"""The pieces the keep-open server's terminal adds: labels per client, the client count, the frame queue."""

from __future__ import annotations

import io

from tcpcli.interactive.display import Display
from tcpcli.interactive.labels import LabelledFeeds
from tcpcli.interactive.render import make_console
from tcpcli.interactive.toolbar import LinkState, Stats, toolbar_fragments
from tcpcli.interactive.views import TextView
from tcpcli.listen.screenqueue import ScreenQueue


def feeds() -> tuple[LabelledFeeds, Display, io.StringIO]:
    out = io.StringIO()
    display = Display(make_console(out, color=False), TextView("utf-8"))
    return LabelledFeeds(display, lambda: TextView("utf-8")), display, out


def test_each_line_is_labelled_and_a_split_character_stays_whole_per_client() -> None:
    labelled, _, out = feeds()
    labelled.received("a", "A", b"one\ntw\xc3")
    labelled.received("b", "B", b"\xa9 not a\n")  # B's continuation byte is not A's character
    labelled.received("a", "A", b"\xa9o\n")
    assert out.getvalue() == "[A] one\n[A] tw\n[B] \\xa9 not a\n[A] \u00e9o\n"


def test_a_partial_line_is_held_then_continued_or_ended_by_another_client() -> None:
    labelled, display, out = feeds()
    labelled.received("a", "A", b"login: ")
    assert display.holds_partial and out.getvalue() == ""
    labelled.received("a", "A", b"x\n")
    labelled.received("a", "A", b"pw: ")
    labelled.received("b", "B", b"hi\n")
    labelled.finish("a", "A")
    assert out.getvalue() == "[A] login: x\n[A] pw: \n[B] hi\n"


def test_toolbar_counts_clients_and_names_the_server_keys() -> None:
    stats = Stats("[::]:5555", "text", "utf-8", 10, 20, LinkState.OPEN, clients=1)
    text = "".join(fragment[1] for fragment in toolbar_fragments(stats))
    assert text.startswith(" [::]:5555 | 1 client | text | utf-8 | in 10 B out 20 B | open |")
    assert "Ctrl-D: end input  Ctrl-C: stop" in text


def test_screen_queue_keeps_events_and_order_and_skips_the_oldest_data_of_a_flood() -> None:
    wakes: list[int] = []
    queue = ScreenQueue(limit=100, tail=10, notify=lambda: wakes.append(1))
    queue.data("a", b"x" * 60)
    queue.message("a joined", "")
    queue.data("b", b"y" * 60)  # over the limit: the oldest data goes down to the tail
    queue.data("b", b"z" * 5)
    queue.gone("b")
    frame = queue.take(budget=1000)
    assert wakes == [1]
    assert frame.skipped == {"a": 60, "b": 60}
    assert [(item.message, item.data, item.gone) for item in frame.items] == [
        ("a joined", b"", False),
        (None, b"z" * 5, False),
        (None, b"", True),
    ]
    assert not frame.more
