"""The front for a terminal that cannot be driven (`TERM=dumb`, `unknown` or unset: Emacs shell buffers,
serial consoles): plain lines, no cursor moves, no colour, no toolbar.

The same surface as `Front` (display, start/stop_input/close, secret, redraw, call_soon), so the sessions do
not care which they have: the terminal stays in its cooked mode and echoes what is typed itself (its own line
editing; Enter hands over a line, Ctrl-D on an empty line is EOF), stdin is read on the event loop, and
received data goes through the same views and safety filter and is printed as it comes, partial lines too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

from tcpcli.fronts.terminal.display import Display
from tcpcli.fronts.terminal.render import make_console
from tcpcli.fronts.terminal.secret import SecretLine
from tcpcli.fronts.terminal.views import make_view
from tcpcli.settings import Settings, View

__all__ = ["DUMB_TERMINALS", "PlainFront", "terminal_can_be_driven"]

READ_SIZE = 4096
# TERM values that promise no cursor addressing (prompt_toolkit's own list, plus unset).
DUMB_TERMINALS = frozenset({"", "dumb", "unknown"})


def terminal_can_be_driven(environ: Mapping[str, str]) -> bool:
    """False for a terminal that cannot move its cursor: the full screen would garble it."""
    return environ.get("TERM", "").strip().lower() not in DUMB_TERMINALS


class PlainFront:
    """`display` shows; typed lines go to `on_line(line, secret=False)`; Ctrl-D (EOF) calls `on_eof`."""

    def __init__(
        self,
        settings: Settings,
        mode: Callable[[], View],
        on_line: Callable[[str, bool], None],
        catch_sigint: bool = True,
        stdin_fd: int = 0,
        out: TextIO | None = None,
    ) -> None:
        """`catch_sigint`: Ctrl-C (the terminal's SIGINT here) calls `on_interrupt`; False when the caller
        (the keep-open server) handles SIGINT itself."""
        self._loop = asyncio.get_running_loop()
        self._settings = settings
        self._on_line = on_line
        self._stdin_fd = stdin_fd
        self._pending = b""
        self._reading = False
        self._on_eof: Callable[[], None] | None = None
        self._catch_sigint = catch_sigint
        self.secret = SecretLine()  # never armed: the terminal echoes, we cannot hide a line from it
        view = settings.view
        console = make_console(out or sys.stdout, color=False)
        self.display = Display(
            console, make_view(mode(), view), view.timestamps, settings.session.output, False
        )

    def start(self, on_eof: Callable[[], None], on_interrupt: Callable[[], None]) -> None:
        self._on_eof = on_eof
        self._loop.add_reader(self._stdin_fd, self._read)
        self._reading = True
        if self._catch_sigint:
            self._loop.add_signal_handler(signal.SIGINT, on_interrupt)

    def _read(self) -> None:
        try:
            data = os.read(self._stdin_fd, READ_SIZE)
        except BlockingIOError:
            return  # a stdin the parent left non-blocking: nothing yet, the loop calls again when readable
        except OSError:
            data = b""
        if not data:  # Ctrl-D on an empty line, or stdin gone
            self._stop_reading()
            if self._on_eof is not None:
                self._on_eof()
            return
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self.display.terminal_ended_line()
            self._on_line(line.decode(self._settings.view.encoding, "replace"), False)

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self._stdin_fd)

    def peer_said(self, last_line: str) -> None:
        """No secret lines here (the terminal itself echoes every key)."""

    def input_lines(self) -> int:
        return 1

    def redraw(self) -> None:
        """Nothing to redraw: every line is printed once, as it comes."""

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """From another thread; after the loop has closed there is nobody left to tell."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    async def stop_input(self) -> None:
        self._stop_reading()
        if self._catch_sigint:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_signal_handler(signal.SIGINT)

    async def close(self) -> None:
        self.display.end_partial_line()
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
