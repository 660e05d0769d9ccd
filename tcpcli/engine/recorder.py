"""--record FILE: the recorder, a writer thread that turns the traffic into the file (core.recording).

The pumps only append an event (a tuple) under a lock; the thread encodes what piled up (JSON + base64, in
blocks) and writes it with one write per batch, straight to the file (no user-space buffer: flushed as it
goes). The pumps never wait for the disk unless the writer falls more than `BEHIND_LIMIT` bytes behind: then
a blocking pump waits (`wait_for_room`) and an event loop stops reading (`when_room` says when to go on),
so memory stays bounded; -v says so once. A failed write stops the recording; `close()` raises it (exit 74).

`>` is always client to server: the engine says which side it played (`server`) and `RecordTap` (the taps'
`record(direction, data)`, where `>` means sent) turns its directions round for a server.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tcpcli.core.recording import RecordingWriter
from tcpcli.engine.stdio import write_all
from tcpcli.engine.taps import HexLog
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.settings import Mode

if TYPE_CHECKING:
    from types import TracebackType

    from tcpcli.connection import Connection
    from tcpcli.engine.dialogue import DialogueLog
    from tcpcli.report import Reporter
    from tcpcli.settings import Settings

__all__ = [
    "BEHIND_LIMIT",
    "IDLE_FLUSH",
    "DatagramRecordTap",
    "DialogueRecording",
    "RecordTap",
    "Recorder",
    "addresses",
    "record_one",
]

# Bytes of data the writer may be behind before the pumps wait for it (memory stays bounded).
BEHIND_LIMIT = 32 * 1024 * 1024
_IOV_MAX = 1024  # buffers per writev (the Linux limit)
# --redact holds a turn back until it ends; after this many seconds of quiet it is written anyway.
IDLE_FLUSH = 0.5

_Event = tuple[str, float, int, str | None, bytes | str | None]  # kind, t, conn, direction, payload


class Recorder:
    """Appends the events of every connection to FILE (created or truncated); thread-safe."""

    def __init__(
        self, path: str, mode: str, redact: str | None, warn: Callable[[str], None], udp: bool = False
    ) -> None:
        """`udp`: the traffic is datagrams (each one event, said in the header)."""
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise TcpcliError(
                f"--record {path}: cannot create it ({exc.strerror})", ExitCode.CANT_CREATE
            ) from exc
        pattern = None if redact is None else re.compile(redact.encode("utf-8"))
        self._writer = RecordingWriter(pattern, datagrams=udp)
        self._warn = warn
        self._start = time.monotonic()
        started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self._lock = threading.Condition()
        self._events: list[_Event] = []
        self._pending = 0  # data bytes appended and not yet written
        self._room: list[Callable[[], None]] = []
        self._said_behind = False
        self._closing = False
        self._writer_idle = False  # the writer thread waits for events (to be woken by the next one)
        self.error: TcpcliError | None = None
        self._write(RecordingWriter.header(mode, started, udp))
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ what the engines call

    def opened(self, conn: int, src: str, dst: str) -> None:
        self._add(("open", conn, None, f"{src}\0{dst}"), 0)

    def data(self, conn: int, direction: str, data: bytes) -> bool:
        """Record `data` travelling `direction` (">": client to server); True when the writer is behind."""
        if not data:
            return False
        return self._add(("data", conn, direction, bytes(data)), len(data))

    def event(self, conn: int, event: str, direction: str | None = None) -> None:
        """`fin` / `rst` travelling `direction`, or `close`."""
        self._add((event, conn, direction, None), 0)

    def wait_for_room(self) -> None:
        """Block (a pump thread) until the writer is within BEHIND_LIMIT again."""
        with self._lock:
            while self._pending > BEHIND_LIMIT and not self._closing and self.error is None:
                self._lock.wait(0.5)

    def when_room(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from the writer thread) once the writer is within BEHIND_LIMIT again."""
        with self._lock:
            if self._pending <= BEHIND_LIMIT or self.error is not None:
                run_now = True
            else:
                self._room.append(callback)
                run_now = False
        if run_now:
            callback()

    def close(self) -> None:
        """Write out everything, stop the thread; raises the write error (74) if there was one."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._thread.join()
        os.close(self._fd)
        if self.error is not None:
            raise self.error

    # ------------------------------------------------------------ the writer thread

    def _add(self, event: tuple[str, int, str | None, bytes | str | None], size: int) -> bool:
        t = time.monotonic() - self._start
        with self._lock:
            if self.error is not None:
                return False
            kind, conn, direction, payload = event
            self._events.append((kind, t, conn, direction, payload))
            self._pending += size
            if self._writer_idle:  # a wake-up per event would cost a thread switch per chunk
                self._lock.notify_all()
            behind = self._pending > BEHIND_LIMIT
            if behind and not self._said_behind:
                self._said_behind = True
                self._warn(
                    "--record: the file is written slower than the traffic comes; the traffic waits for it"
                )
            return behind

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._events and not self._closing:
                    self._writer_idle = True
                    self._lock.wait(IDLE_FLUSH)
                    self._writer_idle = False
                events, self._events = self._events, []
                closing = self._closing
            out = [self._encode(event) for event in events]
            if not events or closing:
                out.append(self._writer.flush())  # quiet (or the end): --redact's held turns
            self._write_lines(out)
            size = sum(len(e[4]) for e in events if e[0] == "data" and isinstance(e[4], bytes))
            with self._lock:
                self._pending -= size
                room = []
                if self._pending <= BEHIND_LIMIT:
                    room, self._room = self._room, []
                self._lock.notify_all()
                done = closing and not self._events
            for callback in room:
                callback()
            if done:
                return

    def _encode(self, event: _Event) -> bytes:
        kind, t, conn, direction, payload = event
        if kind == "data":
            assert direction is not None and isinstance(payload, bytes)
            return self._writer.data(t, conn, direction, payload)
        if kind == "open":
            assert isinstance(payload, str)
            src, _, dst = payload.partition("\0")
            return self._writer.opened(t, conn, src, dst)
        return self._writer.event(t, conn, kind, direction)

    def _write_lines(self, lines: list[bytes]) -> None:
        """The batch with writev (no joined copy: memory bandwidth is what recording spends most)."""
        lines = [line for line in lines if line]
        while lines and self.error is None:
            try:
                written = os.writev(self._fd, lines[:_IOV_MAX])
            except InterruptedError:
                continue
            except OSError as exc:
                self.error = TcpcliError(f"--record: writing failed ({exc.strerror})", ExitCode.IO_ERROR)
                return
            done = 0
            while done < len(lines) and written >= len(lines[done]):
                written -= len(lines[done])
                done += 1
            lines = lines[done:]
            if written:
                lines[0] = lines[0][written:]

    def _write(self, data: bytes) -> None:
        if not data or self.error is not None:
            return
        try:
            write_all(self._fd, data)
        except OSError as exc:
            self.error = TcpcliError(f"--record: writing failed ({exc.strerror})", ExitCode.IO_ERROR)


class RecordTap(HexLog):
    """The one-peer engine's view of the recorder: a tap like --hex-log (`>` sent, `<` received), also
    logging to the real --hex-log when there is one. `server`: tcpcli accepted this connection, so what it
    sends travels `<`. A blocking pump waits here when the writer is behind."""

    def __init__(self, recorder: Recorder, conn: int, server: bool, hex_log: HexLog | None) -> None:
        # no super().__init__(): this tap owns no file of its own (the recorder and hex_log do)
        self._recorder = recorder
        self._conn = conn
        self._server = server
        self._hex_log = hex_log

    def tee(self, hex_log: HexLog | None) -> RecordTap:
        """This tap, passing every chunk on to `hex_log` too (--hex-log and --record together)."""
        self._hex_log = hex_log
        return self

    def direction(self, sent: bool) -> str:
        """The recording's direction of bytes this side sent (`sent`) or received."""
        return "<" if sent == self._server else ">"

    def record(self, direction: str, data: bytes, peer: str | None = None) -> None:
        if self._hex_log is not None:
            self._hex_log.record(direction, data, peer)
        if self._recorder.data(self._conn, self.direction(direction == ">"), data):
            self._recorder.wait_for_room()

    def event(self, event: str, sent: bool | None = None) -> None:
        """`fin` / `rst` that this side sent (`sent`) or received, or `close` (sent None)."""
        self._recorder.event(self._conn, event, None if sent is None else self.direction(sent))

    def forget(self, peer: str) -> None:
        if self._hex_log is not None:
            self._hex_log.forget(peer)

    def close(self) -> None:
        if self._hex_log is not None:
            self._hex_log.close()


