"""HexDumper / format_hex_log: `hexdump -C -v` layout, running offsets, chunking properties."""

from __future__ import annotations

import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpcli.core.hexdump import HexDumper, format_hex_bytes, format_hex_lines, format_hex_log

HEXDUMP = shutil.which("hexdump")
needs_hexdump = pytest.mark.skipif(HEXDUMP is None, reason="hexdump not installed (apt: bsdextrautils)")


def hexdump_c(data: bytes, skip: int = 0, tmp: Path | None = None) -> str:
    """The real `hexdump -C -v`, without its final offset-only line."""
    assert HEXDUMP is not None
    if skip:
        assert tmp is not None
        path = tmp / "data.bin"
        path.write_bytes(data)
        out = subprocess.run(
            [HEXDUMP, "-C", "-v", "-s", str(skip), str(path)], capture_output=True, check=True
        )
    else:
        out = subprocess.run([HEXDUMP, "-C", "-v"], input=data, capture_output=True, check=True)
    lines = out.stdout.decode("ascii").splitlines(keepends=True)
    return "".join(lines[:-1])


def parse_dump(text: str) -> list[tuple[int, bytes]]:
    """(offset, bytes) for each dump line, checking the fixed columns on the way."""
    parsed = []
    for line in text.splitlines():
        offset_text, rest = line.split("  ", 1)
        assert len(offset_text) >= 8
        assert rest[49] == " " and rest[50] == "|" and rest.endswith("|"), line
        data = bytes.fromhex(rest[:49])
        assert 1 <= len(data) <= 16
        shown = "".join(chr(b) if 0x20 <= b <= 0x7E else "." for b in data)
        assert rest[51:-1] == shown
        parsed.append((int(offset_text, 16), data))
    return parsed


def reference_lines(data: bytes, offset: int) -> str:
    """A slow, obviously-right formatter to check the block fast path against."""
    out = []
    for at in range(0, len(data), 16):
        line = data[at : at + 16]
        hexes = [f"{b:02x} " for b in line] + ["   "] * (16 - len(line))
        shown = "".join(chr(b) if 0x20 <= b <= 0x7E else "." for b in line)
        out.append(f"{offset + at:08x}  {''.join(hexes[:8])} {''.join(hexes[8:])} |{shown}|\n")
    return "".join(out)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def dump_chunks(chunks: list[bytes], start: int = 0) -> str:
    dumper = HexDumper(start)
    return "".join(dumper.feed(chunk) for chunk in chunks) + dumper.finish()


@needs_hexdump
@pytest.mark.parametrize("length", range(41))
def test_layout_matches_hexdump_c_for_short_chunks(length: int) -> None:
    data = bytes((i * 37 + 5) % 256 for i in range(length))
    assert format_hex_lines(data) == hexdump_c(data)


