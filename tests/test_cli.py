"""The command line as a new user meets it: every bad input is one `tcpcli: ...` line and its exit code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tcpcli import __version__
from tests.conftest import TCPCLI, run_tcpcli

# A port nothing listens on: validation must fail before any connection is tried (else we'd see 69).
CLOSED = "1"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        ([], 2, "missing HOST and PORT"),
        (["example.org"], 2, "missing PORT"),
        (["80"], 2, "missing HOST"),
        (["80", "example.org"], 2, "host comes first"),
        (["127.0.0.1:80"], 2, "two arguments"),
        (["127.0.0.1", "0"], 2, "not a port number"),
        (["127.0.0.1", "99999"], 2, "not a port number"),
        (["127.0.0.1", "htpp"], 2, "not a port number (1-65535) or a known service name"),
        (["127.0.0.1", "80", "extra"], 2, "too many arguments"),
        (["", "80"], 2, "not a valid host"),
        (["bad host", "80"], 2, "not a valid host"),
        (["[::1", "80"], 2, "unbalanced brackets"),
        (["::1::", "80"], 2, "not a valid IPv6"),
        (["-w", "ten", "127.0.0.1", CLOSED], 2, "-w/--connect-timeout: 'ten'"),
        (["-w", "0", "127.0.0.1", CLOSED], 2, "> 0"),
        (["-w", "-1", "127.0.0.1", CLOSED], 2, "tcpcli: "),
        (["-i", "1x", "127.0.0.1", CLOSED], 2, "-i/--idle-timeout"),
        (["-q", "-0.5", "127.0.0.1", CLOSED], 2, "tcpcli: "),
        (["-p", "70000", "127.0.0.1", CLOSED], 2, "-p"),
        (["--keepalive-count", "0", "127.0.0.1", CLOSED], 2, "positive whole number"),
        (["-e", "klingon", "127.0.0.1", CLOSED], 2, "unknown codec"),
        (["--eol", "lf2", "127.0.0.1", CLOSED], 2, "--eol"),
        (["--color", "pink", "127.0.0.1", CLOSED], 2, "--color"),
        (["-x", "-b", "127.0.0.1", CLOSED], 2, "pick one view"),
        (["-4", "-6", "127.0.0.1", CLOSED], 2, "cannot be combined"),
        (["-l", "-z", "80"], 2, "cannot be combined"),
        (["--echo", "127.0.0.1", CLOSED], 2, "listen-mode option"),
        (["--insecure", "127.0.0.1", CLOSED], 2, "only makes sense with --tls"),
        (["--bogus", "127.0.0.1", CLOSED], 2, "No such option"),
        (["-l"], 2, "needs a PORT"),
        (["-l", "65536"], 2, "not a port number"),
        (["--demo", "127.0.0.1"], 2, "takes no HOST"),
        (["-l", "--idle-message", "bye", "0"], 2, "give the idle time with -i S"),
        (["-l", "-w", "5", "0"], 2, "-w/--connect-timeout is for connecting"),
        (["-l", "--tls", "--cert", "c", "--key", "k", "--sni", "x", "0"], 2, "--sni is for connecting"),
        (["-l", "--tls", "--cert", "c", "--key", "k", "--insecure", "0"], 2, "--insecure is for connecting"),
        (["[::1]:8080"], 2, "two arguments: tcpcli ::1 8080"),
        (["[::1]:8080", "80"], 2, "two arguments: tcpcli ::1 8080"),
        (["-l", "127.0.0.1:8080"], 2, "two arguments: tcpcli -l 127.0.0.1 8080"),
        (["-4", "::1", CLOSED], 2, "::1 is an IPv6 address, and -4 asks for IPv4"),  # was 68
        (["-z", "-4", "::1", CLOSED], 2, "-4 asks for IPv4"),
        (["-6", "127.0.0.1", CLOSED], 2, "-6 asks for IPv6"),
        (["-4", "-s", "::1", "127.0.0.1", CLOSED], 2, "-s/--source ::1 is an IPv6 address"),
        (["-l", "-4", "::1", "0"], 2, "-4 asks for IPv4"),
        (["-n", "localhost", CLOSED], 2, "-n turns DNS off"),
        (["-n", "127.0.0.1", "http"], 2, "-n turns name look-ups off"),
        (["-l", "-n", "localhost", "0"], 2, "-n turns DNS off"),
        (["-N", "--no-half-close", "127.0.0.1", CLOSED], 2, "contradict"),
        (["-d", "-q", "1", "127.0.0.1", CLOSED], 2, "-d does not read stdin"),
        (["-e", "/bin/sh", "127.0.0.1", CLOSED], 2, "use -l PORT --exec '/bin/sh'"),
        (["127.0.0.1", "20-25"], 2, "not a port number"),
        (["127.0.0.1", CLOSED, "2"], 2, "-z checks several ports"),
        (["-z", "127.0.0.1", "25-20"], 2, "runs backwards"),
        (["-l", "-p", "8080", "9090"], 2, "the port is given twice"),
        (["-l", "-s", "127.0.0.1", "::1", "0"], 2, "the address is given twice"),
    ],
)
def test_bad_input_is_one_line_with_its_code(args: list[str], code: int, words: str) -> None:
    result = run_tcpcli(*args)
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tcpcli: ")
    assert words in lines[0]


LONG_LABEL_HOST = "a" * 64 + ".example"


@pytest.mark.parametrize("mode", [[], ["-z"], ["-l"], ["-l", "-k"]])
def test_a_dns_label_over_63_characters_is_one_line_and_2(mode: list[str]) -> None:
    """It was a 33-line idna traceback and exit 1, in every mode."""
    result = run_tcpcli(*mode, LONG_LABEL_HOST, "80" if mode[:1] != ["-l"] else "0")
    assert result.code == 2, result.stderr
    assert result.stderr.startswith("tcpcli: ") and result.stderr.count("\n") == 1, result.stderr
    assert "at most 63" in result.stderr


def test_unknown_host_is_68() -> None:
    result = run_tcpcli("no-such-host.invalid", "80")
    assert result.code == 68
    assert result.stderr.startswith("tcpcli: no-such-host.invalid")


def test_refused_is_69_and_says_what_to_check() -> None:
    result = run_tcpcli("127.0.0.1", CLOSED)
    assert result.code == 69
    assert "connection refused" in result.stderr


def test_connect_timeout_is_75() -> None:
    """A listener whose backlog is full drops SYNs, so the connect hangs until -w ends it."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        result = run_tcpcli("-w", "0.5", "127.0.0.1", str(port))
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    assert result.code == 75, result.stderr
    assert "timed out after 0.5 s" in result.stderr


