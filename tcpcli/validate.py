"""Raw `Flags` + `Environment` -> frozen `Settings`: every cross-flag rule and file preflight, run once.

Before any socket opens: a bad value is a `UsageError` (exit 2), an unreadable input file exit 66, an output
file that cannot be created exit 73. The value parsers themselves (ports, hosts, seconds) are in `values`.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, NoReturn

from tcpcli.checks.dialogue import dialogue_settings
from tcpcli.checks.reach import check_proxy_flags, check_udp, check_unix, proxy_settings, reach_settings
from tcpcli.checks.recording import check_record, replay_settings
from tcpcli.errors import ExitCode, TcpcliError, UsageError
from tcpcli.options import OPTIONS
from tcpcli.settings import (
    EOL_BYTES,
    ConnectSettings,
    Environment,
    Flags,
    ListenSettings,
    Mode,
    RelaySettings,
    SessionSettings,
    Settings,
    SocketOptions,
    TcpTarget,
    TlsSettings,
    View,
    ViewSettings,
)
from tcpcli.values import (
    MAX_KEEPALIVE_COUNT,
    MAX_KEEPALIVE_SECONDS,
    check_family,
    check_numeric,
    host_port_hint,
    is_decimal,
    parse_count,
    parse_escaped,
    parse_host,
    parse_port,
    parse_port_list,
    parse_seconds,
    parse_target,
)

if TYPE_CHECKING:
    pass

__all__ = ["validate"]


def _usage(message: str) -> NoReturn:
    raise UsageError(message)


def validate(flags: Flags, env: Environment) -> Settings:
    """Validate every flag, return frozen settings; the first bad one raises TcpcliError with its code."""
    mode = _mode(flags)
    if mode is Mode.LISTEN:
        mode = _relay_or_listen(flags)
    view = _view_settings(flags, env)
    session = _session_settings(flags)
    sockopts = _socket_options(flags)
    tls, upstream_tls = _relay_tls_settings(flags) if mode is Mode.RELAY else (_tls_settings(flags), None)
    family = _family(flags)
    _check_listen_only_flags(flags, mode)
    from tcpcli.faultflags import fault_settings  # the relay's faults: cheap, but only read when given

    faults = fault_settings(flags, mode is Mode.RELAY, flags.encoding)
    if flags.unix is not None:
        check_unix(flags, mode)
    if flags.proxy is not None or flags.proxy_auth is not None:
        check_proxy_flags(flags, mode)
    connect: ConnectSettings | None = None
    listen: ListenSettings | None = None
    relay: RelaySettings | None = None
    probe_ports: tuple[int, ...] = ()
    if mode in (Mode.CONNECT, Mode.PROBE) and flags.unix is not None:
        connect = ConnectSettings(
            host="", port=0, connect_timeout=_connect_timeout(flags), tls=tls, unix=flags.unix
        )
    elif mode in (Mode.CONNECT, Mode.PROBE):
        connect = _connect_settings(flags, family, sockopts, tls)
        if mode is Mode.PROBE:
            probe_ports = parse_port_list(flags.args[1:], numeric=flags.numeric)
    elif mode is Mode.LISTEN:
        listen = _listen_settings(flags, family, sockopts, tls)
    elif mode is Mode.RELAY:
        assert upstream_tls is not None
        listen, relay = _relay_settings(flags, family, sockopts, tls, upstream_tls)
        relay = relay._replace(faults=faults)
    else:
        if flags.args:
            _usage("--demo takes no HOST or PORT (it starts its own server on 127.0.0.1)")
        connect = ConnectSettings(
            host="127.0.0.1",
            port=1,
            connect_timeout=_connect_timeout(flags),
            sockopts=sockopts,
            tls=tls,
        )
    check_udp(flags, mode)
    if connect is not None and mode is not Mode.DEMO:
        connect = reach_settings(flags, mode, connect)
    elif flags.reconnect is not None or flags.reconnect_delay is not None:
        _usage("--reconnect is for connecting to HOST PORT (not with -l or --demo)")
    if listen is not None and flags.udp:
        listen = listen._replace(udp=True)
    check_record(flags, mode)  # before the files: a usage error creates no recording file
    if upstream_tls is not None:  # the relay: files of both sides are checked
        _check_files(session, tls._replace(cafile=upstream_tls.cafile), listen)
    else:
        _check_files(session, tls, listen)
    # -z -u --send DATA is a probe's datagram (taken above), not a dialogue
    dialogue = None if flags.udp else dialogue_settings(flags, mode, session)
    replay = replay_settings(flags, mode)
    return Settings(
        mode=mode,
        session=session,
        view=view,
        connect=connect,
        listen=listen,
        relay=relay,
        probe_ports=probe_ports,
        env=env,
        stderr_color=env.color(flags.color, env.stderr_tty),
        dialogue=dialogue,
        replay=replay,
    )


def _mode(flags: Flags) -> Mode:
    chosen = [name for name, on in (("-l", flags.listen), ("-z", flags.probe), ("--demo", flags.demo)) if on]
    if len(chosen) > 1:
        _usage(f"{' and '.join(chosen)} cannot be combined")
    if flags.listen:
        return Mode.LISTEN
    if flags.probe:
        return Mode.PROBE
    if flags.demo:
        return Mode.DEMO
    return Mode.CONNECT


def _family(flags: Flags) -> int:
    if flags.ipv4 and flags.ipv6:
        _usage("-4 and -6 cannot be combined")
    if flags.ipv4:
        return socket.AF_INET
    if flags.ipv6:
        return socket.AF_INET6
    return socket.AF_UNSPEC


def _connect_timeout(flags: Flags) -> float:
    if flags.connect_timeout is None:
        return 10.0
    return parse_seconds(flags.connect_timeout, "-w/--connect-timeout")


def _connect_settings(
    flags: Flags, family: int, sockopts: SocketOptions, tls: TlsSettings
) -> ConnectSettings:
    args = flags.args
    if not args:
        _usage("missing HOST and PORT (try: tcpcli example.org 80, or tcpcli --help)")
    if len(args) == 1:
        host_port_hint(args[0], "host")
        if is_decimal(args[0]):
            _usage(f"missing HOST before PORT {args[0]} (to listen on it: tcpcli -l {args[0]})")
        _usage(f"missing PORT after HOST '{args[0]}' (try: tcpcli {args[0]} 80)")
    if len(args) > 2 and not flags.probe:
        _usage(f"too many arguments: {' '.join(args[2:])} (expected HOST PORT; -z checks several ports)")
    if is_decimal(args[0]) and not is_decimal(args[1]):
        _usage(f"the host comes first: tcpcli {args[1]} {args[0]}")
    host = _host(args[0], "host", family, flags.numeric)
    if flags.probe:
        port = parse_port_list(args[1:2], numeric=flags.numeric)[0]  # all of them: Settings.probe_ports
    else:
        port = parse_port(args[1], "PORT", allow_zero=False, numeric=flags.numeric)
    proxy = None if flags.proxy is None else proxy_settings(flags.proxy, flags.proxy_auth)
    return _outgoing(flags, host, port, family, sockopts, tls)._replace(proxy=proxy)


def _outgoing(
    flags: Flags, host: str, port: int, family: int, sockopts: SocketOptions, tls: TlsSettings
) -> ConnectSettings:
    """A connection tcpcli makes (connect mode's, the relay's upstream): -s/-p, -w, socket options, TLS."""
    source = None if flags.source is None else _host(flags.source, "-s/--source", family, flags.numeric)
    return ConnectSettings(
        host=host,
        port=port,
        family=family,
        source=source,
        source_port=None
        if flags.source_port is None
        else parse_port(flags.source_port, "-p", allow_zero=True, numeric=flags.numeric),
        connect_timeout=_connect_timeout(flags),
        sockopts=sockopts,
        tls=tls,
    )


def _host(value: str, what: str, family: int, numeric: bool, command: str = "tcpcli") -> str:
    """A host argument: well formed, of the family -4/-6 ask for if a literal, a literal at all with -n."""
    host = parse_host(value, what, command=command)
    check_family(host, family, what)
    if numeric:
        check_numeric(host, what)
    return host


def _listen_address(flags: Flags, family: int) -> tuple[str | None, int]:
    """`[HOST] PORT`, or netcat's `-p PORT` and `-s ADDR` (ncat and traditional nc: `nc -l -p 8080`)."""
    args = flags.args
    if len(args) > 2:
        _usage(f"too many arguments: {' '.join(args[2:])} (expected [HOST] PORT)")
    host_text: str | None = args[0] if len(args) == 2 else None
    port_text: str | None = args[-1] if args else None
    port_option = "PORT"
    if flags.source_port is not None:
        if len(args) == 2 or (len(args) == 1 and is_decimal(args[0])):
            _usage(f"the port is given twice: -p {flags.source_port} and {args[-1]} (give it once)")
        host_text, port_text, port_option = (args[0] if args else None), flags.source_port, "-p"
    if flags.source is not None:
        if host_text is not None:
            _usage(f"the address is given twice: -s {flags.source} and {host_text} (give it once)")
        host_text = flags.source
    if port_text is None:
        _usage("-l needs a PORT (0 picks a free one): tcpcli -l 8080")
    if host_text is None:
        host_port_hint(port_text, "listen address", "tcpcli -l")
    host = (
        None if host_text is None else _host(host_text, "listen address", family, flags.numeric, "tcpcli -l")
    )
    return host, parse_port(port_text, port_option, allow_zero=True, numeric=flags.numeric)


