"""Lifecycle events as small frozen values, and their one-line wording for `-v` and the interactive view."""

from __future__ import annotations

from typing import NamedTuple

from tcpcli.core.link import ending_message


def format_address(host: str, port: int) -> str:
    """`1.2.3.4:80`, `[::1]:80`: brackets keep an IPv6 address apart from its port.

    An IPv4 client of a dual-stack listener arrives as `::ffff:1.2.3.4`; it is shown as the IPv4 it is.
    """
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Resolving(NamedTuple):
    host: str


class Trying(NamedTuple):
    address: str


class Connected(NamedTuple):
    local: str
    remote: str


class SessionOpened(NamedTuple):
    """The interactive session's first line: who, and over what (TLS version, certificate checked or not)."""

    peer: str
    tls_version: str | None = None  # None: plain TCP
    verified: bool | None = None  # None: no certificate check applies (a TLS server without --cafile)


class Listening(NamedTuple):
    address: str


class InputEnded(NamedTuple):
    """stdin reached EOF (or the user pressed Ctrl-D)."""

    sent_fin: bool


class PeerFinished(NamedTuple):
    """The peer closed its sending side (FIN)."""


class TimedOut(NamedTuple):
    what: str  # "idle", "quit-after-eof", "input quiet"
    seconds: float


class Closed(NamedTuple):
    sent: int
    received: int
    duration: float
    peer: str = ""


class Reconnecting(NamedTuple):
    """--reconnect: the next attempt starts after `wait` seconds; attempts are numbered from 1."""

    target: str
    wait: float
    attempt: int


class Datagram(NamedTuple):
    """UDP: one datagram of `size` bytes from (`<`) or to (`>`) `peer`; the header line of its record."""

    direction: str
    peer: str
    size: int


class ClientConnected(NamedTuple):
    peer: str
    clients: int


class ClientLeft(NamedTuple):
    peer: str
    sent: int
    received: int
    reason: str = ""


class ClientRejected(NamedTuple):
    peer: str
    reason: str


class ServerInputEnded(NamedTuple):
    """Listen mode with many clients: stdin ended; the server and its clients go on."""

    clients: int


class ServerStopping(NamedTuple):
    """The keep-open server stops (a signal, or its one client left): FIN to every client."""

    reason: str  # "SIGINT", "SIGTERM", "done"
    clients: int


class ProgramStarted(NamedTuple):
    """--exec / --sh-exec: a client's own copy of the program is running."""

    peer: str
    program: str
    pid: int


class ProgramEnded(NamedTuple):
    """A client's program ended: `status` is its exit status, -N when signal N ended it, None if unknown."""

    peer: str
    pid: int
    status: int | None
    forced: str = ""  # "SIGTERM" / "SIGKILL" when tcpcli had to stop it


class ProgramFailed(NamedTuple):
    """A client's program could not be started: the client is reset."""

    peer: str
    program: str
    reason: str


class DemoServerStarted(NamedTuple):
    """--demo: where the built-in server listens and what it sends."""

    address: str
    records_only: bool  # a --struct view: the server answers with records only, no text
    record_format: str
    record_fields: str


class PathChosen(NamedTuple):
    """Which copy strategy each direction of stream mode uses (splice, sendfile, copy)."""

    uplink: str
    downlink: str


class TlsEstablished(NamedTuple):
    """The TLS handshake finished: what was negotiated."""

    version: str  # "TLSv1.3"
    cipher: str
    bits: int


class PeerCertificate(NamedTuple):
    """The certificate the other side presented, and whether (and for which name) it was checked."""

    subject: str
    issuer: str
    not_after: str
    sha256: str
    verified: bool
    name: str | None = None  # the host name or address it was checked against (client side)


class TlsUncleanEnd(NamedTuple):
    """The peer closed TCP without TLS close_notify: what arrived may have been cut short."""


class RelayOpened(NamedTuple):
    """The relay (--to): connection `conn` has both sides connected (-v with --no-transcript)."""

    conn: int
    client: str
    upstream: str


class RelayClosed(NamedTuple):
    """The relay: both sides of connection `conn` are done; `how` says why if not an ordinary end."""

    conn: int
    sent_up: int  # client to upstream
    sent_down: int  # upstream to client
    seconds: float
    how: str = ""  # "", "reset by the client", "reset by the upstream", the idle wording, "relay stopping"


