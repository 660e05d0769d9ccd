"""The keep-open server in front of a person: connect mode's screen and input line, for many clients.

It shares the server's event loop (prompt_toolkit's prompt runs in asyncio): a typed line goes to every
client through the relay, what each client sends is drawn through the same views as connect mode and
labelled by client, and events print above the input line instead of on stderr, which is this terminal too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from prompt_toolkit.formatted_text import StyleAndTextTuples

from tcpcli.core.events import Event, ServerInputEnded, describe
from tcpcli.engine.client import Client
from tcpcli.engine.relay import Relay
from tcpcli.interactive.display import flood_note
from tcpcli.interactive.front import Front
from tcpcli.interactive.labels import LabelledFeeds
from tcpcli.interactive.pacing import FramePacer
from tcpcli.interactive.plainfront import PlainFront, terminal_can_be_driven
from tcpcli.interactive.render import EVENT, NOTE, WARNING
from tcpcli.interactive.session import BACKLOG, FLOOD_TAIL, FRAME
from tcpcli.interactive.toolbar import LinkState, Stats, toolbar_fragments
from tcpcli.interactive.typed import InputRules, Refuse, decide_line, split_lines
from tcpcli.interactive.views import make_view
from tcpcli.listen.screenqueue import Frame, ScreenQueue
from tcpcli.settings import Settings, View


class ServerTerminal:
    """The server's terminal side: `start()`, then `received`/`left`/`event` from the server, `close()`."""

    def __init__(self, settings: Settings, address: str, relay: Relay, interrupt: Callable[[], None]) -> None:
        self._settings = settings
        self._address = address
        self._relay = relay
        self._interrupt = interrupt
        self._mode = settings.view.view
        self._state = LinkState.OPEN
        tls = settings.listen.tls if settings.listen is not None else None
        # Each client has its own handshake; the toolbar says the server speaks TLS, and checks certificates
        # when --cafile asks clients for one.
        self._tls = ("TLS", True if tls.cafile else None) if tls is not None and tls.enabled else None
        self._received = 0
        self._sent_by_gone = 0  # bytes sent to clients that have left (the others count their own)
        self._front: Front | PlainFront
        if terminal_can_be_driven(settings.env.variables):
            self._front = Front(settings, lambda: self._mode, self._rules, self._send_line, self._toolbar)
        else:  # TERM=dumb: plain lines, as connect mode's line mode
            self._front = PlainFront(settings, lambda: self._mode, self._send_line, catch_sigint=False)
        self._feeds = LabelledFeeds(self._front.display, lambda: make_view(self._mode, settings.view))
        self._wake = asyncio.Event()
        self._queue = ScreenQueue(BACKLOG, FLOOD_TAIL, self._wake.set)
        self._drawing: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._front.display.event("Enter sends a line to every client, Ctrl-D ends input, Ctrl-C stops")
        self._front.display.show_header()
        self._front.start(self._end_input, self._interrupt)
        self._drawing = asyncio.create_task(self._draw())

    async def close(self) -> None:
        """Everything still queued (the last events: clients told to go) is shown before the screen goes."""
        self._state = LinkState.CLOSED
        if self._drawing is not None:
            self._drawing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drawing
        while (frame := self._queue.take(BACKLOG)).items or frame.skipped:
            self._show(frame)
        await self._front.stop_input()
        await self._front.close()

    # ------------------------------------------------------------ from the server

    def received(self, client: Client, data: bytes) -> None:
        self._received += len(data)
        self._queue.data(client, data)

    def left(self, client: Client) -> None:
        self._sent_by_gone += client.sent
        self._queue.gone(client)

    def event(self, event: Event) -> None:
        self._queue.message(describe(event), EVENT)

    def warning(self, message: str) -> None:
        self._queue.message(message, WARNING)

    # ------------------------------------------------------------ the screen, once per frame

    async def _draw(self) -> None:
        """As much per frame as the pacer says fits in a frame's drawing time (the connect-mode pacing)."""
        pacer = FramePacer()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                started = time.perf_counter()
                frame = self._queue.take(pacer.budget)
                pacer.record(self._show(frame), time.perf_counter() - started)
                if not frame.more:
                    break
                await asyncio.sleep(FRAME)
            await asyncio.sleep(FRAME)  # what arrives during this frame is drawn together

    def _show(self, frame: Frame) -> int:
        display = self._front.display
        if frame.skipped:
            for client, count in frame.skipped.items():
                self._feeds.skip(client, count)
            note = flood_note(sum(frame.skipped.values()), self._settings.session.output)
            display.event(note, NOTE)
        drawn = 0
        for item in frame.items:
            if item.message is not None:
                display.event(item.message, item.style)
            elif isinstance(item.source, Client):
                if item.gone:
                    self._feeds.finish(item.source, item.source.peer)
                else:
                    self._feeds.received(item.source, item.source.peer, item.data)
                    drawn += len(item.data)
        self._front.peer_said(display.last_line)
        self._front.redraw()
        return drawn

    # ------------------------------------------------------------ typed lines

    def _send_line(self, line: str, secret: bool = False) -> None:
        decision = decide_line(line, self._rules())
        if isinstance(decision, Refuse):
            self.warning(decision.message)
            return
        if not decision.data and self._mode in (View.BINARY, View.HEX):
            return  # an empty line of hex or escapes is nothing at all
        self._relay.from_local(decision.data)
        if secret:
            self._front.display.echo_secret()
        else:
            self._front.display.echo(split_lines(line) if self._mode in (View.TEXT, View.STRUCT) else [line])

    def _end_input(self) -> None:
        """Ctrl-D: nothing more is typed to the clients; they stay connected and keep being shown."""
        if self._state is LinkState.OPEN:
            self._state = LinkState.INPUT_ENDED
            self.event(ServerInputEnded(len(self._relay.clients)))

    def _rules(self) -> InputRules:
        view, session = self._settings.view, self._settings.session
        return InputRules(self._mode, view.encoding, session.eol, closed=self._state is not LinkState.OPEN)

    def _toolbar(self, width: int) -> StyleAndTextTuples:
        clients = self._relay.clients
        stats = Stats(
            peer=self._address,
            mode=self._mode.value,
            encoding=self._settings.view.encoding,
            received=self._received,
            sent=self._sent_by_gone + sum(client.sent for client in clients),
            state=self._state,
            clients=len(clients),
            tls=self._tls,
            secret=self._front.secret.active,
            input_lines=self._front.input_lines(),
        )
        return toolbar_fragments(stats, width=width)
