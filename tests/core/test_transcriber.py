"""The relay transcript's lines per call (core.transcriber), -t stamps (core.stamps), the hex line prefix."""

from __future__ import annotations

import datetime
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core.hexdump import HexDumper
from tcpcli.core.stamps import StampFormatter
from tcpcli.core.transcriber import Transcriber

_HEX_LINE = re.compile(rb"^#(\d+) ([<>]) ([0-9a-f]{8})  ((?:[0-9a-f]{2} {1,2}|   {1,2}){16}) \|(.*)\|$")


def _hex_bytes(lines: bytes) -> dict[tuple[int, str], list[tuple[int, bytes]]]:
    """(conn, direction) -> [(offset, bytes)] read back from prefixed hex dump lines."""
    found: dict[tuple[int, str], list[tuple[int, bytes]]] = {}
    for line in lines.splitlines():
        match = _HEX_LINE.match(line)
        assert match, line
        conn, direction, offset, hexes = int(match[1]), match[2].decode(), int(match[3], 16), match[4]
        found.setdefault((conn, direction), []).append((offset, bytes.fromhex(hexes.decode())))
    return found


def test_text_lines_carry_the_connection_and_direction() -> None:
    lines = Transcriber()
    assert (
        lines.opened(3, "127.0.0.1:5000", "127.0.0.1:6379", 0.0)
        == b"#3 open 127.0.0.1:5000 -> 127.0.0.1:6379\n"
    )
    assert lines.data(3, ">", b"PING\r\nx", 0.0) == b"#3 > PING\\r\\n\n#3 > x\n"
    assert lines.data(3, "<", b"FIN", 0.0) == b"#3 < \\x46IN\n"  # data that reads like an event
    assert lines.event(3, ">", b"FIN", 0.0) == b"#3 > FIN\n"
    assert lines.closed(3, 7, 3, 1.5, 0.0) == b"#3 closed: 7 bytes >, 3 bytes <, 1.500 s\n"


def test_hex_offsets_run_per_connection_and_direction_and_restart_for_a_new_connection() -> None:
    lines = Transcriber(hex_view=True)
    out = (
        lines.data(1, ">", b"a" * 20, 0.0) + lines.data(2, ">", b"b" * 5, 0.0) + lines.data(1, "<", b"c", 0.0)
    )
    out += lines.data(1, ">", b"d" * 3, 0.0)
    offsets = {key: [offset for offset, _ in rows] for key, rows in _hex_bytes(out).items()}
    assert offsets == {(1, ">"): [0, 16, 20], (2, ">"): [0], (1, "<"): [0]}
    lines.closed(1, 23, 1, 0.1, 0.0)
    assert lines.data(1, ">", b"e", 0.0).startswith(b"#1 > 00000000  65 ")


@given(
    st.lists(
        st.tuples(st.integers(1, 3), st.sampled_from(["<", ">"]), st.binary(max_size=300)),
        max_size=30,
    )
)
def test_hex_lines_give_back_every_byte_of_every_direction_whatever_the_chunks(
    chunks: list[tuple[int, str, bytes]],
) -> None:
    lines = Transcriber(hex_view=True)
    out = b"".join(lines.data(conn, direction, data, 0.0) for conn, direction, data in chunks)
    sent: dict[tuple[int, str], bytes] = {}
    for conn, direction, data in chunks:
        if data:
            sent[conn, direction] = sent.get((conn, direction), b"") + data
    rows = _hex_bytes(out)
    assert {key: b"".join(part for _, part in value) for key, value in rows.items()} == sent
    for value in rows.values():  # each line starts where the previous ended
        ends = [offset + len(part) for offset, part in value]
        assert [offset for offset, _ in value][1:] == ends[:-1]


def test_every_line_of_a_stamped_chunk_starts_with_the_local_time() -> None:
    stamp = 1_700_000_000.25
    clock = datetime.datetime.fromtimestamp(stamp).strftime("%H:%M:%S.250000")
    lines = Transcriber(hex_view=True, timestamps=True)
    out = lines.data(1, "<", bytes(40), stamp)
    assert out.count(b"\n") == 3
    assert all(line.startswith(f"{clock} #1 < 000000".encode()) for line in out.splitlines())
    text = Transcriber(timestamps=True)
    assert text.data(2, ">", b"a\nb", stamp) == f"{clock} #2 > a\\n\n{clock} #2 > b\n".encode()
    assert text.event(2, None, b"CUT", stamp) == f"{clock} #2 CUT\n".encode()


def test_an_unknown_event_word_is_refused() -> None:
    with pytest.raises(ValueError, match="not a transcript event"):
        Transcriber().event(1, ">", b"HELLO", 0.0)


@given(st.floats(0, 4e9, allow_nan=False))
def test_stamps_are_the_local_time_truncated_to_microseconds(stamp: float) -> None:
    text = StampFormatter()(stamp)
    micros = int(stamp * 1_000_000)
    expected = datetime.datetime.fromtimestamp(micros // 1_000_000).strftime("%H:%M:%S")
    assert text == f"{expected}.{micros % 1_000_000:06d}"


def test_the_stamp_cache_follows_the_second() -> None:
    stamps = StampFormatter()
    base = 1_700_000_000
    first, second, back = stamps(base + 0.5), stamps(base + 1.000001), stamps(base + 0.75)
    assert first.endswith(".500000") and second.endswith(".000001") and back.endswith(".750000")
    assert first[:8] == back[:8] != second[:8]


def test_a_negative_stamp_is_refused() -> None:
    with pytest.raises(ValueError, match="before 1970"):
        StampFormatter()(-1.0)


def test_feed_prefixed_marks_every_line_and_keeps_the_offset() -> None:
    dumper = HexDumper()
    assert dumper.feed_prefixed(b"", b"#1 > ") == b""
    out = dumper.feed_prefixed(bytes(range(20)), b"#1 > ")
    assert out.splitlines()[1].startswith(b"#1 > 00000010  10 11 12 13")
    assert dumper.offset == 20
    assert dumper.feed_prefixed(b"z", b"") == HexDumper(20).feed_bytes(b"z")
