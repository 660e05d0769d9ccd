"""RecordCutter, format_json_lines, format_field: whole records whatever the chunking, always valid JSON."""

from __future__ import annotations

import json
import math
import struct
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpcli.core.records import RecordCutter, RecordFormatError, format_field, format_json_lines

FORMATS = ["<HI", ">bB?", "<q", "<f", "<d", "<e", "<4s", "<c", "<3h", "<H2xI", "<5p", "!IQ", "@i", "<?8sd"]


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def cut(fmt: str, chunks: list[bytes]) -> tuple[list[tuple[object, ...]], bytes]:
    cutter = RecordCutter(fmt)
    records: list[tuple[object, ...]] = []
    for chunk in chunks:
        records += cutter.feed(chunk)
    return records, cutter.finish()


def same(a: object, b: object) -> bool:
    """Equality that treats NaN as equal to NaN (records compare as data, not as numbers)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "fields", "message"),
    [
        ("<Z", None, "invalid struct format '<Z'"),
        ("", None, "0-byte records"),
        ("<", None, "0-byte records"),
        ("0s", None, "0-byte records"),
        ("4x", None, "only pad bytes"),
        ("1000000000s", None, "the limit is"),
        ("<HI", ["a", "b", "c"], "expected 2 names for format '<HI', got 3"),
        ("<15s", ["a", "b"], "expected 1 names for format '<15s', got 2"),
        ("<3h", ["a"], "expected 3 names for format '<3h', got 1"),
        ("<HI", ["a", "a"], "field name 'a' is given twice"),
        ("<HI", ["a", ""], "cannot be empty"),
    ],
)
def test_bad_formats_and_fields_say_why(fmt: str, fields: list[str] | None, message: str) -> None:
    with pytest.raises(RecordFormatError) as info:
        RecordCutter(fmt, fields)
    assert message in str(info.value)


def test_record_format_error_is_a_value_error() -> None:
    assert issubclass(RecordFormatError, ValueError)


@pytest.mark.parametrize(
    ("fmt", "names"),
    [
        ("<HI", ("f0", "f1")),
        ("<15s", ("f0",)),
        ("<3h", ("f0", "f1", "f2")),
        ("<H2xI", ("f0", "f1")),
        ("<5p", ("f0",)),
        ("<c?", ("f0", "f1")),
    ],
)
def test_default_names_one_per_value(fmt: str, names: tuple[str, ...]) -> None:
    cutter = RecordCutter(fmt)
    assert cutter.field_names == names
    assert cutter.record_size == struct.calcsize(fmt)


def test_given_names_are_used() -> None:
    assert RecordCutter("<3h", ("x", "y", "z")).field_names == ("x", "y", "z")


# --- cutting -------------------------------------------------------------------------------------


def test_partial_record_waits_for_the_rest() -> None:
    cutter = RecordCutter("<HI")
    assert cutter.feed(b"\x01\x00\x02") == []
    assert cutter.feed(b"\x00\x00\x00\x03\x00") == [(1, 2)]
    assert cutter.finish() == b"\x03\x00"
    assert cutter.finish() == b""


def test_several_records_in_one_chunk() -> None:
    data = struct.pack("<HI", 1, 2) + struct.pack("<HI", 3, 4)
    assert RecordCutter("<HI").feed(data) == [(1, 2), (3, 4)]


def test_pad_bytes_are_skipped_and_strings_are_one_value() -> None:
    cutter = RecordCutter("<B2x4s")
    assert cutter.feed(b"\x07..abcd") == [(7, b"abcd")]


def test_cutter_accepts_bytearray_and_memoryview() -> None:
    cutter = RecordCutter("<H")
    assert cutter.feed(bytearray(b"\x01\x00\x02")) == [(1,)]
    assert cutter.feed(memoryview(b"\x00")) == [(2,)]


@settings(max_examples=80)
@given(st.data(), st.sampled_from(FORMATS), st.binary(max_size=120))
def test_chunking_never_changes_the_records(data: st.DataObject, fmt: str, raw: bytes) -> None:
    whole = cut(fmt, [raw])
    size = struct.calcsize(fmt)
    assert len(whole[0]) == len(raw) // size
    assert whole[1] == raw[len(raw) - len(raw) % size :]
    assert same(tuple(cut(fmt, [bytes([b]) for b in raw])[0]), tuple(whole[0]))
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8))
    records, leftover = cut(fmt, split_at(raw, cuts))
    assert same(tuple(records), tuple(whole[0]))
    assert leftover == whole[1]


# --- JSON Lines ----------------------------------------------------------------------------------


def json_lines(fmt: str, data: bytes, fields: list[str] | None = None) -> list[dict[str, object]]:
    cutter = RecordCutter(fmt, fields)
    text = format_json_lines(cutter.field_names, cutter.feed(data))
    assert text.isascii()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_integers_exact_with_names() -> None:
    data = struct.pack("<HQ", 8080, 2**64 - 1) + struct.pack("<HQ", 0, 5)
    assert json_lines("<HQ", data, ["port", "count"]) == [
        {"port": 8080, "count": 2**64 - 1},
        {"port": 0, "count": 5},
    ]


def test_output_is_compact_one_object_per_line() -> None:
    cutter = RecordCutter("<HI", ["a", "b"])
    assert format_json_lines(cutter.field_names, [(1, 2), (3, 4)]) == '{"a":1,"b":2}\n{"a":3,"b":4}\n'


def test_no_records_is_empty_text() -> None:
    assert format_json_lines(("a",), []) == ""


def test_floats_and_non_finite_become_null() -> None:
    data = b"".join(struct.pack("<d", v) for v in [1.5, -0.0, math.nan, math.inf, -math.inf, 1e300])
    assert [line["f0"] for line in json_lines("<d", data)] == [1.5, -0.0, None, None, None, 1e300]


def test_mixed_int_and_float_columns() -> None:
    data = struct.pack("<Hf", 7, math.nan) + struct.pack("<Hf", 8, 0.5)
    assert json_lines("<Hf", data) == [{"f0": 7, "f1": None}, {"f0": 8, "f1": 0.5}]


def test_bools_are_true_and_false() -> None:
    assert json_lines("<?H", b"\x01\x05\x00\x00\x06\x00") == [{"f0": True, "f1": 5}, {"f0": False, "f1": 6}]


def test_string_fields_strip_nul_padding_and_show_invalid_bytes() -> None:
    data = b"hi\0\0\0\0\0\0" + b"\xff\x1bA\0\0\0\0\0" + "é".encode() + b"\0" * 6
    assert [line["f0"] for line in json_lines("<8s", data)] == ["hi", "\\xff\x1bA", "é"]


def test_string_fields_are_escaped_in_the_json_text() -> None:
    cutter = RecordCutter("<4s")
    text = format_json_lines(cutter.field_names, cutter.feed(b"\x1b[2J" + "\u202e".encode() + b"\0"))
    assert text == '{"f0":"\\u001b[2J"}\n{"f0":"\\u202e"}\n'


def test_char_and_pascal_fields_are_strings() -> None:
    assert json_lines("<c5p", b"A\x03abc\0") == [{"f0": "A", "f1": "abc"}]
    assert json_lines("<c", b"\0") == [{"f0": ""}]


def test_awkward_field_names_stay_valid_json() -> None:
    names = ['quo"te', "per%cent", "%d", "nan", "\u202eevil", "back\\slash"]
    data = struct.pack("<6H", 1, 2, 3, 4, 5, 6)
    assert json_lines("<6H", data, names) == [dict(zip(names, [1, 2, 3, 4, 5, 6], strict=True))]


def test_mixed_value_types_not_from_a_cutter() -> None:
    text = format_json_lines(("a", "b"), [(1, "x\n"), (True, 2.5), (b"z\0", math.nan)])
    assert [json.loads(line) for line in text.splitlines()] == [
        {"a": 1, "b": "x\n"},
        {"a": True, "b": 2.5},
        {"a": "z", "b": None},
    ]


@settings(max_examples=80)
@given(st.data(), st.sampled_from(FORMATS), st.binary(max_size=200))
def test_every_line_is_a_json_object_with_the_field_names(data: st.DataObject, fmt: str, raw: bytes) -> None:
    cutter = RecordCutter(fmt)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=5))
    lines: list[dict[str, object]] = []
    for chunk in split_at(raw, cuts):
        text = format_json_lines(cutter.field_names, cutter.feed(chunk))
        assert text.isascii()
        lines += [json.loads(line) for line in text.splitlines()]
    assert len(lines) == len(raw) // cutter.record_size
    assert all(list(line) == list(cutter.field_names) for line in lines)


# --- table cells ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (42, "42"),
        (-1, "-1"),
        (True, "true"),
        (False, "false"),
        (1.5, "1.5"),
        (math.nan, "nan"),
        (-math.inf, "-inf"),
        (b"name\0\0\0", "name"),
        (b"a\nb\tc", "a\\nb\\tc"),
        (b"\x1b[31m", "\\x1b[31m"),
        (b"\xff\xfe", "\\xff\\xfe"),
        (b"\r\n", "\\r\\n"),  # a cell is one line: both bytes shown (core.visible.one_line)
        ("\u202eabc", "\\u202eabc"),
        ("[bold]x[/]", "[bold]x[/]"),
    ],
)
def test_format_field(value: object, cell: str) -> None:
    assert format_field(value) == cell


@settings(max_examples=150)
@given(st.one_of(st.binary(max_size=20), st.text(max_size=20), st.integers(), st.floats(), st.booleans()))
def test_cells_are_always_printable_single_lines(value: object) -> None:
    assert format_field(value).isprintable()
