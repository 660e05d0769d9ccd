"""Dialogues and health checks through the real program, against real servers on loopback.

Servers answer in split chunks, with prompts without a newline, with NULs, slowly, wrongly or not at all;
exit 0 means every expectation matched, 1 that the peer answered otherwise, transport failures keep theirs.
"""

from __future__ import annotations

import queue
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PeerServer, free_port, recv_all, run_tcpcli
from tests.tls_helpers import Pki, make_pki, server_context, tls_handler

Peer = Callable[..., PeerServer]
WAIT = 10.0


def redis_like(reply: bytes, pieces: int = 1, pause: float = 0.0) -> Callable[[socket.socket], None]:
    """Read one request, then answer `reply` cut into `pieces` writes `pause` s apart; then read until FIN."""

    def handle(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.recv(1024)
        size = max(1, len(reply) // pieces)
        for start in range(0, len(reply), size):
            time.sleep(pause)
            conn.sendall(reply[start : start + size])
        recv_all(conn)

    return handle


def recording(into: queue.Queue[bytes], reply: bytes = b"") -> Callable[[socket.socket], None]:
    """Send `reply` at once, then record everything received until FIN (so the test sees our FIN)."""

    def handle(conn: socket.socket) -> None:
        if reply:
            conn.sendall(reply)
        into.put(recv_all(conn))

    return handle


def test_one_step_check_matches_an_answer_split_across_writes(peer: Peer) -> None:
    server = peer(redis_like(b"+PONG\r\n", pieces=7, pause=0.02))
    result = run_tcpcli("127.0.0.1", str(server.port), "--send", "PING\\r\\n", "--expect", "\\+PONG\\r\\n")
    assert (result.code, result.stdout, result.stderr) == (0, b"", "")


def test_stdin_is_not_read_in_a_dialogue(peer: Peer) -> None:
    got: queue.Queue[bytes] = queue.Queue()
    server = peer(recording(got, b"+PONG\r\n"))
    result = run_tcpcli(
        "127.0.0.1", str(server.port), "--send", "PING\\r\\n", "--expect", "PONG", stdin=b"junk"
    )
    assert result.code == 0
    assert got.get(timeout=WAIT) == b"PING\r\n"  # no stdin bytes, and our FIN ended the server's read


def test_a_prompt_without_newline_matches_and_steps_interleave_in_a_script(
    peer: Peer, tmp_path: Path
) -> None:
    def login(conn: socket.socket) -> None:
        conn.sendall(b"login: ")
        assert conn.recv(100) == b"alice\n"
        conn.sendall(b"Password: ")
        assert conn.recv(100) == b"secret\n"
        conn.sendall(b"welcome alice\n$ ")
        recv_all(conn)

    server = peer(login)
    script = tmp_path / "login.chat"
    script.write_text("expect login: \nsend alice\\n\nexpect Password: \nsend secret\\n\nexpect welcome\n")
    result = run_tcpcli("127.0.0.1", str(server.port), "--script", str(script))
    assert (result.code, result.stderr) == (0, "")
    assert not server.errors


def test_nul_and_binary_bytes_are_sent_and_matched(peer: Peer) -> None:
    got: queue.Queue[bytes] = queue.Queue()

    def binary(conn: socket.socket) -> None:
        got.put(conn.recv(100))
        conn.sendall(b"\x00\x01\xffHELLO\x00")
        recv_all(conn)

    server = peer(binary)
    result = run_tcpcli(
        "127.0.0.1",
        str(server.port),
        "--send",
        "\\x02\\0\\xfe",
        "--expect",
        "\\x00\\x01\\xffHELLO\\0",
        "--print",
    )
    assert (result.code, result.stdout) == (0, b"\x00\x01\xffHELLO\x00")
    assert got.get(timeout=WAIT) == b"\x02\x00\xfe"


def test_a_slow_answer_within_the_deadline_matches(peer: Peer) -> None:
    server = peer(redis_like(b"+PONG\r\n", pause=0.5))
    result = run_tcpcli(
        "127.0.0.1", str(server.port), "--send", "PING\\r\\n", "--expect", "PONG", "--within", "5"
    )
    assert result.code == 0


def test_a_wrong_answer_is_exit_1_naming_the_step_and_showing_what_arrived(peer: Peer) -> None:
    server = peer(redis_like(b"+PONG\r\n-ERR nope\r\n"))
    result = run_tcpcli(
        "127.0.0.1",
        str(server.port),
        *("--send", "PING\\r\\n", "--expect", "\\+PONG\\r\\n", "--expect", "\\+PONG", "--within", "0.5"),
    )
    assert result.code == 1
    assert result.stderr == 'tcpcli: expect #2 /\\+PONG/ not seen within 0.5s; received "-ERR nope\\r\\n"\n'


def test_no_answer_is_exit_1_after_the_deadline(peer: Peer) -> None:
    server = peer(recording(queue.Queue()))  # reads, never answers
    result = run_tcpcli(
        "127.0.0.1", str(server.port), "--send", "PING\\r\\n", "--expect", "PONG", "--within", "0.3"
    )
    assert result.code == 1
    assert result.stderr == "tcpcli: expect #1 /PONG/ not seen within 0.3s; received nothing\n"


def test_the_peer_closing_first_is_exit_1_at_once(peer: Peer) -> None:
    def hang_up(conn: socket.socket) -> None:
        conn.sendall(b"bye\r\n")

    server = peer(hang_up)
    started = time.monotonic()
    result = run_tcpcli("127.0.0.1", str(server.port), "--expect", "PONG", "--within", "30")
    assert result.code == 1
    assert (
        result.stderr
        == 'tcpcli: expect #1 /PONG/: the peer closed the connection first; received "bye\\r\\n"\n'
    )
    assert time.monotonic() - started < 20  # not the 30 s deadline


def test_refused_is_69_and_an_unknown_host_68() -> None:
    refused = run_tcpcli("127.0.0.1", str(free_port()), "--send", "PING\\r\\n", "--expect", "PONG")
    assert refused.code == 69 and "connection refused" in refused.stderr
    unknown = run_tcpcli("no-such-host.invalid", "6379", "--send", "PING\\r\\n", "--expect", "PONG")
    assert unknown.code == 68 and unknown.stderr.count("\n") == 1


def test_fail_on_fails_at_once(peer: Peer) -> None:
    server = peer(redis_like(b"-ERR unknown command\r\n"))
    started = time.monotonic()
    result = run_tcpcli(
        "127.0.0.1",
        str(server.port),
        *("--send", "PINGX\\r\\n", "--expect", "PONG", "--fail-on", "^-ERR", "--within", "30"),
    )
    assert result.code == 1
    assert result.stderr == (
        'tcpcli: fail-on /^-ERR/ matched while waiting for expect #1 /PONG/; received "-ERR"\n'
    )
    assert time.monotonic() - started < 20


def test_without_quit_the_run_sends_fin_right_after_the_last_match(peer: Peer) -> None:
    got: queue.Queue[bytes] = queue.Queue()
    server = peer(recording(got, b"220 mail ESMTP\r\n"))
    result = run_tcpcli("127.0.0.1", str(server.port), "--expect", "^220 ", "--within", "5")
    assert result.code == 0
    assert got.get(timeout=WAIT) == b""  # the server's read ended: our FIN came, with nothing sent


def test_quit_is_sent_then_fin_then_the_peers_close_is_awaited(peer: Peer) -> None:
    got: queue.Queue[bytes] = queue.Queue()

    def smtp(conn: socket.socket) -> None:
        conn.sendall(b"220 mail ESMTP\r\n")
        data = recv_all(conn)  # until our FIN
        got.put(data)
        conn.sendall(b"221 bye\r\n")

    server = peer(smtp)
    result = run_tcpcli(
        "127.0.0.1", str(server.port), *("--expect", "^220 ", "--quit", "QUIT\\r\\n", "-q", "5", "-v")
    )
    assert result.code == 0
    assert got.get(timeout=WAIT) == b"QUIT\r\n"
    transcript = [line for line in result.stderr.splitlines() if not line.startswith("tcpcli:")]
    assert transcript == ["< 220 mail ESMTP\\r\\n", "> QUIT\\r\\n", "> FIN", "< 221 bye\\r\\n", "< FIN"]


def test_print_writes_the_bytes_up_to_the_end_of_the_last_match(peer: Peer) -> None:
    server = peer(redis_like(b"$5\r\nhello\r\n$3\r\nbye\r\n"))
    result = run_tcpcli(
        "127.0.0.1", str(server.port), "--send", "GET k\\r\\n", "--expect", "hello\\r\\n", "--print"
    )
    assert (result.code, result.stdout) == (0, b"$5\r\nhello\r\n")


def test_print_with_named_groups_writes_one_json_object(peer: Peer) -> None:
    def ssh(conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.6p1 Debian\r\n")
        recv_all(conn)

    server = peer(ssh)
    result = run_tcpcli(
        "127.0.0.1",
        str(server.port),
        *(
            "--expect",
            "^SSH-(?P<proto>[0-9.]+)-(?P<version>\\S+)(?: (?P<comment>[^\\r\\n]*))?\\r\\n",
            "--print",
        ),
    )
    assert result.code == 0
    assert result.stdout == b'{"proto": "2.0", "version": "OpenSSH_9.6p1", "comment": "Debian"}\n'


def test_a_named_group_fills_a_later_send(peer: Peer, tmp_path: Path) -> None:
    got: queue.Queue[bytes] = queue.Queue()

    def challenge(conn: socket.socket) -> None:
        conn.sendall(b"NONCE 4f2a\r\n")
        got.put(conn.recv(100))
        conn.sendall(b"OK\r\n")
        recv_all(conn)

    server = peer(challenge)
    script = tmp_path / "nonce.chat"
    script.write_text("expect NONCE (?P<nonce>[0-9a-f]+)\\r\\n\nsend AUTH ${nonce}\\r\\n\nexpect ^OK\n")
    result = run_tcpcli("127.0.0.1", str(server.port), "--script", str(script))
    assert (result.code, result.stderr) == (0, "")
    assert got.get(timeout=WAIT) == b"AUTH 4f2a\r\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("send PING\\r\\n\nsned x\n", "bad.chat:2: unknown step 'sned'"),
        ("# check\n\nexpect (oops\n", "bad.chat:3: bad regex /(oops/"),
        ("send ${x}\n", "bad.chat:1: ${x}: no earlier expect captures a group named 'x'"),
    ],
)
def test_a_malformed_script_is_65_with_the_line_before_connecting(
    tmp_path: Path, text: str, message: str
) -> None:
    script = tmp_path / "bad.chat"
    script.write_text(text)
    result = run_tcpcli("127.0.0.1", str(free_port()), "--script", str(script))  # nothing listens there
    assert result.code == 65
    assert result.stderr.startswith(f"tcpcli: {script.parent}/{message}")
    assert result.stderr.count("\n") == 1


def test_an_unreadable_script_is_66(tmp_path: Path) -> None:
    result = run_tcpcli("127.0.0.1", "1", "--script", str(tmp_path / "missing.chat"))
    assert result.code == 66 and "cannot read it" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--expect", "(", "h", "1"],
            "--expect: bad regex /(/: missing ), unterminated subpattern at position 0",
        ),
        (["--script", "x.chat", "--send", "a", "h", "1"], "--script and --send cannot be combined"),
        (["--expect", "a", "-x", "h", "1"], "-x/--hex cannot be combined with --send/--expect"),
        (["--within", "2", "h", "1"], "--within is part of a dialogue"),
        (["--print", "h", "1"], "--print is part of a dialogue"),
        (["--expect", "a", "-k", "h", "1"], "-k/--keep-open is a listen-mode option"),
        (["--expect", "a", "-q", "1", "h", "1"], "-q bounds the wait for the peer to close after --quit"),
        (["--expect", "a", "--within", "0", "h", "1"], "--within: '0' is not a number of seconds > 0"),
        (["--send", "\\q", "h", "1"], "--send: unknown escape"),
        (["-l", "0", "--script", "x.chat", "--echo"], "--echo/--broadcast cannot be combined with --script"),
    ],
)
def test_combinations_that_make_no_sense_are_usage_errors(args: list[str], message: str) -> None:
    result = run_tcpcli(*args)
    assert result.code == 2
    assert result.stderr.startswith(f"tcpcli: {message}"), result.stderr
    assert result.stderr.count("\n") == 1


