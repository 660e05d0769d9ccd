"""The keep-open server's terminal view: what each client sends, as `[peer] line`, made safe to print.

Peer bytes never reach the terminal raw: they pass the core's incremental decoder, which makes controls and
invalid bytes visible. Lines from different clients never interleave mid-line; a partial line (a prompt with
no newline) is shown after a short wait rather than held until the next newline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from tcpcli.core.decode import IncrementalSafeDecoder

# Long enough for the rest of a line split across reads to arrive, short enough to feel immediate.
PARTIAL_LINE_WAIT = 0.2


@dataclass
class _Feed:
    label: str
    decoder: IncrementalSafeDecoder
    partial: str = ""
    timer: asyncio.TimerHandle | None = field(default=None)


class LabelledView:
    """`feed(key, label, data)` per received chunk, `finish(key)` when that client leaves."""

    def __init__(self, write: Callable[[bytes], None], encoding: str, terminal_encoding: str) -> None:
        self._write = write
        self._encoding = encoding
        self._terminal_encoding = terminal_encoding
        self._feeds: dict[object, _Feed] = {}
        self._loop = asyncio.get_running_loop()

    def feed(self, key: object, label: str, data: bytes) -> None:
        state = self._feeds.get(key)
        if state is None:
            state = self._feeds[key] = _Feed(label, IncrementalSafeDecoder(self._encoding))
        self._show(state, "".join(piece.text for piece in state.decoder.feed(data)))

    def finish(self, key: object) -> None:
        state = self._feeds.pop(key, None)
        if state is None:
            return
        self._show(state, "".join(piece.text for piece in state.decoder.finish()))
        self._flush_partial(state)

    def _show(self, state: _Feed, text: str) -> None:
        text = state.partial + text
        head, newline, tail = text.rpartition("\n")
        state.partial = tail
        if newline:
            self._emit(state.label, head.split("\n"))
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        if state.partial:
            state.timer = self._loop.call_later(PARTIAL_LINE_WAIT, self._flush_partial, state)

    def _flush_partial(self, state: _Feed) -> None:
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        if state.partial:
            self._emit(state.label, [state.partial])
            state.partial = ""

    def _emit(self, label: str, lines: list[str]) -> None:
        text = "".join(f"[{label}] {line}\n" for line in lines)
        self._write(text.encode(self._terminal_encoding, "replace"))
