"""Listen mode with real clients on loopback against the real program: binding, one client, many clients,
the relay options, the drop policy for clients that do not read, and signals."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tcpcli.engine.client import STALL_TIMEOUT
from tests.conftest import recv_all, run_tcpcli
from tests.listen_helpers import (
    WAIT,
    eventually,
    recv_exactly,
    running,
)


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not _ipv6_available(), reason="no IPv6 on this machine")


def _refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        return exc.errno in (errno.ECONNREFUSED, errno.EADDRNOTAVAIL, errno.ENETUNREACH)
    return False


# ---------------------------------------------------------------- binding and the announcement


@needs_ipv6
def test_port_zero_is_announced_first_and_both_families_are_served() -> None:
    with running("-l", "-k", "0") as server:
        assert server.first_line == f"tcpcli: listening on [::]:{server.port}"
        assert server.port > 0
        for host in ("127.0.0.1", "::1"):
            with server.connect(host) as client:
                client.sendall(host.encode() + b"\n")
        assert server.stop() == 143


def test_ipv4_only_with_dash_4() -> None:
    with running("-l", "-4", "-k", "0") as server:
        assert server.first_line == f"tcpcli: listening on 0.0.0.0:{server.port}"
        server.connect("127.0.0.1").close()
        if _ipv6_available():
            assert _refused("::1", server.port)


@needs_ipv6
def test_ipv6_only_with_dash_6() -> None:
    with running("-l", "-6", "-k", "0") as server:
        assert server.first_line == f"tcpcli: listening on [::]:{server.port}"
        server.connect("::1").close()
        assert _refused("127.0.0.1", server.port)


def test_listen_address_literal_is_used_and_announced() -> None:
    with running("-l", "-k", "127.0.0.1", "0") as server:
        assert server.first_line == f"tcpcli: listening on 127.0.0.1:{server.port}"


def test_address_in_use_exits_69_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_tcpcli("-l", "127.0.0.1", str(port))
    assert result.code == 69
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"tcpcli: listen on 127.0.0.1:{port}: address already in use")


def test_address_not_on_this_machine_exits_69() -> None:
    result = run_tcpcli("-l", "192.0.2.1", "0")
    assert result.code == 69
    assert "address not available" in result.stderr


def test_listen_address_of_the_wrong_family_is_a_usage_error() -> None:
    result = run_tcpcli("-l", "-4", "::1", "0")
    assert result.code == 2
    assert result.stderr == "tcpcli: listen address ::1 is an IPv6 address, and -4 asks for IPv4\n"


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to drop root")
def test_privileged_port_as_normal_user_exits_77() -> None:
    from tests.conftest import TCPCLI

    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *TCPCLI, "-l", "127.0.0.1", "1"]
    if os.geteuid() != 0:
        command = [*TCPCLI, "-l", "127.0.0.1", "1"]
    proc = subprocess.run(command, capture_output=True, timeout=20, cwd=os.getcwd())
    if b"No module named" in proc.stderr or b"Permission denied: '" in proc.stderr:
        pytest.skip("the unprivileged user cannot read the checkout")
    assert proc.returncode == 77, proc.stderr
    assert b"permission denied" in proc.stderr


# ---------------------------------------------------------------- one client (no -k)


def test_single_client_gets_stdin_then_fin_and_its_reply_reaches_stdout() -> None:
    with running("-l", "127.0.0.1", "0", stdin=subprocess.PIPE, stdout=subprocess.PIPE) as server:
        with server.connect() as client:
            server.write_stdin(b"to the client\n")
            server.close_stdin()
            assert recv_all(client) == b"to the client\n"  # stdin EOF -> FIN, as in connect mode
            client.sendall(b"reply after FIN\n")
            client.shutdown(socket.SHUT_WR)
            assert server.wait() == 0
        assert server.proc.stdout is not None
        assert server.proc.stdout.read() == b"reply after FIN\n"


def test_single_client_closes_the_listener_so_a_second_client_is_refused() -> None:
    with running("-l", "127.0.0.1", "0") as server, server.connect() as first:
        first.sendall(b"x")
        eventually(lambda: _refused("127.0.0.1", server.port))
        first.close()
        server.close_stdin()
        assert server.wait() == 0


def test_greet_interprets_escapes_and_goes_first() -> None:
    with running("-l", "--greet", r"hi\tthere\x21\r\n", "127.0.0.1", "0") as server:
        with server.connect() as client:
            assert recv_exactly(client, 11) == b"hi\tthere!\r\n"
        server.close_stdin()
        assert server.wait() == 0


def test_bad_escape_in_greet_is_a_usage_error() -> None:
    result = run_tcpcli("-l", "--greet", r"bad \xZZ", "0")
    assert result.code == 2
    assert result.stderr.startswith("tcpcli: --greet")


def test_single_client_idle_timeout_exits_75() -> None:
    with running("-l", "-i", "0.3", "127.0.0.1", "0") as server, server.connect() as client:
        assert recv_all(client) == b""
        assert server.wait() == 75
        assert "idle timeout" in server.rest_of_stderr()


def test_echo_without_keep_open_serves_one_client_and_exits_0_when_it_leaves() -> None:
    with running("-l", "--echo", "127.0.0.1", "0", stdin=subprocess.DEVNULL) as server:
        with server.connect() as client:
            client.sendall(b"ping\n")
            assert recv_exactly(client, 5) == b"ping\n"
            assert _refused("127.0.0.1", server.port)
        assert server.wait() == 0


# ---------------------------------------------------------------- many clients (-k)


def test_keep_open_stdin_goes_to_every_client_and_eof_does_not_stop_the_server() -> None:
    with running("-l", "-k", "-v", "127.0.0.1", "0") as server:
        first, second = server.connect(), server.connect()
        server.wait_stderr("(2 clients)")
        server.write_stdin(b"to everyone\n")
        assert recv_exactly(first, 12) == b"to everyone\n"
        assert recv_exactly(second, 12) == b"to everyone\n"
        server.close_stdin()
        server.wait_stderr("input ended")
        with server.connect() as third:
            third.sendall(b"still serving\n")
        server.wait_stderr("left")
        first.close()
        second.close()
        assert server.stop() == 143


def test_keep_open_writes_what_clients_send_to_stdout_raw() -> None:
    payload = bytes(range(256)) * 64
    with running("-l", "-k", "-v", "127.0.0.1", "0", stdout=subprocess.PIPE) as server:
        with server.connect() as client:
            client.sendall(payload)
        server.wait_stderr("left")
        assert server.stop() == 143
        assert server.proc.stdout is not None
        assert server.proc.stdout.read() == payload


def test_keep_open_stops_quietly_with_0_when_the_reader_of_stdout_goes_away() -> None:
    with running("-l", "-k", "127.0.0.1", "0", stdout=subprocess.PIPE) as server:
        assert server.proc.stdout is not None
        server.proc.stdout.close()  # like `| head -1` exiting
        with server.connect() as client:
            client.sendall(b"nobody reads this\n")
            assert recv_all(client) == b""
        assert server.wait() == 0
        assert server.rest_of_stderr() == ""


def test_keep_open_greets_every_client() -> None:
    with running("-l", "-k", "--greet", r"welcome\n", "127.0.0.1", "0") as server:
        for _ in range(3):
            with server.connect() as client:
                assert recv_exactly(client, 8) == b"welcome\n"


def test_echo_sends_each_clients_data_back_to_it_only() -> None:
    payload = os.urandom(2 << 20)
    with running("-l", "-k", "--echo", "127.0.0.1", "0") as server:
        bystander = server.connect()
        with server.connect() as client:
            # Send and read at once: a 2 MiB echo must not deadlock on full buffers.
            sender = threading.Thread(target=client.sendall, args=(payload,))
            sender.start()
            echoed = recv_exactly(client, len(payload))
            sender.join(10)
        assert echoed == payload
        bystander.setblocking(False)
        with pytest.raises(BlockingIOError):
            bystander.recv(1)
        bystander.close()


def test_broadcast_relays_each_line_to_the_other_clients_only() -> None:
    with running("-l", "-k", "--broadcast", "-v", "127.0.0.1", "0") as server:
        clients = [server.connect() for _ in range(3)]
        server.wait_stderr("(3 clients)")
        for index, client in enumerate(clients):
            client.sendall(f"line from {index}\n".encode())
        for index, client in enumerate(clients):
            others = {f"line from {other}\n".encode() for other in range(3) if other != index}
            received = recv_exactly(client, sum(len(line) for line in others))
            assert {line + b"\n" for line in received.split(b"\n") if line} == others
        for client in clients:
            client.close()
        assert server.stop() == 143


def test_idle_message_is_sent_then_the_client_is_closed_and_the_server_goes_on() -> None:
    args = ("-l", "-k", "-v", "-i", "0.3", "--idle-message", r"bye, idle\n", "127.0.0.1", "0")
    with running(*args) as server:
        with server.connect() as client:
            started = time.monotonic()
            client.sendall(b"activity\n")
            assert recv_all(client) == b"bye, idle\n"
            assert 0.25 < time.monotonic() - started < 3
        assert "(idle timeout: no traffic for" in server.wait_stderr("left")
        with server.connect() as again:
            assert recv_all(again) == b"bye, idle\n"
        assert server.proc.poll() is None


def test_max_clients_closes_the_extra_client_at_once_and_admits_after_one_leaves() -> None:
    with running("-l", "-k", "-v", "--max-clients", "2", "127.0.0.1", "0") as server:
        first, second = server.connect(), server.connect()
        server.wait_stderr("(2 clients)")
        with server.connect() as extra:
            assert recv_all(extra) == b""
        assert "rejected: --max-clients 2 reached" in server.wait_stderr("rejected")
        first.close()
        server.wait_stderr("left")
        with server.connect() as later:
            assert "(2 clients)" in server.wait_stderr("connected")
            later.sendall(b"in\n")
        second.close()


def test_verbose_reports_clients_with_addresses_and_byte_counts() -> None:
    with running("-l", "-k", "--echo", "-v", "127.0.0.1", "0", stdin=subprocess.DEVNULL) as server:
        with server.connect() as client:
            port = client.getsockname()[1]
            client.sendall(b"12345")
            recv_exactly(client, 5)
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b""
        assert f"client 127.0.0.1:{port} connected (1 client)" in server.wait_stderr("connected")
        left = server.wait_stderr("left")
        assert left == f"tcpcli: client 127.0.0.1:{port} left: 5 bytes from it, 5 to it"


def test_a_client_that_never_reads_is_dropped_and_the_others_get_everything() -> None:
    line = b"x" * 1023 + b"\n"
    rounds = 12 * 1024  # 12 MiB from each talker: far beyond the slow client's kernel buffers and queue
    with running("-l", "-k", "--broadcast", "127.0.0.1", "0", stdout=subprocess.DEVNULL) as server:
        slow = server.connect()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        talkers = [server.connect(), server.connect()]
        for talker in talkers:  # held (back-pressure) until the slow one is dropped after STALL_TIMEOUT
            talker.settimeout(STALL_TIMEOUT + WAIT)
        totals = [0, 0]

        def read_all(index: int) -> None:
            while totals[index] < rounds * len(line):
                chunk = talkers[index].recv(1 << 20)
                assert chunk
                totals[index] += len(chunk)

        readers = [threading.Thread(target=read_all, args=(index,)) for index in (0, 1)]
        for reader in readers:
            reader.start()
        for _ in range(rounds // 64):
            for talker in talkers:
                talker.sendall(line * 64)
        for reader in readers:
            reader.join(STALL_TIMEOUT + 3 * WAIT)
        assert totals == [rounds * len(line)] * 2
        assert "(not reading)" in server.wait_stderr("left")
        assert server.peak_rss_kib() < 120 * 1024
        for sock in (slow, *talkers):
            sock.close()


def test_sigterm_sends_fin_to_every_client_and_exits_143() -> None:
    with running("-l", "-k", "-v", "127.0.0.1", "0") as server:
        clients = [server.connect() for _ in range(3)]
        server.wait_stderr("(3 clients)")
        server.write_stdin(b"last words\n")
        for client in clients:
            recv_exactly(client, 11)
        assert server.stop(signal.SIGTERM) == 143
        for client in clients:
            assert recv_all(client) == b""  # FIN, not a reset
            client.close()
        assert "stopping (SIGTERM): FIN to 3 clients" in server.rest_of_stderr()


def test_sigint_exits_130_and_closes_clients() -> None:
    with running("-l", "-k", "-v", "127.0.0.1", "0") as server, server.connect() as client:
        server.wait_stderr("connected")
        assert server.stop(signal.SIGINT) == 130
        assert recv_all(client) == b""


def test_sigterm_during_a_single_client_session_exits_143_and_the_client_sees_fin() -> None:
    with running("-l", "-v", "127.0.0.1", "0") as server, server.connect() as client:
        server.wait_stderr("connected")
        assert server.stop(signal.SIGTERM) == 143
        assert recv_all(client) == b""


def test_keep_open_appends_what_clients_send_to_the_output_file(tmp_path: Path) -> None:
    log = tmp_path / "received.bin"
    log.write_bytes(b"kept\n")
    with running("-l", "-k", "-v", "-o", str(log), "127.0.0.1", "0") as server:
        with server.connect() as client:
            client.sendall(b"appended\n")
        server.wait_stderr("left")
        assert server.stop() == 143
    assert log.read_bytes() == b"kept\nappended\n"


def test_sigterm_while_waiting_for_the_single_client_exits_143() -> None:
    with running("-l", "127.0.0.1", "0") as server:
        assert server.stop(signal.SIGTERM) == 143
        assert server.rest_of_stderr() == ""


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def server_identity(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, ssl.SSLContext]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    directory = tmp_path_factory.mktemp("listen-tls")
    cert, key = directory / "server.pem", directory / "server.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return str(cert), str(key), client_context


def test_keep_open_echo_over_tls_survives_a_failed_handshake(
    server_identity: tuple[str, str, ssl.SSLContext],
) -> None:
    cert, key, client_context = server_identity
    args = ("-l", "-k", "--echo", "--greet", r"hi\n", "--tls", "--cert", cert, "--key", key, "127.0.0.1", "0")
    with running(*args) as server:
        with server.connect() as plain:  # not TLS at all: its handshake fails, nobody else notices
            plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
            recv_all(plain)
        with client_context.wrap_socket(server.connect(), server_hostname="127.0.0.1") as client:
            assert recv_exactly(client, 3) == b"hi\n"
            client.sendall(b"secret\n")
            assert recv_exactly(client, 7) == b"secret\n"
        assert server.stop() == 143


def test_single_client_over_tls_gets_the_greeting_and_stdin(
    server_identity: tuple[str, str, ssl.SSLContext],
) -> None:
    cert, key, client_context = server_identity
    args = ("-l", "--greet", r"hello\n", "--tls", "--cert", cert, "--key", key, "127.0.0.1", "0")
    with running(*args) as server:
        with client_context.wrap_socket(server.connect(), server_hostname="127.0.0.1") as client:
            server.write_stdin(b"from stdin\n")
            assert recv_exactly(client, 17) == b"hello\nfrom stdin\n"
            client.close()
        server.close_stdin()
        assert server.wait() == 0


def test_keep_open_quit_after_eof_stops_s_seconds_after_stdin_ended_with_fin_to_every_client() -> None:
    with running("-l", "-k", "-v", "-q", "1", "127.0.0.1", "0") as server:
        client = server.connect()
        server.wait_stderr("(1 client)")
        server.write_stdin(b"last words\n")
        server.close_stdin()
        assert recv_exactly(client, 11) == b"last words\n"
        assert client.recv(1) == b""  # FIN once -q's second is up
        assert server.wait() == 0
        assert "stopping (-q: input ended)" in server.rest_of_stderr()
        client.close()


def test_idle_timeout_is_one_decision_and_one_wording_with_or_without_idle_message() -> None:
    lines = []
    for extra in ((), ("--idle-message", r"bye\n")):
        with running("-l", "-i", "1", *extra, "127.0.0.1", "0") as server, server.connect() as client:
            assert server.wait() == 75
            lines.append(server.rest_of_stderr().strip().splitlines()[-1])
            if extra:
                assert recv_all(client) == b"bye\n"
    assert lines[0] == lines[1] == "tcpcli: idle timeout: no traffic for 1 s (-i 1)"
