"""OpenSSL's failures in words a person can act on: which check failed and which option to try (exit 76).

One place, so the handshake on either side and a failure in the middle of a session say the same thing.
"""

from __future__ import annotations

import ssl

from tcpcli.errors import ExitCode, TcpcliError, translate_os_error

# X509_V_ERR_* codes (OpenSSL's x509_vfy.h) that get their own explanation.
_EXPIRED = 10
_NOT_YET_VALID = 9
_SELF_SIGNED = {18, 19}  # the certificate itself, or a self-signed root in the chain it sent
_UNKNOWN_ISSUER = {2, 20, 21}
_HOST_MISMATCH = 62
_IP_MISMATCH = 64

_NOT_TLS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG", "RECORD_LENGTH_MISMATCH"}
_NO_COMMON_VERSION = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
    "VERSION_TOO_HIGH",
}
_NO_COMMON_CIPHER = {"NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "SSLV3_ALERT_HANDSHAKE_FAILURE"}
_CLIENT_CERT_MISSING = {"TLSV13_ALERT_CERTIFICATE_REQUIRED", "PEER_DID_NOT_RETURN_A_CERTIFICATE"}
_CERT_REJECTED_BY_PEER = {
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
    "TLSV1_ALERT_DECRYPT_ERROR",
}


def handshake_error(exc: BaseException, peer: str, name: str | None, server_side: bool) -> TcpcliError:
    """The error for a failed handshake with `peer`; `name` is what the certificate was checked against."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _verification_error(exc, peer, name, server_side)
    if isinstance(exc, ssl.SSLEOFError):
        reason = "it hung up" if server_side else f"{peer} closed the connection"
        hint = "" if server_side else " (does it speak TLS on this port? does it want a client certificate?)"
        return _tls(f"TLS handshake with {peer} failed: {reason} during the handshake{hint}")
    if isinstance(exc, ssl.SSLError):
        if exc.reason == "UNEXPECTED_MESSAGE" and not server_side:
            # what a plain echo service does: it sends our own ClientHello back
            return _tls(f"TLS handshake with {peer} failed: {_NOT_A_TLS_SERVER}")
        return _tls(f"TLS handshake with {peer} failed: {_explain(exc, server_side)}")
    if isinstance(exc, TimeoutError):
        return TcpcliError(f"TLS handshake with {peer}: {_timeout_hint(server_side)}", ExitCode.TIMEOUT)
    if isinstance(exc, OSError):
        return translate_os_error(exc, f"TLS handshake with {peer}")
    return _tls(f"TLS handshake with {peer} failed: {exc}")  # e.g. a server name OpenSSL cannot use


def session_error(exc: OSError, peer: str, doing: str, server_side: bool) -> TcpcliError:
    """A failure after the handshake: a TLS alert or corrupt record (76), or a socket error (its own code)."""
    if isinstance(exc, ssl.SSLError):
        return _tls(f"TLS error while {doing} {peer}: {_explain(exc, server_side)}")
    return translate_os_error(exc, f"{doing} {peer}")


_NOT_A_TLS_SERVER = "the other side does not speak TLS on this port (drop --tls, or check the port)"


def _timeout_hint(server_side: bool) -> str:
    if server_side:
        return "the client did not finish it in time (is it speaking TLS?)"
    return "no answer in time (is this a TLS port? raise the limit with -w)"


def _verification_error(
    exc: ssl.SSLCertVerificationError, peer: str, name: str | None, server_side: bool
) -> TcpcliError:
    code = exc.verify_code
    whose = f"the certificate of {peer}"
    if server_side:
        fix = "the client needs a certificate issued by the CA given with --cafile"
    elif code in _SELF_SIGNED:
        fix = "trust that certificate with --cafile FILE, or skip the check with --insecure"
    else:
        fix = "trust the CA that issued it with --cafile FILE, or skip the check with --insecure"
    if code in _SELF_SIGNED:
        what = f"{whose} is self-signed and not trusted here"
    elif code in _UNKNOWN_ISSUER:
        what = f"{whose} was issued by a CA that is not trusted here"
    elif code == _EXPIRED:
        what = f"{whose} has expired"
        fix = fix if server_side else "its owner must renew it; --insecure connects anyway"
    elif code == _NOT_YET_VALID:
        what = f"{whose} is not valid yet (is this machine's clock right?)"
        fix = fix if server_side else "--insecure connects anyway"
    elif code == _IP_MISMATCH:
        what = f"{whose} does not name the address {name}"
        fix = "connect by a host name it holds, or give one with --sni NAME (--insecure skips the check)"
    elif code == _HOST_MISMATCH:
        what = f"{whose} is not valid for the name {name}"
        fix = "connect by a name it holds, or check it against one with --sni NAME (--insecure skips checks)"
    else:
        what = f"{whose} failed verification ({exc.verify_message})"
    return _tls(f"TLS: {what}: {fix}")


def _explain(exc: ssl.SSLError, server_side: bool) -> str:
    """The failure named and, where there is one, what to try."""
    reason = exc.reason or ""
    if reason in _NOT_TLS:
        if server_side:
            return "the client does not speak TLS (it sent something else)"
        return _NOT_A_TLS_SERVER
    if reason in _NO_COMMON_VERSION:
        return "no TLS version in common (tcpcli speaks TLS 1.2 and 1.3; the other side may offer only older)"
    if reason in _CLIENT_CERT_MISSING:
        if server_side:
            return "the client sent no certificate, and --cafile asks for one"
        return "the server requires a client certificate: give it with --cert FILE --key FILE"
    if reason in _CERT_REJECTED_BY_PEER:
        words = _words(reason)
        if server_side:
            return f"the client rejected our certificate ({words}): the client must trust its CA"
        return f"the server rejected our client certificate ({words}), or refused the handshake"
    if reason in _NO_COMMON_CIPHER:
        return (
            "the other side refused the handshake: it may want a client certificate (--cert FILE --key FILE)"
            " or a cipher we do not offer"
        )
    return _words(reason) if reason else str(exc)


def _words(reason: str) -> str:
    """`TLSV1_ALERT_UNKNOWN_CA` -> `alert: unknown ca`: OpenSSL's reason without its prefixes."""
    text = reason
    for prefix in ("SSLV3_", "TLSV13_", "TLSV1_"):
        text = text.removeprefix(prefix)
    text = text.replace("ALERT_", "alert: ", 1)
    return text.replace("_", " ").lower()


def _tls(message: str) -> TcpcliError:
    return TcpcliError(message, ExitCode.TLS)