@needs_hexdump
@pytest.mark.parametrize("length", [1024, 1040, 1037, 65536, 65536 + 16 * 9 + 3, 200_000])
def test_block_fast_path_matches_hexdump_c(length: int) -> None:
    data = bytes((i * 131 + i // 7) % 256 for i in range(length))
    assert format_hex_lines(data) == hexdump_c(data)


@needs_hexdump
@pytest.mark.parametrize("skip", [1, 5, 15, 17, 100])
def test_offset_start_matches_hexdump_c_skip(skip: int, tmp_path: Path) -> None:
    data = bytes(range(256)) * 8
    assert format_hex_lines(data[skip:], skip) == hexdump_c(data, skip, tmp_path)


def test_exact_line_layout() -> None:
    assert format_hex_lines(b"hello\n") == (
        "00000000  68 65 6c 6c 6f 0a                                 |hello.|\n"
    )
    assert format_hex_lines(bytes(range(0x78, 0x88))) == (
        "00000000  78 79 7a 7b 7c 7d 7e 7f  80 81 82 83 84 85 86 87  |xyz{|}~.........|\n"
    )


def test_empty_chunk_gives_nothing() -> None:
    dumper = HexDumper()
    assert dumper.feed(b"") == ""
    assert dumper.offset == 0


def test_chunks_continue_at_the_running_offset() -> None:
    dumper = HexDumper()
    assert dumper.feed(b"abc") == "00000000  61 62 63" + " " * 42 + "|abc|\n"
    assert dumper.offset == 3
    second = dumper.feed(b"0123456789abcdefXY")
    assert second.splitlines()[0].startswith("00000003  30 31")
    assert second.splitlines()[1].startswith("00000013  58 59")
    assert dumper.offset == 21


def test_offsets_past_4_gib_widen_the_offset_column() -> None:
    lines = format_hex_lines(b"A" * 4096, 0xFFFFFF00).splitlines()
    assert lines[15].startswith("fffffff0  41")
    assert lines[16].startswith("100000000  41")
    assert parse_dump("\n".join(lines))[-1][0] == 0xFFFFFF00 + 4096 - 16


@pytest.mark.parametrize("offset", [0, 3, 2**32 - 65536 - 100, 2**32 - 1024, 2**32 + 5, 2**40])
def test_block_path_and_line_path_agree_around_the_4_gib_boundary(offset: int) -> None:
    data = bytes(range(256)) * 300
    assert format_hex_lines(data, offset) == reference_lines(data, offset)


def test_negative_start_offset_is_refused() -> None:
    with pytest.raises(ValueError):
        HexDumper(-1)


def test_bytes_variant_is_the_ascii_encoding_of_the_text() -> None:
    data = bytes(range(256)) * 20 + b"tail"
    assert format_hex_bytes(data, 7) == format_hex_lines(data, 7).encode("ascii")
    dumper = HexDumper(7)
    assert dumper.feed_bytes(data) == format_hex_bytes(data, 7)
    assert dumper.offset == 7 + len(data)


@settings(max_examples=40)
@given(st.binary(min_size=1024, max_size=9000), st.integers(0, 2**33))
def test_block_fast_path_equals_the_plain_formatter(data: bytes, offset: int) -> None:
    assert format_hex_lines(data, offset) == reference_lines(data, offset)


@settings(max_examples=100)
@given(st.data(), st.binary(max_size=300), st.integers(0, 1000))
def test_dump_parses_back_to_the_bytes_with_running_offsets(
    data: st.DataObject, raw: bytes, start: int
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8))
    text = dump_chunks(split_at(raw, cuts), start)
    parsed = parse_dump(text)
    assert b"".join(chunk for _, chunk in parsed) == raw
    seen = start
    for offset, chunk in parsed:
        assert offset == seen
        seen += len(chunk)


@settings(max_examples=100)
@given(st.data(), st.binary(max_size=2000))
def test_splitting_at_multiples_of_16_changes_nothing(data: st.DataObject, raw: bytes) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(raw) // 16).map(lambda n: 16 * n), max_size=6))
    assert dump_chunks(split_at(raw, cuts)) == format_hex_lines(raw)


@settings(max_examples=50)
@given(st.binary(max_size=200))
def test_byte_by_byte_gives_one_line_per_byte(raw: bytes) -> None:
    parsed = parse_dump(dump_chunks([bytes([b]) for b in raw]))
    assert [chunk for _, chunk in parsed] == [bytes([b]) for b in raw]
    assert [offset for offset, _ in parsed] == list(range(len(raw)))


# --- hex log -------------------------------------------------------------------------------------


def test_hex_log_entry_has_header_and_marked_lines() -> None:
    entry = format_hex_log("<", b"hello world, this is a test\x00\xff", 5, "2024-05-01 12:00:00.123")
    assert entry == (
        "2024-05-01 12:00:00.123 < 29 bytes\n"
        "< 00000005  68 65 6c 6c 6f 20 77 6f  72 6c 64 2c 20 74 68 69  |hello world, thi|\n"
        "< 00000015  73 20 69 73 20 61 20 74  65 73 74 00 ff           |s is a test..|\n"
    )


def test_hex_log_sent_direction() -> None:
    assert format_hex_log(">", b"hi", 0, "T") == "T > 2 bytes\n> 00000000  68 69" + " " * 45 + "|hi|\n"


def test_hex_log_of_empty_chunk_is_empty() -> None:
    assert format_hex_log(">", b"", 10, "T") == ""


@settings(max_examples=50)
@given(st.binary(min_size=1, max_size=3000), st.integers(0, 10**6), st.sampled_from("<>"))
def test_hex_log_lines_are_the_dump_lines_with_a_marker(raw: bytes, offset: int, direction: str) -> None:
    header, *lines = format_hex_log(direction, raw, offset, "T").splitlines(keepends=True)
    assert header == f"T {direction} {len(raw)} bytes\n"
    assert all(line.startswith(direction + " ") for line in lines)
    assert "".join(line[2:] for line in lines) == format_hex_lines(raw, offset)
