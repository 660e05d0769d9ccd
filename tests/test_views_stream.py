"""Stream-mode views through the real program against real loopback peers: `-x`, `--struct`, `-t`,
`--hex-log` and `-o` beside a view. The core's own tests cover the formatting; these check what reaches
stdout, stderr and the files, and the exit codes, when real TCP splits the data as it likes.
"""

from __future__ import annotations

import json
import random
import re
import resource
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core.hexdump import HexDumper
from tcpcli.fronts.pipes.render import HexRenderer
from tests.conftest import PeerServer, recv_all, run_tcpcli

# A port nothing listens on: a bad option must fail before connecting (exit 2), never with 69 (refused).
CLOSED = "1"
PAUSE = 0.15  # between the pieces a peer sends, so that they arrive as separate chunks

_DUMP_LINE = re.compile(r"([0-9a-f]{8})  ([0-9a-f ]{23})  ([0-9a-f ]{23})  \|([ -~]{1,16})\|")
_STAMP = re.compile(r"\[\d\d:\d\d:\d\d\.\d{6}\]")
_LOG_HEADER = re.compile(r"\d\d:\d\d:\d\d\.\d{6} ([<>]) (\d+) bytes")


def parse_dump_line(line: str) -> tuple[int, bytes]:
    """Offset and bytes of one `hexdump -C` line; the ASCII column must match the bytes."""
    found = _DUMP_LINE.fullmatch(line)
    assert found, f"not a hexdump -C line: {line!r}"
    offset, left, right, text = found.groups()
    data = bytes.fromhex(left + right)
    assert 1 <= len(data) <= 16
    assert text == "".join(chr(b) if 0x20 <= b <= 0x7E else "." for b in data), line
    return int(offset, 16), data


def parse_dump(lines: list[str]) -> tuple[bytes, list[bytes]]:
    """The bytes a dump shows (offsets must run on with no gap), and the chunks as the dump shows them:
    a chunk ends at a short line (a chunk whose length is a multiple of 16 joins the next one, which
    changes nothing in the dump)."""
    data = b""
    chunks: list[bytes] = []
    start = 0
    for line in lines:
        offset, piece = parse_dump_line(line)
        assert offset == len(data), f"offset {offset:08x} after {len(data)} bytes: {line!r}"
        data += piece
        if len(piece) < 16:
            chunks.append(data[start:])
            start = len(data)
    if start < len(data):
        chunks.append(data[start:])
    return data, chunks


def pieces_server(pieces: list[bytes]) -> Callable[[socket.socket], None]:
    """A peer that sends each piece, pausing in between, then FIN; it reads until the client closes."""

    def handler(conn: socket.socket) -> None:
        for index, piece in enumerate(pieces):
            if index:
                time.sleep(PAUSE)
            conn.sendall(piece)
        conn.shutdown(socket.SHUT_WR)
        recv_all(conn)

    return handler


def random_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


# Piece sizes that start chunks mid-line (3, 18), a large one for the block fast path, and a last short one.
HEX_PIECES = [b"abc", b"0123456789abcdef\x00\xff", random_bytes(1, 70_001), random_bytes(2, 5)]


# --- -x ---------------------------------------------------------------------------------------------


def test_hex_view_is_the_core_dump_of_the_chunks_and_parses_back(peer: Callable[..., PeerServer]) -> None:
    sent = b"".join(HEX_PIECES)
    server = peer(pieces_server(HEX_PIECES))
    result = run_tcpcli("-x", server.host, str(server.port))
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    text = result.stdout.decode("ascii")
    assert text.endswith("\n")
    received, chunks = parse_dump(text.splitlines())
    assert received == sent
    # The first piece, alone for PAUSE seconds, is shown at once as its own short line.
    assert text.startswith("00000000  61 62 63                                          |abc|\n")
    assert len(chunks) >= 2
    dumper = HexDumper()
    assert text == "".join(dumper.feed(chunk) for chunk in chunks)


