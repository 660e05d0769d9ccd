"""The relay's transcript in a terminal: the lines of the pipes transcript, styled by kind, above an input
line whose typed lines go to the newest open connection's upstream.

The machinery is the terminal front's (terminal.Terminal: the screen or TERM=dumb's plain front, the input
line, the toolbar, the frame queue and its per-frame budget); only what a frame draws differs: lines made by
core.transcriber (printable ASCII by construction, so peer bytes never reach the terminal raw, and rich
markup in data is never interpreted: lines are appended as plain strings), `>` and `<` lines in distinct
styles, open/close/FIN/RST lines dimmed. The transcript is lossless: when the screen falls behind by more
than TRANSCRIPT_HIGH_WATER bytes of lines, the relay stops reading (seam.Transcript) until it catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TextIO

from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from rich.text import Text

from tcpcli.core.transcriber import Transcriber
from tcpcli.engine.seam import Controls
from tcpcli.fronts.terminal.display import flood_note
from tcpcli.fronts.terminal.inbox import Batch, Chunk, Inbox, Note
from tcpcli.fronts.terminal.render import NOTE, WARNING, safe_text
from tcpcli.fronts.terminal.terminal import FLOOD_TAIL, Peers, Terminal
from tcpcli.fronts.terminal.toolbar import LinkState
from tcpcli.settings import Settings, View

__all__ = [
    "DOWN_STYLE",
    "EVENT_STYLE",
    "TRANSCRIPT_HIGH_WATER",
    "TRANSCRIPT_LOW_WATER",
    "UP_STYLE",
    "TerminalTranscript",
    "styled_lines",
]

UP_STYLE = "green"  # `#N > ...`: what a client sent towards the upstream
DOWN_STYLE = ""  # `#N < ...`: the upstream's answer, in the terminal's own colour
EVENT_STYLE = "dim"  # open, FIN, RST, closed
# Transcript bytes waiting for the screen: past the high mark the relay stops reading (nothing is dropped),
# under the low mark it goes on. A screen draws some MB/s at most: more would only delay what is shown.
TRANSCRIPT_HIGH_WATER = 256 * 1024
TRANSCRIPT_LOW_WATER = 64 * 1024
# The frame queue's own bound, a safety valve: reads already under way when the relay was told to hold
# (one per connection) still arrive; beyond this much the oldest are skipped and a note says how many.
_QUEUE_LIMIT = 16 * 1024 * 1024

HINT = "Enter sends a line to the newest connection's upstream, Ctrl-D ends input, Ctrl-C stops"


_PRINTABLE_OR_LF = bytes(range(0x20, 0x7F)) + b"\n"


def styled_lines(lines: bytes, style: str) -> Text:
    """Transcript lines as rich Text in `style`; a byte that is not printable ASCII (there should be none:
    the transcript escapes every other byte) is made visible rather than trusted."""
    text = lines.decode("ascii", "backslashreplace")
    if not lines.translate(None, _PRINTABLE_OR_LF):
        return Text(text, style)
    out = Text()
    for line in text.splitlines(keepends=True):
        out.append_text(safe_text(line.rstrip("\n"), style))
        if line.endswith("\n"):
            out.append("\n")
    return out


class _TranscriptScreen(Terminal):
    """The terminal front drawing transcript lines: each queued Chunk is lines, its `source` their style.

    `on_drawn(count)` is told how many queued bytes each frame took off the queue (drawn or skipped).
    """

    def __init__(self, on_drawn: Callable[[int], None], *args: Any, **kwargs: Any) -> None:
        self._on_drawn = on_drawn
        super().__init__(*args, **kwargs)

    def _can_toggle(self) -> bool:
        return False  # -x or not is the transcript's choice at start (core.transcriber), not a view

    def show(self, batch: Batch) -> int:
        """One frame: the queued lines, and notes (warnings) in their place; returns the bytes drawn."""
        if batch.skipped:
            self.display.event(flood_note(batch.skipped, None), NOTE)
        out = Text()
        drawn = 0
        for item in batch.chunks:
            if isinstance(item, Chunk):
                out.append_text(styled_lines(item.data, str(item.source or "")))
                drawn += len(item.data)
            elif isinstance(item, Note):
                self.display.show(out)
                out = Text()
                self.display.event(item.message, item.style)
        self.display.show(out)
        self.front.redraw()
        self._on_drawn(drawn + batch.skipped)
        return drawn


class TerminalTranscript:
    """seam.Transcript in a terminal. `title` names the relay in the toolbar (`:6380 -> 127.0.0.1:6379`);
    `plain`: a terminal that cannot be driven (TERM=dumb: plain lines, no toolbar). Build it in the loop."""

    typed_input = True

    def __init__(
        self,
        settings: Settings,
        title: str,
        controls: Controls,
        plain: bool,
        pt_input: Input | None = None,
        pt_output: Output | None = None,
        screen: TextIO | None = None,
    ) -> None:
        """`pt_input`, `pt_output`, `screen`: the terminal's own by default (tests pass pipes)."""
        self._controls = controls
        self._lines = Transcriber(
            hex_view=settings.view.view is View.HEX, timestamps=settings.view.timestamps
        )
        self._open = 0
        self._up = 0  # bytes clients sent towards the upstream (`>`)
        self._down = 0  # bytes the upstream answered (`<`)
        self._queued = 0  # transcript bytes handed to the screen and not yet drawn
        self._holding = False
        peers = Peers(title, controls.outbox.from_local, lambda: (self._down, self._up), lambda: self._open)
        self._wake = asyncio.Event()
        self._inbox = Inbox(_QUEUE_LIMIT, self._wake.set)
        self._terminal = _TranscriptScreen(
            self._drawn, settings, peers, self._inbox, plain, pt_input, pt_output, screen
        )
        self._plain = plain
        self._patch: Any = None
        self._drawing: asyncio.Task[Any] | None = None

    def start(self) -> None:
        if not self._plain:
            from prompt_toolkit.patch_stdout import patch_stdout

            self._patch = patch_stdout(raw=True)  # a stray print (a library warning) must not tear the line
            self._patch.__enter__()
        self._terminal.display.event(HINT)
        self._terminal.front.start(self._end_input, self._controls.interrupt)
        self._drawing = asyncio.create_task(self._terminal.draw(self._wake))

    # ------------------------------------------------------------ from the relay

    def opened(self, conn: int, client: str, upstream: str, stamp: float, faulty: bool | None = None) -> None:
        self._open += 1
        self._queue(self._lines.opened(conn, client, upstream, stamp, faulty), EVENT_STYLE)

    def data(self, conn: int, direction: str, data: bytes, stamp: float) -> None:
        if direction == ">":
            self._up += len(data)
        else:
            self._down += len(data)
        style = UP_STYLE if direction == ">" else DOWN_STYLE
        self._queue(self._lines.data(conn, direction, data, stamp), style)

    def event(self, conn: int, direction: str | None, word: bytes, stamp: float) -> None:
        self._queue(self._lines.event(conn, direction, word, stamp), EVENT_STYLE)

    def closed(self, conn: int, sent_up: int, sent_down: int, seconds: float, stamp: float) -> None:
        self._open = max(0, self._open - 1)
        self._queue(self._lines.closed(conn, sent_up, sent_down, seconds, stamp), EVENT_STYLE)

    def warning(self, message: str) -> None:
        self._inbox.note(message, WARNING)

    async def close(self, grace: float | None) -> str | None:
        """Everything still queued is shown (a flood's last lines at once), then the screen goes."""
        self._terminal.state = LinkState.CLOSED
        try:
            if self._drawing is not None:
                self._drawing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._drawing
            while True:
                batch = self._inbox.take(_QUEUE_LIMIT, FLOOD_TAIL)
                self._terminal.show(batch)
                if not batch.more:
                    break
            await self._terminal.front.stop_input()
            await self._terminal.front.close()
        finally:
            if self._patch is not None:
                self._patch.__exit__(None, None, None)
        return None

    # ------------------------------------------------------------ inside

    def _queue(self, lines: bytes, style: str) -> None:
        self._queued += len(lines)
        self._inbox.put(lines, None, style)
        if not self._holding and self._queued > TRANSCRIPT_HIGH_WATER:
            self._holding = True
            self._controls.hold_reading(True)

    def _drawn(self, count: int) -> None:
        self._queued -= count
        if self._holding and self._queued < TRANSCRIPT_LOW_WATER:
            self._holding = False
            self._controls.hold_reading(False)

    def _end_input(self) -> None:
        """Ctrl-D: nothing more is typed; the connections go on and keep being shown."""
        if self._terminal.state is LinkState.OPEN:
            self._terminal.state = LinkState.INPUT_ENDED
            self._terminal.display.event("input ended: typed lines are no longer sent; Ctrl-C stops")
