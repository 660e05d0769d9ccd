"""When the transcript front lets the relay go on, connections resume from a random one, not in accept order
(in accept order the first few refilled the front's buffer before later ones were read: 4 s vs 48 s median
first byte back for the first and last 100 of 1,000 connections)."""

from __future__ import annotations

import socket

from tcpcli.engine.relay import Relay
from tcpcli.report import Reporter
from tcpcli.settings import Environment, Flags
from tcpcli.validate import validate


class _Conn:
    """Stands in for a relayed connection: records when it was told to go on (no network involved)."""

    def __init__(self, name: int, order: list[int]) -> None:
        self.name = name
        self._order = order

    def hold_reading(self, hold: bool) -> None:
        if not hold:
            self._order.append(self.name)


def test_resuming_starts_from_a_different_connection_over_time() -> None:
    settings = validate(Flags(args=("127.0.0.1", "0"), listen=True, to="127.0.0.1:9"), Environment())
    with socket.socket() as listener:
        relay = Relay(listener, settings, Reporter(), None, None, None)
        order: list[int] = []
        for name in range(10):
            relay._conns[_Conn(name, order)] = None  # type: ignore[index]
        firsts = set()
        for _ in range(60):
            order.clear()
            relay.hold_reading(True)
            relay.hold_reading(False)
            assert sorted(order) == list(range(10))  # every connection goes on, once
            firsts.add(order[0])
        assert len(firsts) > 3  # not always the first accepted
