"""`--telnet`: refuse every telnet option, as `nc -t` does, and take the negotiation out of the data.

A pure incremental filter over the bytes received from the peer (RFC 854 / 855): no I/O here. The engine feeds
every chunk it reads from the socket, writes `data` where the received bytes go (stdout, views) and sends
`reply` on the socket. Chunking never changes the output: a sequence split across reads is held until the next
`feed` and, if the stream ends inside it, given back by `finish` as plain data.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DO", "DONT", "IAC", "SB", "SE", "WILL", "WONT", "TelnetFilter", "TelnetOutput"]

SE = 240  # end of subnegotiation
SB = 250  # start of subnegotiation: IAC SB option ... IAC SE
WILL = 251
WONT = 252
DO = 253
DONT = 254
IAC = 255  # "interpret as command"; IAC IAC is a data byte 0xFF

_IAC_BYTE = bytes((IAC,))

# Parser states: where the previous chunk stopped.
_DATA = 0  # plain data
_CMD = 1  # after IAC
_OPTION = 2  # after IAC WILL/WONT/DO/DONT, the option byte comes next
_SUB = 3  # inside IAC SB ... (its bytes are dropped)
_SUB_IAC = 4  # inside a subnegotiation, after IAC

# A subnegotiation's bytes are kept only to give them back if the stream ends inside it; past this many the
# rest is dropped, so a peer that opens one and never closes it cannot grow our memory.
_PENDING_CAP = 64 * 1024


class TelnetOutput(NamedTuple):
    """What one `feed` yields: `data` = received bytes without telnet commands (IAC IAC -> one 0xFF);
    `reply` = the refusals to send back on the socket (IAC WONT x per DO x, IAC DONT x per WILL x)."""

    data: bytes
    reply: bytes


class TelnetFilter:
    """Incremental telnet filter for one connection's received bytes (one direction, not thread-safe).

    Commands other than the four option verbs (NOP, GA, AYT, ...) are removed without a reply; DONT and
    WONT are removed without a reply (refusing is already our state). Malformed input never raises: an
    IAC x inside a subnegotiation other than IAC SE / IAC IAC ends it and x is read as a command, as telnetd
    does.
    """

    def __init__(self) -> None:
        self._state = _DATA
        self._verb = 0  # the WILL/WONT/DO/DONT waiting for its option byte
        self._pending = bytearray()  # raw bytes of the unfinished sequence, for finish()

    def feed(self, data: bytes) -> TelnetOutput:
        """Filter one received chunk; an unfinished sequence at its end is held for the next call."""
        if self._state == _DATA and IAC not in data:
            return TelnetOutput(data, b"")  # the common case: no per-byte Python work
        out = bytearray()
        reply = bytearray()
        i = 0
        n = len(data)
        while i < n:
            state = self._state
            if state == _DATA:
                j = data.find(_IAC_BYTE, i)
                if j < 0:
                    out += data[i:]
                    break
                out += data[i:j]
                self._state = _CMD
                self._pending = bytearray(_IAC_BYTE)
                i = j + 1
                continue
            byte = data[i]
            i += 1
            if state == _CMD:
                self._command(byte, out)
            elif state == _OPTION:
                if self._verb == DO:
                    reply += bytes((IAC, WONT, byte))
                elif self._verb == WILL:
                    reply += bytes((IAC, DONT, byte))
                self._state = _DATA
                self._pending.clear()
            elif state == _SUB:
                j = data.find(_IAC_BYTE, i - 1)
                end = n if j < 0 else j
                self._keep(data[i - 1 : end])
                if j < 0:
                    break
                self._keep(_IAC_BYTE)
                self._state = _SUB_IAC
                i = j + 1
            else:  # _SUB_IAC
                if byte == SE:
                    self._state = _DATA
                    self._pending.clear()
                elif byte == IAC:
                    self._keep(data[i - 1 : i])
                    self._state = _SUB  # an escaped 0xFF inside the subnegotiation
                else:
                    self._pending = bytearray(_IAC_BYTE)
                    self._command(byte, out)
        return TelnetOutput(bytes(out), bytes(reply))

    def finish(self) -> bytes:
        """At end of stream: the bytes of an unfinished sequence, given back as data (b"" if none)."""
        rest = bytes(self._pending) if self._state != _DATA else b""
        self._state = _DATA
        self._pending.clear()
        return rest

    def _command(self, byte: int, out: bytearray) -> None:
        """The byte after IAC (IAC already in `_pending`)."""
        if byte == IAC:
            out.append(IAC)
            self._state = _DATA
            self._pending.clear()
        elif WILL <= byte <= DONT:
            self._verb = byte
            self._state = _OPTION
            self._pending.append(byte)
        elif byte == SB:
            self._state = _SUB
            self._pending.append(byte)
        else:  # NOP, GA, DM, AYT, a stray SE, ...: a two-byte command, removed
            self._state = _DATA
            self._pending.clear()

    def _keep(self, chunk: bytes) -> None:
        room = _PENDING_CAP - len(self._pending)
        if room > 0:
            self._pending += chunk[:room]
