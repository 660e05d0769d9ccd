"""The keep-open server in front of a person: connect mode's screen and input line, for many clients.

It shares the server's event loop (prompt_toolkit's prompt runs in asyncio): a typed line goes to every
client through the relay, what each client sends is drawn through the same views as connect mode and
labelled by client, and events print above the input line instead of on stderr, which is this terminal too.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.formatted_text import StyleAndTextTuples

from tcpcli.core.events import Event, ServerInputEnded, describe
from tcpcli.interactive.front import Front
from tcpcli.interactive.labels import LabelledFeeds
from tcpcli.interactive.render import WARNING
from tcpcli.interactive.toolbar import LinkState, Stats, toolbar_fragments
from tcpcli.interactive.typed import InputRules, Refuse, decide_line, split_lines
from tcpcli.interactive.views import make_view
from tcpcli.listen.client import Client
from tcpcli.listen.relay import Relay
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
        self._received = 0
        self._sent_by_gone = 0  # bytes sent to clients that have left (the others count their own)
        self._front = Front(settings, lambda: self._mode, self._rules, self._send_line, self._toolbar)
        self._feeds = LabelledFeeds(self._front.display, lambda: make_view(self._mode, settings.view))

    def start(self) -> None:
        self._front.display.event("Enter sends a line to every client, Ctrl-D ends input, Ctrl-C stops")
        self._front.display.show_header()
        self._front.start(self._end_input, self._interrupt)

    async def close(self) -> None:
        self._state = LinkState.CLOSED
        await self._front.stop_input()
        await self._front.close()

    # ------------------------------------------------------------ from the server

    def received(self, client: Client, data: bytes) -> None:
        self._received += len(data)
        self._feeds.received(client, client.peer, data)
        self._front.prompt.app.invalidate()  # a held partial line is part of the input line

    def left(self, client: Client) -> None:
        self._sent_by_gone += client.sent
        self._feeds.finish(client, client.peer)

    def event(self, event: Event) -> None:
        self._front.display.event(describe(event))

    def warning(self, message: str) -> None:
        self._front.display.event(message, WARNING)

    # ------------------------------------------------------------ typed lines

    def _send_line(self, line: str) -> None:
        decision = decide_line(line, self._rules())
        if isinstance(decision, Refuse):
            self.warning(decision.message)
            return
        if not decision.data and self._mode in (View.BINARY, View.HEX):
            return  # an empty line of hex or escapes is nothing at all
        self._relay.from_local(decision.data)
        self._front.display.echo(split_lines(line) if self._mode in (View.TEXT, View.STRUCT) else [line])

    def _end_input(self) -> None:
        """Ctrl-D: nothing more is typed to the clients; they stay connected and keep being shown."""
        if self._state is LinkState.OPEN:
            self._state = LinkState.INPUT_ENDED
            self.event(ServerInputEnded(len(self._relay.clients)))

    def _rules(self) -> InputRules:
        view, session = self._settings.view, self._settings.session
        return InputRules(self._mode, view.encoding, session.eol, closed=self._state is not LinkState.OPEN)

    def _toolbar(self) -> StyleAndTextTuples:
        clients = self._relay.clients
        stats = Stats(
            peer=self._address,
            mode=self._mode.value,
            encoding=self._settings.view.encoding,
            received=self._received,
            sent=self._sent_by_gone + sum(client.sent for client in clients),
            state=self._state,
            clients=len(clients),
        )
        return toolbar_fragments(stats)
