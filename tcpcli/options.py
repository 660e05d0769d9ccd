"""Every command-line option, declared once: its names, its `Flags` field, switch or value, help and panel.

The typer command (`command`), the fast parser (`fastargs`), the manual page (`manpage`, through the typer
command), the listen-only check (`validate`) and the docs test all read `OPTIONS`; no other module lists
option names. Kept cheap to import: plain tuples, no typer, because the fast parser needs it on every run.
The order of `OPTIONS` is the order of `--help` and of the manual page within each panel.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "CONNECTION",
    "DIALOGUE",
    "FAULTS",
    "LISTEN",
    "LOGS",
    "OPTIONS",
    "PANELS",
    "SWITCH",
    "TIMEOUTS",
    "TLS",
    "VALUE",
    "VIEWS",
    "Option",
    "option_table",
    "repeatable_fields",
]

# help panels, in the order the manual page lists them
CONNECTION = "Connection"
VIEWS = "Views and input"
TIMEOUTS = "End of stream and timeouts"
LOGS = "Logs and diagnostics"
TLS = "TLS"
LISTEN = "Listen mode (-l)"
DIALOGUE = "Dialogues and health checks"
FAULTS = "Faults and rewrites in the relay (-l ... --to)"
PANELS = (CONNECTION, VIEWS, TIMEOUTS, LOGS, TLS, LISTEN, DIALOGUE, FAULTS)

# value kinds: a switch is on when given; a value option takes the next argument (a string we parse later)
SWITCH = "switch"
VALUE = "value"


class Option(NamedTuple):
    """One option: `names` as typed (short first), the `Flags` field it sets, and how it is shown."""

    field: str
    names: tuple[str, ...]
    kind: str  # SWITCH or VALUE
    help: str
    panel: str
    metavar: str | None = None  # VALUE only: the placeholder in --help (S, FILE, N ...)
    default: str | None = None  # VALUE only: the value when not given (None: not given)
    listen_only: bool = False  # a usage error without -l
    repeatable: bool = False  # VALUE only: may be given many times; the Flags field is a tuple of them

    @property
    def label(self) -> str:
        """How messages name it: `-k/--keep-open`, `--echo`."""
        return "/".join(self.names)


def _switch(field: str, names: tuple[str, ...], help: str, panel: str, listen_only: bool = False) -> Option:
    return Option(field, names, SWITCH, help, panel, listen_only=listen_only)


def _value(
    field: str,
    names: tuple[str, ...],
    metavar: str,
    help: str,
    panel: str,
    default: str | None = None,
    listen_only: bool = False,
    repeatable: bool = False,
) -> Option:
    return Option(field, names, VALUE, help, panel, metavar, default, listen_only, repeatable)


OPTIONS: tuple[Option, ...] = (
    _switch("listen", ("-l", "--listen"), "Listen for connections instead of connecting.", LISTEN),
    _switch(
        "keep_open", ("-k", "--keep-open"), "Serve many clients at once; run until Ctrl-C.", LISTEN, True
    ),
    _switch("echo", ("--echo",), "Send each client's data back to it.", LISTEN, True),
    _switch(
        "broadcast",
        ("--broadcast",),
        "Chat relay: forward each client's data to all the others.",
        LISTEN,
        True,
    ),
    _value(
        "greet",
        ("--greet",),
        "TEXT",
        "Send TEXT to each client on connect (\\n \\r \\t \\xNN work).",
        LISTEN,
        listen_only=True,
    ),
    _value(
        "idle_message",
        ("--idle-message",),
        "TEXT",
        "Send TEXT to a client before closing it for idleness (-i).",
        LISTEN,
        listen_only=True,
    ),
    _value(
        "greet_file",
        ("--greet-file",),
        "FILE",
        "Send FILE's bytes to each client on connect (serve a file to every client).",
        LISTEN,
        listen_only=True,
    ),
    _value(
        "exec_cmd",
        ("--exec",),
        "CMD",
        "Run CMD for each client, its stdin/stdout connected to the client (no shell). DANGER: anyone who "
        "can connect runs it.",
        LISTEN,
        listen_only=True,
    ),
    _value(
        "sh_exec",
        ("--sh-exec",),
        "CMD",
        "Like --exec, but CMD is run by /bin/sh -c (pipes, redirections).",
        LISTEN,
        listen_only=True,
    ),
    _value(
        "max_clients", ("--max-clients",), "N", "Close clients beyond N at once.", LISTEN, listen_only=True
    ),
    _value(
        "to",
        ("--to",),
        "TARGET",
        "Relay each client to TARGET (HOST:PORT, [IPv6]:PORT or unix:PATH) and show who said what, per "
        "connection: tcpcli -l 6380 --to 127.0.0.1:6379 -k.",
        LISTEN,
        listen_only=True,
    ),
    _switch(
        "to_tls",
        ("--to-tls",),
        "Speak TLS to the --to upstream (verified; --cafile, --sni, --insecure apply to it).",
        LISTEN,
        True,
    ),
    _switch(
        "no_transcript",
        ("--no-transcript",),
        "With --to: show no bytes, just forward them (fast; -v still reports opens and closes).",
        LISTEN,
        True,
    ),
    _switch(
        "probe",
        ("-z", "--zero-io"),
        "Only check that the port accepts connections: exit 0 if open, 1 if not.",
        CONNECTION,
    ),
    _value(
        "unix",
        ("-U", "--unix"),
        "PATH",
        "Use the Unix socket PATH instead of HOST PORT (with -l: listen on it); @name is an abstract name.",
        CONNECTION,
    ),
    _value(
        "proxy",
        ("--proxy",),
        "URL",
        "Reach HOST PORT through a proxy: socks5://, socks5h:// (the proxy resolves HOST), socks4://, "
        "socks4a://, http:// (CONNECT); USER:PASS@ allowed.",
        CONNECTION,
    ),
    _value(
        "proxy_auth",
        ("--proxy-auth",),
        "FILE",
        "Read the proxy's USER:PASS from FILE (kept out of ps; wins over USER:PASS@ in the URL).",
        CONNECTION,
    ),
    _switch("demo", ("--demo",), "Start a built-in test server on 127.0.0.1 and connect to it.", CONNECTION),
    _value(
        "connect_timeout",
        ("-w", "--connect-timeout"),
        "S",
        "Give up connecting after S seconds (default 10).",
        CONNECTION,
    ),
    _value(
        "reconnect",
        ("--reconnect",),
        "N",
        "When connecting fails or the peer closes before stdin ends, connect again, up to N more times "
        "(0: without limit); the wait doubles from --reconnect-delay up to 30 s.",
        CONNECTION,
    ),
    _value(
        "reconnect_delay",
        ("--reconnect-delay",),
        "S",
        "First wait before connecting again with --reconnect (default 1).",
        CONNECTION,
    ),
    _switch(
        "udp",
        ("-u", "--udp"),
        "UDP instead of TCP: each stdin line or typed line is one datagram, each datagram is kept whole.",
        CONNECTION,
    ),
    _switch("ipv4", ("-4",), "Use IPv4 only.", CONNECTION),
    _switch("ipv6", ("-6",), "Use IPv6 only.", CONNECTION),
    _value("source", ("-s", "--source"), "ADDR", "Local address to connect from.", CONNECTION),
    _value("source_port", ("-p", "--source-port"), "PORT", "Local port to connect from.", CONNECTION),
    _switch("keepalive", ("--keepalive",), "Turn on TCP keep-alive probes (SO_KEEPALIVE).", CONNECTION),
    _value(
        "keepalive_idle",
        ("--keepalive-idle",),
        "S",
        "Idle seconds before the first probe (implies --keepalive).",
        CONNECTION,
    ),
    _value(
        "keepalive_interval",
        ("--keepalive-interval",),
        "S",
        "Seconds between probes (implies --keepalive).",
        CONNECTION,
    ),
    _value(
        "keepalive_count",
        ("--keepalive-count",),
        "N",
        "Unanswered probes before the connection drops (implies --keepalive).",
        CONNECTION,
    ),
    _switch(
        "nodelay", ("--nodelay",), "Send small writes at once (TCP_NODELAY, no Nagle delay).", CONNECTION
    ),
    _value(
        "encoding", ("-e", "--encoding"), "NAME", "Text codec for display and typed input.", VIEWS, "utf-8"
    ),
    _switch(
        "crlf", ("-C", "--crlf"), "End lines with CRLF (typed lines; LF on piped stdin becomes CRLF).", VIEWS
    ),
    _value("eol", ("--eol",), "lf|crlf|cr|none", "Line ending added to typed lines (default lf).", VIEWS),
    _switch("hex", ("-x", "--hex"), "Show received data as a hex dump; typed input is hex.", VIEWS),
    _switch(
        "binary",
        ("-b", "--binary"),
        "No text decoding: show bytes as \\xNN; typed \\xNN escapes are sent as bytes.",
        VIEWS,
    ),
    _value(
        "struct",
        ("--struct",),
        "FMT",
        "Decode received data as fixed-size records (Python struct format, e.g. '<HI').",
        VIEWS,
    ),
    _value("fields", ("--fields",), "a,b,c", "Names for the values of each --struct record.", VIEWS),
    _switch(
        "timestamps",
        ("-t", "--timestamps"),
        "Timestamp each received chunk (interactive and hex views).",
        VIEWS,
    ),
    _value(
        "color",
        ("--color",),
        "auto|always|never",
        "Colour in the terminal (NO_COLOR is respected).",
        VIEWS,
        "auto",
    ),
    _switch("no_history", ("--no-history",), "Do not read or save the input history.", VIEWS),
    _value(
        "quit_after_eof",
        ("-q", "--quit-after-eof"),
        "S",
        "After stdin ends, wait at most S seconds for the peer to close.",
        TIMEOUTS,
    ),
    _switch(
        "telnet",
        ("--telnet",),
        "Refuse every telnet option request (like nc -t), hiding the negotiation.",
        CONNECTION,
    ),
    _switch(
        "shutdown_on_eof",
        ("-N",),
        "Send FIN when stdin ends (OpenBSD nc's -N; tcpcli does it anyway).",
        TIMEOUTS,
    ),
    _switch("numeric", ("-n",), "Numeric only: no DNS or service-name look-ups.", CONNECTION),
    _switch("no_stdin", ("-d",), "Do not read stdin (and so never send FIN for it).", TIMEOUTS),
    _switch("no_half_close", ("--no-half-close",), "Do not send FIN when stdin ends.", TIMEOUTS),
    _value(
        "idle_timeout",
        ("-i", "--idle-timeout"),
        "S",
        "Close after S seconds without traffic (exit 75; listen: per client).",
        TIMEOUTS,
    ),
    _value("output", ("-o", "--output"), "FILE", "Append every received byte, raw, to FILE.", LOGS),
    _value(
        "hex_log", ("--hex-log",), "FILE", "Log both directions as hex dumps with timestamps to FILE.", LOGS
    ),
    _value(
        "record",
        ("--record",),
        "FILE",
        "Record every connection (both directions, FIN and RST) to FILE as JSON Lines, to replay with "
        "--replay or edit by hand (docs/recording.md).",
        LOGS,
    ),
    _value(
        "redact",
        ("--redact",),
        "REGEX",
        "With --record: write each match of REGEX (Python re, on bytes) as *** (passwords, tokens).",
        LOGS,
    ),
    _switch("verbose", ("-v", "--verbose"), "Report connection events on stderr.", LOGS),
    _switch("tls", ("--tls",), "Use TLS (certificate and host name verified).", TLS),
    _switch("insecure", ("--insecure",), "Do not verify the server certificate (a warning is printed).", TLS),
    _value("sni", ("--sni",), "NAME", "Server name to send and verify (default: HOST).", TLS),
    _value("cafile", ("--cafile",), "FILE", "Trust the CA certificates in FILE (PEM).", TLS),
    _value(
        "cert",
        ("--cert",),
        "FILE",
        "Certificate to present (PEM); with -l --tls, the server certificate.",
        TLS,
    ),
    _value("key", ("--key",), "FILE", "Private key for --cert (PEM).", TLS),
    _value(
        "send",
        ("--send",),
        "DATA",
        "Send DATA after connecting (\\r \\n \\t \\0 \\xNN \\\\ work; no line end added). Repeatable. "
        "Makes the run a dialogue: stdin is not read.",
        DIALOGUE,
        repeatable=True,
    ),
    _value(
        "expect",
        ("--expect",),
        "REGEX",
        "Wait for REGEX (Python re, on bytes, no line framing) in what arrived since the previous match; "
        "exit 1 if it does not come. Repeatable, in order, after every --send.",
        DIALOGUE,
        repeatable=True,
    ),
    _value(
        "within",
        ("--within",),
        "S",
        "Seconds each --expect (or turn awaited by --replay) may take, from the previous step (default 5).",
        DIALOGUE,
    ),
    _value(
        "fail_on",
        ("--fail-on",),
        "REGEX",
        "Fail at once (exit 1) if REGEX arrives before the expectations are met. Repeatable.",
        DIALOGUE,
        repeatable=True,
    ),
    _value(
        "quit_text",
        ("--quit",),
        "DATA",
        "After the last match send DATA, then FIN, and wait (-q S, default --within) for the peer to close.",
        DIALOGUE,
    ),
    _switch(
        "print_matched",
        ("--print",),
        "Write what arrived up to the end of the last match to stdout; with named groups "
        "((?P<name>...)), one JSON object of them instead.",
        DIALOGUE,
    ),
    _value(
        "replay",
        ("--replay",),
        "FILE",
        "Play one side of a --record FILE and check the other: with -l a mock server (each client gets the "
        "next recorded connection), else a mock client of HOST PORT. Exit 1 on a mismatch.",
        DIALOGUE,
    ),
    _value(
        "match",
        ("--match",),
        "exact|lines|regex|any",
        "How --replay compares what the peer sends with the recording (default exact; lines: CR LF = LF; "
        'regex: hand-written "re" fields; any: that something came).',
        DIALOGUE,
    ),
    _value(
        "speed",
        ("--speed",),
        "N",
        "--replay's pace: 0 (default) as fast as the peer answers, 1 the recorded gaps, N times faster.",
        DIALOGUE,
    ),
    _switch(
        "loop",
        ("--loop",),
        "With -l --replay: start the recording over when its connections run out (else exit after them).",
        DIALOGUE,
        True,
    ),
    _value(
        "script",
        ("--script",),
        "FILE",
        "Run the dialogue in FILE (send, expect, expect-within, fail-on, sleep, quit; see docs/checks.md); "
        "with -l, against each client.",
        DIALOGUE,
    ),
    # the relay's faults and rewrites (-l ... --to): up: is client to upstream, down: upstream to client
    _value(
        "fault_delay",
        ("--delay",),
        "[up:|down:]T[~J]",
        "Hold each chunk T (250ms, 1.5s) before forwarding it, +- a random J; order kept.",
        FAULTS,
        repeatable=True,
    ),
    _value(
        "fault_rate_limit",
        ("--rate",),
        "[up:|down:]BYTES",
        "Forward at most BYTES per second per connection and direction (64k, 10M: 1024-based).",
        FAULTS,
        repeatable=True,
    ),
    _value(
        "fault_slice",
        ("--slice",),
        "[up:|down:]N",
        "Forward in separate writes of at most N bytes (TCP_NODELAY on): a 1-byte-at-a-time peer.",
        FAULTS,
        repeatable=True,
    ),
    _value(
        "stall_after",
        ("--stall-after",),
        "[up:|down:]N|T",
        "After N bytes (or T from open) stop forwarding and reading that direction; both stay open.",
        FAULTS,
        repeatable=True,
    ),
    _value(
        "cut_after",
        ("--cut-after",),
        "[up:|down:]N|T",
        "After N bytes (or T from open) close both sides with FIN.",
        FAULTS,
        repeatable=True,
    ),
    _value(
        "reset_after",
        ("--reset-after",),
        "[up:|down:]N|T",
        "After N bytes (or T from open) reset both sides (RST).",
        FAULTS,
        repeatable=True,
    ),
    _value(
        "refuse_first",
        ("--refuse-first",),
        "N",
        "Reset the first N clients right after accept (to test a client's retries).",
        FAULTS,
    ),
    _value(
        "fault_rate",
        ("--fault-rate",),
        "P",
        "Give each connection the faults with probability P (0..1, default 1); the open line says which.",
        FAULTS,
    ),
    _value(
        "replace",
        ("--replace",),
        "[up:|down:]OLD=NEW",
        "Replace every OLD by NEW in the relayed bytes, also across reads (\\r \\n \\t \\0 \\xNN \\\\ work).",
        FAULTS,
        repeatable=True,
    ),
)


def repeatable_fields() -> frozenset[str]:
    """The `Flags` fields of the options that may be given many times (tuples of their values)."""
    return frozenset(option.field for option in OPTIONS if option.repeatable)


def option_table(kind: str) -> dict[str, str]:
    """Option string -> `Flags` field, for every option of `kind` (SWITCH or VALUE)."""
    return {name: option.field for option in OPTIONS if option.kind == kind for name in option.names}
