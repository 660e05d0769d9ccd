"""--record and --replay: where recording applies; the replay's settings, its recording read and checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tcpcli.checks.dialogue import read_text_file
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.errors import usage as _usage
from tcpcli.settings import Flags, Mode, ReplaySettings
from tcpcli.values import parse_seconds

if TYPE_CHECKING:
    from tcpcli.core.recording import Recording

__all__ = ["check_record", "replay_settings"]


def check_record(flags: Flags, mode: Mode) -> None:
    """--record and --redact: where they apply (every mode but -u, -z, --demo and --reconnect, for now)."""
    if flags.redact is not None:
        if flags.record is None:
            _usage("--redact applies to what --record writes: add --record FILE")
        import re

        try:
            re.compile(flags.redact.encode("utf-8"))
        except re.error as exc:
            _usage(f"--redact: not a valid regular expression ({exc})")
    if flags.record is None:
        return
    for given, label in (
        (mode is Mode.PROBE, "-z"),
        (mode is Mode.DEMO, "--demo"),
        (flags.replay is not None, "--replay"),
        (flags.reconnect is not None, "--reconnect"),
    ):
        if given:
            _usage(f"--record cannot be combined with {label} (not supported yet)")


# Options --replay has no use for: (given?, label) -> a usage error naming them.
def _replay_misfits(flags: Flags, mode: Mode) -> list[tuple[bool, str]]:
    return [
        (bool(flags.send or flags.expect or flags.fail_on or flags.script), "--send/--expect/--script"),
        (mode is Mode.RELAY, "--to"),
        (mode is Mode.PROBE, "-z"),
        (mode is Mode.DEMO, "--demo"),
        (flags.udp, "-u/--udp"),
        (flags.record is not None, "--record"),
        (flags.output is not None or flags.hex_log is not None, "-o/--hex-log"),
        (flags.echo or flags.broadcast, "--echo/--broadcast"),
        (flags.greet is not None or flags.greet_file is not None, "--greet/--greet-file"),
        (flags.exec_cmd is not None or flags.sh_exec is not None, "--exec/--sh-exec"),
        (flags.reconnect is not None, "--reconnect"),
        (flags.quit_text is not None or flags.print_matched, "--quit/--print"),
    ]


def replay_settings(flags: Flags, mode: Mode) -> ReplaySettings | None:
    """--replay FILE: read and check the recording now (unreadable: 66; malformed: 65 with FILE:LINE)."""
    if flags.replay is None:
        for given, label in (
            (flags.match is not None, "--match"),
            (flags.speed is not None, "--speed"),
            (flags.loop, "--loop"),
        ):
            if given:
                _usage(f"{label} is part of a replay: add --replay FILE")
        return None
    for given, label in _replay_misfits(flags, mode):
        if given:
            _usage(f"--replay cannot be combined with {label}")
    from tcpcli.core.turns import MATCH_MODES

    match = flags.match or "exact"
    if match not in MATCH_MODES:
        _usage(f"--match: '{match}' is not one of {', '.join(MATCH_MODES)}")
    speed = 0.0 if flags.speed is None else parse_seconds(flags.speed, "--speed", allow_zero=True)
    from tcpcli.core.steps import DEFAULT_WITHIN

    within = DEFAULT_WITHIN if flags.within is None else parse_seconds(flags.within, "--within")
    recording = _read_recording(flags.replay, server=mode is Mode.LISTEN)
    return ReplaySettings(flags.replay, recording, match, within, speed, flags.loop)


def _read_recording(path: str, server: bool) -> Recording:
    """The recording, checked for what this side must send (a pattern cannot be sent)."""
    from tcpcli.core.recording import RecordingError, Turn, read_recording

    text = read_text_file(path, "--replay")
    try:
        recording = read_recording(text, path)
    except RecordingError as exc:
        raise TcpcliError(str(exc), ExitCode.DATA_ERROR) from exc
    if not recording.connections:
        raise TcpcliError(f"{path}: the recording holds no connection", ExitCode.DATA_ERROR)
    if recording.transport != "tcp":
        raise TcpcliError(
            f"{path}:1: a recording of UDP datagrams (replaying datagrams is not supported yet)",
            ExitCode.DATA_ERROR,
        )
    own = "<" if server else ">"
    for conn in recording.connections:
        for step in conn.steps:
            if isinstance(step, Turn) and step.direction == own and step.literal is None:
                side = "server" if server else "client"
                raise TcpcliError(
                    f'{path}:{step.pattern_lines[0]}: a "re" pattern cannot be sent: the replay plays the '
                    f'{side} side ("{own}"); give its bytes ("text" or "b64")',
                    ExitCode.DATA_ERROR,
                )
    return recording
