"""The pieces the terminal adds for many clients: labels per client, the client count, the one frame queue."""

from __future__ import annotations

import io

from tcpcli.fronts.terminal.display import Display
from tcpcli.fronts.terminal.inbox import Chunk, Gone, Inbox, Note
from tcpcli.fronts.terminal.labels import LabelledFeeds
from tcpcli.fronts.terminal.render import make_console
from tcpcli.fronts.terminal.toolbar import LinkState, Stats, toolbar_fragments
from tcpcli.fronts.terminal.views import TextView


def feeds() -> tuple[LabelledFeeds, Display, io.StringIO]:
    out = io.StringIO()
    display = Display(make_console(out, color=False), TextView("utf-8"))
    return LabelledFeeds(display, lambda offset: TextView("utf-8")), display, out


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


def test_the_frame_queue_keeps_events_in_order_and_skips_the_oldest_data_of_a_flood_per_client() -> None:
    wakes: list[int] = []
    queue = Inbox(limit=100, notify=lambda: wakes.append(1))
    queue.put(b"x" * 60, source="a")
    queue.note("a joined", "")
    queue.put(b"y" * 60, source="b")  # over the limit: a's data goes, the event stays
    queue.put(b"z" * 5, source="b")
    queue.gone("b")
    batch = queue.take(budget=1000, tail=10)  # after a drop only the last 10 bytes are shown
    assert wakes == [1]
    assert batch.skipped_by == {"a": 60, "b": 55} and batch.skipped == 115
    assert batch.chunks == [
        Note("a joined", ""),
        Chunk(b"y" * 5, None, "b"),
        Chunk(b"z" * 5, None, "b"),
        Gone("b"),
    ]
    assert not batch.more


def test_a_big_chunk_from_one_of_many_clients_is_split_to_the_frame_budget() -> None:
    """Issue 12 fault 2: the many-clients queue handed whole chunks to a frame (a 256 KiB burst froze it)."""
    queue = Inbox(limit=1 << 20, notify=lambda: None)
    queue.put(b"line\n" * 20_000, "t1", source="a")  # 100,000 bytes in one read
    queue.note("b joined", "")
    first = queue.take(budget=4096, tail=1024)
    assert first.chunks == [Chunk(b"line\n" * 819 + b"l", "t1", "a")] and first.more
    taken = 4096
    while True:
        batch = queue.take(budget=4096, tail=1024)
        data = [item for item in batch.chunks if isinstance(item, Chunk)]
        assert sum(len(item.data) for item in data) <= 4096
        assert all(item.stamp is None for item in data)  # the continuation of a read has no stamp
        taken += sum(len(item.data) for item in data)
        if not batch.more:
            break
    assert taken == 100_000 and batch.chunks[-1] == Note("b joined", "")


def test_trimming_at_the_end_keeps_every_event_and_only_the_newest_data() -> None:
    """Ctrl-C during a sustained flood: the screen draws the tail and the events, not a 256 KiB backlog."""
    queue = Inbox(limit=1 << 20, notify=lambda: None)
    queue.put(b"old\n" * 1000, source="a")
    queue.note("a left", "")
    queue.put(b"0123456789\nnewest\n", source="b")
    queue.trim(10)
    batch = queue.take(budget=1 << 20, tail=10)
    assert batch.chunks == [Note("a left", ""), Chunk(b"newest\n", None, "b")]  # the tail starts on a line
    assert batch.skipped_by == {"a": 4000, "b": 11}
