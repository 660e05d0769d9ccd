"""The relay's fault and rewrite options as values: what each direction of a connection gets.

Pure: the command line's text in (`--delay up:250ms~50ms`, `--cut-after 1k`), frozen values out, or a
`ValueError` whose message says what is wrong with the value (validate names the option). Units:
- a size is a plain integer with an optional `k` or `M` suffix, 1024-based (`1k` = 1024 bytes);
- a time always has a unit: `1.5s`, `250ms` (a bare number is a size, so `--cut-after 5` is 5 bytes).
A direction prefix `up:` (client to upstream) or `down:` (upstream to client) picks one direction; without
it the value applies to both, each direction counting its own bytes.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "BOTH",
    "DOWN",
    "UP",
    "DirectionFaults",
    "FaultSettings",
    "Trigger",
    "parse_delay",
    "parse_fault_rate",
    "parse_replace",
    "parse_size",
    "parse_time",
    "parse_trigger",
    "split_direction",
]

UP = ">"  # client to upstream (the transcript's marker)
DOWN = "<"  # upstream to client
BOTH = (UP, DOWN)

_SIZE = re.compile(r"([0-9]+)([kKM]?)")
_TIME = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ms|s)")
_MULTIPLIER = {"": 1, "k": 1024, "K": 1024, "M": 1024 * 1024}
# Bounds that keep the arithmetic sane (a day of delay; a size that fits any counter).
MAX_TIME = 86400.0
MAX_SIZE = 1 << 50


class Trigger(NamedTuple):
    """`N|T`: after `size` bytes forwarded in the direction, or `seconds` after the connection opened."""

    size: int | None = None
    seconds: float | None = None


class DirectionFaults(NamedTuple):
    """Everything done to one direction's bytes on the way through (all off by default)."""

    delay: float = 0.0  # seconds each chunk (or slice) is held
    jitter: float = 0.0  # +- this many seconds, uniform, added to each delay (never below 0 in total)
    rate: int | None = None  # bytes per second at most
    slice: int | None = None  # bytes per write at most
    stall: Trigger | None = None
    cut: Trigger | None = None
    reset: Trigger | None = None
    replace: tuple[tuple[bytes, bytes], ...] = ()  # (OLD, NEW) pairs, in the order given


class FaultSettings(NamedTuple):
    """The relay's faults: per direction, plus the connection-level choices."""

    up: DirectionFaults = DirectionFaults()
    down: DirectionFaults = DirectionFaults()
    refuse_first: int = 0  # reset the first N clients right after accept
    fault_rate: float = 1.0  # each connection gets the faults with this probability


def split_direction(value: str) -> tuple[tuple[str, ...], str]:
    """`up:X` -> ((">",), "X"); `down:X` -> (("<",), "X"); `X` -> ((">", "<"), "X")."""
    if value.startswith("up:"):
        return (UP,), value[3:]
    if value.startswith("down:"):
        return (DOWN,), value[5:]
    return BOTH, value


def parse_size(text: str) -> int:
    """`100`, `64k`, `10M` (1024-based) -> bytes."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size (a whole number of bytes, optionally with k or M: 64k)")
    size = int(match[1]) * _MULTIPLIER[match[2]]
    if size > MAX_SIZE:
        raise ValueError(f"{text!r} is too large")
    return size


def parse_time(text: str) -> float:
    """`1.5s`, `250ms` -> seconds (the unit is required)."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time (a number with a unit: 1.5s, 250ms)")
    seconds = float(match[1]) / (1000.0 if match[2] == "ms" else 1.0)
    if seconds > MAX_TIME:
        raise ValueError(f"{text!r} is too long (at most a day)")
    return seconds


def parse_trigger(text: str) -> Trigger:
    """`N` (bytes, k/M allowed) or `T` (with a unit) -> a Trigger."""
    if _TIME.fullmatch(text):
        return Trigger(seconds=parse_time(text))
    if _SIZE.fullmatch(text):
        return Trigger(size=parse_size(text))
    raise ValueError(f"{text!r} is neither a byte count (100, 4k) nor a time (1.5s, 250ms)")


def parse_delay(text: str) -> tuple[float, float]:
    """`T` or `T~J` -> (delay, jitter) in seconds."""
    delay, tilde, jitter = text.partition("~")
    return parse_time(delay), parse_time(jitter) if tilde else 0.0


def parse_fault_rate(text: str) -> float:
    """A probability from 0 to 1 (`0.25`)."""
    try:
        rate = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a probability (a number from 0 to 1: 0.25)") from None
    if not 0.0 <= rate <= 1.0:  # also refuses nan
        raise ValueError(f"{text!r} is not between 0 and 1")
    return rate


def parse_replace(text: str) -> tuple[str, str]:
    """`OLD=NEW` -> (OLD, NEW) as typed (escapes are interpreted by the caller); OLD may not be empty.

    The first `=` splits them; write `\\x3d` for an `=` inside OLD."""
    old, equals, new = text.partition("=")
    if not equals:
        raise ValueError(f"{text!r} is not OLD=NEW")
    if not old:
        raise ValueError("OLD is empty (nothing to replace)")
    return old, new
