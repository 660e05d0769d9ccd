"""Typed input -> bytes: hex lines (`-x`) and escape strings (`-b` input, `--greet`).

A typo must never send something other than what the user meant, so parsing is strict: anything
unclear is a HexInputError naming the bad token and where it starts, and nothing is sent.
"""

from __future__ import annotations

import codecs
import re

from tcpcli.core.visible import one_line

__all__ = ["HexInputError", "parse_escapes", "parse_hex"]


def _quote(text: str) -> str:
    """Quote a piece of the user's input for an error message, its control characters made visible."""
    return "'" + one_line(text) + "'"


class HexInputError(ValueError):
    """Typed input that cannot be turned into bytes; position is the 0-based index of the bad token."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


# Tokens are separated by whitespace, commas and colons ("01 02", "01,02", "01:02", mixed).
_TOKEN = re.compile(r"[^\s,:]+")
# Inside a token: an optional 0x or \x prefix, then hex digits; "\x01\x02" and "0x01" repeat this.
_PART = re.compile(r"(0[xX]|\\[xX])?([0-9a-fA-F]*)")


def _hex_token(token: str, start: int, out: bytearray) -> None:
    pos = 0
    while pos < len(token):
        match = _PART.match(token, pos)
        assert match is not None  # the pattern can match the empty string, so it always matches
        prefix, digits = match.groups()
        if not prefix and not digits:
            raise HexInputError(
                f"bad hex {_quote(token)} at position {start}: {_quote(token[pos])} is not a hex digit", start
            )
        if not digits:
            raise HexInputError(
                f"bad hex {_quote(token)} at position {start}: no digits after {_quote(prefix)}", start
            )
        if len(digits) % 2:
            raise HexInputError(
                f"bad hex {_quote(token)} at position {start}: odd number of hex digits"
                " (write each byte as two digits, e.g. 0a)",
                start,
            )
        out += bytes.fromhex(digits)
        pos = match.end()


def parse_hex(text: str) -> bytes:
    """`01 02 ff`, `0x01 0x02`, `\\x01\\x02`, `0102ff`, `01:02:ff`, `01,02` -> bytes; case does not matter."""
    out = bytearray()
    for token in _TOKEN.finditer(text):
        _hex_token(token.group(), token.start(), out)
    return bytes(out)


_SIMPLE_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\"}
_HEX2 = re.compile(r"[0-9a-fA-F]{2}")


def _encode_run(
    encoder: codecs.IncrementalEncoder, encoding: str, text: str, start: int, end: int, final: bool
) -> bytes:
    try:
        return encoder.encode(text[start:end], final)
    except UnicodeEncodeError as exc:
        where = start + exc.start
        raise HexInputError(
            f"character {_quote(text[where])} at position {where} cannot be encoded as {encoding}", where
        ) from None


def parse_escapes(text: str, encoding: str = "utf-8") -> bytes:
    r"""Interpret `\n \r \t \0 \xNN \\`; other characters are encoded with `encoding`.

    `\xNN` is a raw byte, never a character, so `\xff` sends 0xff whatever the encoding. `\0` is NUL
    and never starts an octal number. One incremental encoder for the whole text keeps a stateful codec
    (utf-16: a single BOM) consistent across the literal runs between escapes.
    """
    encoder = codecs.getincrementalencoder(encoding)()
    out = bytearray()
    run_start = 0  # start of the literal run not yet encoded
    pos = text.find("\\")
    while pos != -1:
        out += _encode_run(encoder, encoding, text, run_start, pos, False)
        code = text[pos + 1 : pos + 2]
        if code in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[code]
            run_start = pos + 2
        elif code in ("x", "X") and _HEX2.fullmatch(text, pos + 2, pos + 4):
            out.append(int(text[pos + 2 : pos + 4], 16))
            run_start = pos + 4
        elif code in ("x", "X"):
            bad = _quote(text[pos : pos + 4])
            raise HexInputError(f"bad escape {bad} at position {pos}: \\x needs two hex digits", pos)
        elif not code:
            raise HexInputError(f"lone backslash at position {pos} (write \\\\ for a backslash)", pos)
        else:
            raise HexInputError(
                f"unknown escape {_quote(text[pos : pos + 2])} at position {pos}"
                " (known: \\n \\r \\t \\0 \\xNN \\\\)",
                pos,
            )
        pos = text.find("\\", run_start)
    out += _encode_run(encoder, encoding, text, run_start, len(text), True)
    return bytes(out)
