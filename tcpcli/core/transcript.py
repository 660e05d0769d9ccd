"""The transcript's line format: who said what, one direction-marked line per line of data.

Shared by the relay (`#3 > PING\\r\\n`), the dialogue's `-v` transcript (`> PING\\r\\n`, no connection
number) and anything else that shows a conversation as text. Pure: bytes in, bytes out.

A data line is PREFIX + the bytes made visible + a line end:
- printable ASCII as itself, except the backslash, shown as `\\\\`;
- `\\r \\n \\t \\0` for CR, LF, tab and NUL; `\\xNN` for every other byte (non-ASCII included: a
  transcript is about bytes, and a byte-per-escape view never hides which bytes were sent);
- an LF in the data ends the transcript line, shown as `\\n` at its end, so `a\\nb` in one chunk gives the
  lines `a\\n` and `b`; a chunk's last piece without an LF is a line of its own (the next chunk starts a new
  line: chunk boundaries stay visible, as in socat -v).
Event lines (`FIN`, `RST`, `STALL`, `CUT`, `RESET`) are told apart from data that happens to read the same:
a data line whose whole text is an event word has its first letter escaped (`\\x46IN` for the data "FIN"),
so a bare event word after the prefix is always an event.
"""

from __future__ import annotations

__all__ = [
    "EVENT_WORDS",
    "closed_line",
    "data_lines",
    "event_line",
    "line_prefix",
    "open_line",
    "visible_bytes",
]

EVENT_WORDS = frozenset({b"FIN", b"RST", b"STALL", b"CUT", b"RESET"})

# Bytes shown as themselves: printable ASCII but the backslash (which starts every escape).
_PLAIN = bytes(b for b in range(0x20, 0x7F) if b != 0x5C)
_NAMED = {0x0D: b"\\r", 0x0A: b"\\n", 0x09: b"\\t", 0x00: b"\\0", 0x5C: b"\\\\"}
_PLAIN_OR_LF = _PLAIN + b"\n"
_FILL = 0  # pads every visible form to 4 bytes; never in the output (a NUL is shown as \0), so deleted


def _visible_form(byte: int) -> bytes:
    """One byte's visible form padded to 4 bytes; LF is kept raw (data_lines splits lines on it)."""
    form = bytes([byte]) if byte in _PLAIN or byte == 0x0A else _NAMED.get(byte, b"\\x%02x" % byte)
    return form.ljust(4, bytes([_FILL]))


# Column k of every byte's 4-byte form, as a bytes.translate table: formatting is four translations and
# four strided copies, all C-level, then one pass deleting the padding (no Python code runs per byte).
_COLUMNS = [bytes(_visible_form(b)[k] for b in range(256)) for k in range(4)]


def _visible_raw_lf(data: bytes) -> bytes:
    """`data` made visible, LFs left raw. Plain text (the common case) is returned as it is."""
    special = data.translate(None, _PLAIN_OR_LF)
    if not special:
        return data
    if not special.translate(None, b"\r\t\0\\"):
        # Only the named escapes (a text protocol's CR LF): a C-level replace each, the backslash first (the
        # others add backslashes); 7x quicker than the padded columns below.
        text = data.replace(b"\\", b"\\\\") if b"\\" in special else data
        for byte, name in ((b"\r", b"\\r"), (b"\t", b"\\t"), (b"\0", b"\\0")):
            if byte in special:
                text = text.replace(byte, name)
        return text
    out = bytearray(4 * len(data))
    for column, table in enumerate(_COLUMNS):
        out[column::4] = data.translate(table)
    return bytes(out.translate(None, bytes([_FILL])))


def visible_bytes(data: bytes) -> bytes:
    """`data` as one printable ASCII line (LF shown as `\\n`): the escapes of the module docstring."""
    return _visible_raw_lf(data).replace(b"\n", b"\\n")


def data_lines(prefix: bytes, chunk: bytes) -> bytes:
    """The transcript lines of one received chunk, each starting with `prefix` and ending with a real LF.

    `prefix` is what line_prefix() gives (e.g. `b"#3 > "`). An empty chunk gives b"".
    """
    if not chunk:
        return b""
    visible = _visible_raw_lf(chunk)
    ends_with_lf = visible.endswith(b"\n")
    if ends_with_lf:
        visible = visible[:-1]
    else:
        last = visible[visible.rfind(b"\n") + 1 :]
        if last in EVENT_WORDS:  # the data reads like an event line: escape its first letter
            visible = visible[: -len(last)] + b"\\x%02x" % last[0] + last[1:]
    body = visible.replace(b"\n", b"\\n\n" + prefix)
    return prefix + body + (b"\\n\n" if ends_with_lf else b"\n")


def line_prefix(conn: int | None, direction: str | None, stamp: str | None = None) -> bytes:
    """`[HH:MM:SS.ffffff ]#N D ` (or without the number for a single conversation, without D for an event
    of the whole connection such as CUT). `direction` is ">" (client to server) or "<" (server to client).
    """
    parts = [stamp] if stamp else []
    if conn is not None:
        parts.append(f"#{conn}")
    if direction is not None:
        parts.append(direction)
    return (" ".join(parts) + " ").encode("ascii") if parts else b""


def event_line(prefix: bytes, word: bytes) -> bytes:
    """An event line: prefix + one of EVENT_WORDS (ValueError for any other word)."""
    if word not in EVENT_WORDS:
        raise ValueError(f"not a transcript event: {word!r}")
    return prefix + word + b"\n"


def open_line(prefix: bytes, client: str, upstream: str, faulty: bool | None = None) -> bytes:
    """`#N open CLIENT -> UPSTREAM`, and ` (faulty)` / ` (not faulty)` when faults were asked for.

    The addresses are the program's own formatting (host:port, [v6]:port, unix paths made safe by caller).
    """
    mark = "" if faulty is None else (" (faulty)" if faulty else " (not faulty)")
    return prefix + f"open {client} -> {upstream}{mark}\n".encode("utf-8", "backslashreplace")


def closed_line(prefix: bytes, sent_up: int, sent_down: int, seconds: float) -> bytes:
    """`#N closed: A bytes >, B bytes <, S.SSS s` (A client to upstream, B upstream to client)."""
    return prefix + f"closed: {sent_up} bytes >, {sent_down} bytes <, {seconds:.3f} s\n".encode("ascii")
