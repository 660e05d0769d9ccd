"""The typer command, built from the option declarations in `options`: --help, completion, argv -> `Flags`.

Imported only when the fast parser (`fastargs`) declines a command line, or for --help and --version:
typer and click cost ~50 ms to import, which scripts calling tcpcli in loops would pay on every run.
"""

import inspect
from typing import Any

import click
import typer

from tcpcli import __version__
from tcpcli.errors import UsageError
from tcpcli.options import OPTIONS, SWITCH, Option, repeatable_fields
from tcpcli.settings import Flags

__all__ = ["EPILOG", "HELP", "app", "parse_argv"]

HELP = """\
A netcat-style TCP tool: talk to a TCP service from a terminal or a script, or stand up a test server.

\b
Examples:
  tcpcli example.org 80
      an interactive session (in a terminal)
  printf 'PING\\r\\n' | tcpcli host 6379
      pipe bytes verbatim, exit when done
  tcpcli -z db.local 5432
      is the port open? (exit 0 / 1)
  tcpcli host 6379 --send 'PING\\r\\n' --expect PONG
      health check: exit 0 if it answers PONG, 1 if not
  tcpcli -l 8080 --echo -k
      an echo server for many clients
  tcpcli --demo
      a built-in server to try things on

\b
Exit codes:
  0   ok                       73  cannot create output
  1   port closed, no match    74  reset or I/O error
  2   usage error              75  timeout
  65  bad script or -u line    76  TLS failed
  66  unreadable input file    77  permission denied
  68  unknown host             130 Ctrl-C, 143 SIGTERM
  69  refused, address in use  70  a bug in tcpcli
"""

# Lines of the help above stay within 58 columns: they never wrap in an 80- or 60-column terminal.
EPILOG = """\
Shell completion (bash, zsh, fish): tcpcli --install-completion. Manual page: man tcpcli
(installed with the package; from a checkout: man ./man/tcpcli.1). Docs: docs/options.md.
"""

app = typer.Typer(
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        print(f"tcpcli {__version__}")
        raise typer.Exit()


def _parameter(option: Option) -> inspect.Parameter:
    """One declared option as the keyword parameter typer reads: `field: type = typer.Option(names...)`."""
    switch = option.kind == SWITCH
    info = typer.Option(
        False if switch else option.default,
        *option.names,
        metavar=None if switch else option.metavar,
        help=option.help,
        rich_help_panel=option.panel,
    )
    annotation: object = bool if switch else (str if option.default is not None else str | None)
    if option.repeatable:
        annotation = list[str] | None  # typer collects every occurrence; _to_flags makes it a tuple
    return inspect.Parameter(
        option.field, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation
    )


def _to_flags(**values: Any) -> Flags:
    """What typer calls with the parsed values: the positionals and every option -> raw `Flags`."""
    values.pop("version", None)
    for field in repeatable_fields():
        values[field] = tuple(values.get(field) or ())
    return Flags(args=tuple(values.pop("args") or ()), **values)


_ARGS = inspect.Parameter(
    "args",
    inspect.Parameter.KEYWORD_ONLY,
    default=typer.Argument(
        None,
        metavar="[HOST] PORT",
        help="Where to connect (HOST PORT) or, with -l, listen ([HOST] PORT).",
        show_default=False,
    ),
    annotation=list[str] | None,
)
_VERSION = inspect.Parameter(
    "version",
    inspect.Parameter.KEYWORD_ONLY,
    default=typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    annotation=bool,
)
# typer reads a function's signature: the one built here from `OPTIONS` (no hand-written parameter list)
_to_flags.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [_ARGS, *(_parameter(option) for option in OPTIONS), _VERSION], return_annotation=Flags
)
app.command(help=HELP, epilog=EPILOG, no_args_is_help=False)(_to_flags)


def parse_argv(argv: list[str]) -> Flags | int:
    """Flags for a command line, or an exit status when typer answered by itself (--help, --version)."""
    try:
        result = app(args=argv, prog_name="tcpcli", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:  # typer's shell completion answers, then exits
        return exc.code if isinstance(exc.code, int) else 0
    except click.exceptions.ClickException as exc:
        raise UsageError(f"{_click_message(exc)} (see tcpcli --help)") from exc
    if isinstance(result, Flags):
        return result
    return result if isinstance(result, int) else 0


def _click_message(exc: click.exceptions.ClickException) -> str:
    message = exc.format_message().strip().replace("\n", " ")
    if isinstance(exc, click.exceptions.NoSuchOption) and exc.option_name.lstrip("-").isdigit():
        return f"{message} (a negative number is not a valid value here)"
    return message
