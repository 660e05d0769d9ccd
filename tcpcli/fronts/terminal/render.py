"""Pieces and session messages -> rich `Text` with styles.

Peer data reaches rich only as already-visible pieces (core/visible.py), appended as plain strings with a
style: never parsed as markup, so `[bold]` from a peer stays literal text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from rich.console import Console
from rich.text import Text

from tcpcli.core.visible import Piece, PieceKind, make_visible

# One place for every style, so "received", "sent" and "ours" always look different.
RECEIVED = ""  # the terminal's own colour: what the peer says is the main thing on screen
ESCAPED = "bold magenta"  # a control or escape sequence made visible
INVALID = "bold red"  # a byte the codec could not decode
ECHO = "cyan"  # the local echo of a sent line
EVENT = "yellow"  # connected, FIN, closed
WARNING = "bold yellow"
NOTE = "italic yellow"  # flood notes: what was not shown
STAMP = "dim"  # -t timestamps
HEADER = "bold"  # the --struct table header
LABEL = "bold blue"  # `[1.2.3.4:5678] ` before a line from one of the keep-open server's clients

_PIECE_STYLES = {PieceKind.TEXT: RECEIVED, PieceKind.ESCAPE: ESCAPED, PieceKind.INVALID: INVALID}

EVENT_PREFIX = "-- "
ECHO_PREFIX = "> "


def make_console(file: TextIO, color: bool) -> Console:
    """The data console: no markup, no highlighting, no emoji codes; colour only when asked for."""
    return Console(
        file=file,
        force_terminal=True,
        color_system="standard" if color else None,
        no_color=not color,
        markup=False,
        highlight=False,
        emoji=False,
        soft_wrap=True,
        legacy_windows=False,
    )


def append_pieces(out: Text, pieces: Iterable[Piece]) -> Text:
    """Append decoded peer pieces, each kind in its own style."""
    for kind, text in pieces:
        out.append(text, _PIECE_STYLES[kind] or None)
    return out


def safe_text(message: str, style: str) -> Text:
    """Any string that might hold a control character (typed text, OS messages) made visible, one style."""
    out = Text()
    for _kind, text in make_visible(message):
        out.append(text, style or None)
    return out


def event_line(message: str, style: str = EVENT) -> Text:
    """A session event on a line of its own: `-- peer closed its side (FIN)`."""
    out = safe_text(EVENT_PREFIX + message, style)
    out.append("\n")
    return out


def echo_text(lines: list[str]) -> Text:
    """The local echo of sent lines, each on a line of its own after `> `: never mistaken for peer data."""
    out = Text()
    for line in lines:
        out.append_text(safe_text(ECHO_PREFIX + line, ECHO))
        out.append("\n")
    return out


def stamp_text(stamp: str, own_line: bool) -> Text:
    """A `-t` timestamp: before the chunk on the same line, or on its own line in line-based views."""
    return Text(f"[{stamp}]" + ("\n" if own_line else " "), STAMP)
