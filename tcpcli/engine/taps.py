"""Per-client taps of the many-peer engine: --hex-log, both directions of each client, each entry naming it.

Written on the event loop (a file append is short); a failed write stops the engine through `failed`.
"""

from __future__ import annotations

from collections.abc import Callable

from tcpcli.engine.client import Client
from tcpcli.errors import TcpcliError
from tcpcli.taps import HexLog

__all__ = ["ClientLog"]


class ClientLog:
    """--hex-log for many clients: `>` what is sent to a client, `<` what it sent, labelled by its peer."""

    def __init__(self, path: str, failed: Callable[[TcpcliError], None]) -> None:
        self._log = HexLog(path)
        self._failed = failed
        self._broken = False

    def sent(self, client: Client, data: bytes) -> None:
        self._record(">", client, data)

    def received(self, client: Client, data: bytes) -> None:
        self._record("<", client, data)

    def left(self, client: Client) -> None:
        self._log.forget(client.peer)

    def close(self) -> None:
        self._log.close()

    def _record(self, direction: str, client: Client, data: bytes) -> None:
        if self._broken:
            return
        try:
            self._log.record(direction, data, client.peer)
        except TcpcliError as exc:
            self._broken = True
            self._failed(exc)
