"""The stderr channel: `tcpcli: ...` lines for errors, warnings and `-v` lifecycle events.

Thread-safe (stream mode reports from its pump threads) and free of heavy imports so stream mode starts fast.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from tcpcli.core.events import Event, describe
from tcpcli.core.visible import one_line
from tcpcli.engine.stdio import write_all

__all__ = ["Reporter"]

_RED = "\x1b[31m"
_DIM = "\x1b[2m"
_YELLOW = "\x1b[33m"
_RESET = "\x1b[0m"


class Reporter:
    """Writes one line per event or error; events only with `-v`.

    `color` is decided by the face (`--color`, NO_COLOR, whether stderr is a terminal): True colours errors
    red, warnings yellow and events dim.
    """

    def __init__(self, verbose: bool = False, color: bool = False, stream: TextIO | None = None) -> None:
        self.verbose = verbose
        self._stream = stream
        self._color = color
        self._lock = threading.Lock()

    def event(self, event: Event) -> None:
        if self.verbose:
            self._write(describe(event), _DIM)

    def always(self, event: Event) -> None:
        """Events every user needs, `-v` or not (the `listening on` line scripts read the port from)."""
        self._write(describe(event), "")

    def warning(self, message: str) -> None:
        self._write(message, _YELLOW)

    def error(self, message: str) -> None:
        self._write(message, _RED)

    def _write(self, message: str, color: str) -> None:
        # A message may hold a user's value (`-e $'\r'`) or a peer's name: one safe line whatever they hold.
        line = f"tcpcli: {one_line(message)}"
        if self._color and color:
            line = f"{color}{line}{_RESET}"
        # sys.stderr is looked up at each write: the interactive session swaps in a writer that keeps our
        # lines above its input line.
        stream = self._stream if self._stream is not None else sys.stderr
        if stream is None:  # stderr was closed when we started (`2>&-`)
            return
        with self._lock:
            try:
                real = sys.__stderr__
                if real is not None and stream is real:
                    # the process's own stderr, which the parent may have left non-blocking: wait for room
                    # instead of losing the line (other writers, e.g. the interactive screen, keep theirs)
                    real.flush()
                    write_all(real.fileno(), (line + "\n").encode("utf-8", "replace"))
                else:
                    stream.write(line + "\n")
                    stream.flush()
            except (OSError, ValueError):
                pass  # stderr gone: nothing left to tell anyone