def test_verbose_writes_the_whole_transcript_to_stderr(peer: Peer) -> None:
    server = peer(redis_like(b"+PO\x00NG\r\nFIN", pieces=2))
    result = run_tcpcli("127.0.0.1", str(server.port), "--send", "PING\\r\\n", "--expect", "FIN", "-v")
    assert result.code == 0
    transcript = [line for line in result.stderr.splitlines() if not line.startswith("tcpcli:")]
    received = "".join(line[2:] for line in transcript if line.startswith("< "))
    assert transcript[0] == "> PING\\r\\n"
    assert received in ("+PO\\0NG\\r\\n\\x46IN", "+PO\\0NG\\r\\nFIN")  # data reading "FIN" is escaped...
    assert transcript[-1] == "> FIN"  # ...so a bare FIN is always the event
    assert any(line.startswith("tcpcli: connected ") for line in result.stderr.splitlines())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_a_dialogue_over_tls_is_verified_and_matches(peer: Peer, pki: Pki) -> None:
    def pong(tls: object) -> None:
        assert isinstance(tls, socket.socket)
        tls.recv(100)
        tls.sendall(b"+PONG\r\n")
        tls.recv(100)

    server = peer(tls_handler(server_context(pki.server), pong))
    base = ["localhost", str(server.port), "--tls", "--send", "PING\\r\\n", "--expect", "\\+PONG"]
    assert run_tcpcli(*base, "--cafile", pki.ca).code == 0
    untrusted = run_tcpcli(*base)
    assert untrusted.code == 76


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_against_a_socat_server() -> None:
    port = free_port()
    server = subprocess.Popen(
        ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr", "SYSTEM:'read line; echo +PONG'"],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT
        result = None
        while time.monotonic() < deadline:
            result = run_tcpcli(
                "127.0.0.1", str(port), "--send", "PING\\n", "--expect", "\\+PONG\\n", "--print"
            )
            if result.code != 69:  # socat not listening yet
                break
            time.sleep(0.05)
        assert result is not None and (result.code, result.stdout) == (0, b"+PONG\n")
    finally:
        server.kill()
        server.wait(WAIT)


def test_the_dialogue_loads_no_asyncio_no_typer_and_no_json_unless_printing_groups() -> None:
    from tests.engine.test_engine_imports import loaded_modules

    heavy = ("asyncio", "typer", "click", "json", "rich", "prompt_toolkit")
    assert loaded_modules("tcpcli.cli, tcpcli.modes.dialogue", heavy) == []