def _listen_settings(flags: Flags, family: int, sockopts: SocketOptions, tls: TlsSettings) -> ListenSettings:
    host, port = (None, 0) if flags.unix is not None else _listen_address(flags, family)
    if flags.tls and not (flags.cert and flags.key):
        _usage("-l --tls needs --cert FILE and --key FILE to serve TLS")
    for name, given in (("--sni", flags.sni is not None), ("--insecure", flags.insecure)):
        if given:
            _usage(f"{name} is for connecting to a TLS server; with -l the server's name is in --cert")
    if flags.echo and flags.broadcast:
        _usage("--echo and --broadcast cannot be combined")
    if flags.greet is not None and flags.greet_file is not None:
        _usage("--greet and --greet-file cannot be combined: pick one greeting")
    if flags.idle_message is not None and flags.idle_timeout is None:
        _usage("--idle-message is sent before an idle client is closed: give the idle time with -i S")
    if flags.connect_timeout is not None:
        _usage("-w/--connect-timeout is for connecting; to close clients that go quiet, use -i S")
    return ListenSettings(
        host=host,
        port=port,
        family=family,
        keep_open=flags.keep_open,
        echo=flags.echo,
        broadcast=flags.broadcast,
        greet=None if flags.greet is None else parse_escaped(flags.greet, "--greet", flags.encoding),
        idle_message=None
        if flags.idle_message is None
        else parse_escaped(flags.idle_message, "--idle-message", flags.encoding),
        max_clients=None if flags.max_clients is None else parse_count(flags.max_clients, "--max-clients"),
        sockopts=sockopts,
        tls=tls,
        exec_argv=_exec_argv(flags),
        greet_file=flags.greet_file,
        unix=flags.unix,
    )


