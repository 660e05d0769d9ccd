"""The many-peer engines' door (engine.hub and engine.relay): the accept loop, the TLS handshake of an
accepted client, and the stop signals.

Accepting is our own loop on the listening socket (not asyncio's server, which spins and logs on EMFILE): out
of descriptors it says so once, stops accepting (the clients wait in the kernel's backlog) and tries again
after a growing pause or as soon as a client leaves (`wake`), and says when it accepts again. A TLS
handshake is bounded by TLS_HANDSHAKE_TIMEOUT, so a client that never finishes it holds nothing for long.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import ssl
from collections.abc import Callable
from typing import Any

__all__ = [
    "ACCEPT_RETRY_FIRST",
    "ACCEPT_RETRY_MAX",
    "TLS_HANDSHAKE_TIMEOUT",
    "Acceptor",
    "accept_tls",
    "add_stop_signals",
    "remove_stop_signals",
]

# A client that never completes the TLS handshake is dropped after this long (the others are not held).
TLS_HANDSHAKE_TIMEOUT = 10.0
# Out of descriptors: the first retry after this long, doubling up to ACCEPT_RETRY_MAX.
ACCEPT_RETRY_FIRST = 0.05
ACCEPT_RETRY_MAX = 1.0
# Connections taken per readiness of the listening socket (asyncio's server takes its backlog's worth).
_ACCEPT_BATCH = 128
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Acceptor:
    """Accepts on `listener` (from the running loop) and hands each connection to `admit(conn, address)`.

    `warn(message)` says when accepting stops for want of descriptors and when it resumes; `held()` is the
    number of connections the engine holds (for those lines).
    """

    def __init__(
        self,
        listener: socket.socket,
        admit: Callable[[socket.socket, Any], None],
        warn: Callable[[str], None],
        held: Callable[[], int],
    ) -> None:
        self._listener = listener
        self._admit = admit
        self._warn = warn
        self._held = held
        self._loop = asyncio.get_running_loop()
        self.accepting = False
        self._retry: asyncio.TimerHandle | None = None
        self._retry_delay = ACCEPT_RETRY_FIRST
        self._exhausted = False  # out of descriptors: said once, and again when it recovers

    def start(self) -> None:
        if self.accepting or self._listener.fileno() < 0:
            return
        self._listener.setblocking(False)
        self._loop.add_reader(self._listener.fileno(), self._ready)
        self.accepting = True

    def stop(self, close: bool = False) -> None:
        """Stop accepting (the clients wait in the backlog); `close`: for good, the listener is closed."""
        if self.accepting:
            self._loop.remove_reader(self._listener.fileno())
            self.accepting = False
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if close and self._listener.fileno() >= 0:
            self._listener.close()

    def wake(self) -> None:
        """A descriptor is free (a client left): if we stopped for want of them, accept again now."""
        if self._exhausted and not self.accepting:
            self._retry_now()

    def _ready(self) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    self._out_of_descriptors(exc)
                    return
                continue  # ECONNABORTED and the like: that one client is gone, the next may be fine
            if self._exhausted:
                self._exhausted = False
                self._retry_delay = ACCEPT_RETRY_FIRST
                self._warn(f"accepting clients again ({self._held()} connected)")
            self._admit(conn, address)
            if not self.accepting:
                return  # admitting closed the door (one client only)

    def _out_of_descriptors(self, exc: OSError) -> None:
        self.stop()
        if not self._exhausted:
            self._exhausted = True
            self._warn(
                f"cannot accept clients: {exc.strerror or exc} ({self._held()} connected);"
                " not accepting until descriptors are free"
            )
        self._retry = self._loop.call_later(self._retry_delay, self._retry_now)
        self._retry_delay = min(self._retry_delay * 2, ACCEPT_RETRY_MAX)

    def _retry_now(self) -> None:
        self._retry = None
        self.start()  # a closed listener stays closed


async def accept_tls(
    conn: socket.socket, factory: Callable[[], asyncio.Protocol], context: ssl.SSLContext
) -> tuple[asyncio.Transport, asyncio.Protocol]:
    """The accepted `conn`'s TLS handshake as the server, bounded by TLS_HANDSHAKE_TIMEOUT (TimeoutError).

    Raises what the handshake raised (ssl.SSLError, OSError, ValueError); `conn` is then still to be closed.
    """
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(TLS_HANDSHAKE_TIMEOUT):  # ours: worded like the one-client timeout
        transport, protocol = await loop.connect_accepted_socket(
            factory, conn, ssl=context, ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT + 5
        )
    return transport, protocol


def add_stop_signals(handler: Callable[[int], None]) -> None:
    """SIGINT and SIGTERM call `handler(signum)` on the running loop (not raising inside a callback)."""
    loop = asyncio.get_running_loop()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, handler, signum)


def remove_stop_signals() -> None:
    loop = asyncio.get_running_loop()
    for signum in _STOP_SIGNALS:
        loop.remove_signal_handler(signum)
