"""Views with many clients (-l -k in stream mode): -x, --struct, -t and --hex-log per client, real clients on
loopback against the real program. Each client's data is rendered on its own (own offsets, own records) and
labelled with its address."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

from tests.listen_helpers import Server, recv_exactly, running


def _stdout_after_stop(server: Server) -> str:
    """Stop the server; its stdout, checked free of warnings on stderr."""
    assert server.stop() == 143
    assert server.proc.stdout is not None
    return server.proc.stdout.read().decode()


def _label(sock_name: tuple[str, int]) -> str:
    return f"{sock_name[0]}:{sock_name[1]}"


def test_hex_dumps_are_labelled_by_client_with_offsets_of_their_own() -> None:
    # --echo: a client's echo proves the server has handled its chunk, so the order of chunks is known
    with running("-l", "-k", "-v", "--echo", "-x", "127.0.0.1", "0", stdout=subprocess.PIPE) as server:
        first, second = server.connect(), server.connect()
        for client, chunk in ((first, b"hello"), (second, b"world!"), (first, b"again")):
            client.sendall(chunk)
            assert recv_exactly(client, len(chunk)) == chunk
        one, two = _label(first.getsockname()), _label(second.getsockname())
        first.close()
        second.close()
        server.wait_stderr("left")
        server.wait_stderr("left")
        out = _stdout_after_stop(server)
    assert out.splitlines() == [
        f"# {one}",
        "00000000  68 65 6c 6c 6f" + " " * 36 + "|hello|",
        f"# {two}",
        "00000000  77 6f 72 6c 64 21" + " " * 33 + "|world!|",
        f"# {one}",
        "00000005  61 67 61 69 6e" + " " * 36 + "|again|",
    ]


def test_timestamps_stamp_each_hex_chunk() -> None:
    with running("-l", "-k", "-v", "-x", "-t", "127.0.0.1", "0", stdout=subprocess.PIPE) as server:
        with server.connect() as client:
            client.sendall(b"x")
        server.wait_stderr("left")
        lines = _stdout_after_stop(server).splitlines()
    assert lines[0].startswith("# 127.0.0.1:")
    assert lines[1].startswith("[") and lines[1].endswith("]")
    assert lines[2].startswith("00000000  78")


def test_struct_records_are_never_mixed_between_clients() -> None:
    args = ("-l", "-k", "-v", "--echo", "--struct", "<HI", "--fields", "id,len", "127.0.0.1", "0")
    with running(*args, stdout=subprocess.PIPE) as server:
        first, second = server.connect(), server.connect()
        server.wait_stderr("(2 clients)")
        one, two = struct.pack("<HI", 1, 100), struct.pack("<HI", 2, 200)
        for client, record in ((first, one), (second, two)):  # half a record each, interleaved
            client.sendall(record[:3])
            assert recv_exactly(client, 3) == record[:3]  # the echo: the server has handled the half
        for client, record in ((first, one), (second, two)):
            client.sendall(record[3:] + record)
            assert recv_exactly(client, 9) == record[3:] + record
        labels = {_label(first.getsockname()): 1, _label(second.getsockname()): 2}
        first.close()
        second.close()
        server.wait_stderr("left")
        server.wait_stderr("left")
        records = [json.loads(line) for line in _stdout_after_stop(server).splitlines()]
    assert len(records) == 4
    for record in records:
        ident = labels[record["client"]]
        assert record == {"client": record["client"], "id": ident, "len": ident * 100}


def test_a_field_named_client_keeps_its_name_and_the_address_goes_to_underscore_client() -> None:
    args = ("-l", "-k", "-v", "--struct", "<B", "--fields", "client", "127.0.0.1", "0")
    with running(*args, stdout=subprocess.PIPE) as server:
        with server.connect() as client:
            client.sendall(b"\x07")
            label = _label(client.getsockname())
        server.wait_stderr("left")
        out = _stdout_after_stop(server)
    assert json.loads(out) == {"_client": label, "client": 7}


def test_trailing_bytes_of_a_client_that_leaves_are_one_stderr_line_naming_it() -> None:
    with running("-l", "-k", "--struct", "<HI", "127.0.0.1", "0", stdout=subprocess.PIPE) as server:
        with server.connect() as client:
            client.sendall(struct.pack("<HI", 5, 6) + b"\x01\x02\x03")
            label = _label(client.getsockname())
        line = server.wait_stderr("trailing")
        out = _stdout_after_stop(server)
    assert line == f"tcpcli: {label}: 3 trailing bytes did not make a whole 6-byte record: 01 02 03"
    assert json.loads(out) == {"client": label, "f0": 5, "f1": 6}


def test_hex_log_has_both_directions_of_every_client(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    with running("-l", "-k", "-v", "--echo", "--hex-log", str(log), "127.0.0.1", "0") as server:
        first, second = server.connect(), server.connect()
        first.sendall(b"one")
        second.sendall(b"two!")
        assert recv_exactly(first, 3) == b"one"
        assert recv_exactly(second, 4) == b"two!"
        labels = _label(first.getsockname()), _label(second.getsockname())
        first.close()
        second.close()
        server.wait_stderr("left")
        server.wait_stderr("left")
        assert server.stop() == 143
        assert "not applied" not in server.rest_of_stderr()
    text = log.read_text()
    for label, size in zip(labels, (3, 4), strict=True):
        assert f" < {size} bytes from {label}\n< 00000000  " in text
        assert f" > {size} bytes to {label}\n> 00000000  " in text


def test_raw_keep_open_output_is_unchanged_with_two_clients() -> None:
    with running("-l", "-k", "-v", "127.0.0.1", "0", stdout=subprocess.PIPE) as server:
        for payload in (b"first\n", b"second\n"):
            with server.connect() as client:
                client.sendall(payload)
            server.wait_stderr("left")
        assert _stdout_after_stop(server) == "first\nsecond\n"


def test_binary_and_timestamps_with_k_on_pipes_give_the_raw_bytes_as_for_one_client() -> None:
    """-b and -t name renderings of a terminal (and -t of a hex dump): on pipes one client's bytes come out as
    they are, so with -k too, without the old "not applied" warning."""
    with running("-l", "-k", "-v", "-b", "-t", "127.0.0.1", "0", stdout=subprocess.PIPE) as server:
        with server.connect() as client:
            client.sendall(b"a\x01b\x1b\n")
        server.wait_stderr("left")
        assert _stdout_after_stop(server) == "a\x01b\x1b\n"
        assert "not applied" not in server.rest_of_stderr()
