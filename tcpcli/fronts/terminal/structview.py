"""`--struct` in interactive mode: one table row per record under a single header.

Rows are printed as records complete, so column widths cannot come from the whole table: each column is as
wide as its name (at least MIN_WIDTH) and grows when a wider value arrives (later rows then line up anew).
"""

from __future__ import annotations

import struct

from rich.cells import cell_len
from rich.text import Text

from tcpcli.core.records import RecordCutter, format_field
from tcpcli.fronts.terminal.render import HEADER, NOTE, RECEIVED
from tcpcli.settings import View

MIN_WIDTH = 8
GAP = "  "


class StructView:
    """Records -> aligned rows; numbers right-aligned, text left-aligned."""

    mode = View.STRUCT
    line_based = True

    def __init__(self, fmt: str, fields: tuple[str, ...] | None) -> None:
        self._cutter = RecordCutter(fmt, fields)
        names = [format_field(name) for name in self._cutter.field_names]
        self._names = names
        self._widths = [max(MIN_WIDTH, cell_len(name)) for name in names]
        # A record of zero bytes tells which fields are numbers, so each header lines up with its column.
        sample = struct.unpack(fmt, bytes(self._cutter.record_size))
        self._numeric = [_is_number(value) for value in sample]
        self._position = 0  # stream bytes fed or skipped: record edges are multiples of the record size
        self._discard = 0  # bytes still to drop after a skip, to land on the next record edge

    def header(self) -> Text | None:
        return Text(self._row(self._names, self._numeric), HEADER)

    def feed(self, data: bytes) -> Text:
        self._position += len(data)
        if self._discard:
            dropped = min(self._discard, len(data))
            data = data[dropped:]
            self._discard -= dropped
        out = Text()
        for record in self._cutter.feed(data):
            cells = [format_field(value) for value in record]
            out.append(self._row(cells, self._numeric), RECEIVED)
        return out

    def skip(self, count: int) -> None:
        self._cutter.finish()  # the partial record before the gap can never complete
        self._position += count
        self._discard = -self._position % self._cutter.record_size

    def finish(self) -> Text:
        leftover = self._cutter.finish()
        if not leftover:
            return Text()
        size = self._cutter.record_size
        noun = "byte" if len(leftover) == 1 else "bytes"
        more = " ..." if len(leftover) > 32 else ""
        note = (
            f"-- {len(leftover)} trailing {noun} did not make a whole {size}-byte record:"
            f" {leftover[:32].hex(' ')}{more}\n"
        )
        return Text(note, NOTE)

    def _row(self, cells: list[str], numeric: list[bool]) -> str:
        parts = []
        for index, (cell, right) in enumerate(zip(cells, numeric, strict=True)):
            self._widths[index] = width = max(self._widths[index], cell_len(cell))
            pad = " " * (width - cell_len(cell))
            parts.append(pad + cell if right else cell + pad)
        return GAP.join(parts).rstrip() + "\n"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
