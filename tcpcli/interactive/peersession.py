"""Interactive mode: an input line at the bottom, the connection printed above it, safely.

The event loop owns the screen and the keys; the socket lives in two threads (channel.py, started before this
module loads) because it may be a TLS channel with blocking calls only. Received bytes reach the screen once
per frame, so a flood costs a bounded amount of drawing and typed keys keep echoing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import TextIO

from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

from tcpcli.core.events import Closed, InputEnded, PeerFinished, SessionOpened, describe
from tcpcli.engine.pair import Channel
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.interactive.clock import Ending, check_clock
from tcpcli.interactive.front import Front
from tcpcli.interactive.pacing import FramePacer
from tcpcli.interactive.plainfront import PlainFront
from tcpcli.interactive.render import EVENT, WARNING
from tcpcli.interactive.session import FLOOD_TAIL, FRAME
from tcpcli.interactive.toolbar import LinkState, Stats, toolbar_fragments
from tcpcli.interactive.typed import InputRules, Refuse, decide_line, split_lines
from tcpcli.interactive.views import make_view
from tcpcli.settings import Settings, View

__all__ = ["InteractiveSession"]

# The keys, said once under the connected line (the toolbar keeps the most used ones in view).
KEYS_HINT = "Enter: send  Ctrl-D: FIN  Ctrl-C: quit  Ctrl-O: secret line  Ctrl-Z: suspend"
PLAIN_HINT = "plain line mode (TERM cannot be driven): Enter: send  Ctrl-D: FIN  Ctrl-C: quit"


class InteractiveSession:
    """One connection in front of a person; `run()` returns the exit status or raises TcpcliError.

    `channel` is already reading (session.start_channel); `started` is when the connection opened
    (time.monotonic()), `tls` the (version, verified) pair of session.tls_state or None.
    """

    def __init__(
        self,
        channel: Channel,
        settings: Settings,
        peer: str,
        started: float | None = None,
        tls: tuple[str, bool | None] | None = None,
        pt_input: Input | None = None,
        pt_output: Output | None = None,
        screen: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        plain: bool = False,
    ) -> None:
        self._channel = channel
        self._plain = plain  # a terminal that cannot be driven: plainfront.PlainFront instead of the screen
        self._settings = settings
        self._peer = peer
        self._tls = tls
        self._pt_input = pt_input
        self._pt_output = pt_output
        self._screen_file = screen
        self._environ = environ
        self._mode = settings.view.view
        self._state = LinkState.OPEN
        self._clock_wake = asyncio.Event()  # Ctrl-D: the clock's deadlines may have changed (-q)
        self._started = time.monotonic() if started is None else started
        self._ending = ""  # what ended the session, said before the closing line (empty: said already)

    async def run(self) -> int:
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[int] = self._loop.create_future()
        wake = asyncio.Event()
        self._front = self._make_front()
        self._display = self._front.display
        self._channel.on_send_error(lambda exc: self._front.call_soon(self._fail, exc))
        opened = SessionOpened(self._peer, *self._tls) if self._tls else SessionOpened(self._peer)
        self._display.event(describe(opened), WARNING if self._tls and self._tls[1] is False else EVENT)
        self._display.event(PLAIN_HINT if self._plain else KEYS_HINT)
        self._display.show_header()
        self._channel.inbox.listen(lambda: self._front.call_soon(wake.set))
        if self._plain:
            return await self._supervise(wake)
        with patch_stdout(raw=True):  # a stray print (a library warning) must not tear the input line either
            return await self._supervise(wake)

    def _make_front(self) -> Front | PlainFront:
        if self._plain:
            return PlainFront(self._settings, lambda: self._mode, self._send_line, out=self._screen_file)
        return Front(
            self._settings,
            lambda: self._mode,
            self._rules,
            self._send_line,
            lambda width: toolbar_fragments(self.stats(), self._can_toggle(), width),
            self._toggle_view if self._can_toggle() else None,
            self._pt_input,
            self._pt_output,
            self._screen_file,
            self._environ,
        )

    async def _supervise(self, wake: asyncio.Event) -> int:
        self._front.start(self._end_input, self._interrupted)
        others = [asyncio.create_task(self._show_received(wake)), asyncio.create_task(self._watch_clock())]
        try:
            return await self._done
        finally:
            self._state = LinkState.CLOSED
            await self._front.stop_input()
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            self._say_closed()
            await self._front.close()
            self._channel.close()

    def _say_closed(self) -> None:
        """Every ending gets the same closing line (counts, duration), after what ended it."""
        self._display.end_partial_line()
        if self._ending:
            self._display.event(self._ending)
        self._display.event(describe(self._closed_event()))

    # ------------------------------------------------------------ keys and typed lines

    def _send_line(self, line: str, secret: bool = False) -> None:
        decision = decide_line(line, self._rules())
        if isinstance(decision, Refuse):  # the validator refuses first; the state may change in between
            self._display.event(decision.message, WARNING)
            return
        if not decision.data and self._mode in (View.BINARY, View.HEX):
            return  # an empty line of hex or escapes is nothing at all
        self._channel.send(decision.data)
        if secret:
            self._display.echo_secret()
        else:
            self._display.echo(split_lines(line) if self._mode in (View.TEXT, View.STRUCT) else [line])

    def _end_input(self) -> None:
        """Ctrl-D on an empty line: FIN (unless --no-half-close); the peer may still talk until it closes."""
        if self._state is not LinkState.OPEN:
            return
        half_close = self._settings.session.half_close
        if half_close:
            self._channel.half_close()
        self._state = LinkState.HALF_CLOSED if half_close else LinkState.INPUT_ENDED
        self._channel.link.on_input_ended(time.monotonic())
        self._clock_wake.set()
        self._display.event(describe(InputEnded(sent_fin=half_close)))

    def _interrupted(self) -> None:
        self._ending = "interrupted (Ctrl-C)"
        self._finish(ExitCode.INTERRUPTED)

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
        inbox = self._channel.inbox
        while True:
            await wake.wait()
            wake.clear()
            while True:
                budget = pacer.budget
                batch = inbox.take(budget, min(FLOOD_TAIL, budget))
                started = time.perf_counter()
                self._display.received(batch)
                pacer.record(sum(len(chunk.data) for chunk in batch.chunks), time.perf_counter() - started)
                self._front.peer_said(self._display.last_line)
                self._front.redraw()
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
        self._ending = describe(PeerFinished())
        self._finish(ExitCode.OK)

    async def _watch_clock(self) -> None:
        """-i: no traffic either way for S seconds -> exit 75. -q: S seconds after Ctrl-D -> exit 0.

        core.link decides; this waits for the deadline it names or for Ctrl-D, never polls.
        """
        while True:
            verdict = check_clock(self._channel.link, time.monotonic())
            if isinstance(verdict, Ending):
                if verdict.error is not None:
                    self._fail(verdict.error)
                else:
                    self._ending = verdict.message
                    self._finish(ExitCode.OK)
                return
            self._clock_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._clock_wake.wait(), verdict)

    # ------------------------------------------------------------ plumbing

    def stats(self) -> Stats:
        return Stats(
            peer=self._peer,
            mode=self._mode.value,
            encoding=self._settings.view.encoding,
            received=self._channel.received,
            sent=self._channel.sent,
            state=self._state,
            tls=self._tls,
            secret=self._front.secret.active,
            input_lines=self._front.input_lines(),
        )

    def _closed_event(self) -> Closed:
        return Closed(self._channel.sent, self._channel.received, time.monotonic() - self._started)

    def _finish(self, code: int) -> None:
        if not self._done.done():
            self._done.set_result(code)

    def _fail(self, error: TcpcliError) -> None:
        if not self._done.done():
            self._done.set_exception(error)
