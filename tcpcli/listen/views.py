"""The many-clients server's views in stream mode (-x, --struct, -t) and its --hex-log, kept per client.

Each client has its own renderer, so a hex offset counts that client's bytes only and a record is never cut
from two clients' data. The output says whose data it is: a `# PEER` line before a hex dump whenever the
client differs from the previous chunk's, and a "client" key first in every JSON record.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tcpcli.errors import TcpcliError
from tcpcli.listen.client import Client
from tcpcli.settings import View, ViewSettings
from tcpcli.stream_views import StreamRenderer, make_stream_renderer
from tcpcli.taps import HexLog, timestamp_now


def client_key(fields: tuple[str, ...] | None) -> str:
    """ "client", or "_client" (and so on) when --fields already uses the name: a record keeps every field."""
    key = "client"
    while key in (fields or ()):
        key = "_" + key
    return key


class ClientViews:
    """Renders each client's data through its own renderer and hands the labelled text to `write`."""

    def __init__(self, view: ViewSettings, write: Callable[[bytes], None]) -> None:
        self._view = view
        self._write = write
        self._records = view.view is View.STRUCT
        self._key = json.dumps(client_key(view.fields))
        self._renderers: dict[Client, tuple[StreamRenderer, bytes]] = {}
        self._last: Client | None = None

    @staticmethod
    def wanted(view: ViewSettings) -> bool:
        """False for raw output: then the server keeps its fast path (bytes straight to stdout)."""
        return make_stream_renderer(view) is not None

    def received(self, client: Client, data: bytes) -> None:
        entry = self._renderers.get(client)
        if entry is None:
            entry = self._renderers[client] = self._start(client)
        renderer, label = entry
        out = renderer.feed(data, timestamp_now() if self._view.timestamps else None)
        if not out:
            return
        if self._records:  # compact JSON lines: a raw newline only ever ends a record
            self._write(label + bytes(out[1:]).replace(b"\n{", b"\n" + label))
            return
        header = b"" if client is self._last else label
        self._last = client
        self._write(b"".join((header, out)))  # a copy: the renderer reuses its buffer on the next feed

    def left(self, client: Client) -> str | None:
        """The client is gone: its renderer goes too; returns a warning about its trailing bytes, if any."""
        if self._last is client:
            self._last = None
        entry = self._renderers.pop(client, None)
        warning = entry[0].finish() if entry is not None else None
        return f"{client.peer}: {warning}" if warning else None

    def _start(self, client: Client) -> tuple[StreamRenderer, bytes]:
        renderer = make_stream_renderer(self._view)
        assert renderer is not None  # only built when wanted()
        if self._records:
            return renderer, f"{{{self._key}:{json.dumps(client.peer)},".encode("ascii")
        return renderer, f"# {client.peer}\n".encode("ascii")


class ClientLog:
    """--hex-log for many clients: both directions of each, every entry naming its client.

    Written on the event loop (a file append is short); a failed write stops the server through `failed`.
    """

    def __init__(self, path: str, failed: Callable[[TcpcliError], None]) -> None:
        self._log = HexLog(path)
        self._failed = failed
        self._broken = False

    def sent(self, client: Client, data: bytes) -> None:
        self._record(">", client, data)

    def received(self, client: Client, data: bytes) -> None:
        self._record("<", client, data)

    def left(self, client: Client) -> None:
        self._log.forget(client.peer)

    def close(self) -> None:
        self._log.close()

    def _record(self, direction: str, client: Client, data: bytes) -> None:
        if self._broken:
            return
        try:
            self._log.record(direction, data, client.peer)
        except TcpcliError as exc:
            self._broken = True
            self._failed(exc)
