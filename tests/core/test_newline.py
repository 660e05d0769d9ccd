"""LF -> CRLF translation (-C) is the same whatever the chunking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core.newline import CrlfTranslator, typed_line


def _reference(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _feed_in_pieces(data: bytes, cuts: list[int]) -> bytes:
    translator = CrlfTranslator()
    points = sorted({min(cut, len(data)) for cut in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(translator.feed(data[start:point]))
        start = point
    return b"".join(pieces)


def test_lf_becomes_crlf_and_crlf_stays() -> None:
    assert CrlfTranslator().feed(b"a\nb\r\nc\r") == b"a\r\nb\r\nc\r"


def test_crlf_split_across_chunks_is_not_doubled() -> None:
    translator = CrlfTranslator()
    assert translator.feed(b"a\r") + translator.feed(b"\nb\n") == b"a\r\nb\r\n"


def test_lone_cr_then_text_keeps_the_cr() -> None:
    translator = CrlfTranslator()
    assert translator.feed(b"a\r") + translator.feed(b"b") == b"a\rb"


@given(
    st.lists(st.sampled_from([b"a", b"\r", b"\n"]), max_size=60).map(b"".join) | st.binary(max_size=200),
    st.lists(st.integers(0, 200)),
)
def test_chunking_never_changes_the_output(data: bytes, cuts: list[int]) -> None:
    whole = CrlfTranslator().feed(data)
    assert whole == _reference(data)
    assert _feed_in_pieces(data, cuts) == whole
    assert _feed_in_pieces(data, list(range(len(data)))) == whole


def test_typed_line_uses_codec_and_ending() -> None:
    assert typed_line("é", "latin-1", b"\r\n") == b"\xe9\r\n"
    assert typed_line("x", "utf-8", b"") == b"x"


def test_typed_lines_carry_no_byte_order_mark() -> None:
    assert typed_line("hi", "utf-16", b"") == b"\x00h\x00i"
    assert typed_line("hi", "utf-32", b"") == b"\x00\x00\x00h\x00\x00\x00i"
    assert typed_line("hi", "utf-8-sig", b"\n") == b"hi\n"
