"""The face: argv -> raw flags, + the Environment decided here once -> frozen settings (validate) -> the mode.

The only place that reads the environment (ttys, NO_COLOR, TERM, XDG_STATE_HOME), prints errors and exits.
Plain command lines are parsed by `fastargs` without importing typer; everything else (help, version,
anything unusual) goes through the typer command in `command`, built from the same `options`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from types import FrameType

    from tcpcli.settings import Environment, Settings

__all__ = ["detect_environment", "main", "run"]

# Set by the completion scripts of `tcpcli --install-completion` / `--show-completion` (bash, zsh, fish).
COMPLETION_VARIABLE = "_TCPCLI_COMPLETE"

# Exit statuses for signals, here so that nothing needs importing before the handlers are in place.
INTERRUPTED = 130
TERMINATED = 143


def run(settings: Settings) -> int:
    """Dispatch to the mode; heavy modules are imported only by the mode that needs them."""
    from tcpcli.report import Reporter
    from tcpcli.settings import Mode

    reporter = Reporter(settings.session.verbose, settings.stderr_color)
    if not settings.session.read_stdin:
        _stdin_that_never_ends()
    if settings.replay is not None:
        from tcpcli.modes.replay import run_replay

        return run_replay(settings, reporter)
    if settings.dialogue is not None:
        from tcpcli.modes.dialogue import run_dialogue

        return run_dialogue(settings, reporter)
    if settings.mode is Mode.PROBE:
        from tcpcli.modes.probe import probe_port

        return probe_port(settings, reporter)
    if settings.mode is Mode.LISTEN:
        from tcpcli.modes.listen import run_listen

        return run_listen(settings, reporter)
    if settings.mode is Mode.RELAY:
        from tcpcli.modes.relay import run_relay

        return run_relay(settings, reporter)
    if settings.mode is Mode.DEMO:
        from tcpcli.modes.demo import run_demo

        return run_demo(settings, reporter)
    from tcpcli.modes.connect import run_connect

    return run_connect(settings, reporter)


def detect_environment(read_stdin: bool = True) -> Environment:
    """The environment, decided once here: tty-ness of the standard streams, NO_COLOR, TERM, the state home.

    With -d (`read_stdin` False) stdin is replaced by a pipe, so it is no terminal whatever it was.
    """
    from tcpcli.settings import Environment

    def tty(fd: int) -> bool:
        try:
            return os.isatty(fd)
        except OSError:
            return False

    state_home = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(state_home):  # the XDG spec says to ignore a relative value
        state_home = os.path.join(os.environ.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return Environment(
        stdin_tty=read_stdin and tty(0),
        stdout_tty=tty(1),
        stderr_tty=tty(2),
        no_color=bool(os.environ.get("NO_COLOR")),
        term=os.environ.get("TERM", ""),
        state_home=state_home,
    )


_stopping = False  # set by the first SIGINT/SIGTERM, and when the exit begins


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _stopping
    if _stopping:
        return  # already on the way out: a second signal must not interrupt the cleanup
    _stopping = True
    from tcpcli.errors import Terminated  # already imported by main before this handler went in

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
        # After the SIGINT handler (a Ctrl-C during this import is a quiet 130) and before the SIGTERM one
        # (so `Terminated` is bound whenever that handler can raise it, and the except below can name it).
        from tcpcli.errors import Terminated

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
    from tcpcli.settings import Flags
    from tcpcli.validate import validate

    color = _color_asked(arguments)  # until the flags are parsed: for a usage error's line
    try:
        # A shell asking for completions (the scripts from --install-completion set this) goes to typer.
        flags = None if COMPLETION_VARIABLE in os.environ else parse_fast(arguments)
        if flags is None:
            from tcpcli.command import parse_argv

            parsed = parse_argv(arguments)
            if not isinstance(parsed, Flags):
                return parsed  # --help, --version: typer answered
            flags = parsed
        color = flags.color
        return run(validate(flags, detect_environment(read_stdin=not flags.no_stdin)))
    except TcpcliError as exc:
        _say(exc.message, color)
        return exc.exit_code
    except Exception as exc:  # a bug: one line (a traceback only when asked), never a wall of Python
        return _internal_error(exc, color)


def _internal_error(exc: BaseException, color: str) -> int:
    """Exit 70 (EX_SOFTWARE) with one line naming the error; TCPCLI_DEBUG=1 prints the traceback too."""
    from tcpcli.errors import ExitCode, Terminated

    if isinstance(exc, BaseExceptionGroup):  # from a TaskGroup: the first real error names it
        inner = exc.exceptions[0]
        if isinstance(inner, (KeyboardInterrupt, Terminated)):
            raise inner
        return _internal_error(inner, color)
    if isinstance(exc, Terminated):
        raise exc
    if os.environ.get("TCPCLI_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    detail = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    _say(f"internal error: {detail} (a bug: please report it; TCPCLI_DEBUG=1 shows the traceback)", color)
    return ExitCode.SOFTWARE


def _color_asked(arguments: list[str]) -> str:
    """The `--color` value on a command line that may not parse: `--color X` or `--color=X`, else auto."""
    for index, token in enumerate(arguments):
        if token == "--color" and index + 1 < len(arguments):
            return arguments[index + 1]
        if token.startswith("--color="):
            return token.partition("=")[2]
    return "auto"


def _say(message: str, color: str) -> None:
    """The one error line, coloured as --color and NO_COLOR say for stderr."""
    from tcpcli.report import Reporter

    env = detect_environment()
    Reporter(color=env.color(color, env.stderr_tty)).error(message)


def _exit(code: int) -> NoReturn:
    """Flush what we can, then leave without waiting for pump threads blocked in the kernel."""
    global _stopping
    _stopping = True
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None when the fd was closed at start-up
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    os._exit(int(code))
