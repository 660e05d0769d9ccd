"""The frozen types between the face and the modes: raw `Flags`, the `Environment`, and `Settings`.

Types only: `validate.validate` turns Flags + Environment into Settings (every check, once, before any socket
is opened); everything below the CLI takes these frozen tuples, never flags and never os.environ.

The settings are NamedTuples rather than frozen dataclasses: just as immutable, and six times cheaper to
define, which matters because every run of a script's `tcpcli host port` builds them.
"""

from __future__ import annotations

import enum
import socket
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # a plain run must not pay for the dialogue's modules
    from tcpcli.core.faultspec import FaultSettings
    from tcpcli.core.recording import Recording
    from tcpcli.core.steps import Step

__all__ = [
    "EOL_BYTES",
    "ConnectSettings",
    "DialogueSettings",
    "Environment",
    "Flags",
    "ListenSettings",
    "Mode",
    "ProxySettings",
    "RelaySettings",
    "RelayTarget",
    "ReplaySettings",
    "SessionSettings",
    "Settings",
    "SocketOptions",
    "TcpTarget",
    "TlsSettings",
    "UnixTarget",
    "View",
    "ViewSettings",
]


class Mode(enum.Enum):
    CONNECT = "connect"
    LISTEN = "listen"
    PROBE = "probe"  # -z
    DEMO = "demo"
    RELAY = "relay"  # -l ... --to TARGET


class View(enum.Enum):
    TEXT = "text"
    BINARY = "binary"
    HEX = "hex"
    STRUCT = "struct"


EOL_BYTES = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r", "none": b""}


class SocketOptions(NamedTuple):
    keepalive: bool = False
    keepalive_idle: float | None = None
    keepalive_interval: float | None = None
    keepalive_count: int | None = None
    nodelay: bool = False


class TlsSettings(NamedTuple):
    enabled: bool = False
    insecure: bool = False
    sni: str | None = None
    cafile: str | None = None
    cert: str | None = None
    key: str | None = None


class ProxySettings(NamedTuple):
    """`--proxy URL` (+ `--proxy-auth FILE`): the hop to the target (messages name it by HOST:PORT only)."""

    scheme: str  # socks5 | socks5h | socks4 | socks4a | http
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def remote_dns(self) -> bool:
        """The proxy resolves the target's name (socks5h, socks4a, and HTTP CONNECT, which sends the name)."""
        return self.scheme in ("socks5h", "socks4a", "http")


class ConnectSettings(NamedTuple):
    host: str
    port: int
    family: int = socket.AF_UNSPEC
    source: str | None = None
    source_port: int | None = None
    connect_timeout: float = 10.0
    sockopts: SocketOptions = SocketOptions()
    tls: TlsSettings = TlsSettings()
    unix: str | None = None  # -U PATH (`@name`: abstract): a Unix stream socket instead of HOST PORT
    proxy: ProxySettings | None = None  # --proxy: reach HOST PORT through it
    reconnect: int | None = None  # --reconnect N: N more attempts (0: without limit); None: no reconnecting
    reconnect_delay: float = 1.0  # --reconnect-delay S: the first wait, in seconds
    udp: bool = False  # -u: one UDP socket instead of a TCP connection
    udp_probe: bytes = b""  # -z -u --send DATA: the datagram sent to see whether anything answers


class ListenSettings(NamedTuple):
    host: str | None  # None: all interfaces, IPv4 and IPv6
    port: int
    family: int = socket.AF_UNSPEC
    keep_open: bool = False
    echo: bool = False
    broadcast: bool = False
    greet: bytes | None = None
    idle_message: bytes | None = None
    max_clients: int | None = None
    sockopts: SocketOptions = SocketOptions()
    tls: TlsSettings = TlsSettings()
    exec_argv: tuple[str, ...] | None = None  # --exec CMD (split like a shell) or --sh-exec CMD (/bin/sh -c)
    greet_file: str | None = None  # --greet-file: its bytes are sent to each client on connect
    udp: bool = False  # -u: datagrams from any number of peers on one UDP socket
    unix: str | None = None  # -l -U PATH (`@name`: abstract): listen on a Unix stream socket, no port


