"""How a dialogue's outcome is worded: the one failure line, and `--print`'s JSON of captured groups.

A failure names the step and shows what arrived since the previous match, made visible (the transcript's
escapes: `\\r \\n \\0 \\xNN`, a `"` as `\\x22`) and cut to its last `SHOWN_BYTES` bytes:
`expect #2 /\\+PONG/ not seen within 2s; received "-ERR nope\\r\\n"`.
"""

from __future__ import annotations

from collections.abc import Mapping

from tcpcli.core.steps import Expect, FailOn
from tcpcli.core.transcript import visible_bytes

__all__ = ["SHOWN_BYTES", "captures_json", "fail_on_matched", "not_seen", "peer_closed", "received_text"]

SHOWN_BYTES = 200  # the tail of the received bytes a failure line shows


def received_text(data: bytes) -> str:
    """`received "..."` (the last SHOWN_BYTES bytes, visible), or `received nothing`."""
    if not data:
        return "received nothing"
    cut = ""
    if len(data) > SHOWN_BYTES:
        cut = f" (the last {SHOWN_BYTES} of {len(data)} bytes)"
        data = data[-SHOWN_BYTES:]
    text = visible_bytes(data).replace(b'"', b"\\x22").decode("ascii")
    return f'received{cut} "{text}"'


def _seconds(seconds: float) -> str:
    return f"{seconds:g}s"


def not_seen(expect: Expect, received: bytes) -> str:
    return (
        f"expect #{expect.number} /{expect.source}/ not seen within {_seconds(expect.within)}; "
        f"{received_text(received)}"
    )


def peer_closed(expect: Expect, received: bytes) -> str:
    return (
        f"expect #{expect.number} /{expect.source}/: the peer closed the connection first; "
        f"{received_text(received)}"
    )


def fail_on_matched(fail_on: FailOn, expect: Expect | None, received: bytes) -> str:
    during = "" if expect is None else f" while waiting for expect #{expect.number} /{expect.source}/"
    return f"fail-on /{fail_on.source}/ matched{during}; {received_text(received)}"


def captures_json(captures: Mapping[str, bytes | None]) -> str:
    """One JSON object, names in order; bytes decoded as UTF-8 (invalid bytes as `\\xNN` text), ASCII only."""
    import json  # only --print with named groups needs it: off the common start-up path

    decoded = {
        name: None if value is None else value.decode("utf-8", "backslashreplace")
        for name, value in captures.items()
    }
    return json.dumps(decoded, ensure_ascii=True)
