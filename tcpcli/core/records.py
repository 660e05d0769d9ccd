"""`--struct` records: cut received bytes into fixed-size records; render them as JSON Lines or cells.

Records must not depend on how TCP happened to split the stream, so the cutter keeps a partial record
until the rest arrives and reports what is left over at the end. JSON Lines is the stream-mode output
that scripts consume, so it is always valid JSON (NaN and infinities become null) and pure ASCII.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Sequence
from itertools import chain
from json.encoder import encode_basestring_ascii  # the C string encoder behind json.dumps
from typing import cast

from tcpcli.core.decode import decode_marked
from tcpcli.core.visible import one_line

__all__ = ["RecordCutter", "RecordFormatError", "format_field", "format_json_lines"]

# A record larger than this is almost certainly a typo ("1000000s"), and the cutter would buffer that
# much before showing anything; the limit keeps memory bounded.
MAX_RECORD_SIZE = 1 << 20


class RecordFormatError(ValueError):
    """A --struct format or --fields list that cannot describe records; the message says why."""


class RecordCutter:
    """Cuts a byte stream into whole records of a struct format; chunking never changes the records."""

    __slots__ = ("_pending", "_struct", "field_names", "format", "record_size")

    def __init__(self, fmt: str, fields: Sequence[str] | None = None) -> None:
        try:
            self._struct = struct.Struct(fmt)
        except struct.error as exc:
            raise RecordFormatError(f"invalid struct format {fmt!r}: {exc}") from None
        self.format = fmt
        self.record_size = self._struct.size
        if self.record_size == 0:
            raise RecordFormatError(
                f"struct format {fmt!r} describes 0-byte records; give a field, e.g. '<HI'"
            )
        if self.record_size > MAX_RECORD_SIZE:
            raise RecordFormatError(
                f"struct format {fmt!r} describes {self.record_size}-byte records;"
                f" the limit is {MAX_RECORD_SIZE} bytes"
            )
        # "15s" is one value, "3h" three, "x" none: count what a record really unpacks to.
        count = len(self._struct.unpack(bytes(self.record_size)))
        if count == 0:
            raise RecordFormatError(f"struct format {fmt!r} has only pad bytes: records would have no fields")
        self.field_names = _field_names(fmt, count, fields)
        self._pending = b""  # a partial record, always shorter than record_size

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[object, ...]]:
        """The whole records completed by data, in order; a trailing partial record is kept."""
        if self._pending:
            data = self._pending + data
        whole = len(data) - len(data) % self.record_size
        self._pending = bytes(data[whole:])
        if not whole:
            return []
        return list(self._struct.iter_unpack(memoryview(data)[:whole]))

    def finish(self) -> bytes:
        """End of stream: the leftover bytes of a partial record (b"" if none); the cutter starts afresh."""
        leftover, self._pending = self._pending, b""
        return leftover


def _field_names(fmt: str, count: int, fields: Sequence[str] | None) -> tuple[str, ...]:
    if fields is None:
        return tuple(f"f{i}" for i in range(count))
    names = tuple(fields)
    if len(names) != count:
        raise RecordFormatError(f"expected {count} names for format {fmt!r}, got {len(names)}")
    if not all(names):
        raise RecordFormatError("field names cannot be empty")
    if len(set(names)) != len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise RecordFormatError(f"field name {twice!r} is given twice")
    return names


# --- values as text --------------------------------------------------------------------------------

_MARKERS_AS_HEX = {0xDC00 + byte: f"\\x{byte:02x}" for byte in range(256)}


def _bytes_text(value: bytes) -> str:
    """A C string field as text: trailing NUL padding dropped, UTF-8, invalid bytes spelled \\xNN."""
    value = value.rstrip(b"\0")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return decode_marked(value).translate(_MARKERS_AS_HEX)


def _bytes_json(value: bytes) -> str:
    return encode_basestring_ascii(_bytes_text(value))


def _any_json(value: object) -> str:
    """One value of a column of mixed types as JSON text (not produced by RecordCutter)."""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))  # int() so that an IntEnum prints as its number
    if isinstance(value, float):
        return _number_json(repr(float(value)))
    if isinstance(value, bytes):
        return _bytes_json(value)
    return encode_basestring_ascii(value if isinstance(value, str) else str(value))


_BOOL_JSON = {True: "true", False: "false"}
_NOT_JSON_NUMBERS = {"nan": "null", "inf": "null", "-inf": "null"}  # repr of NaN and the infinities


def _number_json(text: str) -> str:
    return _NOT_JSON_NUMBERS.get(text, text)


def _column_json(column: tuple[object, ...]) -> Iterable[str]:
    """A column of values as JSON texts, by one map over the column (C-level for numbers and bools)."""
    kinds = set(map(type, column))
    if kinds <= {int, float}:
        texts = list(map(repr, column))
        return map(_NOT_JSON_NUMBERS.get, texts, texts) if float in kinds else texts
    if kinds == {bool}:
        return map(_BOOL_JSON.__getitem__, cast("tuple[bool, ...]", column))
    if kinds == {bytes}:
        return map(_bytes_json, cast("tuple[bytes, ...]", column))
    return map(_any_json, column)


@functools.lru_cache(maxsize=64)
def _line_template(names: tuple[str, ...], slot: str) -> str:
    """A %-template for one record's JSON line: the keys encoded once, then a slot per value."""
    members = (encode_basestring_ascii(name).replace("%", "%%") + ":" + slot for name in names)
    return "{" + ",".join(members) + "}\n"


def format_json_lines(cutter_field_names: tuple[str, ...], records: list[tuple[object, ...]]) -> str:
    """One compact JSON object per record, one per line, each ending "\\n"; pure ASCII.

    Bytes fields (s, p, c) become strings (see _bytes_text), bools true/false, NaN and infinities null.
    No Python code runs per value for numbers: records of plain ints go straight into a precompiled
    %-template; otherwise each column is converted to JSON texts by one map, and the texts fill it.
    """
    if not records:
        return ""
    if set(map(type, chain.from_iterable(records))) == {int}:
        return "".join(map(_line_template(cutter_field_names, "%d").__mod__, records))
    columns = [_column_json(column) for column in zip(*records, strict=True)]
    return "".join(map(_line_template(cutter_field_names, "%s").__mod__, zip(*columns, strict=True)))


def format_field(value: object) -> str:
    """One value as a table cell: printable, on one line (newline and tab shown as \\n and \\t)."""
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int or isinstance(value, float):
        return repr(value)
    text = _bytes_text(value) if isinstance(value, bytes) else str(value)
    return one_line(text)
