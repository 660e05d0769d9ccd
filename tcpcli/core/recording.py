"""The recording file (`--record`, `--replay`): JSON Lines, written from events and read back into turns.

Pure: the writer turns events (seconds since start, connection number, what happened) into the file's lines
(bytes); the reader turns the file's text into connections of steps, or raises `RecordingError` naming the
file and line. The format (docs/recording.md, docs/recording.schema.json):

    {"tcpcli": 1, "mode": "relay", "started": "2026-11-30T09:28:01.123456Z"}
    {"t":0.004,"c":1,"ev":"open","src":"127.0.0.1:50122","dst":"127.0.0.1:17001"}
    {"t":0.010,"c":1,"dir":">","b64":"UElORw0K","text":"PING\\r\\n"}
    {"t":0.011,"c":1,"ev":"fin","dir":">"}
    {"t":0.012,"c":1,"ev":"close"}

`>` is always client to server. `text` is written only when the bytes are valid UTF-8 (and the chunk at most
TEXT_LIMIT bytes); a hand-written line
may give `text` alone (its UTF-8 bytes), or `re` (a Python regular expression on bytes, matched on replay).

--redact: each match of the pattern becomes `***` before anything is written. So that a secret split by TCP
across two reads is still caught, the writer then keeps one direction's data of a connection until that turn
ends (the other direction sends, an event, the close, `flush()`) or reaches `REDACT_SPAN` bytes, and writes
the turn as one event, redacted whole (at the time of its first chunk). A match that straddles such a cut
(over REDACT_SPAN, or a sender that paused past the recorder's idle flush) is not caught.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import NamedTuple

__all__ = [
    "FORMAT_VERSION",
    "REDACTED",
    "REDACT_SPAN",
    "TEXT_LIMIT",
    "Mark",
    "RecordedConnection",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "Turn",
    "read_recording",
]

FORMAT_VERSION = 1
REDACTED = b"***"
# `text` is written beside `b64` for chunks up to this size: what a person reads and edits is messages, and a
# bulk transfer's text would double a file the disk must keep up with (docs/recording.md, bench_record.py).
TEXT_LIMIT = 16 * 1024
# With --redact, a turn is held back at most this many bytes (memory per connection stays bounded).
REDACT_SPAN = 1024 * 1024
# `stall`, `cut`, `reset`: a relay fault that fired (issue 15); a replay reads past them (the FIN or RST a cut
# or reset caused is recorded as such).
_EVENTS = ("open", "fin", "rst", "close", "stall", "cut", "reset")


class RecordingError(Exception):
    """A malformed recording: the message is `FILE:LINE: what is wrong` (exit 65)."""


class RecordingWriter:
    """Events in, the file's lines out (bytes, ASCII: JSON escapes everything else). Not thread-safe."""

    def __init__(self, redact: re.Pattern[bytes] | None = None, datagrams: bool = False) -> None:
        """`datagrams` (-u): each chunk is a datagram, kept one event, so --redact applies to each alone."""
        self._redact = redact
        self._datagrams = datagrams
        # --redact: the connection's turn held back: direction, time of its first chunk, bytes
        self._held: dict[int, tuple[str, float, bytearray]] = {}

    @staticmethod
    def header(mode: str, started: str, udp: bool = False) -> bytes:
        """The first line; `started` is ISO 8601 UTC (`2026-11-30T09:28:01.123456Z`); `udp`: datagrams
        (`"transport": "udp"`: each data event is one datagram)."""
        header: dict[str, object] = {"tcpcli": FORMAT_VERSION, "mode": mode, "started": started}
        if udp:
            header["transport"] = "udp"
        return json.dumps(header).encode() + b"\n"

    def opened(self, t: float, conn: int, src: str, dst: str) -> bytes:
        fields = json.dumps({"src": src, "dst": dst}, separators=(",", ":"))[1:]
        return f'{{"t":{t:.6f},"c":{conn},"ev":"open",{fields}\n'.encode()

    def data(self, t: float, conn: int, direction: str, data: bytes) -> bytes:
        """One chunk `direction` (">" or "<"); with --redact, the lines of a turn that this one ended."""
        if self._redact is None:
            return _data_line(t, conn, direction, data)
        if self._datagrams:
            return _data_line(t, conn, direction, self._redact.sub(REDACTED, data))
        out = b""
        held = self._held.get(conn)
        if held is not None and held[0] != direction:
            out = self._release(conn)
            held = None
        if held is None:
            self._held[conn] = (direction, t, bytearray(data))
        else:
            held[2].extend(data)
            if len(held[2]) >= REDACT_SPAN:
                out += self._release(conn)
        return out

    def event(self, t: float, conn: int, event: str, direction: str | None = None) -> bytes:
        """`fin` / `rst` (with the direction they travel) or `close` (the connection is done)."""
        out = self._release(conn)
        where = "" if direction is None else f',"dir":"{direction}"'
        return out + f'{{"t":{t:.6f},"c":{conn},"ev":"{event}"{where}}}\n'.encode()

    def flush(self) -> bytes:
        """Every turn held back for --redact, written now (at the end, or when the traffic paused)."""
        return b"".join(self._release(conn) for conn in list(self._held))

    def _release(self, conn: int) -> bytes:
        held = self._held.pop(conn, None)
        if held is None:
            return b""
        direction, t, data = held
        assert self._redact is not None
        return _data_line(t, conn, direction, self._redact.sub(REDACTED, bytes(data)))


