"""Line-ending policy: `-C` turns LF into CRLF on the way out, even when a CRLF is split across reads."""

from __future__ import annotations

_CR = 0x0D


class CrlfTranslator:
    """LF -> CRLF for a byte stream; an LF that already follows a CR is left alone (no CR CR LF).

    Holds one bit of state, whether the previous chunk ended in CR, so chunking never changes the output.
    """

    def __init__(self) -> None:
        self._after_cr = False

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        if b"\n" not in data:
            self._after_cr = data[-1] == _CR
            return data
        # Normalise existing CRLFs to LF first, then expand every LF: one pass each, no per-byte Python work.
        out = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if self._after_cr and data[0:1] == b"\n":
            out = out[1:]  # the CR of this CRLF went out at the end of the previous chunk
        self._after_cr = data[-1] == _CR
        return out


# Codecs that start every encode() with a byte-order mark: one per typed line would litter the stream, so
# lines go out without it, big-endian for UTF-16/32 (RFC 2781's default, which the decoder assumes too).
_WITHOUT_BOM = {"utf-16": "utf-16-be", "utf-32": "utf-32-be", "utf-8-sig": "utf-8"}


def typed_line(text: str, encoding: str, eol: bytes) -> bytes:
    """The bytes sent for one typed line: the text in the session's codec plus the chosen line ending."""
    return text.encode(_WITHOUT_BOM.get(encoding, encoding), errors="strict") + eol
