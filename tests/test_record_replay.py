"""--record in each mode and --replay of what it wrote, as a mock server and as a mock client, against real
peers that cut their bytes differently from the recorded ones; each kind of mismatch; hand-written and
malformed recordings; --redact."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PeerServer, free_port, recv_all, run_tcpcli
from tests.listen_helpers import WAIT, running

HEADER = '{"tcpcli": 1, "mode": "connect", "started": "2026-11-30T09:00:00.000000Z"}\n'


def events(path: Path) -> list[dict[str, object]]:
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["tcpcli"] == 1 and header["started"].endswith("Z")  # type: ignore[union-attr]
    return [json.loads(line) for line in lines[1:]]


def data_of(recorded: list[dict[str, object]], conn: int, direction: str) -> str:
    return "".join(
        str(e["text"]) for e in recorded if e.get("c") == conn and e.get("dir") == direction and "text" in e
    )


def pong_handler(conn: socket.socket) -> None:
    """A tiny redis: `+PONG\\r\\n` for each PING line, sent one byte at a time; FIN after the client's."""
    buffer = b""
    while data := conn.recv(4096):
        buffer += data
        while b"\r\n" in buffer:
            _line, buffer = buffer.split(b"\r\n", 1)
            for byte in b"+PONG\r\n":
                conn.sendall(bytes([byte]))
    conn.shutdown(socket.SHUT_WR)


