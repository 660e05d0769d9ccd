"""The typer declaration of every option: help texts, panels, and argv -> raw `Flags`.

Imported only when the fast parser (`fastargs`) declines a command line, or for --help and --version:
typer and click cost ~50 ms to import, which scripts calling tcpcli in loops would pay on every run.
"""

from typing import Annotated

import click
import typer

from tcpcli import __version__
from tcpcli.errors import UsageError
from tcpcli.settings import Flags

CONNECTION = "Connection"
VIEWS = "Views and input"
TIMEOUTS = "End of stream and timeouts"
LOGS = "Logs and diagnostics"
TLS = "TLS"
LISTEN = "Listen mode (-l)"

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
  tcpcli -l 8080 --echo -k
      an echo server for many clients
  tcpcli --demo
      a built-in server to try things on

\b
Exit codes:
  0   ok                       73  cannot create output
  1   port closed (-z)         74  reset or I/O error
  2   usage error              75  timeout
  66  unreadable input file    76  TLS failed
  68  unknown host             77  permission denied
  69  refused, address in use  130 Ctrl-C, 143 SIGTERM
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


@app.command(help=HELP, epilog=EPILOG, no_args_is_help=False)
def command(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[HOST] PORT",
            help="Where to connect (HOST PORT) or, with -l, listen ([HOST] PORT).",
            show_default=False,
        ),
    ] = None,
    listen: Annotated[
        bool,
        typer.Option(
            "-l", "--listen", help="Listen for connections instead of connecting.", rich_help_panel=LISTEN
        ),
    ] = False,
    keep_open: Annotated[
        bool,
        typer.Option(
            "-k", "--keep-open", help="Serve many clients at once; run until Ctrl-C.", rich_help_panel=LISTEN
        ),
    ] = False,
    echo: Annotated[
        bool, typer.Option("--echo", help="Send each client's data back to it.", rich_help_panel=LISTEN)
    ] = False,
    broadcast: Annotated[
        bool,
        typer.Option(
            "--broadcast",
            help="Chat relay: forward each client's data to all the others.",
            rich_help_panel=LISTEN,
        ),
    ] = False,
    greet: Annotated[
        str | None,
        typer.Option(
            "--greet",
            metavar="TEXT",
            help="Send TEXT to each client on connect (\\n \\r \\t \\xNN work).",
            rich_help_panel=LISTEN,
        ),
    ] = None,
    idle_message: Annotated[
        str | None,
        typer.Option(
            "--idle-message",
            metavar="TEXT",
            help="Send TEXT to a client before closing it for idleness (-i).",
            rich_help_panel=LISTEN,
        ),
    ] = None,
    greet_file: Annotated[
        str | None,
        typer.Option(
            "--greet-file",
            metavar="FILE",
            help="Send FILE's bytes to each client on connect (serve a file to every client).",
            rich_help_panel=LISTEN,
        ),
    ] = None,
    exec_cmd: Annotated[
        str | None,
        typer.Option(
            "--exec",
            metavar="CMD",
            help="Run CMD for each client, its stdin/stdout connected to the client (no shell). DANGER: "
            "anyone who can connect runs it.",
            rich_help_panel=LISTEN,
        ),
    ] = None,
    sh_exec: Annotated[
        str | None,
        typer.Option(
            "--sh-exec",
            metavar="CMD",
            help="Like --exec, but CMD is run by /bin/sh -c (pipes, redirections).",
            rich_help_panel=LISTEN,
        ),
    ] = None,
    max_clients: Annotated[
        str | None,
        typer.Option(
            "--max-clients", metavar="N", help="Close clients beyond N at once.", rich_help_panel=LISTEN
        ),
    ] = None,
    probe: Annotated[
        bool,
        typer.Option(
            "-z",
            "--zero-io",
            help="Only check that the port accepts connections: exit 0 if open, 1 if not.",
            rich_help_panel=CONNECTION,
        ),
    ] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Start a built-in test server on 127.0.0.1 and connect to it.",
            rich_help_panel=CONNECTION,
        ),
    ] = False,
    connect_timeout: Annotated[
        str | None,
        typer.Option(
            "-w",
            "--connect-timeout",
            metavar="S",
            help="Give up connecting after S seconds (default 10).",
            rich_help_panel=CONNECTION,
        ),
    ] = None,
    ipv4: Annotated[bool, typer.Option("-4", help="Use IPv4 only.", rich_help_panel=CONNECTION)] = False,
    ipv6: Annotated[bool, typer.Option("-6", help="Use IPv6 only.", rich_help_panel=CONNECTION)] = False,
    source: Annotated[
        str | None,
        typer.Option(
            "-s",
            "--source",
            metavar="ADDR",
            help="Local address to connect from.",
            rich_help_panel=CONNECTION,
        ),
    ] = None,
    source_port: Annotated[
        str | None,
        typer.Option(
            "-p",
            "--source-port",
            metavar="PORT",
            help="Local port to connect from.",
            rich_help_panel=CONNECTION,
        ),
    ] = None,
    keepalive: Annotated[
        bool,
        typer.Option(
            "--keepalive", help="Turn on TCP keep-alive probes (SO_KEEPALIVE).", rich_help_panel=CONNECTION
        ),
    ] = False,
    keepalive_idle: Annotated[
        str | None,
        typer.Option(
            "--keepalive-idle",
            metavar="S",
            help="Idle seconds before the first probe (implies --keepalive).",
            rich_help_panel=CONNECTION,
        ),
    ] = None,
    keepalive_interval: Annotated[
        str | None,
        typer.Option(
            "--keepalive-interval",
            metavar="S",
            help="Seconds between probes (implies --keepalive).",
            rich_help_panel=CONNECTION,
        ),
    ] = None,
    keepalive_count: Annotated[
        str | None,
        typer.Option(
            "--keepalive-count",
            metavar="N",
            help="Unanswered probes before the connection drops (implies --keepalive).",
            rich_help_panel=CONNECTION,
        ),
    ] = None,
    nodelay: Annotated[
        bool,
        typer.Option(
            "--nodelay",
            help="Send small writes at once (TCP_NODELAY, no Nagle delay).",
            rich_help_panel=CONNECTION,
        ),
    ] = False,
    encoding: Annotated[
        str,
        typer.Option(
            "-e",
            "--encoding",
            metavar="NAME",
            help="Text codec for display and typed input.",
            rich_help_panel=VIEWS,
        ),
    ] = "utf-8",
    crlf: Annotated[
        bool,
        typer.Option(
            "-C",
            "--crlf",
            help="End lines with CRLF (typed lines; LF on piped stdin becomes CRLF).",
            rich_help_panel=VIEWS,
        ),
    ] = False,
    eol: Annotated[
        str | None,
        typer.Option(
            "--eol",
            metavar="lf|crlf|cr|none",
            help="Line ending added to typed lines (default lf).",
            rich_help_panel=VIEWS,
        ),
    ] = None,
    hex_view: Annotated[
        bool,
        typer.Option(
            "-x", "--hex", help="Show received data as a hex dump; typed input is hex.", rich_help_panel=VIEWS
        ),
    ] = False,
    binary: Annotated[
        bool,
        typer.Option(
            "-b",
            "--binary",
            help="No text decoding: show bytes as \\xNN; typed \\xNN escapes are sent as bytes.",
            rich_help_panel=VIEWS,
        ),
    ] = False,
    struct_format: Annotated[
        str | None,
        typer.Option(
            "--struct",
            metavar="FMT",
            help="Decode received data as fixed-size records (Python struct format, e.g. '<HI').",
            rich_help_panel=VIEWS,
        ),
    ] = None,
    fields: Annotated[
        str | None,
        typer.Option(
            "--fields",
            metavar="a,b,c",
            help="Names for the values of each --struct record.",
            rich_help_panel=VIEWS,
        ),
    ] = None,
    timestamps: Annotated[
        bool,
        typer.Option(
            "-t",
            "--timestamps",
            help="Timestamp each received chunk (interactive and hex views).",
            rich_help_panel=VIEWS,
        ),
    ] = False,
    color: Annotated[
        str,
        typer.Option(
            "--color",
            metavar="auto|always|never",
            help="Colour in the terminal (NO_COLOR is respected).",
            rich_help_panel=VIEWS,
        ),
    ] = "auto",
    no_history: Annotated[
        bool,
        typer.Option("--no-history", help="Do not read or save the input history.", rich_help_panel=VIEWS),
    ] = False,
    quit_after_eof: Annotated[
        str | None,
        typer.Option(
            "-q",
            "--quit-after-eof",
            metavar="S",
            help="After stdin ends, wait at most S seconds for the peer to close.",
            rich_help_panel=TIMEOUTS,
        ),
    ] = None,
    telnet: Annotated[
        bool,
        typer.Option(
            "--telnet",
            help="Refuse every telnet option request (like nc -t), hiding the negotiation.",
            rich_help_panel=CONNECTION,
        ),
    ] = False,
    shutdown_on_eof: Annotated[
        bool,
        typer.Option(
            "-N",
            help="Send FIN when stdin ends (OpenBSD nc's -N; tcpcli does it anyway).",
            rich_help_panel=TIMEOUTS,
        ),
    ] = False,
    numeric: Annotated[
        bool,
        typer.Option("-n", help="Numeric only: no DNS or service-name look-ups.", rich_help_panel=CONNECTION),
    ] = False,
    no_stdin: Annotated[
        bool,
        typer.Option(
            "-d", help="Do not read stdin (and so never send FIN for it).", rich_help_panel=TIMEOUTS
        ),
    ] = False,
    no_half_close: Annotated[
        bool,
        typer.Option("--no-half-close", help="Do not send FIN when stdin ends.", rich_help_panel=TIMEOUTS),
    ] = False,
    idle_timeout: Annotated[
        str | None,
        typer.Option(
            "-i",
            "--idle-timeout",
            metavar="S",
            help="Close after S seconds without traffic (exit 75; listen: per client).",
            rich_help_panel=TIMEOUTS,
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            metavar="FILE",
            help="Append every received byte, raw, to FILE.",
            rich_help_panel=LOGS,
        ),
    ] = None,
    hex_log: Annotated[
        str | None,
        typer.Option(
            "--hex-log",
            metavar="FILE",
            help="Log both directions as hex dumps with timestamps to FILE.",
            rich_help_panel=LOGS,
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("-v", "--verbose", help="Report connection events on stderr.", rich_help_panel=LOGS),
    ] = False,
    tls: Annotated[
        bool, typer.Option("--tls", help="Use TLS (certificate and host name verified).", rich_help_panel=TLS)
    ] = False,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Do not verify the server certificate (a warning is printed).",
            rich_help_panel=TLS,
        ),
    ] = False,
    sni: Annotated[
        str | None,
        typer.Option(
            "--sni",
            metavar="NAME",
            help="Server name to send and verify (default: HOST).",
            rich_help_panel=TLS,
        ),
    ] = None,
    cafile: Annotated[
        str | None,
        typer.Option(
            "--cafile", metavar="FILE", help="Trust the CA certificates in FILE (PEM).", rich_help_panel=TLS
        ),
    ] = None,
    cert: Annotated[
        str | None,
        typer.Option(
            "--cert",
            metavar="FILE",
            help="Certificate to present (PEM); with -l --tls, the server certificate.",
            rich_help_panel=TLS,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", metavar="FILE", help="Private key for --cert (PEM).", rich_help_panel=TLS),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> Flags:
    flags = Flags(
        args=tuple(args or ()),
        listen=listen, probe=probe, demo=demo, encoding=encoding, crlf=crlf, eol=eol, hex=hex_view,
        binary=binary, struct=struct_format, fields=fields, keepalive=keepalive,
        keepalive_idle=keepalive_idle, keepalive_interval=keepalive_interval, keepalive_count=keepalive_count,
        nodelay=nodelay, idle_timeout=idle_timeout, connect_timeout=connect_timeout,
        quit_after_eof=quit_after_eof, no_half_close=no_half_close, output=output, hex_log=hex_log,
        timestamps=timestamps, verbose=verbose, ipv4=ipv4, ipv6=ipv6, source=source, source_port=source_port,
        color=color, no_history=no_history, tls=tls, insecure=insecure, sni=sni, cafile=cafile, cert=cert,
        key=key, keep_open=keep_open, echo=echo, broadcast=broadcast, greet=greet, idle_message=idle_message,
        max_clients=max_clients, greet_file=greet_file, exec_cmd=exec_cmd, sh_exec=sh_exec, telnet=telnet,
        shutdown_on_eof=shutdown_on_eof, numeric=numeric, no_stdin=no_stdin,
    )  # fmt: skip
    return flags


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
