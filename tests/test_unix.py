"""-U/--unix: Unix stream sockets against socat and Python peers, abstract names, stale files, cleanup, -k.

Real sockets in a temporary directory (path sockets) or the abstract namespace (a name unique to each test);
every wait is bounded (a state, never a guessed sleep).
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_tcpcli, start_tcpcli
from tests.listen_helpers import WAIT, eventually, recv_until
from tests.tls_helpers import Pki, make_pki

needs_socat = pytest.mark.skipif(
    shutil.which("socat") is None, reason="socat is not installed (.ci/run installs it)"
)


def _abstract() -> str:
    return f"tcpcli-test-{uuid.uuid4().hex[:12]}"


def _can_connect(address: str | bytes) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(address)
        except OSError:
            return False
    return True


@pytest.fixture
def socat_echo(tmp_path: Path) -> Iterator[Path]:
    """`socat UNIX-LISTEN:PATH,fork EXEC:cat`: an echo server on a path socket."""
    path = tmp_path / "echo.sock"
    proc = subprocess.Popen(["socat", f"UNIX-LISTEN:{path},fork", "EXEC:cat"], stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: path.exists())
        yield path
    finally:
        proc.kill()
        proc.wait(WAIT)


_STARTED: list[UnixListen] = []


@pytest.fixture(autouse=True)
def _stop_servers() -> Iterator[None]:
    """A test that fails half-way still ends its servers (and closes their pipes)."""
    yield
    while _STARTED:
        server = _STARTED.pop()
        if server.proc.returncode is None:
            server.proc.kill()
            server.proc.communicate(timeout=WAIT)


class UnixListen:
    """`tcpcli -l -U PATH ...` running; waits for its `listening on` line."""

    def __init__(self, *args: str, stdout: int = subprocess.DEVNULL) -> None:
        self.proc = start_tcpcli("-l", *args, stdout=stdout)
        _STARTED.append(self)
        assert self.proc.stderr is not None
        self.first_line = self.proc.stderr.readline().decode()
        assert "listening on " in self.first_line, self.first_line

    def wait_stderr(self, needle: str) -> None:
        """Read stderr (bounded by WAIT) until a line containing `needle` has come."""
        assert self.proc.stderr is not None
        deadline = time.monotonic() + WAIT
        seen = b""
        while needle.encode() not in seen:
            ready, _, _ = select.select([self.proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self.proc.stderr.fileno(), 4096) if ready else b""
            if not chunk:
                raise AssertionError(f"no {needle!r} on stderr in time; so far {seen!r}")
            seen += chunk

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Signal it unless it has ended; its exit status and the rest of its stderr (every pipe closed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        _out, err = self.proc.communicate(timeout=WAIT)
        return self.proc.returncode, err.decode()


@needs_socat
def test_stdin_reaches_a_socat_unix_server_and_the_reply_reaches_stdout(socat_echo: Path) -> None:
    result = run_tcpcli("-U", str(socat_echo), "-v", stdin=b"PING\n")
    assert result.code == 0, result.stderr
    assert result.stdout == b"PING\n"
    assert f"connected unix socket -> unix:{socat_echo}" in result.stderr
    assert f"closed unix:{socat_echo}: sent 5 bytes, received 5 bytes" in result.stderr


@needs_socat
def test_an_abstract_name_reaches_socat_abstract_listen_and_is_shown_as_at_name() -> None:
    name = _abstract()
    proc = subprocess.Popen(["socat", f"ABSTRACT-LISTEN:{name},fork", "EXEC:cat"], stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: _can_connect(b"\0" + name.encode()))
        result = run_tcpcli("-U", f"@{name}", "-x", "-v", stdin=b"hi\n")
    finally:
        proc.kill()
        proc.wait(WAIT)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(b"00000000  68 69 0a")
    assert f"closed @{name}:" in result.stderr


@needs_socat
def test_the_stream_path_splices_over_a_unix_socket(socat_echo: Path) -> None:
    """stdin and stdout pipes: the kernel moves the bytes both ways, as over TCP (the bench's fast path)."""
    data = os.urandom(3 << 20)
    proc = start_tcpcli("-U", str(socat_echo), "-v")
    out, err = proc.communicate(data, timeout=WAIT * 3)
    assert proc.returncode == 0, err
    assert out == data
    assert "stdin -> socket by splice, socket -> stdout by splice" in err.decode()


def test_a_missing_socket_file_is_69_and_z_says_closed(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.sock"
    result = run_tcpcli("-U", str(missing))
    assert result.code == 69
    assert result.stderr == f"tcpcli: connect to unix:{missing}: no such file (is the server running?)\n"
    assert run_tcpcli("-z", "-U", str(missing)).code == 1
    assert run_tcpcli("-z", "-U", f"@{_abstract()}").code == 1


def test_z_is_0_when_a_unix_server_accepts(tmp_path: Path) -> None:
    path = tmp_path / "live.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(4)
        assert run_tcpcli("-z", "-U", str(path)).code == 0


def test_a_refused_socket_is_69_and_z_says_closed(tmp_path: Path) -> None:
    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # bound, never listening: connect is refused
        result = run_tcpcli("-U", str(path))
        assert result.code == 69
        assert "connection refused" in result.stderr
        assert run_tcpcli("-z", "-U", str(path)).code == 1


def test_a_python_client_talks_to_listen_mode_and_the_file_goes_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "one.sock"
    server = UnixListen("-U", str(path), "-v", stdout=subprocess.PIPE)
    assert server.first_line == f"tcpcli: listening on unix:{path}\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(WAIT)
        client.connect(str(path))
        client.sendall(b"hello server\n")
        client.shutdown(socket.SHUT_WR)
        assert server.proc.stdout is not None
        assert server.proc.stdout.read() == b"hello server\n"
    code, err = server.stop()
    assert code == 0, err
    assert f"client unix:{path}#1 connected" in err
    assert not path.exists()


@needs_socat
def test_socat_unix_connect_is_served_by_listen_mode(tmp_path: Path) -> None:
    path = tmp_path / "srv.sock"
    server = UnixListen("-U", str(path), "--echo")
    done = subprocess.run(
        ["socat", "-t", "2", "-", f"UNIX-CONNECT:{path}"],
        input=b"echo me\n",
        capture_output=True,
        timeout=WAIT,
    )
    assert done.stdout == b"echo me\n"
    _out, err = server.proc.communicate(timeout=WAIT)  # without -k it ends when its client leaves
    code = server.proc.returncode
    assert code == 0, err
    assert not path.exists()


def test_a_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as crashed:
        crashed.bind(str(path))  # the file stays after close: a server that died
    assert path.exists()
    server = UnixListen("-U", str(path), "-k")
    assert _can_connect(str(path))
    code, _err = server.stop()
    assert code == 143
    assert not path.exists()


def test_a_live_server_on_the_path_is_69_and_keeps_its_file(tmp_path: Path) -> None:
    path = tmp_path / "busy.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as live:
        live.bind(str(path))
        live.listen(4)
        result = run_tcpcli("-l", "-U", str(path))
        assert result.code == 69
        assert result.stderr == f"tcpcli: address in use: a server is listening on unix:{path}\n"
        assert path.exists()


def test_a_file_that_is_not_a_socket_is_never_removed(tmp_path: Path) -> None:
    path = tmp_path / "precious.txt"
    path.write_text("keep me")
    result = run_tcpcli("-l", "-U", str(path))
    assert result.code == 69
    assert "exists and is not a socket (not removed" in result.stderr
    assert path.read_text() == "keep me"


def test_an_abstract_name_in_use_is_69() -> None:
    name = _abstract()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as taken:
        taken.bind(b"\0" + name.encode())
        taken.listen(1)
        result = run_tcpcli("-l", "-U", f"@{name}")
    assert result.code == 69
    assert f"@{name}" in result.stderr


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_the_socket_file_is_removed_after_a_signal(tmp_path: Path, signum: int, code: int) -> None:
    path = tmp_path / "sig.sock"
    server = UnixListen("-U", str(path))  # one client: blocked in accept
    assert path.exists()
    assert server.stop(signum)[0] == code
    assert not path.exists()


def test_a_file_another_server_bound_since_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "taken-over.sock"
    server = UnixListen("-U", str(path), "-k")
    path.unlink()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as successor:
        successor.bind(str(path))  # a new server's file at the same path: a new inode
        assert server.stop()[0] == 143
        assert path.exists()


def test_keep_open_serves_several_unix_clients_each_labelled(tmp_path: Path) -> None:
    path = tmp_path / "many.sock"
    server = UnixListen("-U", str(path), "-k", "--echo", "-v")
    clients = []
    for number in (1, 2, 3):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(WAIT)
        client.connect(str(path))
        client.sendall(f"client {number}\n".encode())
        clients.append(client)
    for number, client in enumerate(clients, 1):
        assert recv_until(client, b"\n") == f"client {number}\n".encode()
        client.close()
    code, err = server.stop()
    assert code == 143
    for number in (1, 2, 3):
        assert f"client unix:{path}#{number} connected" in err
    assert not path.exists()


def test_broadcast_between_abstract_clients() -> None:
    name = _abstract()
    server = UnixListen("-U", f"@{name}", "-k", "--broadcast", "-v")
    assert server.first_line == f"tcpcli: listening on @{name}\n"
    assert server.proc.stderr is not None
    first = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    second = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        for client in (first, second):
            client.settimeout(WAIT)
            client.connect(b"\0" + name.encode())
        server.wait_stderr("(2 clients)")
        first.sendall(b"to all\n")
        assert recv_until(second, b"\n") == b"to all\n"
    finally:
        first.close()
        second.close()
    assert server.stop()[0] == 143


def test_exec_answers_each_unix_client(tmp_path: Path) -> None:
    path = tmp_path / "exec.sock"
    server = UnixListen("-U", str(path), "-k", "--exec", "tr a-z A-Z")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(WAIT)
        client.connect(str(path))
        client.sendall(b"shout\n")
        client.shutdown(socket.SHUT_WR)
        assert recv_until(client, b"\n") == b"SHOUT\n"
    assert server.stop()[0] == 143


def test_max_clients_closes_the_extra_unix_client(tmp_path: Path) -> None:
    path = tmp_path / "max.sock"
    server = UnixListen("-U", str(path), "-k", "--max-clients", "1", "-v")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as one, socket.socket(socket.AF_UNIX) as two:
        one.connect(str(path))
        two.settimeout(WAIT)
        two.connect(str(path))
        assert two.recv(10) == b""
    code, err = server.stop()
    assert code == 143
    assert f"unix:{path}#2" in err and "--max-clients 1 reached" in err


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_tls_runs_over_a_unix_socket_verified_by_sni(tmp_path: Path, pki: Pki) -> None:
    path = tmp_path / "tls.sock"
    server = UnixListen(
        "-U", str(path), "--tls", "--cert", pki.server.cert, "--key", pki.server.key, "--echo"
    )
    result = run_tcpcli(
        "-U", str(path), "--tls", "--sni", "localhost", "--cafile", pki.ca, "-v", "-q", "2", stdin=b"secret\n"
    )
    server.stop()
    assert result.code == 0, result.stderr
    assert result.stdout == b"secret\n"
    assert "certificate verified" in result.stderr or "TLS" in result.stderr


def test_tls_over_unix_needs_a_name_to_check() -> None:
    result = run_tcpcli("-U", "/tmp/x.sock", "--tls")
    assert result.code == 2
    assert (
        result.stderr
        == "tcpcli: --tls over -U needs --sni NAME (the name the certificate must show) or --insecure\n"
    )


@pytest.mark.parametrize(
    "extra, named",
    [
        (["-4"], "-4"),
        (["-6"], "-6"),
        (["-s", "127.0.0.1"], "-s/--source"),
        (["-p", "4000"], "-p/--source-port"),
        (["--keepalive"], "--keepalive"),
        (["--keepalive-idle", "5"], "--keepalive-idle"),
        (["--nodelay"], "--nodelay"),
        (["--proxy", "socks5://127.0.0.1:1080"], "--proxy"),
    ],
)
def test_tcp_only_options_with_unix_are_usage_errors_naming_the_option(extra: list[str], named: str) -> None:
    result = run_tcpcli("-U", "/tmp/x.sock", *extra)
    assert result.code == 2
    assert (
        result.stderr
        == f"tcpcli: {named} is for TCP connections; it does not apply to the Unix socket -U /tmp/x.sock\n"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["-U", "/tmp/x.sock", "localhost", "80"], "-U PATH takes no HOST or PORT (got: localhost 80)"),
        (["-l", "-U", "/tmp/x.sock", "8080"], "-l -U PATH takes no HOST or PORT (got: 8080)"),
        (["-U", "@"], "-U/--unix: empty socket name"),
        (["-U", "/" + "a" * 120], "the kernel takes at most 107"),
        (["--demo", "-U", "/tmp/x.sock"], "--demo and -U/--unix cannot be combined"),
    ],
)
def test_bad_unix_command_lines_are_usage_errors(args: list[str], message: str) -> None:
    result = run_tcpcli(*args)
    assert result.code == 2
    assert message in result.stderr
    assert result.stderr.startswith("tcpcli: ") and result.stderr.count("\n") == 1


def test_output_file_hex_log_and_idle_timeout_work_over_unix(tmp_path: Path) -> None:
    path = tmp_path / "quiet.sock"
    output, hex_log = tmp_path / "out.bin", tmp_path / "log.hex"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)

        def greet_then_go_quiet() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"hello\n")
                conn.recv(100)  # holds the connection open, silent, until the client goes

        thread = threading.Thread(target=greet_then_go_quiet, daemon=True)
        thread.start()
        result = run_tcpcli("-U", str(path), "-d", "-i", "0.5", "-o", str(output), "--hex-log", str(hex_log))
        thread.join(WAIT)
    assert result.code == 75, result.stderr
    assert result.stdout == b"hello\n"
    assert output.read_bytes() == b"hello\n"
    assert "68 65 6c 6c 6f 0a" in hex_log.read_text()
