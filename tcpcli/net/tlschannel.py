"""A TLS connection that one thread may read while another writes, with the socket calls callers expect.

Why not `ssl.SSLSocket`: it releases the GIL inside SSL_read and SSL_write, so stream mode's two pump
threads would drive one OpenSSL object at the same time, which OpenSSL forbids. Here an `ssl.SSLObject`
works on two memory buffers, every call into it (and its buffers) happens under `_ssl_lock`, and socket I/O
happens outside that lock. The lock is therefore only held for in-memory work, microseconds at a time.

Deadlock story: a writer blocked in `sendall` never keeps the reader from reading, and the reader never
stops reading to write (see tlsoutbox for how).

End of stream. TLS has no half-close of its own; `shutdown(SHUT_WR)` sends close_notify (TLS 1.3 defines it
as closing only the sender's direction) and then a TCP FIN, and reading goes on until the peer closes.
`recv` returns b"" at the peer's close_notify and also at a bare TCP EOF (many servers skip close_notify);
`clean_end` tells the two apart.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from tcpcli.core.events import Event, TlsUncleanEnd, format_address
from tcpcli.net.tlserrors import session_error
from tcpcli.net.tlsoutbox import CiphertextOutbox

Buffer = bytes | bytearray | memoryview

READ_CHUNK = 256 * 1024  # ciphertext taken from the kernel per recv: many records per system call
WRITE_CHUNK = 64 * 1024  # plaintext encrypted per step: bounds the ciphertext held in memory per writer


class TlsChannel:
    """A connected TLS stream over a blocking socket: `recv_into` / `sendall` safe from two threads.

    `fileno()` is the TCP socket: its readiness is about ciphertext. Decrypted bytes may already wait inside;
    check `pending()` before waiting on the descriptor.
    """

    def __init__(
        self,
        sock: socket.socket,
        tls: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        report: Callable[[Event], None] | None = None,
    ) -> None:
        self._sock = sock
        # asked once: after a reset the kernel no longer answers, and sessions ask after the handshake
        self._peer_address = sock.getpeername()
        self._local_address = sock.getsockname()
        self._peer = format_address(self._peer_address[0], self._peer_address[1])
        self._report = report
        self._tls = tls
        self._incoming = incoming
        self._outgoing = outgoing
        self._ssl_lock = threading.Lock()  # every SSLObject / MemoryBIO call; never held across socket I/O
        self._outbox = CiphertextOutbox(sock, outgoing, self._ssl_lock)
        self._recv_buffer = bytearray(READ_CHUNK)
        self._tcp_eof = False  # the kernel said EOF; the BIO is told only once no whole record is left
        self._eof_told = False
        self._backlog = bytearray()  # plaintext rescued from OpenSSL before close_notify (see there)
        self._close_notify_sent = False
        self.clean_end: bool | None = None  # set when reading ends: True at close_notify, False at bare EOF

    # ------------------------------------------------------------ handshake (one thread, before sharing)

    def handshake(self, timeout: float) -> None:
        """Run the handshake within `timeout` seconds; SSLError / OSError / TimeoutError as raised."""
        deadline = time.monotonic() + timeout
        previous = self._sock.gettimeout()
        try:
            while True:
                try:
                    with self._ssl_lock:
                        self._tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self._set_deadline(deadline)
                    self._outbox.flush()
                    self._set_deadline(deadline)
                    self._receive_ciphertext()
                    if self._tcp_eof:  # no record is half-read mid-handshake: TLS may hear of it now
                        self._incoming.write_eof()
                        self._eof_told = True
            self._set_deadline(deadline)
            self._outbox.flush()  # our Finished (client) or session tickets (server)
        except ssl.SSLError:
            self._send_alert_quietly()
            raise
        finally:
            self._sock.settimeout(previous)

    def _set_deadline(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("TLS handshake timed out")
        self._sock.settimeout(remaining)

    def _send_alert_quietly(self) -> None:
        """A failed handshake leaves an alert in the buffer; the peer should learn why we hung up."""
        with contextlib.suppress(OSError):
            self._sock.settimeout(0.5)
            self._outbox.flush()

    # ------------------------------------------------------------ reading

    def recv_into(self, buffer: Buffer, nbytes: int = 0, flags: int = 0) -> int:
        """Decrypted bytes into `buffer`; 0 once the peer has closed (close_notify or TCP EOF).

        A TLS alert or a corrupt record is TcpcliError 76; a socket error its own code (reset: 74).
        """
        try:
            return self._recv_into(buffer, nbytes)
        except OSError as exc:
            raise session_error(exc, self._peer, "receiving from", self._tls.server_side) from exc

    def _recv_into(self, buffer: Buffer, nbytes: int) -> int:
        view = memoryview(buffer).cast("B")
        if nbytes:
            view = view[:nbytes]
        if not len(view):
            return 0
        while True:
            with self._ssl_lock:
                if self._backlog:
                    return self._take_backlog(view)
                try:
                    return cast(int, self._tls.read(len(view), view))  # a count when given a buffer
                except ssl.SSLWantReadError:
                    if self._tcp_eof and not self._eof_told:
                        # only now, with no whole record left, may TLS learn of the EOF (see close_notify)
                        self._incoming.write_eof()
                        self._eof_told = True
                        continue
                except ssl.SSLZeroReturnError:
                    self.clean_end = True
                    return 0
                except ssl.SSLEOFError:
                    break
                finally:
                    owes = self._outgoing.pending > 0
            if owes:
                self._outbox.flush_nowait()
            self._outbox.wait_readable()
            self._receive_ciphertext()
        if self.clean_end is None and self._report is not None:
            self._report(TlsUncleanEnd())
        self.clean_end = False
        return 0

    def _take_backlog(self, view: memoryview) -> int:
        size = min(len(view), len(self._backlog))
        view[:size] = self._backlog[:size]
        del self._backlog[:size]
        return size

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        buffer = bytearray(bufsize)
        size = self.recv_into(buffer)
        return bytes(buffer[:size])

    def pending(self) -> int:
        """Decrypted bytes ready to read without touching the socket."""
        with self._ssl_lock:
            return self._tls.pending()

    def _receive_ciphertext(self) -> None:
        """One blocking recv from the kernel into the incoming BIO; EOF is noted for the reader."""
        size = self._sock.recv_into(self._recv_buffer)
        with self._ssl_lock:
            if size:
                self._incoming.write(memoryview(self._recv_buffer)[:size])
            else:
                self._tcp_eof = True

    # ------------------------------------------------------------ writing

    def sendall(self, data: Buffer, flags: int = 0) -> None:
        """Encrypt and send all of `data`, in order with every other record; blocks while the peer is slow."""
        view = memoryview(data).cast("B")
        try:
            for start in range(0, len(view), WRITE_CHUNK):
                with self._ssl_lock:
                    self._tls.write(view[start : start + WRITE_CHUNK])
                self._outbox.flush()
        except OSError as exc:
            raise session_error(exc, self._peer, "sending to", self._tls.server_side) from exc

    # ------------------------------------------------------------ closing

    def shutdown(self, how: int) -> None:
        """SHUT_WR (or RDWR): close_notify, then the TCP shutdown; reading may go on after SHUT_WR."""
        if how in (socket.SHUT_WR, socket.SHUT_RDWR):
            self._queue_close_notify()
            self._outbox.flush()
        self._sock.shutdown(how)

    def close(self) -> None:
        """close_notify if not yet sent and nobody is mid-send, without waiting for the peer; then close."""
        try:
            self._queue_close_notify()
            self._outbox.flush_nowait()
        except OSError:
            pass  # the connection is already broken: closing is all that is left
        self._sock.close()

    def _queue_close_notify(self) -> None:
        """Write close_notify into the outgoing BIO without losing what the peer has still to say.

        `unwrap()` calls SSL_shutdown twice; the second call reads incoming records and throws away any
        application data in them (and plaintext OpenSSL holds back). So that data is taken out first: the
        plaintext into `_backlog`, the ciphertext out of the BIO and back in afterwards, leaving the second
        call nothing to read.
        """
        with self._ssl_lock:
            if self._close_notify_sent:
                return
            self._close_notify_sent = True
            while pending := self._tls.pending():
                self._backlog += self._tls.read(pending)
            held = b"" if self._eof_told else self._incoming.read()  # told: no whole record is left
            try:
                with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the peer's; we do not
                    self._tls.unwrap()
            finally:
                if held:
                    self._incoming.write(held)

    def __enter__(self) -> TlsChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ socket-like information

    def version(self) -> str | None:
        """The negotiated protocol ("TLSv1.3"); its presence also tells stream mode to avoid splice."""
        with self._ssl_lock:
            return self._tls.version()

    def cipher(self) -> tuple[str, str, int] | None:
        with self._ssl_lock:
            return self._tls.cipher()

    def getpeercert(self, binary_form: bool = False) -> Any:
        with self._ssl_lock:
            return self._tls.getpeercert(binary_form)

    def fileno(self) -> int:
        return self._sock.fileno()

    def getpeername(self) -> Any:
        return self._peer_address

    def getsockname(self) -> Any:
        return self._local_address

    def settimeout(self, timeout: float | None) -> None:
        self._sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._sock.gettimeout()

    @property
    def raw(self) -> socket.socket:
        """The TCP socket underneath (socket options, not data)."""
        return self._sock