def test_output_file_that_cannot_be_created_is_73(tmp_path: os.PathLike[str]) -> None:
    assert run_tcpcli("-o", str(tmp_path), "127.0.0.1", CLOSED).code == 73
    missing = os.path.join(tmp_path, "no", "such", "dir.log")
    result = run_tcpcli("--hex-log", missing, "127.0.0.1", CLOSED)
    assert result.code == 73
    assert "cannot create" in result.stderr


def test_unreadable_input_file_is_66(tmp_path: os.PathLike[str]) -> None:
    result = run_tcpcli("--tls", "--cafile", os.path.join(tmp_path, "missing.pem"), "127.0.0.1", CLOSED)
    assert result.code == 66
    assert "--cafile" in result.stderr


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to drop root")
def test_binding_a_privileged_source_port_as_a_normal_user_is_77() -> None:
    command = [*TCPCLI, "-p", "80", "127.0.0.1", CLOSED]
    if os.geteuid() == 0:  # run as `nobody` to see what a normal user sees
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=20, cwd=os.getcwd())
    if "No module named" in proc.stderr or "Permission denied: '" in proc.stderr:
        pytest.skip("the unprivileged user cannot read the checkout")
    assert proc.returncode == 77, proc.stderr
    assert proc.stderr == "tcpcli: bind to 0.0.0.0:80: permission denied (ports below 1024 need privileges)\n"


def test_version_and_help() -> None:
    version = run_tcpcli("--version")
    assert version.code == 0
    assert version.stdout.decode().strip() == f"tcpcli {__version__}"
    help_text = run_tcpcli("--help", env={"COLUMNS": "120"})
    assert help_text.code == 0
    for word in ("Connection", "Listen mode", "TLS", "--quit-after-eof", "Exit codes"):
        assert word in help_text.stdout.decode()


@pytest.mark.parametrize("delay", [0.05, 0.1, 0.3])
def test_ctrl_c_while_starting_or_connected_is_a_quiet_130(delay: float) -> None:
    """Ctrl-C while tcpcli loads its modules, or once connected, is 130 with no traceback."""
    import signal
    import socket
    import time

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        proc = subprocess.Popen(
            [*TCPCLI, "127.0.0.1", str(listener.getsockname()[1])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    # site.py has a main() too: only a traceback through tcpcli's own main() is ours to fail on
    ours = re.search(rb'cli\.py", line \d+, in (main|_run_command_line)', err) is not None
    if proc.returncode != 130 and not ours:
        pytest.skip("the signal landed before main() (in Python's own start-up): not ours to handle")
    assert proc.returncode == 130, err
    assert b"Traceback" not in err


def test_ctrl_c_once_connected_is_a_quiet_130() -> None:
    import signal
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(10)
        proc = subprocess.Popen(
            [*TCPCLI, "127.0.0.1", str(listener.getsockname()[1])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        conn, _ = listener.accept()
        with conn:
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert err == b""
