"""Listen mode with many clients: the many-peer engine (engine.hub) wired to a front (pipes or a terminal).

The only module that knows both sides: it picks the front, hands the engine a factory for it, and turns the
engine's outcome into an exit status (or the signal exceptions cli.py maps to 130/143).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
from typing import TYPE_CHECKING, Any

from tcpcli.core.events import Event
from tcpcli.engine.hub import Hub
from tcpcli.engine.seam import Controls, Peer, Sink
from tcpcli.engine.stderr import bounded_stderr
from tcpcli.errors import TcpcliError
from tcpcli.listen.views import PipeSink
from tcpcli.net.bind import listening_address
from tcpcli.report import Reporter
from tcpcli.settings import Settings
from tcpcli.taps import OutputFile

if TYPE_CHECKING:
    from tcpcli.listen.terminal import ServerTerminal

__all__ = ["TerminalSink", "serve_many"]


def serve_many(
    listener: socket.socket,
    settings: Settings,
    reporter: Reporter,
    interactive: bool,
    tls: ssl.SSLContext | None = None,
) -> int:
    """Run until SIGINT/SIGTERM (or, without -k, until the one client leaves); returns the exit status."""

    def front(controls: Controls) -> Sink:
        if interactive:
            return TerminalSink(settings, listening_address(listener), controls)
        return PipeSink(settings, reporter, controls)

    hub = Hub(listener, settings, reporter, front, tls)
    if interactive:
        code = asyncio.run(hub.run())
    else:
        with bounded_stderr():  # the loop never waits for a stderr nobody reads
            code = asyncio.run(hub.run())
    if hub.signal == signal.SIGINT:
        raise KeyboardInterrupt
    if hub.signal == signal.SIGTERM:
        from tcpcli.errors import Terminated

        raise Terminated
    if hub.error is not None:
        raise hub.error
    return code


class TerminalSink:
    """The engine's Sink in a terminal: ServerTerminal draws, and -o gets every byte on the loop."""

    typed_input = True

    def __init__(self, settings: Settings, address: str, controls: Controls) -> None:
        from tcpcli.listen.terminal import ServerTerminal

        self._controls = controls
        session = settings.session
        self._output = OutputFile(session.output) if session.output else None
        self._terminal: ServerTerminal = ServerTerminal(
            settings,
            address,
            controls.outbox,  # type: ignore[arg-type]  # the engine's relay, seen as an Outbox
            controls.interrupt,
        )
        self._patch: Any = None
        self._done = False

    def start(self) -> None:
        from prompt_toolkit.patch_stdout import patch_stdout

        self._patch = patch_stdout(raw=True)  # a stray print (a library warning) must not tear the line
        self._patch.__enter__()
        self._terminal.start()

    def received(self, client: Peer, data: bytes) -> None:
        if self._output is not None and not self._done:
            try:
                self._output.write(data)
            except TcpcliError as exc:
                self._done = True
                self._controls.front_failed(exc)
        self._terminal.received(client, data)  # type: ignore[arg-type]

    def left(self, client: Peer) -> None:
        self._terminal.left(client)  # type: ignore[arg-type]

    def event(self, event: Event, always: bool = False) -> None:
        self._terminal.event(event)  # every event is a line above the input line

    def warning(self, message: str) -> None:
        self._terminal.warning(message)

    async def close(self, grace: float | None) -> str | None:
        """The last events (clients told to go) are shown before the screen goes."""
        try:
            await self._terminal.close()
        finally:
            if self._patch is not None:
                self._patch.__exit__(None, None, None)
            if self._output is not None:
                self._output.close()
        return None
