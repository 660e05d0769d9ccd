"""The recording file: what the writer writes reads back; hand-written lines; malformed lines; --redact."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpcli.core.recording import (
    REDACTED,
    TEXT_LIMIT,
    Mark,
    RecordingError,
    RecordingWriter,
    Turn,
    read_recording,
)

HEADER = RecordingWriter.header("relay", "2026-11-30T09:28:01.000000Z").decode()


def test_writer_lines_follow_the_contract() -> None:
    writer = RecordingWriter()
    lines = [
        writer.opened(0.004, 1, "127.0.0.1:50122", "127.0.0.1:17001"),
        writer.data(0.01, 1, ">", b"PING\r\n"),
        writer.data(0.02, 1, "<", b"\xff\x00"),
        writer.event(0.03, 1, "fin", ">"),
        writer.event(0.04, 1, "close"),
    ]
    records = [json.loads(line) for line in lines]
    assert json.loads(HEADER) == {"tcpcli": 1, "mode": "relay", "started": "2026-11-30T09:28:01.000000Z"}
    assert records[0] == {
        "t": 0.004,
        "c": 1,
        "ev": "open",
        "src": "127.0.0.1:50122",
        "dst": "127.0.0.1:17001",
    }
    assert records[1] == {"t": 0.01, "c": 1, "dir": ">", "b64": "UElORw0K", "text": "PING\r\n"}
    assert records[2] == {"t": 0.02, "c": 1, "dir": "<", "b64": "/wA="}  # not UTF-8: no text
    assert records[3] == {"t": 0.03, "c": 1, "ev": "fin", "dir": ">"}
    assert records[4] == {"t": 0.04, "c": 1, "ev": "close"}
    assert all(line.isascii() and line.endswith(b"\n") for line in lines)


def test_a_bulk_chunk_gets_b64_alone() -> None:
    big = b"a" * (TEXT_LIMIT + 1)
    assert "text" not in json.loads(RecordingWriter().data(0.0, 1, ">", big))
    assert "text" in json.loads(RecordingWriter().data(0.0, 1, ">", big[:TEXT_LIMIT]))


def test_chunks_of_one_direction_read_back_as_one_turn() -> None:
    writer = RecordingWriter()
    body = b"".join(
        [
            writer.data(0.1, 1, ">", b"GET / HTTP/1.0\r\n"),
            writer.data(0.2, 1, ">", b"\r\n"),
            writer.data(0.3, 1, "<", b"HTTP/1.0 200 OK\r\n"),
            writer.event(0.4, 1, "fin", "<"),
            writer.event(0.5, 1, "rst", ">"),
            writer.event(0.6, 1, "close"),
        ]
    )
    recording = read_recording(HEADER + body.decode(), "r.jsonl")
    assert recording.mode == "relay"
    (conn,) = recording.connections
    assert conn.steps == (
        Turn(">", (b"GET / HTTP/1.0\r\n\r\n",), 0.1, 2),
        Turn("<", (b"HTTP/1.0 200 OK\r\n",), 0.3, 4),
        Mark("fin", "<", 0.4, 5),
        Mark("rst", ">", 0.5, 6),
    )


def test_hand_written_lines_text_alone_re_and_defaults() -> None:
    text = "\n".join(
        [
            '{"tcpcli": 1}',
            '{"dir": ">", "text": "PING\\r\\n"}',
            "",
            '{"dir": "<", "re": "\\\\+PONG\\r\\n"}',
            '{"c": 2, "dir": ">", "text": "é"}',
        ]
    )
    recording = read_recording(text, "hand.jsonl")
    assert recording.mode == "connect"
    first, second = recording.connections
    assert first.steps[0] == Turn(">", (b"PING\r\n",), 0.0, 2)
    pattern = first.steps[1].parts[0]  # type: ignore[union-attr]
    assert isinstance(pattern, re.Pattern) and pattern.pattern == rb"\+PONG" + b"\r\n"
    assert second.number == 2 and second.steps[0].parts == ("é".encode(),)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("not json", "not JSON"),
        ("[1]", "one JSON object"),
        ('{"dir": ">"}', 'needs "b64", "text" or "re"'),
        ('{"dir": "x", "text": "a"}', '"dir" must be'),
        ('{"dir": ">", "b64": "!!"}', "not valid base64"),
        ('{"dir": ">", "b64": "YQ==", "text": "b"}', "disagree"),
        ('{"dir": ">", "re": "("}', "not a valid regular expression"),
        ('{"dir": ">", "re": "a", "text": "a"}', "stands alone"),
        ('{"ev": "bye"}', '"ev" must be one of'),
        ('{"t": -1, "dir": ">", "text": "a"}', '"t" must be'),
        ('{"c": 0, "dir": ">", "text": "a"}', '"c" must be'),
    ],
)
def test_a_malformed_line_is_named_with_file_and_line(line: str, says: str) -> None:
    with pytest.raises(RecordingError) as caught:
        read_recording(f'{HEADER}{{"dir": ">", "text": "ok"}}\n{line}\n', "bad.jsonl")
    assert str(caught.value).startswith("bad.jsonl:3: ")
    assert says in str(caught.value)


def test_a_file_without_the_header_is_malformed_at_line_1() -> None:
    with pytest.raises(RecordingError, match=r"^x.jsonl:1: not a tcpcli recording"):
        read_recording('{"dir": ">", "text": "a"}\n', "x.jsonl")
    with pytest.raises(RecordingError, match=r"^x.jsonl:1: "):
        read_recording("", "x.jsonl")


def test_data_after_close_is_malformed() -> None:
    with pytest.raises(RecordingError, match=r"^f:3: connection 1 was already closed"):
        read_recording(HEADER + '{"c":1,"ev":"close"}\n{"c":1,"dir":">","text":"a"}\n', "f")


def test_redact_replaces_a_secret_split_across_chunks() -> None:
    writer = RecordingWriter(re.compile(rb"pass=\w+"))
    out = writer.data(0.1, 1, ">", b"user=a pa")
    out += writer.data(0.2, 1, ">", b"ss=hunter")
    out += writer.data(0.3, 1, ">", b"2\n")
    assert out == b""  # held until the turn ends
    out += writer.data(0.4, 1, "<", b"ok pass=x\n")
    out += writer.flush()
    recording = read_recording(HEADER + out.decode(), "r")
    up, down = recording.connections[0].steps
    assert up == Turn(">", (b"user=a " + REDACTED + b"\n",), 0.1, 2)
    assert down.parts == (b"ok " + REDACTED + b"\n",)  # type: ignore[union-attr]
    assert b"hunter" not in out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("<>"), st.binary(max_size=40)), max_size=12))
def test_whatever_is_written_reads_back_as_the_same_turns(chunks: list[tuple[str, bytes]]) -> None:
    writer = RecordingWriter()
    body = b"".join(writer.data(float(i), 1, d, data) for i, (d, data) in enumerate(chunks))
    recording = read_recording(HEADER + body.decode(), "p")
    expected: list[tuple[str, bytes]] = []
    for direction, data in chunks:
        if expected and expected[-1][0] == direction:
            expected[-1] = (direction, expected[-1][1] + data)
        else:
            expected.append((direction, data))
    got = [(s.direction, s.literal) for c in recording.connections for s in c.steps if isinstance(s, Turn)]
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=60).map(lambda b: bytes(b"ab:\n"[x % 4] for x in b)),
    cuts=st.lists(st.integers(0, 60), max_size=6),
)
def test_redaction_of_a_turn_does_not_depend_on_how_it_was_chunked(data: bytes, cuts: list[int]) -> None:
    def recorded(chunks: list[bytes]) -> bytes:
        writer = RecordingWriter(re.compile(rb"a:b+"))
        out = b"".join(writer.data(0.0, 1, ">", chunk) for chunk in chunks) + writer.flush()
        steps = read_recording(HEADER + out.decode(), "p").connections
        return steps[0].steps[0].literal or b"" if steps else b""  # type: ignore[union-attr]

    points = sorted({min(cut, len(data)) for cut in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert recorded(chunks) == recorded([data]) == re.sub(rb"a:b+", REDACTED, data)
