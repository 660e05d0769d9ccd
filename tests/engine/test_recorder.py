"""The recorder's writer thread: everything written in order; a writer behind makes the pumps wait."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tcpcli.core.recording import Turn, read_recording
from tcpcli.engine.recorder import BEHIND_LIMIT, Recorder

CHUNK = 1024 * 1024


def test_a_slow_file_holds_the_pump_back_and_loses_nothing(tmp_path: Path) -> None:
    fifo = tmp_path / "slow"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, but nobody reads yet: the writer blocks
    warnings: list[str] = []
    recorder = Recorder(str(fifo), "relay", None, warnings.append)
    behind = threading.Event()
    total = BEHIND_LIMIT + 8 * CHUNK

    def pump() -> None:
        block = bytes(range(256)) * (CHUNK // 256)
        for _ in range(total // CHUNK):
            if recorder.data(1, ">", block):
                behind.set()
                recorder.wait_for_room()  # what a blocking pump does
        recorder.event(1, "close")

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    assert behind.wait(30), "the recorder never said it was behind"
    assert thread.is_alive()  # held back, not racing ahead with memory growing
    received = bytearray()
    os.set_blocking(reader, True)
    drain = threading.Thread(target=lambda: _read_all(reader, received), daemon=True)
    drain.start()
    thread.join(30)
    assert not thread.is_alive()
    recorder.close()
    drain.join(30)
    os.close(reader)
    assert len(warnings) == 1 and "slower than the traffic" in warnings[0]
    recording = read_recording(received.decode(), "fifo")
    (turn,) = recording.connections[0].steps
    assert isinstance(turn, Turn) and len(turn.literal or b"") == total


def _read_all(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 1 << 20):
        into += chunk


def test_events_come_out_in_order_with_the_header(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    recorder = Recorder(str(path), "connect", None, print)
    recorder.opened(1, "127.0.0.1:1", "127.0.0.1:2")
    recorder.data(1, ">", b"PING\r\n")
    recorder.event(1, "fin", ">")
    recorder.data(1, "<", b"+PONG\r\n")
    recorder.event(1, "close")
    recorder.close()
    lines = path.read_text().splitlines()
    assert lines[0].startswith('{"tcpcli": 1, "mode": "connect", "started": "')
    assert ['"ev":"open"' in lines[1], '"PING' in lines[2], '"fin"' in lines[3], "PONG" in lines[4]] == [
        True
    ] * 4
    assert lines[5].endswith('"ev":"close"}')
