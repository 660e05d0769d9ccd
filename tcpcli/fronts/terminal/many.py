"""The terminal front as the many-peer engine's Sink (`-l -k`, --echo, --broadcast, --idle-message).

It shares the engine's event loop (prompt_toolkit's prompt runs in asyncio): a typed line goes to every
client through the outbox, what each client sends waits in the one frame queue with its client and is drawn
through the same views as for one peer, labelled by client, and events print above the input line instead of
on stderr, which is this terminal too. Knows the engine only through engine/seam.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from tcpcli.core.events import Event, ServerInputEnded, describe
from tcpcli.engine.seam import Controls, Peer
from tcpcli.errors import TcpcliError
from tcpcli.fronts.terminal.inbox import BACKLOG, Inbox
from tcpcli.fronts.terminal.render import EVENT, WARNING
from tcpcli.fronts.terminal.terminal import FLOOD_TAIL, Peers, Terminal
from tcpcli.fronts.terminal.toolbar import LinkState
from tcpcli.settings import Settings

__all__ = ["ByteTap", "TerminalSink"]

HINT = "Enter sends a line to every client, Ctrl-D ends input, Ctrl-C stops"


class ByteTap(Protocol):
    """`-o`: every received byte, written on the loop (the mode opens it: taps.OutputFile)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class TerminalSink:
    """The engine's Sink in a terminal; `stamp()` gives the `-t` time of a read (None: no -t)."""

    typed_input = True

    def __init__(
        self,
        settings: Settings,
        address: str,
        controls: Controls,
        plain: bool,
        output: ByteTap | None = None,
        stamp: Callable[[], str] | None = None,
    ) -> None:
        self._controls = controls
        self._output = output
        self._stamp = stamp if settings.view.timestamps else None
        self._received = 0
        self._sent_by_gone = 0  # bytes sent to clients that have left (the others count their own)
        self._failed = False
        tls = settings.listen.tls if settings.listen is not None else None
        # Each client has its own handshake; the toolbar says the server speaks TLS, and checks certificates
        # when --cafile asks clients for one.
        shown_tls = ("TLS", True if tls.cafile else None) if tls is not None and tls.enabled else None
        outbox = controls.outbox
        peers = Peers(address, outbox.from_local, self._counts, lambda: len(outbox.clients), shown_tls)
        self._wake = asyncio.Event()
        self._inbox = Inbox(BACKLOG, self._wake.set)
        self._terminal = Terminal(settings, peers, self._inbox, plain)
        self._patch: Any = None
        self._plain = plain
        self._drawing: asyncio.Task[Any] | None = None

    def start(self) -> None:
        if not self._plain:
            from prompt_toolkit.patch_stdout import patch_stdout

            self._patch = patch_stdout(raw=True)  # a stray print (a library warning) must not tear the line
            self._patch.__enter__()
        display = self._terminal.display
        display.event(HINT + ("  F2 switches text/hex" if self._terminal.front_toggles else ""))
        display.show_header()
        self._terminal.front.start(self._end_input, self._controls.interrupt)
        self._drawing = asyncio.create_task(self._terminal.draw(self._wake))

    # ------------------------------------------------------------ from the engine

    def received(self, client: Peer, data: bytes) -> None:
        self._received += len(data)
        if self._output is not None and not self._failed:
            try:
                self._output.write(data)
            except TcpcliError as exc:
                self._failed = True
                self._controls.front_failed(exc)
        self._inbox.put(data, self._stamp() if self._stamp is not None else None, client)

    def left(self, client: Peer) -> None:
        self._sent_by_gone += client.sent
        self._inbox.gone(client)

    def event(self, event: Event, always: bool = False) -> None:
        self._inbox.note(describe(event), EVENT)  # every event is a line above the input line

    def warning(self, message: str) -> None:
        self._inbox.note(message, WARNING)

    async def close(self, grace: float | None) -> str | None:
        """Everything still queued (the last events: clients told to go) is shown before the screen goes."""
        self._terminal.state = LinkState.CLOSED
        try:
            if self._drawing is not None:
                self._drawing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._drawing
            self._inbox.trim(FLOOD_TAIL)  # Ctrl-C in a flood: the last lines and every event, at once
            while True:
                batch = self._inbox.take(BACKLOG, FLOOD_TAIL)
                self._terminal.show(batch)
                if not batch.more:
                    break
            await self._terminal.front.stop_input()
            await self._terminal.front.close()
        finally:
            if self._patch is not None:
                self._patch.__exit__(None, None, None)
            if self._output is not None:
                self._output.close()
        return None

    # ------------------------------------------------------------ keys

    def _end_input(self) -> None:
        """Ctrl-D: nothing more is typed to the clients; they stay connected and keep being shown."""
        if self._terminal.state is LinkState.OPEN:
            self._terminal.state = LinkState.INPUT_ENDED
            self.event(ServerInputEnded(len(self._controls.outbox.clients)))

    def _counts(self) -> tuple[int, int]:
        clients = self._controls.outbox.clients
        return self._received, self._sent_by_gone + sum(client.sent for client in clients)
