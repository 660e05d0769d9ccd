"""IncrementalSafeDecoder and BinaryRenderer: any bytes, any chunking, never a crash, never a hidden byte."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpcli.core.decode import (
    BinaryRenderer,
    IncrementalSafeDecoder,
    decode_marked,
    lookup_text_encoding,
)
from tcpcli.core.visible import Piece, PieceKind, merge_pieces

TEXT, ESCAPE, INVALID = PieceKind.TEXT, PieceKind.ESCAPE, PieceKind.INVALID
ENCODINGS = [
    "utf-8",
    "latin-1",
    "cp437",
    "utf-16",
    "utf-16-be",
    "shift_jis",
    "utf-8-sig",
    "gb18030",
    "utf-32",
]

# Mostly text-like bytes with the awkward ones (CR, ESC, UTF-8 lead bytes, 0xff) drawn often.
tricky_bytes = st.lists(
    st.one_of(
        st.binary(max_size=4),
        st.sampled_from([b"\r", b"\n", b"\r\n", b"\x1b", b"\xe2\x82\xac", b"\xe2", b"\xff", b"\x00"]),
        st.text(max_size=3).map(lambda s: s.encode("utf-8")),
    ),
    max_size=12,
).map(b"".join)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def decode_chunks(encoding: str, chunks: list[bytes]) -> list[Piece]:
    dec = IncrementalSafeDecoder(encoding)
    out: list[Piece] = []
    for chunk in chunks:
        out += dec.feed(chunk)
    return merge_pieces(out + dec.finish())


def decode(encoding: str, data: bytes) -> list[Piece]:
    return decode_chunks(encoding, [data])


def test_valid_utf8_is_text() -> None:
    assert decode("utf-8", "héllo €\n".encode()) == [Piece(TEXT, "héllo €\n")]


def test_multibyte_char_split_across_reads_decodes_whole() -> None:
    dec = IncrementalSafeDecoder("utf-8")
    assert dec.feed(b"\xe2\x82") == []
    assert dec.feed(b"\xac!") == [Piece(TEXT, "€!")]
    assert dec.finish() == []


def test_invalid_byte_is_shown_as_hex() -> None:
    assert decode("utf-8", b"a\xffb") == [Piece(TEXT, "a"), Piece(INVALID, "\\xff"), Piece(TEXT, "b")]


def test_truncated_sequence_at_end_becomes_invalid() -> None:
    dec = IncrementalSafeDecoder("utf-8")
    assert dec.feed(b"ok\xe2\x82") == [Piece(TEXT, "ok")]
    assert dec.finish() == [Piece(INVALID, "\\xe2\\x82")]


def test_encoded_surrogate_in_utf8_is_invalid_bytes() -> None:
    assert decode("utf-8", b"\xed\xb0\x80") == [Piece(INVALID, "\\xed\\xb0\\x80")]


def test_control_characters_from_the_peer_are_escaped() -> None:
    assert decode("utf-8", b"\x1b]0;title\x07") == [
        Piece(ESCAPE, "\\x1b"),
        Piece(TEXT, "]0;title"),
        Piece(ESCAPE, "\\x07"),
    ]


def test_crlf_split_across_reads_is_one_line_break() -> None:
    dec = IncrementalSafeDecoder("utf-8")
    assert dec.feed(b"a\r") == [Piece(TEXT, "a")]
    assert dec.feed(b"\nb") == [Piece(TEXT, "\nb")]


def test_cr_at_end_of_stream_is_shown() -> None:
    dec = IncrementalSafeDecoder("utf-8")
    assert dec.feed(b"a\r") == [Piece(TEXT, "a")]
    assert dec.finish() == [Piece(ESCAPE, "\\r")]


def test_latin1_decodes_every_byte_and_c1_is_escaped() -> None:
    assert decode("latin-1", b"\xe9\x85") == [Piece(TEXT, "é"), Piece(ESCAPE, "\\u0085")]


def test_cp437_box_drawing() -> None:
    assert decode("cp437", b"\xc9\xcd\xbb\x1b") == [Piece(TEXT, "╔═╗"), Piece(ESCAPE, "\\x1b")]


def test_utf16_odd_trailing_byte_is_invalid() -> None:
    assert decode("utf-16-le", b"a\x00b") == [Piece(TEXT, "a"), Piece(INVALID, "\\x62")]


def test_utf16_lone_surrogate_is_invalid() -> None:
    assert decode("utf-16-le", b"\x00\xdcA\x00") == [Piece(INVALID, "\\x00\\xdc"), Piece(TEXT, "A")]


def test_utf16_with_bom_split_anywhere() -> None:
    data = "hi €".encode("utf-16")
    assert decode_chunks("utf-16", [bytes([b]) for b in data]) == [Piece(TEXT, "hi €")]


def test_utf16_without_bom_is_read_big_endian() -> None:
    assert decode("utf-16", b"\x00h\x00i") == [Piece(TEXT, "hi")]
    assert decode_chunks("utf-16", [b"\x00", b"h\x00", b"i"]) == [Piece(TEXT, "hi")]


def test_utf32_with_and_without_bom() -> None:
    assert decode("utf-32", "ok".encode("utf-32")) == [Piece(TEXT, "ok")]
    assert decode("utf-32", b"\x00\x00\x00A") == [Piece(TEXT, "A")]


def test_utf16_single_byte_stream_is_invalid() -> None:
    assert decode("utf-16", b"A") == [Piece(INVALID, "\\x41")]


def test_shift_jis_split_and_invalid() -> None:
    data = "日本".encode("shift_jis")
    assert decode_chunks("shift_jis", [data[:1], data[1:3], data[3:]]) == [Piece(TEXT, "日本")]
    assert decode("shift_jis", b"\x81 ") == [Piece(INVALID, "\\x81"), Piece(TEXT, " ")]


def test_decoder_is_reusable_after_finish() -> None:
    dec = IncrementalSafeDecoder("utf-8")
    dec.feed(b"\xe2")
    dec.finish()
    assert dec.feed(b"ok") == [Piece(TEXT, "ok")]


@pytest.mark.parametrize("name", ["no-such-codec", "hex", "rot13", "zlib"])
def test_unknown_or_non_text_codec_raises_lookup_error(name: str) -> None:
    with pytest.raises(LookupError):
        IncrementalSafeDecoder(name)
    with pytest.raises(LookupError):
        lookup_text_encoding(name)


def test_decode_marked_keeps_bad_bytes_as_markers() -> None:
    assert decode_marked(b"a\xff") == "a\udcff"


@settings(max_examples=60)
@given(st.data(), tricky_bytes, st.sampled_from(ENCODINGS))
def test_chunking_never_changes_the_decoded_output(data: st.DataObject, raw: bytes, encoding: str) -> None:
    whole = decode(encoding, raw)
    assert decode_chunks(encoding, [bytes([b]) for b in raw]) == whole
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=6))
    assert decode_chunks(encoding, split_at(raw, cuts)) == whole


@settings(max_examples=60)
@given(st.data(), tricky_bytes, st.sampled_from(ENCODINGS))
def test_decoded_output_is_always_printable(data: st.DataObject, raw: bytes, encoding: str) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=6))
    for piece in decode_chunks(encoding, split_at(raw, cuts)):
        assert piece.text.replace("\n", "").replace("\t", "").isprintable()


_ESCAPE_TOKEN = re.compile(r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|U([0-9a-f]{8})|(r))")


def unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        return "\r" if m.group(4) else chr(int(m.group(1) or m.group(2) or m.group(3), 16))

    return _ESCAPE_TOKEN.sub(one, text)


@settings(max_examples=100)
@given(tricky_bytes)
def test_utf8_view_accounts_for_every_byte(raw: bytes) -> None:
    """Undoing the escapes gives back the input, except that CRLF became LF."""
    rebuilt = bytearray()
    for kind, text in decode("utf-8", raw):
        if kind is INVALID:
            rebuilt += bytes.fromhex(text.replace("\\x", ""))
        elif kind is ESCAPE:
            rebuilt += unescape(text).encode()
        else:
            rebuilt += text.encode()
    assert bytes(rebuilt) == raw.replace(b"\r\n", b"\n")


# --- binary view ---------------------------------------------------------------------------------


def binary(chunks: list[bytes]) -> list[Piece]:
    view = BinaryRenderer()
    out: list[Piece] = []
    for chunk in chunks:
        out += view.feed(chunk)
    return merge_pieces(out + view.finish())


def unrender(pieces: list[Piece]) -> bytes:
    out = bytearray()
    for kind, text in pieces:
        if kind is TEXT:
            out += text.encode("ascii")
        else:
            out += bytes.fromhex(text.replace("\\x", ""))
    return bytes(out)


def test_binary_view_escapes_everything_but_printable_ascii_tab_and_lf() -> None:
    assert BinaryRenderer().feed(b"ab\r\n\x00\xff\t~") == [
        Piece(TEXT, "ab"),
        Piece(ESCAPE, "\\x0d"),
        Piece(TEXT, "\n"),
        Piece(ESCAPE, "\\x00\\xff"),
        Piece(TEXT, "\t~"),
    ]


def test_binary_view_does_not_decode_utf8() -> None:
    assert BinaryRenderer().feed("é".encode()) == [Piece(ESCAPE, "\\xc3\\xa9")]


def test_binary_view_of_nothing_is_nothing() -> None:
    assert BinaryRenderer().feed(b"") == []


@settings(max_examples=100)
@given(st.data(), st.binary(max_size=64))
def test_binary_view_is_lossless_printable_and_chunking_proof(data: st.DataObject, raw: bytes) -> None:
    whole = binary([raw])
    assert unrender(whole) == raw
    assert binary([bytes([b]) for b in raw]) == whole
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=6))
    assert binary(split_at(raw, cuts)) == whole
    for piece in whole:
        assert piece.text.replace("\n", "").replace("\t", "").isprintable()
