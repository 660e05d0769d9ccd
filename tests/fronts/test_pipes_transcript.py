"""fronts.pipes.transcript in-process: the relay's lines reach a real pipe whole and in order, a slow reader
holds the relay's reading (and lets it go), a vanished reader or a failed write stops the relay once.

The engine is played by a recorder of Controls calls (no network here: R1's engine tests and the relay's
end-to-end tests run real sockets); stdout is a real pipe read by a thread.
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from collections.abc import Callable, Collection

from tcpcli.engine.seam import Peer
from tcpcli.engine.stdio import write_all
from tcpcli.errors import TcpcliError
from tcpcli.fronts.pipes.sink import OUTPUT_HIGH_WATER
from tcpcli.fronts.pipes.transcript import PipeTranscript
from tcpcli.report import Reporter
from tcpcli.settings import View, ViewSettings

WAIT = 10.0


class RecordingOutbox:
    clients: Collection[Peer] = ()

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def from_local(self, data: bytes) -> None:
        self.sent.append(data)


class RecordingControls:
    """The relay as its front sees it: records every call, and wakes a waiter on each."""

    def __init__(self) -> None:
        self.outbox = RecordingOutbox()
        self.holds: list[bool] = []
        self.failures: list[TcpcliError | None] = []
        self.changed = asyncio.Event()

    def hold_reading(self, hold: bool) -> None:
        self.holds.append(hold)
        self.changed.set()

    def front_failed(self, error: TcpcliError | None) -> None:
        self.failures.append(error)
        self.changed.set()

    def interrupt(self) -> None:
        raise AssertionError("a pipe front never interrupts")

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


class PipeReader:
    """The read end of a real pipe, drained by a thread once `go` is set (a slow reader until then)."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.go = threading.Event()
        self.data = bytearray()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.go.wait()
        while chunk := os.read(self.read_fd, 1 << 16):
            self.data += chunk

    def write(self, data: bytes) -> None:
        write_all(self.write_fd, data)

    def finish(self) -> bytes:
        os.close(self.write_fd)
        self.go.set()
        self._thread.join(WAIT)
        os.close(self.read_fd)
        return bytes(self.data)


def _run(body: Callable[[], object]) -> None:
    async def main() -> None:
        await body()  # type: ignore[misc]

    asyncio.run(main())


def test_the_transcript_of_two_interleaved_connections_reaches_stdout_in_order() -> None:
    reader = PipeReader()
    reader.go.set()

    async def body() -> None:
        controls = RecordingControls()
        front = PipeTranscript(ViewSettings(), Reporter(), controls, reader.write)
        front.start()
        front.opened(1, "127.0.0.1:40000", "127.0.0.1:6379", 1.0)
        front.opened(2, "127.0.0.1:40001", "127.0.0.1:6379", 1.0)
        front.data(1, ">", b"PING\r\n", 1.0)
        front.data(2, ">", b"GET k\r\n", 1.0)
        front.data(1, "<", b"+PONG\r\n", 1.0)
        front.event(1, ">", b"FIN", 1.0)
        front.event(1, "<", b"FIN", 1.0)
        front.closed(1, 6, 7, 0.25, 1.0)
        front.event(2, "<", b"RST", 1.0)
        front.closed(2, 7, 0, 0.5, 1.0)
        assert await front.close(1.0) is None
        assert controls.holds == [] and controls.failures == []

    _run(body)
    assert reader.finish().decode() == (
        "#1 open 127.0.0.1:40000 -> 127.0.0.1:6379\n"
        "#2 open 127.0.0.1:40001 -> 127.0.0.1:6379\n"
        "#1 > PING\\r\\n\n"
        "#2 > GET k\\r\\n\n"
        "#1 < +PONG\\r\\n\n"
        "#1 > FIN\n"
        "#1 < FIN\n"
        "#1 closed: 6 bytes >, 7 bytes <, 0.250 s\n"
        "#2 < RST\n"
        "#2 closed: 7 bytes >, 0 bytes <, 0.500 s\n"
    )


def test_a_slow_reader_holds_the_relay_and_every_byte_arrives_once_it_reads() -> None:
    reader = PipeReader()  # reads nothing until told
    chunk = bytes(range(256)) * 256  # 64 KiB of every byte value: 16 hex lines per 256 bytes

    async def body() -> None:
        controls = RecordingControls()
        front = PipeTranscript(ViewSettings(view=View.HEX), Reporter(), controls, reader.write)
        sent = 0
        while not controls.holds:  # the engine stops calling data() once told to hold
            front.data(1, "<", chunk, 1.0)
            sent += len(chunk)
            assert sent < 64 * OUTPUT_HIGH_WATER, "never held"
        assert controls.holds == [True]
        reader.go.set()
        await controls.until(lambda: len(controls.holds) == 2)
        assert controls.holds == [True, False]
        front.closed(1, 0, sent, 1.0, 1.0)
        assert await front.close(WAIT) is None
        totals.append(sent)

    totals: list[int] = []
    _run(body)
    *lines, closed = reader.finish().splitlines()
    assert closed == b"#1 closed: 0 bytes >, %d bytes <, 1.000 s" % totals[0]
    assert all(line.startswith(b"#1 < ") for line in lines)
    assert len(lines) * 16 == totals[0]  # every byte dumped once, in order
    assert lines[-1].startswith(b"#1 < %08x  f0 f1" % (totals[0] - 16))


def test_a_reader_that_went_away_stops_the_relay_quietly_once() -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)

    async def body() -> None:
        controls = RecordingControls()
        front = PipeTranscript(ViewSettings(), Reporter(), controls, lambda data: write_all(write_fd, data))
        front.data(1, ">", b"hello\n", 1.0)
        await controls.until(lambda: bool(controls.failures))
        front.data(1, ">", b"more\n", 1.0)  # the relay may still be winding down: ignored, no second call
        assert await front.close(1.0) is None
        await asyncio.sleep(0)
        assert controls.failures == [None]

    try:
        _run(body)
    finally:
        os.close(write_fd)


def test_a_failed_write_stops_the_relay_with_the_error() -> None:
    def full(data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    async def body() -> None:
        controls = RecordingControls()
        front = PipeTranscript(ViewSettings(), Reporter(), controls, full)
        front.event(1, ">", b"FIN", 1.0)
        await controls.until(lambda: bool(controls.failures))
        [error] = controls.failures
        assert error is not None and "writing to stdout" in error.message

    _run(body)


def test_close_says_how_much_could_not_be_written_when_stdout_takes_nothing() -> None:
    stuck = threading.Event()

    async def body() -> None:
        controls = RecordingControls()
        front = PipeTranscript(ViewSettings(), Reporter(), controls, lambda data: stuck.wait(WAIT))
        front.data(1, ">", b"a", 1.0)  # taken by the writer, which then hangs
        front.data(1, ">", b"b" * 10, 1.0)
        account = await front.close(0.2)
        assert account is not None and account.endswith(
            "bytes of transcript were not written to stdout (it took none for 0.2 s)"
        )

    try:
        _run(body)
    finally:
        stuck.set()


def test_warnings_go_to_stderr_not_into_the_transcript(capsys) -> None:  # type: ignore[no-untyped-def]
    reader = PipeReader()
    reader.go.set()

    async def body() -> None:
        front = PipeTranscript(ViewSettings(), Reporter(), RecordingControls(), reader.write)
        front.warning("#1 upstream 127.0.0.1:9: connection refused")
        assert await front.close(1.0) is None

    _run(body)
    assert reader.finish() == b""
    assert capsys.readouterr().err == "tcpcli: #1 upstream 127.0.0.1:9: connection refused\n"
