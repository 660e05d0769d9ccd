"""Stdin lines to datagrams: one datagram a line whatever the chunking; too-long lines refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core.datagrams import MAX_PAYLOAD, DatagramTooLarge, LineDatagrams


def _all(chunks: list[bytes]) -> list[bytes]:
    splitter = LineDatagrams()
    out = [datagram for chunk in chunks for datagram in splitter.feed(chunk)]
    last = splitter.finish()
    return [*out, last] if last is not None else out


def test_two_lines_in_one_read_are_two_datagrams() -> None:
    assert _all([b"one\ntwo\n"]) == [b"one\n", b"two\n"]


def test_a_line_in_pieces_is_one_datagram_and_the_last_needs_no_lf() -> None:
    assert _all([b"he", b"llo\nwor", b"ld"]) == [b"hello\n", b"world"]


def test_empty_lines_are_empty_datagrams_but_no_input_is_none() -> None:
    assert _all([b"\n\n"]) == [b"\n", b"\n"]
    assert _all([b""]) == []


def test_a_line_too_long_for_a_datagram_is_refused() -> None:
    splitter = LineDatagrams()
    assert splitter.feed(b"x" * (MAX_PAYLOAD - 1) + b"\n") == [b"x" * (MAX_PAYLOAD - 1) + b"\n"]
    with pytest.raises(DatagramTooLarge, match="too long for one UDP datagram"):
        splitter.feed(b"y" * (MAX_PAYLOAD + 1))


@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=300), max_size=10))
def test_chunking_changes_nothing(data: bytes, cuts: list[int]) -> None:
    points = sorted({min(cut, len(data)) for cut in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert _all(chunks) == _all([data])
    assert b"".join(_all([data])) == data
