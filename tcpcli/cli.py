"""The entry point: argv -> raw flags -> frozen settings -> the mode.

The only place that prints errors and exits. Plain command lines are parsed by `fastargs` without importing
typer; everything else (help, version, anything unusual) goes through the typer declaration in `command`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from types import FrameType

    from tcpcli.settings import Settings

# Set by the completion scripts of `tcpcli --install-completion` / `--show-completion` (bash, zsh, fish).
COMPLETION_VARIABLE = "_TCPCLI_COMPLETE"

# Exit statuses for signals, here so that nothing needs importing before the handlers are in place.
INTERRUPTED = 130
TERMINATED = 143


def run(settings: Settings) -> int:
    """Dispatch to the mode; heavy modules are imported only by the mode that needs them."""
    from tcpcli.report import Reporter
    from tcpcli.settings import Mode

    reporter = Reporter(settings.session.verbose, settings.view.color)
    if not settings.session.read_stdin:
        _stdin_that_never_ends()
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


def _stdin_that_never_ends() -> None:
    """-d: fd 0 becomes a pipe whose write end stays open and unused, decided here, at the face.

    Every mode then reads a stdin that never has data and never ends: nothing is sent, no FIN for stdin EOF,
    and the run ends the way it does when the peer closes and stdin stays quiet (the end-of-stream policy).
    A terminal on stdin is no longer one, so -d is always stream mode, as with nc -d.
    """
    read_end, write_end = os.pipe()
    os.dup2(read_end, 0)
    os.close(read_end)
    _keep_open.append(write_end)


_keep_open: list[int] = []  # file descriptors that must live until the process exits


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: every outcome becomes one exit status; errors are one `tcpcli: ...` line on stderr.

    The signal handlers go in before anything else is imported, so a Ctrl-C while modules load is a quiet
    130 like any other, not a traceback.
    """
    try:
        # Inside the try: a Ctrl-C that lands while the handlers are being installed (signal.signal itself
        # runs Python code) is still a quiet 130.
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _on_sigint)
        signal.signal(signal.SIGTERM, _on_sigterm)
        _open_missing_std_fds()
        code = _run_command_line(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        code = INTERRUPTED
    except Terminated:
        code = TERMINATED
    _exit(code)


def _run_command_line(arguments: list[str]) -> int:
    from tcpcli.errors import TcpcliError
    from tcpcli.fastargs import parse_fast
    from tcpcli.settings import Flags, build_settings

    try:
        # A shell asking for completions (the scripts from --install-completion set this) goes to typer.
        flags = None if COMPLETION_VARIABLE in os.environ else parse_fast(arguments)
        if flags is None:
            from tcpcli.command import parse_argv

            parsed = parse_argv(arguments)
            if not isinstance(parsed, Flags):
                return parsed  # --help, --version: typer answered
            flags = parsed
        return run(build_settings(flags))
    except TcpcliError as exc:
        _say(exc.message)
        return exc.exit_code


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
