"""`--replace OLD=NEW` on a byte stream that arrives in chunks: the same output however it was split.

Matching is leftmost, and at one position the longest OLD wins (so `ab=X` and `abc=Y` turn `abc` into `Y`);
matches do not overlap and a replacement is never searched again. A chunk's tail that could still become
a match (a proper prefix of some OLD) is held back until the next chunk decides it, and `finish()` (the
sender's FIN) releases it; nothing else is ever held. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["Rewriter", "rewrite_whole"]


def _pattern(pairs: Sequence[tuple[bytes, bytes]]) -> tuple[re.Pattern[bytes], dict[bytes, bytes]]:
    table: dict[bytes, bytes] = {}
    for old, new in pairs:
        if not old:
            raise ValueError("an empty OLD cannot be replaced")
        table.setdefault(old, new)  # the first pair given for an OLD wins
    # longest first: a regex alternation takes the first alternative that matches at a position
    olds = sorted(table, key=len, reverse=True)
    return re.compile(b"|".join(re.escape(old) for old in olds)), table


def rewrite_whole(data: bytes, pairs: Sequence[tuple[bytes, bytes]]) -> bytes:
    """The reference: `data` rewritten in one go (what `Rewriter` gives for any chunking)."""
    pattern, table = _pattern(pairs)
    return pattern.sub(lambda match: table[match[0]], data)


class Rewriter:
    """Feed chunks in order, `finish()` at the end; the concatenated outputs equal `rewrite_whole`."""

    __slots__ = ("_held", "_longest", "_olds", "_pattern", "_table")

    def __init__(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        self._pattern, self._table = _pattern(pairs)
        self._olds = tuple(self._table)
        self._longest = max(len(old) for old in self._olds)
        self._held = b""

    @property
    def held(self) -> int:
        """Bytes held back (they could still become a match)."""
        return len(self._held)

    def feed(self, chunk: bytes) -> bytes:
        """What can be forwarded now: the rewritten bytes up to the first undecided position."""
        data = self._held + chunk if self._held else chunk
        undecided = self._undecided(data)
        out = bytearray()
        pos = 0
        for match in self._pattern.finditer(data, 0, len(data)):
            if match.start() >= undecided:
                break
            # a match before the first undecided position is final: no longer OLD can still match there
            out += data[pos : match.start()]
            out += self._table[match[0]]
            pos = match.end()
        if pos < undecided:
            out += data[pos:undecided]
            pos = undecided
        self._held = data[pos:]
        return bytes(out)

    def finish(self) -> bytes:
        """The end of the stream: what was held back, rewritten (no longer match can come)."""
        held, self._held = self._held, b""
        return self._pattern.sub(lambda match: self._table[match[0]], held)

    def _undecided(self, data: bytes) -> int:
        """The first position where some OLD could still match once more bytes come (len(data) if none)."""
        size = len(data)
        for start in range(max(0, size - self._longest + 1), size):
            tail = data[start:]
            for old in self._olds:
                if len(old) > len(tail) and old.startswith(tail):
                    return start
        return size