def _exec_argv(flags: Flags) -> tuple[str, ...] | None:
    """--exec CMD is split like a shell would (no shell runs); --sh-exec CMD runs `/bin/sh -c CMD`."""
    import shlex

    if flags.exec_cmd is not None and flags.sh_exec is not None:
        _usage("--exec and --sh-exec cannot be combined")
    for name, given in (("--echo", flags.echo), ("--broadcast", flags.broadcast)):
        if given and (flags.exec_cmd is not None or flags.sh_exec is not None):
            _usage(f"{name} and --exec/--sh-exec cannot be combined: the program answers each client")
    if flags.sh_exec is not None:
        if not flags.sh_exec.strip():
            _usage("--sh-exec: the command is empty")
        return ("/bin/sh", "-c", flags.sh_exec)
    if flags.exec_cmd is None:
        return None
    try:
        argv = tuple(shlex.split(flags.exec_cmd))
    except ValueError as exc:
        _usage(f"--exec: cannot split '{flags.exec_cmd}' into a program and its arguments ({exc})")
    if not argv:
        _usage("--exec: the command is empty")
    return argv


def _check_listen_only_flags(flags: Flags, mode: Mode) -> None:
    """The options declared listen-only are usage errors in the other modes."""
    if mode in (Mode.LISTEN, Mode.RELAY):
        return
    for option in OPTIONS:
        if option.listen_only and getattr(flags, option.field) not in (False, None):
            _usage(f"{option.label} is a listen-mode option (add -l PORT)")


