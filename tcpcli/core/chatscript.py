"""The `--script FILE` language: one step a line, parsed into `steps` with line-numbered errors.

    # a comment; blank lines are ignored
    send TEXT              escapes \\r \\n \\t \\0 \\xNN \\\\; ${name}: a group captured by an earlier expect
    expect REGEX           within the default time (--within, 5 s) of the previous step
    expect-within S REGEX  within S seconds
    fail-on REGEX          from here on, REGEX arriving fails the dialogue
    sleep S                wait S seconds (still watching the fail-on patterns)
    quit [TEXT]            send TEXT, then FIN, then wait for the peer to close; the last step

The keyword and its value are separated by one space or tab; everything after it, trailing spaces included,
is the value (a prompt `login: ` keeps its space). A CR before the line's LF is ignored (files written on
Windows). Errors are `ScriptError("check.chat:3: unknown step 'sned'")`, exit 65 at the face.
"""

from __future__ import annotations

import re

from tcpcli.core.steps import (
    DEFAULT_WITHIN,
    Expect,
    FailOn,
    PatternError,
    Quit,
    Send,
    Sleep,
    Step,
    compile_pattern,
    parse_text,
)

__all__ = ["MAX_SCRIPT_SECONDS", "ScriptError", "parse_script"]

MAX_SCRIPT_SECONDS = 1e9  # the longest `sleep` / `expect-within` (larger values overflow the OS's timers)

_LINE = re.compile(r"(\S+)(?:[ \t](.*))?", re.DOTALL)
_SECONDS = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_KNOWN = ("send", "expect", "expect-within", "fail-on", "sleep", "quit")


class ScriptError(ValueError):
    """A malformed script; the message starts with `FILE:LINE: `."""


def _seconds(text: str, allow_zero: bool) -> float:
    if _SECONDS.fullmatch(text):
        seconds = float(text)
        if (seconds > 0 or (allow_zero and seconds == 0)) and seconds <= MAX_SCRIPT_SECONDS:
            return seconds
    raise PatternError(
        f"'{text}' is not a number of seconds {'>= 0' if allow_zero else '> 0'} (e.g. 2 or 0.5)"
    )


def parse_script(
    text: str, name: str, within: float = DEFAULT_WITHIN, encoding: str = "utf-8"
) -> tuple[Step, ...]:
    """The steps of a script called `name` (for messages); ScriptError at the first malformed line."""
    steps: list[Step] = []
    captured: set[str] = set()
    expects = 0
    quit_line = 0
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.removesuffix("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if quit_line:
            raise ScriptError(
                f"{name}:{number}: a step after quit (line {quit_line}): quit ends the dialogue"
            )
        try:
            step = _step(line, within, encoding, expects + 1, captured)
        except PatternError as exc:
            raise ScriptError(f"{name}:{number}: {exc}") from None
        if isinstance(step, Expect):
            expects += 1
            captured.update(step.pattern.groupindex)
        if isinstance(step, Quit):
            quit_line = number
        steps.append(step)
    if not steps:
        raise ScriptError(f"{name}: no steps (write one a line: send TEXT, expect REGEX, ...)")
    return tuple(steps)


def _step(line: str, within: float, encoding: str, number: int, captured: set[str]) -> Step:
    match = _LINE.match(line.lstrip())
    assert match is not None  # the line has a non-space character
    keyword, value = match[1], match[2] or ""
    if keyword not in _KNOWN:
        raise PatternError(f"unknown step '{keyword}'")
    if keyword in ("send", "quit"):
        if keyword == "send" and not value:
            raise PatternError("send needs the TEXT to send")
        parts = parse_text(value, encoding, names=True)
        for part in parts:
            if isinstance(part, str) and part not in captured:
                raise PatternError(f"${{{part}}}: no earlier expect captures a group named '{part}'")
        return Send(parts) if keyword == "send" else Quit(parts)
    if keyword == "sleep":
        return Sleep(_seconds(value.strip(), allow_zero=True))
    if keyword == "expect-within":
        seconds, _, value = value.partition(" ")
        within = _seconds(seconds, allow_zero=False)
        if not value:
            raise PatternError("expect-within needs S and a REGEX: expect-within 2 \\+PONG")
    if not value:
        raise PatternError(f"{keyword} needs a REGEX")
    pattern = compile_pattern(value, encoding)
    if keyword == "fail-on":
        return FailOn(pattern, value)
    return Expect(pattern, value, within, number)
