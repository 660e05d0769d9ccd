"""`tcpcli -l PORT --script FILE`: a scripted test server, one client or many (-k), each checked alone."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import TCPCLI, recv_all
from tests.listen_helpers import WAIT, recv_until, running

GREETER = r"""# a tiny SMTP-like server
send 220 test server\r\n
expect HELO (?P<who>\w+)\r\n
send 250 hello ${who}\r\n
expect QUIT\r\n
quit 221 bye\r\n
"""


@pytest.fixture
def script(tmp_path: Path) -> str:
    path = tmp_path / "server.chat"
    path.write_text(GREETER)
    return str(path)


def follow(port: int, name: bytes = b"alice") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        recv_until(sock, b"220 test server\r\n")
        sock.sendall(b"HELO " + name + b"\r\n")
        recv_until(sock, b"250 hello " + name + b"\r\n")
        sock.sendall(b"QUIT\r\n")
        rest = recv_until(sock, b"221 bye\r\n")
        sock.shutdown(socket.SHUT_WR)
        return rest + recv_all(sock)  # the server's FIN ends it


def test_one_client_that_follows_the_script_is_exit_0(script: str) -> None:
    with running("-l", "127.0.0.1", "0", "--script", script) as server:
        assert follow(server.port).endswith(b"221 bye\r\n")
        assert server.wait() == 0


def test_one_client_that_does_not_follow_is_exit_1_naming_it_and_the_step(script: str) -> None:
    with running("-l", "127.0.0.1", "0", "--script", script) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
            recv_until(sock, b"220 test server\r\n")
            sock.sendall(b"EHLO x\r\n")
            sock.shutdown(socket.SHUT_WR)
            recv_all(sock)
            local = sock.getsockname()
        assert server.wait() == 1
        assert server.rest_of_stderr() == (
            f"tcpcli: client 127.0.0.1:{local[1]}: expect #1 /HELO (?P<who>\\w+)\\r\\n/: "
            'the peer closed the connection first; received "EHLO x\\r\\n"\n'
        )


def test_keep_open_serves_clients_concurrently_and_goes_on_after_a_bad_one(script: str) -> None:
    with running("-l", "127.0.0.1", "0", "-k", "--script", script, "--within", "5") as server:
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)  # holds its step
        results: list[bytes] = []
        threads = [
            threading.Thread(target=lambda n=n: results.append(follow(server.port, b"c%d" % n)))
            for n in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert len(results) == 4 and all(result.endswith(b"221 bye\r\n") for result in results)
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as bad:
            recv_until(bad, b"220 test server\r\n")
            bad.sendall(b"HELO !!\r\n")
            bad.shutdown(socket.SHUT_WR)
            recv_all(bad)
        line = server.wait_stderr("peer closed the connection first")
        assert line.startswith("tcpcli: client 127.0.0.1:") and 'received "HELO !!\\r\\n"' in line
        assert follow(server.port).endswith(b"221 bye\r\n")  # the server went on
        silent.close()


def test_a_client_that_says_nothing_is_closed_after_the_deadline(tmp_path: Path) -> None:
    path = tmp_path / "wait.chat"
    path.write_text("expect-within 0.3 hello\n")
    with running("-l", "127.0.0.1", "0", "-k", "--script", str(path)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
            assert recv_all(sock) == b""  # closed by the server
        assert "expect #1 /hello/ not seen within 0.3s; received nothing" in server.wait_stderr("not seen")


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_a_socat_client_against_the_scripted_server(script: str) -> None:
    with running("-l", "127.0.0.1", "0", "--script", script) as server:
        client = subprocess.run(
            ["socat", "-t", "5", "-", f"TCP:127.0.0.1:{server.port}"],
            input=b"HELO socat\r\nQUIT\r\n",
            capture_output=True,
            timeout=WAIT,
        )
        assert client.stdout == b"220 test server\r\n250 hello socat\r\n221 bye\r\n"
        assert server.wait() == 0


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc is not installed")
def test_an_nc_client_against_the_scripted_server(script: str) -> None:
    with running("-l", "127.0.0.1", "0", "--script", script) as server:
        client = subprocess.run(
            ["nc", "127.0.0.1", str(server.port)],
            input=b"HELO nc\r\nQUIT\r\n",
            capture_output=True,
            timeout=WAIT,
        )
        assert client.stdout == b"220 test server\r\n250 hello nc\r\n221 bye\r\n"
        assert server.wait() == 0


def test_our_own_dialogue_as_the_client_of_our_scripted_server(script: str) -> None:
    with running("-l", "127.0.0.1", "0", "--script", script, "-v") as server:
        client = subprocess.run(
            [
                *TCPCLI,
                *("127.0.0.1", str(server.port)),
                *(
                    "--send",
                    "HELO me\\r\\nQUIT\\r\\n",
                    "--expect",
                    "250 hello (?P<name>\\w+)\\r\\n",
                    "--print",
                ),
                *("--expect", "221 bye\\r\\n"),
            ],
            capture_output=True,
            timeout=WAIT,
        )
        assert (client.returncode, client.stdout) == (0, b'{"name": "me"}\n')
        assert server.wait() == 0
        transcript = [line for line in server.rest_of_stderr().splitlines() if not line.startswith("tcpcli:")]
        # `>` is client to server whichever side tcpcli plays: the scripted server's own lines are `<`
        assert transcript[0] == "< 220 test server\\r\\n"
        assert "> HELO me\\r\\n" in transcript
        assert "> FIN" in transcript and "< 221 bye\\r\\n" in transcript


def test_dialogues_over_a_unix_socket_both_sides(script: str, tmp_path: Path) -> None:
    # the scripted server listens on -U (its clients named unix:PATH#N), our own dialogue connects with -U
    path = str(tmp_path / "chat.sock")
    server = subprocess.Popen(
        [*TCPCLI, "-l", "-U", path, "--script", script, "-v"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert server.stderr is not None
        assert server.stderr.readline() == f"tcpcli: listening on unix:{path}\n".encode()
        client = subprocess.run(
            [*TCPCLI, "-U", path, "--send", "HELO bob\\r\\n", "--expect", "250 hello bob", "-v"],
            capture_output=True,
            timeout=WAIT,
        )
        assert client.returncode == 0, client.stderr
        assert "> FIN\n" in client.stderr.decode()  # it stops after its one step, before the QUIT step
        assert server.wait(timeout=WAIT) == 1
        rest = server.stderr.read().decode()
        assert f"tcpcli: client unix:{path}#1: expect #2 /QUIT" in rest
        assert not Path(path).exists()  # the socket file goes with the server
    finally:
        server.kill()
        server.wait()
        assert server.stderr is not None
        server.stderr.close()
