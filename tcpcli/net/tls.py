"""TLS for both sides: contexts from the settings, and the handshake that turns a socket into a TlsChannel.

Verified by default (the system trust store, or only the CAs in `--cafile`); `--insecure` turns every check
off and says so on stderr each time. Certificate files are loaded and checked here, before any connection,
so a bad one is exit 66 with a line naming the file; handshake failures are exit 76 (see tlserrors).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl

from tcpcli.core.certinfo import CertificateFormatError, summarize_certificate
from tcpcli.core.events import PeerCertificate, TlsEstablished, format_address
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.net.connect import target_label
from tcpcli.net.tlschannel import TlsChannel
from tcpcli.net.tlserrors import handshake_error
from tcpcli.report import Reporter
from tcpcli.settings import ConnectSettings, TlsSettings

__all__ = ["TlsChannel", "client_context", "report_session", "server_context", "wrap_client", "wrap_server"]

INSECURE_WARNING = (
    "--insecure: the server's certificate is NOT checked; anyone on the path can read or change this session"
)


class _KeyNeedsPassword(Exception):
    """Raised from OpenSSL's password callback: we never prompt (stdin carries the session's data)."""


def client_context(tls: TlsSettings) -> ssl.SSLContext:
    """Host name and chain checked against the system store, or against `--cafile` alone when given."""
    if tls.insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif tls.cafile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        _load_cafile(context, tls.cafile)
    else:
        context = ssl.create_default_context()
    _harden(context)
    if tls.cert:
        _load_identity(context, tls.cert, tls.key)
    return context


def server_context(tls: TlsSettings) -> ssl.SSLContext:
    """`-l --tls --cert F --key F`; with `--cafile`, clients must present a certificate that CA issued."""
    if not tls.cert:
        raise TcpcliError("serving TLS needs --cert FILE and --key FILE", ExitCode.USAGE)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _harden(context)
    _load_identity(context, tls.cert, tls.key)
    if tls.cafile:
        _load_cafile(context, tls.cafile)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def wrap_client(
    sock: socket.socket, context: ssl.SSLContext, connect: ConnectSettings, reporter: Reporter
) -> TlsChannel:
    """Handshake as the client within `-w`; the certificate is checked against `--sni` or the host."""
    name = connect.tls.sni or connect.host or None  # -U --insecure: no name to send
    if context.verify_mode == ssl.CERT_NONE:
        reporter.warning(INSECURE_WARNING)
    # Python sends no SNI for an address literal and checks it against the certificate's IP names instead.
    label = target_label(connect)  # as the user wrote it, not the address it resolved to
    channel = _handshake(
        sock, context, reporter, connect.connect_timeout, label, server_hostname=name, server_side=False
    )
    report_session(channel, reporter, name if context.verify_mode != ssl.CERT_NONE else None)
    return channel


def wrap_server(
    sock: socket.socket, context: ssl.SSLContext, reporter: Reporter, timeout: float
) -> TlsChannel:
    """Handshake as the server with an accepted client within `timeout` s; on failure the socket is closed."""
    try:
        address = sock.getpeername()
        label = f"client {format_address(address[0], address[1])}" if address else "a unix socket client"
    except OSError:
        label = "a client that already left"
    channel = _handshake(sock, context, reporter, timeout, label, server_hostname=None)
    report_session(channel, reporter, None)
    return channel


def _handshake(
    sock: socket.socket,
    context: ssl.SSLContext,
    reporter: Reporter,
    timeout: float,
    peer: str,
    server_hostname: str | None,
    server_side: bool | None = None,  # default: a server when there is no name to check
) -> TlsChannel:
    if server_side is None:
        server_side = server_hostname is None
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    try:
        tls = context.wrap_bio(incoming, outgoing, server_side=server_side, server_hostname=server_hostname)
        channel = TlsChannel(sock, tls, incoming, outgoing, report=reporter.event)
        channel.handshake(timeout)
    except (OSError, ValueError) as exc:
        sock.close()
        raise handshake_error(exc, peer, _shown_name(server_hostname), server_side) from exc
    return channel


def _shown_name(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return f"'{name}'"
    return name


def report_session(channel: TlsChannel, reporter: Reporter, checked_name: str | None) -> None:
    """`-v`: what was negotiated and whose certificate it is, read from the DER so --insecure shows it too."""
    if not reporter.verbose:
        return
    cipher = channel.cipher()
    if cipher is not None:
        reporter.event(TlsEstablished(channel.version() or "?", cipher[0], cipher[2]))
    der = channel.getpeercert(binary_form=True)
    if not der:
        return
    try:
        summary = summarize_certificate(der)
    except CertificateFormatError:
        reporter.warning("peer certificate: could not read its fields")
        return
    verified = bool(channel.getpeercert())  # empty when it was not verified
    reporter.event(
        PeerCertificate(
            summary.subject, summary.issuer, summary.not_after, summary.sha256, verified, checked_name
        )
    )


def _harden(context: ssl.SSLContext) -> None:
    """TLS 1.2 at least; no renegotiation, so a write never has to wait for a read (see tlschannel)."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION


def _load_cafile(context: ssl.SSLContext, path: str) -> None:
    try:
        context.load_verify_locations(cafile=path)
    except OSError as exc:  # ssl.SSLError included
        raise _unusable(
            "--cafile", path, "holds no PEM certificate (a CA, or the server's own)", exc
        ) from exc


def _load_identity(context: ssl.SSLContext, cert: str, key: str | None) -> None:
    """Our certificate and key, with the fault pinned on the right file."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.load_verify_locations(cafile=cert)
    except OSError as exc:
        raise _unusable("--cert", cert, "holds no PEM certificate", exc) from exc

    def refuse_password() -> bytes:
        raise _KeyNeedsPassword

    key_path = key or cert
    option = "--key" if key else "--cert"
    try:
        context.load_cert_chain(cert, key, password=refuse_password)
    except _KeyNeedsPassword as exc:
        raise _unusable(
            option, key_path, "the key is encrypted (decrypt it: openssl pkey -in KEY -out plain.pem)", exc
        ) from exc
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise _unusable(
                option, key_path, f"this key does not belong to the certificate in {cert}", exc
            ) from exc
        if key is None:
            raise _unusable("--cert", cert, "holds no private key: give it with --key FILE", exc) from exc
        raise _unusable("--key", key, "holds no PEM private key", exc) from exc
    except OSError as exc:
        raise _unusable(option, key_path, f"cannot read it ({exc.strerror})", exc) from exc


def _unusable(option: str, path: str, why: str, exc: BaseException) -> TcpcliError:
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError) and exc.strerror:
        why = f"cannot read it ({exc.strerror})"
    return TcpcliError(f"{option} {path}: {why}", ExitCode.NO_INPUT)
