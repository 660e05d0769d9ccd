"""The relay's transcript on pipes: who said what on each connection, as lines on stdout.

The lines come from core.transcriber (text, or `-x` hex, with `-t` stamps); they are written by the same
stdout thread as the many-peer pipe Sink (`OutputWriter`): the event loop only appends to a bounded queue,
the thread writes everything queued in one block. When stdout falls behind by more than the writer's high
mark, the relay stops reading both sides of every connection (`hold_reading(True)`; the bytes wait in the
kernel, nothing is dropped) until it is back under the low mark. Warnings go to stderr.
"""

from __future__ import annotations

from collections.abc import Callable

from tcpcli.core.transcriber import Transcriber
from tcpcli.engine.seam import Controls
from tcpcli.fronts.pipes.sink import OUTPUT_STALL, OutputWriter
from tcpcli.report import Reporter
from tcpcli.settings import View, ViewSettings

__all__ = ["PipeTranscript"]


class PipeTranscript:
    """seam.Transcript for stdout when it is not a terminal. All calls but the writer's come from the loop.

    `stdout(data)` writes all of `data` (blocking, on the writer's thread; raises OSError, BrokenPipeError
    when the reader went away: then `controls.front_failed(None)`, once). Build it inside the running loop.
    """

    typed_input = False

    def __init__(
        self,
        view: ViewSettings,
        reporter: Reporter,
        controls: Controls,
        stdout: Callable[[bytes], None],
    ) -> None:
        self._reporter = reporter
        self._controls = controls
        self._lines = Transcriber(hex_view=view.view is View.HEX, timestamps=view.timestamps)
        self._writer = OutputWriter(stdout, None, controls.hold_reading, self._writer_stopped)

    def start(self) -> None:
        pass

    def opened(self, conn: int, client: str, upstream: str, stamp: float, faulty: bool | None = None) -> None:
        self._write(self._lines.opened(conn, client, upstream, stamp, faulty))

    def data(self, conn: int, direction: str, data: bytes, stamp: float) -> None:
        self._write(self._lines.data(conn, direction, data, stamp))

    def event(self, conn: int, direction: str | None, word: bytes, stamp: float) -> None:
        self._write(self._lines.event(conn, direction, word, stamp))

    def closed(self, conn: int, sent_up: int, sent_down: int, seconds: float, stamp: float) -> None:
        self._write(self._lines.closed(conn, sent_up, sent_down, seconds, stamp))

    def warning(self, message: str) -> None:
        self._reporter.warning(message)

    async def close(self, grace: float | None) -> str | None:
        stall = OUTPUT_STALL if grace is None else grace
        lost = await self._writer.drain(stall)
        if lost:
            return f"{lost} bytes of transcript were not written to stdout (it took none for {stall:g} s)"
        return None

    def _write(self, lines: bytes) -> None:
        if not self._writer.stopped:  # stdout failed: the relay is stopping, nothing more is queued
            self._writer.write(lines)

    def _writer_stopped(self) -> None:
        self._controls.front_failed(self._writer.failed)
