"""Hex dump lines in the `hexdump -C -v` layout, with a running offset across received chunks.

Each chunk is dumped as soon as it arrives, so its first line starts at the running offset and holds
up to 16 bytes counted from there; the hex-log adds a direction marker and a timestamp header. The
hex view is a hot path (a flood of binary data), so large chunks are formatted block-wise by C-level
operations, with no Python code running per byte or per line.
"""

from __future__ import annotations

import binascii
import contextlib
import struct
from collections.abc import Iterator

__all__ = ["BYTES_PER_LINE", "HexDumper", "format_hex_bytes", "format_hex_lines", "format_hex_log"]

BYTES_PER_LINE = 16

# The ASCII column: printable ASCII as is, everything else (controls, DEL, bytes >= 0x80) as ".".
_ASCII_COLUMN = bytes(b if 0x20 <= b <= 0x7E else 0x2E for b in range(256))


def _line(offset: int, data: bytes) -> str:
    """One line of up to 16 bytes, padded so the ascii column is always at the same place."""
    hexes = data.hex(" ").ljust(3 * BYTES_PER_LINE - 1)
    return f"{offset:08x}  {hexes[:23]}  {hexes[24:]}  |{data.translate(_ASCII_COLUMN).decode('ascii')}|\n"


# --- block formatting (the hot path) ---------------------------------------------------------------
# A line is 79 bytes: offset (8) "  " hex 0-7 (24, "xx " each) " " hex 8-15 (24) " |" ascii (16) "|\n".
# 8 lines are 632 = 79 * 8 bytes, so across a group of 8 lines every field lies on a grid of 8-byte
# units that repeats every 79 units. A field of 1/8 of the lines is then filled by one strided
# memoryview assignment of 8-byte units, from sources built whole in C: binascii.hexlify for the hex
# columns, bytes.translate for the ascii column and one big integer whose 32-bit lanes are the offsets.
# The constant columns come from a template and are never overwritten, so buffers are reused.
_LINE_BYTES = 79
_LINE_TEMPLATE = f"{'':8}  {'':24} {'':24} |{'':16}|\n".encode("ascii")
_GROUP_LINES = 8  # 8 * 79 is a whole number of 8-byte units
_GROUP_UNITS = _LINE_BYTES  # 8-byte units per group of 8 lines
_BLOCK_LINES = 4096  # lines per block (64 KiB of data): bounds the reusable buffers (324 KB each)
_MIN_BLOCK_LINES = 64  # below this the per-line path is as quick
_OFFSET, _HEX, _ASCII = 0, 1, 2  # the three sources
_SOURCE_UNITS = (1, 6, 2)  # 8-byte units per line in each source
# (source, unit within a line of that source, column in the output line)
_FIELDS = (
    [(_OFFSET, 0, 0)]
    + [(_HEX, unit, 10 + 8 * unit) for unit in range(3)]
    + [(_HEX, 3 + unit, 35 + 8 * unit) for unit in range(3)]
    + [(_ASCII, unit, 61 + 8 * unit) for unit in range(2)]
)
# Offsets: lane k (counted from the most significant end) of _LANE_STEPS is 16 * k and every lane of
# _LANE_ONES is 1, so start * ones + steps has lanes start + 16 * k; shifting right drops unused lanes.
_LANE_BITS = 32
_LANE_ONES = int.from_bytes(b"\0\0\0\1" * _BLOCK_LINES, "big")
_LANE_STEPS = int.from_bytes(
    struct.pack(f">{_BLOCK_LINES}I", *range(0, _BLOCK_LINES * BYTES_PER_LINE, BYTES_PER_LINE)), "big"
)
_MAX_BLOCK_OFFSET = 1 << _LANE_BITS  # offsets from here on need more than 8 hex digits


