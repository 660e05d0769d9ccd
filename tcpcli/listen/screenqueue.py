"""What the server's clients said and did, in order, waiting for the next frame of the screen.

Clients can send far faster than a terminal draws. The screen takes a bounded amount per frame, and when
more than a backlog is waiting the oldest data is dropped from the display only (`-o` has every byte), as
connect mode's Inbox does. Events are never dropped, and stay in order: a client's last line shows before
the event saying it left.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Item:
    """Data from `source`, an event line (`message` in `style`), or the end of `source` (`gone`)."""

    source: object = None
    data: bytes = b""
    message: str | None = None
    style: str = ""
    gone: bool = False


@dataclass
class Frame:
    items: list[Item] = field(default_factory=list)
    skipped: dict[object, int] = field(default_factory=dict)  # bytes not shown, per source
    more: bool = False


class ScreenQueue:
    """Fed on the event loop; `notify` is called when something arrives while the screen is idle."""

    def __init__(self, limit: int, tail: int, notify: Callable[[], None]) -> None:
        self._limit = limit
        self._tail = tail
        self._notify = notify
        self._items: deque[Item] = deque()
        self._size = 0
        self._skipped: dict[object, int] = {}
        self._notified = False

    def data(self, source: object, data: bytes) -> None:
        self._items.append(Item(source, data))
        self._size += len(data)
        if self._size > self._limit:
            self._drop_oldest_data()
        self._wake()

    def message(self, text: str, style: str) -> None:
        self._items.append(Item(message=text, style=style))
        self._wake()

    def gone(self, source: object) -> None:
        self._items.append(Item(source, gone=True))
        self._wake()

    def take(self, budget: int) -> Frame:
        """Items in order until `budget` data bytes (events cost nothing); what was skipped before them."""
        self._notified = False
        frame = Frame(skipped=self._skipped)
        self._skipped = {}
        while self._items and budget > 0:
            item = self._items.popleft()
            self._size -= len(item.data)
            budget -= len(item.data)
            frame.items.append(item)
        frame.more = bool(self._items)
        self._notified = frame.more  # the caller comes back for the rest: no wake-up needed
        return frame

    def _drop_oldest_data(self) -> None:
        """Keep every event but only the newest `tail` bytes of data: a flood scrolls past unread anyway."""
        kept: deque[Item] = deque()
        for item in self._items:
            if item.data and self._size > self._tail:
                self._size -= len(item.data)
                self._skipped[item.source] = self._skipped.get(item.source, 0) + len(item.data)
                continue
            kept.append(item)
        self._items = kept

    def _wake(self) -> None:
        if not self._notified:
            self._notified = True
            self._notify()
