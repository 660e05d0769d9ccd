"""--exec / --sh-exec in listen mode, with real programs (cat, sh, tr) and real clients on loopback.

Each client gets its own process; bytes pass verbatim with back-pressure both ways; FIN, exit and the
client going away end the program (SIGTERM, then SIGKILL, for one that will not stop); nothing is left
running afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import stat
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tcpcli.engine.program import check_program, program_environment
from tests.conftest import recv_all, run_tcpcli
from tests.listen_helpers import WAIT, Server, eventually, recv_exactly, recv_until, running

LOCAL = "127.0.0.1"


def _gone(pid: int) -> bool:
    """True once the process no longer exists at all (exited and reaped: not even a zombie)."""
    return not os.path.exists(f"/proc/{pid}")


def _blocked_writing_a_pipe(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/wchan") as wchan:
            return wchan.read().endswith("pipe_write")  # "anon_pipe_write" on newer kernels
    except FileNotFoundError:
        return False


def _pid(line: str) -> int:
    found = re.search(r"\(pid (\d+)\)", line)
    assert found, line
    return int(found.group(1))


def _serve(*args: str) -> Server:
    return Server("-l", "-v", *args, LOCAL, "0", stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------- the pure parts


def test_program_environment_names_both_ends_plainly() -> None:
    env = program_environment(
        {"PATH": "/bin", "TCPCLI_PEER_ADDR": "stale"}, ("::ffff:10.0.0.1", 4000), ("::1", 80, 0, 0)
    )
    assert env == {
        "PATH": "/bin",
        "TCPCLI_PEER_ADDR": "10.0.0.1",
        "TCPCLI_PEER_PORT": "4000",
        "TCPCLI_LOCAL_ADDR": "::1",
        "TCPCLI_LOCAL_PORT": "80",
    }


def test_check_program_finds_what_cannot_run(tmp_path: Path) -> None:
    assert check_program(("cat",)) is None
    assert check_program(("/bin/sh", "-c", "x")) is None
    assert check_program(("no-such-program-tcpcli",)) == "no-such-program-tcpcli: not found on PATH"
    assert check_program((str(tmp_path),)) == f"{tmp_path} is a directory"
    plain = tmp_path / "plain"
    plain.write_text("echo hi\n")
    assert check_program((str(plain),)) == f"{plain} is not executable"
    assert check_program((str(tmp_path / "missing"),)) == f"{tmp_path / 'missing'}: no such file"


# ---------------------------------------------------------------- one client (no -k)


def test_exec_cat_without_keep_open_serves_one_client_and_exits_0() -> None:
    server = _serve("--exec", "cat")
    try:
        with server.connect() as client:
            client.sendall(b"hello\x00\xff\n")
            client.shutdown(socket.SHUT_WR)  # -> cat's stdin EOF -> cat exits -> FIN to us
            assert recv_all(client) == b"hello\x00\xff\n"
        assert server.wait() == 0
        rest = server.rest_of_stderr()
        assert re.search(r"started cat \(pid \d+\)", rest)
        assert "exited with status 0" in rest
        assert "left (program exited): 8 bytes from it, 8 to it" in rest
    finally:
        server.kill()


def test_sh_exec_answers_a_line_and_closes_when_the_program_exits() -> None:
    with running("-l", "--sh-exec", "read x; echo got $x", LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        with server.connect() as client:
            client.sendall(b"abc\n")
            assert recv_all(client) == b"got abc\n"  # no FIN from us: the program's exit closes the client
        assert server.wait() == 0


def test_exec_splits_arguments_like_a_shell_and_runs_no_shell() -> None:
    with running("-l", "--exec", "tr a-z A-Z", LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        with server.connect() as client:
            client.sendall(b"make me $LOUD; please\n")
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b"MAKE ME $LOUD; PLEASE\n"
        assert server.wait() == 0


def test_program_that_exits_at_once_closes_its_client() -> None:
    server = _serve("--exec", "true")
    try:
        with server.connect() as client:
            assert recv_all(client) == b""  # a clean FIN, not a reset
        assert server.wait() == 0
        assert "exited with status 0" in server.rest_of_stderr()
    finally:
        server.kill()


def test_program_exit_status_and_stderr_are_reported() -> None:
    server = _serve("--sh-exec", "echo to-stderr >&2; exit 3")
    try:
        with server.connect() as client:
            assert recv_all(client) == b""
        assert server.wait() == 0  # the program's status is reported, not ours
        rest = server.rest_of_stderr()
        assert "to-stderr\n" in rest  # the program's stderr is tcpcli's stderr
        assert "exited with status 3" in rest
    finally:
        server.kill()


def test_program_gets_the_addresses_in_its_environment() -> None:
    script = "echo $TCPCLI_PEER_ADDR $TCPCLI_PEER_PORT $TCPCLI_LOCAL_ADDR $TCPCLI_LOCAL_PORT"
    with running("-l", "--sh-exec", script, LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        with server.connect() as client:
            port = client.getsockname()[1]
            assert recv_all(client) == f"127.0.0.1 {port} 127.0.0.1 {server.port}\n".encode()
        assert server.wait() == 0


# ---------------------------------------------------------------- a program that cannot run


def test_missing_program_is_refused_before_binding_with_66() -> None:
    result = run_tcpcli("-l", "-k", "--exec", "no-such-program-tcpcli --flag", LOCAL, "0")
    assert result.code == 66
    assert result.stderr == "tcpcli: --exec: cannot run no-such-program-tcpcli: not found on PATH\n"


def test_not_executable_program_is_refused_before_binding_with_66(tmp_path: Path) -> None:
    plain = tmp_path / "script"
    plain.write_text("#!/bin/sh\necho hi\n")
    result = run_tcpcli("-l", "--exec", str(plain), LOCAL, "0")
    assert result.code == 66
    assert result.stderr == f"tcpcli: --exec: cannot run {plain} is not executable\n"


def _unstartable(tmp_path: Path) -> Path:
    """Executable, but not a program the kernel can start (ENOEXEC): passes the check, fails per client."""
    path = tmp_path / "garbage"
    path.write_bytes(b"\x7fELF\x00not really")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_program_that_fails_to_start_resets_each_client_with_one_line(tmp_path: Path) -> None:
    program = _unstartable(tmp_path)
    with running("-l", "-k", "--exec", str(program), LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        for _ in range(2):
            with server.connect() as client, pytest.raises(ConnectionResetError):
                client.recv(1)
            line = server.stderr_line()
            assert re.fullmatch(
                rf"tcpcli: client 127\.0\.0\.1:\d+: cannot start {program}: .+; client reset", line
            )
        assert server.stop() == 143
        assert "cannot start" not in server.rest_of_stderr()  # once per client, no more


def test_program_that_fails_to_start_without_keep_open_exits_66(tmp_path: Path) -> None:
    program = _unstartable(tmp_path)
    with running("-l", "--exec", str(program), LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        with server.connect() as client, pytest.raises(ConnectionResetError):
            client.recv(1)
        assert server.wait() == 66
        rest = server.rest_of_stderr()
        assert rest.count("\n") == 1
        assert rest.startswith("tcpcli: client 127.0.0.1:") and f"cannot start {program}" in rest


# ---------------------------------------------------------------- the client going away, and stopping


def test_client_leaving_gives_the_program_eof() -> None:
    server = _serve("-k", "--exec", "cat")
    try:
        with server.connect() as client:
            client.sendall(b"x")
            assert recv_exactly(client, 1) == b"x"
            pid = _pid(server.wait_stderr("started cat"))
        ended = server.wait_stderr("program (pid")
        assert "exited with status 0" in ended and "sent SIG" not in ended
        eventually(lambda: _gone(pid))
        assert server.stop() == 143
    finally:
        server.kill()


def test_program_ignoring_sigterm_is_killed_after_the_grace() -> None:
    server = _serve("-k", "--sh-exec", "trap '' TERM; exec sleep 60")
    try:
        with server.connect() as client:
            pid = _pid(server.wait_stderr("started /bin/sh"))
            _reset(client)  # gone for good (a FIN alone only ends the client's input: see the next test)
        ended = server.wait_stderr("program (pid", timeout=WAIT)
        assert f"program (pid {pid}) ended by signal SIGKILL (tcpcli sent SIGKILL: it still ran" in ended
        eventually(lambda: _gone(pid))  # reaped: no zombie
        assert server.stop() == 143
    finally:
        server.kill()


def test_client_fin_only_ends_the_programs_input() -> None:
    """Half-close, as with ncat: after the client's FIN the program still answers, then its exit closes."""
    with running(
        "-l", "--sh-exec", "cat >/dev/null; echo done", LOCAL, "0", stdin=subprocess.DEVNULL
    ) as server:
        with server.connect() as client:
            client.sendall(b"ignored\n")
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b"done\n"
        assert server.wait() == 0


