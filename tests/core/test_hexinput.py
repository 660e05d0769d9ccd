"""parse_hex / parse_escapes: every accepted spelling, every rejection names the token and where it is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpcli.core.hexdump import HexDumper
from tcpcli.core.hexinput import HexInputError, parse_escapes, parse_hex


@pytest.mark.parametrize(
    "text",
    [
        "01 02 ff",
        "0x01 0x02 0xff",
        "0X01 0X02 0XFF",
        "\\x01\\x02\\xff",
        "0102ff",
        "01:02:ff",
        "01,02,ff",
        "01, 02,\tFF",
        "  01  02\tff  ",
        "0x0102 ff",
        "\\x01 0x02:ff",
    ],
)
def test_accepted_hex_spellings(text: str) -> None:
    assert parse_hex(text) == b"\x01\x02\xff"


def test_empty_hex_is_no_bytes() -> None:
    assert parse_hex("") == b""
    assert parse_hex(" , : ") == b""


@pytest.mark.parametrize(
    ("text", "position", "token"),
    [
        ("01 zz 02", 3, "'zz'"),
        ("01 2", 3, "'2'"),
        ("012", 0, "'012'"),
        ("0x1", 0, "'0x1'"),
        ("01 0x", 3, "'0x'"),
        ("\\x4", 0, "'\\x4'"),
        ("01 02 0g", 6, "'0g'"),
        ("ab\x1bcd", 0, "'ab\\x1bcd'"),  # control characters in the message are made visible
    ],
)
def test_bad_hex_names_token_and_position(text: str, position: int, token: str) -> None:
    with pytest.raises(HexInputError) as info:
        parse_hex(text)
    assert info.value.position == position
    assert token in str(info.value)
    assert f"position {position}" in str(info.value)


def test_odd_digit_count_message_suggests_two_digits() -> None:
    with pytest.raises(HexInputError, match="two digits"):
        parse_hex("1 2 3")


def test_hex_input_error_is_a_value_error() -> None:
    assert issubclass(HexInputError, ValueError)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("0123456789abcdefxX\\ ,:\tzg-") | st.characters(), max_size=30))
def test_hex_parser_only_ever_raises_its_own_error(text: str) -> None:
    try:
        parse_hex(text)
    except HexInputError as exc:
        assert 0 <= exc.position < len(text)


@settings(max_examples=100)
@given(st.binary(max_size=64), st.sampled_from([" ", ":", ",", ""]), st.booleans())
def test_hex_round_trips(data: bytes, sep: str, upper: bool) -> None:
    text = data.hex(sep) if sep else data.hex()
    assert parse_hex(text.upper() if upper else text) == data


@settings(max_examples=100)
@given(st.binary(max_size=100), st.integers(0, 100))
def test_hex_columns_of_a_dump_parse_back(data: bytes, offset: int) -> None:
    dump = HexDumper(offset).feed(data)
    hex_columns = " ".join(line[line.index("  ") + 2 : line.index("|")] for line in dump.splitlines())
    assert parse_hex(hex_columns) == data


# --- escapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", b"hello"),
        ("a\\nb", b"a\nb"),
        ("\\r\\n", b"\r\n"),
        ("\\t", b"\t"),
        ("\\0", b"\0"),
        ("\\012", b"\x0012"),  # \0 is NUL, never octal
        ("\\x41\\xff", b"A\xff"),
        ("\\X41", b"A"),
        ("\\\\n", b"\\n"),
        ("é", "é".encode()),
        ("", b""),
    ],
)
def test_escapes(text: str, expected: bytes) -> None:
    assert parse_escapes(text) == expected


def test_escapes_use_the_encoding_for_text_but_not_for_hex_bytes() -> None:
    assert parse_escapes("é\\xe9", "latin-1") == b"\xe9\xe9"
    assert parse_escapes("é\\xff", "utf-8") == b"\xc3\xa9\xff"


def test_stateful_encoding_gets_one_bom() -> None:
    assert parse_escapes("a\\nb", "utf-16") == "a".encode("utf-16") + b"\n" + "b".encode("utf-16-le")


@pytest.mark.parametrize(
    ("text", "position", "needle"),
    [
        ("ab\\q", 2, "unknown escape '\\q'"),
        ("\\x4", 0, "'\\x4'"),
        ("x\\x4g", 1, "'\\x4g'"),
        ("\\x", 0, "'\\x'"),
        ("end\\", 3, "lone backslash"),
    ],
)
def test_bad_escapes_name_the_escape_and_position(text: str, position: int, needle: str) -> None:
    with pytest.raises(HexInputError) as info:
        parse_escapes(text)
    assert info.value.position == position
    assert needle in str(info.value)


def test_character_the_encoding_cannot_hold_is_an_error_at_its_position() -> None:
    with pytest.raises(HexInputError) as info:
        parse_escapes("ab\\ncé", "ascii")
    assert info.value.position == 5
    assert "ascii" in str(info.value)


@settings(max_examples=300)
@given(
    st.text(alphabet=st.sampled_from("\\xnrt0q4fF ") | st.characters(), max_size=30),
    st.sampled_from(["utf-8", "ascii", "latin-1", "utf-16", "shift_jis"]),
)
def test_escape_parser_only_ever_raises_its_own_error(text: str, encoding: str) -> None:
    try:
        parse_escapes(text, encoding)
    except HexInputError as exc:
        assert 0 <= exc.position < len(text)


@settings(max_examples=100)
@given(st.binary(max_size=64))
def test_escaped_bytes_round_trip(data: bytes) -> None:
    assert parse_escapes("".join(f"\\x{b:02x}" for b in data)) == data
