"""The clock of a person's session (-i, -q) is the connection's link, read as the session needs it."""

from __future__ import annotations

import pytest

from tcpcli.core.link import Link, LinkPolicy
from tcpcli.interactive.clock import Ending, check_clock


def test_no_clock_option_means_no_deadline() -> None:
    assert check_clock(Link(0.0, LinkPolicy(), input_is_terminal=True), 100.0) is None


def test_idle_timeout_waits_for_its_deadline_then_ends_with_exit_75() -> None:
    idle = Link(10.0, LinkPolicy(idle_timeout=2.0), input_is_terminal=True)
    assert check_clock(idle, 11.5) == pytest.approx(0.5)
    ending = check_clock(idle, 12.0)
    assert isinstance(ending, Ending) and ending.error is not None and ending.error.exit_code == 75
    assert ending.message == ending.error.message == "idle timeout: no traffic for 2 s (-i 2)"


def test_quit_after_eof_has_no_deadline_before_ctrl_d_then_ends_with_exit_0() -> None:
    quit_after = Link(0.0, LinkPolicy(quit_after_eof=1.0), input_is_terminal=True)
    assert check_clock(quit_after, 5.0) is None  # the session waits for Ctrl-D itself: no polling
    quit_after.on_input_ended(5.0)
    assert check_clock(quit_after, 5.5) == pytest.approx(0.5)
    assert check_clock(quit_after, 6.0) == Ending(None, "-q: peer still open 1 s after input ended")