def _socket_options(flags: Flags) -> SocketOptions:
    idle = None if flags.keepalive_idle is None else parse_seconds(flags.keepalive_idle, "--keepalive-idle")
    interval = (
        None
        if flags.keepalive_interval is None
        else parse_seconds(flags.keepalive_interval, "--keepalive-interval")
    )
    count = None if flags.keepalive_count is None else parse_count(flags.keepalive_count, "--keepalive-count")
    for option, seconds in (("--keepalive-idle", idle), ("--keepalive-interval", interval)):
        if seconds is not None and seconds < 1:
            _usage(f"{option}: the kernel counts keep-alive time in whole seconds; give 1 or more")
        if seconds is not None and seconds > MAX_KEEPALIVE_SECONDS:
            _usage(f"{option}: at most {MAX_KEEPALIVE_SECONDS} seconds (the kernel's limit)")
    if count is not None and count > MAX_KEEPALIVE_COUNT:
        _usage(f"--keepalive-count: at most {MAX_KEEPALIVE_COUNT} probes (the kernel's limit)")
    return SocketOptions(
        keepalive=flags.keepalive or idle is not None or interval is not None or count is not None,
        keepalive_idle=idle,
        keepalive_interval=interval,
        keepalive_count=count,
        nodelay=flags.nodelay,
    )


def _tls_settings(flags: Flags) -> TlsSettings:
    tls_only = [("--insecure", flags.insecure), ("--sni", flags.sni is not None), ("--cafile", flags.cafile)]
    tls_only += [("--cert", flags.cert), ("--key", flags.key)]
    for name, given in tls_only:
        if given and not flags.tls:
            _usage(f"{name} only makes sense with --tls")
    if flags.key and not flags.cert:
        _usage("--key needs --cert (the certificate that goes with the key)")
    if flags.sni is not None:
        parse_host(flags.sni, "--sni")
    return TlsSettings(
        enabled=flags.tls,
        insecure=flags.insecure,
        sni=flags.sni,
        cafile=flags.cafile,
        cert=flags.cert,
        key=flags.key,
    )


def _view_settings(flags: Flags, env: Environment) -> ViewSettings:
    from tcpcli.core.decode import lookup_text_encoding

    try:
        encoding = lookup_text_encoding(flags.encoding).name
    except LookupError:
        _unknown_codec(flags.encoding)
    _check_codec_works(encoding, flags.encoding)
    views = [name for name, on in (("-x/--hex", flags.hex), ("-b/--binary", flags.binary)) if on]
    if flags.struct is not None:
        views.append("--struct")
    if len(views) > 1:
        _usage(f"{' and '.join(views)} cannot be combined: pick one view")
    fields: tuple[str, ...] | None = None
    if flags.fields is not None:
        if flags.struct is None:
            _usage("--fields names the values of --struct records; give --struct FMT too")
        fields = tuple(name.strip() for name in flags.fields.split(","))
        if any(not name for name in fields):
            _usage(f"--fields: empty name in '{flags.fields}' (write names separated by commas: id,len)")
    view = View.TEXT
    if flags.hex:
        view = View.HEX
    elif flags.binary:
        view = View.BINARY
    elif flags.struct is not None:
        view = View.STRUCT
        _check_struct(flags.struct, fields)
    if flags.color not in ("auto", "always", "never"):
        _usage(f"--color: '{flags.color}' is not one of auto, always, never")
    color = "always" if env.color(flags.color, env.stdout_tty) else "never"
    return ViewSettings(
        view=view,
        encoding=encoding,
        struct_format=flags.struct,
        fields=fields,
        timestamps=flags.timestamps,
        color=color,
    )


