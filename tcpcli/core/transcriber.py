"""The relay transcript's lines for each thing that happens, with the `-x` and `-t` choices applied.

Both relay fronts (pipes: the bytes go to stdout; terminal: each line is styled by its kind) ask this one
place for their lines, so the two never disagree. Pure: calls in, ASCII bytes out (each line ends in LF).
The line format itself is core/transcript.py's; this adds the per-connection state: with `-x`, one hex
dumper per connection and direction (offsets run per connection and direction, and are dropped when the
connection closes), and the `-t` stamp formatter.
"""

from __future__ import annotations

from tcpcli.core.hexdump import HexDumper
from tcpcli.core.stamps import StampFormatter
from tcpcli.core.transcript import closed_line, data_lines, event_line, line_prefix, open_line

__all__ = ["Transcriber"]


class Transcriber:
    """Lines of the relay transcript. `hex_view`: data as prefixed `hexdump -C` lines (-x); `timestamps`:
    every line starts with the local time of its stamp (-t). Stamps are time.time() values (float seconds).

    Raises ValueError for an event word that is not a transcript event (core.transcript.EVENT_WORDS).
    """

    __slots__ = ("_dumpers", "_hex", "_stamp")

    def __init__(self, hex_view: bool = False, timestamps: bool = False) -> None:
        self._hex = hex_view
        self._stamp = StampFormatter() if timestamps else None
        self._dumpers: dict[tuple[int, str], HexDumper] = {}

    def _prefix(self, conn: int, direction: str | None, stamp: float) -> bytes:
        return line_prefix(conn, direction, self._stamp(stamp) if self._stamp is not None else None)

    def opened(
        self, conn: int, client: str, upstream: str, stamp: float, faulty: bool | None = None
    ) -> bytes:
        """`#N open CLIENT -> UPSTREAM`, with ` (faulty)` / ` (not faulty)` when --fault-rate is below 1."""
        return open_line(self._prefix(conn, None, stamp), client, upstream, faulty)

    def data(self, conn: int, direction: str, data: bytes, stamp: float) -> bytes:
        """The lines of one chunk: visible text, or with -x hex dump lines at that direction's offset."""
        prefix = self._prefix(conn, direction, stamp)
        if not self._hex:
            return data_lines(prefix, data)
        dumper = self._dumpers.get((conn, direction))
        if dumper is None:
            dumper = self._dumpers[conn, direction] = HexDumper()
        return dumper.feed_prefixed(data, prefix)

    def event(self, conn: int, direction: str | None, word: bytes, stamp: float) -> bytes:
        """`#N > FIN`, `#N < RST`, `#N CUT` (no direction: an event of the whole connection)."""
        return event_line(self._prefix(conn, direction, stamp), word)

    def closed(self, conn: int, sent_up: int, sent_down: int, seconds: float, stamp: float) -> bytes:
        """`#N closed: A bytes >, B bytes <, S.SSS s`; the connection's hex offsets are forgotten."""
        self._dumpers.pop((conn, ">"), None)
        self._dumpers.pop((conn, "<"), None)
        return closed_line(self._prefix(conn, None, stamp), sent_up, sent_down, seconds)
