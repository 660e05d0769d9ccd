"""The one frame queue between the engines and the screen, for one peer or many.

The engine never waits for the screen: it hands over what it reads at full speed (so `-o` and the kernel's
receive window keep up with a flood), and the oldest *display* copies are dropped beyond a bound. The screen
takes a frame's budget of bytes at a time, splitting a chunk that is larger than the budget (a 256 KiB read
of short lines is drawn over several frames, keys and typed lines get the loop in between); after a drop it
shows only the tail and says how many bytes it skipped. Events (a client joined or left) are never dropped
and keep their place: a client's last line shows before the event saying it left.

Thread-safe: the one-peer engine puts from its receiving thread; the many-peer engine from the event loop.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tcpcli.errors import TcpcliError

__all__ = ["BACKLOG", "Batch", "Chunk", "Gone", "Inbox", "Item", "Note"]

# Received bytes waiting for the screen; beyond this the oldest are skipped (their display only: -o has them).
BACKLOG = 256 * 1024


@dataclass(frozen=True)
class Chunk:
    """Bytes from one read of `source` (None: the one peer), with the `-t` time of that read (None: no
    timestamps, or the continuation of a read split across frames)."""

    data: bytes
    stamp: str | None = None
    source: object = None


@dataclass(frozen=True)
class Note:
    """An event line (`message` in `style`), shown in its place among the data."""

    message: str
    style: str = ""


@dataclass(frozen=True)
class Gone:
    """`source` has left: what its view held back is shown now."""

    source: object


Item = Chunk | Note | Gone


@dataclass(frozen=True)
class Batch:
    """What the screen shows in one frame: `skipped` bytes were dropped before `chunks` (a flood)."""

    chunks: list[Item] = field(default_factory=list)
    skipped: int = 0
    more: bool = False  # more is waiting: take again at the next frame
    ended: bool = False  # the peer closed and everything before the close is in this batch
    error: TcpcliError | None = None  # the read failed after these chunks
    skipped_by: dict[object, int] = field(default_factory=dict, compare=False)  # `skipped`, per source


def _nobody() -> None:
    """The Inbox's wake-up before the screen listens."""


class Inbox:
    """`put`/`note`/`gone`/`close` from the engine's side, `take` from the event loop.

    `notify` is called when something arrives while the screen is idle, at most once until the next `take`,
    so a flood costs one wake-up per frame, not one per read. The engine may start before the screen
    exists: until `listen(notify)` the Inbox only collects (within its limit).
    """

    def __init__(self, limit: int, notify: Callable[[], None] | None = None) -> None:
        self._limit = limit
        self._notify: Callable[[], None] = notify or _nobody
        self._lock = threading.Lock()
        self._items: deque[Item] = deque()
        self._size = 0  # data bytes waiting
        self._chunks = 0  # Chunks waiting (the others are notes and departures)
        self._dropped: dict[object, int] = {}
        self._closed = False
        self._error: TcpcliError | None = None
        self._notified = notify is None  # nobody to wake yet: `listen` does it

    def listen(self, notify: Callable[[], None]) -> None:
        """The screen is ready: `notify` from now on, and at once if something came before it."""
        with self._lock:
            self._notify = notify
            wake = bool(self._items) or self._closed
            self._notified = wake
        if wake:
            notify()

    def put(self, data: bytes, stamp: str | None = None, source: object = None) -> None:
        with self._lock:
            self._items.append(Chunk(data, stamp, source))
            self._size += len(data)
            self._chunks += 1
            if self._size > self._limit:
                self._drop_oldest()
            wake = self._claim_wake()
        if wake:
            self._notify()

    def note(self, message: str, style: str = "") -> None:
        with self._lock:
            self._items.append(Note(message, style))
            wake = self._claim_wake()
        if wake:
            self._notify()

    def gone(self, source: object) -> None:
        with self._lock:
            self._items.append(Gone(source))
            wake = self._claim_wake()
        if wake:
            self._notify()

    def close(self, error: TcpcliError | None = None) -> None:
        """The peer closed (error None) or the read failed; shown after whatever is still queued."""
        with self._lock:
            self._closed = True
            self._error = error
            wake = self._claim_wake()
        if wake:
            self._notify()

    def trim(self, tail: int) -> None:
        """Keep only the newest `tail` bytes of data (and every note): the screen is going away, and drawing
        a full backlog would hold up the exit for seconds."""
        with self._lock:
            self._keep_tail(tail)

    def take(self, budget: int, tail: int) -> Batch:
        """Items in order until `budget` data bytes (a larger chunk is split); after a drop (a flood) only
        the last `tail` bytes. Notes and departures cost nothing."""
        with self._lock:
            self._notified = False
            if self._dropped:
                self._keep_tail(tail)
            items = self._take_front(budget)
            skipped_by, self._dropped = self._dropped, {}
            more = bool(self._items)
            ended = self._closed and not more
            if more:
                self._notified = True  # the caller comes back for the rest: no wake-up needed
            error = self._error if ended else None
            return Batch(items, sum(skipped_by.values()), more, ended, error, skipped_by)

    def _claim_wake(self) -> bool:
        """With the lock held, in the same hold as the arrival (a `take` in between would otherwise leave
        the Inbox marked notified with nothing queued): True when the caller must call `notify`."""
        wake = not self._notified
        self._notified = True
        return wake

    def _drop(self, chunk: Chunk, count: int) -> None:
        self._size -= count
        self._dropped[chunk.source] = self._dropped.get(chunk.source, 0) + count

    def _drop_oldest(self) -> None:
        """Over the limit: the oldest data goes (the newest chunk stays); notes keep their place."""
        held: list[Item] = []
        while self._size > self._limit and self._chunks > 1:
            item = self._items.popleft()
            if isinstance(item, Chunk):
                self._drop(item, len(item.data))
                self._chunks -= 1
            else:
                held.append(item)
        self._items.extendleft(reversed(held))

    def _keep_tail(self, tail: int) -> None:
        """Whole chunks go while the rest still holds `tail` bytes; the first kept one starts on a line."""
        kept: deque[Item] = deque()
        excess = max(0, self._size - tail)
        for item in self._items:
            if excess and isinstance(item, Chunk):
                if len(item.data) <= excess and self._chunks > 1:
                    self._drop(item, len(item.data))
                    self._chunks -= 1
                    excess -= len(item.data)
                    continue
                excess = min(excess, len(item.data))
                line_start = item.data.find(b"\n", excess, len(item.data) - 1) + 1
                cut = line_start or excess  # start the tail on a whole line when one starts within it
                self._drop(item, cut)
                item = Chunk(item.data[cut:], item.stamp, item.source)
                excess = 0
            kept.append(item)
        self._items = kept

    def _take_front(self, budget: int) -> list[Item]:
        taken: list[Item] = []
        while self._items and budget > 0:
            item = self._items[0]
            if not isinstance(item, Chunk):
                taken.append(self._items.popleft())
                continue
            if len(item.data) <= budget:
                self._items.popleft()
                self._chunks -= 1
            else:  # the rest continues the same read: no stamp
                self._items[0] = Chunk(item.data[budget:], None, item.source)
                item = Chunk(item.data[:budget], item.stamp, item.source)
            taken.append(item)
            budget -= len(item.data)
            self._size -= len(item.data)
        while self._items and not isinstance(self._items[0], Chunk):
            taken.append(self._items.popleft())  # events right after the frame's data cost nothing
        return taken
