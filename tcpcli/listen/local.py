"""The server's own ends: stdin (or typed lines) in, received data out, each on a thread of its own.

Blocking reads and writes on threads keep the event loop free whatever stdin and stdout are (pipe, file,
terminal) and never set O_NONBLOCK on descriptors the shell shares with us. Both directions are bounded: the
stdin thread waits until its chunk was handed to the clients, and a slow stdout pauses reading from clients.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import threading
from collections.abc import Callable

from tcpcli.core.newline import CrlfTranslator
from tcpcli.errors import TcpcliError, translate_os_error
from tcpcli.stdio import read_some
from tcpcli.taps import OutputFile, write_all

READ_CHUNK = 64 * 1024

# Received bytes waiting for stdout: past the high mark the clients are paused (their data waits in the
# kernel), below the low mark they resume. Back-pressure instead of loss: the output is the user's.
OUTPUT_HIGH_WATER = 1 << 20
OUTPUT_LOW_WATER = 256 * 1024


def can_read_stdin(fd: int = 0) -> bool:
    """False when stdin is closed, or a terminal we do not own (a background job would be stopped)."""
    try:
        os.fstat(fd)
    except OSError:
        return False
    if not os.isatty(fd):
        return True
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


class InputReader:
    """Reads stdin on a thread; `await read()` returns the next chunk, b"" at end of input."""

    def __init__(self, fd: int, terminal: bool, crlf: bool, eol: bytes) -> None:
        self._fd = fd
        self._terminal = terminal
        self._eol = eol
        self._translator = CrlfTranslator() if crlf and not terminal else None
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stdin", daemon=True)
        self._thread.start()

    async def read(self) -> bytes:
        return await self._queue.get()

    def stop(self) -> None:
        self._stopped.set()  # the thread may stay blocked in read(2): it is a daemon, exit does not wait

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                # EAGAIN (stdin inherited non-blocking) is a wait, not the end of input
                got = read_some(self._fd, READ_CHUNK, self._stopped.is_set)
            except OSError:
                got = b""
            if got is None:
                return  # stopped while waiting
            data = got
            if data:
                data = self._shape(data)
            future = asyncio.run_coroutine_threadsafe(self._queue.put(data), self._loop)
            while not self._stopped.is_set():
                try:
                    future.result(timeout=0.5)
                    break
                except TimeoutError:
                    continue
            if not data:
                return

    def _shape(self, data: bytes) -> bytes:
        """A typed line (a terminal in canonical mode reads line by line) ends in the chosen line ending."""
        if self._terminal:
            return data[:-1] + self._eol if data.endswith(b"\n") else data
        return self._translator.feed(data) if self._translator is not None else data


class OutputWriter:
    """Writes to stdout (and `-o`) on a thread.

    On the loop it calls `pause(True/False)` for back-pressure, and `stop()` when writing failed: `failed`
    then holds the error, or None when the reader of stdout went away (`| head -1`: a quiet exit).
    """

    def __init__(
        self, fd: int, output: OutputFile | None, pause: Callable[[bool], None], stop: Callable[[], None]
    ) -> None:
        self._fd = fd
        self._output = output
        self._pause = pause
        self._stop = stop
        self._loop = asyncio.get_running_loop()
        self._chunks: collections.deque[bytes] = collections.deque()
        self._pending = 0
        self._paused = False
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.failed: TcpcliError | None = None
        self.stopped = False
        self._thread = threading.Thread(target=self._run, name="stdout", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        with self._lock:
            self._chunks.append(data)
            self._pending += len(data)
            pause = not self._paused and self._pending > OUTPUT_HIGH_WATER
            if pause:
                self._paused = True
        self._wake.set()
        if pause:
            self._pause(True)

    def drain(self, timeout: float) -> None:
        """Wait (bounded) until what was written is out: called once, when the server stops."""
        self._wake.set()
        deadline = self._loop.time() + timeout
        while self._pending and not self.stopped and self._loop.time() < deadline:
            self._wake.wait(0.01)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                chunks = list(self._chunks)
                self._chunks.clear()
            if not chunks:
                continue
            data = b"".join(chunks)
            try:
                write_all(self._fd, data)
                if self._output is not None:
                    self._output.write(data)
            except BrokenPipeError:
                self._give_up(None)
                return
            except TcpcliError as exc:
                self._give_up(exc)
                return
            except OSError as exc:
                self._give_up(translate_os_error(exc, "writing to stdout"))
                return
            with self._lock:
                self._pending -= len(data)
                resume = self._paused and self._pending < OUTPUT_LOW_WATER
                if resume:
                    self._paused = False
            if resume:
                with contextlib.suppress(RuntimeError):  # the loop is gone: nothing to resume
                    self._loop.call_soon_threadsafe(self._pause, False)

    def _give_up(self, error: TcpcliError | None) -> None:
        self.failed = error
        self.stopped = True
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._stop)
