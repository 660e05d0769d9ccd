"""engine.stderr: a stderr nobody reads never blocks a writer; what did not fit is counted and said later."""

from __future__ import annotations

import fcntl
import os
import threading
import time

from tcpcli.engine.stderr import BoundedStderr

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _read_available(fd: int, timeout: float = 5.0) -> bytes:
    os.set_blocking(fd, False)
    data, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            if data:
                return data
            time.sleep(0.01)
            continue
        data += chunk
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
        first = _read_available(read_end)  # the reader wakes up: what was queued comes out
        assert first.count(b"\n") >= 40
        stream.write("tcpcli: after\n")  # room again: the count goes first
        assert stream.close(5.0)
        rest = _read_available(read_end)
        assert b"lines to stderr were dropped (stderr was not read)\ntcpcli: after\n" in rest
    finally:
        os.close(read_end)
        os.close(write_end)