def _data_line(t: float, conn: int, direction: str, data: bytes) -> bytes:
    """One data event; bytes built directly (this runs for every recorded chunk: base64 and the text's JSON
    escaping are most of the recorder's cost, hence pybase64 and orjson when they are installed)."""
    head = b'{"t":%.6f,"c":%d,"dir":"%s","b64":"' % (t, conn, direction.encode("ascii"))
    if len(data) > TEXT_LIMIT:
        return b"".join((head, _b64encode(data), b'"}\n'))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return b"".join((head, _b64encode(data), b'"}\n'))
    return b"".join((head, _b64encode(data), b'","text":', _json_text(text), b"}\n"))


def _b64encode_stdlib(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False)


def _json_text_stdlib(text: str) -> bytes:
    return json.dumps(text).encode("ascii")


def _json_text_fast(text: str) -> bytes:
    """ASCII text through orjson (it writes non-ASCII as raw UTF-8: those go through json, \\uXXXX, so the
    file stays ASCII and `cat` of it can never send a C1 control or a bidi override to a terminal)."""
    if text.isascii():
        return _orjson_dumps(text)
    return _json_text_stdlib(text)


# SIMD base64 (~30x the stdlib's here) and a fast JSON string encoder when installed (the dependencies bring
# them); the stdlib otherwise
_b64encode: Callable[[bytes], bytes] = _b64encode_stdlib
_json_text: Callable[[str], bytes] = _json_text_stdlib
try:
    import pybase64

    _b64encode = pybase64.b64encode
except ImportError:  # pragma: no cover
    pass
try:
    import orjson

    _orjson_dumps = orjson.dumps
    _json_text = _json_text_fast
except ImportError:  # pragma: no cover
    pass


# ---------------------------------------------------------------------------------------------- reading


class Turn(NamedTuple):
    """Consecutive data of one direction: parts are bytes (literal) or a compiled `re` pattern, in order."""

    direction: str
    parts: tuple[bytes | re.Pattern[bytes], ...]
    t: float
    line: int  # the line of its first event, for messages
    pattern_lines: tuple[int, ...] = ()  # the lines of its `re` parts, in order

    @property
    def literal(self) -> bytes | None:
        """The turn's bytes when it holds no pattern."""
        if any(isinstance(part, re.Pattern) for part in self.parts):
            return None
        return b"".join(part for part in self.parts if isinstance(part, bytes))


class Mark(NamedTuple):
    """A recorded `fin` or `rst` travelling `direction`."""

    event: str
    direction: str
    t: float
    line: int


class RecordedConnection(NamedTuple):
    number: int
    steps: tuple[Turn | Mark, ...]
    t: float  # its first event's time


class Recording(NamedTuple):
    mode: str
    connections: tuple[RecordedConnection, ...]
    transport: str = "tcp"  # "udp": each data event is a datagram (the header's "transport")


