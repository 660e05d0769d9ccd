"""The file rich prints to: text goes above the input line, strictly in order, in few terminal writes.

patch_stdout's proxy writes from a thread of its own and writes directly whenever no prompt is running, so a
line printed as a prompt starts could overtake one printed just before. Here one task on the event loop
writes everything queued so far through `run_in_terminal` (or directly when no prompt runs), so order holds
and a burst of prints costs one redraw of the input line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from prompt_toolkit.application import Application, run_in_terminal


class ScreenWriter:
    """A write/flush file for rich; `run()` is the task that puts the text on the terminal."""

    encoding = "utf-8"

    def __init__(self, app: Callable[[], Application[Any]]) -> None:
        self._app = app
        self._pending: list[str] = []
        self._ready = asyncio.Event()
        self._closing = False

    def write(self, text: str) -> int:
        self._pending.append(text)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._ready.set()

    def isatty(self) -> bool:
        return True

    async def run(self) -> None:
        """Until `close()`: everything written before it reaches the terminal, then the task ends."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            await self._write_pending()
            if self._closing and not self._pending:
                return

    def close(self) -> None:
        self._closing = True
        self._ready.set()

    async def _write_pending(self) -> None:
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        app = self._app()
        if app.is_running:
            await run_in_terminal(lambda: self._write_now(app, text), in_executor=False)
        else:
            self._write_now(app, text)

    @staticmethod
    def _write_now(app: Application[Any], text: str) -> None:
        app.output.write_raw(text)  # rich's styles only: peer data was made visible before it became Text
        app.output.flush()
