"""net.upstream, the relay's upstream connects, in process on a real loop against real loopback listeners."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tcpcli.errors import ExitCode, TcpcliError, UsageError
from tcpcli.net.upstream import Upstream, check_target, target_label
from tcpcli.settings import ConnectSettings, RelaySettings, TcpTarget, UnixTarget
from tcpcli.values import parse_target
from tests.conftest import free_port


def upstream_to(host: str, port: int, timeout: float = 5.0) -> Upstream:
    target = TcpTarget(host, port)
    return Upstream(RelaySettings(target, ConnectSettings(host, port, connect_timeout=timeout)))


def test_many_concurrent_connects_through_one_shared_name_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    from tcpcli.net import upstream as module

    lookups: list[str] = []
    real_resolve = module.resolve

    def counted(host: str, *args: object) -> object:
        lookups.append(host)
        return real_resolve(host, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "resolve", counted)
    listener = socket.create_server(("127.0.0.1", 0), backlog=512)
    port = listener.getsockname()[1]

    async def connect_all() -> list[socket.socket]:
        upstream = upstream_to("localhost", port)
        return await asyncio.wait_for(
            asyncio.gather(*(upstream.open_upstream("#1 upstream") for _ in range(200))), 30
        )

    try:
        socks = asyncio.run(connect_all())
        assert len(socks) == 200 and all(sock.getpeername()[1] == port for sock in socks)
        assert lookups == ["localhost"]  # the real resolver, asked once for all of them
        for sock in socks:
            sock.close()
    finally:
        listener.close()


def test_refused_is_worded_as_connect_mode_words_it() -> None:
    port = free_port()
    with pytest.raises(TcpcliError) as caught:
        asyncio.run(upstream_to("127.0.0.1", port).open_upstream(f"#4 upstream 127.0.0.1:{port}"))
    assert caught.value.exit_code is ExitCode.UNAVAILABLE
    assert caught.value.message == (
        f"#4 upstream 127.0.0.1:{port}: connection refused (is anything listening there?)"
    )


def test_unknown_name_is_68() -> None:
    with pytest.raises(TcpcliError) as caught:
        asyncio.run(
            upstream_to("nosuchhost.invalid", 80, 20).open_upstream("#1 upstream nosuchhost.invalid:80")
        )
    assert caught.value.exit_code is ExitCode.NO_HOST
    assert caught.value.message.startswith("#1 upstream nosuchhost.invalid:80: nosuchhost.invalid ")


def test_a_unix_target_the_kernel_cannot_take_is_a_usage_error() -> None:
    check_target(UnixTarget("/tmp/app.sock"))  # fine
    with pytest.raises(UsageError, match="--to unix:PATH: "):
        check_target(UnixTarget("/tmp/" + "x" * 200))


@pytest.mark.parametrize(
    ("text", "target", "label"),
    [
        ("127.0.0.1:6379", TcpTarget("127.0.0.1", 6379), "127.0.0.1:6379"),
        ("[::1]:80", TcpTarget("::1", 80), "[::1]:80"),
        ("example.org:https", TcpTarget("example.org", 443), "example.org:443"),
        ("unix:/run/app.sock", UnixTarget("/run/app.sock"), "unix:/run/app.sock"),
    ],
)
def test_targets_parse_and_print_back(text: str, target: TcpTarget | UnixTarget, label: str) -> None:
    assert parse_target(text) == target
    assert target_label(target) == label


@pytest.mark.parametrize("text", ["127.0.0.1", ":80", "::1:80", "host:", "unix:", "a b:80", "host:99999"])
def test_malformed_targets_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_target(text)
