"""Interactive mode: an input line at the bottom, the connection printed above it, safely.

The event loop owns the screen and the keys; the socket lives in two threads (channel.py) because it may be
a TLS channel with blocking calls only. Received bytes reach the screen once per frame, so a flood costs a
bounded amount of drawing and typed keys keep echoing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TextIO

from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

from tcpcli.connection import Connection
from tcpcli.core.events import Closed, InputEnded, PeerFinished, TimedOut, describe
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.interactive.channel import Channel
from tcpcli.interactive.front import Front
from tcpcli.interactive.inbox import Inbox
from tcpcli.interactive.pacing import FramePacer
from tcpcli.interactive.render import WARNING
from tcpcli.interactive.toolbar import LinkState, Stats, toolbar_fragments
from tcpcli.interactive.typed import InputRules, Refuse, decide_line, split_lines
from tcpcli.interactive.views import make_view
from tcpcli.report import Reporter
from tcpcli.settings import Settings, View
from tcpcli.taps import HexLog, OutputFile

# Received data is drawn at most once per frame: what arrives meanwhile is printed in one go.
FRAME = 0.03
# Received bytes waiting for the screen; beyond this the oldest are skipped (their display only: -o has them).
BACKLOG = 256 * 1024
# After a skip, a frame shows only the newest bytes: a flood scrolls past faster than anyone reads anyway.
FLOOD_TAIL = 4 * 1024


def run_interactive(sock: Connection, settings: Settings, reporter: Reporter, peer: str) -> int:
    """Called by tcpcli.session: the exit status (0 peer closed, 130 Ctrl-C); errors raise TcpcliError."""
    return asyncio.run(InteractiveSession(sock, settings, peer).run())


class InteractiveSession:
    """One connection in front of a person; `run()` returns the exit status or raises TcpcliError."""

    def __init__(
        self,
        conn: Connection,
        settings: Settings,
        peer: str,
        pt_input: Input | None = None,
        pt_output: Output | None = None,
        screen: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._conn = conn
        self._settings = settings
        self._peer = peer
        self._pt_input = pt_input
        self._pt_output = pt_output
        self._screen_file = screen
        self._environ = environ
        self._mode = settings.view.view
        self._state = LinkState.OPEN
        self._input_ended_at: float | None = None
        self._started = time.monotonic()

    async def run(self) -> int:
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[int] = self._loop.create_future()
        session, view = self._settings.session, self._settings.view
        wake = asyncio.Event()
        self._inbox = Inbox(BACKLOG, notify=lambda: self._front.call_soon(wake.set))
        self._channel = Channel(
            self._conn,
            self._inbox,
            self._peer,
            on_send_error=lambda exc: self._front.call_soon(self._fail, exc),
            output=OutputFile(session.output) if session.output else None,
            hex_log=HexLog(session.hex_log) if session.hex_log else None,
            timestamps=view.timestamps,
        )
        self._front = Front(
            self._settings,
            lambda: self._mode,
            self._rules,
            self._send_line,
            lambda: toolbar_fragments(self.stats(), self._can_toggle()),
            self._toggle_view if self._can_toggle() else None,
            self._pt_input,
            self._pt_output,
            self._screen_file,
            self._environ,
        )
        self._display = self._front.display
        self._display.event(f"connected to {self._peer} (Enter sends a line, Ctrl-D sends FIN, Ctrl-C quits)")
        self._display.show_header()
        self._channel.start()
        with patch_stdout(raw=True):  # a stray print (a library warning) must not tear the input line either
            return await self._supervise(wake)

    async def _supervise(self, wake: asyncio.Event) -> int:
        self._front.start(self._end_input, lambda: self._finish(ExitCode.INTERRUPTED))
        others = [asyncio.create_task(self._show_received(wake)), asyncio.create_task(self._watch_clock())]
        try:
            return await self._done
        finally:
            self._state = LinkState.CLOSED
            await self._front.stop_input()
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await self._front.close()
            self._channel.close()

    # ------------------------------------------------------------ keys and typed lines

    def _send_line(self, line: str) -> None:
        decision = decide_line(line, self._rules())
        if isinstance(decision, Refuse):  # the validator refuses first; the state may change in between
            self._display.event(decision.message, WARNING)
            return
        if not decision.data and self._mode in (View.BINARY, View.HEX):
            return  # an empty line of hex or escapes is nothing at all
        self._channel.send(decision.data)
        self._display.echo(split_lines(line) if self._mode in (View.TEXT, View.STRUCT) else [line])

    def _end_input(self) -> None:
        """Ctrl-D on an empty line: FIN (unless --no-half-close); the peer may still talk until it closes."""
        if self._state is not LinkState.OPEN:
            return
        half_close = self._settings.session.half_close
        if half_close:
            self._channel.half_close()
        self._state = LinkState.HALF_CLOSED if half_close else LinkState.INPUT_ENDED
        self._input_ended_at = time.monotonic()
        self._display.event(describe(InputEnded(sent_fin=half_close)))

    def _rules(self) -> InputRules:
        view, session = self._settings.view, self._settings.session
        return InputRules(self._mode, view.encoding, session.eol, closed=self._state is not LinkState.OPEN)

    def _can_toggle(self) -> bool:
        return self._settings.view.view in (View.TEXT, View.HEX)

    def _toggle_view(self) -> None:
        """F2: text <-> hex, for what is shown and for how typed lines are read."""
        self._mode = View.HEX if self._mode is View.TEXT else View.TEXT
        view = make_view(self._mode, self._settings.view, self._display.position)
        self._display.switch_view(view)
        self._display.event(f"view: {self._mode.value} (F2 switches back)")

    # ------------------------------------------------------------ received data and the clock

    async def _show_received(self, wake: asyncio.Event) -> None:
        """Draw received data once per frame, as much as the pacer says fits in a frame's drawing time."""
        pacer = FramePacer()
        while True:
            await wake.wait()
            wake.clear()
            while True:
                budget = pacer.budget
                batch = self._inbox.take(budget, min(FLOOD_TAIL, budget))
                started = time.perf_counter()
                self._display.received(batch)
                pacer.record(sum(len(chunk.data) for chunk in batch.chunks), time.perf_counter() - started)
                self._front.prompt.app.invalidate()  # the held partial line is part of the input line
                if batch.ended:
                    self._peer_closed(batch.error)
                    return
                if not batch.more:
                    break
                await asyncio.sleep(FRAME)
            await asyncio.sleep(FRAME)  # what arrives during this frame is printed together

    def _peer_closed(self, error: TcpcliError | None) -> None:
        if error is not None:
            self._fail(error)
            return
        self._state = LinkState.CLOSED
        self._display.end_partial_line()
        self._display.event(describe(PeerFinished()))
        self._display.event(describe(self._closed_event()))
        self._finish(ExitCode.OK)

    async def _watch_clock(self) -> None:
        """-i: no traffic either way for S seconds -> exit 75. -q: S seconds after Ctrl-D -> exit 0."""
        idle = self._settings.session.idle_timeout
        quit_after = self._settings.session.quit_after_eof
        while True:
            now = time.monotonic()
            waits: list[float] = []
            if idle is not None:
                left = self._channel.last_traffic + idle - now
                if left <= 0:
                    message = f"idle timeout: no traffic for {idle:g} s (-i {idle:g})"
                    self._fail(TcpcliError(message, ExitCode.TIMEOUT))
                    return
                waits.append(left)
            if quit_after is not None:
                if self._input_ended_at is None:
                    waits.append(0.1)
                elif (left := self._input_ended_at + quit_after - now) <= 0:
                    self._display.event(describe(TimedOut("quit-after-eof", quit_after)))
                    self._finish(ExitCode.OK)
                    return
                else:
                    waits.append(left)
            if not waits:
                return
            await asyncio.sleep(min(waits))

    # ------------------------------------------------------------ plumbing

    def stats(self) -> Stats:
        return Stats(
            peer=self._peer,
            mode=self._mode.value,
            encoding=self._settings.view.encoding,
            received=self._channel.received,
            sent=self._channel.sent,
            state=self._state,
        )

    def _closed_event(self) -> Closed:
        return Closed(self._channel.sent, self._channel.received, time.monotonic() - self._started)

    def _finish(self, code: int) -> None:
        if not self._done.done():
            self._done.set_result(code)

    def _fail(self, error: TcpcliError) -> None:
        if not self._done.done():
            self._done.set_exception(error)
