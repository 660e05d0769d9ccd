"""The entry point: argv -> raw flags -> frozen settings -> the mode.

The only place that prints errors and exits. Plain command lines are parsed by `fastargs` without importing
typer; everything else (help, version, anything unusual) goes through the typer declaration in `command`.
"""

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import NoReturn

from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.fastargs import parse_fast
from tcpcli.settings import Flags, Mode, Settings, build_settings


def run(settings: Settings) -> int:
    """Dispatch to the mode; heavy modules are imported only by the mode that needs them."""
    from tcpcli.report import Reporter

    reporter = Reporter(settings.session.verbose, settings.view.color)
    if settings.mode is Mode.PROBE:
        from tcpcli.probe import probe_port

        return probe_port(settings, reporter)
    if settings.mode is Mode.LISTEN:
        from tcpcli.listen.server import run_listen

        return run_listen(settings, reporter)
    if settings.mode is Mode.DEMO:
        from tcpcli.demo import run_demo

        return run_demo(settings, reporter)
    from tcpcli.session import run_connect

    return run_connect(settings, reporter)


class Terminated(Exception):
    """SIGTERM, turned into an exception so cleanup runs and the exit status is 143."""


_stopping = False  # set by the first SIGINT/SIGTERM, and when the exit begins


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _stopping
    if _stopping:
        return  # already on the way out: a second signal must not interrupt the cleanup
    _stopping = True
    raise Terminated


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    """Like Python's default handler, but a second Ctrl-C (or a group kill) during cleanup is ignored."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    raise KeyboardInterrupt


def _open_missing_std_fds() -> None:
    """A closed stdin/stdout/stderr (`<&-`, `>&-`) gets /dev/null, so the socket never takes fd 0 or 1."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                opened = os.open(os.devnull, os.O_RDWR)  # the lowest free fd: the missing one
                if opened > 2:
                    os.close(opened)


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: every outcome becomes one exit status; errors are one `tcpcli: ...` line on stderr."""
    _open_missing_std_fds()
    signal.signal(signal.SIGTERM, _on_sigterm)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
    arguments = sys.argv[1:] if argv is None else argv
    code: int
    try:
        flags = parse_fast(arguments)
        if flags is None:
            from tcpcli.command import parse_argv

            parsed = parse_argv(arguments)
            flags = parsed if isinstance(parsed, Flags) else None
            code = parsed if isinstance(parsed, int) else 0
        if flags is not None:
            code = run(build_settings(flags))
    except TcpcliError as exc:
        _say(exc.message)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    except Terminated:
        code = ExitCode.TERMINATED
    _exit(code)


def _say(message: str) -> None:
    from tcpcli.report import Reporter

    Reporter().error(message)


def _exit(code: int) -> NoReturn:
    """Flush what we can, then leave without waiting for pump threads blocked in the kernel."""
    global _stopping
    _stopping = True
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None when the fd was closed at start-up
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    os._exit(int(code))
