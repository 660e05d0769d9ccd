"""`-z`: connect, close, and say with the exit status whether the port accepts connections."""

from __future__ import annotations

from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.net.connect import open_connection
from tcpcli.report import Reporter
from tcpcli.settings import Settings


def probe_port(settings: Settings, reporter: Reporter) -> int:
    """0 if the port accepted, 1 if refused, unreachable or silent; an unknown host is still 68."""
    assert settings.connect is not None
    try:
        sock = open_connection(settings.connect, reporter.event)
    except TcpcliError as exc:
        if exc.exit_code in (ExitCode.UNAVAILABLE, ExitCode.TIMEOUT, ExitCode.IO_ERROR):
            if settings.session.verbose:
                reporter.error(exc.message)
            return ExitCode.PORT_CLOSED
        raise
    sock.close()
    return ExitCode.OK
