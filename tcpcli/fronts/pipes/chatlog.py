"""The dialogue's output: the `-v` transcript (`> PING\\r\\n`, `< +PONG\\r\\n`, `> FIN`), `--print`'s bytes.

The transcript uses the relay's line format (core/transcript.py) without connection numbers, or with them
(`#3 > ...`) when a scripted server talks to several clients at once. `--print` writes the received bytes up
to the end of the last match: raw into a pipe or file, made visible (the transcript's escapes) on a terminal.
Each call writes whole lines under one lock, so concurrent clients never cut each other's lines.
"""

from __future__ import annotations

import threading
import time
from typing import BinaryIO

from tcpcli.core.stamps import StampFormatter
from tcpcli.core.transcript import data_lines, event_line, line_prefix, visible_bytes

__all__ = ["ChatLog"]

_STAMP = StampFormatter()  # -t: local HH:MM:SS.ffffff, as the relay's transcript stamps its lines
_LOCK = threading.Lock()  # one writer at a time on the process's stdout/stderr


class ChatLog:
    """`transcript`: where the -v lines go (None: no transcript); `printed`: where --print writes (None: off).

    `conn` numbers the connection in the transcript (None for a single conversation); `timestamps` (-t)
    starts each transcript line with the local time; `visible` makes --print's bytes safe for a terminal;
    `raw_print` False keeps the matched bytes off `printed` (the JSON line of captured groups goes there).
    `server`: tcpcli accepted the connection, so what it sends is marked `<`: in every transcript and
    recording `>` is client to server, whichever side tcpcli played (CONTRACT-REACH, "Record and replay").
    """

    def __init__(
        self,
        transcript: BinaryIO | None,
        printed: BinaryIO | None,
        conn: int | None = None,
        timestamps: bool = False,
        visible: bool = False,
        raw_print: bool = True,
        server: bool = False,
    ) -> None:
        self._transcript = transcript
        self._printed = printed
        self._conn = conn
        self._timestamps = timestamps
        self._visible = visible
        self._raw_print = raw_print  # False: --print writes only the JSON line of captured groups
        self._ours, self._theirs = ("<", ">") if server else (">", "<")
        self.sent_bytes = 0
        self.received_bytes = 0

    def _prefix(self, direction: str) -> bytes:
        return line_prefix(self._conn, direction, _STAMP(time.time()) if self._timestamps else None)

    def _write(self, stream: BinaryIO, data: bytes) -> None:
        with _LOCK:
            try:
                stream.write(data)
                stream.flush()
            except (OSError, ValueError):
                pass  # the reader went away (a closed pipe): the dialogue's outcome still counts

    def sent(self, data: bytes) -> None:
        self.sent_bytes += len(data)
        if self._transcript is not None:
            self._write(self._transcript, data_lines(self._prefix(self._ours), data))

    def received(self, data: bytes) -> None:
        self.received_bytes += len(data)
        if self._transcript is not None:
            self._write(self._transcript, data_lines(self._prefix(self._theirs), data))

    def event(self, ours: bool, word: bytes) -> None:
        """An event of tcpcli's side (`ours`: e.g. its FIN) or of the peer's."""
        if self._transcript is not None:
            self._write(
                self._transcript, event_line(self._prefix(self._ours if ours else self._theirs), word)
            )

    def matched(self, data: bytes) -> None:
        if self._printed is not None and self._raw_print and data:
            self._write(self._printed, visible_bytes(data) if self._visible else data)

    def line(self, text: str) -> None:
        """A line of text for --print (the JSON object of captured groups)."""
        if self._printed is not None:
            self._write(self._printed, text.encode("ascii") + b"\n")
