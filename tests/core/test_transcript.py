"""The transcript line format: escapes, line splitting, event words kept apart from data."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core.transcript import (
    EVENT_WORDS,
    closed_line,
    data_lines,
    event_line,
    line_prefix,
    open_line,
    visible_bytes,
)

_ESCAPE = re.compile(rb"\\(x[0-9a-f]{2}|[rnt0\\])")
_NAMED = {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"0": b"\0", b"\\": b"\\"}


def _unescape(text: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        return bytes([int(code[1:], 16)]) if code.startswith(b"x") else _NAMED[code]

    return _ESCAPE.sub(one, text)


def test_the_contract_example() -> None:
    assert data_lines(b"#1 > ", b"a\nb") == b"#1 > a\\n\n#1 > b\n"


def test_named_escapes_and_hex_for_the_rest() -> None:
    assert visible_bytes(b"\r\n\t\0\\\x1b\xff") == b"\\r\\n\\t\\0\\\\\\x1b\\xff"
    assert visible_bytes("é".encode()) == b"\\xc3\\xa9"


@pytest.mark.parametrize("word", sorted(EVENT_WORDS))
def test_data_reading_like_an_event_is_escaped(word: bytes) -> None:
    line = data_lines(b"#2 < ", word)
    assert line != event_line(b"#2 < ", word)
    assert _unescape(line[len(b"#2 < ") : -1]) == word
    # with a line end it is no longer bare
    assert data_lines(b"#2 < ", word + b"\n") == b"#2 < " + word + b"\\n\n"


def test_prefixes() -> None:
    assert line_prefix(3, ">") == b"#3 > "
    assert line_prefix(None, "<") == b"< "
    assert line_prefix(4, None) == b"#4 "
    assert line_prefix(1, "<", "12:00:00.000001") == b"12:00:00.000001 #1 < "


def test_open_and_closed_lines() -> None:
    assert (
        open_line(b"#1 ", "127.0.0.1:5000", "127.0.0.1:6379") == b"#1 open 127.0.0.1:5000 -> 127.0.0.1:6379\n"
    )
    assert open_line(b"#1 ", "a", "b", faulty=True).endswith(b" (faulty)\n")
    assert closed_line(b"#1 ", 6, 7, 0.0125) == b"#1 closed: 6 bytes >, 7 bytes <, 0.013 s\n"


def test_event_line_refuses_unknown_words() -> None:
    with pytest.raises(ValueError, match="not a transcript event"):
        event_line(b"#1 ", b"HELLO")


@given(st.binary(max_size=400), st.sampled_from([b"#1 > ", b"< ", b""]))
def test_lines_give_back_the_chunk(chunk: bytes, prefix: bytes) -> None:
    out = data_lines(prefix, chunk)
    if not chunk:
        assert out == b""
        return
    lines = out.split(b"\n")
    assert lines.pop() == b""
    texts = []
    for line in lines:
        assert line.startswith(prefix)
        text = line[len(prefix) :]
        assert all(0x20 <= b < 0x7F for b in text)  # printable ASCII only
        assert text not in EVENT_WORDS
        texts.append(text)
    # only the last line may lack its escaped line end
    assert all(
        (text.endswith(b"\\n") and not text.endswith(b"\\\\n")) or _ends_with_lf(text) for text in texts[:-1]
    )
    assert b"".join(_unescape(text) for text in texts) == chunk


def _ends_with_lf(text: bytes) -> bool:
    return _unescape(text).endswith(b"\n")


@given(st.binary(min_size=1, max_size=2000))
def test_the_three_speeds_agree(data: bytes) -> None:
    # dense binary, sparse escapes and plain text take different paths; all equal the byte-by-byte map
    expected = b"".join(visible_bytes(bytes([b])) for b in data)
    assert visible_bytes(data) == expected
    assert visible_bytes(b"plain text " * 20 + data) == b"plain text " * 20 + expected


@given(
    st.lists(st.sampled_from([b"a", b"Z", b" ", b"\r", b"\t", b"\0", b"\\", b"\n"]), min_size=1, max_size=200)
)
def test_the_named_escapes_path_agrees_with_the_byte_map(pieces: list[bytes]) -> None:
    # text whose only special bytes are CR, tab, NUL and backslash takes the chained-replace path
    data = b"".join(pieces)
    assert visible_bytes(data) == b"".join(visible_bytes(bytes([b])) for b in data)