def client_bytewise(port: int, data: bytes) -> bytes:
    """A client that sends one byte per segment, then FIN, and reads until the server's FIN."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in data:
            sock.sendall(bytes([byte]))
        sock.shutdown(socket.SHUT_WR)
        return recv_all(sock)


def record_connect(tmp_path: Path, peer: Callable[..., PeerServer]) -> Path:
    server = peer(pong_handler)
    path = tmp_path / "redis.jsonl"
    result = run_tcpcli("--record", str(path), "127.0.0.1", str(server.port), stdin=b"PING\r\nPING\r\n")
    assert result.code == 0, result.stderr
    assert result.stdout == b"+PONG\r\n+PONG\r\n"
    return path


def test_connect_mode_records_both_directions_fin_and_close(
    tmp_path: Path, peer: Callable[..., PeerServer]
) -> None:
    path = record_connect(tmp_path, peer)
    recorded = events(path)
    assert recorded[0]["ev"] == "open" and recorded[-1] == {"t": recorded[-1]["t"], "c": 1, "ev": "close"}
    assert data_of(recorded, 1, ">") == "PING\r\nPING\r\n"
    assert data_of(recorded, 1, "<") == "+PONG\r\n+PONG\r\n"
    assert {(e["ev"], e["dir"]) for e in recorded if e.get("ev") == "fin"} == {("fin", ">"), ("fin", "<")}


def test_a_connect_recording_replays_as_a_server_to_a_client_that_chunks_differently(
    tmp_path: Path, peer: Callable[..., PeerServer]
) -> None:
    path = record_connect(tmp_path, peer)
    with running("-l", "127.0.0.1", "0", "--replay", str(path)) as server:
        assert client_bytewise(server.port, b"PING\r\nPING\r\n") == b"+PONG\r\n+PONG\r\n"
        assert server.wait() == 0, server.rest_of_stderr()


def test_a_connect_recording_replays_as_a_client_against_the_real_server(
    tmp_path: Path, peer: Callable[..., PeerServer]
) -> None:
    path = record_connect(tmp_path, peer)
    server = peer(pong_handler)
    result = run_tcpcli("--replay", str(path), "127.0.0.1", str(server.port))
    assert (result.code, result.stderr) == (0, "")


def test_a_replayed_server_answers_socat_and_nc(tmp_path: Path, peer: Callable[..., PeerServer]) -> None:
    path = record_connect(tmp_path, peer)
    for client in (["socat", "-", "TCP:127.0.0.1:{port}"], ["nc", "-N", "127.0.0.1", "{port}"]):
        with running("-l", "127.0.0.1", "0", "--replay", str(path)) as server:
            argv = [part.format(port=server.port) for part in client]
            out = subprocess.run(argv, input=b"PING\r\nPING\r\n", capture_output=True, timeout=WAIT)
            assert out.stdout == b"+PONG\r\n+PONG\r\n", (client, out)
            assert server.wait() == 0, server.rest_of_stderr()


@pytest.mark.parametrize("path_option", [(), ("--no-transcript",)])
def test_the_relay_records_each_connection_and_the_recording_replays_both_ways(
    tmp_path: Path, peer: Callable[..., PeerServer], path_option: tuple[str, ...]
) -> None:
    upstream = peer(pong_handler)
    path = tmp_path / "relay.jsonl"
    target = f"127.0.0.1:{upstream.port}"
    with running("-l", "127.0.0.1", "0", "--to", target, "--record", str(path), *path_option) as relay:
        assert client_bytewise(relay.port, b"PING\r\n") == b"+PONG\r\n"
        assert relay.wait() == 0, relay.rest_of_stderr()
    recorded = events(path)
    assert json.loads(path.read_text().splitlines()[0])["mode"] == "relay"
    assert data_of(recorded, 1, ">") == "PING\r\n" and data_of(recorded, 1, "<") == "+PONG\r\n"
    assert recorded[0]["dst"] == target
    result = run_tcpcli("--replay", str(path), "127.0.0.1", str(peer(pong_handler).port))
    assert (result.code, result.stderr) == (0, "")
    with running("-l", "127.0.0.1", "0", "--replay", str(path)) as server:
        assert client_bytewise(server.port, b"PING\r\n") == b"+PONG\r\n"
        assert server.wait() == 0


def test_a_relay_fault_that_fires_is_recorded_and_the_file_still_reads(
    tmp_path: Path, peer: Callable[..., PeerServer]
) -> None:
    # issue 15: each fault that fires is an event in --record too (here CUT after the first 4 bytes up)
    upstream = peer(pong_handler)
    path = tmp_path / "cut.jsonl"
    args = ("-l", "127.0.0.1", "0", "--to", f"127.0.0.1:{upstream.port}", "--cut-after", "up:4")
    with running(*args, "--record", str(path)) as relay:
        with socket.create_connection(("127.0.0.1", relay.port), timeout=WAIT) as client:
            client.sendall(b"PING\r\n")
            recv_all(client)  # the cut: FIN after what was forwarded
        assert relay.wait() == 0, relay.rest_of_stderr()
    recorded = events(path)
    assert {"c": 1, "ev": "cut"} in [{k: v for k, v in e.items() if k != "t"} for e in recorded]
    # a replay reads past the fault event: the file is still a valid recording
    result = run_tcpcli("--replay", str(path), "--within", "0.5", "127.0.0.1", str(upstream.port))
    assert result.code != 65, result.stderr  # not "malformed"


def test_listen_k_records_each_client_and_a_k_replay_serves_them_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    with running("-l", "-k", "127.0.0.1", "0", "--echo", "--record", str(path)) as server:
        for word in (b"one\n", b"two\n"):
            assert client_bytewise(server.port, word) == word
        server.stop()
    recorded = events(path)
    assert data_of(recorded, 1, ">") == "one\n" and data_of(recorded, 2, "<") == "two\n"
    with running("-l", "-k", "127.0.0.1", "0", "--replay", str(path)) as replay:
        # connected in order (accept order is the recording's order), then served at the same time
        socks = [socket.create_connection(("127.0.0.1", replay.port), timeout=WAIT) for _ in range(2)]
        results: dict[bytes, bytes] = {}

        def talk(sock: socket.socket, word: bytes) -> None:
            with sock:
                for byte in word:
                    sock.sendall(bytes([byte]))
                sock.shutdown(socket.SHUT_WR)
                results[word] = recv_all(sock)

        threads = [
            threading.Thread(target=talk, args=pair) for pair in zip(socks, (b"one\n", b"two\n"), strict=True)
        ]
        for thread in reversed(threads):  # the second connection speaks first: each is still its own
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert replay.wait() == 0, replay.rest_of_stderr()
    assert results == {
        b"one\n": b"one\n",
        b"two\n": b"two\n",
    }  # each client took the next recorded connection


def test_listen_one_client_with_a_greeting_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    with running(
        "-l", "127.0.0.1", "0", "--greet", "hello\\n", "--record", str(path), stdin=subprocess.DEVNULL
    ) as server:
        assert client_bytewise(server.port, b"hi\n") == b"hello\n"
        assert server.wait() == 0
    recorded = events(path)
    assert data_of(recorded, 1, "<") == "hello\n" and data_of(recorded, 1, ">") == "hi\n"
    assert json.loads(path.read_text().splitlines()[0])["mode"] == "listen"


def test_a_dialogue_is_recorded_and_replays(tmp_path: Path, peer: Callable[..., PeerServer]) -> None:
    path = tmp_path / "dialogue.jsonl"
    server = peer(pong_handler)
    result = run_tcpcli(
        # the whole line is awaited: the dialogue ends at its match, and the server sends a byte at a time
        *(
            "127.0.0.1",
            str(server.port),
            "--send",
            "PING\\r\\n",
            "--expect",
            "PONG\\r\\n",
            "--record",
            str(path),
        )
    )
    assert result.code == 0, result.stderr
    assert data_of(events(path), 1, "<") == "+PONG\r\n"
    result = run_tcpcli("--replay", str(path), "127.0.0.1", str(peer(pong_handler).port))
    assert (result.code, result.stderr) == (0, "")


def write(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "hand.jsonl"
    path.write_text(header + "\n".join(lines) + "\n")
    return path


def test_a_different_answer_is_exit_1_naming_connection_turn_expected_and_received(
    tmp_path: Path, peer: Callable[..., PeerServer]
) -> None:
    def wrong(conn: socket.socket) -> None:
        conn.recv(100)
        conn.sendall(b"-ERR \x1b[31m\r\n")
        recv_all(conn)

    path = write(tmp_path, '{"dir": ">", "text": "PING\\r\\n"}', '{"dir": "<", "text": "+PONG\\r\\n"}')
    result = run_tcpcli("--replay", str(path), "127.0.0.1", str(peer(wrong).port))
    assert result.code == 1
    # what had arrived when the first wrong byte did (how much depends on TCP): never raw, one line
    assert result.stderr.startswith('tcpcli: replay #1 turn 2: expected "+PONG\\r\\n", received "-')
    assert "\x1b" not in result.stderr and result.stderr.count("\n") == 1


def test_an_answer_that_does_not_come_is_exit_1_after_within(
    tmp_path: Path, peer: Callable[..., PeerServer]
) -> None:
    def half(conn: socket.socket) -> None:
        conn.recv(100)
        conn.sendall(b"+PO")
        time.sleep(3)

    path = write(tmp_path, '{"dir": ">", "text": "PING\\r\\n"}', '{"dir": "<", "text": "+PONG\\r\\n"}')
    result = run_tcpcli("--replay", str(path), "--within", "0.5", "127.0.0.1", str(peer(half).port))
    assert result.code == 1
    assert result.stderr == (
        'tcpcli: replay #1 turn 2: expected "+PONG\\r\\n", received "+PO" (nothing more within 0.5s)\n'
    )


def test_a_peer_that_closes_early_is_exit_1_then_fin(tmp_path: Path, peer: Callable[..., PeerServer]) -> None:
    def closes(conn: socket.socket) -> None:
        conn.recv(100)

    path = write(tmp_path, '{"dir": ">", "text": "PING\\r\\n"}', '{"dir": "<", "text": "+PONG\\r\\n"}')
    result = run_tcpcli("--replay", str(path), "127.0.0.1", str(peer(closes).port))
    assert result.code == 1
    assert result.stderr == 'tcpcli: replay #1 turn 2: expected "+PONG\\r\\n", received nothing then FIN\n'


def test_more_than_the_recording_is_exit_1(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"dir": ">", "text": "a\\n"}',
        '{"dir": "<", "text": "b\\n"}',
        '{"ev": "fin", "dir": "<"}',
        '{"ev": "fin", "dir": ">"}',
    )
    with running("-l", "127.0.0.1", "0", "--replay", str(path)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
            sock.sendall(b"a\n")
            assert recv_all(sock) == b"b\n"
            sock.sendall(b"extra")
            sock.shutdown(socket.SHUT_WR)
        assert server.wait() == 1
        assert 'replay #1 turn 4: expected FIN, received "extra"' in server.rest_of_stderr()


def test_a_recorded_fin_is_owed_not_waited_for_in_place(tmp_path: Path) -> None:
    """Recorded: the client's FIN came before the answer; a live client that waits for the answer first
    still matches (the FIN is checked at the end)."""
    path = write(
        tmp_path, '{"dir": ">", "text": "a\\n"}', '{"ev": "fin", "dir": ">"}', '{"dir": "<", "text": "b\\n"}'
    )
    with running("-l", "127.0.0.1", "0", "--replay", str(path)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
            sock.sendall(b"a\n")
            assert sock.recv(10) == b"b\n"
            sock.shutdown(socket.SHUT_WR)
        assert server.wait() == 0, server.rest_of_stderr()


def test_hand_written_re_fields_match_a_varying_answer(
    tmp_path: Path, peer: Callable[..., PeerServer]
) -> None:
    def counter(conn: socket.socket) -> None:
        conn.recv(100)
        conn.sendall(b":1234\r\n")
        recv_all(conn)

    path = write(tmp_path, '{"dir": ">", "text": "INCR n\\r\\n"}', '{"dir": "<", "re": ":\\\\d+\\r\\n"}')
    for match in ("regex", "exact"):  # "re" fields are patterns whatever --match says (but any)
        result = run_tcpcli("--replay", str(path), "--match", match, "127.0.0.1", str(peer(counter).port))
        assert (result.code, result.stderr) == (0, "")


def test_match_lines_ignores_cr_before_lf_and_any_takes_anything(
    tmp_path: Path, peer: Callable[..., PeerServer]
) -> None:
    def lf_only(conn: socket.socket) -> None:
        conn.recv(100)
        conn.sendall(b"+PONG\n")
        recv_all(conn)

    path = write(tmp_path, '{"dir": ">", "text": "PING\\r\\n"}', '{"dir": "<", "text": "+PONG\\r\\n"}')
    codes = {
        match: run_tcpcli("--replay", str(path), "--match", match, "127.0.0.1", str(peer(lf_only).port)).code
        for match in ("exact", "lines", "any")
    }
    assert codes == {"exact": 1, "lines": 0, "any": 0}


def test_a_recorded_rst_is_reproduced(tmp_path: Path, peer: Callable[..., PeerServer]) -> None:
    seen: list[str] = []

    def reader(conn: socket.socket) -> None:
        try:
            seen.append(recv_all(conn).decode())
        except ConnectionResetError:
            seen.append("RST")

    path = write(tmp_path, '{"dir": ">", "text": "x"}', '{"ev": "rst", "dir": ">"}')
    result = run_tcpcli("--replay", str(path), "127.0.0.1", str(peer(reader).port))
    assert result.code == 0, result.stderr
    deadline = time.monotonic() + WAIT
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == ["RST"]


def test_loop_starts_the_recording_over(tmp_path: Path) -> None:
    path = write(tmp_path, '{"dir": ">", "text": "a"}', '{"dir": "<", "text": "b"}')
    with running("-l", "127.0.0.1", "0", "--replay", str(path), "--loop") as server:
        for _ in range(3):
            assert client_bytewise(server.port, b"a") == b"b"
        assert server.proc.poll() is None  # still serving


def test_speed_1_keeps_the_recorded_gap(tmp_path: Path, peer: Callable[..., PeerServer]) -> None:
    got: list[bytes] = []
    path = write(tmp_path, '{"t": 0, "dir": ">", "text": "a"}', '{"t": 0.3, "dir": ">", "text": "b"}')
    server = peer(lambda conn: got.append(recv_all(conn)))
    result = run_tcpcli("--replay", str(path), "--speed", "1", "127.0.0.1", str(server.port))
    assert result.code == 0, result.stderr


def test_redact_keeps_secrets_out_of_the_file(tmp_path: Path, peer: Callable[..., PeerServer]) -> None:
    server = peer(lambda conn: (recv_all(conn), conn.sendall(b"ok\n")))
    path = tmp_path / "secret.jsonl"
    stdin = b"AUTH hunter2\r\nGET key\r\n"
    result = run_tcpcli(
        "--record", str(path), "--redact", r"AUTH \S+", "127.0.0.1", str(server.port), stdin=stdin
    )
    assert result.code == 0, result.stderr
    assert "hunter2" not in path.read_text()
    assert data_of(events(path), 1, ">") == "***\r\nGET key\r\n"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("{not json", "hand.jsonl:3: not JSON"),
        ('{"dir": ">"}', 'hand.jsonl:3: a data event needs "b64", "text" or "re"'),
        ('{"dir": ">", "re": "x"}', 'hand.jsonl:3: a "re" pattern cannot be sent'),
    ],
)
def test_a_malformed_recording_is_65_with_file_and_line(tmp_path: Path, line: str, says: str) -> None:
    path = write(tmp_path, '{"dir": ">", "text": "a"}', line)
    result = run_tcpcli("--replay", str(path), "127.0.0.1", str(free_port()))
    assert result.code == 65
    assert result.stderr.startswith(f"tcpcli: {tmp_path}/{says}") and result.stderr.count("\n") == 1


def test_a_recording_without_header_or_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, '{"dir": ">", "text": "a"}', header="")
    result = run_tcpcli("--replay", str(path), "127.0.0.1", "1")
    assert result.code == 65 and f"{path}:1: not a tcpcli recording" in result.stderr
    assert run_tcpcli("--replay", str(tmp_path / "missing"), "127.0.0.1", "1").code == 66


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--match", "lines", "127.0.0.1", "1"), "--match is part of a replay"),
        (("--redact", "x", "127.0.0.1", "1"), "--redact applies to what --record writes"),
        (
            ("--record", "r.jsonl", "--redact", "(", "127.0.0.1", "1"),
            "--redact: not a valid regular expression",
        ),
        (("-z", "--record", "r.jsonl", "127.0.0.1", "1"), "--record cannot be combined with -z"),
        (("--loop", "127.0.0.1", "1"), "--loop"),
    ],
)
def test_usage_errors(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    args = tuple(str(tmp_path / arg) if arg == "r.jsonl" else arg for arg in args)
    result = run_tcpcli(*args)
    assert result.code == 2, result.stderr
    assert says in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "r.jsonl").exists()  # refused before any file is created


def test_replay_options_that_make_no_sense_are_usage_errors(tmp_path: Path) -> None:
    path = write(tmp_path, '{"dir": ">", "text": "a"}')
    result = run_tcpcli("--replay", str(path), "--match", "fuzzy", "127.0.0.1", "1")
    assert result.code == 2 and "--match: 'fuzzy' is not one of exact, lines, regex, any" in result.stderr
    result = run_tcpcli("--replay", str(path), "-l", "0", "--to", "127.0.0.1:1")
    assert result.code == 2 and "--replay cannot be combined with --to" in result.stderr


def reset_socket(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_client_reset_is_recorded_in_the_relay(tmp_path: Path, peer: Callable[..., PeerServer]) -> None:
    upstream = peer(lambda conn: recv_all(conn))
    path = tmp_path / "rst.jsonl"
    with running(
        "-l", "127.0.0.1", "0", "--to", f"127.0.0.1:{upstream.port}", "--record", str(path)
    ) as relay:
        sock = socket.create_connection(("127.0.0.1", relay.port), timeout=WAIT)
        sock.sendall(b"x")  # the RST follows the byte in order: nothing to wait for
        reset_socket(sock)
        relay.wait()
    assert any(e.get("ev") == "rst" and e.get("dir") == ">" for e in events(path))


def test_udp_datagrams_are_recorded_one_event_each_and_not_replayed(tmp_path: Path) -> None:
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    echo.settimeout(WAIT)

    def answer() -> None:
        for _ in range(2):
            data, address = echo.recvfrom(100)
            echo.sendto(data.upper(), address)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    path = tmp_path / "udp.jsonl"
    port = str(echo.getsockname()[1])
    result = run_tcpcli("-u", "--record", str(path), "127.0.0.1", port, stdin=b"one\ntwo\n")
    thread.join(WAIT)
    echo.close()
    assert result.code == 0, result.stderr
    assert json.loads(path.read_text().splitlines()[0])["transport"] == "udp"
    recorded = events(path)
    datagrams = sorted((str(e["dir"]), str(e["text"])) for e in recorded if "b64" in e)
    assert datagrams == [("<", "ONE\n"), ("<", "TWO\n"), (">", "one\n"), (">", "two\n")]  # one event each
    replayed = run_tcpcli("--replay", str(path), "127.0.0.1", port)
    assert replayed.code == 65 and "replaying datagrams is not supported yet" in replayed.stderr
