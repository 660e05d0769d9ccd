"""The keep-open server's front for a terminal that cannot be driven (`TERM=dumb`): plain lines only.

The same surface as `Front` (display, start/stop_input/close, secret, redraw), so the server terminal does not
care which it has: the terminal stays in its cooked mode and echoes what is typed itself, stdin is read on the
event loop a line at a time, and received data is printed as it comes (partial lines too), without colour.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from typing import TextIO

from tcpcli.interactive.display import Display
from tcpcli.interactive.render import make_console
from tcpcli.interactive.secret import SecretLine
from tcpcli.interactive.views import make_view
from tcpcli.settings import Settings, View

__all__ = ["PlainFront"]

READ_SIZE = 4096


class PlainFront:
    """`display` shows; typed lines go to `on_line(line, secret=False)`; Ctrl-D (EOF) calls `on_eof`."""

    def __init__(
        self,
        settings: Settings,
        mode: Callable[[], View],
        on_line: Callable[[str, bool], None],
        stdin_fd: int = 0,
        out: TextIO | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._settings = settings
        self._on_line = on_line
        self._stdin_fd = stdin_fd
        self._pending = b""
        self._reading = False
        self._on_eof: Callable[[], None] | None = None
        self.secret = SecretLine()  # never armed: the terminal echoes, we cannot hide a line from it
        view = settings.view
        console = make_console(out or sys.stdout, color=False)
        self.display = Display(
            console, make_view(mode(), view), view.timestamps, settings.session.output, False
        )

    def start(self, on_eof: Callable[[], None], on_interrupt: Callable[[], None]) -> None:
        """Ctrl-C is the terminal's SIGINT here, which the server handles itself: `on_interrupt` is unused."""
        self._on_eof = on_eof
        self._loop.add_reader(self._stdin_fd, self._read)
        self._reading = True

    def _read(self) -> None:
        try:
            data = os.read(self._stdin_fd, READ_SIZE)
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

    async def stop_input(self) -> None:
        self._stop_reading()

    async def close(self) -> None:
        self.display.end_partial_line()
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
