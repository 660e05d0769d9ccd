"""The views of received bytes (text, `-b`, `-x`, `--struct`), chosen in one place: `make_view`.

Each view turns bytes into styled rich Text through the core (decoder, binary renderer, hex dumper, record
cutter); the screen code never needs to know which one it holds.
"""

from __future__ import annotations

from typing import Protocol

from rich.text import Text

from tcpcli.core.decode import BinaryRenderer, IncrementalSafeDecoder
from tcpcli.core.hexdump import HexDumper
from tcpcli.fronts.terminal.render import RECEIVED, append_pieces
from tcpcli.settings import View, ViewSettings


class ReceivedView(Protocol):
    mode: View
    line_based: bool  # output comes in whole lines: a timestamp goes on a line of its own

    def header(self) -> Text | None:
        """Shown once before any data (the --struct table header)."""
        ...

    def feed(self, data: bytes) -> Text: ...

    def skip(self, count: int) -> None:
        """`count` bytes were not shown (a flood): resynchronise (decoder state, hex offset, record edge)."""
        ...

    def finish(self) -> Text:
        """The peer closed: whatever was held back (a split character, a partial record)."""
        ...


class TextView:
    """Decoded text in the session's codec; controls and invalid bytes made visible."""

    mode = View.TEXT
    line_based = False

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._decoder = IncrementalSafeDecoder(encoding)

    def header(self) -> Text | None:
        return None

    def feed(self, data: bytes) -> Text:
        return append_pieces(Text(), self._decoder.feed(data))

    def skip(self, count: int) -> None:
        self._decoder = IncrementalSafeDecoder(self._encoding)  # a half character before the gap is gone

    def finish(self) -> Text:
        return append_pieces(Text(), self._decoder.finish())


class BinaryView:
    """`-b`: no decoding at all; every byte outside printable ASCII shown as \\xNN."""

    mode = View.BINARY
    line_based = False

    def __init__(self) -> None:
        self._renderer = BinaryRenderer()

    def header(self) -> Text | None:
        return None

    def feed(self, data: bytes) -> Text:
        return append_pieces(Text(), self._renderer.feed(data))

    def skip(self, count: int) -> None:
        pass

    def finish(self) -> Text:
        return append_pieces(Text(), self._renderer.finish())


class HexView:
    """`-x`: `hexdump -C` lines, the offset running across chunks (and across skipped bytes)."""

    mode = View.HEX
    line_based = True

    def __init__(self, start_offset: int = 0) -> None:
        self._dumper = HexDumper(start_offset)

    def header(self) -> Text | None:
        return None

    def feed(self, data: bytes) -> Text:
        return Text(self._dumper.feed(data), RECEIVED)  # the dumper emits printable ASCII and newlines only

    def skip(self, count: int) -> None:
        self._dumper.offset += count

    def finish(self) -> Text:
        return Text(self._dumper.finish(), RECEIVED)


def make_view(mode: View, settings: ViewSettings, offset: int = 0) -> ReceivedView:
    """The view for `mode`; `offset` is how many bytes came before (a hex view toggled on with F2)."""
    if mode is View.BINARY:
        return BinaryView()
    if mode is View.HEX:
        return HexView(offset)
    if mode is View.STRUCT:
        from tcpcli.fronts.terminal.structview import StructView

        assert settings.struct_format is not None
        return StructView(settings.struct_format, settings.fields)
    return TextView(settings.encoding)
