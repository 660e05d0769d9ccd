"""Make peer text safe to print: the single terminal-safety choke point.

Every character a terminal could interpret (controls, escape sequences, bidi overrides, invisible
format characters) is replaced by a visible escape, so peer data can never move the cursor, retitle
the window or reorder what the user reads. The output is a list of pieces whose kind tells the
renderer how to style it; the text of every piece is printable apart from "\\n" and "\\t".
"""

from __future__ import annotations

import enum
import itertools
import re
from typing import NamedTuple

__all__ = ["Piece", "PieceKind", "VisibleFilter", "escape_char", "make_visible", "merge_pieces", "one_line"]


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

# Candidates for escaping: runs of anything but printable ASCII, tab and LF. A run can still be
# printable (non-ASCII letters); only then is it looked at character by character.
_CANDIDATES = re.compile("([^\t\n\x20-\x7e]+)")


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


# The common escapes, looked up instead of formatted: controls, C1 and the invalid-byte markers.
_KNOWN = {
    char: escape_char(char)
    for char in map(chr, [*range(0x20), *range(0x7F, 0xA0), *range(_MARK_BASE, _MARK_LAST + 1)])
    if char not in "\t\n"
}


def _char_piece(char: str) -> tuple[PieceKind, str]:
    known = _KNOWN.get(char)
    if known is not None:
        return known
    return (PieceKind.TEXT, char) if char.isprintable() else escape_char(char)


def make_visible(text: str) -> list[Piece]:
    """Split text into printable pieces; CRLF becomes a plain line break, any other CR shows as \\r.

    Neighbouring pieces always differ in kind, so a renderer gets few, long pieces.
    """
    if text.isprintable():
        # The common case (plain text without line breaks) costs one C-level scan.
        return [Piece(PieceKind.TEXT, text)] if text else []
    if "\r" in text:
        text = text.replace("\r\n", "\n")  # every CR left after this is a lone one
    parts = _CANDIDATES.split(text)  # text, run, text, run, ..., text
    if len(parts) == 1:
        return [Piece(PieceKind.TEXT, text)]  # only tabs and line feeds
    pieces: list[Piece] = []
    kind = PieceKind.TEXT
    texts = [parts[0]]
    for index in range(1, len(parts), 2):
        run = parts[index]
        chars = [(PieceKind.TEXT, run)] if run.isprintable() else [_char_piece(char) for char in run]
        chars.append((PieceKind.TEXT, parts[index + 1]))
        for char_kind, char_text in chars:
            if char_kind is not kind:
                pieces.append(Piece(kind, "".join(texts)))
                kind, texts = char_kind, []
            texts.append(char_text)
    pieces.append(Piece(kind, "".join(texts)))
    return [piece for piece in pieces if piece.text]


def one_line(text: str) -> str:
    """TEXT as one safe printable line: the one helper for reports, table cells, certificates, input errors.

    Everything `make_visible` escapes is escaped, and so are the characters it leaves for a multi-line view:
    LF as \\n, tab as \\t, and every CR as \\r (a CRLF too: in one line it is two characters, not a break).
    """
    if text.isprintable():
        return text  # the common case: one C-level scan
    return "\\r".join(_one_line_part(part) for part in text.split("\r"))


def _one_line_part(text: str) -> str:
    visible = "".join(piece.text for piece in make_visible(text))
    return visible.replace("\n", "\\n").replace("\t", "\\t")


def merge_pieces(pieces: list[Piece]) -> list[Piece]:
    """Merge neighbouring pieces of the same kind (e.g. the outputs of several feed() calls)."""
    return [
        Piece(kind, "".join(piece.text for piece in group))
        for kind, group in itertools.groupby(pieces, key=lambda piece: piece.kind)
    ]


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
