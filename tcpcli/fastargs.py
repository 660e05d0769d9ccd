"""A fast parser for plain command lines, so scripts that call tcpcli in a loop do not pay for typer.

It understands exactly `--long VALUE`, `-s VALUE`, flags and positionals, with the same option names as the
typer declaration in `command.py` (a test keeps the two in step). Anything else, such as `--help`, `-xv`,
`--opt=value`, `--`, a repeated option or a value that starts with `-`, returns None and typer decides.
"""

from __future__ import annotations

from tcpcli.settings import Flags

# option string -> Flags field, for options that are on/off switches
SWITCHES = {
    "-l": "listen", "--listen": "listen",
    "-k": "keep_open", "--keep-open": "keep_open",
    "--echo": "echo",
    "--broadcast": "broadcast",
    "-z": "probe", "--zero-io": "probe",
    "--demo": "demo",
    "-4": "ipv4",
    "-6": "ipv6",
    "--keepalive": "keepalive",
    "--nodelay": "nodelay",
    "-C": "crlf", "--crlf": "crlf",
    "-x": "hex", "--hex": "hex",
    "-b": "binary", "--binary": "binary",
    "-t": "timestamps", "--timestamps": "timestamps",
    "--no-history": "no_history",
    "--no-half-close": "no_half_close",
    "-v": "verbose", "--verbose": "verbose",
    "--tls": "tls",
    "--insecure": "insecure",
    "--telnet": "telnet",
    "-N": "shutdown_on_eof",
    "-n": "numeric",
    "-d": "no_stdin",
}  # fmt: skip

# option string -> Flags field, for options that take the next argument as their value
VALUED = {
    "--greet": "greet",
    "--idle-message": "idle_message",
    "--max-clients": "max_clients",
    "-w": "connect_timeout", "--connect-timeout": "connect_timeout",
    "-s": "source", "--source": "source",
    "-p": "source_port", "--source-port": "source_port",
    "--keepalive-idle": "keepalive_idle",
    "--keepalive-interval": "keepalive_interval",
    "--keepalive-count": "keepalive_count",
    "-e": "encoding", "--encoding": "encoding",
    "--eol": "eol",
    "--struct": "struct",
    "--fields": "fields",
    "--color": "color",
    "-q": "quit_after_eof", "--quit-after-eof": "quit_after_eof",
    "-i": "idle_timeout", "--idle-timeout": "idle_timeout",
    "-o": "output", "--output": "output",
    "--hex-log": "hex_log",
    "--sni": "sni",
    "--cafile": "cafile",
    "--cert": "cert",
    "--key": "key",
    "--exec": "exec_cmd",
    "--sh-exec": "sh_exec",
    "--greet-file": "greet_file",
}  # fmt: skip


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
        if field is None or field in values or index >= len(argv) or argv[index].startswith("-"):
            return None
        values[field] = argv[index]
        index += 1
    return Flags(args=tuple(positionals), **values)  # type: ignore[arg-type]