class TcpTarget(NamedTuple):
    """--to HOST:PORT (or [V6]:PORT): where the relay connects for each client."""

    host: str
    port: int


class UnixTarget(NamedTuple):
    """--to unix:PATH."""

    path: str


RelayTarget = TcpTarget | UnixTarget


class RelaySettings(NamedTuple):
    """The relay's upstream side (`-l ... --to TARGET`); the listening side is the ListenSettings."""

    target: RelayTarget
    # -w, -4/-6, -s/-p, --to-tls with --cafile/--sni/--insecure: how each upstream connection is made (for a
    # unix target host and port are unused)
    upstream: ConnectSettings
    transcript: bool = True  # False: --no-transcript, a plain port forwarder
    faults: FaultSettings | None = None  # any fault or rewrite option: the copy path, through engine.faulty


class ViewSettings(NamedTuple):
    view: View = View.TEXT
    encoding: str = "utf-8"
    struct_format: str | None = None
    fields: tuple[str, ...] | None = None
    timestamps: bool = False
    color: str = "never"  # always | never: colour on stdout, decided by validate from --color and Environment


class SessionSettings(NamedTuple):
    """What happens to the bytes of one connection: line endings, EOF policy, timeouts, logs."""

    half_close: bool = True
    quit_after_eof: float | None = None
    idle_timeout: float | None = None
    crlf: bool = False
    eol: bytes = b"\n"
    output: str | None = None
    hex_log: str | None = None
    verbose: bool = False
    history: bool = True
    telnet: bool = False  # --telnet: refuse every telnet option request (nc -t)
    read_stdin: bool = True  # False for -d: the face gives the session a stdin that never ends
    record: str | None = None  # --record FILE: every connection to FILE as JSON Lines (core.recording)
    redact: str | None = None  # --redact REGEX (checked by validate): matches recorded as ***


class DialogueSettings(NamedTuple):
    """A dialogue (--send/--expect/--script): the steps (tcpcli.core.steps values) and what to print."""

    steps: tuple[Step, ...]
    print_matched: bool = False  # --print
    quit_wait: float = 5.0  # a quit step waits this long for the peer to close (-q, else --within)
    source: str | None = None  # --script FILE, for messages


class ReplaySettings(NamedTuple):
    """--replay FILE: the recording (read and checked by validate) and how to play it."""

    path: str
    recording: Recording
    match: str = "exact"  # exact | lines | regex | any (core.turns)
    within: float = 5.0  # seconds each awaited turn may take
    speed: float = 0.0  # 0: as fast as the peer answers; 1: the recorded gaps; N: N times faster
    loop: bool = False  # -l: start over when the recorded connections run out


class Environment(NamedTuple):
    """What the process started with, decided once at the face (`cli.detect_environment`) and passed down.

    Nothing below cli.py reads os.environ or asks isatty for these decisions; the defaults are a process with
    no terminal at all (what tests that build settings by hand get).
    """

    stdin_tty: bool = False  # False with -d too: the face then gives stdin a pipe that never ends
    stdout_tty: bool = False
    stderr_tty: bool = False
    no_color: bool = False  # NO_COLOR set and not empty (no-color.org)
    term: str = ""  # $TERM as given ("" unset)
    state_home: str = ""  # where state lives: $XDG_STATE_HOME if absolute, else ~/.local/state

    @property
    def interactive(self) -> bool:
        """Interactive only when a person is on both ends: stdin and stdout are terminals."""
        return self.stdin_tty and self.stdout_tty

    def color(self, choice: str, tty: bool) -> bool:
        """`--color` CHOICE (auto | always | never) for a stream that is a terminal or not: colour or not.

        auto means: only on a terminal, and only when NO_COLOR is unset.
        """
        return choice == "always" or (choice == "auto" and tty and not self.no_color)

    @property
    def variables(self) -> dict[str, str]:
        """The decided values as the environment mapping the history and TERM helpers take."""
        return {"TERM": self.term, "XDG_STATE_HOME": self.state_home}