Event = (
    Resolving
    | Trying
    | Connected
    | SessionOpened
    | Listening
    | InputEnded
    | PeerFinished
    | TimedOut
    | Closed
    | ClientConnected
    | ClientLeft
    | ClientRejected
    | ServerInputEnded
    | ServerStopping
    | ProgramStarted
    | ProgramEnded
    | ProgramFailed
    | DemoServerStarted
    | PathChosen
    | TlsEstablished
    | PeerCertificate
    | TlsUncleanEnd
    | RelayOpened
    | RelayClosed
    | Reconnecting
    | Datagram
)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def describe(event: Event) -> str:
    """The one line a person reads for an event (without the `tcpcli: ` prefix)."""
    match event:
        case Resolving(host):
            return f"resolving {host}"
        case Trying(address):
            return f"trying {address}"
        case Connected(local, remote):
            return f"connected {local} -> {remote}"
        case SessionOpened(peer, tls_version, verified):
            if tls_version is None:
                return f"connected to {peer}"
            check = ""
            if verified is not None:
                check = " (certificate verified)" if verified else " (certificate NOT verified: --insecure)"
            return f"connected to {peer} over {tls_version}{check}"
        case Listening(address):
            return f"listening on {address}"
        case InputEnded(sent_fin):
            return (
                "input ended: sent FIN, still reading"
                if sent_fin
                else "input ended (no FIN: --no-half-close)"
            )
        case PeerFinished():
            return "peer closed its side (FIN)"
        case TimedOut(what, seconds):
            return ending_message(what, seconds)  # how a connection ends is worded in one place
        case Closed(sent, received, duration, peer):
            who = f" {peer}" if peer else ""
            return (
                f"closed{who}: sent {_plural(sent, 'byte')}, received {_plural(received, 'byte')}"
                f" in {duration:.3f} s"
            )
        case ClientConnected(peer, clients):
            return f"client {peer} connected ({_plural(clients, 'client')})"
        case ClientLeft(peer, sent, received, reason):
            why = f" ({reason})" if reason else ""
            # counted from the server's side: say whose bytes they were, "sent" alone is ambiguous here
            return f"client {peer} left{why}: {_plural(received, 'byte')} from it, {sent} to it"
        case ClientRejected(peer, reason):
            return f"client {peer} rejected: {reason}"
        case ServerInputEnded(clients):
            return f"input ended: nothing more to send, still serving {_plural(clients, 'client')}"
        case ServerStopping(reason, clients):
            return f"stopping ({reason}): FIN to {_plural(clients, 'client')}"
        case ProgramStarted(peer, program, pid):
            return f"client {peer}: started {program} (pid {pid})"
        case ProgramEnded(peer, pid, status, forced):
            how = "ended"
            if status is not None and status >= 0:
                how = f"exited with status {status}"
            elif status is not None:
                how = f"ended by signal {_signal_name(-status)}"
            why = f" (tcpcli sent {forced}: it still ran after its input ended)" if forced else ""
            return f"client {peer}: program (pid {pid}) {how}{why}"
        case ProgramFailed(peer, program, reason):
            return f"client {peer}: cannot start {program}: {reason}; client reset"
        case DemoServerStarted(address, records_only, record_format, record_fields):
            if records_only:
                return (
                    f"demo server on {address}: with --struct it sends records only, no text"
                    f" ({record_format}: {record_fields}), on connect and for every line you send"
                )
            return f"demo server on {address}"
        case PathChosen(uplink, downlink):
            return f"stream path: stdin -> socket by {uplink}, socket -> stdout by {downlink}"
        case TlsEstablished(version, cipher, bits):
            return f"TLS established: {version}, cipher {cipher} ({bits}-bit)"
        case PeerCertificate(subject, issuer, not_after, sha256, verified, name):
            check = f"NOT verified, SHA-256 {sha256}"
            if verified:
                check = f"verified for {name}" if name else "verified"
            return f"peer certificate: {subject}; issued by {issuer}; expires {not_after} ({check})"
        case Reconnecting(target, wait, attempt):
            return f"reconnecting to {target} in {wait:.1f} s (attempt {attempt})"
        case Datagram(direction, peer, size):
            return f"{direction} {peer} {_plural(size, 'byte')}"
        case TlsUncleanEnd():
            return "peer closed without TLS close_notify (data may have been cut short)"
        case RelayOpened(conn, client, upstream):
            return f"#{conn} open {client} -> {upstream}"  # the transcript's own wording (core.transcript)
        case RelayClosed(conn, sent_up, sent_down, seconds, how):
            why = f" ({how})" if how else ""
            return f"#{conn} closed: {sent_up} bytes >, {sent_down} bytes <, {seconds:.3f} s{why}"
    raise AssertionError(f"unknown event {event!r}")  # pragma: no cover
