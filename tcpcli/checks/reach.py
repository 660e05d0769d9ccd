"""How the connection is reached: -u (UDP), -U (a Unix socket), --proxy: what each rules out; its settings."""

from __future__ import annotations

from tcpcli.errors import usage as _usage
from tcpcli.settings import ConnectSettings, Flags, Mode, ProxySettings
from tcpcli.values import parse_count, parse_escaped, parse_seconds

__all__ = ["check_proxy_flags", "check_udp", "check_unix", "proxy_settings", "reach_settings"]

# Options that only mean something for a TCP connection: usage errors with -u (CONTRACT-REACH.md "UDP").
_NOT_WITH_UDP = (
    ("keepalive", "--keepalive"),
    ("keepalive_idle", "--keepalive-idle"),
    ("keepalive_interval", "--keepalive-interval"),
    ("keepalive_count", "--keepalive-count"),
    ("nodelay", "--nodelay"),
    ("no_half_close", "--no-half-close"),
    ("shutdown_on_eof", "-N"),
    ("tls", "--tls"),
    ("telnet", "--telnet"),
    ("reconnect", "--reconnect"),
    ("reconnect_delay", "--reconnect-delay"),
    # listen mode's per-client features: a UDP listener has peers, not clients it could greet or run for
    ("broadcast", "--broadcast"),
    ("greet", "--greet"),
    ("greet_file", "--greet-file"),
    ("idle_message", "--idle-message"),
    ("exec_cmd", "--exec"),
    ("sh_exec", "--sh-exec"),
    ("max_clients", "--max-clients"),
    ("struct", "--struct"),
    # stream sockets and the modes built on them
    ("unix", "-U/--unix"),
    ("proxy", "--proxy"),
    ("to", "--to"),
    ("expect", "--expect"),
    ("fail_on", "--fail-on"),
    ("quit_text", "--quit"),
    ("print_matched", "--print"),
    ("script", "--script"),
)


def check_udp(flags: Flags, mode: Mode) -> None:
    """-u: the TCP-only options are usage errors naming the option; -k is accepted (UDP listens for all)."""
    if not flags.udp:
        return
    if mode is Mode.DEMO:
        _usage("--demo and -u/--udp cannot be combined (the demo server speaks TCP)")
    for field, name in _NOT_WITH_UDP:
        if getattr(flags, field) not in (False, None, ()):
            _usage(f"{name} is for TCP connections; it cannot be used with -u/--udp")
    if flags.send and mode is not Mode.PROBE:
        _usage("--send with -u/--udp is for -z -u (the datagram to probe with); pipe lines to send datagrams")
    if mode is Mode.PROBE and len(flags.args) > 2:
        _usage("-z -u checks one port at a time (a silent UDP port costs the whole -w)")


def reach_settings(flags: Flags, mode: Mode, connect: ConnectSettings) -> ConnectSettings:
    """--reconnect N (0: without limit), --reconnect-delay S (default 1), -u; -z -u waits 2 s by default."""
    retries: int | None = None
    if flags.reconnect is not None:
        retries = 0 if flags.reconnect == "0" else parse_count(flags.reconnect, "--reconnect")
    delay = 1.0
    if flags.reconnect_delay is not None:
        if retries is None:
            _usage("--reconnect-delay sets the wait of --reconnect N; give --reconnect too")
        delay = parse_seconds(flags.reconnect_delay, "--reconnect-delay")
    timeout = connect.connect_timeout
    if flags.udp and mode is Mode.PROBE and flags.connect_timeout is None:
        timeout = 2.0  # -z -u: how long to wait for an answer; a silent port costs all of it
    probe = b""
    if flags.udp and mode is Mode.PROBE:  # -z -u --send DATA: the datagram it probes with (default empty)
        probe = parse_escaped("".join(flags.send), "--send", flags.encoding)
    return connect._replace(
        reconnect=retries, reconnect_delay=delay, udp=flags.udp, connect_timeout=timeout, udp_probe=probe
    )


# What a Unix socket has no use for: these are TCP's (and --proxy reaches a TCP HOST PORT).
_TCP_ONLY = (
    ("-4", "ipv4"),
    ("-6", "ipv6"),
    ("-s/--source", "source"),
    ("-p/--source-port", "source_port"),
    ("--keepalive", "keepalive"),
    ("--keepalive-idle", "keepalive_idle"),
    ("--keepalive-interval", "keepalive_interval"),
    ("--keepalive-count", "keepalive_count"),
    ("--nodelay", "nodelay"),
    ("--proxy", "proxy"),
)


def check_unix(flags: Flags, mode: Mode) -> None:
    """-U PATH replaces HOST PORT: no positional arguments, no TCP-only option, a path the kernel takes."""
    from tcpcli.net.unix import check_unix_path

    if mode is Mode.DEMO:
        _usage("--demo and -U/--unix cannot be combined (the demo server is on TCP)")
    if flags.args:
        given = " ".join(flags.args)
        if mode is Mode.LISTEN:
            _usage(f"-l -U PATH takes no HOST or PORT (got: {given}): tcpcli -l -U /tmp/app.sock")
        _usage(f"-U PATH takes no HOST or PORT (got: {given}): tcpcli -U /run/app.sock")
    for label, field in _TCP_ONLY:
        if getattr(flags, field) not in (False, None):
            _usage(f"{label} is for TCP connections; it does not apply to the Unix socket -U {flags.unix}")
    if (problem := check_unix_path(flags.unix or "")) is not None:
        _usage(f"-U/--unix: {problem}")
    if mode not in (Mode.LISTEN, Mode.RELAY) and flags.tls and flags.sni is None and not flags.insecure:
        _usage("--tls over -U needs --sni NAME (the name the certificate must show) or --insecure")


def check_proxy_flags(flags: Flags, mode: Mode) -> None:
    if flags.proxy is None:
        _usage("--proxy-auth gives the credentials for --proxy URL; give --proxy too")
    if mode in (Mode.LISTEN, Mode.DEMO):
        _usage(
            f"--proxy is for connecting to HOST PORT; it does not apply to"
            f" {'-l' if flags.listen else '--demo'}"
        )
    if flags.ipv6 and flags.proxy.lower().startswith("socks4://"):
        _usage(
            "-6 and --proxy socks4:// cannot be combined: SOCKS4 carries IPv4 addresses only (try socks5://)"
        )


def proxy_settings(url: str, auth_file: str | None) -> ProxySettings:
    """The parsed `--proxy` URL; credentials from `--proxy-auth FILE` win over those in the URL."""
    from tcpcli.net.proxy import ProxyUrlError, parse_proxy_url, read_proxy_auth

    try:
        proxy = parse_proxy_url(url)
    except ProxyUrlError as exc:
        _usage(f"--proxy: {exc}")
    if auth_file is not None:
        username, password = read_proxy_auth(auth_file)  # TcpcliError 66 (unreadable) or 2 (malformed)
        proxy = proxy._replace(username=username, password=password)
    return proxy
