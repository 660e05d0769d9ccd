"""A fast parser for plain command lines, so scripts that call tcpcli in a loop do not pay for typer.

It understands exactly `--long VALUE`, `-s VALUE`, flags and positionals, with the option names declared in
`options.py` (the typer command in `command.py` is built from them too). Anything else, such as `--help`,
`-xv`, `--opt=value`, `--`, a repeated option or a value that starts with `-`, returns None and typer
decides.
"""

from __future__ import annotations

from tcpcli.options import SWITCH, VALUE, option_table, repeatable_fields
from tcpcli.settings import Flags

__all__ = ["REPEATABLE", "SWITCHES", "VALUED", "parse_fast"]

# option string -> Flags field, derived from the one declaration in `options`
SWITCHES = option_table(SWITCH)  # on/off switches
VALUED = option_table(VALUE)  # options that take the next argument as their value
REPEATABLE = repeatable_fields()  # valued options that may come many times (a tuple of values)


def parse_fast(argv: list[str]) -> Flags | None:
    """Raw flags for a plain command line, or None when the full parser must look at it."""
    if not argv:
        return None
    values: dict[str, object] = {}
    positionals: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if not token.startswith("-") or token == "-":
            positionals.append(token)
            continue
        field = SWITCHES.get(token)
        if field is not None:
            if field in values:
                return None
            values[field] = True
            continue
        field = VALUED.get(token)
        if field is None or index >= len(argv) or argv[index].startswith("-"):
            return None
        if field in REPEATABLE:
            values[field] = (*values.get(field, ()), argv[index])  # type: ignore[misc]
        elif field in values:
            return None
        else:
            values[field] = argv[index]
        index += 1
    return Flags(args=tuple(positionals), **values)  # type: ignore[arg-type]