def _offset_digits(offset: int, lines: int) -> bytes:
    """8 hex digits for each of `lines` line offsets starting at `offset`, in one big-integer step."""
    drop = _LANE_BITS * (_BLOCK_LINES - lines)
    lanes = offset * (_LANE_ONES >> drop) + (_LANE_STEPS >> drop)
    return binascii.hexlify(lanes.to_bytes(lines * _LANE_BITS // 8, "big"))


class _BlockBuffer:
    """A block-sized output buffer with the constant columns in place and strided views on each field."""

    __slots__ = ("_buf", "_targets")

    def __init__(self) -> None:
        self._buf = bytearray(_LINE_TEMPLATE * _BLOCK_LINES)
        view = memoryview(self._buf)
        span = 8 * (_GROUP_UNITS * (_BLOCK_LINES // _GROUP_LINES - 1) + 1)  # a field's first to last unit
        self._targets = []
        for phase in range(_GROUP_LINES):
            for source, unit, column in _FIELDS:
                start = phase * _LINE_BYTES + column
                target = view[start : start + span].cast("Q")[::_GROUP_UNITS]
                per_line = _SOURCE_UNITS[source]
                self._targets.append((target, source, phase * per_line + unit, per_line * _GROUP_LINES))

    def fill(self, offset: int, data: bytes) -> memoryview:
        """Lines for `data` (a multiple of 128 bytes, at most a block) whose first byte is at `offset`.

        The view is into this buffer: convert it before the buffer is used again.
        """
        lines = len(data) // BYTES_PER_LINE
        groups = lines // _GROUP_LINES
        sources = (
            memoryview(_offset_digits(offset, lines)).cast("Q"),
            # hexlify puts the separator between bytes only: a padding byte supplies the last line's
            # trailing space, and its own two digits are cut off.
            memoryview(binascii.hexlify(data + b"\0", b" "))[: 3 * len(data)].cast("Q"),
            memoryview(data.translate(_ASCII_COLUMN)).cast("Q"),
        )
        for target, source, first, step in self._targets:
            target[:groups] = sources[source][first::step]
        return memoryview(self._buf)[: lines * _LINE_BYTES]


# Spare buffers, shared by all dumpers. list.pop/append are atomic, so concurrent threads (the hex view
# and the hex log) each take their own buffer without a lock; the pool grows to the number of threads.
_spare_buffers: list[_BlockBuffer] = []


@contextlib.contextmanager
def _borrowed_buffer() -> Iterator[_BlockBuffer]:
    try:
        buffer = _spare_buffers.pop()
    except IndexError:
        buffer = _BlockBuffer()
    try:
        yield buffer
    finally:
        _spare_buffers.append(buffer)


def _block_sizes(length: int, offset: int) -> list[int]:
    """How the start of a chunk splits into blocks for the fast path; the rest goes line by line."""
    sizes = []
    group_bytes = _GROUP_LINES * BYTES_PER_LINE
    pos = 0
    while length - pos >= _MIN_BLOCK_LINES * BYTES_PER_LINE:
        size = min(length - pos, _BLOCK_LINES * BYTES_PER_LINE)
        size -= size % group_bytes
        if offset + pos + size > _MAX_BLOCK_OFFSET:
            break  # offsets of 4 GiB and more: the per-line path widens the offset column
        sizes.append(size)
        pos += size
    return sizes


def _tail_lines(chunk: bytes, offset: int, start: int) -> str:
    return "".join(
        [
            _line(offset + at, chunk[at : at + BYTES_PER_LINE])
            for at in range(start, len(chunk), BYTES_PER_LINE)
        ]
    )


# The text and bytes variants convert straight from the reused buffer: an intermediate copy of the
# output would double the large allocations, which costs more than the formatting itself.
def format_hex_lines(chunk: bytes, offset: int = 0) -> str:
    """The dump lines of one chunk whose first byte is at `offset`; each line ends in "\\n"."""
    parts = []
    pos = 0
    for size in _block_sizes(len(chunk), offset):
        with _borrowed_buffer() as buffer:
            parts.append(str(buffer.fill(offset + pos, chunk[pos : pos + size]), "ascii"))
        pos += size
    if pos < len(chunk):
        parts.append(_tail_lines(chunk, offset, pos))
    return "".join(parts)  # no copy when there is a single part


def format_hex_bytes(chunk: bytes, offset: int = 0) -> bytes:
    """format_hex_lines as ASCII bytes, for writers of bytes (saves a decode and an encode)."""
    parts = []
    pos = 0
    for size in _block_sizes(len(chunk), offset):
        with _borrowed_buffer() as buffer:
            parts.append(bytes(buffer.fill(offset + pos, chunk[pos : pos + size])))
        pos += size
    if pos < len(chunk):
        parts.append(_tail_lines(chunk, offset, pos).encode("ascii"))
    return b"".join(parts)  # no copy when there is a single part


def _format_hex_into(out: bytearray, prefix: bytes, chunk: bytes, offset: int) -> tuple[bytearray, int]:
    """Writes prefix + the dump lines of chunk at the start of out: (the buffer used, the length written).

    The buffer is out, or a new larger one when out is too small; out is never resized, so a view of it
    handed out earlier stays valid.
    """
    sizes = _block_sizes(len(chunk), offset)
    pos = sum(sizes)
    tail = _tail_lines(chunk, offset, pos).encode("ascii") if pos < len(chunk) else b""
    end = len(prefix) + pos // BYTES_PER_LINE * _LINE_BYTES + len(tail)
    if len(out) < end:
        out = bytearray(end)
    at = len(prefix)
    out[:at] = prefix  # same-length slice assignments: in place, no resize
    pos = 0
    for size in sizes:
        with _borrowed_buffer() as buffer:
            lines = buffer.fill(offset + pos, chunk[pos : pos + size])
            out[at : at + len(lines)] = lines
        at += len(lines)
        pos += size
    out[at:end] = tail
    return out, end


class HexDumper:
    """The `-x` view: dumps each chunk at once, continuing the byte offset from the previous chunk."""

    __slots__ = ("_out", "offset")

    def __init__(self, start_offset: int = 0) -> None:
        if start_offset < 0:
            raise ValueError(f"start_offset must be >= 0, not {start_offset}")
        self.offset = start_offset  # bytes dumped so far (plus the start offset)
        self._out = bytearray()  # feed_view's reused output buffer (as large as the largest dump so far)

    def feed(self, chunk: bytes) -> str:
        text = format_hex_lines(chunk, self.offset)
        self.offset += len(chunk)
        return text

    def feed_bytes(self, chunk: bytes) -> bytes:
        """feed() as ASCII bytes, for the stream view that writes bytes to stdout."""
        lines = format_hex_bytes(chunk, self.offset)
        self.offset += len(chunk)
        return lines

    def feed_prefixed(self, chunk: bytes, prefix: bytes) -> bytes:
        """feed_bytes(chunk) with `prefix` at the start of EVERY line (the relay transcript's `#3 > `)."""
        lines = self.feed_bytes(chunk)
        if not lines or not prefix:
            return lines
        # every line ends in "\n": mark each line start after one, then drop the mark after the last
        return prefix + lines.replace(b"\n", b"\n" + prefix)[: -len(prefix)]

    def feed_view(self, chunk: bytes, prefix: bytes = b"") -> memoryview:
        """prefix + feed_bytes(chunk), in a buffer this dumper reuses: valid until the next feed_view call.

        The stream view writes each dump out at once. A new object per chunk (1.3 MB for a 256 KiB read)
        would be fresh memory every time, and faulting its pages in costs as much as formatting them.
        """
        self._out, end = _format_hex_into(self._out, prefix, chunk, self.offset)
        self.offset += len(chunk)
        return memoryview(self._out)[:end]

    def finish(self) -> str:
        """Nothing is held back (and no final offset-only line, unlike hexdump): always ""."""
        return ""


def format_hex_log(direction: str, chunk: bytes, offset: int, timestamp: str) -> str:
    """One `--hex-log` entry: a header line, then the chunk's dump lines, each marked with the direction.

    `direction` is ">" (sent) or "<" (received); `offset` is that direction's running byte count.
    An empty chunk gives "" (nothing moved, nothing to log).
    """
    if not chunk:
        return ""
    marker = direction + " "
    lines = format_hex_lines(chunk, offset)
    body = lines[:-1].replace("\n", "\n" + marker)
    return f"{timestamp} {direction} {len(chunk)} bytes\n{marker}{body}\n"
