"""The relay's fault and rewrite flags -> `FaultSettings` (validate's part for issue 15's options).

Every bad value is a `UsageError` naming the option: `--delay: '5' is not a time (...)`. The options are
for the relay only (`-l ... --to`); one direction may be given once per option (`--delay up:1s --delay
down:2s`, not `--delay 1s --delay up:2s`); --replace is repeatable without limit (pairs apply in order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from tcpcli.core.faultspec import (
    DOWN,
    UP,
    DirectionFaults,
    FaultSettings,
    parse_delay,
    parse_fault_rate,
    parse_replace,
    parse_size,
    parse_trigger,
    split_direction,
)
from tcpcli.errors import UsageError
from tcpcli.settings import Flags

__all__ = ["fault_settings"]

# option name, Flags field, DirectionFaults fields it sets, the value's parser (giving those fields' values)
_PER_DIRECTION: tuple[tuple[str, str, tuple[str, ...], Callable[[str], tuple[Any, ...]]], ...] = (
    ("--delay", "fault_delay", ("delay", "jitter"), parse_delay),
    ("--rate", "fault_rate_limit", ("rate",), lambda text: (_positive(text),)),
    ("--slice", "fault_slice", ("slice",), lambda text: (_positive(text),)),
    ("--stall-after", "stall_after", ("stall",), lambda text: (parse_trigger(text),)),
    ("--cut-after", "cut_after", ("cut",), lambda text: (parse_trigger(text),)),
    ("--reset-after", "reset_after", ("reset",), lambda text: (parse_trigger(text),)),
)


def _usage(message: str) -> NoReturn:
    raise UsageError(message)


def _positive(text: str) -> int:
    size = parse_size(text)
    if size <= 0:
        raise ValueError(f"'{text}' is not a size of at least 1 byte")
    return size


def _given(flags: Flags) -> list[str]:
    names = [name for name, field, _fields, _parse in _PER_DIRECTION if getattr(flags, field)]
    for name, value in (
        ("--refuse-first", flags.refuse_first),
        ("--fault-rate", flags.fault_rate),
        ("--replace", flags.replace or None),
    ):
        if value is not None:
            names.append(name)
    return names


def fault_settings(flags: Flags, relay: bool, encoding: str) -> FaultSettings | None:
    """The faults and rewrites asked for, None when none; a usage error outside the relay (`relay` False)."""
    given = _given(flags)
    if not given:
        return None
    if not relay:
        _usage(f"{given[0]} is for the relay: use it with -l PORT --to HOST:PORT")
    plans: dict[str, dict[str, Any]] = {UP: {}, DOWN: {}}
    for name, field, fields, parse in _PER_DIRECTION:
        for value in getattr(flags, field):
            directions, text = split_direction(value)
            try:
                parsed = parse(text)
            except ValueError as exc:
                _usage(f"{name}: {exc}")
            for direction in directions:
                if fields[0] in plans[direction]:
                    which = "client to upstream" if direction == UP else "upstream to client"
                    _usage(f"{name} is given twice for {which}: once per direction (up:X, down:Y)")
                plans[direction].update(zip(fields, parsed, strict=True))
    for value in flags.replace:
        directions, text = split_direction(value)
        pair = _replace_pair(text, encoding)
        for direction in directions:
            plans[direction]["replace"] = (*plans[direction].get("replace", ()), pair)
    refuse = 0
    if flags.refuse_first is not None:
        text = flags.refuse_first
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            _usage(f"--refuse-first: '{text}' is not a whole number of clients")
        refuse = int(text)
    rate = 1.0
    if flags.fault_rate is not None:
        try:
            rate = parse_fault_rate(flags.fault_rate)
        except ValueError as exc:
            _usage(f"--fault-rate: {exc}")
    return FaultSettings(DirectionFaults(**plans[UP]), DirectionFaults(**plans[DOWN]), refuse, rate)


def _replace_pair(text: str, encoding: str) -> tuple[bytes, bytes]:
    from tcpcli.core.hexinput import HexInputError, parse_escapes

    try:
        old, new = parse_replace(text)
        return parse_escapes(old, encoding), parse_escapes(new, encoding)
    except (ValueError, HexInputError) as exc:
        _usage(f"--replace: {exc}")
