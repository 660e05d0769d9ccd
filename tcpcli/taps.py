"""Side copies of the traffic: `-o FILE` (raw received bytes) and `--hex-log FILE` (both directions)."""

from __future__ import annotations

import datetime
import os
import threading

from tcpcli.errors import ExitCode, TcpcliError


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


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write may write less than asked (pipes, signals): loop until every byte is out."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


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
    """Both directions as hex dumps with `>`/`<` markers, timestamps and per-direction offsets."""

    def __init__(self, path: str) -> None:
        self._fd = _open_append(path, "--hex-log")
        self._offsets = {">": 0, "<": 0}
        self._lock = threading.Lock()  # both pump threads write here

    def record(self, direction: str, data: bytes) -> None:
        from tcpcli.core.hexdump import format_hex_log

        with self._lock:
            text = format_hex_log(direction, data, self._offsets[direction], timestamp_now())
            self._offsets[direction] += len(data)
            try:
                write_all(self._fd, text.encode("ascii"))
            except OSError as exc:
                raise TcpcliError(f"--hex-log: writing failed ({exc.strerror})", ExitCode.IO_ERROR) from exc

    def close(self) -> None:
        os.close(self._fd)
