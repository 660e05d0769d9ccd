"""The many-clients server's pipe front: raw bytes to stdout, or the views (-x, --struct, -t) per client.

Each client has its own renderer, so a hex offset counts that client's bytes only and a record is never cut
from two clients' data. The output says whose data it is: a `# PEER` line before a hex dump whenever the
client differs from the previous chunk's, and a "client" key first in every JSON record. stdout is written on
a thread (`OutputWriter`); when it falls behind, the engine stops reading clients (back-pressure, no loss).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import threading
from collections.abc import Callable

from tcpcli.core.events import Event
from tcpcli.engine.seam import Controls, Peer
from tcpcli.engine.taps import OutputFile, timestamp_now, write_all
from tcpcli.errors import TcpcliError, translate_os_error
from tcpcli.report import Reporter
from tcpcli.settings import Settings, View, ViewSettings
from tcpcli.stream_views import StreamRenderer, make_stream_renderer

__all__ = [
    "OUTPUT_HIGH_WATER",
    "OUTPUT_LOW_WATER",
    "OUTPUT_STALL",
    "ClientViews",
    "OutputWriter",
    "PipeSink",
    "client_key",
]

# Received bytes waiting for stdout: past the high mark the clients are paused (their data waits in the
# kernel), below the low mark they resume. Back-pressure instead of loss: the output is the user's.
OUTPUT_HIGH_WATER = 1 << 20
OUTPUT_LOW_WATER = 256 * 1024
# At the end, what was received is written out as long as stdout takes some of it at least this often.
OUTPUT_STALL = 30.0
_POLL = 0.01


def client_key(fields: tuple[str, ...] | None) -> str:
    """ "client", or "_client" (and so on) when --fields already uses the name: a record keeps every field."""
    key = "client"
    while key in (fields or ()):
        key = "_" + key
    return key


class PipeSink:
    """The engine's Sink on pipes: data to stdout (and -o), events to stderr through the reporter."""

    typed_input = False

    def __init__(self, settings: Settings, reporter: Reporter, controls: Controls) -> None:
        self._reporter = reporter
        self._controls = controls
        session = settings.session
        self._output = OutputFile(session.output) if session.output else None
        views = ClientViews.wanted(settings.view)  # then -o gets the raw bytes on the loop
        self._writer = OutputWriter(
            1, None if views else self._output, controls.hold_reading, self._writer_stopped
        )
        self._views = ClientViews(settings.view, self._writer.write) if views else None

    def start(self) -> None:
        pass

    def received(self, client: Peer, data: bytes) -> None:
        if self._views is None:
            self._writer.write(data)
            return
        if self._output is not None:
            try:
                self._output.write(data)
            except TcpcliError as exc:
                self._controls.front_failed(exc)
        self._views.received(client, data)

    def left(self, client: Peer) -> None:
        if self._views is not None and (warning := self._views.left(client)):
            self._reporter.warning(warning)

    def event(self, event: Event, always: bool = False) -> None:
        if always:
            self._reporter.always(event)
        else:
            self._reporter.event(event)

    def warning(self, message: str) -> None:
        self._reporter.warning(message)

    async def close(self, grace: float | None) -> str | None:
        lost = await self._writer.drain(OUTPUT_STALL if grace is None else grace)
        if self._output is not None:
            self._output.close()
        if lost:
            stall = OUTPUT_STALL if grace is None else grace
            return f"{lost} received bytes were not written to stdout (it took none for {stall:g} s)"
        return None

    def _writer_stopped(self) -> None:
        self._controls.front_failed(self._writer.failed)


class ClientViews:
    """Renders each client's data through its own renderer and hands the labelled text to `write`."""

    def __init__(self, view: ViewSettings, write: Callable[[bytes], None]) -> None:
        self._view = view
        self._write = write
        self._records = view.view is View.STRUCT
        self._key = json.dumps(client_key(view.fields))
        self._renderers: dict[Peer, tuple[StreamRenderer, bytes]] = {}
        self._last: Peer | None = None

    @staticmethod
    def wanted(view: ViewSettings) -> bool:
        """False for raw output: then the server keeps its fast path (bytes straight to stdout)."""
        return make_stream_renderer(view) is not None

    def received(self, client: Peer, data: bytes) -> None:
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

    def left(self, client: Peer) -> str | None:
        """The client is gone: its renderer goes too; returns a warning about its trailing bytes, if any."""
        if self._last is client:
            self._last = None
        entry = self._renderers.pop(client, None)
        warning = entry[0].finish() if entry is not None else None
        return f"{client.peer}: {warning}" if warning else None

    def _start(self, client: Peer) -> tuple[StreamRenderer, bytes]:
        renderer = make_stream_renderer(self._view)
        assert renderer is not None  # only built when wanted()
        if self._records:
            return renderer, f"{{{self._key}:{json.dumps(client.peer)},".encode("ascii")
        return renderer, f"# {client.peer}\n".encode("ascii")


class OutputWriter:
    """Writes to stdout (and `-o`) on a thread.

    On the loop it calls `pause(True/False)` for back-pressure, and `stop()` when writing failed: `failed`
    then holds the error, or None when the reader of stdout went away (`| head -1`: a quiet exit).
    """

    def __init__(
        self, fd: int, output: OutputFile | None, pause: Callable[[bool], None], stop: Callable[[], None]
    ) -> None:
        self._fd = fd
        self._output = output
        self._pause = pause
        self._stop = stop
        self._loop = asyncio.get_running_loop()
        self._chunks: collections.deque[bytes] = collections.deque()
        self.pending = 0  # bytes handed to us and not yet written
        self._paused = False
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.failed: TcpcliError | None = None
        self.stopped = False
        self._thread = threading.Thread(target=self._run, name="stdout", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        with self._lock:
            self._chunks.append(data)
            self.pending += len(data)
            pause = not self._paused and self.pending > OUTPUT_HIGH_WATER
            if pause:
                self._paused = True
        self._wake.set()
        if pause:
            self._pause(True)

    async def drain(self, stall: float) -> int:
        """Wait until what was written is out, as long as some of it goes out every `stall` seconds;
        returns how many bytes were not written (0: all of them)."""
        self._wake.set()
        last, since = self.pending, self._loop.time()
        while self.pending and not self.stopped:
            await asyncio.sleep(_POLL)
            now = self._loop.time()
            if self.pending < last:
                last, since = self.pending, now
            elif now - since >= stall:
                break
        return 0 if self.stopped else self.pending  # a failed stdout is its own error (or `| head`)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                chunks = list(self._chunks)
                self._chunks.clear()
            if not chunks:
                continue
            data = b"".join(chunks)
            try:
                write_all(self._fd, data)
                if self._output is not None:
                    self._output.write(data)
            except BrokenPipeError:
                self._give_up(None)
                return
            except TcpcliError as exc:
                self._give_up(exc)
                return
            except OSError as exc:
                self._give_up(translate_os_error(exc, "writing to stdout"))
                return
            with self._lock:
                self.pending -= len(data)
                resume = self._paused and self.pending < OUTPUT_LOW_WATER
                if resume:
                    self._paused = False
            if resume:
                with contextlib.suppress(RuntimeError):  # the loop is gone: nothing to resume
                    self._loop.call_soon_threadsafe(self._pause, False)

    def _give_up(self, error: TcpcliError | None) -> None:
        self.failed = error
        self.stopped = True
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._stop)