@pytest.mark.skipif(shutil.which("hexdump") is None, reason="hexdump is not installed")
def test_each_chunk_of_the_hex_view_is_what_hexdump_prints_for_it(
    peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    """rendering.md: a chunk's lines are `hexdump -C -v -s OFFSET -n LENGTH` minus its offset-only line."""
    server = peer(pieces_server(HEX_PIECES))
    result = run_tcpcli("-x", server.host, str(server.port))
    assert result.code == 0, result.stderr
    lines = result.stdout.decode("ascii").splitlines()
    received, chunks = parse_dump(lines)
    stream = tmp_path / "received.bin"
    stream.write_bytes(received)
    expected = []
    offset = 0
    for chunk in chunks:
        argv = ["hexdump", "-C", "-v", "-s", str(offset), "-n", str(len(chunk)), str(stream)]
        printed = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout
        expected += printed.splitlines()[:-1]
        offset += len(chunk)
    assert lines == expected


def test_hex_view_keeps_piped_stdin_raw(echo_server: PeerServer) -> None:
    """Only typed input is hex: a pipe's bytes (not hex here) are sent verbatim and come back dumped."""
    payload = b"zz not hex \x00\x01\xff\n" * 3
    result = run_tcpcli("-x", echo_server.host, str(echo_server.port), stdin=payload)
    assert result.code == 0, result.stderr
    received, _ = parse_dump(result.stdout.decode("ascii").splitlines())
    assert received == payload


def test_hex_view_with_timestamps_puts_one_stamp_line_before_each_chunk(
    peer: Callable[..., PeerServer],
) -> None:
    server = peer(pieces_server(HEX_PIECES))
    result = run_tcpcli("-x", "-t", server.host, str(server.port))
    assert result.code == 0, result.stderr
    lines = result.stdout.decode("ascii").splitlines()
    assert _STAMP.fullmatch(lines[0]), lines[0]
    assert lines[1].startswith("00000000  61 62 63 ")
    stamps = [index for index, line in enumerate(lines) if _STAMP.fullmatch(line)]
    assert len(stamps) >= 2
    # Every stamp starts a chunk: the line before it (if any) ends one. Without the stamps, a plain dump.
    dump = [line for line in lines if not _STAMP.fullmatch(line)]
    received, _ = parse_dump(dump)
    assert received == b"".join(HEX_PIECES)
    times = [lines[index][1:-1] for index in stamps]
    assert times == sorted(times)  # the same minute, or at worst midnight: the test takes under a second


def test_output_file_gets_the_raw_bytes_while_the_hex_view_renders(
    peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    path = tmp_path / "received.bin"
    server = peer(pieces_server(HEX_PIECES))
    result = run_tcpcli("-x", "-o", str(path), server.host, str(server.port))
    assert result.code == 0, result.stderr
    sent = b"".join(HEX_PIECES)
    assert path.read_bytes() == sent
    received, _ = parse_dump(result.stdout.decode("ascii").splitlines())
    assert received == sent


@given(
    st.lists(
        st.one_of(st.binary(max_size=40), st.integers(0, 300_000).map(lambda n: random_bytes(n, n))),
        max_size=8,
    ),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_hex_renderer_is_the_dumper_output_with_its_stamp(chunks: list[bytes], stamped: list[bool]) -> None:
    """The stream renderer writes into a reused buffer; every view it hands out has the right content
    when handed out, even when a bigger chunk makes it switch to a larger buffer."""
    renderer, dumper = HexRenderer(), HexDumper()
    views = []
    for chunk, stamp in zip(chunks, stamped, strict=False):
        timestamp = "12:34:56.000001" if stamp else None
        view = renderer.feed(chunk, timestamp)
        views.append(view)  # still referenced: the buffer must not be resized under it
        prefix = b"[12:34:56.000001]\n" if stamp else b""
        assert bytes(view) == prefix + dumper.feed_bytes(chunk)


def _child_page_faults(*args: str) -> int:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    result = run_tcpcli(*args)
    assert result.code == 0, result.stderr
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - before


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="minor page faults are counted this way on Linux")
def test_hex_view_does_not_take_fresh_memory_per_chunk(peer: Callable[..., PeerServer]) -> None:
    """A new output object per received chunk (1.3 MB for a 256 KiB read) meant fresh pages every time:
    about 2 page faults per 4 KiB of dump, which made `-x` 1.6x slower end to end (bench/bench_views.py).
    With the reused buffer the count stays near that of a bare start-up, whatever the amount received."""
    size = 8 << 20
    payload = random_bytes(3, size)
    server = peer(pieces_server([payload]))
    start_up = _child_page_faults("--version")
    viewing = _child_page_faults("-x", server.host, str(server.port))
    assert viewing - start_up < size // 4096, (viewing, start_up)  # it was ~20,000 over: ~10x this bound


# --- --struct ---------------------------------------------------------------------------------------

RECORDS = [(0, 0), (1, 64), (65535, 4294967295), (513, 1500), (7, 9000)]


def _records(values: list[tuple[int, int]]) -> bytes:
    return b"".join(struct.pack("<HI", *value) for value in values)


def test_struct_view_writes_json_lines_whatever_the_chunking(peer: Callable[..., PeerServer]) -> None:
    raw = _records(RECORDS)
    # Cut mid-record, at odd places: 1 byte, then the rest of record 0 and half of record 1, then the rest.
    server = peer(pieces_server([raw[:1], raw[1:9], raw[9:]]))
    result = run_tcpcli("--struct", "<HI", "--fields", "id,len", server.host, str(server.port))
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.decode("ascii").splitlines(keepends=True)
    assert all(line.endswith("\n") for line in lines)
    assert [json.loads(line) for line in lines] == [{"id": a, "len": b} for a, b in RECORDS]


def test_struct_view_without_fields_names_values_f0_f1(echo_server: PeerServer) -> None:
    raw = struct.pack("<c3xi15s", b"A", -2, b"hello")
    result = run_tcpcli("--struct", "<c3xi15s", echo_server.host, str(echo_server.port), stdin=raw)
    assert result.code == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"f0": "A", "f1": -2, "f2": "hello"}]


