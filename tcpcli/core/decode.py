"""Bytes from the peer -> visible pieces, without ever failing on bad input.

A peer may send bytes that are invalid for the chosen codec, or split a multi-byte character across
reads. Decoding is incremental so split characters come out whole, and every invalid byte is kept
(as a marker make_visible turns into an INVALID ``\\xNN`` piece) instead of raising or being lost.
"""

from __future__ import annotations

import codecs
import re

from tcpcli.core.visible import Piece, PieceKind, VisibleFilter, merge_pieces

__all__ = ["MARK_ERRORS", "BinaryRenderer", "IncrementalSafeDecoder", "decode_marked", "lookup_text_encoding"]

# Name of the codecs error handler that maps each undecodable byte b to the lone surrogate U+DC00 + b.
# Unlike "surrogateescape" it covers bytes below 0x80 too (utf-16 odd bytes, shift_jis pairs).
MARK_ERRORS = "tcpcli-mark"


def _mark_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join([chr(0xDC00 + byte) for byte in bad]), error.end


codecs.register_error(MARK_ERRORS, _mark_bad_bytes)


def lookup_text_encoding(name: str) -> codecs.CodecInfo:
    """Look up a codec usable for text; LookupError for unknown names and bytes-to-bytes codecs (hex)."""
    info = codecs.lookup(name)
    if not getattr(info, "_is_text_encoding", True):
        raise LookupError(f"{name!r} is not a text encoding")
    return info


def decode_marked(data: bytes, encoding: str = "utf-8") -> str:
    """Decode in one go, undecodable bytes as markers (for whole values such as struct string fields)."""
    return data.decode(encoding, MARK_ERRORS)


# Python's incremental "utf-16" / "utf-32" decoders raise (not via the error handler) when a stream does not
# start with a BOM. Without one we read big-endian, the byte order RFC 2781 prescribes for that case.
_BOM_SNIFFED = {
    "utf-16": (2, (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-16-be"),
    "utf-32": (4, (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), "utf-32-be"),
}


def _incremental_decoder(info: codecs.CodecInfo) -> codecs.IncrementalDecoder:
    if info.incrementaldecoder is None:
        raise LookupError(f"codec {info.name!r} cannot decode incrementally")
    return info.incrementaldecoder(MARK_ERRORS)


class IncrementalSafeDecoder:
    """Decode a byte stream chunk by chunk into visible pieces; chunking never changes the result."""

    __slots__ = ("_decoder", "_filter", "_head", "_info", "_sniffing")

    def __init__(self, encoding: str) -> None:
        self._info = lookup_text_encoding(encoding)
        self._decoder = _incremental_decoder(self._info)
        self._filter = VisibleFilter()
        self._sniffing = self._info.name in _BOM_SNIFFED
        self._head = b""  # the first bytes, held while sniffing for a BOM

    def _decode(self, data: bytes, final: bool) -> str:
        if self._sniffing:
            size, boms, fallback = _BOM_SNIFFED[self._info.name]
            data = self._head + data
            if len(data) < size and not final:
                self._head = data
                return ""
            self._head = b""
            self._sniffing = False
            if len(data) >= size and not data.startswith(boms):
                self._decoder = _incremental_decoder(codecs.lookup(fallback))
        return self._decoder.decode(data, final)

    def feed(self, data: bytes) -> list[Piece]:
        return self._filter.feed(self._decode(data, False))

    def finish(self) -> list[Piece]:
        """End of stream: an incomplete trailing sequence becomes INVALID pieces; the decoder resets."""
        pieces = self._filter.feed(self._decode(b"", True))
        pieces += self._filter.finish()
        self._decoder = _incremental_decoder(self._info)
        self._sniffing = self._info.name in _BOM_SNIFFED
        return merge_pieces(pieces)


# Bytes shown as they are in the binary view: printable ASCII, tab and LF. Everything else is \xNN.
_BINARY_ESCAPES = re.compile("[^\t\n\x20-\x7e]+")
_BYTE_ESCAPE_TABLE = {byte: f"\\x{byte:02x}" for byte in range(256)}


class BinaryRenderer:
    """The ``-b`` view: no decoding at all, so each byte maps to one visible token and none is hidden."""

    __slots__ = ()

    def feed(self, data: bytes) -> list[Piece]:
        # latin-1 maps byte b to U+00b one to one, so string regex and translate work on bytes at C speed.
        text = data.decode("latin-1")
        pieces: list[Piece] = []
        pos = 0
        for match in _BINARY_ESCAPES.finditer(text):
            start, end = match.span()
            if start > pos:
                pieces.append(Piece(PieceKind.TEXT, text[pos:start]))
            pieces.append(Piece(PieceKind.ESCAPE, match.group().translate(_BYTE_ESCAPE_TABLE)))
            pos = end
        if pos < len(text):
            pieces.append(Piece(PieceKind.TEXT, text[pos:]))
        return pieces

    def finish(self) -> list[Piece]:
        """Nothing is ever held back; present so every renderer has the same feed()/finish() shape."""
        return []
