"""Real certificates and real TLS peers for the TLS tests.

The certificates are made once per test session (trustme for the CA-issued ones, cryptography for a
self-signed leaf like `openssl req -x509` makes); the peers are Python `ssl` servers on loopback, run by the
`peer` fixture of conftest, each handler on its own thread with its own SSLSocket.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import Handler

OPENSSL = shutil.which("openssl")
WAIT = 10.0  # every wait on a peer is bounded by this


@dataclass(frozen=True)
class Identity:
    cert: str
    key: str


@dataclass(frozen=True)
class Pki:
    """Paths of PEM files: one test CA and the certificates the tests present."""

    ca: str  # the CA that issued server, no_ip, wrong_host, expired and client
    other_ca: str  # a CA that issued nothing used here
    server: Identity  # localhost, 127.0.0.1, ::1
    no_ip: Identity  # localhost only: connecting by address must fail the IP check
    wrong_host: Identity  # other.example
    expired: Identity  # localhost and 127.0.0.1, expired yesterday
    self_signed: Identity  # a self-signed leaf for localhost and 127.0.0.1
    client: Identity  # a client certificate from the same CA
    trustme_ca: trustme.CA = field(repr=False)


def make_pki(directory: Path) -> Pki:
    ca = trustme.CA(organization_name="tcpcli test CA")
    now = datetime.datetime.now(datetime.UTC)

    def save(name: str, leaf: trustme.LeafCert) -> Identity:
        cert, key = directory / f"{name}.pem", directory / f"{name}.key"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        return Identity(str(cert), str(key))

    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(directory / "other-ca.pem"))
    return Pki(
        ca=str(directory / "ca.pem"),
        other_ca=str(directory / "other-ca.pem"),
        server=save("server", ca.issue_cert("localhost", "127.0.0.1", "::1", common_name="localhost")),
        no_ip=save("no-ip", ca.issue_cert("localhost", common_name="localhost")),
        wrong_host=save("wrong-host", ca.issue_cert("other.example", common_name="other.example")),
        expired=save(
            "expired",
            ca.issue_cert(
                "localhost",
                "127.0.0.1",
                not_before=now - datetime.timedelta(days=30),
                not_after=now - datetime.timedelta(days=1),
            ),
        ),
        self_signed=_self_signed(directory, now),
        client=save("client", ca.issue_cert("client.example", common_name="client.example")),
        trustme_ca=ca,
    )


def _self_signed(directory: Path, now: datetime.datetime) -> Identity:
    """What `openssl req -x509 -subj /CN=localhost -addext subjectAltName=...` gives a device or a lab."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "self-signed.pem", directory / "self-signed.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Identity(str(cert_path), str(key_path))


def server_context(identity: Identity, client_ca: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(identity.cert, identity.key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


TlsHandler = Callable[[ssl.SSLSocket], None]


def tls_handler(context: ssl.SSLContext, inner: TlsHandler) -> Handler:
    """A conftest handler that does the server handshake, then runs `inner` on the TLS socket."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(WAIT)
        with context.wrap_socket(conn, server_side=True) as tls:
            inner(tls)

    return handle


def tls_echo(tls: ssl.SSLSocket) -> None:
    """Echo until the client's close_notify, then answer with ours."""
    while data := tls.recv(65536):
        tls.sendall(data)
    tls.unwrap()


def wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class OpensslServer:
    """`openssl s_server` on a free loopback port: a TLS peer that is not Python's ssl module."""

    def __init__(self, identity: Identity, *extra: str) -> None:
        assert OPENSSL is not None
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [
                *(OPENSSL, "s_server", "-accept", f"127.0.0.1:{self.port}", "-naccept", "1"),
                *("-cert", identity.cert, "-key", identity.key, *extra),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._printed = bytearray()
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()
        if not wait_for(lambda: b"ACCEPT" in self._printed):
            self.close()
            raise RuntimeError(f"openssl s_server did not start: {bytes(self._printed)!r}")

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(65536):
            self._printed += chunk

    def wait_printed(self, text: bytes) -> bool:
        return wait_for(lambda: text in self._printed)

    def type(self, line: bytes) -> None:
        """A line on s_server's stdin: data for the client, or one of its commands (`K`: key update).

        s_server takes a whole read of its stdin as one command when it starts with a command letter.
        """
        assert self.proc.stdin is not None
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def output(self) -> str:
        """What s_server printed, once it has exited (bounded)."""
        try:
            self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._reader.join(WAIT)
        return self._printed.decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
        self._reader.join(WAIT)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
