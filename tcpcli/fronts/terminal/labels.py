"""Many sources on one screen (the keep-open server's clients): each is decoded by a view of its own, so a
character split across reads stays whole, and each line it starts carries its label, so lines never merge.

A partial line (a prompt with no newline) is held by the Display as usual; when another client speaks, that
line is ended first and the first client's next data starts a new labelled line.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

from tcpcli.fronts.terminal.display import Display
from tcpcli.fronts.terminal.render import LABEL, stamp_text
from tcpcli.fronts.terminal.views import ReceivedView

__all__ = ["LabelledFeeds", "label_lines", "label_of"]


def label_lines(text: Text, label: Text, continuing: bool) -> Text:
    """`label` before every line of `text`, except the first when it continues a held line."""
    out = Text()
    for index, line in enumerate(text.split("\n", include_separator=True, allow_blank=True)):
        if not line.plain:
            continue
        if index or not continuing:
            out.append_text(label)
        out.append_text(line)
    return out


class LabelledFeeds:
    """`received(key, label, data)` per chunk from a source, `finish(key, label)` when it is gone.

    `new_view(offset)` makes a source's view; `offset` is how many of its bytes came before (a hex view
    started by F2 goes on from there).
    """

    def __init__(self, display: Display, new_view: Callable[[int], ReceivedView]) -> None:
        self._display = display
        self._new_view = new_view
        self._views: dict[object, ReceivedView] = {}
        self._positions: dict[object, int] = {}  # bytes of each source shown or skipped so far
        self._holder: object | None = None  # whose partial line the display holds

    def received(self, key: object, label: str, data: bytes, stamp: str | None = None) -> None:
        """`stamp`: the `-t` time of this read, shown before its text (on a line of its own in hex)."""
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = self._new_view(self._positions.get(key, 0))
        self._positions[key] = self._positions.get(key, 0) + len(data)
        text = view.feed(data)
        if stamp is not None and text.plain:
            text = stamp_text(stamp, own_line=view.line_based).append_text(text)
        self._show(key, label, text)

    def skip(self, key: object, count: int) -> None:
        """`count` bytes of this source were not shown (a flood): its view resynchronises."""
        self._positions[key] = self._positions.get(key, 0) + count
        view = self._views.get(key)
        if view is not None:
            view.skip(count)
        if self._holder is key:
            self._display.end_partial_line()
            self._holder = None

    def finish(self, key: object, label: str) -> None:
        self._positions.pop(key, None)
        view = self._views.pop(key, None)
        if view is not None:
            self._show(key, label, view.finish())
        if self._holder is key:
            self._display.end_partial_line()
            self._holder = None

    def switch_views(self) -> None:
        """F2: what each old view held back is shown, then every source gets a new view at its next data."""
        for key, view in list(self._views.items()):
            self._show(key, label_of(key), view.finish())
        self._views.clear()
        self._display.end_partial_line()
        self._holder = None

    def _show(self, key: object, label: str, text: Text) -> None:
        if not text.plain:
            return
        continuing = self._holder is key and self._display.holds_partial
        if not continuing:
            self._display.end_partial_line()  # another client's partial line ends before this one starts
        self._display.show(label_lines(text, Text(f"[{label}] ", LABEL), continuing))
        self._holder = key if self._display.holds_partial else None


def label_of(key: object) -> str:
    """A client's `1.2.3.4:5678` (a seam.Peer), as its lines are labelled."""
    return str(getattr(key, "peer", key))
