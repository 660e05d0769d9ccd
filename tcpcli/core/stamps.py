"""The `-t` stamp of a transcript line: a wall-clock time (epoch seconds) as local `HH:MM:SS.ffffff`.

Pure apart from the time zone, which the conversion to local time reads (as `date` and socat -v do). The
transcript stamps every line of every chunk, so the hours-minutes-seconds part is computed once per second.
"""

from __future__ import annotations

import datetime

__all__ = ["StampFormatter"]

_MICROS = 1_000_000


class StampFormatter:
    """Formats float stamps (time.time() values) as `HH:MM:SS.ffffff`, caching the whole-second part.

    Microseconds are truncated, never rounded, so a stamp never reads later than the read it marks (and
    never shows `.1000000`). Stamps before 1970 (negative) are not expected and raise ValueError.
    """

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self, stamp: float) -> str:
        if stamp < 0:
            raise ValueError(f"a stamp before 1970: {stamp}")
        micros = int(stamp * _MICROS)
        second, fraction = divmod(micros, _MICROS)
        if second != self._second:
            self._second = second
            self._text = datetime.datetime.fromtimestamp(second).strftime("%H:%M:%S")
        return f"{self._text}.{fraction:06d}"
