"""The stderr channel: `tcpcli: ...` lines for errors, warnings and `-v` lifecycle events.

Thread-safe (stream mode reports from its pump threads) and free of heavy imports so stream mode starts fast.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TextIO

from tcpcli.core.events import Event, describe
from tcpcli.stdio import write_all

_RED = "\x1b[31m"
_DIM = "\x1b[2m"
_YELLOW = "\x1b[33m"
_RESET = "\x1b[0m"

# Control characters in a message (a user's value such as `-e $'\r'`, a peer's name) are shown escaped, so a
# message stays one line and cannot drive the terminal.
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_CONTROLS.update({code: f"\\u{code:04x}" for code in (0x2028, 0x2029)})  # line breaks to str.splitlines
_CONTROLS.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def color_enabled(choice: str, stream: TextIO | None) -> bool:
    """`--color auto` means: only on a terminal and only when NO_COLOR is unset."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR") or stream is None:
        return False
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return False


class Reporter:
    """Writes one line per event or error; events only with `-v`."""

    def __init__(self, verbose: bool = False, color: str = "auto", stream: TextIO | None = None) -> None:
        self.verbose = verbose
        self._stream = stream
        self._color = color_enabled(color, stream if stream is not None else sys.stderr)
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
        if not message.isprintable():
            message = message.translate(_CONTROLS)
        line = f"tcpcli: {message}"
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
