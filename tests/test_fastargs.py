"""The fast parser and the typer declaration must read every command line the same way."""

from __future__ import annotations

import click
import pytest
import typer

from tcpcli.command import app, parse_argv
from tcpcli.fastargs import SWITCHES, VALUED, parse_fast

# answered by typer itself, never by the fast parser
TYPER_ONLY = {"-h", "--help", "--version", "--install-completion", "--show-completion"}


def _click_options() -> dict[str, bool]:
    """Every option string typer declares -> whether it is a switch."""
    command = typer.main.get_command(app)
    options: dict[str, bool] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                options[name] = bool(param.is_flag)
    return options


def test_fast_parser_knows_exactly_the_declared_options() -> None:
    declared = {name: switch for name, switch in _click_options().items() if name not in TYPER_ONLY}
    known = {**dict.fromkeys(SWITCHES, True), **dict.fromkeys(VALUED, False)}
    assert known == declared


@pytest.mark.parametrize("option", sorted(SWITCHES))
def test_each_switch_sets_the_same_field(option: str) -> None:
    argv = [option, "example.org", "80"]
    assert parse_fast(argv) == parse_argv(argv)


@pytest.mark.parametrize("option", sorted(VALUED))
def test_each_valued_option_sets_the_same_field(option: str) -> None:
    argv = ["example.org", option, "some value", "80"]
    assert parse_fast(argv) == parse_argv(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["h", "80", "--send", "a", "--expect", "b", "--send", "c", "--fail-on", "x", "--fail-on", "y"],
        ["127.0.0.1", "80"],
        ["-v", "-w", "3", "-q", "0", "::1", "443", "--tls", "--sni", "example.org"],
        ["-l", "-k", "--echo", "--greet", "hi\\n", "0"],
        ["--struct", "<HI", "--fields", "id,len", "-x", "h", "1"],
    ],
)
def test_whole_command_lines_agree(argv: list[str]) -> None:
    assert parse_fast(argv) == parse_argv(argv)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["-h"],
        ["--version"],
        ["-xv", "h", "1"],
        ["--eol=crlf", "h", "1"],
        ["--", "h", "1"],
        ["-v", "-v", "h", "1"],
        ["-w", "-1", "h", "1"],
        ["-w"],
        ["--bogus", "h", "1"],
        ["--install-completion"],
        ["--show-completion"],
    ],
)
def test_anything_unusual_is_left_to_typer(argv: list[str]) -> None:
    assert parse_fast(argv) is None


def test_every_flags_field_is_set_by_exactly_one_declared_option() -> None:
    """`options.OPTIONS` is the one list: each raw `Flags` field (but the positionals) has its option."""
    from tcpcli.options import OPTIONS
    from tcpcli.settings import Flags

    fields = [option.field for option in OPTIONS]
    assert sorted(fields) == sorted(field for field in Flags._fields if field != "args")
    names = [name for option in OPTIONS for name in option.names]
    assert len(names) == len(set(names))


def test_declared_defaults_are_the_raw_flags_defaults() -> None:
    from tcpcli.options import OPTIONS, SWITCH
    from tcpcli.settings import Flags

    for option in OPTIONS:
        expected = False if option.kind == SWITCH else option.default
        if option.repeatable:
            expected = ()  # every value given, in order
        assert Flags._field_defaults[option.field] == expected, option.field
