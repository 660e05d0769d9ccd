"""docs/recording.schema.json describes what --record writes and what --replay reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tcpcli.core.recording import RecordingWriter

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "recording.schema.json"


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text())
    return loaded


def lines_written() -> list[str]:
    writer = RecordingWriter(re.compile(rb"secret"))
    out = [
        RecordingWriter.header("relay", "2026-11-30T09:28:01.000000Z"),
        writer.opened(0.001, 1, "127.0.0.1:5000", "127.0.0.1:6379"),
        writer.data(0.002, 1, ">", b"PING secret\r\n"),
        writer.data(0.003, 1, "<", b"\xff\x00"),
        writer.event(0.004, 1, "fin", ">"),
        writer.event(0.005, 1, "rst", "<"),
        writer.event(0.006, 1, "close"),
    ]
    return [line for chunk in out for line in chunk.decode().splitlines()]


HAND_WRITTEN = [
    '{"tcpcli": 1}',
    '{"dir": ">", "text": "PING\\r\\n"}',
    '{"c": 2, "dir": "<", "re": "\\\\+PONG"}',
]
NOT_RECORDINGS = [
    '{"dir": ">"}',
    '{"dir": "x", "text": "a"}',
    '{"ev": "fin"}',
    '{"dir": "<", "re": "a", "text": "a"}',
]


def test_the_schema_names_every_field() -> None:
    text = SCHEMA.read_text()
    for field in ("tcpcli", "mode", "started", "t", "c", "ev", "dir", "src", "dst", "b64", "text", "re"):
        assert f'"{field}"' in text, field


def test_what_the_writer_writes_and_hand_written_lines_are_valid() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema())
    for line in lines_written() + HAND_WRITTEN:
        validator.validate(json.loads(line))


@pytest.mark.parametrize("line", NOT_RECORDINGS)
def test_lines_the_reader_refuses_are_invalid(line: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    assert not jsonschema.Draft202012Validator(schema()).is_valid(json.loads(line))
