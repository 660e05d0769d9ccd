"""Ciphertext out of a TLS channel, in record order, from two threads, the reader never waiting on a writer.

A writer holds the send lock while it `sendall`s, so records leave in order; it may block there as long as
the peer does not read. The reader never waits for that lock and never blocks sending: when reading made
bytes to send (a TLS 1.3 key update answer) it tries the lock without waiting and sends what the kernel takes
at once. If the lock is busy, the holder sends those bytes before it lets go (it looks again after
releasing). If the kernel is full, the reader then waits for "readable or writable" instead of "readable".
So a writer blocked in `sendall` never keeps the reader from reading, and the reader never stops reading
to write.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading


class CiphertextOutbox:
    """Moves what OpenSSL wrote into the outgoing BIO onto the socket; `ssl_lock` guards the BIO."""

    def __init__(self, sock: socket.socket, outgoing: ssl.MemoryBIO, ssl_lock: threading.Lock) -> None:
        self._sock = sock
        self._outgoing = outgoing
        self._ssl_lock = ssl_lock
        self._send_lock = threading.Lock()  # whoever sends ciphertext holds it: records leave in order
        self._unsent = b""  # out of the BIO, not yet taken by the kernel (send lock held to touch it)
        self._reader_owes = False  # the reader left bytes in `_unsent` and must watch for writability

    def flush(self) -> None:
        """Send every pending record, blocking as long as the peer makes us; for writers."""
        while True:
            with self._send_lock:
                while True:
                    self._take_outgoing()
                    if not self._unsent:
                        break
                    self._sock.sendall(self._unsent)
                    self._unsent = b""
                self._reader_owes = False
            with self._ssl_lock:  # bytes queued while we held the lock, by someone who could not get it
                if not self._outgoing.pending:
                    return

    def flush_nowait(self) -> bool:
        """Send what the kernel takes now; False if a writer holds the lock (it will send our bytes)."""
        if not self._send_lock.acquire(blocking=False):
            return False
        try:
            self._take_outgoing()
            while self._unsent:
                try:
                    sent = self._sock.send(self._unsent, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    break
                self._unsent = self._unsent[sent:]
            self._reader_owes = bool(self._unsent)
        finally:
            self._send_lock.release()
        return True

    def wait_readable(self) -> None:
        """For the reader: block until the socket is readable, sending what it owes when it can."""
        while self._reader_owes:
            poller = select.poll()
            poller.register(self._sock.fileno(), select.POLLIN | select.POLLOUT)
            events = 0
            for _fd, mask in poller.poll():
                events |= mask
            if events & ~select.POLLOUT:
                return  # readable, or an error or hang-up that recv will report
            if not self.flush_nowait():
                return  # a writer holds the send lock: it sends our bytes before releasing

    def _take_outgoing(self) -> None:
        with self._ssl_lock:
            if self._outgoing.pending:
                self._unsent += self._outgoing.read()
