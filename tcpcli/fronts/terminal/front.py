"""The screen and the input line, whatever is behind them: one connection (connect mode, a single listen
client) or a hub of many clients (the keep-open server).

Both sessions need the same things in the same order: rich prints through the ScreenWriter above one
long-lived prompt, and on the way out the input line goes first, then everything printed reaches the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import TextIO, cast

from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output

from tcpcli.core.events import format_address
from tcpcli.fronts.terminal.display import Display
from tcpcli.fronts.terminal.history import open_history
from tcpcli.fronts.terminal.prompt import make_prompt_session, prompt_message
from tcpcli.fronts.terminal.render import WARNING, make_console
from tcpcli.fronts.terminal.screen import ScreenWriter
from tcpcli.fronts.terminal.secret import SecretLine
from tcpcli.fronts.terminal.typed import InputRules
from tcpcli.fronts.terminal.views import make_view
from tcpcli.settings import Mode, Settings, View

__all__ = ["PROMPT_EXIT_WAIT", "Front", "history_service"]

# How long the input line (and then the screen writer) get to finish before they are abandoned.
PROMPT_EXIT_WAIT = 1.0


def history_service(settings: Settings) -> str | None:
    """The service whose history a session uses (HOST:PORT as typed), None for the shared history."""
    if settings.mode is Mode.CONNECT and settings.connect is not None:
        if settings.connect.unix is not None:  # -U: the socket's path (or @name) is the service
            return f"unix:{settings.connect.unix}"
        return format_address(settings.connect.host, settings.connect.port)
    return None  # listen mode has no one peer; --demo's port changes every run


class Front:
    """`display` shows, `prompt` reads typed lines; `start()`, then `stop_input()` and `close()`."""

    def __init__(
        self,
        settings: Settings,
        mode: Callable[[], View],
        rules: Callable[[], InputRules],
        on_line: Callable[[str, bool], None],
        toolbar: Callable[[int], StyleAndTextTuples],
        on_toggle_view: Callable[[], None] | None = None,
        pt_input: Input | None = None,
        pt_output: Output | None = None,
        screen: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        view, session = settings.view, settings.session
        color = view.color == "always"  # resolved by validate from --color, NO_COLOR and stdout
        self._writer = ScreenWriter(lambda: self.prompt.app)
        self.display = Display(
            make_console(screen or cast(TextIO, self._writer), color),
            make_view(mode(), view),
            view.timestamps,
            session.output,
        )
        self.secret = SecretLine()
        self.prompt = make_prompt_session(
            lambda: prompt_message(self.display.partial, mode()),
            rules,
            on_line,
            toolbar,
            open_history(
                session.history,
                self.warn_threadsafe,
                environ or settings.env.variables,
                history_service(settings),
            ),
            color,
            self.secret,
            on_toggle_view,
            pt_input,
            pt_output,
        )
        self._ending = False
        self._writing: asyncio.Task[None] | None = None
        self._prompting: asyncio.Task[None] | None = None

    def start(self, on_eof: Callable[[], None], on_interrupt: Callable[[], None]) -> None:
        """Run the screen writer and the input line: Ctrl-D calls `on_eof`, Ctrl-C `on_interrupt`."""
        self._writing = asyncio.create_task(self._writer.run())
        self._prompting = asyncio.create_task(self._read_lines(on_eof, on_interrupt))

    async def _read_lines(self, on_eof: Callable[[], None], on_interrupt: Callable[[], None]) -> None:
        """One prompt runs for the whole session; it only returns for Ctrl-D, Ctrl-C or the end."""
        while not self._ending:
            try:
                await self.prompt.prompt_async()
            except KeyboardInterrupt:
                on_interrupt()
                return
            except EOFError:
                on_eof()

    async def stop_input(self) -> None:
        self._ending = True
        app = self.prompt.app
        if app.is_running and app.future is not None and not app.future.done():
            app.exit(result="")
        if self._prompting is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._prompting, PROMPT_EXIT_WAIT)

    async def close(self) -> None:
        """After `stop_input()`: a held partial line is ended and everything printed reaches the terminal."""
        self.display.end_partial_line()
        self._writer.close()
        if self._writing is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._writing, PROMPT_EXIT_WAIT)

    def peer_said(self, last_line: str) -> None:
        """After received data is drawn: a password prompt makes the next line secret."""
        self.secret.peer_said(last_line)

    def input_lines(self) -> int:
        """Lines in the input area (more than one after a paste), for the toolbar."""
        return self.prompt.default_buffer.document.line_count

    def redraw(self) -> None:
        """After drawing received data: a held partial line is part of the input line."""
        self.prompt.app.invalidate()

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """From another thread; after the loop has closed there is nobody left to tell."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def warn_threadsafe(self, message: str) -> None:
        """History warnings may come from prompt_toolkit's history thread."""
        self.call_soon(self.display.event, message, WARNING)
