"""--proxy against real proxies (microsocks, tinyproxy, danted) and a logging SOCKS server: the bytes get
through, each side resolves what it should, errors name the hop with the contract's exit codes, and
credentials never show.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PeerServer, Result, free_port, run_tcpcli
from tests.listen_helpers import running
from tests.proxy_servers import LoggingSocks, danted, microsocks, tinyproxy
from tests.tls_helpers import Pki, make_pki


@pytest.fixture
def logging_socks() -> Iterator[LoggingSocks]:
    server = LoggingSocks()
    yield server
    server.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


# microsocks and tinyproxy close both directions on a client's FIN, which can beat the echo back: these runs
# send no FIN (--no-half-close) to a target that answers one line and closes (or -q ends the wait).
NO_FIN = ("--no-half-close", "-q", "5")


def line_reply(conn: socket.socket) -> None:
    """Read one line, send it back, close."""
    data = b""
    while b"\n" not in data and (chunk := conn.recv(4096)):
        data += chunk
    conn.sendall(data)


@pytest.fixture
def echo_server(peer: Callable[..., PeerServer]) -> PeerServer:
    return peer(line_reply)


def _through(proxy: str, port: int, *extra: str, host: str = "127.0.0.1", data: bytes = b"PING\n") -> Result:
    return run_tcpcli("--proxy", proxy, host, str(port), *NO_FIN, *extra, stdin=data)


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_bytes_go_both_ways_through_microsocks(echo_server: PeerServer, scheme: str) -> None:
    with microsocks() as port:
        result = run_tcpcli(
            "--proxy",
            f"{scheme}://127.0.0.1:{port}",
            "localhost",
            str(echo_server.port),
            "-v",
            *NO_FIN,
            stdin=b"PING\n",
        )
    assert result.code == 0, result.stderr
    assert result.stdout == b"PING\n"
    assert f"through proxy 127.0.0.1:{port}" in result.stderr


def test_microsocks_with_a_password_in_the_url_percent_decoded(echo_server: PeerServer) -> None:
    with microsocks("bob", "p@ss:word") as port:
        result = run_tcpcli(
            "--proxy",
            f"socks5://bob:p%40ss%3Aword@127.0.0.1:{port}",
            "127.0.0.1",
            str(echo_server.port),
            *NO_FIN,
            stdin=b"hi\n",
        )
    assert result.code == 0, result.stderr
    assert result.stdout == b"hi\n"


def test_proxy_auth_file_gives_the_credentials_and_wins_over_the_url(
    echo_server: PeerServer, tmp_path: Path
) -> None:
    auth = tmp_path / "proxy.auth"
    auth.write_text("bob:s3cret\n")
    with microsocks("bob", "s3cret") as port:
        result = run_tcpcli(
            "--proxy",
            f"socks5://bob:wrong@127.0.0.1:{port}",
            "--proxy-auth",
            str(auth),
            "127.0.0.1",
            str(echo_server.port),
            *NO_FIN,
            stdin=b"hi\n",
        )
    assert result.code == 0, result.stderr
    assert result.stdout == b"hi\n"


def test_rejected_credentials_are_77_and_never_shown(echo_server: PeerServer) -> None:
    with microsocks("bob", "s3cret") as port:
        wrong = run_tcpcli(
            "--proxy", f"socks5://bob:hunter2@127.0.0.1:{port}", "127.0.0.1", str(echo_server.port)
        )
        missing = run_tcpcli("--proxy", f"socks5://127.0.0.1:{port}", "127.0.0.1", str(echo_server.port))
    assert wrong.code == 77
    assert wrong.stderr == f"tcpcli: proxy 127.0.0.1:{port}: it rejected the user name or password\n"
    assert "hunter2" not in wrong.stderr and "bob" not in wrong.stderr
    assert missing.code == 77
    assert "wants a user name and password" in missing.stderr


def test_a_proxy_that_is_down_is_69_naming_the_hop_and_z_does_not_call_the_port_closed() -> None:
    port = free_port()
    result = run_tcpcli("--proxy", f"socks5://u:pw@127.0.0.1:{port}", "127.0.0.1", "80")
    assert result.code == 69
    assert (
        result.stderr
        == f"tcpcli: proxy 127.0.0.1:{port}: connection refused (is anything listening there?)\n"
    )
    assert run_tcpcli("-z", "--proxy", f"socks5://127.0.0.1:{port}", "127.0.0.1", "80").code == 69


def test_a_proxy_name_that_does_not_resolve_is_68() -> None:
    result = run_tcpcli("--proxy", "socks5h://no-such-proxy.invalid:1080", "example.org", "80", "-w", "5")
    assert result.code == 68
    assert result.stderr.startswith("tcpcli: proxy no-such-proxy.invalid:1080: ")


def test_a_target_the_proxy_finds_refused_is_69_with_its_reason_and_z_says_closed() -> None:
    closed = free_port()
    with microsocks() as port:
        result = run_tcpcli("--proxy", f"socks5://127.0.0.1:{port}", "127.0.0.1", str(closed))
        probe = run_tcpcli("-z", "--proxy", f"socks5://127.0.0.1:{port}", "127.0.0.1", str(closed))
    assert result.code == 69
    assert result.stderr == (
        f"tcpcli: proxy 127.0.0.1:{port} could not reach 127.0.0.1:{closed}:"
        " connection refused (SOCKS5 reply 5)\n"
    )
    assert probe.code == 1


def test_z_through_a_proxy_is_0_when_the_target_accepts(echo_server: PeerServer) -> None:
    with microsocks() as port:
        probe = run_tcpcli("-z", "--proxy", f"socks5h://127.0.0.1:{port}", "localhost", str(echo_server.port))
        several = run_tcpcli(
            "-z",
            "--proxy",
            f"socks5://127.0.0.1:{port}",
            "127.0.0.1",
            str(free_port()),
            str(echo_server.port),
        )
    assert probe.code == 0, probe.stderr
    assert several.code == 0, several.stderr


def test_the_proxy_reply_code_is_worded(logging_socks: LoggingSocks) -> None:
    logging_socks.reply = 4
    result = run_tcpcli("--proxy", f"socks5h://127.0.0.1:{logging_socks.port}", "example.org", "80")
    assert result.code == 69
    assert result.stderr == (
        f"tcpcli: proxy 127.0.0.1:{logging_socks.port} could not reach example.org:80: host unreachable"
        " (SOCKS5 reply 4)\n"
    )


@pytest.mark.parametrize(
    "scheme, asked",
    [
        ("socks5", (5, "address", "127.0.0.1", 7)),
        ("socks5h", (5, "name", "localhost", 7)),
        ("socks4", (4, "address", "127.0.0.1", 7)),
        ("socks4a", (4, "name", "localhost", 7)),
    ],
)
def test_who_resolves_the_name(
    logging_socks: LoggingSocks, scheme: str, asked: tuple[int, str, str, int]
) -> None:
    result = run_tcpcli(
        "--proxy",
        f"{scheme}://127.0.0.1:{logging_socks.port}",
        "localhost",
        "7",
        "-4",
        "-q",
        "2",
        stdin=b"x\n",
    )
    assert result.code == 0, result.stderr
    assert result.stdout == b"x\n"
    assert logging_socks.requests == [asked]


def test_http_connect_through_tinyproxy(echo_server: PeerServer, tmp_path: Path) -> None:
    closed = free_port()
    with tinyproxy(tmp_path, [echo_server.port, closed]) as port:
        ok = _through(f"http://127.0.0.1:{port}", echo_server.port)
        refused = run_tcpcli("--proxy", f"http://127.0.0.1:{port}", "127.0.0.1", str(closed))
    assert ok.code == 0, ok.stderr
    assert ok.stdout == b"PING\n"
    assert refused.code == 69
    assert refused.stderr.startswith(
        f"tcpcli: proxy 127.0.0.1:{port} could not reach 127.0.0.1:{closed}: HTTP "
    )


@pytest.mark.parametrize("scheme", ["socks4", "socks5", "socks5h"])
def test_dante_carries_socks4_and_socks5(echo_server: PeerServer, tmp_path: Path, scheme: str) -> None:
    with danted(tmp_path) as port:
        result = _through(f"{scheme}://127.0.0.1:{port}", echo_server.port, host="localhost")
    assert result.code == 0, result.stderr
    assert result.stdout == b"PING\n"


def test_tls_runs_end_to_end_through_the_proxy_with_sni_the_target_name(pki: Pki) -> None:
    with (
        running(
            "-l", "127.0.0.1", "0", "--tls", "--cert", pki.server.cert, "--key", pki.server.key, "--echo"
        ) as server,
        microsocks() as port,
    ):
        result = run_tcpcli(
            "--proxy",
            f"socks5h://127.0.0.1:{port}",
            "localhost",
            str(server.port),
            "--tls",
            "--cafile",
            pki.ca,
            "--no-half-close",  # the echoing TLS server never closes: -q ends the run once the echo is in
            "-q",
            "2",
            stdin=b"over tls\n",
        )
    assert result.code == 0, result.stderr
    assert result.stdout == b"over tls\n"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--proxy", "ftp://127.0.0.1:21"], 2, "--proxy: unknown scheme 'ftp://'"),
        (["--proxy", "127.0.0.1:1080"], 2, "--proxy: the URL needs a scheme"),
        (["--proxy", "http://127.0.0.1"], 2, "--proxy: give the HTTP proxy's port"),
        (["--proxy", "socks4://u:secret@127.0.0.1"], 2, "SOCKS4 carries a user id only"),
        (["--proxy-auth", "/nonexistent"], 2, "--proxy-auth gives the credentials for --proxy URL"),
        (
            ["--proxy", "socks5://127.0.0.1", "--proxy-auth", "/nonexistent/auth"],
            66,
            "--proxy-auth /nonexistent",
        ),
        (["--proxy", "socks4://127.0.0.1", "-6"], 2, "SOCKS4 carries IPv4 addresses only"),
    ],
)
def test_bad_proxy_options_fail_before_connecting(args: list[str], code: int, message: str) -> None:
    result = run_tcpcli(*args, "example.org", "80")
    assert result.code == code
    assert message in result.stderr
    assert "secret" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_malformed_proxy_auth_file_is_a_usage_error_that_does_not_quote_it(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    auth.write_text("just-a-password-no-colon\n")
    result = run_tcpcli("--proxy", "socks5://127.0.0.1", "--proxy-auth", str(auth), "example.org", "80")
    assert result.code == 2
    assert result.stderr == f"tcpcli: --proxy-auth {auth}: expected one line USER:PASS\n"


def test_listen_mode_refuses_proxy() -> None:
    result = run_tcpcli("-l", "0", "--proxy", "socks5://127.0.0.1")
    assert result.code == 2
    assert "--proxy is for connecting to HOST PORT" in result.stderr


def test_a_greeting_sent_right_after_the_http_200_is_not_lost(peer: object) -> None:
    """A server-first protocol: the proxy's `200` and the target's greeting can arrive in one segment."""
    import socket as socket_module

    from tests.conftest import PeerServer as Server

    def proxy(conn: socket_module.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n220 smtp.example ready\r\n")

    server = peer(proxy)  # type: ignore[operator]
    assert isinstance(server, Server)
    result = run_tcpcli("--proxy", f"http://127.0.0.1:{server.port}", "smtp.example", "25", stdin=b"")
    assert result.code == 0, result.stderr
    assert result.stdout == b"220 smtp.example ready\r\n"


def test_source_address_applies_to_the_connection_to_the_proxy(echo_server: PeerServer) -> None:
    with microsocks() as port:
        result = run_tcpcli(
            "--proxy",
            f"socks5://127.0.0.1:{port}",
            "-s",
            "127.0.0.1",
            "127.0.0.1",
            str(echo_server.port),
            *NO_FIN,
            stdin=b"x\n",
        )
    assert result.code == 0, result.stderr
    assert result.stdout == b"x\n"