def addresses(conn: Connection, server: bool) -> tuple[str, str]:
    """(client, server) addresses of `conn` as `host:port` (a Unix socket's path; "" when unknown)."""
    from tcpcli.core.events import format_address

    def name(call: Callable[[], object]) -> str:
        try:
            address = call()
        except (OSError, AttributeError):
            return ""
        if isinstance(address, tuple):
            return format_address(address[0], address[1])
        return address.decode("utf-8", "replace") if isinstance(address, bytes) else str(address)

    local, remote = name(conn.getsockname), name(conn.getpeername)  # type: ignore[attr-defined]
    return (remote, local) if server else (local, remote)


@contextmanager
def record_one(conn: Connection, settings: Settings, reporter: Reporter) -> Iterator[RecordTap]:
    """--record around one connection of connect mode or listen mode (one client): opened, tapped, closed;
    the recorder's write error (74) is raised after the session's own outcome."""
    session = settings.session
    assert session.record is not None
    server = settings.mode is not Mode.CONNECT
    recorder = Recorder(session.record, settings.mode.value, session.redact, reporter.warning)
    try:
        recorder.opened(1, *addresses(conn, server))
        listen = settings.listen
        if listen is not None and listen.greet:  # sent by listen mode before the session began
            recorder.data(1, "<", listen.greet)
        if listen is not None and listen.greet_file is not None:
            with open(listen.greet_file, "rb") as greeting:
                recorder.data(1, "<", greeting.read())
        yield RecordTap(recorder, 1, server, None)
    except BaseException:
        with contextlib.suppress(TcpcliError):  # the session's own failure says more
            recorder.close()
        raise
    recorder.close()


