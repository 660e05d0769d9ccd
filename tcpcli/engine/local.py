"""The engine's own input: stdin read on a thread (the output side is the front's: fronts.pipes.sink).

A blocking read on a thread keeps the event loop free whatever stdin is (pipe, file, terminal) and never sets
O_NONBLOCK on a descriptor the shell shares with us. Bounded: the thread waits until its chunk was handed to
the clients.
"""

from __future__ import annotations

import asyncio
import os
import threading

from tcpcli.core.newline import CrlfTranslator
from tcpcli.engine.stdio import read_some

__all__ = ["READ_CHUNK", "InputReader", "can_read_stdin"]

READ_CHUNK = 64 * 1024


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
