"""Blocking socket I/O for the interactive session, in two threads of its own.

The connection may be a plain socket or a TLS channel that only offers blocking calls, so it is never handed
to asyncio: a reader thread reads at full speed into the Inbox (writing `-o` / `--hex-log` as it goes), and a
writer thread sends queued lines in order, then the FIN when asked.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable

from tcpcli.connection import Connection
from tcpcli.errors import TcpcliError, translate_os_error
from tcpcli.interactive.inbox import Inbox
from tcpcli.taps import HexLog, OutputFile, timestamp_now

# One read takes what the kernel has, up to this much: large enough that a flood costs few trips through
# the GIL, small enough that `-t` timestamps stay per read.
RECV_SIZE = 256 * 1024


class _HalfClose:
    """Queue marker: send FIN once the lines before it are out."""


class Channel:
    """Reader and writer threads around one connection; counters are read by the toolbar and timers."""

    def __init__(
        self,
        conn: Connection,
        inbox: Inbox,
        peer: str,
        on_send_error: Callable[[TcpcliError], None],
        output: OutputFile | None = None,
        hex_log: HexLog | None = None,
        timestamps: bool = False,
    ) -> None:
        self._conn = conn
        self._inbox = inbox
        self._peer = peer
        self._on_send_error = on_send_error
        self._output = output
        self._hex_log = hex_log
        self._timestamps = timestamps
        self._outgoing: queue.SimpleQueue[bytes | _HalfClose | None] = queue.SimpleQueue()
        self.received = 0
        self.sent = 0
        self.last_traffic = time.monotonic()
        self._threads = [
            threading.Thread(target=self._read, name="tcpcli-reader", daemon=True),
            threading.Thread(target=self._write, name="tcpcli-writer", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

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
                self.received += len(data)
                self.last_traffic = time.monotonic()
                if self._output is not None:
                    self._output.write(data)
                if self._hex_log is not None:
                    self._hex_log.record("<", data)
                self._inbox.put(data, timestamp_now() if self._timestamps else None)
        except TcpcliError as exc:
            self._inbox.close(exc)
        except OSError as exc:
            self._inbox.close(translate_os_error(exc, f"receiving from {self._peer}"))
        else:
            self._inbox.close()

    def _write(self) -> None:
        try:
            while (item := self._outgoing.get()) is not None:
                if isinstance(item, _HalfClose):
                    with contextlib.suppress(OSError):  # the peer may be gone already: its FIN/RST decides
                        self._conn.shutdown(socket.SHUT_WR)
                    continue
                self._conn.sendall(item)
                self.sent += len(item)
                self.last_traffic = time.monotonic()
                if self._hex_log is not None:
                    self._hex_log.record(">", item)
        except TcpcliError as exc:
            self._on_send_error(exc)
        except OSError as exc:
            self._on_send_error(translate_os_error(exc, f"sending to {self._peer}"))
