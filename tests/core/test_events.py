"""Event wording: what a person reads on stderr with -v."""

from __future__ import annotations

from tcpcli.core.events import Closed, Connected, InputEnded, TimedOut, describe, format_address


def test_ipv4_clients_of_a_dual_stack_listener_are_shown_as_ipv4() -> None:
    assert format_address("::ffff:127.0.0.1", 80) == "127.0.0.1:80"
    assert format_address("::1", 80) == "[::1]:80"
    assert format_address("::ffff:1", 80) == "[::ffff:1]:80"


def test_lifecycle_lines() -> None:
    assert describe(Connected("127.0.0.1:5", "[::1]:80")) == "connected 127.0.0.1:5 -> [::1]:80"
    assert describe(InputEnded(sent_fin=True)) == "input ended: sent FIN, still reading"
    assert describe(TimedOut("idle", 0.5)) == "idle timeout: no traffic for 0.5 s (-i 0.5)"
    assert describe(Closed(1, 2, 0.25, "h:1")) == "closed h:1: sent 1 byte, received 2 bytes in 0.250 s"
