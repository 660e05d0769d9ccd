"""The replay's turn matcher: does what the peer sent match the recorded turn it owes (`--match`)?

Pure: feed received chunks, read `verdict`. The verdict never depends on how TCP cut the stream: it is the one
the bytes would give arriving one at a time (a mismatch is seen at the first byte that cannot belong to the
turn; a match at the first byte that completes it). What follows the match stays in `surplus` for the next
awaited turn (a peer that pipelines).

Modes: `exact` (the turn's bytes), `lines` (the same, ignoring a CR before a LF on both sides), `regex` (a
turn's hand-written `re` parts are patterns, searched by the dialogue's `core.matcher` in what arrived since
the previous part; literal parts stay exact: `re` parts are patterns in every mode but `any`), `any` (anything
arrived: the turn takes what arrived so far).
"""

from __future__ import annotations

import re

from tcpcli.core.matcher import Matcher
from tcpcli.core.transcript import visible_bytes
from tcpcli.core.verdict import SHOWN_BYTES, received_text

__all__ = [
    "MATCHED",
    "MATCH_MODES",
    "MISMATCH",
    "PENDING",
    "TurnMatcher",
    "mismatch_line",
    "normalize_lines",
    "quoted",
]

MATCH_MODES = ("exact", "lines", "regex", "any")
PENDING = "pending"
MATCHED = "matched"
MISMATCH = "mismatch"


def normalize_lines(data: bytes) -> bytes:
    """`lines` mode's form: each CR LF as LF."""
    return data.replace(b"\r\n", b"\n")


class _Literal:
    """One literal part: exact, or (`lines`) with CR before LF ignored; byte-wise, so chunking is moot."""

    def __init__(self, expected: bytes, lines: bool) -> None:
        self.expected = normalize_lines(expected) if lines else expected
        self._lines = lines
        self._pos = 0  # bytes of `expected` matched so far
        self._cr = False  # lines: a CR received, waiting to see whether a LF follows

    def feed(self, data: bytes) -> tuple[str, int]:
        """(verdict, bytes of `data` used)."""
        if not self._lines:
            want = self.expected[self._pos : self._pos + len(data)]
            if data[: len(want)] != want:
                return MISMATCH, 0
            self._pos += len(want)
            return (MATCHED if self._pos == len(self.expected) else PENDING), len(want)
        for index, byte in enumerate(data):
            if self._cr:
                self._cr = False
                if byte != 0x0A:  # a bare CR: it must be in the expected bytes
                    if not self._take(0x0D):
                        return MISMATCH, index
                    if self._pos == len(self.expected):
                        return MATCHED, index
            if byte == 0x0D:
                self._cr = True
                continue
            if not self._take(byte):
                return MISMATCH, index
            if self._pos == len(self.expected):
                return MATCHED, index + 1
        return PENDING, len(data)

    def _take(self, byte: int) -> bool:
        if self._pos < len(self.expected) and self.expected[self._pos] == byte:
            self._pos += 1
            return True
        return False


class TurnMatcher:
    """Matches one awaited turn's parts in order against what the peer sends."""

    def __init__(self, parts: tuple[bytes | re.Pattern[bytes], ...], mode: str, surplus: bytes = b"") -> None:
        self._original = tuple(part for part in parts if part != b"")
        self._parts = list(self._original)
        self._mode = mode
        self.verdict = PENDING
        self.received = bytearray()  # everything fed to this turn (for messages)
        self.surplus = b""  # bytes after the match: the next turn's
        self._current: _Literal | Matcher | None = None
        if not self._parts and mode != "any":
            self.verdict = MATCHED
        if surplus:
            self.feed(surplus)

    def feed(self, data: bytes) -> str:
        if self.verdict != PENDING:
            self.surplus += data
            return self.verdict
        self.received += data
        if self._mode == "any":
            if data:
                self.verdict = MATCHED
            return self.verdict
        while data and self._parts:
            part = self._parts[0]
            if isinstance(part, bytes):
                literal = self._current if isinstance(self._current, _Literal) else None
                if literal is None:
                    literal = self._current = _Literal(part, self._mode == "lines")
                verdict, used = literal.feed(data)
                if verdict == MISMATCH:
                    self.verdict = MISMATCH
                    return self.verdict
                data = data[used:]
                if verdict == PENDING:
                    return self.verdict
            else:
                matcher = self._current if isinstance(self._current, Matcher) else None
                if matcher is None:
                    matcher = self._current = Matcher()
                matcher.feed(data)
                hit = matcher.advance(part, ())
                if hit is None:
                    return self.verdict
                data = matcher.unmatched  # what came after the pattern's end
            self._parts.pop(0)
            self._current = None
        if not self._parts:
            self.verdict = MATCHED
            self.surplus = data
            if data:
                del self.received[len(self.received) - len(data) :]
        return self.verdict

    def expected_text(self) -> str:
        """The turn as a message shows it: `"bytes"`, a pattern as `/pattern/`, `anything` for `any`."""
        if self._mode == "any":
            return "anything"
        return " ".join(
            quoted(part) if isinstance(part, bytes) else "/" + quoted(part.pattern)[1:-1] + "/"
            for part in self._original
        )


def mismatch_line(conn: int, turn: int, expected: str, received: bytes, note: str = "") -> str:
    """`replay #C turn K: expected "...", received "..."`: `expected` as worded (`quoted(turn)`, `FIN`),
    `received` made visible (its last SHOWN_BYTES bytes), then `note` (` then FIN`, ` (nothing in 5s)`)."""
    return f"replay #{conn} turn {turn}: expected {expected}, {received_text(received)}{note}"


def quoted(data: bytes) -> str:
    """`"..."`: `data` made visible (the transcript's escapes, `"` as `\\x22`), cut after SHOWN_BYTES."""
    cut = data[:SHOWN_BYTES]
    text = visible_bytes(cut).replace(b'"', b"\\x22").decode("ascii")
    return f'"{text}"' + (
        f" (the first {SHOWN_BYTES} of {len(data)} bytes)" if len(data) > SHOWN_BYTES else ""
    )
