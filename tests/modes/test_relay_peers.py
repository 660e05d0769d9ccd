"""The relay between other tools: socat and ncat as the upstream and as the client (skipped when absent)."""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, recv_all
from tests.listen_helpers import WAIT, Server, recv_exactly
from tests.modes.test_relay import PATHS


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed")
    return found


def wait_listening(port: int) -> None:
    """Until something accepts on the port (bounded; the tool gives no sign of its own)."""
    import time

    deadline = time.monotonic() + WAIT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@pytest.fixture(params=["socat", "ncat"])
def echo_upstream(request: pytest.FixtureRequest) -> Iterator[int]:
    """An echo service run by socat or ncat (each client: `cat`)."""
    port = free_port()
    if request.param == "socat":
        argv = [tool("socat"), f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", "EXEC:cat"]
    else:
        argv = [tool("ncat"), "-l", "-k", "127.0.0.1", str(port), "--sh-exec", "cat"]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening(port)
        yield port
    finally:
        proc.kill()
        proc.wait(WAIT)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_socat_and_ncat_as_the_upstream(echo_upstream: int, path: str) -> None:
    data = random.Random(3).randbytes(1 << 20)
    server = Server("-l", "127.0.0.1", "0", "--to", f"127.0.0.1:{echo_upstream}", "-k", *PATHS[path])
    try:
        for _ in range(2):
            with server.connect() as client:
                # in round trips of 32 KiB: `ncat --sh-exec cat` deadlocks itself (blocked writing to cat
                # while cat waits for it to read) when a large burst fills both of its pipes; and the echo is
                # read before FIN, since ncat ends the whole connection at a client's FIN
                for at in range(0, len(data), 32768):
                    client.sendall(data[at : at + 32768])
                    assert recv_exactly(client, 32768) == data[at : at + 32768]
                client.shutdown(socket.SHUT_WR)
                assert recv_all(client) == b""
        assert server.stop(signal.SIGINT) == 130
    finally:
        server.kill()


@pytest.mark.parametrize("client", ["socat", "ncat"])
def test_socat_and_ncat_as_the_client(client: str, tmp_path: Path) -> None:
    """The client sends a file and its EOF; the upstream answers after the FIN it got through the relay."""
    answer = b"the answer\n"

    def upstream_conversation(listener: socket.socket, got: list[bytes]) -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(WAIT)
            chunks = []
            while data := conn.recv(65536):
                chunks.append(data)
            got.append(b"".join(chunks))
            conn.sendall(answer)

    listener = socket.create_server(("127.0.0.1", 0))
    got: list[bytes] = []
    worker = threading.Thread(target=upstream_conversation, args=(listener, got), daemon=True)
    worker.start()
    payload = random.Random(5).randbytes(500_000)
    (tmp_path / "in").write_bytes(payload)
    if client == "socat":
        argv = [tool("socat"), "-t", "5", "-", "TCP:127.0.0.1:{port}"]
    else:
        argv = [tool("ncat"), "127.0.0.1", "{port}"]
    server = Server(
        "-l", "127.0.0.1", "0", "--to", f"127.0.0.1:{listener.getsockname()[1]}", "--no-transcript"
    )
    try:
        with (tmp_path / "in").open("rb") as stdin:
            result = subprocess.run(
                [part.format(port=server.port) for part in argv],
                stdin=stdin,
                capture_output=True,
                timeout=WAIT * 2,
            )
        assert result.stdout == answer
        worker.join(WAIT)
        assert got == [payload]
        assert server.wait() == 0
    finally:
        server.kill()
        listener.close()
