"""The relay's upstream connections (`--to TARGET`): resolve and connect within -w on the event loop.

Connecting never blocks the loop and takes no thread: each address is tried with a non-blocking connect
(asyncio's sock_connect), so a black-holed upstream holds only the connections that wait for it, and 1,000
concurrent connects are 1,000 sockets, not a queue for a small thread pool. A host name is resolved by
connect mode's own `resolve` (same wording, same interleaving of IPv6 and IPv4) on a worker thread; the
connections that need it at the same time share that one look-up (nothing is cached beyond it, so a changed
DNS answer is seen by the next client). An address literal is resolved once, at start.

`open_upstream` is the one place that knows target kinds: a TCP HOST:PORT or a Unix socket (`unix:PATH`,
`unix:@name` for an abstract one), connected the same non-blocking way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import socket
import time

from tcpcli.core.events import Event, format_address
from tcpcli.errors import ExitCode, TcpcliError, UsageError, translate_os_error
from tcpcli.net.connect import MIN_ATTEMPT_SECONDS, Address, _bind_source, resolve
from tcpcli.net.sockopts import apply_socket_options
from tcpcli.settings import RelaySettings, RelayTarget, TcpTarget, UnixTarget

__all__ = ["Upstream", "check_target", "target_label"]


def check_target(target: RelayTarget) -> None:
    """A target no socket can be made for (a Unix path too long for the kernel) is a usage error (exit 2),
    said before anything is bound."""
    if isinstance(target, UnixTarget):
        from tcpcli.net.unix import check_unix_path

        if (problem := check_unix_path(target.path)) is not None:
            raise UsageError(f"--to unix:PATH: {problem}")


def target_label(target: RelayTarget) -> str:
    """How messages name the target: `127.0.0.1:6379`, `[::1]:6379`, `unix:/run/app.sock`, `@name`."""
    if isinstance(target, TcpTarget):
        return format_address(target.host, target.port)
    from tcpcli.net.unix import show_unix

    return show_unix(target.path)


def _ignore(event: Event) -> None:
    """The relay does not report resolving/trying per connection (its `#N open` line says where it went)."""


class Upstream:
    """Opens one upstream connection per relayed client (call `open_upstream` from the event loop)."""

    def __init__(self, relay: RelaySettings) -> None:
        check_target(relay.target)
        self._target = relay.target
        self._connect = relay.upstream
        self._fixed: list[Address] | None = None  # an address literal: resolved once
        self._lookup: asyncio.Future[list[Address]] | None = None  # the look-up in flight, shared
        if isinstance(self._target, UnixTarget):
            return
        host = self._connect.host
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return
        self._fixed = resolve(host, self._connect.port, self._connect.family, math.inf, _ignore)

    async def open_upstream(self, doing: str) -> socket.socket:
        """A connected non-blocking socket, or TcpcliError worded `DOING: reason` with connect mode's code
        (68 not resolved, 69 refused/unreachable, 75 timed out after -w)."""
        timeout = self._connect.connect_timeout
        if isinstance(self._target, UnixTarget):
            return await self._connect_unix(self._target.path, timeout, doing)
        deadline = time.monotonic() + timeout
        try:
            async with asyncio.timeout(timeout):
                addresses = self._fixed if self._fixed is not None else await self._resolve(deadline)
                return await self._connect_any(addresses, deadline, doing)
        except TimeoutError:
            raise TcpcliError(
                f"{doing}: timed out after {timeout:g} s (raise it with -w)", ExitCode.TIMEOUT
            ) from None
        except TcpcliError as exc:
            if exc.message.startswith(doing):
                raise
            raise TcpcliError(f"{doing}: {exc.message}", exc.exit_code) from exc

    @staticmethod
    async def _connect_unix(path: str, timeout: float, doing: str) -> socket.socket:
        """A Unix stream socket connected within `timeout` s (a server with a full backlog makes it wait)."""
        from tcpcli.net.unix import sockaddr, unix_connect_error

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            async with asyncio.timeout(timeout):
                await asyncio.get_running_loop().sock_connect(sock, sockaddr(path))
        except TimeoutError:
            sock.close()
            raise TcpcliError(
                f"{doing}: timed out after {timeout:g} s (raise it with -w)", ExitCode.TIMEOUT
            ) from None
        except OSError as exc:
            sock.close()
            raise unix_connect_error(exc, path, timeout, doing) from exc
        return sock

    async def _resolve(self, deadline: float) -> list[Address]:
        """connect mode's resolve() on a worker thread, one at a time for all the clients waiting for it."""
        if self._lookup is None:
            loop = asyncio.get_running_loop()
            settings = self._connect
            lookup = loop.run_in_executor(
                None, resolve, settings.host, settings.port, settings.family, deadline, _ignore
            )
            self._lookup = lookup
            lookup.add_done_callback(self._looked_up)
        return await asyncio.shield(self._lookup)  # one waiter's timeout does not cancel the others'

    def _looked_up(self, lookup: asyncio.Future[list[Address]]) -> None:
        self._lookup = None  # the next client looks up again
        if not lookup.cancelled():
            lookup.exception()  # retrieved: every waiter may have given up already

    async def _connect_any(self, addresses: list[Address], deadline: float, doing: str) -> socket.socket:
        """Each address in turn (one that does not answer gets its share of -w, at least 2 s)."""
        last_error: OSError | None = None
        for index, (family, sockaddr) in enumerate(addresses):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            left = len(addresses) - index
            attempt = remaining if left == 1 else min(remaining, max(remaining / left, MIN_ATTEMPT_SECONDS))
            try:
                return await self._connect_one(family, sockaddr, attempt)
            except TimeoutError as exc:
                last_error = exc
            except OSError as exc:
                last_error = exc
        if last_error is None or isinstance(last_error, TimeoutError):
            raise TimeoutError
        raise translate_os_error(last_error, doing) from last_error

    async def _connect_one(
        self, family: int, sockaddr: tuple[str, int] | tuple[str, int, int, int], timeout: float
    ) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            settings = self._connect
            if settings.source is not None or settings.source_port is not None:
                _bind_source(sock, family, settings)  # a bind failure is the user's: its own code
            apply_socket_options(sock, settings.sockopts)
            async with asyncio.timeout(timeout):
                await asyncio.get_running_loop().sock_connect(sock, sockaddr)
        except BaseException:
            sock.close()
            raise
        return sock
