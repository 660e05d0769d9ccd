"""The few fields of a DER certificate a person checks with `-v`: subject, issuer, expiry, fingerprint.

Read here, without a crypto library, because Python's `getpeercert()` returns nothing for a certificate it did
not verify, and `--insecure` is exactly when a person most needs to see who is on the other end. Every
string comes from the peer, so it passes the terminal-safety choke point before anyone prints it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tcpcli.core.visible import one_line

_SEQUENCE = 0x30
_SET = 0x31
_OID = 0x06
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_EXPLICIT_VERSION = 0xA0

# Attribute types people recognise, by their DER-encoded object identifier.
_ATTRIBUTE_NAMES = {
    bytes.fromhex("550403"): "CN",
    bytes.fromhex("550406"): "C",
    bytes.fromhex("550407"): "L",
    bytes.fromhex("550408"): "ST",
    bytes.fromhex("55040a"): "O",
    bytes.fromhex("55040b"): "OU",
    bytes.fromhex("2a864886f70d010901"): "emailAddress",
}

# ASN.1 string types and the codec of each (T61 is close enough to latin-1 for display).
_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x13: "ascii",  # PrintableString
    0x16: "ascii",  # IA5String
    0x14: "latin-1",  # T61String
    0x1E: "utf-16-be",  # BMPString
    0x1C: "utf-32-be",  # UniversalString
}


class CertificateFormatError(ValueError):
    """The bytes are not the DER certificate structure this reader expects."""


@dataclass(frozen=True)
class CertificateSummary:
    subject: str  # "CN=localhost, O=Example", printable
    issuer: str
    not_after: str  # "2027-05-09 07:35:25 UTC"
    sha256: str  # "AB:CD:..." as `openssl x509 -fingerprint -sha256` prints it


def summarize_certificate(der: bytes) -> CertificateSummary:
    """Subject, issuer, expiry and fingerprint of a DER certificate; CertificateFormatError if malformed."""
    certificate = _Reader(der).expect(_SEQUENCE)
    tbs = certificate.expect(_SEQUENCE)
    if tbs.peek() == _EXPLICIT_VERSION:
        tbs.take()
    tbs.take()  # serial number
    tbs.expect(_SEQUENCE)  # signature algorithm
    issuer = _name(tbs.expect(_SEQUENCE))
    validity = tbs.expect(_SEQUENCE)
    validity.take()  # not before
    tag, value = validity.take()
    subject = _name(tbs.expect(_SEQUENCE))
    digest = hashlib.sha256(der).hexdigest().upper()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    return CertificateSummary(subject, issuer, _time(tag, value), fingerprint)


class _Reader:
    """Walks the tag-length-value items of one DER level."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def peek(self) -> int | None:
        return self._data[self._pos] if self._pos < len(self._data) else None

    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def take(self) -> tuple[int, bytes]:
        data, pos = self._data, self._pos
        if pos + 2 > len(data):
            raise CertificateFormatError("truncated item")
        tag, length = data[pos], data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4 or pos + count > len(data):
                raise CertificateFormatError("bad length")
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if pos + length > len(data):
            raise CertificateFormatError("item runs past its container")
        self._pos = pos + length
        return tag, data[pos : pos + length]

    def expect(self, wanted: int) -> _Reader:
        tag, value = self.take()
        if tag != wanted:
            raise CertificateFormatError(f"expected tag {wanted:#x}, found {tag:#x}")
        return _Reader(value)


def _name(reader: _Reader) -> str:
    """An X.500 name as `TYPE=value` pairs in the order the certificate lists them."""
    parts = []
    while not reader.at_end():
        relative = reader.expect(_SET)
        while not relative.at_end():
            pair = relative.expect(_SEQUENCE)
            tag, oid = pair.take()
            if tag != _OID:
                raise CertificateFormatError("attribute without a type")
            string_tag, raw = pair.take()
            parts.append(f"{_attribute_name(oid)}={_printable(_decode(string_tag, raw))}")
    return ", ".join(parts) if parts else "(empty)"


def _attribute_name(oid: bytes) -> str:
    known = _ATTRIBUTE_NAMES.get(oid)
    if known:
        return known
    if not oid or oid[-1] & 0x80:
        raise CertificateFormatError("bad object identifier")
    numbers: list[int] = []
    value = 0
    for byte in oid:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            numbers.append(value)
            value = 0
    first = numbers[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(str(number) for number in head + numbers[1:])


def _decode(tag: int, raw: bytes) -> str:
    codec = _STRING_CODECS.get(tag)
    if codec is None:
        return raw.hex()
    return raw.decode(codec, errors="backslashreplace")


def _printable(text: str) -> str:
    """One line, no control or format character left for a terminal to act on."""
    return one_line(text)


def _time(tag: int, raw: bytes) -> str:
    """UTCTime or GeneralizedTime in Zulu as `YYYY-MM-DD HH:MM:SS UTC`; any other form shown as it is."""
    text = raw.decode("ascii", errors="replace")
    if not (text.endswith("Z") and text[:-1].isdigit()):
        return _printable(text)
    if tag == _UTC_TIME and len(text) == 13:
        year = int(text[:2])
        text = f"{2000 + year if year < 50 else 1900 + year}{text[2:]}"  # RFC 5280: YY < 50 means 20YY
    elif tag != _GENERALIZED_TIME or len(text) != 15:
        return _printable(text)
    return f"{text[0:4]}-{text[4:6]}-{text[6:8]} {text[8:10]}:{text[10:12]}:{text[12:14]} UTC"
