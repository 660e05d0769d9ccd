"""Blocking socket I/O for the interactive session, in two threads of its own.

The connection may be a plain socket or a TLS channel that only offers blocking calls, so it is never handed
to asyncio: a reader thread reads at full speed into the Inbox (writing `-o` / `--hex-log` as it goes), and a
writer thread sends queued lines in order, then the FIN when asked.

The reader starts as soon as the connection is open, before the screen's libraries have loaded: `-t` stamps
each read when it happens and the closing line's duration runs from the connect; the screen catches up.
With `--telnet` the reader takes the negotiation out of the data and queues the refusals for the writer.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable

from tcpcli.connection import Connection
from tcpcli.core.link import NO_TIMEOUTS, Link, LinkPolicy
from tcpcli.core.telnet import TelnetFilter
from tcpcli.errors import TcpcliError, translate_os_error
from tcpcli.interactive.inbox import Inbox
from tcpcli.taps import HexLog, OutputFile, timestamp_now

__all__ = ["RECV_SIZE", "Channel"]

# One read takes what the kernel has, up to this much: large enough that a flood costs few trips through
# the GIL, small enough that `-t` timestamps stay per read.
RECV_SIZE = 256 * 1024


class _HalfClose:
    """Queue marker: send FIN once the lines before it are out."""


class Channel:
    """Reader and writer threads around one connection; its `link` (counters, moments, the -i/-q decision)
    is read by the toolbar and the clock."""

    def __init__(
        self,
        conn: Connection,
        inbox: Inbox,
        peer: str,
        output: OutputFile | None = None,
        hex_log: HexLog | None = None,
        timestamps: bool = False,
        telnet: bool = False,
        policy: LinkPolicy = NO_TIMEOUTS,
    ) -> None:
        """`policy`: -q and -i; a person types the input, so the link's input is a terminal."""
        self._conn = conn
        self.inbox = inbox  # received bytes wait here for the screen
        self._peer = peer
        self._send_failed: Callable[[TcpcliError], None] | None = None
        self._send_error: TcpcliError | None = None
        self._lock = threading.Lock()
        self._output = output
        self._hex_log = hex_log
        self._timestamps = timestamps
        self._telnet = TelnetFilter() if telnet else None
        self._outgoing: queue.SimpleQueue[bytes | _HalfClose | None] = queue.SimpleQueue()
        self.link = Link(time.monotonic(), policy, input_is_terminal=True)
        self._threads = [
            threading.Thread(target=self._read, name="tcpcli-reader", daemon=True),
            threading.Thread(target=self._write, name="tcpcli-writer", daemon=True),
        ]

    @property
    def received(self) -> int:
        return self.link.received

    @property
    def sent(self) -> int:
        return self.link.sent

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def on_send_error(self, callback: Callable[[TcpcliError], None]) -> None:
        """Who hears of a failed send (the screen, once it runs); a failure before that is passed on now."""
        with self._lock:
            self._send_failed = callback
            error = self._send_error
        if error is not None:
            callback(error)

    def send(self, data: bytes) -> None:
        if data:
            self._outgoing.put(data)

    def half_close(self) -> None:
        self._outgoing.put(_HalfClose())

    def close(self) -> None:
        """Stop the writer and close the connection; the reader thread is a daemon blocked in recv at most."""
        self._outgoing.put(None)
        with contextlib.suppress(OSError):
            self._conn.close()
        for tap in (self._output, self._hex_log):
            if tap is not None:
                with contextlib.suppress(OSError):
                    tap.close()

    def _read(self) -> None:
        try:
            while True:
                data = self._conn.recv(RECV_SIZE)
                if not data:
                    break
                self.link.on_received(len(data), time.monotonic())
                stamp = timestamp_now() if self._timestamps else None
                if self._output is not None:
                    self._output.write(data)
                if self._hex_log is not None:
                    self._hex_log.record("<", data)
                if self._telnet is not None:
                    data, reply = self._telnet.feed(data)
                    self.send(reply)
                if data:
                    self.inbox.put(data, stamp)
            if self._telnet is not None and (rest := self._telnet.finish()):
                self.inbox.put(rest, None)
        except TcpcliError as exc:
            self.inbox.close(exc)
        except OSError as exc:
            self.inbox.close(translate_os_error(exc, f"receiving from {self._peer}"))
        else:
            self.inbox.close()

    def _write(self) -> None:
        try:
            while (item := self._outgoing.get()) is not None:
                if isinstance(item, _HalfClose):
                    with contextlib.suppress(OSError):  # the peer may be gone already: its FIN/RST decides
                        self._conn.shutdown(socket.SHUT_WR)
                    continue
                if self._hex_log is not None:  # logged before the kernel has it: a reply can't come first
                    self._hex_log.record(">", item)
                self._conn.sendall(item)
                self.link.on_sent(len(item), time.monotonic())
        except TcpcliError as exc:
            self._failed(exc)
        except OSError as exc:
            self._failed(translate_os_error(exc, f"sending to {self._peer}"))

    def _failed(self, error: TcpcliError) -> None:
        with self._lock:
            self._send_error = error
            callback = self._send_failed
        if callback is not None:
            callback(error)