def _unknown_codec(value: str) -> NoReturn:
    """netcat's -e runs a program; here it names a codec: a value that looks like a program says so."""
    import shutil

    if "/" in value or shutil.which(value) is not None:
        _usage(
            f"-e/--encoding: '{value}' looks like a program, but -e is the text encoding here (not netcat's "
            f"execute): to run a program for each client, use -l PORT --exec '{value}'"
        )
    _usage(f"-e/--encoding: unknown codec '{value}' (try utf-8, latin-1, cp437)")


def _check_codec_works(encoding: str, given: str) -> None:
    """Some codecs look up fine but fail on every use (undefined) or on marked bad bytes (idna, punycode)."""
    if encoding in _WORKING_CODECS:
        return
    from tcpcli.core.decode import IncrementalSafeDecoder

    try:
        "a\n".encode(encoding)
        decoder = IncrementalSafeDecoder(encoding)
        decoder.feed(b"a\n\xff")
        decoder.finish()
    except (UnicodeError, LookupError, ValueError):
        _usage(f"-e/--encoding: codec '{given}' cannot be used for a stream of text (try utf-8, latin-1)")


_WORKING_CODECS = frozenset({"utf-8", "ascii", "iso8859-1", "cp437", "cp1252", "utf-16", "utf-32"})


def _check_struct(fmt: str, fields: tuple[str, ...] | None) -> None:
    from tcpcli.core.records import RecordCutter, RecordFormatError

    if not fmt.isascii():
        bad = next(char for char in fmt if not char.isascii())
        _usage(f"--struct: invalid struct format {fmt!r}: {bad!r} is not a format character")
    try:
        RecordCutter(fmt, fields)
    except RecordFormatError as exc:
        _usage(f"--struct: {exc}")


def _session_settings(flags: Flags) -> SessionSettings:
    if flags.eol is not None and flags.eol not in EOL_BYTES:
        _usage(f"--eol: '{flags.eol}' is not one of lf, crlf, cr, none")
    if flags.crlf and flags.eol not in (None, "crlf"):
        _usage(f"-C/--crlf and --eol {flags.eol} contradict each other")
    eol = EOL_BYTES["crlf" if flags.crlf else (flags.eol or "lf")]
    if flags.shutdown_on_eof and flags.no_half_close:
        _usage("-N (send FIN at stdin EOF) and --no-half-close contradict each other")
    if flags.no_stdin and flags.quit_after_eof is not None:
        _usage("-d does not read stdin, so it never ends: -q has nothing to wait after")
    quit_after = flags.quit_after_eof
    idle = flags.idle_timeout
    return SessionSettings(
        half_close=not flags.no_half_close,
        quit_after_eof=None if quit_after is None else parse_seconds(quit_after, "-q", allow_zero=True),
        idle_timeout=None if idle is None else parse_seconds(idle, "-i/--idle-timeout"),
        crlf=flags.crlf,
        eol=eol,
        output=flags.output,
        hex_log=flags.hex_log,
        verbose=flags.verbose,
        history=not flags.no_history,
        telnet=flags.telnet,
        read_stdin=not flags.no_stdin,
        record=flags.record,
        redact=flags.redact,
    )


def _check_files(session: SessionSettings, tls: TlsSettings, listen: ListenSettings | None) -> None:
    """Input files must be readable (66) and output files creatable (73) before anything connects."""
    greet_file = None if listen is None else listen.greet_file
    inputs = [("--cafile", tls.cafile), ("--cert", tls.cert), ("--key", tls.key)]
    inputs.append(("--greet-file", greet_file))
    for option, path in inputs:
        if path is None:
            continue
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise TcpcliError(f"{option} {path}: cannot read it ({exc.strerror})", ExitCode.NO_INPUT) from exc
    for option, path in (
        ("-o/--output", session.output),
        ("--hex-log", session.hex_log),
        ("--record", session.record),
    ):
        if path is None:
            continue
        try:
            with open(path, "ab"):
                pass
        except OSError as exc:
            raise TcpcliError(
                f"{option} {path}: cannot create it ({exc.strerror})", ExitCode.CANT_CREATE
            ) from exc


