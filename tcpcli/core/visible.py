"""Make peer text safe to print: the single terminal-safety choke point.

Every character a terminal could interpret (controls, escape sequences, bidi overrides, invisible
format characters) is replaced by a visible escape, so peer data can never move the cursor, retitle
the window or reorder what the user reads. The output is a list of pieces whose kind tells the
renderer how to style it; the text of every piece is printable apart from "\\n" and "\\t".
"""

from __future__ import annotations

import enum
import re
from typing import NamedTuple

__all__ = ["Piece", "PieceKind", "VisibleFilter", "escape_char", "make_visible", "merge_pieces"]


class PieceKind(enum.Enum):
    """What a piece of rendered text stands for, so each kind can get its own style."""

    TEXT = "text"  # peer text, printable as is
    ESCAPE = "escape"  # a control or format character made visible, e.g. \x1b or \u202e
    INVALID = "invalid"  # a byte invalid for the codec, e.g. \xff


class Piece(NamedTuple):
    kind: PieceKind
    text: str


# Lone surrogates U+DC00..U+DCFF mark undecodable bytes (see decode.py): U+DC00 + byte value.
_MARK_BASE = 0xDC00
_MARK_LAST = 0xDCFF

# Candidates for escaping: runs of anything but printable ASCII, tab and LF, with CR on its own so
# that a run of non-ASCII letters (already printable) is not spoilt by the CR of a CRLF line end.
_CANDIDATES = re.compile("\r|[^\t\n\r\x20-\x7e]+")


def escape_char(char: str) -> Piece:
    """The visible form of one non-printable character (never "\\n" or "\\t")."""
    code = ord(char)
    if _MARK_BASE <= code <= _MARK_LAST:
        return Piece(PieceKind.INVALID, f"\\x{code - _MARK_BASE:02x}")
    if code == 0x0D:
        return Piece(PieceKind.ESCAPE, "\\r")
    if code < 0x20 or code == 0x7F:
        return Piece(PieceKind.ESCAPE, f"\\x{code:02x}")
    if code <= 0xFFFF:
        return Piece(PieceKind.ESCAPE, f"\\u{code:04x}")
    return Piece(PieceKind.ESCAPE, f"\\U{code:08x}")


class _Builder:
    """Collects pieces, merging neighbours of the same kind so renderers get few, long pieces."""

    __slots__ = ("_kind", "_parts", "pieces")

    def __init__(self) -> None:
        self.pieces: list[Piece] = []
        self._kind: PieceKind | None = None
        self._parts: list[str] = []

    def add(self, kind: PieceKind, text: str) -> None:
        if kind is not self._kind:
            self._flush()
            self._kind = kind
        self._parts.append(text)

    def _flush(self) -> None:
        if self._kind is not None and self._parts:
            self.pieces.append(Piece(self._kind, "".join(self._parts)))
        self._parts = []

    def done(self) -> list[Piece]:
        self._flush()
        self._kind = None
        return self.pieces


def _add_run(out: _Builder, run: str) -> None:
    """Add a run that holds at least one non-printable character; CR is handled by the caller."""
    for char in run:
        if char.isprintable():
            out.add(PieceKind.TEXT, char)
        else:
            kind, text = escape_char(char)
            out.add(kind, text)


def make_visible(text: str) -> list[Piece]:
    """Split text into printable pieces; CRLF becomes a plain line break, any other CR shows as \\r."""
    if text.isprintable():
        # The common case (plain text without line breaks) costs one C-level scan.
        return [Piece(PieceKind.TEXT, text)] if text else []
    out = _Builder()
    pos = 0
    for match in _CANDIDATES.finditer(text):
        start, end = match.span()
        if start > pos:
            out.add(PieceKind.TEXT, text[pos:start])
        run = match.group()
        if run == "\r":
            if text.startswith("\n", end):
                pass  # CRLF: drop the CR, the LF that follows is the line break
            else:
                out.add(PieceKind.ESCAPE, "\\r")
        elif run.isprintable():
            out.add(PieceKind.TEXT, run)  # non-ASCII letters, all printable
        else:
            _add_run(out, run)
        pos = end
    if pos < len(text):
        out.add(PieceKind.TEXT, text[pos:])
    return out.done()


def merge_pieces(pieces: list[Piece]) -> list[Piece]:
    """Merge neighbouring pieces of the same kind (e.g. the outputs of several feed() calls)."""
    out = _Builder()
    for kind, text in pieces:
        out.add(kind, text)
    return out.done()


class VisibleFilter:
    """Incremental make_visible: holds back a trailing CR until the next chunk shows whether LF follows."""

    __slots__ = ("_held_cr",)

    def __init__(self) -> None:
        self._held_cr = False

    def feed(self, text: str) -> list[Piece]:
        if self._held_cr:
            text = "\r" + text
        self._held_cr = text.endswith("\r")
        if self._held_cr:
            text = text[:-1]
        return make_visible(text)

    def finish(self) -> list[Piece]:
        """End of text: a held-back CR had no LF after it, so it is shown as \\r."""
        held, self._held_cr = self._held_cr, False
        return [Piece(PieceKind.ESCAPE, "\\r")] if held else []
