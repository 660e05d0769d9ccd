"""Many sources on one screen (the keep-open server's clients): each is decoded by a view of its own, so a
character split across reads stays whole, and each line it starts carries its label, so lines never merge.

A partial line (a prompt with no newline) is held by the Display as usual; when another client speaks, that
line is ended first and the first client's next data starts a new labelled line.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

from tcpcli.interactive.display import Display
from tcpcli.interactive.render import LABEL
from tcpcli.interactive.views import ReceivedView


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
    """`received(key, label, data)` per chunk from a source, `finish(key, label)` when it is gone."""

    def __init__(self, display: Display, new_view: Callable[[], ReceivedView]) -> None:
        self._display = display
        self._new_view = new_view
        self._views: dict[object, ReceivedView] = {}
        self._holder: object | None = None  # whose partial line the display holds

    def received(self, key: object, label: str, data: bytes) -> None:
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = self._new_view()
        self._show(key, label, view.feed(data))

    def skip(self, key: object, count: int) -> None:
        """`count` bytes of this source were not shown (a flood): its view resynchronises."""
        view = self._views.get(key)
        if view is not None:
            view.skip(count)
        if self._holder is key:
            self._display.end_partial_line()
            self._holder = None

    def finish(self, key: object, label: str) -> None:
        view = self._views.pop(key, None)
        if view is not None:
            self._show(key, label, view.finish())
        if self._holder is key:
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