def _relay_or_listen(flags: Flags) -> Mode:
    """-l with --to is the relay; the relay's own switches without --to are usage errors."""
    if flags.to is not None:
        return Mode.RELAY
    for name, given in (("--to-tls", flags.to_tls), ("--no-transcript", flags.no_transcript)):
        if given:
            _usage(f"{name} is for the relay: add --to HOST:PORT (e.g. tcpcli -l 6380 --to 127.0.0.1:6379)")
    return Mode.LISTEN


# Options the relay cannot honour, and what to use instead (the relay forwards what each side says, verbatim).
_NOT_WITH_RELAY = (
    ("--echo", "echo", "the upstream answers each client; for an echo server drop --to"),
    ("--broadcast", "broadcast", "each client talks to its own upstream; for a chat relay drop --to"),
    ("--exec", "exec_cmd", "the upstream answers each client; to run a program per client drop --to"),
    ("--sh-exec", "sh_exec", "the upstream answers each client; to run a program per client drop --to"),
    ("--greet", "greet", "the relay sends only what the client and the upstream say"),
    ("--greet-file", "greet_file", "the relay sends only what the client and the upstream say"),
    ("--idle-message", "idle_message", "an idle relayed connection is closed with FIN on both sides"),
    ("--telnet", "telnet", "the relay passes telnet negotiation through verbatim"),
    ("--struct", "struct", "the transcript shows text, or hex with -x"),
    ("-o/--output", "output", "use --hex-log FILE to keep both directions of every connection"),
)


def _relay_settings(
    flags: Flags, family: int, sockopts: SocketOptions, tls: TlsSettings, upstream_tls: TlsSettings
) -> tuple[ListenSettings, RelaySettings]:
    """`-l [HOST] PORT --to TARGET`: -w, -4/-6 and -s/-p apply to each upstream connection."""
    assert flags.to is not None
    for name, field, instead in _NOT_WITH_RELAY:
        if getattr(flags, field) not in (False, None):
            _usage(f"{name} cannot be used with --to: {instead}")
    if flags.no_transcript:
        for name, given in (("-x/--hex", flags.hex), ("-t/--timestamps", flags.timestamps)):
            if given:
                _usage(f"{name} shapes the transcript, which --no-transcript turns off: drop one of them")
    target = parse_target(flags.to)
    host, port = (target.host, target.port) if isinstance(target, TcpTarget) else ("", 0)
    if host:
        check_family(host, family, "--to host")
        if flags.numeric:
            check_numeric(host, "--to host")
    upstream = _outgoing(flags, host, port, family, sockopts, upstream_tls)
    # the listening side: -s/-p/-w belong to the upstream here, and the TLS client options too
    listening = flags._replace(source=None, source_port=None, connect_timeout=None, sni=None, insecure=False)
    listen = _listen_settings(listening, family, sockopts, tls)
    return listen, RelaySettings(target, upstream, transcript=not flags.no_transcript)


def _relay_tls_settings(flags: Flags) -> tuple[TlsSettings, TlsSettings]:
    """The relay's two TLS sides: --tls --cert --key serve clients; --to-tls (--cafile, --sni, --insecure)
    speaks to the upstream."""
    upstream_only = [("--insecure", flags.insecure), ("--sni", flags.sni is not None)]
    upstream_only.append(("--cafile", flags.cafile is not None))
    for name, given in upstream_only:
        if given and not flags.to_tls:
            _usage(f"{name} applies to the upstream with --to: add --to-tls")
    for name, given in (("--cert", flags.cert is not None), ("--key", flags.key is not None)):
        if given and not flags.tls:
            _usage(f"{name} serves TLS to the clients: add --tls (the upstream side is --to-tls)")
    if flags.key and not flags.cert:
        _usage("--key needs --cert (the certificate that goes with the key)")
    if flags.sni is not None:
        parse_host(flags.sni, "--sni")
    listen = TlsSettings(enabled=flags.tls, cert=flags.cert, key=flags.key)
    upstream = TlsSettings(enabled=flags.to_tls, insecure=flags.insecure, sni=flags.sni, cafile=flags.cafile)
    return listen, upstream
