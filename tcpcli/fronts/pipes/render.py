"""Pipe renderings of received bytes as plain text: `-x` hex dump, `--struct` JSON Lines, `-t` stamps.

One implementation for one peer and many. The one-peer engine runs a renderer in its receiving thread (lent
through seam.Renderer); with many peers `ClientViews` gives each client a renderer of its own (its own hex
offsets, records never cut from two clients' data) and labels what it renders: a `# PEER` line before a hex
dump whenever the client differs from the previous chunk's, a "client" key first in every JSON record.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tcpcli.engine.seam import Peer, Renderer
from tcpcli.settings import View, ViewSettings

__all__ = [
    "ClientViews",
    "DatagramHexRenderer",
    "HexRenderer",
    "JsonLinesRenderer",
    "client_key",
    "make_renderer",
]


class HexRenderer:
    """`-x`: `hexdump -C` lines at the running offset; `-t`: a `[HH:MM:SS.ffffff]` line before each chunk."""

    def __init__(self) -> None:
        from tcpcli.core.hexdump import HexDumper

        self._dumper = HexDumper()

    def feed(self, data: bytes, timestamp: str | None) -> memoryview:
        stamp = b"" if timestamp is None else f"[{timestamp}]\n".encode("ascii")
        return self._dumper.feed_view(data, stamp)  # a reused buffer: no fresh memory per chunk

    def finish(self) -> str | None:
        return None


class DatagramHexRenderer:
    """-u -x: one `hexdump -C` dump per datagram, offsets from 0 (a datagram is a message, not a stream)."""

    def feed(self, data: bytes, timestamp: str | None) -> bytes:
        from tcpcli.core.hexdump import format_hex_bytes

        stamp = b"" if timestamp is None else f"[{timestamp}]\n".encode("ascii")
        return stamp + format_hex_bytes(data, 0)

    def finish(self) -> str | None:
        return None


class JsonLinesRenderer:
    """`--struct FMT`: one compact JSON object per whole record and line; trailing bytes told at the end."""

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


def make_renderer(view: ViewSettings) -> Renderer | None:
    """The rendering the view asks for on pipes; None means raw bytes (`-b`, `-t` alone: the bytes as they
    are, as for one peer), so the fast paths stay open."""
    if view.view is View.HEX:
        return HexRenderer()
    if view.view is View.STRUCT:
        assert view.struct_format is not None
        return JsonLinesRenderer(view.struct_format, view.fields)
    return None


def client_key(fields: tuple[str, ...] | None) -> str:
    """ "client", or "_client" (and so on) when --fields already uses the name: a record keeps every field."""
    key = "client"
    while key in (fields or ()):
        key = "_" + key
    return key


class ClientViews:
    """Many peers: each client's data through its own renderer, labelled, handed to `write` as bytes.

    `stamp()` gives the `-t` time of a chunk (the mode passes the clock: fronts read none themselves).
    """

    def __init__(self, view: ViewSettings, write: Callable[[bytes], None], stamp: Callable[[], str]) -> None:
        self._view = view
        self._write = write
        self._stamp = stamp if view.timestamps else None
        self._records = view.view is View.STRUCT
        self._key = json.dumps(client_key(view.fields))
        self._renderers: dict[Peer, tuple[Renderer, bytes]] = {}
        self._last: Peer | None = None

    @staticmethod
    def wanted(view: ViewSettings) -> bool:
        """False for raw output: then the server keeps its fast path (bytes straight to stdout)."""
        return view.view in (View.HEX, View.STRUCT)

    def received(self, client: Peer, data: bytes) -> None:
        entry = self._renderers.get(client)
        if entry is None:
            entry = self._renderers[client] = self._start(client)
        renderer, label = entry
        out = renderer.feed(data, self._stamp() if self._stamp is not None else None)
        if not out:
            return
        if self._records:  # compact JSON lines: a raw newline only ever ends a record
            self._write(label + bytes(out[1:]).replace(b"\n{", b"\n" + label))
            return
        header = b"" if client is self._last else label
        self._last = client
        self._write(b"".join((header, out)))  # a copy: the renderer reuses its buffer on the next feed

    def left(self, client: Peer) -> str | None:
        """The client is gone: its renderer goes too; returns a warning about its trailing bytes, if any."""
        if self._last is client:
            self._last = None
        entry = self._renderers.pop(client, None)
        warning = entry[0].finish() if entry is not None else None
        return f"{client.peer}: {warning}" if warning else None

    def _start(self, client: Peer) -> tuple[Renderer, bytes]:
        renderer = make_renderer(self._view)
        assert renderer is not None  # only built when wanted()
        if self._records:
            return renderer, f"{{{self._key}:{json.dumps(client.peer)},".encode("ascii")
        return renderer, f"# {client.peer}\n".encode("ascii")
