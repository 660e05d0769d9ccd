"""The bottom toolbar as a pure function of a stats snapshot and the terminal's width: testable without one.

prompt_toolkit cuts a toolbar that is too wide at the right edge, which is where the key hints are, so the
toolbar is laid out for the width it gets: at 80 columns everything that matters fits (peer, TLS, state, the
keys), and narrower it gives up detail in a fixed order (the encoding, long key names, byte counts, ...)
rather than the keys or a security warning.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from prompt_toolkit.formatted_text import StyleAndTextTuples

__all__ = ["LinkState", "Stats", "format_size", "toolbar_fragments"]


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
    tls: tuple[str, bool | None] | None = None  # (version, certificate verified) or None: plain TCP
    secret: bool = False  # the line being typed is secret (Ctrl-O, or the peer asked for a password)
    input_lines: int = 1  # lines in the input area (a paste): said when more than one


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_size(count: int) -> str:
    """`512 B`, `1.5 KiB`, `20.0 MiB`: short enough for a toolbar that refreshes while a flood runs."""
    size = float(count)
    for unit in _UNITS:
        if size < 1024 or unit == _UNITS[-1]:
            return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# Key hints, long and short, per state: one connection, then the keep-open server (where Ctrl-D only ends
# typed input and Ctrl-C stops the server).
_KEYS = {
    LinkState.OPEN: ("Ctrl-D: FIN  Ctrl-C: quit  Ctrl-O: secret", "^D FIN ^C quit ^O secret"),
    LinkState.HALF_CLOSED: ("Ctrl-C: quit", "^C quit"),
    LinkState.INPUT_ENDED: ("Ctrl-C: quit", "^C quit"),
    LinkState.CLOSED: ("", ""),
}
_SERVER_KEYS = {
    LinkState.OPEN: ("Ctrl-D: end input  Ctrl-C: stop  Ctrl-O: secret", "^D end ^C stop ^O secret"),
    LinkState.INPUT_ENDED: ("Ctrl-C: stop", "^C stop"),
    LinkState.CLOSED: ("", ""),
}

# Each part is a list of forms, widest first; "" means the part is left out. When the toolbar is too wide,
# these steps are taken in order, each moving one part to its next form, until it fits.
_NARROWING = ("encoding", "keys", "counts", "mode", "secret", "input", "tls", "clients", "counts", "keys")

Part = tuple[str, list[str]]  # (style class, forms)


def toolbar_fragments(stats: Stats, can_toggle: bool = False, width: int = 10_000) -> StyleAndTextTuples:
    """prompt_toolkit formatted text: `peer | [TLS |] [clients |] mode | encoding | in/out | state | keys`."""
    parts = _parts(stats, can_toggle)
    chosen = {name: 0 for name in parts}
    for name in _NARROWING:
        if _width(parts, chosen) <= width:
            break
        if name in parts:
            chosen[name] = min(chosen[name] + 1, len(parts[name][1]) - 1)
    shown = [(style, forms[chosen[name]]) for name, (style, forms) in parts.items() if forms[chosen[name]]]
    overflow = sum(len(text) for _style, text in shown) - width
    if overflow > 0:  # still too wide: the peer's name gives way, from its start (the port stays)
        style, peer = shown[0]
        shown[0] = (style, " ..." + peer[overflow + 4 :] if overflow + 4 < len(peer) else " ")
    fragments: StyleAndTextTuples = list(shown)
    return fragments


def _parts(stats: Stats, can_toggle: bool) -> dict[str, Part]:
    long_keys, short_keys = (_KEYS if stats.clients is None else _SERVER_KEYS).get(stats.state, ("", ""))
    if can_toggle and stats.state is not LinkState.CLOSED:
        other = "text" if stats.mode == "hex" else "hex"
        long_keys += f"  F2: {other}"
        short_keys += f" F2 {other}"
    counts = f"in {format_size(stats.received)} out {format_size(stats.sent)}"
    parts: dict[str, Part] = {"peer": ("class:toolbar.peer", [f" {stats.peer} "])}
    if stats.tls is not None:
        version, verified = stats.tls
        if verified is False:  # never dropped: the one thing a person must not miss
            parts["tls"] = ("class:toolbar.tls.unverified", [f"| {version} unverified ", "| TLS unverified "])
        else:
            parts["tls"] = ("class:toolbar.tls", [f"| {version} ", "| TLS "])
    if stats.clients is not None:
        clients = f"{stats.clients} client{'' if stats.clients == 1 else 's'}"
        parts["clients"] = ("class:toolbar.clients", [f"| {clients} ", f"| {stats.clients} "])
    parts["mode"] = ("class:toolbar", [f"| {stats.mode} ", ""])
    parts["encoding"] = ("class:toolbar", [f"| {stats.encoding} ", ""])
    parts["counts"] = ("class:toolbar", [f"| {counts} ", f"| {format_size(stats.received)} ", ""])
    parts["state"] = (f"class:toolbar.state.{stats.state.name.lower()}", [f"| {stats.state.value} "])
    if stats.secret:
        parts["secret"] = ("class:toolbar.secret", ["| SECRET: not echoed, not saved ", "| SECRET "])
    if stats.input_lines > 1:
        lines = stats.input_lines
        parts["input"] = ("class:toolbar.input", [f"| {lines} lines to send ", f"| {lines} lines "])
    if long_keys:
        parts["keys"] = ("class:toolbar.keys", [f"| {long_keys} ", f"| {short_keys} ", "| ^C quit "])
    return parts


def _width(parts: dict[str, Part], chosen: dict[str, int]) -> int:
    return sum(len(forms[chosen[name]]) for name, (_style, forms) in parts.items())
