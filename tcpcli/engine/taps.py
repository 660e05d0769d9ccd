"""Side copies of the traffic, for both engines: `-o FILE` (received bytes, appended), `--hex-log FILE` (both
directions as hex dumps), `ClientLog`, the many-peer engine's --hex-log naming each client, and `RelayLog`,
the relay's, numbering each connection.

The one-peer engine writes them from its blocking threads; the many-peer engine on its event loop (a file
append is short), where a failed write stops the engine through `ClientLog`'s `failed`.
"""

from __future__ import annotations

import datetime
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from tcpcli.engine.stdio import write_all
from tcpcli.errors import ExitCode, TcpcliError

if TYPE_CHECKING:  # the seam's Protocols cost ~2 ms to build: types only here
    from tcpcli.engine.seam import Peer

__all__ = ["ClientLog", "HexLog", "OutputFile", "RelayLog", "timestamp_now", "write_all"]


def timestamp_now() -> str:
    """Local wall-clock time with microseconds: what a person compares with other logs."""
    return datetime.datetime.now().strftime("%H:%M:%S.%f")


def _open_append(path: str, option: str) -> int:
    try:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise TcpcliError(
            f"{option} {path}: cannot create it ({exc.strerror})", ExitCode.CANT_CREATE
        ) from exc


class OutputFile:
    """Appends every received byte to FILE, existing content kept (`-o`)."""

    def __init__(self, path: str) -> None:
        self._fd = _open_append(path, "-o/--output")

    def write(self, data: bytes | memoryview) -> None:
        try:
            write_all(self._fd, data)
        except OSError as exc:
            raise TcpcliError(f"-o: writing failed ({exc.strerror})", ExitCode.IO_ERROR) from exc

    def close(self) -> None:
        os.close(self._fd)


class HexLog:
    """Both directions as hex dumps with `>`/`<` markers, timestamps and per-direction offsets.

    Callers record a sent chunk *before* handing it to the kernel and a received one as soon as it is read,
    so no reply is ever logged ahead of the request that caused it (and timestamps never go backwards).
    """

    def __init__(self, path: str) -> None:
        self._fd = _open_append(path, "--hex-log")
        self._offsets: dict[tuple[str, str], int] = {}  # (peer, direction) -> bytes logged so far
        self._lock = threading.Lock()  # both pump threads write here

    def record(self, direction: str, data: bytes, peer: str | None = None) -> None:
        """`peer` (listen -k, many clients): offsets count per client, the header ends `from/to PEER`."""
        from tcpcli.core.hexdump import format_hex_log

        with self._lock:
            key = (peer or "", direction)
            offset = self._offsets.get(key, 0)
            text = format_hex_log(direction, data, offset, timestamp_now())
            self._offsets[key] = offset + len(data)
            if peer is not None and text:
                header, _, body = text.partition("\n")
                text = f"{header} {'to' if direction == '>' else 'from'} {peer}\n{body}"
            try:
                write_all(self._fd, text.encode("ascii"))
            except OSError as exc:
                raise TcpcliError(f"--hex-log: writing failed ({exc.strerror})", ExitCode.IO_ERROR) from exc

    def forget(self, peer: str) -> None:
        """That client left: a later one on the same address counts from 0 (and memory stays bounded)."""
        with self._lock:
            for direction in "<>":
                self._offsets.pop((peer, direction), None)

    def close(self) -> None:
        os.close(self._fd)


class ClientLog:
    """--hex-log for many clients: `>` what is sent to a client, `<` what it sent, labelled by its peer."""

    def __init__(self, path: str, failed: Callable[[TcpcliError], None]) -> None:
        self._log = HexLog(path)
        self._failed = failed
        self._broken = False

    def sent(self, client: Peer, data: bytes) -> None:
        self._record(">", client, data)

    def received(self, client: Peer, data: bytes) -> None:
        self._record("<", client, data)

    def left(self, client: Peer) -> None:
        self._log.forget(client.peer)

    def close(self) -> None:
        self._log.close()

    def _record(self, direction: str, client: Peer, data: bytes) -> None:
        if self._broken:
            return
        try:
            self._log.record(direction, data, client.peer)
        except TcpcliError as exc:
            self._broken = True
            self._failed(exc)


class RelayLog:
    """--hex-log for the relay: both directions of every connection, each entry and line with its number.

    An entry is a header `HH:MM:SS.ffffff #3 > 120 bytes` and the `hexdump -C` lines, each prefixed `#3 > `;
    `>` is client to upstream, `<` upstream to client, offsets count per connection and direction. A failed
    write calls `failed(error)` once and logs nothing more.
    """

    def __init__(self, path: str, failed: Callable[[TcpcliError], None]) -> None:
        self._fd = _open_append(path, "--hex-log")
        self._failed = failed
        self._broken = False
        self._offsets: dict[tuple[int, str], int] = {}

    def record(self, conn: int, direction: str, data: bytes) -> None:
        if self._broken or not data:
            return
        from tcpcli.core.hexdump import format_hex_lines

        key = (conn, direction)
        offset = self._offsets.get(key, 0)
        self._offsets[key] = offset + len(data)
        marker = f"#{conn} {direction} "
        body = format_hex_lines(data, offset)[:-1].replace("\n", "\n" + marker)
        text = f"{timestamp_now()} #{conn} {direction} {len(data)} bytes\n{marker}{body}\n"
        try:
            write_all(self._fd, text.encode("ascii"))
        except OSError as exc:
            self._broken = True
            self._failed(TcpcliError(f"--hex-log: writing failed ({exc.strerror})", ExitCode.IO_ERROR))

    def forget(self, conn: int) -> None:
        """The connection is closed: its offsets go (memory stays bounded with -k)."""
        for direction in "<>":
            self._offsets.pop((conn, direction), None)

    def close(self) -> None:
        os.close(self._fd)
