"""The one-peer engine through the seam logs a typed line before the kernel has it (issue 11.1, as fd to fd).

The channel runs in-process (its real reader and writer threads over a real socketpair), so a race that showed
in one exchange out of twenty is exercised hundreds of times.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

from tcpcli.engine.pair import Channel
from tcpcli.engine.taps import HexLog
from tcpcli.fronts.terminal.inbox import Inbox
from tests.test_stream_order import HEADER, WAIT, reply_per_line, serve


def test_hex_log_shows_each_typed_line_before_its_reply(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    ours, theirs = socket.socketpair()
    peer = serve(theirs, reply_per_line)  # the same Redis-like peer as the fd-to-fd order test
    arrived = threading.Event()
    inbox = Inbox(1 << 20, arrived.set)
    channel = Channel(ours, inbox, "test", hex_log=HexLog(str(log)))
    channel.start()
    exchanges = 300
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows within 300 exchanges
    try:
        for number in range(exchanges):
            channel.send(b"PING\r\n")
            deadline = time.monotonic() + WAIT
            while channel.received < 7 * (number + 1):  # the next line only after the reply came
                assert arrived.wait(max(0.0, deadline - time.monotonic())), "no reply in time"
                arrived.clear()
                inbox.take(1 << 20, 4096)
    finally:
        sys.setswitchinterval(interval)
        channel.half_close()  # our FIN ends the peer, whose close ends our reader
        peer.join(WAIT)
        channel.close()
    headers = [HEADER.match(line) for line in log.read_text().splitlines() if line[:1] not in "<>"]
    assert all(headers)
    directions = "".join(match[2] for match in headers if match)
    assert directions == "><" * exchanges  # each line logged before the reply it caused
    stamps = [match[1] for match in headers if match]
    assert stamps == sorted(stamps)
