"""--record for listen -k (the many-peer engine, engine.hub): each client a connection of the recording,
numbered in order of joining; `>` is what the client sent, `<` what tcpcli sent it.

Called on the hub's event loop: appending an event never blocks. When the writer falls behind, the hub is
asked to hold reading its clients (`hold(True)`) until the writer thread says it has room again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from tcpcli.engine.recorder import Recorder

if TYPE_CHECKING:
    from tcpcli.engine.seam import Peer

__all__ = ["HubRecording"]


class HubRecording:
    """Numbers clients as they join and records their traffic, FIN, RST and close."""

    def __init__(self, recorder: Recorder, hold: Callable[[bool], None]) -> None:
        self._recorder = recorder
        self._hold = hold
        self._numbers: dict[int, int] = {}  # id(client) -> its connection number, while it is connected
        self._joined = 0
        self._behind = False
        self._loop = asyncio.get_running_loop()

    def joined(self, client: Peer, server_address: str) -> None:
        self._joined += 1
        self._numbers[id(client)] = self._joined
        self._recorder.opened(self._joined, client.peer, server_address)

    def sent(self, client: Peer, data: bytes) -> None:
        self._data(client, "<", data)

    def received(self, client: Peer, data: bytes) -> None:
        self._data(client, ">", data)

    def finished(self, client: Peer) -> None:
        """The client's FIN."""
        number = self._numbers.get(id(client))
        if number is not None:
            self._recorder.event(number, "fin", ">")

    def left(self, client: Peer, reason: str) -> None:
        """Gone: `reset` by the client (its RST), else closed by us (our FIN)."""
        number = self._numbers.pop(id(client), None)
        if number is None:
            return
        if reason == "reset":
            self._recorder.event(number, "rst", ">")
        else:
            self._recorder.event(number, "fin", "<")
        self._recorder.event(number, "close")

    def _data(self, client: Peer, direction: str, data: bytes) -> None:
        number = self._numbers.get(id(client))
        if number is None:
            return  # a greeting before joining was recorded: cannot happen, joined() comes first
        if self._recorder.data(number, direction, data) and not self._behind:
            self._behind = True
            self._hold(True)
            self._recorder.when_room(self._room_from_writer)

    def _room_from_writer(self) -> None:
        """Called by the recorder's thread (or at once): back to the loop to release the hold."""
        self._loop.call_soon_threadsafe(self._caught_up)

    def _caught_up(self) -> None:
        self._behind = False
        self._hold(False)
