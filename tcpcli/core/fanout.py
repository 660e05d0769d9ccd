"""The relay's fan-out of one batch (pure): what every client gets, and what each sender gets instead.

A batch is what arrived in one event-loop turn, in order: `(sender, data)` pairs, the sender None for local
input. Every recipient gets all of it as one shared bytes object, except a sender, which gets the batch
without its own pieces (--broadcast never echoes a client's data back to it). The cost is one pass over the
batch plus, per sender, a slice around each of its own runs: with 1,000 clients each sending one line in the
same turn that is about 1,000 slices, where filtering the batch per sender would touch a million pieces.
Each sender's copy is made when asked for (`FanOut.without`), so only one exists at a time.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

__all__ = ["FanOut"]

K = TypeVar("K", bound=Hashable)


class FanOut(Generic[K]):
    """One batch: `everything` (bytes, order kept) and `without(sender)` for each sender in `runs`.

    >>> batch = FanOut([("a", b"1"), (None, b"2"), ("b", b"3"), ("a", b"4")])
    >>> batch.everything, batch.without("a"), batch.without("b")
    (b'1234', b'23', b'124')
    """

    __slots__ = ("everything", "runs")

    def __init__(self, batch: Sequence[tuple[K | None, bytes]]) -> None:
        if len(batch) == 1:
            self.everything = batch[0][1]
        else:
            self.everything = b"".join([data for _sender, data in batch])
        self.runs: dict[K, list[list[int]]] = {}  # each sender's [start, end) runs within `everything`
        offset = 0
        for sender, data in batch:
            end = offset + len(data)
            if sender is not None:
                own = self.runs.get(sender)
                if own is None:
                    self.runs[sender] = [[offset, end]]
                elif own[-1][1] == offset:  # right after its previous piece: one run
                    own[-1][1] = end
                else:
                    own.append([offset, end])
            offset = end

    def without(self, sender: K) -> bytes:
        """`everything` without `sender`'s own pieces (all of it for a client that sent nothing)."""
        own = self.runs.get(sender)
        if own is None:
            return self.everything
        view = memoryview(self.everything)
        parts, position = [], 0
        for start, end in own:
            parts.append(view[position:start])
            position = end
        parts.append(view[position:])
        return b"".join(parts)
