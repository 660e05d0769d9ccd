"""The DER certificate summary behind `-v`: right fields, safe text; any input parses or says it cannot."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ssl

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core.certinfo import CertificateFormatError, summarize_certificate
from tcpcli.core.events import PeerCertificate, TlsEstablished, TlsUncleanEnd, describe

_KEY = ec.generate_private_key(ec.SECP256R1())


def _der(subject: x509.Name, issuer: x509.Name, not_after: datetime.datetime) -> bytes:
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(_KEY.public_key())
        .serial_number(12345)
        .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(not_after)
        .sign(_KEY, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


def _name(*pairs: tuple[ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def test_subject_issuer_expiry_and_fingerprint_of_a_trustme_certificate() -> None:
    ca = trustme.CA(organization_name="Example CA")
    pem = ca.issue_cert("localhost", common_name="localhost").cert_chain_pems[0].bytes().decode()
    der = ssl.PEM_cert_to_DER_cert(pem)
    summary = summarize_certificate(der)
    assert summary.subject.startswith("O=trustme") and summary.subject.endswith("CN=localhost")
    assert summary.issuer.startswith("O=Example CA, OU=Testing CA #")
    assert summary.not_after == "3000-01-01 00:00:00 UTC"  # GeneralizedTime (year >= 2050)
    digest = hashlib.sha256(der).hexdigest().upper()
    assert summary.sha256.replace(":", "") == digest and summary.sha256[2] == ":"


def test_utc_time_years_and_the_common_attribute_names() -> None:
    subject = _name(
        (NameOID.COUNTRY_NAME, "DE"),
        (NameOID.STATE_OR_PROVINCE_NAME, "Berlin"),
        (NameOID.LOCALITY_NAME, "Berlin"),
        (NameOID.ORGANIZATION_NAME, "Beispiel GmbH"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Labor"),
        (NameOID.COMMON_NAME, "gerät.example"),
        (NameOID.EMAIL_ADDRESS, "ops@example.org"),
    )
    issuer = _name((NameOID.COMMON_NAME, "Root"))
    summary = summarize_certificate(
        _der(subject, issuer, datetime.datetime(2031, 5, 9, 7, 35, 25, tzinfo=datetime.UTC))
    )
    assert summary.subject == (
        "C=DE, ST=Berlin, L=Berlin, O=Beispiel GmbH, OU=Labor, CN=gerät.example, emailAddress=ops@example.org"
    )
    assert summary.issuer == "CN=Root"
    assert summary.not_after == "2031-05-09 07:35:25 UTC"  # UTCTime "310509073525Z"


def test_peer_controlled_text_cannot_reach_the_terminal_raw() -> None:
    hostile = _name(
        (NameOID.COMMON_NAME, "evil\x1b]0;owned\x07\nnext line\u202e"), (ObjectIdentifier("1.2.3.4"), "x")
    )
    summary = summarize_certificate(
        _der(hostile, hostile, datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC))
    )
    assert "\x1b" not in summary.subject and "\x07" not in summary.subject and "\n" not in summary.subject
    assert "\u202e" not in summary.subject
    assert summary.subject.startswith("CN=evil\\x1b]0;owned")
    assert summary.subject.endswith(", 1.2.3.4=x")  # an unknown attribute type in dotted form


@given(st.binary(max_size=300))
def test_any_bytes_give_a_summary_or_a_format_error(data: bytes) -> None:
    with contextlib.suppress(CertificateFormatError):
        summarize_certificate(data)


# one fixed certificate: ECDSA signatures differ in length from one signing to the next
_SMALL = _der(
    _name((NameOID.COMMON_NAME, "a")),
    _name((NameOID.COMMON_NAME, "b")),
    datetime.datetime(2027, 6, 1, tzinfo=datetime.UTC),
)


@given(st.data())
def test_damaged_certificates_give_a_summary_or_a_format_error(data: st.DataObject) -> None:
    der = bytearray(_SMALL)
    for _ in range(data.draw(st.integers(1, 4))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(der)))
    with contextlib.suppress(CertificateFormatError):
        summarize_certificate(bytes(der[:cut]))


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (
            TlsEstablished("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
            "TLS established: TLSv1.3, cipher TLS_AES_256_GCM_SHA384 (256-bit)",
        ),
        (
            PeerCertificate("CN=a", "CN=b", "2030-01-01 00:00:00 UTC", "AB:CD", True, "a.example"),
            "peer certificate: CN=a; issued by CN=b; expires 2030-01-01 00:00:00 UTC"
            " (verified for a.example)",
        ),
        (
            PeerCertificate("CN=a", "CN=b", "2030", "AB:CD", True),
            "peer certificate: CN=a; issued by CN=b; expires 2030 (verified)",
        ),
        (
            PeerCertificate("CN=a", "CN=a", "2030", "AB:CD", False),
            "peer certificate: CN=a; issued by CN=a; expires 2030 (NOT verified, SHA-256 AB:CD)",
        ),
        (TlsUncleanEnd(), "peer closed without TLS close_notify (data may have been cut short)"),
    ],
)
def test_tls_event_wording(event: TlsEstablished | PeerCertificate | TlsUncleanEnd, line: str) -> None:
    assert describe(event) == line