def read_recording(text: str, name: str) -> Recording:
    """The recording in `text` (the file `name`, for messages); RecordingError at the first bad line."""
    lines = text.splitlines()
    mode = _read_header(lines[0] if lines else "", name)
    transport = str(json.loads(lines[0]).get("transport", "tcp"))
    steps: dict[int, list[Turn | Mark]] = {}
    started: dict[int, float] = {}
    closed: set[int] = set()
    last_t = 0.0
    for number, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue
        where = f"{name}:{number}"
        record = _object(raw, where)
        t = _number(record.get("t", last_t), "t", where)
        last_t = t
        conn = record.get("c", 1)
        if not isinstance(conn, int) or isinstance(conn, bool) or conn < 1:
            raise RecordingError(f'{where}: "c" must be a connection number (1, 2, ...)')
        if conn in closed:
            raise RecordingError(f"{where}: connection {conn} was already closed")
        started.setdefault(conn, t)
        own = steps.setdefault(conn, [])
        event = record.get("ev")
        if event is not None:
            if event not in _EVENTS:
                raise RecordingError(f'{where}: "ev" must be one of {", ".join(_EVENTS)}, not {event!r}')
            if event in ("fin", "rst"):
                own.append(Mark(event, _direction(record, where), t, number))
            elif event == "close":
                closed.add(conn)
            continue
        direction = _direction(record, where)
        part = _payload(record, where)
        previous = own[-1] if own else None
        if not (isinstance(previous, Turn) and previous.direction == direction):
            previous = Turn(direction, (), t, number)
            own.append(previous)
        pattern_lines = previous.pattern_lines + ((number,) if isinstance(part, re.Pattern) else ())
        own[-1] = previous._replace(parts=_joined(previous.parts, part), pattern_lines=pattern_lines)
    connections = tuple(RecordedConnection(conn, tuple(own), started[conn]) for conn, own in steps.items())
    return Recording(mode, connections, transport)


def _joined(
    parts: tuple[bytes | re.Pattern[bytes], ...], part: bytes | re.Pattern[bytes]
) -> tuple[bytes | re.Pattern[bytes], ...]:
    """Adjacent literals become one (so `exact` compares the whole turn however it was chunked)."""
    if isinstance(part, bytes) and parts and isinstance(parts[-1], bytes):
        return (*parts[:-1], parts[-1] + part)
    return (*parts, part)


def _read_header(line: str, name: str) -> str:
    where = f"{name}:1"
    record = _object(line, where) if line.strip() else None
    if record is None or record.get("tcpcli") != FORMAT_VERSION:
        raise RecordingError(f'{where}: not a tcpcli recording (the first line must be {{"tcpcli": 1, ...}})')
    mode = record.get("mode", "connect")
    if not isinstance(mode, str):
        raise RecordingError(f'{where}: "mode" must be a string')
    if record.get("transport", "tcp") not in ("tcp", "udp"):
        raise RecordingError(f'{where}: "transport" must be "tcp" or "udp"')
    return mode


def _object(raw: str, where: str) -> dict[str, object]:
    try:
        record = json.loads(raw)
    except ValueError as exc:
        raise RecordingError(f"{where}: not JSON ({exc.args[0].split(':')[0]})") from None
    if not isinstance(record, dict):
        raise RecordingError(f"{where}: each line must be one JSON object")
    return record


def _number(value: object, field: str, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise RecordingError(f'{where}: "{field}" must be a number of seconds (0 or more)')
    return float(value)


def _direction(record: dict[str, object], where: str) -> str:
    direction = record.get("dir")
    if direction not in (">", "<"):
        raise RecordingError(f'{where}: "dir" must be ">" (client to server) or "<" (server to client)')
    assert isinstance(direction, str)
    return direction


def _payload(record: dict[str, object], where: str) -> bytes | re.Pattern[bytes]:
    """The event's bytes (`b64`, else `text`) or pattern (`re`); exactly one kind must be there."""
    given = [key for key in ("b64", "text", "re") if key in record]
    if not given:
        raise RecordingError(f'{where}: a data event needs "b64", "text" or "re" (or "ev" for an event)')
    if "re" in record:
        if len(given) > 1:
            raise RecordingError(f'{where}: "re" stands alone (remove "b64"/"text")')
        source = record["re"]
        if not isinstance(source, str):
            raise RecordingError(f'{where}: "re" must be a string')
        try:
            return re.compile(source.encode("utf-8"), re.DOTALL)
        except re.error as exc:
            raise RecordingError(f'{where}: "re" is not a valid regular expression ({exc})') from None
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise RecordingError(f'{where}: "text" must be a string')
    if "b64" not in record:
        assert isinstance(text, str)
        return text.encode("utf-8", "surrogatepass")
    encoded = record["b64"]
    if not isinstance(encoded, str):
        raise RecordingError(f'{where}: "b64" must be a base64 string')
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise RecordingError(f'{where}: "b64" is not valid base64') from None
    if text is not None and text.encode("utf-8", "surrogatepass") != data:
        raise RecordingError(f'{where}: "b64" and "text" disagree (edit both, or remove one)')
    return data
