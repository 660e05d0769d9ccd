"""Stream-mode renderings of received bytes (`-x` hex dump, `--struct` JSON Lines) as plain text."""

from __future__ import annotations

from typing import Protocol

from tcpcli.settings import View, ViewSettings


class StreamRenderer(Protocol):
    def feed(self, data: bytes, timestamp: str | None) -> bytes | memoryview:
        """The rendering of one received chunk; a memoryview is only valid until the next feed()."""
        ...

    def finish(self) -> str | None:
        """Called once at the end; returns a warning line (without `tcpcli: `) or None."""
        ...


class HexRenderer:
    def __init__(self) -> None:
        from tcpcli.core.hexdump import HexDumper

        self._dumper = HexDumper()

    def feed(self, data: bytes, timestamp: str | None) -> memoryview:
        stamp = b"" if timestamp is None else f"[{timestamp}]\n".encode("ascii")
        return self._dumper.feed_view(data, stamp)  # a reused buffer: no fresh memory per chunk

    def finish(self) -> str | None:
        return None


class JsonLinesRenderer:
    def __init__(self, fmt: str, fields: tuple[str, ...] | None) -> None:
        from tcpcli.core.records import RecordCutter

        self._cutter = RecordCutter(fmt, fields)

    def feed(self, data: bytes, timestamp: str | None) -> bytes:
        from tcpcli.core.records import format_json_lines

        records = self._cutter.feed(data)
        if not records:
            return b""
        return format_json_lines(self._cutter.field_names, records).encode("utf-8")

    def finish(self) -> str | None:
        leftover = self._cutter.finish()
        if not leftover:
            return None
        size = self._cutter.record_size
        return (
            f"{len(leftover)} trailing byte{'s' if len(leftover) != 1 else ''} did not make a whole"
            f" {size}-byte record: {leftover[:32].hex(' ')}{' ...' if len(leftover) > 32 else ''}"
        )


def make_stream_renderer(view: ViewSettings) -> StreamRenderer | None:
    """None means raw bytes: the fast path stays open."""
    if view.view is View.HEX:
        return HexRenderer()
    if view.view is View.STRUCT:
        assert view.struct_format is not None
        return JsonLinesRenderer(view.struct_format, view.fields)
    return None
