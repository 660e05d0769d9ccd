"""UDP keeps datagrams whole: stdin bytes become one datagram per line, however the pipe delivered them.

nc, ncat and socat send each read() of stdin as one datagram, so two lines written together by the producer
merge into one datagram, and one long line read in two pieces splits into two. Here a datagram is exactly
one line, up to and including its LF; the last line without one is sent at end of input.
"""

from __future__ import annotations

__all__ = ["MAX_PAYLOAD", "DatagramTooLarge", "LineDatagrams"]

# The largest UDP payload over IPv4 (65535 - 8 bytes UDP header - 20 bytes IP header); IPv6 allows 20 more,
# but one limit for both keeps a recording replayable over either.
MAX_PAYLOAD = 65507


class DatagramTooLarge(ValueError):
    """A line longer than MAX_PAYLOAD: it cannot be one datagram, and splitting it would break the promise."""

    def __init__(self, size: int) -> None:
        super().__init__(f"a line of {size} bytes is too long for one UDP datagram (at most {MAX_PAYLOAD})")
        self.size = size


class LineDatagrams:
    """Split a byte stream into lines, each one datagram. Chunking never changes the datagrams."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = b""  # the start of a line whose LF has not come yet

    def feed(self, chunk: bytes) -> list[bytes]:
        """The whole lines completed by `chunk`, each with its LF. Raises DatagramTooLarge."""
        if b"\n" not in chunk:
            self._held += chunk
            self._check(self._held)
            return []
        lines = (self._held + chunk).split(b"\n")
        self._held = lines.pop()
        self._check(self._held)
        datagrams = [line + b"\n" for line in lines]
        for datagram in datagrams:
            self._check(datagram)
        return datagrams

    def finish(self) -> bytes | None:
        """End of input: the last line if it had no LF (None when nothing is left)."""
        held, self._held = self._held, b""
        return held or None

    @staticmethod
    def _check(datagram: bytes) -> None:
        if len(datagram) > MAX_PAYLOAD:
            raise DatagramTooLarge(len(datagram))