def _reset(client: socket.socket) -> None:
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


def test_sh_exec_pipeline_is_ended_as_a_group() -> None:
    """sh runs `sleep | cat`: the signals go to the program's process group: no pipeline member is left."""
    server = _serve("-k", "--sh-exec", "sleep 60 | cat")
    try:
        with server.connect() as client:
            pid = _pid(server.wait_stderr("started /bin/sh"))
            eventually(lambda: len(_group(pid)) >= 3)
            members = _group(pid)
            _reset(client)
        server.wait_stderr("program (pid")
        eventually(lambda: all(_gone(member) for member in members))
        assert server.stop() == 143
    finally:
        server.kill()


def _group(pgid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    found.append(int(entry))
            except ProcessLookupError:
                continue
    return found


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_stopping_tcpcli_ends_every_program_and_fins_every_client(signum: int, code: int) -> None:
    server = _serve("-k", "--exec", "cat")
    try:
        clients = [server.connect() for _ in range(3)]
        pids = []
        for client in clients:
            client.sendall(b"ping")
            assert recv_exactly(client, 4) == b"ping"
        for _ in clients:
            pids.append(_pid(server.wait_stderr("started cat")))
        assert server.stop(signum) == code
        for client in clients:
            assert recv_all(client) == b""  # FIN, not a reset
            client.close()
        for pid in pids:
            eventually(lambda pid=pid: _gone(pid))  # type: ignore[misc]
    finally:
        server.kill()


def test_idle_timeout_closes_the_client_and_ends_its_program() -> None:
    server = _serve("-k", "-i", "0.3", "--exec", "cat")
    try:
        with server.connect() as client:
            assert recv_all(client) == b""
        assert "left (idle timeout: no traffic for" in server.wait_stderr("left")
        assert "exited with status 0" in server.wait_stderr("program (pid")
        assert server.stop() == 143
    finally:
        server.kill()


def test_max_clients_applies_to_exec() -> None:
    server = _serve("-k", "--max-clients", "1", "--exec", "cat")
    try:
        with server.connect() as first:
            server.wait_stderr("started cat")
            with server.connect() as second:
                assert "rejected: --max-clients 1 reached" in server.wait_stderr("rejected")
                assert recv_all(second) == b""
            first.sendall(b"still here")
            assert recv_exactly(first, 10) == b"still here"
        assert server.stop() == 143
    finally:
        server.kill()


# ---------------------------------------------------------------- many clients and large transfers


def test_concurrent_clients_each_get_their_own_program() -> None:
    with running(
        "-l", "-k", "--sh-exec", "read x; echo got $x $$", LOCAL, "0", stdin=subprocess.DEVNULL
    ) as server:
        clients = [server.connect() for _ in range(8)]
        for number, client in enumerate(clients):
            client.sendall(f"client{number}\n".encode())
        replies = [recv_all(client) for client in clients]
        for number, reply in enumerate(replies):
            assert reply.startswith(f"got client{number} ".encode())
        assert len({reply.split()[-1] for reply in replies}) == 8  # eight different processes
        for client in clients:
            client.close()
        assert server.stop() == 143


def test_twenty_megabytes_through_cat_to_a_slow_reader_arrive_exactly_in_bounded_memory() -> None:
    size = 20 * 1024 * 1024
    payload = os.urandom(1024 * 1024) * 20
    with running("-l", "-k", "-v", "--exec", "cat", LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        client = server.connect()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        errors: list[BaseException] = []

        def send() -> None:
            try:
                client.sendall(payload)
                client.shutdown(socket.SHUT_WR)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        digest = hashlib.sha256()
        received = 0
        client.settimeout(WAIT)
        while True:
            chunk = client.recv(16 * 1024)  # slow: small reads with a pause every 256 KiB
            if not chunk:
                break
            digest.update(chunk)
            received += len(chunk)
            if received % (256 * 1024) < len(chunk):
                time.sleep(0.005)
        sender.join(WAIT)
        client.close()
        assert not errors
        assert received == size
        assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()
        server.wait_stderr("left (program exited)")
        peak = server.peak_rss_kib()
        assert server.stop() == 143
    assert peak < 60 * 1024, f"peak RSS {peak} KiB"  # 20 MiB passed through: none of it piled up


def test_client_that_does_not_read_pauses_the_program_instead_of_growing_memory() -> None:
    """`yes` writes forever; a client that never reads must pause it, not fill the server's memory."""
    with running("-l", "-k", "-v", "--exec", "yes", LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        client = server.connect()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        pid = _pid(server.wait_stderr("started yes"))
        eventually(lambda: _blocked_writing_a_pipe(pid))  # tcpcli stopped reading its stdout: paused
        assert server.peak_rss_kib() < 60 * 1024
        assert recv_until(client, b"y\ny\n").startswith(b"y\n")
        client.close()
        server.wait_stderr("program (pid")
        assert server.stop() == 143


def test_hex_log_records_both_directions_of_the_program(tmp_path: Path) -> None:
    log = tmp_path / "log"
    with running(
        "-l", "--hex-log", str(log), "--exec", "tr a-z A-Z", LOCAL, "0", stdin=subprocess.DEVNULL
    ) as server:
        with server.connect() as client:
            client.sendall(b"abc")
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b"ABC"
        assert server.wait() == 0
    text = log.read_text()
    assert "< 3 bytes from 127.0.0.1:" in text and "> 3 bytes to 127.0.0.1:" in text


def test_exec_over_tls(tmp_path: Path) -> None:
    import ssl

    from tests.tls_helpers import client_context, make_pki

    pki = make_pki(tmp_path)
    tls = ("--tls", "--cert", pki.server.cert, "--key", pki.server.key)
    with running("-l", *tls, "--sh-exec", "read x; echo got $x", LOCAL, "0") as server:
        with client_context(pki.ca).wrap_socket(server.connect(), server_hostname="localhost") as client:
            client.sendall(b"secret words\n")
            assert recv_until(client, b"\n") == b"got secret words\n"
            with contextlib.suppress(ssl.SSLEOFError):  # with or without close_notify: the end
                assert client.recv(1) == b""
        assert server.wait() == 0
        assert server.rest_of_stderr() == ""


def test_stopping_tcpcli_terminates_a_program_that_ignores_its_input() -> None:
    server = _serve("-k", "--exec", "sleep 60")
    try:
        with server.connect() as client:
            pid = _pid(server.wait_stderr("started sleep"))
            assert server.stop() == 143  # after EXIT_GRACE: SIGTERM
            assert recv_all(client) == b""
        assert "ended by signal SIGTERM (tcpcli sent SIGTERM" in server.rest_of_stderr()
        eventually(lambda: _gone(pid))
    finally:
        server.kill()


def test_views_and_output_options_are_reported_as_unused_with_exec() -> None:
    with running(
        "-l", "-x", "-o", "/dev/null", "--exec", "cat", LOCAL, "0", stdin=subprocess.DEVNULL
    ) as server:
        assert server.stderr_line() == (
            "tcpcli: -x/-b/--struct, -o: not applied with --exec/--sh-exec (the program gets the bytes)"
        )
        assert server.stop() == 143


def test_program_events_are_worded_for_people() -> None:
    from tcpcli.core.events import ProgramEnded, ProgramFailed, ProgramStarted, describe

    peer = "127.0.0.1:5555"
    assert describe(ProgramStarted(peer, "cat", 42)) == "client 127.0.0.1:5555: started cat (pid 42)"
    assert (
        describe(ProgramEnded(peer, 42, 0)) == "client 127.0.0.1:5555: program (pid 42) exited with status 0"
    )
    assert describe(ProgramEnded(peer, 42, -15, "SIGTERM")) == (
        "client 127.0.0.1:5555: program (pid 42) ended by signal SIGTERM"
        " (tcpcli sent SIGTERM: it still ran after its input ended)"
    )
    assert describe(ProgramEnded(peer, 42, None)) == "client 127.0.0.1:5555: program (pid 42) ended"
    assert describe(ProgramFailed(peer, "./x", "Exec format error")) == (
        "client 127.0.0.1:5555: cannot start ./x: Exec format error; client reset"
    )


def test_program_output_waits_for_the_greeting_file_without_piling_up(tmp_path: Path) -> None:
    """The program writes at once while a 4 MiB greeting waits for a client that is not reading yet: its
    stdout stays paused (were it read and queued, the client would pass the 1 MiB queue limit and be
    dropped), and once the client reads, the file then the program's output arrive whole."""
    page = tmp_path / "page"
    content = os.urandom(4 << 20)
    page.write_bytes(content)
    args = ("-l", "-v", "--greet-file", str(page), "--sh-exec", "exec head -c 3000000 /dev/zero")
    with running(*args, LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        client.settimeout(WAIT)
        client.connect((LOCAL, server.port))
        with client:
            pid = _pid(server.wait_stderr("started /bin/sh"))
            eventually(lambda: _blocked_writing_a_pipe(pid))  # paused, not drained into memory
            received = recv_all(client)
        assert server.wait() == 0
    assert received[: len(content)] == content
    assert received[len(content) :] == bytes(3_000_000)
