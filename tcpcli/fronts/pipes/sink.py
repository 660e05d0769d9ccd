"""The pipes front as the many-peer engine's Sink: raw bytes to stdout, or each client's rendering.

stdout is written on a thread (`OutputWriter`); when it falls behind, the engine stops reading clients
(back-pressure, no loss). The mode hands in what touches the world: the stdout writer, `-o` and the clock.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Callable

from tcpcli.core.events import Event
from tcpcli.engine.seam import ByteTap, Controls, Peer
from tcpcli.errors import TcpcliError, translate_os_error
from tcpcli.fronts.pipes.render import ClientViews
from tcpcli.report import Reporter
from tcpcli.settings import ViewSettings

__all__ = ["OUTPUT_HIGH_WATER", "OUTPUT_LOW_WATER", "OUTPUT_STALL", "OutputWriter", "PipeSink"]

# Received bytes waiting for stdout: past the high mark the clients are paused (their data waits in the
# kernel), below the low mark they resume. Back-pressure instead of loss: the output is the user's.
OUTPUT_HIGH_WATER = 1 << 20
OUTPUT_LOW_WATER = 256 * 1024
# At the end, what was received is written out as long as stdout takes some of it at least this often.
OUTPUT_STALL = 30.0
_POLL = 0.01


class PipeSink:
    """The engine's Sink on pipes: data to stdout (and -o), events to stderr through the reporter."""

    typed_input = False

    def __init__(
        self,
        view: ViewSettings,
        reporter: Reporter,
        controls: Controls,
        stdout: Callable[[bytes], None],
        output: ByteTap | None,
        stamp: Callable[[], str],
    ) -> None:
        """`stdout(data)` writes all of `data` (blocking, on the writer's thread; raises OSError);
        `output`: `-o`; `stamp()`: the `-t` time of a chunk."""
        self._reporter = reporter
        self._controls = controls
        self._output = output
        views = ClientViews.wanted(view)  # then -o gets the raw bytes on the loop
        self._writer = OutputWriter(
            stdout, None if views else output, controls.hold_reading, self._writer_stopped
        )
        self._views = ClientViews(view, self._writer.write, stamp) if views else None

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


class OutputWriter:
    """Writes to stdout (`write`, blocking) and `-o` on a thread.

    On the loop it calls `pause(True/False)` for back-pressure, and `stop()` when writing failed: `failed`
    then holds the error, or None when the reader of stdout went away (`| head -1`: a quiet exit).
    """

    def __init__(
        self,
        write: Callable[[bytes], None],
        output: ByteTap | None,
        pause: Callable[[bool], None],
        stop: Callable[[], None],
    ) -> None:
        self._write = write
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
                self._write(data)
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
