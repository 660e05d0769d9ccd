"""`tcpcli --demo` in stream mode: the README's first command must work with no network but loopback."""

from __future__ import annotations

import json
import struct

import pytest

from tcpcli.modes.demo import RECORD_FORMAT, RECORDS
from tests.conftest import run_tcpcli


def test_demo_in_stream_mode_greets_echoes_says_goodbye_and_exits_0() -> None:
    result = run_tcpcli("--demo", stdin=b"hello\n")
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    text = result.stdout.decode()
    assert text.startswith("Welcome to the tcpcli demo server on 127.0.0.1:")
    assert "tcpcli --demo --struct '<HI' --fields id,len" in text
    assert text.endswith("\nhello\nGoodbye from the tcpcli demo: you sent 1 line (6 bytes).\n")


def test_demo_with_empty_input_still_greets_and_says_goodbye() -> None:
    result = run_tcpcli("--demo", stdin=b"")
    assert result.code == 0, result.stderr
    assert result.stdout.endswith(b"you sent 0 lines (0 bytes).\n")


def test_demo_records_command_answers_the_documented_binary_layout() -> None:
    result = run_tcpcli("--demo", stdin=b"records\n")
    assert result.code == 0, result.stderr
    expected = b"".join(struct.pack(RECORD_FORMAT, *record) for record in RECORDS)
    assert expected in result.stdout
    assert len(expected) == 24  # 4 records of 6 bytes: '<HI' has no padding


def test_demo_bye_ends_the_session_even_with_more_input_behind_it() -> None:
    result = run_tcpcli("--demo", stdin=b"bye\nnot read\n")
    assert result.code == 0, result.stderr
    assert result.stdout.endswith(b"Goodbye from the tcpcli demo.\n")
    assert b"not read" not in result.stdout


def test_demo_with_verbose_tells_where_the_server_listens() -> None:
    result = run_tcpcli("--demo", "-v", stdin=b"")
    assert result.code == 0
    assert "tcpcli: demo server on 127.0.0.1:" in result.stderr


def test_demo_in_hex_view_shows_the_records_as_a_hex_dump() -> None:
    pytest.importorskip("tcpcli.core.hexdump")
    result = run_tcpcli("--demo", "--hex", stdin=b"records\n")
    assert result.code == 0, result.stderr
    dumped = b"".join(_hex_columns(line) for line in result.stdout.decode().splitlines())
    assert b"".join(struct.pack(RECORD_FORMAT, *record) for record in RECORDS) in dumped


def _hex_columns(line: str) -> bytes:
    """The bytes of one `hexdump -C` line (offset, up to 16 hex bytes, `|text|`)."""
    hex_part = line[10:].split("|", 1)[0]
    return bytes.fromhex(hex_part.replace(" ", ""))


def test_demo_in_struct_view_sends_records_only_and_they_decode() -> None:
    pytest.importorskip("tcpcli.core.records")
    result = run_tcpcli("--demo", "--struct", "<HI", "--fields", "id,len", stdin=b"records\n")
    assert result.code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    expected = [{"id": ident, "len": length} for ident, length in RECORDS]
    assert rows == expected * 2  # once on connect, once for the line sent
    assert "records only" in result.stderr
