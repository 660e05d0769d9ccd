"""--telnet with the many-clients server: each client's telnet negotiation refused and taken out of its data.

One `TelnetFilter` (core, pure) per client; its refusals go back to that client only, ahead of anything
queued later, and are logged by --hex-log as sent bytes (the received side is logged as it was on the wire).
"""

from __future__ import annotations

from tcpcli.core.telnet import TelnetFilter
from tcpcli.engine.client import Client

__all__ = ["ClientTelnet"]


class ClientTelnet:
    """Filters what each client sends; what is left is the data the server goes on with."""

    def __init__(self) -> None:
        self._filters: dict[Client, TelnetFilter] = {}

    def received(self, client: Client, data: bytes) -> bytes:
        """The client's data without telnet commands (b"" if it was all negotiation)."""
        telnet = self._filters.get(client)
        if telnet is None:
            telnet = self._filters[client] = TelnetFilter()
        data, reply = telnet.feed(data)
        if reply:
            client.send(reply)
        return data

    def finished(self, client: Client) -> bytes:
        """The client sent FIN: a command it left unfinished is data after all."""
        telnet = self._filters.pop(client, None)
        return telnet.finish() if telnet is not None else b""

    def left(self, client: Client) -> None:
        self._filters.pop(client, None)
