"""The one error family: every failure carries its sysexits code and a one-line message.

Low layers raise `TcpcliError` (or let an OSError reach `translate_os_error`), and `Terminated` for SIGTERM;
only `cli.main` prints and exits.
"""

from __future__ import annotations

import enum
import errno
import socket
from typing import NoReturn

__all__ = ["ExitCode", "TcpcliError", "Terminated", "UsageError", "translate_os_error", "usage"]


class ExitCode(enum.IntEnum):
    """Exit statuses from CONTRACT.md (sysexits), the interface scripts depend on."""

    OK = 0
    PORT_CLOSED = 1
    USAGE = 2
    DATA_ERROR = 65  # malformed script or recording (file and line named); a line too long for a datagram
    NO_INPUT = 66
    NO_HOST = 68
    UNAVAILABLE = 69
    CANT_CREATE = 73
    IO_ERROR = 74
    TIMEOUT = 75
    TLS = 76
    NO_PERMISSION = 77
    SOFTWARE = 70  # a bug in tcpcli itself (sysexits EX_SOFTWARE); TCPCLI_DEBUG=1 adds the traceback
    INTERRUPTED = 130
    TERMINATED = 143


class TcpcliError(Exception):
    """A failure the user sees as `tcpcli: <message>` and the process exit status `exit_code`."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class Terminated(Exception):
    """SIGTERM, turned into an exception so cleanup runs and `cli.main` exits 143.

    Raised by the face's signal handler, and by a mode that caught the signal itself (the asyncio server) once
    it has stopped cleanly.
    """


class UsageError(TcpcliError):
    """A bad flag or value: detected before any socket is opened."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


def usage(message: str) -> NoReturn:
    """Raise the usage error `message` (exit 2): the one-liner the option checks use."""
    raise UsageError(message)


_REFUSED = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}
_RESET = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED}
_PERMISSION = {errno.EACCES, errno.EPERM}


def translate_os_error(exc: OSError, doing: str) -> TcpcliError:
    """Map an OSError raised while `doing` (e.g. "connecting to 127.0.0.1:9") to message and exit code.

    One place for the whole program, so the same errno always gives the same code.
    """
    if isinstance(exc, socket.gaierror):
        return TcpcliError(f"{doing}: cannot resolve host name ({exc.strerror})", ExitCode.NO_HOST)
    if isinstance(exc, TimeoutError | socket.timeout) or exc.errno == errno.ETIMEDOUT:
        return TcpcliError(f"{doing}: timed out", ExitCode.TIMEOUT)
    code = exc.errno
    reason = exc.strerror or str(exc)
    if code == errno.ECONNREFUSED:
        return TcpcliError(
            f"{doing}: connection refused (is anything listening there?)", ExitCode.UNAVAILABLE
        )
    if code in _REFUSED:
        return TcpcliError(f"{doing}: {reason.lower()}", ExitCode.UNAVAILABLE)
    if code == errno.EADDRINUSE:
        return TcpcliError(
            f"{doing}: address already in use (pick another port, or 0 for a free one)", ExitCode.UNAVAILABLE
        )
    if code == errno.EADDRNOTAVAIL:
        return TcpcliError(f"{doing}: address not available on this machine", ExitCode.UNAVAILABLE)
    if code in _PERMISSION:
        return TcpcliError(
            f"{doing}: permission denied (ports below 1024 need privileges)", ExitCode.NO_PERMISSION
        )
    if code in _RESET:
        return TcpcliError(f"{doing}: connection reset by peer", ExitCode.IO_ERROR)
    return TcpcliError(f"{doing}: {reason}", ExitCode.IO_ERROR)
