"""A dialogue as a list of steps (send, expect, fail-on, sleep, quit), built from options or a script.

Pure values: the driver runs them, `chatscript` parses them from a file, and `steps_from_options` makes the
`--send ... --expect ... --quit` form: every --fail-on first (watching from the start), then every --send in
order, then every --expect in order, then the --quit.

Patterns are Python `re` patterns compiled on bytes: the text is encoded (-e, utf-8 by default) and `re`
itself reads `\\r \\n \\t \\0 \\xNN \\\\`, so the same escapes work as in sent text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple, TypeVar

from tcpcli.core.hexinput import HexInputError, parse_escapes

__all__ = [
    "DEFAULT_WITHIN",
    "Expect",
    "FailOn",
    "PatternError",
    "Quit",
    "Send",
    "Sleep",
    "Step",
    "TextPart",
    "captures_names",
    "compile_pattern",
    "parse_text",
    "render",
    "steps_from_options",
]

_T = TypeVar("_T")

DEFAULT_WITHIN = 5.0  # seconds each expectation has, from the previous step, unless told otherwise

# A piece of text to send: literal bytes, or the name of a group captured earlier (`${name}` in a script).
TextPart = bytes | str


class Send(NamedTuple):
    parts: tuple[TextPart, ...]


class Expect(NamedTuple):
    """The `number`th expectation (1-based, as messages name it): `pattern` within `within` seconds."""

    pattern: re.Pattern[bytes]
    source: str  # as the user wrote it, for messages
    within: float
    number: int


class FailOn(NamedTuple):
    """From this step on, `pattern` arriving ends the dialogue as failed."""

    pattern: re.Pattern[bytes]
    source: str


class Sleep(NamedTuple):
    seconds: float


class Quit(NamedTuple):
    """Send `parts` (may be empty), then FIN, then wait a bounded time for the peer to close."""

    parts: tuple[TextPart, ...]


Step = Send | Expect | FailOn | Sleep | Quit


class PatternError(ValueError):
    """A pattern or a text that cannot be used; the message says why (without naming the option)."""


def compile_pattern(text: str, encoding: str = "utf-8") -> re.Pattern[bytes]:
    """`text` as a bytes pattern; PatternError with re's reason (`missing ), unterminated subpattern ...`)."""
    try:
        return re.compile(text.encode(encoding))
    except UnicodeEncodeError as exc:
        raise PatternError(f"/{text}/ cannot be encoded as {encoding} ({exc.reason})") from None
    except re.error as exc:
        raise PatternError(f"bad regex /{text}/: {exc}") from None


_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_text(text: str, encoding: str = "utf-8", names: bool = False) -> tuple[TextPart, ...]:
    """Text to send: escapes interpreted; with `names`, each `${name}` kept as a str part to fill in later.

    PatternError for a bad escape or a character the encoding cannot carry.
    """
    pieces = _NAME.split(text) if names else [text]
    parts: list[TextPart] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            parts.append(piece)
            continue
        try:
            literal = parse_escapes(piece, encoding)
        except HexInputError as exc:
            raise PatternError(str(exc)) from None
        if literal:
            parts.append(literal)
    return tuple(parts)


def render(parts: Iterable[TextPart], captures: Mapping[str, bytes | None]) -> bytes:
    """The bytes to send: names replaced by what their groups captured (a group that took no part: b"")."""
    return b"".join(part if isinstance(part, bytes) else (captures.get(part) or b"") for part in parts)


def captures_names(steps: Iterable[Step]) -> list[str]:
    """Every named group of every expectation, in order of first appearance."""
    names: dict[str, None] = {}
    for step in steps:
        if isinstance(step, Expect):
            names.update(dict.fromkeys(step.pattern.groupindex))
    return list(names)


def steps_from_options(
    sends: Iterable[str],
    expects: Iterable[str],
    fail_ons: Iterable[str],
    quit_text: str | None,
    within: float = DEFAULT_WITHIN,
    encoding: str = "utf-8",
) -> tuple[Step, ...]:
    """The option form of a dialogue; PatternError's message starts with the option (`--expect: bad ...`)."""
    steps: list[Step] = [
        FailOn(_option(compile_pattern, "--fail-on", text, encoding), text) for text in fail_ons
    ]
    steps += [Send(_option(parse_text, "--send", text, encoding)) for text in sends]
    steps += [
        Expect(_option(compile_pattern, "--expect", text, encoding), text, within, number)
        for number, text in enumerate(expects, 1)
    ]
    if quit_text is not None:
        steps.append(Quit(_option(parse_text, "--quit", quit_text, encoding)))
    return tuple(steps)


def _option(parse: Callable[[str, str], _T], option: str, text: str, encoding: str) -> _T:
    try:
        return parse(text, encoding)
    except PatternError as exc:
        raise PatternError(f"{option}: {exc}") from None