class DialogueRecording:
    """A dialogue's log (engine.dialogue.DialogueLog) that records the connection, then passes each call on
    to the real log (the -v transcript, --print). A context manager: open on entry, close on exit."""

    def __init__(
        self, recorder: Recorder, conn: Connection, number: int, server: bool, log: DialogueLog
    ) -> None:
        self._recorder = recorder
        self._number = number
        self._server = server
        self._log = log
        self._addresses = addresses(conn, server)

    def __enter__(self) -> DialogueRecording:
        self._recorder.opened(self._number, *self._addresses)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _trace: TracebackType | None
    ) -> None:
        if isinstance(error, TcpcliError) and "reset" in error.message:
            self._recorder.event(self._number, "rst", self._direction(False))
        self._recorder.event(self._number, "close")

    def _direction(self, ours: bool) -> str:
        return "<" if ours == self._server else ">"

    def sent(self, data: bytes) -> None:
        if self._recorder.data(self._number, self._direction(True), data):
            self._recorder.wait_for_room()
        self._log.sent(data)

    def received(self, data: bytes) -> None:
        if self._recorder.data(self._number, self._direction(False), data):
            self._recorder.wait_for_room()
        self._log.received(data)

    def event(self, ours: bool, word: bytes) -> None:
        self._recorder.event(self._number, word.decode("ascii").lower(), self._direction(ours))
        self._log.event(ours, word)

    def matched(self, data: bytes) -> None:
        self._log.matched(data)


class DatagramRecordTap(HexLog):
    """-u: the datagram engine's view of the recorder, a tap like --hex-log (`>` sent, `<` received, `peer`
    the label of a listener's peer). Each datagram is one event. Connected (connect mode): connection 1.
    Listening: each peer is a connection, numbered as it first sends (its datagrams `>`, ours to it `<`);
    at most MAX_PEERS are told apart (the engine's own bound), later ones share the last number.
    The tap owns the recorder: `close()` writes it out (and raises its write error, 74)."""

    MAX_PEERS = 4096

    def __init__(self, recorder: Recorder, local: str, remote: str | None, hex_log: HexLog | None) -> None:
        """`remote`: the connected peer (connect mode), None for a listener."""
        # no super().__init__(): this tap owns no file of its own (the recorder and hex_log do)
        self._recorder = recorder
        self._local = local
        self._remote = remote or ""
        self._server = remote is None
        self._hex_log = hex_log
        self._numbers: dict[str, int] = {}

    def record(self, direction: str, data: bytes, peer: str | None = None) -> None:
        if self._hex_log is not None:
            self._hex_log.record(direction, data, peer)
        number = self._number(peer or self._remote)
        sent = direction == ">"
        if self._recorder.data(number, "<" if sent == self._server else ">", data):
            self._recorder.wait_for_room()

    def _number(self, peer: str) -> int:
        number = self._numbers.get(peer)
        if number is None:
            number = len(self._numbers) + 1
            if number > self.MAX_PEERS:
                return self.MAX_PEERS
            self._numbers[peer] = number
            if self._server:
                self._recorder.opened(number, peer, self._local)
            else:
                self._recorder.opened(number, self._local, peer)
        return number

    def forget(self, peer: str) -> None:
        if self._hex_log is not None:
            self._hex_log.forget(peer)

    def close(self) -> None:
        if self._hex_log is not None:
            self._hex_log.close()
        self._recorder.close()
