"""What a typed line means: the bytes to send, or an inline error and nothing sent.

Pure, so the key handling can be tested without a terminal: the prompt's validator and the send path both
ask `decide_line`, and a line that would not send exactly what the user meant is refused before Enter
takes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcpcli.core.hexinput import HexInputError, parse_escapes, parse_hex
from tcpcli.core.newline import typed_line
from tcpcli.settings import View


@dataclass(frozen=True)
class Send:
    data: bytes


@dataclass(frozen=True)
class Refuse:
    """An inline error: `position` is where the cursor goes (0-based index into the line)."""

    message: str
    position: int


@dataclass(frozen=True)
class InputRules:
    """How typed lines become bytes in the current input mode."""

    mode: View
    encoding: str
    eol: bytes
    closed: bool = False  # Ctrl-D sent FIN: nothing more can go out


INPUT_CLOSED = "input ended (Ctrl-D): nothing more can be sent; Ctrl-C quits"


def split_lines(text: str) -> list[str]:
    """The lines of what was entered: a pasted block is several lines, its final newline ends the last one."""
    lines = text.split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def decide_line(line: str, rules: InputRules) -> Send | Refuse:
    """Text and struct views: each line in the codec plus --eol. `-b`: escapes, `-x`: hex, no line ending."""
    if rules.closed:
        return Refuse(INPUT_CLOSED, len(line))
    try:
        if rules.mode is View.BINARY:
            return Send(parse_escapes(line, rules.encoding))
        if rules.mode is View.HEX:
            return Send(parse_hex(line))
    except HexInputError as exc:
        return Refuse(str(exc), exc.position)
    out = bytearray()
    offset = 0
    for text in split_lines(line):  # each pasted line gets the line ending, as if typed one by one
        try:
            out += typed_line(text, rules.encoding, rules.eol)
        except UnicodeEncodeError as exc:
            where = offset + exc.start
            return Refuse(f"{line[where]!r} at position {where} cannot be encoded as {rules.encoding}", where)
        offset += len(text) + 1
    return Send(bytes(out))
