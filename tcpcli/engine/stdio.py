"""Blocking reads and writes on inherited descriptors that may have been left non-blocking.

stdin and stdout are shared with the parent: one that set `O_NONBLOCK` on a pipe end before starting us (some
event loops and supervisors do) makes read(2) and write(2) fail with EAGAIN whenever the pipe is empty or
full. That is not an error and not end of input: we wait for readiness with poll(2) and try again. We never
clear the flag ourselves, since the parent relies on it.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable

__all__ = ["read_into", "read_some", "wait_ready", "write_all"]


def wait_ready(fd: int, events: int, timeout_ms: int | None = None) -> bool:
    """Block until `fd` reports one of `events` (select.POLLIN / POLLOUT), or an error or hang-up on it.

    Returns False only when `timeout_ms` passed first. Hang-up and error count as ready: the next read or
    write then reports end of stream or the error itself.
    """
    poller = select.poll()
    poller.register(fd, events)
    return bool(poller.poll(timeout_ms))


def read_into(fd: int, buffer: bytearray) -> int:
    """readv(2) into `buffer`, waiting while a non-blocking `fd` has nothing yet; 0 at end of stream."""
    while True:
        try:
            return os.readv(fd, [buffer])
        except BlockingIOError:
            wait_ready(fd, select.POLLIN)


def read_some(fd: int, size: int, stopped: Callable[[], bool] | None = None) -> bytes | None:
    """read(2) up to `size` bytes, waiting while a non-blocking `fd` has nothing yet; b"" at end of stream.

    With `stopped`, the wait looks at it twice a second and returns None once it is true.
    """
    while True:
        try:
            return os.read(fd, size)
        except BlockingIOError:
            while not wait_ready(fd, select.POLLIN, None if stopped is None else 500):
                if stopped is not None and stopped():
                    return None


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write may write less than asked (pipes, signals, a non-blocking pipe that filled up): loop until
    every byte is out, waiting for room on EAGAIN. Other errors propagate (BrokenPipeError, ENOSPC, ...)."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            wait_ready(fd, select.POLLOUT)
            continue
        view = view[written:]