@pytest.mark.parametrize("extra", [1, 5])
def test_trailing_partial_record_is_one_stderr_line_and_exit_0(
    peer: Callable[..., PeerServer], extra: int
) -> None:
    leftover = bytes(range(0xA0, 0xA0 + extra))
    server = peer(pieces_server([_records(RECORDS[:2]) + leftover]))
    result = run_tcpcli("--struct", "<HI", "--fields", "id,len", server.host, str(server.port))
    assert result.code == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"id": 0, "len": 0},
        {"id": 1, "len": 64},
    ]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tcpcli: ")
    assert f"{extra} trailing byte" in lines[0]
    assert "6-byte record" in lines[0]
    assert leftover.hex(" ") in lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--struct", "<Z"], "invalid struct format '<Z'"),
        (["--struct", "<"], "0-byte records"),
        (["--struct", ""], "0-byte records"),
        (["--struct", "<4x"], "only pad bytes"),
        (["--struct", "<HI", "--fields", "id"], "expected 2 names for format '<HI', got 1"),
        (["--struct", "<HI", "--fields", "id,len,extra"], "expected 2 names for format '<HI', got 3"),
        (["--struct", "<15sH", "--fields", "a,b,c"], "expected 2 names"),
        (["--struct", "<HI", "--fields", "id,id"], "given twice"),
        (["--fields", "id,len"], "give --struct FMT too"),
    ],
)
def test_bad_struct_options_exit_2_before_connecting(args: list[str], words: str) -> None:
    result = run_tcpcli(*args, "127.0.0.1", CLOSED)
    assert result.code == 2, result.stderr  # 69 would mean it tried to connect
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tcpcli: ")
    assert words in lines[0]


# --- --hex-log ---------------------------------------------------------------------------------------

REQUEST = b"GET / HTTP/1.0\r\n\r\n"
REPLIES = [b"HTTP/1.0 200 OK\r\n", b"Content-Length: 0\r\n\r\n\x00\xff"]


def request_reply_handler(conn: socket.socket) -> None:
    """Reads the request until the client's FIN, then replies in two pieces and closes."""
    assert recv_all(conn) == REQUEST
    for index, piece in enumerate(REPLIES):
        if index:
            time.sleep(PAUSE)
        conn.sendall(piece)


def parse_hex_log(text: str) -> list[tuple[str, int, bytes]]:
    """(direction, first offset, bytes) per entry; each entry's lines carry its marker and run on."""
    entries: list[tuple[str, int, bytes]] = []
    lines = text.splitlines()
    assert lines, "empty hex log"
    index = 0
    while index < len(lines):
        header = _LOG_HEADER.fullmatch(lines[index])
        assert header, f"not an entry header: {lines[index]!r}"
        direction, length = header.group(1), int(header.group(2))
        index += 1
        data = b""
        first = None
        while len(data) < length:
            line = lines[index]
            assert line.startswith(direction + " "), line
            offset, piece = parse_dump_line(line[2:])
            first = offset if first is None else first
            assert offset == first + len(data)
            data += piece
            index += 1
        assert len(data) == length
        assert first is not None
        entries.append((direction, first, data))
    return entries


def test_hex_log_has_both_directions_with_their_own_offsets(
    peer: Callable[..., PeerServer], tmp_path: Path
) -> None:
    log = tmp_path / "session.log"
    log.write_text("")  # appended to
    server = peer(request_reply_handler)
    result = run_tcpcli("--hex-log", str(log), server.host, str(server.port), stdin=REQUEST)
    assert result.code == 0, result.stderr
    assert result.stdout == b"".join(REPLIES)  # the log changes nothing on stdout
    entries = parse_hex_log(log.read_text("ascii"))
    assert entries[0][0] == ">"  # the peer replies only after the whole request
    for direction, stream in ((">", REQUEST), ("<", b"".join(REPLIES))):
        mine = [(offset, data) for marker, offset, data in entries if marker == direction]
        assert b"".join(data for _, data in mine) == stream
        offsets = [offset for offset, _ in mine]
        assert offsets == [sum(len(data) for _, data in mine[:n]) for n in range(len(mine))]
    received = [offset for marker, offset, _ in entries if marker == "<"]
    assert len(received) >= 2 and received[1] > 0  # the second reply goes on from the first one's end


def test_hex_log_beside_the_hex_view(peer: Callable[..., PeerServer], tmp_path: Path) -> None:
    log = tmp_path / "session.log"
    server = peer(request_reply_handler)
    result = run_tcpcli("-x", "--hex-log", str(log), server.host, str(server.port), stdin=REQUEST)
    assert result.code == 0, result.stderr
    received, _ = parse_dump(result.stdout.decode("ascii").splitlines())
    assert received == b"".join(REPLIES)
    entries = parse_hex_log(log.read_text("ascii"))
    assert b"".join(data for marker, _, data in entries if marker == "<") == received
    assert b"".join(data for marker, _, data in entries if marker == ">") == REQUEST