class Settings(NamedTuple):
    mode: Mode
    session: SessionSettings
    view: ViewSettings
    connect: ConnectSettings | None = None
    listen: ListenSettings | None = None
    relay: RelaySettings | None = None  # Mode.RELAY: the upstream side (listen holds the listening side)
    probe_ports: tuple[int, ...] = ()  # -z: every port to check (ConnectSettings.port is the first)
    env: Environment = Environment()
    stderr_color: bool = False  # colour on the stderr lines (--color, NO_COLOR, stderr a terminal)
    dialogue: DialogueSettings | None = None  # --send/--expect/--script: run a dialogue, not a session
    replay: ReplaySettings | None = None  # --replay FILE: play one side of a recording, check the other


class Flags(NamedTuple):
    """Raw values exactly as typed on the command line (strings where a value is parsed by us)."""

    args: tuple[str, ...] = ()
    listen: bool = False
    probe: bool = False
    demo: bool = False
    encoding: str = "utf-8"
    crlf: bool = False
    eol: str | None = None
    hex: bool = False
    binary: bool = False
    struct: str | None = None
    fields: str | None = None
    keepalive: bool = False
    keepalive_idle: str | None = None
    keepalive_interval: str | None = None
    keepalive_count: str | None = None
    nodelay: bool = False
    idle_timeout: str | None = None
    connect_timeout: str | None = None
    quit_after_eof: str | None = None
    no_half_close: bool = False
    output: str | None = None
    hex_log: str | None = None
    timestamps: bool = False
    verbose: bool = False
    ipv4: bool = False
    ipv6: bool = False
    source: str | None = None
    source_port: str | None = None
    color: str = "auto"
    no_history: bool = False
    tls: bool = False
    insecure: bool = False
    sni: str | None = None
    cafile: str | None = None
    cert: str | None = None
    key: str | None = None
    keep_open: bool = False
    echo: bool = False
    broadcast: bool = False
    greet: str | None = None
    idle_message: str | None = None
    max_clients: str | None = None
    exec_cmd: str | None = None
    sh_exec: str | None = None
    greet_file: str | None = None
    telnet: bool = False
    shutdown_on_eof: bool = False  # -N: OpenBSD nc's "shutdown after EOF", tcpcli's default anyway
    numeric: bool = False  # -n: no DNS or service-name look-ups
    no_stdin: bool = False  # -d: do not read stdin
    send: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    within: str | None = None
    fail_on: tuple[str, ...] = ()
    quit_text: str | None = None
    print_matched: bool = False
    script: str | None = None
    unix: str | None = None  # -U PATH
    proxy: str | None = None  # --proxy URL
    proxy_auth: str | None = None  # --proxy-auth FILE
    to: str | None = None  # --to TARGET: relay each client to TARGET
    to_tls: bool = False
    no_transcript: bool = False
    reconnect: str | None = None  # --reconnect N
    reconnect_delay: str | None = None  # --reconnect-delay S
    udp: bool = False  # -u/--udp
    # the relay's faults and rewrites: as typed, each maybe with an up:/down: prefix
    fault_delay: tuple[str, ...] = ()  # --delay
    fault_rate_limit: tuple[str, ...] = ()  # --rate
    fault_slice: tuple[str, ...] = ()  # --slice
    stall_after: tuple[str, ...] = ()
    cut_after: tuple[str, ...] = ()
    reset_after: tuple[str, ...] = ()
    refuse_first: str | None = None
    fault_rate: str | None = None
    replace: tuple[str, ...] = ()
    record: str | None = None  # --record FILE
    redact: str | None = None  # --redact REGEX
    replay: str | None = None  # --replay FILE
    match: str | None = None  # --match exact|lines|regex|any
    speed: str | None = None  # --speed N
    loop: bool = False  # --loop
