"""The bounded hand-over of received bytes from the reader thread to the screen.

The reader thread never waits for the screen: it reads at full speed (so `-o` and the kernel's receive
window keep up with a flood) and drops the oldest *display* copies beyond a bound. The screen takes what is
there once per frame; after a drop it shows only the tail, and says how many bytes it skipped.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tcpcli.errors import TcpcliError

__all__ = ["Batch", "Chunk", "Inbox"]


@dataclass(frozen=True)
class Chunk:
    """Bytes from one read, with the `-t` timestamp of that read (None: no timestamps, or a continuation)."""

    data: bytes
    stamp: str | None = None


@dataclass(frozen=True)
class Batch:
    """What the screen shows in one frame: `skipped` bytes were dropped before `chunks` (a flood)."""

    chunks: list[Chunk] = field(default_factory=list)
    skipped: int = 0
    more: bool = False  # more is waiting: take again at the next frame
    ended: bool = False  # the peer closed and everything before the close is in this batch
    error: TcpcliError | None = None  # the read failed after these chunks


def _nobody() -> None:
    """The Inbox's wake-up before the screen listens."""


class Inbox:
    """Thread-safe: `put`/`close` from the reader thread, `take` from the event loop.

    `notify` is called (from the reader thread) when data arrives while the screen is idle, at most once
    until the next `take`, so a flood costs one wake-up per frame, not one per read. The reader may start
    before the screen exists: until `listen(notify)` the Inbox only collects (within its limit).
    """

    def __init__(self, limit: int, notify: Callable[[], None] | None = None) -> None:
        self._limit = limit
        self._notify: Callable[[], None] = notify or _nobody
        self._lock = threading.Lock()
        self._chunks: deque[Chunk] = deque()
        self._size = 0
        self._dropped = 0
        self._closed = False
        self._error: TcpcliError | None = None
        self._notified = notify is None  # nobody to wake yet: `listen` does it

    def listen(self, notify: Callable[[], None]) -> None:
        """The screen is ready: `notify` from now on, and at once if something came before it."""
        with self._lock:
            self._notify = notify
            wake = bool(self._chunks) or self._closed
            self._notified = wake
        if wake:
            notify()

    def put(self, data: bytes, stamp: str | None = None) -> None:
        with self._lock:
            self._chunks.append(Chunk(data, stamp))
            self._size += len(data)
            while self._size > self._limit and len(self._chunks) > 1:
                old = self._chunks.popleft()
                self._size -= len(old.data)
                self._dropped += len(old.data)
            wake = not self._notified
            self._notified = True
        if wake:
            self._notify()

    def close(self, error: TcpcliError | None = None) -> None:
        """The peer closed (error None) or the read failed; shown after whatever is still queued."""
        with self._lock:
            self._closed = True
            self._error = error
            wake = not self._notified
            self._notified = True
        if wake:
            self._notify()

    def take(self, budget: int, tail: int) -> Batch:
        """Up to `budget` bytes from the front; after a drop (a flood) only the last `tail` bytes."""
        with self._lock:
            self._notified = False
            if self._dropped:
                self._keep_tail(tail)
            chunks = self._take_front(budget)
            skipped, self._dropped = self._dropped, 0
            more = bool(self._chunks)
            ended = self._closed and not more
            if more:
                self._notified = True  # the caller comes back for the rest: no wake-up needed
            return Batch(chunks, skipped, more, ended, self._error if ended else None)

    def _keep_tail(self, tail: int) -> None:
        while len(self._chunks) > 1 and self._size - len(self._chunks[0].data) >= tail:
            old = self._chunks.popleft()
            self._size -= len(old.data)
            self._dropped += len(old.data)
        first = self._chunks[0]
        excess = max(0, self._size - tail)
        line_start = first.data.find(b"\n", excess, len(first.data) - 1) + 1
        if line_start:
            excess = line_start  # start the tail on a whole line when one starts within it
        if excess:
            self._chunks[0] = Chunk(first.data[excess:], first.stamp)
            self._size -= excess
            self._dropped += excess

    def _take_front(self, budget: int) -> list[Chunk]:
        taken: list[Chunk] = []
        while self._chunks and budget > 0:
            chunk = self._chunks[0]
            if len(chunk.data) <= budget:
                self._chunks.popleft()
            else:
                self._chunks[0] = Chunk(chunk.data[budget:])  # the rest continues the same read: no stamp
                chunk = Chunk(chunk.data[:budget], chunk.stamp)
            taken.append(chunk)
            budget -= len(chunk.data)
            self._size -= len(chunk.data)
        return taken
