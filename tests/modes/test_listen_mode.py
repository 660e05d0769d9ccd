"""modes.listen: what it tells the user before handing the clients to the many-peer engine."""

from __future__ import annotations

from tests.listen_helpers import running


def test_q_and_no_half_close_with_k_are_not_called_unapplied() -> None:
    """The engine honours -q and --no-half-close with -k now; the mode's old warning said it ignored them."""
    with running("-l", "-k", "-v", "-q", "5", "--no-half-close", "127.0.0.1", "0") as server:
        lines = []
        with server.connect():
            while "connected" not in (lines or [""])[-1]:  # every line up to the client's, warnings included
                lines.append(server.stderr_line())
        server.stop()
        lines.append(server.rest_of_stderr())
    assert not [line for line in lines if "not applied" in line]
