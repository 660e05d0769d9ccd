"""--record for the relay: a `Transcript` (engine.seam) that records each connection and passes every call on
to the real transcript front, if there is one (with --no-transcript there is none, and recording then takes
the relay off the kernel path: the bytes must pass through Python to be recorded).

The relay calls it on its event loop, which must never block: when the recorder falls behind, this front
holds the relay's reading (`Controls.hold_reading(True)`) until the writer thread says it has room again; the
inner front's own holds are combined with it (the relay reads only when neither is behind).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tcpcli.core.events import RelayClosed, RelayOpened
from tcpcli.engine.recorder import Recorder

if TYPE_CHECKING:
    from collections.abc import Callable

    from tcpcli.engine.seam import Controls, Outbox, Transcript, TranscriptFactory
    from tcpcli.errors import TcpcliError
    from tcpcli.report import Reporter

__all__ = ["RecordingTranscript", "recording_front"]


def recording_front(
    recorder: Recorder, inner: TranscriptFactory | None, reporter: Reporter
) -> Callable[[Controls], RecordingTranscript]:
    """The relay's TranscriptFactory with --record: a recording front around `inner` (None: no transcript)."""

    def factory(controls: Controls) -> RecordingTranscript:
        return RecordingTranscript(recorder, inner, controls, reporter)

    return factory


class RecordingTranscript:
    """Records every relayed connection (`>` client to upstream), then hands the call to the inner front."""

    def __init__(
        self, recorder: Recorder, inner: TranscriptFactory | None, controls: Controls, reporter: Reporter
    ) -> None:
        self._recorder = recorder
        self._controls = controls
        self._reporter = reporter
        self._inner_held = False
        self._behind = False
        self._inner: Transcript | None = None if inner is None else inner(self)
        self.typed_input = False if self._inner is None else self._inner.typed_input
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ Controls, as the inner front sees them

    @property
    def outbox(self) -> Outbox:
        return self._controls.outbox

    def hold_reading(self, hold: bool) -> None:
        self._inner_held = hold
        self._controls.hold_reading(self._inner_held or self._behind)

    def front_failed(self, error: TcpcliError | None) -> None:
        self._controls.front_failed(error)

    def interrupt(self) -> None:
        self._controls.interrupt()

    # ------------------------------------------------------------ Transcript

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._inner is not None:
            self._inner.start()

    def opened(self, conn: int, client: str, upstream: str, stamp: float, faulty: bool | None = None) -> None:
        self._recorder.opened(conn, client, upstream)
        if self._inner is not None:
            self._inner.opened(conn, client, upstream, stamp, faulty)
        elif self._reporter.verbose:  # what --no-transcript -v says without a front
            self._reporter.event(RelayOpened(conn, client, upstream))

    def data(self, conn: int, direction: str, data: bytes, stamp: float) -> None:
        if self._recorder.data(conn, direction, data) and not self._behind:
            self._behind = True
            self._controls.hold_reading(True)
            self._recorder.when_room(self._room_from_writer)
        if self._inner is not None:
            self._inner.data(conn, direction, data, stamp)

    def event(self, conn: int, direction: str | None, word: bytes, stamp: float) -> None:
        # FIN and RST, and the faults that fired (STALL with its direction, CUT and RESET of the connection)
        self._recorder.event(conn, word.decode("ascii").lower(), direction)
        if self._inner is not None:
            self._inner.event(conn, direction, word, stamp)

    def closed(self, conn: int, sent_up: int, sent_down: int, seconds: float, stamp: float) -> None:
        self._recorder.event(conn, "close")
        if self._inner is not None:
            self._inner.closed(conn, sent_up, sent_down, seconds, stamp)
        elif self._reporter.verbose:
            self._reporter.event(RelayClosed(conn, sent_up, sent_down, seconds))

    def warning(self, message: str) -> None:
        if self._inner is not None:
            self._inner.warning(message)
        else:
            self._reporter.warning(message)

    async def close(self, grace: float | None) -> str | None:
        lost = None if self._inner is None else await self._inner.close(grace)
        await asyncio.to_thread(self._recorder.close)  # writes out the rest; raises its write error (74)
        return lost

    # ------------------------------------------------------------ the recorder caught up

    def _room_from_writer(self) -> None:
        """Called by the recorder's thread (or at once): go back to the loop to release the hold."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._room)

    def _room(self) -> None:
        self._behind = False
        self._controls.hold_reading(self._inner_held)
