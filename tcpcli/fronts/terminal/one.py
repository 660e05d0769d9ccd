"""One connection in front of a person (connect mode, a single listen client, --demo): the Terminal driven by
the one-peer engine.

The event loop owns the screen and the keys; the socket lives in the engine's threads (it may be a TLS channel
with blocking calls only), which put what they read into the Inbox and send what is typed. The session ends
when the peer closes (after what it sent before is shown), on the -i/-q clock, or on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Protocol, TextIO

from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

from tcpcli.core.events import Closed, InputEnded, PeerFinished, SessionOpened, describe
from tcpcli.core.link import Finish, Link, seconds_until
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.fronts.terminal.inbox import Inbox
from tcpcli.fronts.terminal.render import EVENT, WARNING
from tcpcli.fronts.terminal.terminal import Peers, Terminal
from tcpcli.fronts.terminal.toolbar import LinkState, Stats
from tcpcli.settings import Settings

__all__ = ["Channel", "InteractiveSession"]

# The keys, said once under the connected line (the toolbar keeps the most used ones in view).
KEYS_HINT = "Enter: send  Ctrl-D: FIN  Ctrl-C: quit  Ctrl-O: secret line  Ctrl-Z: suspend"
PLAIN_HINT = "plain line mode (TERM cannot be driven): Enter: send  Ctrl-D: FIN  Ctrl-C: quit"


class Channel(Protocol):
    """What this front needs of the one-peer engine (engine.pair.SeamPair), passed in by the mode."""

    @property
    def inbox(self) -> Inbox: ...

    @property
    def link(self) -> Link: ...

    @property
    def received(self) -> int: ...

    @property
    def sent(self) -> int: ...

    def send(self, data: bytes) -> None: ...

    def half_close(self) -> None: ...

    def close(self) -> None: ...

    def on_send_error(self, callback: Callable[[TcpcliError], None]) -> None: ...


class InteractiveSession:
    """One connection in front of a person; `run()` returns the exit status or raises TcpcliError.

    `channel` is already reading (started by the mode); `started` is when the connection opened
    (time.monotonic()), `tls` the (version, verified) pair or None for plain TCP.
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
        self._front_args = (pt_input, pt_output, screen, environ)
        self._clock_wake = asyncio.Event()  # Ctrl-D: the clock's deadlines may have changed (-q)
        self._started = time.monotonic() if started is None else started
        self._ending = ""  # what ended the session, said before the closing line (empty: said already)

    async def run(self) -> int:
        self._done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        wake = asyncio.Event()
        counts = lambda: (self._channel.received, self._channel.sent)  # noqa: E731
        peers = Peers(self._peer, self._channel.send, counts, tls=self._tls)
        self._terminal = Terminal(self._settings, peers, self._channel.inbox, self._plain, *self._front_args)
        self._front = self._terminal.front
        self._display = self._terminal.display
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

    async def _supervise(self, wake: asyncio.Event) -> int:
        self._front.start(self._end_input, self._interrupted)
        others = [asyncio.create_task(self._show_received(wake)), asyncio.create_task(self._watch_clock())]
        try:
            return await self._done
        finally:
            self._terminal.state = LinkState.CLOSED
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
        closed = Closed(self._channel.sent, self._channel.received, time.monotonic() - self._started)
        self._display.event(describe(closed))

    def _end_input(self) -> None:
        """Ctrl-D on an empty line: FIN (unless --no-half-close); the peer may still talk until it closes."""
        if self._terminal.state is not LinkState.OPEN:
            return
        half_close = self._settings.session.half_close
        if half_close:
            self._channel.half_close()
        self._terminal.state = LinkState.HALF_CLOSED if half_close else LinkState.INPUT_ENDED
        self._channel.link.on_input_ended(time.monotonic())
        self._clock_wake.set()
        self._display.event(describe(InputEnded(sent_fin=half_close)))

    def _interrupted(self) -> None:
        self._ending = "interrupted (Ctrl-C)"
        self._finish(ExitCode.INTERRUPTED)

    async def _show_received(self, wake: asyncio.Event) -> None:
        """Draw until the peer has closed and everything before its close is on the screen."""
        batch = await self._terminal.draw(wake)
        if batch.error is not None:
            self._fail(batch.error)
            return
        self._terminal.state = LinkState.CLOSED
        self._ending = describe(PeerFinished())
        self._finish(ExitCode.OK)

    async def _watch_clock(self) -> None:
        """-i: no traffic either way for S seconds -> exit 75. -q: S seconds after Ctrl-D -> exit 0.

        core.link decides; this waits for the deadline it names or for Ctrl-D, never polls.
        """
        while True:
            now = time.monotonic()
            decision = self._channel.link.decide(now)
            if isinstance(decision, Finish):
                if decision.is_error:
                    self._fail(TcpcliError(decision.message, ExitCode(decision.exit_code)))
                else:
                    self._ending = decision.message
                    self._finish(ExitCode.OK)
                return
            self._clock_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._clock_wake.wait(), seconds_until(decision, now))

    def stats(self) -> Stats:
        return self._terminal.stats()

    def _finish(self, code: int) -> None:
        if not self._done.done():
            self._done.set_result(code)

    def _fail(self, error: TcpcliError) -> None:
        if not self._done.done():
            self._done.set_exception(error)
