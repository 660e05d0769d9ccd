"""Dialogue options (--send, --expect, --script): what a dialogue rules out; its steps, parsed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.errors import usage as _usage
from tcpcli.settings import DialogueSettings, Flags, Mode, SessionSettings
from tcpcli.values import parse_seconds

if TYPE_CHECKING:
    from tcpcli.core.steps import Step

__all__ = ["dialogue_settings", "read_text_file"]


# Options a dialogue has no use for: (given?, label, why) -> a usage error naming them.
def _dialogue_misfits(flags: Flags) -> list[tuple[bool, str, str]]:
    shown = "a dialogue shows no received data (-v: the transcript; --print: the matched bytes)"
    server = "with a dialogue, the script answers each client"
    return [
        (flags.hex, "-x/--hex", shown),
        (flags.binary, "-b/--binary", shown),
        (flags.struct is not None or flags.fields is not None, "--struct/--fields", shown),
        (flags.output is not None, "-o/--output", shown),
        (flags.hex_log is not None, "--hex-log", "use -v for the transcript of both directions"),
        (flags.crlf or flags.eol is not None, "-C/--eol", "a dialogue sends exactly the bytes given"),
        (flags.telnet, "--telnet", "a dialogue sends and expects exactly the bytes given"),
        (flags.idle_timeout is not None, "-i", "each expectation has its own deadline (--within)"),
        (flags.no_half_close, "--no-half-close", "a dialogue always ends with FIN"),
        (flags.probe, "-z", "-z only checks the port; a dialogue talks to it"),
        (flags.demo, "--demo", "point the dialogue at a HOST PORT"),
        (flags.echo or flags.broadcast, "--echo/--broadcast", server),
        (flags.greet is not None or flags.greet_file is not None, "--greet/--greet-file", server),
        (flags.exec_cmd is not None or flags.sh_exec is not None, "--exec/--sh-exec", server),
        (flags.idle_message is not None, "--idle-message", server),
    ]


def dialogue_settings(flags: Flags, mode: Mode, session: SessionSettings) -> DialogueSettings | None:
    """--send/--expect/--script: the steps, parsed and compiled now (bad regex: 2; bad script: 65)."""
    from tcpcli.core.steps import DEFAULT_WITHIN, PatternError, Quit, steps_from_options

    if not (flags.send or flags.expect or flags.script is not None):
        for given, label in (
            (flags.within is not None and flags.replay is None, "--within"),
            (bool(flags.fail_on), "--fail-on"),
            (flags.quit_text is not None, "--quit"),
            (flags.print_matched, "--print"),
        ):
            if given:
                _usage(f"{label} is part of a dialogue: add --send DATA / --expect REGEX, or --script FILE")
        return None
    if flags.script is not None:
        for given, label in (
            (bool(flags.send), "--send"),
            (bool(flags.expect), "--expect"),
            (bool(flags.fail_on), "--fail-on"),
            (flags.quit_text is not None, "--quit"),
        ):
            if given:
                _usage(f"--script and {label} cannot be combined: write the step in the script")
    for given, label, why in _dialogue_misfits(flags):
        if given:
            what = "--script" if flags.script is not None else "--send/--expect"
            _usage(f"{label} cannot be combined with {what}: {why}")
    within = DEFAULT_WITHIN if flags.within is None else parse_seconds(flags.within, "--within")
    if flags.script is not None:
        steps = _script_steps(flags.script, within, flags.encoding)
    else:
        try:
            steps = steps_from_options(
                flags.send, flags.expect, flags.fail_on, flags.quit_text, within, flags.encoding
            )
        except PatternError as exc:
            _usage(str(exc))
    if session.quit_after_eof is not None and not any(isinstance(step, Quit) for step in steps):
        _usage("-q bounds the wait for the peer to close after --quit (or a script's quit step): add one")
    return DialogueSettings(
        steps=steps,
        print_matched=flags.print_matched,
        quit_wait=within if session.quit_after_eof is None else session.quit_after_eof,
        source=flags.script,
    )


def read_text_file(path: str, option: str) -> str:
    """A script or recording as text: unreadable is 66, not UTF-8 65 (with the line of the first bad byte)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise TcpcliError(f"{option} {path}: cannot read it ({exc.strerror})", ExitCode.NO_INPUT) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TcpcliError(f"{path}:{line}: not UTF-8 text", ExitCode.DATA_ERROR) from exc


def _script_steps(path: str, within: float, encoding: str) -> tuple[Step, ...]:
    """The script's steps: unreadable is 66, not UTF-8 or malformed 65 (with the line)."""
    from tcpcli.core.chatscript import ScriptError, parse_script

    text = read_text_file(path, "--script")
    try:
        return parse_script(text, path, within, encoding)
    except ScriptError as exc:
        raise TcpcliError(str(exc), ExitCode.DATA_ERROR) from exc
