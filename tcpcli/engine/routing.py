"""Who receives what: --echo sends a client's data back to it, --broadcast to all the others, and local
input (stdin or typed lines) goes to every client.

Fan-out is batched per event-loop turn: everything received in one turn is joined once into a single bytes
object that all recipients share, so a turn costs one send per client however many lines arrived, and no
Python work runs per client per line. A client that sent something in the turn gets the batch without its
own data (built only for those few senders).

Back-pressure instead of loss: a client whose queue is over its high-water mark is "behind"; while it is,
whoever feeds it is not read (with --echo the client itself, with --broadcast every client, and stdin waits
for `room`), so the senders slow to the pace of the slowest reader that is still reading. One that takes
nothing for STALL_TIMEOUT is dropped by the hub's stall watch.
"""

from __future__ import annotations

import asyncio
import enum

from tcpcli.core.fanout import FanOut
from tcpcli.engine.client import Client
from tcpcli.settings import ListenSettings

__all__ = ["Relay", "Relaying"]


class Relaying(enum.Enum):
    NONE = "none"  # client data only goes to the local output
    ECHO = "echo"
    BROADCAST = "broadcast"

    @staticmethod
    def chosen_by(listen: ListenSettings) -> Relaying:
        if listen.echo:
            return Relaying.ECHO
        if listen.broadcast:
            return Relaying.BROADCAST
        return Relaying.NONE


class Relay:
    """The set of connected clients and the fan-out between them."""

    def __init__(self, relaying: Relaying) -> None:
        self._relaying = relaying
        self._loop = asyncio.get_running_loop()
        self.clients: dict[Client, None] = {}  # insertion-ordered set: fan-out order is arrival order
        self._batch: list[tuple[Client | None, bytes]] = []
        self._flush_scheduled = False
        self.reading_paused = False  # stdout is behind (a new client starts paused too)
        self.behind: dict[Client, None] = {}  # clients over their high-water mark
        self.room = asyncio.Event()  # set while no client is behind: stdin may be read
        self.room.set()

    def add(self, client: Client) -> None:
        self.clients[client] = None
        if self.reading_paused:
            client.hold_reading("output", True)
        if self.behind and self._relaying is Relaying.BROADCAST:
            client.hold_reading("relay", True)

    def remove(self, client: Client) -> None:
        self.clients.pop(client, None)
        self.set_behind(client, False)

    def set_behind(self, client: Client, behind: bool) -> None:
        """A client's queue crossed its high (True) or low (False) mark: hold or release its senders."""
        if behind == (client in self.behind):
            return
        was_any = bool(self.behind)
        if behind:
            self.behind[client] = None
        else:
            del self.behind[client]
        if self._relaying is Relaying.ECHO:
            client.hold_reading("relay", behind)  # only its own data comes back to it
        elif self._relaying is Relaying.BROADCAST and was_any != bool(self.behind):
            for each in list(self.clients):
                each.hold_reading("relay", bool(self.behind))
        if self.behind:
            self.room.clear()
        else:
            self.room.set()

    def from_client(self, client: Client, data: bytes) -> None:
        if self._relaying is Relaying.ECHO:
            client.send(data)
        elif self._relaying is Relaying.BROADCAST:
            self._add_to_batch(client, data)

    def pause_reading(self, pause: bool) -> None:
        """stdout is behind: stop reading clients (their data waits in the kernel) until it catches up."""
        if pause == self.reading_paused:
            return
        self.reading_paused = pause
        for client in list(self.clients):
            client.hold_reading("output", pause)

    def from_local(self, data: bytes) -> None:
        """Local input goes to every client, in order with the broadcast traffic."""
        self._add_to_batch(None, data)

    def flush(self) -> None:
        """Send the pending batch now (the server calls it before stopping)."""
        self._flush_scheduled = False
        batch, self._batch = self._batch, []
        if not batch or not self.clients:
            return
        fan_out = FanOut(batch)
        everything, senders = fan_out.everything, fan_out.runs
        for client in list(self.clients):  # a send may drop a client, which changes the set
            if client in senders:
                if data := fan_out.without(client):  # made now: one sender's copy alive at a time
                    client.send(data)
            else:
                client.send(everything)

    def _add_to_batch(self, sender: Client | None, data: bytes) -> None:
        self._batch.append((sender, data))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)
