"""engine.stderr: a stderr nobody reads never blocks a writer; what did not fit is counted and said later."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable

from tcpcli.engine.stderr import BoundedStderr

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _read_until(fd: int, done: Callable[[bytes], bool], timeout: float = 10.0) -> bytes:
    """Read what comes until `done(everything so far)` (bounded)."""
    os.set_blocking(fd, False)
    data, deadline = b"", time.monotonic() + timeout
    while not done(data):
        assert time.monotonic() < deadline, data[-200:]
        try:
            data += os.read(fd, 1 << 16)
        except BlockingIOError:
            time.sleep(0.01)
    return data


def test_writes_to_a_full_pipe_return_at_once_and_the_drop_count_is_told_once_it_drains() -> None:
    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, _F_SETPIPE_SZ, 4096)
        stream = BoundedStderr(write_end, limit=8192)
        line = "tcpcli: " + "x" * 91 + "\n"  # 100 bytes
        writer = threading.Thread(target=lambda: [stream.write(line) for _ in range(1000)])
        writer.start()  # 100 KB into a 4 KiB pipe and an 8 KiB queue while nobody reads
        writer.join(10.0)
        assert not writer.is_alive()  # it never waited for the pipe
        assert stream.dropped > 800
        # the reader wakes up: what fitted (the pipe, then the 8 KiB queue: over 80 lines) comes out
        _read_until(read_end, lambda data: data.count(b"\n") >= 80)
        stream.write("tcpcli: after\n")  # room again: the count goes first
        assert stream.close(5.0)
        _read_until(read_end, lambda data: data.endswith(b"tcpcli: after\n"))
        assert stream.dropped == 0  # told: the note went out before `after`
    finally:
        os.close(read_end)
        os.close(write_end)
