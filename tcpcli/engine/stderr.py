"""stderr lines from the event loop without ever blocking it: written at once when there is room, else
queued (bounded) for a thread.

A server's stderr may be a pipe nobody drains (a supervisor that only reads it on crash). A blocking write
there would freeze the loop: no client served, SIGTERM not handled. So while the engine runs, sys.stderr is
a `BoundedStderr`. A line goes straight out when nothing is queued and poll() says stderr has room (a pipe:
at least a page free, so a line of up to PIPE_BUF bytes cannot block): the usual case costs two system calls
and no thread switch. Otherwise it is queued (at most LIMIT bytes) for a daemon thread; past the limit lines
are dropped and counted, and the count is told once stderr takes lines again (and at the end). stderr's
blocking mode is never changed: the descriptor is shared with the shell.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO, cast

from tcpcli.engine.stdio import write_all

__all__ = ["LIMIT", "BoundedStderr", "bounded_stderr"]

# Enough for bursts (10,000 clients connecting with -v) while a reader keeps up; only a stuck stderr fills it.
LIMIT = 1 << 20


class BoundedStderr:
    """A text stream for sys.stderr: `write` never blocks; `close(timeout)` writes out what it can."""

    def __init__(self, fd: int, limit: int = LIMIT) -> None:
        self._fd = fd
        self._limit = limit
        self._lines: list[bytes] = []
        self._queued = 0
        self.dropped = 0  # writes dropped since the last note about them
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._busy = False
        self._broken = False
        self._poll = select.poll()
        self._poll.register(fd, select.POLLOUT)
        self._thread = threading.Thread(target=self._run, name="stderr", daemon=True)
        self._thread.start()

    # the parts of a text stream that loggers, warnings and Reporter use
    def write(self, text: str) -> int:
        data = text.encode("utf-8", "replace")
        with self._lock:
            if self._broken:
                return len(text)
            if not self._lines and not self._busy and not self.dropped and self._write_now(data):
                return len(text)
            if self._queued + len(data) > self._limit:
                self.dropped += 1
                return len(text)
            if self.dropped and data.endswith(b"\n"):  # room again: say what was lost, once
                note = f"tcpcli: {self.dropped} lines to stderr were dropped (stderr was not read)\n"
                self._lines.append(note.encode())
                self._queued += len(note)
                self.dropped = 0
            self._lines.append(data)
            self._queued += len(data)
            self._wake.notify()
        return len(text)

    def _write_now(self, data: bytes) -> bool:
        """Write `data` at once if stderr has room for all of it; False: queue it (nothing was written)."""
        if len(data) > select.PIPE_BUF:
            return False
        try:
            if not self._poll.poll(0):
                return False
            written = os.write(self._fd, data)
        except BlockingIOError:  # stderr inherited non-blocking, and full after all
            return False
        except OSError:
            self._broken = True  # stderr gone: nothing left to tell anyone
            return True
        if written < len(data):
            self._lines.append(data[written:])  # the rest goes next, through the thread
            self._queued += len(data) - written
            self._wake.notify()
        return True

    def flush(self) -> None:
        """Nothing: the thread writes as soon as it can (waiting here could block the loop)."""

    def isatty(self) -> bool:
        try:
            return os.isatty(self._fd)
        except OSError:
            return False

    def fileno(self) -> int:
        return self._fd

    def close(self, timeout: float) -> bool:
        """Wait at most `timeout` s for the queued lines (and a note of dropped ones) to be written."""
        with self._lock:
            if self.dropped and not self._broken:
                note = f"tcpcli: {self.dropped} lines to stderr were dropped (stderr was not read)\n"
                self._lines.append(note.encode())
                self._queued += len(note)
                self.dropped = 0
                self._wake.notify()
        deadline = time.monotonic() + timeout
        with self._lock:
            while (self._lines or self._busy) and not self._broken:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._lines:
                    self._wake.wait()
                data = b"".join(self._lines)
                self._lines.clear()
                self._busy = True
            try:
                write_all(self._fd, data)  # may block: only this thread waits
            except (OSError, ValueError):
                with self._lock:
                    self._broken = True
                    self._busy = False
                    self._wake.notify_all()
                return
            with self._lock:
                self._queued -= len(data)
                self._busy = False
                self._wake.notify_all()


@contextlib.contextmanager
def bounded_stderr(grace: float = 1.0) -> Iterator[BoundedStderr | None]:
    """sys.stderr is a BoundedStderr inside (when it is the process's own stderr); restored after, with
    at most `grace` s spent writing out what is queued."""
    real: TextIO | None = sys.stderr
    if real is None or sys.__stderr__ is None or real is not sys.__stderr__:
        yield None  # closed, or already swapped by someone who keeps their own lines (a terminal front)
        return
    try:
        real.flush()
        fd = real.fileno()
    except (OSError, ValueError):
        yield None
        return
    stream = BoundedStderr(fd)
    sys.stderr = cast(TextIO, stream)
    try:
        yield stream
    finally:
        sys.stderr = real
        stream.close(grace)
