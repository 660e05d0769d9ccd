"""The dialogue's matcher: byte patterns searched in what arrived since the previous match, chunk by chunk.

Pure: the driver feeds received chunks and asks `advance(expect, fail_ons)` for the next hit. There is no
line framing (a prompt without a newline matches) and the verdict never depends on how TCP cut the stream:
a pattern matches at the *first byte* after which the bytes received so far contain a match, exactly as if
the data had come one byte at a time. So a pattern is complete as soon as it can be: `\\d+` at the very end
of a pattern matches one digit; end a capture with what follows it (`(?P<ver>\\S+)\\r\\n`).

How that stays cheap: most patterns are *monotone* (once the received bytes contain a match, more bytes never
take it away), so one search of the whole buffer says whether a match exists, and a binary search over the
buffer's length finds the first byte where it did. Patterns that look past their own end (`$`, `\\Z`, `\\b`,
`\\B`, lookahead, atomic groups and possessive quantifiers) are searched at every new length instead: exact,
slower on large data.

Memory: a pattern sees at most `MAX_UNMATCHED` bytes back (1 MiB of data received since the previous
match); older unmatched bytes are dropped (`take_dropped` hands them to whoever still wants them, `--print`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["MAX_UNMATCHED", "Hit", "Matcher", "looks_past_its_end"]

# How far back a pattern can see: unmatched bytes beyond this are dropped, oldest first.
MAX_UNMATCHED = 1024 * 1024

# Constructs whose result depends on bytes after the match (conservative: an escaped `\$` counts too).
_END_SENSITIVE = re.compile(rb"\$|\\[ZbB]|\(\?[=!>]|[*+?}]\+")


def looks_past_its_end(pattern: re.Pattern[bytes]) -> bool:
    """True when more received bytes could undo a match (so every length must be tried)."""
    return _END_SENSITIVE.search(pattern.pattern) is not None


class Hit(NamedTuple):
    """A pattern matched. `fail_on` is the index of the --fail-on pattern, or None for the expectation.

    `consumed`: for an expectation, the bytes from the previous match up to the end of this one (they are
    removed from the buffer); `seen`: everything received since the previous match up to the byte that
    completed the match; `groups`: the named groups (None for a group that took no part).
    """

    fail_on: int | None
    consumed: bytes
    seen: bytes
    groups: dict[str, bytes | None]


def _first_match(
    pattern: re.Pattern[bytes], buf: bytearray, low: int, high: int
) -> tuple[int, re.Match[bytes]] | None:
    """The smallest length L in [low, high] with a match in buf[:L], and that match; None if there is none."""
    if looks_past_its_end(pattern):
        for end in range(low, high + 1):
            match = pattern.search(buf, 0, end)
            if match is not None:
                return end, match
        return None
    match = pattern.search(buf, 0, high)
    if match is None:
        return None
    # monotone: the match lies within buf[:match.end()], so the first length is at most that
    best_end, best = max(match.end(), low), match
    top = best_end - 1
    while low <= top:
        middle = (low + top) // 2
        found = pattern.search(buf, 0, middle)
        if found is None:
            low = middle + 1
        else:
            best_end, best, top = middle, found, middle - 1
    return best_end, best


class Matcher:
    """Received bytes not yet consumed by a match, and how far they have been searched."""

    def __init__(self, limit: int = MAX_UNMATCHED) -> None:
        self._buf = bytearray()
        self._searched = 0  # lengths below this had no match for the patterns asked about so far
        self._limit = limit
        self._dropped = bytearray()

    @property
    def unmatched(self) -> bytes:
        """What arrived since the previous match (at most `limit` bytes plus the last chunk)."""
        return bytes(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf += data

    def take_dropped(self) -> bytes:
        """Unmatched bytes dropped to keep memory bounded since the last call (in order)."""
        dropped = bytes(self._dropped)
        self._dropped.clear()
        return dropped

    def advance(self, expect: re.Pattern[bytes] | None, fail_ons: Sequence[re.Pattern[bytes]]) -> Hit | None:
        """The next hit in the bytes fed so far: the pattern that completes first (a --fail-on wins a tie).

        Patterns new since the previous call are first tried on the buffer as it is now, as if they had been
        watching from this moment on. An expectation's hit consumes the buffer up to its match's end.
        """
        low, high = self._searched, len(self._buf)
        winner: tuple[int, re.Match[bytes], int | None] | None = None
        for index, pattern in enumerate(fail_ons):
            found = _first_match(pattern, self._buf, low, high)
            if found is not None and (winner is None or found[0] < winner[0]):
                winner = (found[0], found[1], index)
                high = found[0]  # later patterns only win if they complete earlier
        if expect is not None:
            found = _first_match(expect, self._buf, low, high)
            if found is not None and (winner is None or found[0] < winner[0]):
                winner = (found[0], found[1], None)
        if winner is None:
            self._searched = len(self._buf)
            self._trim()
            return None
        end, match, fail_on = winner
        groups = {
            name: (None if value is None else bytes(value)) for name, value in match.groupdict().items()
        }
        seen = bytes(self._buf[:end])
        consumed = b""
        if fail_on is None:
            consumed = bytes(self._buf[: match.end()])
            del match
            del self._buf[: len(consumed)]
            self._searched = end - len(consumed)
        return Hit(fail_on, consumed, seen, groups)

    def _trim(self) -> None:
        excess = len(self._buf) - self._limit
        if excess > 0:
            self._dropped += self._buf[:excess]
            del self._buf[:excess]
            self._searched -= excess
