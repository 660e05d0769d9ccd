"""The bottom toolbar as a pure function of a stats snapshot: what it shows is testable without a terminal."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from prompt_toolkit.formatted_text import StyleAndTextTuples


class LinkState(enum.Enum):
    OPEN = "open"
    HALF_CLOSED = "half-closed"  # we sent FIN (Ctrl-D); the peer may still talk
    INPUT_ENDED = "input ended"  # Ctrl-D with --no-half-close: nothing more is sent, but no FIN either
    CLOSED = "closed"


@dataclass(frozen=True)
class Stats:
    peer: str
    mode: str  # text, binary, hex, struct
    encoding: str
    received: int
    sent: int
    state: LinkState
    clients: int | None = None  # the keep-open server: how many are connected (None: one connection)


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_size(count: int) -> str:
    """`512 B`, `1.5 KiB`, `20.0 MiB`: short enough for a toolbar that refreshes while a flood runs."""
    size = float(count)
    for unit in _UNITS:
        if size < 1024 or unit == _UNITS[-1]:
            return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


_KEYS = {
    LinkState.OPEN: "Ctrl-D: FIN  Ctrl-C: quit",
    LinkState.HALF_CLOSED: "Ctrl-C: quit",
    LinkState.INPUT_ENDED: "Ctrl-C: quit",
    LinkState.CLOSED: "",
}


# The keep-open server: Ctrl-D only ends typed input (the server goes on), Ctrl-C stops the server.
_SERVER_KEYS = {
    LinkState.OPEN: "Ctrl-D: end input  Ctrl-C: stop",
    LinkState.INPUT_ENDED: "Ctrl-C: stop",
    LinkState.CLOSED: "",
}


def toolbar_fragments(stats: Stats, can_toggle: bool = False) -> StyleAndTextTuples:
    """prompt_toolkit formatted text: `peer | [clients |] mode | encoding | in/out | state | keys`."""
    keys = _KEYS[stats.state] if stats.clients is None else _SERVER_KEYS.get(stats.state, "")
    if can_toggle and stats.state is not LinkState.CLOSED:
        keys += "  F2: " + ("text" if stats.mode == "hex" else "hex")
    parts: StyleAndTextTuples = [
        ("class:toolbar.peer", f" {stats.peer} "),
        *_client_count(stats.clients),
        ("class:toolbar", f"| {stats.mode} | {stats.encoding} "),
        ("class:toolbar", f"| in {format_size(stats.received)} out {format_size(stats.sent)} "),
        (f"class:toolbar.state.{stats.state.name.lower()}", f"| {stats.state.value} "),
    ]
    if keys:
        parts.append(("class:toolbar.keys", f"| {keys} "))
    return parts


def _client_count(clients: int | None) -> StyleAndTextTuples:
    if clients is None:
        return []
    return [("class:toolbar.clients", f"| {clients} client{'' if clients == 1 else 's'} ")]
