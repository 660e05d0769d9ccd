"""Breaking tcpcli the way new users and scripts do: odd values, closed std fds, full disks, random argv.

Each test here was written for a defect found that way (or guards the contract it broke): an error is one
`tcpcli: ` line on stderr with a documented exit code, never a traceback, a hang or lost data.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpcli import cli
from tcpcli.errors import Terminated
from tcpcli.fastargs import SWITCHES, VALUED
from tests.conftest import TCPCLI, PeerServer, free_port, recv_all, run_tcpcli, start_tcpcli

DOCUMENTED_CODES = {0, 1, 2, 66, 68, 69, 73, 74, 75, 76, 77, 130, 143}


def _assert_one_clean_line(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tcpcli: "), stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-w", "99999999999999999999999999999"], "-w/--connect-timeout: '9"),  # was OverflowError
        (["-w", "1" * 400], "too long"),
        (["-i", "99999999999999999999"], "-i/--idle-timeout"),
        (["-q", "99999999999999999999"], "-q"),
        (["--keepalive-idle", "99999999999"], "--keepalive-idle"),  # was TypeError from setsockopt
        (["--keepalive-interval", "32768"], "at most 32767"),  # the kernel refuses it (EINVAL)
        (["--keepalive-count", "128"], "at most 127"),
        (["--keepalive-count", "99999999999"], "--keepalive-count"),
        (["-e", "undefined"], "cannot be used"),  # fails on every use
        (["-e", "idna"], "cannot be used"),  # cannot mark undecodable bytes
        (["-e", "punycode"], "cannot be used"),
        (["--struct", "é"], "not a format character"),  # was UnicodeEncodeError
    ],
)
def test_odd_values_are_usage_errors_before_connecting(args: list[str], words: str) -> None:
    for mode in ([], ["-z"]):
        result = run_tcpcli(*mode, *args, "127.0.0.1", str(free_port()))
        assert result.code == 2, result.stderr
        _assert_one_clean_line(result.stderr)
        assert words in result.stderr


def test_listen_mode_rejects_an_unusable_codec_for_greet_before_binding() -> None:
    result = run_tcpcli("-l", "--greet", "hi", "-e", "undefined", "127.0.0.1", "0", timeout=10)
    assert result.code == 2
    _assert_one_clean_line(result.stderr)
    assert "listening" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [["-w", "1000000000", "-q", "1000000000"], ["--keepalive-idle", "32767", "--keepalive-count", "127"]],
)
def test_the_largest_values_still_work(args: list[str], peer: Callable[..., PeerServer]) -> None:
    server = peer(lambda conn: conn.sendall(b"hello\n"))
    result = run_tcpcli(*args, server.host, str(server.port), stdin=b"", timeout=10)
    assert result.code == 0, result.stderr
    assert result.stdout == b"hello\n"


@pytest.mark.parametrize("codec", ["utf-7", "utf-16", "shift_jis", "UTF8"])
def test_odd_but_working_codecs_are_accepted(codec: str) -> None:
    assert run_tcpcli("-z", "-e", codec, "127.0.0.1", str(free_port())).code == 1


def _close_fd(fd: int) -> Callable[[], None]:
    return lambda: os.close(fd)


def test_closed_stdin_is_at_eof_and_the_socket_never_takes_fd_0(peer: Callable[..., PeerServer]) -> None:
    """`tcpcli host port <&-`: the socket used to become fd 0, so the peer's data was sent back to it."""
    received: list[bytes] = []

    def greet_then_read(conn: socket.socket) -> None:
        conn.sendall(b"hello\n")
        received.append(recv_all(conn))

    server = peer(greet_then_read)
    proc = subprocess.run(
        [*TCPCLI, server.host, str(server.port)],
        capture_output=True,
        timeout=10,
        preexec_fn=_close_fd(0),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"hello\n"
    assert proc.stderr == b""
    assert received == [b""]  # our FIN, and none of its own bytes echoed back


def test_closed_stdin_with_an_echo_server_does_not_loop(echo_server: PeerServer) -> None:
    """It used to hang: the uplink read the socket (fd 0) and wrote it back to the socket."""
    proc = subprocess.run(
        [*TCPCLI, echo_server.host, str(echo_server.port)],
        capture_output=True,
        timeout=10,
        preexec_fn=_close_fd(0),
    )
    assert proc.returncode == 0, proc.stderr


def test_closed_stdout_is_no_traceback(peer: Callable[..., PeerServer]) -> None:
    """`tcpcli host port >&-`: sys.stdout is None; the exit used to crash flushing it."""
    server = peer(lambda conn: conn.sendall(b"hello\n"))
    for view in ([], ["-x"]):
        proc = subprocess.run(
            [*TCPCLI, *view, server.host, str(server.port)],
            input=b"",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=10,
            preexec_fn=_close_fd(1),
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == b""


def test_closed_stderr_still_gives_the_exit_code() -> None:
    proc = subprocess.run(
        [*TCPCLI, "127.0.0.1", str(free_port())],
        input=b"",
        capture_output=True,
        timeout=10,
        preexec_fn=_close_fd(2),
    )
    assert proc.returncode == 69


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("view", [[], ["-x"]])
def test_full_stdout_is_74_and_blames_stdout(view: list[str], peer: Callable[..., PeerServer]) -> None:
    """It said `receiving from 127.0.0.1:N: No space left on device`, as if the connection had failed."""
    server = peer(lambda conn: conn.sendall(b"hello\n"))
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [*TCPCLI, *view, server.host, str(server.port)],
            input=b"",
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=10,
        )
    assert proc.returncode == 74
    assert proc.stderr == b"tcpcli: writing to stdout: No space left on device\n"


def test_a_second_signal_during_cleanup_is_ignored() -> None:
    """Ctrl-C twice, or `timeout` (signals the child, then its group): no KeyboardInterrupt traceback."""
    saved = cli._stopping
    try:
        cli._stopping = False
        with pytest.raises(KeyboardInterrupt):
            cli._on_sigint(2, None)
        cli._on_sigint(2, None)  # the second one returns: the exit is already under way
        cli._on_sigterm(15, None)
        cli._stopping = False
        with pytest.raises(Terminated):
            cli._on_sigterm(15, None)
        cli._on_sigint(2, None)
    finally:
        cli._stopping = saved


# ---------------------------------------------------------------- random argv

_OPTIONS = sorted([*SWITCHES, *VALUED])
_LONG_LABEL = "a" * 64 + ".example"  # a DNS label over 63 characters: was a 33-line idna traceback
_ODD_VALUES = [
    "", " ", "0", "-1", "1", "0.5", "1e3", "0x10", "nan", "inf", "99999999999999999999999", "é", "a b",
    "127.0.0.1", "::1", "[::1]", "localhost.", "utf-7", "hex", "<HI", "@", "x", "\\q", "a,a", "/dev/full",
    "/", "lf", "never", "http", "20-25", "[::1]:80", _LONG_LABEL, f"x.{_LONG_LABEL}",
]  # fmt: skip
# file options only ever name paths that cannot be created or read, or /dev/full: no files left behind
_PATH_FIELDS = {"output", "hex_log", "cafile", "cert", "key"}
_PATHS = ["/nonexistent/x", "/", "", "/dev/full", "-"]
_VALUES = st.one_of(st.sampled_from(_ODD_VALUES), st.text(max_size=6))


@st.composite
def _argv(draw: st.DrawFn) -> list[str]:
    closed = str(free_port())
    argv: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        option = draw(st.sampled_from(_OPTIONS))
        if option in VALUED:
            value = draw(st.sampled_from(_PATHS) if VALUED[option] in _PATH_FIELDS else _VALUES)
            argv += (
                [f"{option}={value}"] if option.startswith("--") and draw(st.booleans()) else [option, value]
            )
        else:
            argv.append(option)
    positionals = draw(
        st.sampled_from(
            [["127.0.0.1", closed], [closed], [], ["127.0.0.1", closed, "x"], [_LONG_LABEL, closed]]
        )
    )
    where = draw(st.integers(0, len(argv)))
    argv[where:where] = positionals
    return argv


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=_argv())
def test_random_argv_against_a_closed_port_is_clean(argv: list[str]) -> None:
    argv = [arg for arg in argv if "\0" not in arg]  # argv cannot carry NUL
    if "-l" in argv or "--listen" in argv or "--demo" in argv or "-k" in argv or "--keep-open" in argv:
        argv = ["-z", *[arg for arg in argv if arg not in ("-l", "--listen", "--demo", "-k", "--keep-open")]]
    result = run_tcpcli(*argv, "-w", "2", stdin=b"", timeout=15)
    assert result.code in DOCUMENTED_CODES, (argv, result)
    assert "Traceback" not in result.stderr, (argv, result.stderr)
    for line in result.stderr.splitlines():
        assert line.startswith("tcpcli: "), (argv, result.stderr)


@pytest.mark.parametrize("value", ["\r", "a\nb", "\x1b[31m", "\u2028", "\x85"])
def test_control_characters_in_a_value_stay_on_one_escaped_line(value: str) -> None:
    """Found by the random-argv test: `-e $'\\r'` printed the message over two lines."""
    result = run_tcpcli("-e", value, "127.0.0.1", str(free_port()))
    assert result.code == 2
    _assert_one_clean_line(result.stderr)
    assert "\x1b" not in result.stderr


def test_listen_client_that_resets_at_once_is_74_not_a_traceback() -> None:
    """`tcpcli -l PORT` and a client that connects and resets at once: getpeername() raised ENOTCONN."""
    proc = start_tcpcli("-l", "127.0.0.1", "0", stdin=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline().decode()
        assert first.startswith("tcpcli: listening on 127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # RST
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 74
    _assert_one_clean_line(err.decode())
    assert "reset" in err.decode()
