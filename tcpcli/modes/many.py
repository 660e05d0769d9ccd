"""Listen mode with many clients: the many-peer engine (engine.hub) wired to a front (pipes or a terminal).

A mode knows both sides: it picks the front, gives it what touches the world (stdout, `-o`, the clock),
hands the engine a factory for it, and turns the engine's outcome into an exit status (or the signal
exceptions cli.py maps to 130/143).
"""

from __future__ import annotations

import socket
import ssl

from tcpcli.engine.hub import Hub
from tcpcli.engine.seam import Controls, Sink
from tcpcli.engine.stdio import write_all
from tcpcli.engine.taps import OutputFile, timestamp_now
from tcpcli.modes.asyncrun import run_async_engine
from tcpcli.net.bind import listening_address
from tcpcli.report import Reporter
from tcpcli.settings import Settings

__all__ = ["serve_many"]


def serve_many(
    listener: socket.socket,
    settings: Settings,
    reporter: Reporter,
    interactive: bool,
    tls: ssl.SSLContext | None = None,
) -> int:
    """Run until SIGINT/SIGTERM (or, without -k, until the one client leaves); returns the exit status."""

    def front(controls: Controls) -> Sink:
        output = OutputFile(settings.session.output) if settings.session.output else None
        if interactive:
            from tcpcli.fronts.terminal.many import TerminalSink
            from tcpcli.fronts.terminal.plainfront import terminal_can_be_driven

            plain = not terminal_can_be_driven(settings.env.variables)
            address = listening_address(listener)
            return TerminalSink(settings, address, controls, plain, output, timestamp_now)
        from tcpcli.fronts.pipes.sink import PipeSink

        return PipeSink(settings.view, reporter, controls, _stdout, output, timestamp_now)

    hub = Hub(listener, settings, reporter, front, tls)
    return run_async_engine(hub, interactive)


def _stdout(data: bytes) -> None:
    """The pipes front's stdout: every byte out, waiting for room on a non-blocking pipe."""
    write_all(1, data)
