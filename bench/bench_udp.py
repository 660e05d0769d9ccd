#!/usr/bin/env python3
"""UDP benchmark (issue 19, item 4): datagrams per second from stdin lines, and echo round trips, vs socat.

    .venv/bin/python bench/bench_udp.py [--datagrams 100000] [--size 100] [--runs 5]

What runs, run by run (the order of the tools alternates each run, so a noisy moment is spread over all):
- send: a file of DATAGRAMS lines of SIZE bytes (LF included) is the stdin of
  `tcpcli -u -q 0 127.0.0.1 PORT`, of `socat -u -b SIZE STDIN UDP:127.0.0.1:PORT` (at most one line per read,
  so one line per datagram: the fair comparison) and of plain `socat -u STDIN UDP:...` (its default 8 KiB
  reads: lines merged into big datagrams, for reference). A counting receiver (its own process) counts
  datagrams, bytes and lines, and notes the time of the first and the last datagram. Its receive buffer is
  forced to 256 MiB (SO_RCVBUFFORCE, as root) so that a slow receiver cannot drop what the sender sent: a
  datagram missing is a datagram the tool never sent. Rate = datagrams / (last - first) at the receiver; the
  whole-process time (spawn to exit, Python start-up included) is shown too.
- echo: an echo server (its own process) returns each datagram; the tool sends the DATAGRAMS lines and writes
  the replies to stdout, read by this script: round trips per second = replies / (spawn to the last reply).
  tcpcli as `tcpcli -u -q 2 ...`, socat as `socat -t 2 -b SIZE - UDP:...` (both killed once all replies came).

Medians over the runs; ratios tcpcli / socat. Every run is bounded by a timeout. Markdown on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
TIMEOUT = 60.0

RECEIVER = r"""
import json, socket, sys, time
expected = int(sys.argv[1])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    sock.setsockopt(socket.SOL_SOCKET, 33, 256 << 20)  # SO_RCVBUFFORCE (root): no drop at the receiver
except OSError:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 << 20)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
buf = bytearray(70000)
count = size = lines = 0
first = last = 0.0
sock.settimeout(30)
try:
    n = sock.recv_into(buf)
    first = last = time.monotonic()
    count, size, lines = 1, n, buf[:n].count(10)
    sock.settimeout(1.0)  # the end: a second without a datagram
    while size < expected:
        n = sock.recv_into(buf)
        count += 1
        size += n
        lines += buf[:n].count(10)
        last = time.monotonic()
    last = time.monotonic()
except TimeoutError:
    pass
print(json.dumps({"datagrams": count, "bytes": size, "lines": lines, "seconds": last - first}), flush=True)
"""

ECHO = r"""
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    sock.setsockopt(socket.SOL_SOCKET, 33, 256 << 20)
except OSError:
    pass
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
buf = bytearray(70000)
while True:
    n, address = sock.recvfrom_into(buf)
    sock.sendto(buf[:n], address)
"""


def start_helper(source: str, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen([sys.executable, "-c", source, *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def send_run(command: list[str], data: Path, expected_bytes: int) -> dict[str, float]:
    receiver, port = start_helper(RECEIVER, str(expected_bytes))
    argv = [part.replace("PORT", str(port)) for part in command]
    started = time.monotonic()
    with data.open("rb") as stdin:
        subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL, timeout=TIMEOUT, check=True)
    whole = time.monotonic() - started
    out, _ = receiver.communicate(timeout=TIMEOUT)
    report = json.loads(out.decode().splitlines()[-1])
    report["whole"] = whole
    return report


def echo_run(command: list[str], data: Path, expected_lines: int) -> dict[str, float]:
    server, port = start_helper(ECHO)
    argv = [part.replace("PORT", str(port)) for part in command]
    try:
        started = time.monotonic()
        with data.open("rb") as stdin:
            proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        lines = 0
        last = started
        deadline = started + TIMEOUT
        while lines < expected_lines and time.monotonic() < deadline:
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            if not chunk:
                break
            lines += chunk.count(b"\n")
            last = time.monotonic()
        proc.kill()
        proc.communicate()
        return {"lines": lines, "seconds": last - started}
    finally:
        server.kill()
        server.communicate()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datagrams", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    n, size = options.datagrams, options.size
    if shutil.which("socat") is None:
        print("socat is not installed", file=sys.stderr)
        return 1
    tools = {
        "tcpcli -u": [PYTHON, "-m", "tcpcli", "-u", "-q", "0", "127.0.0.1", "PORT"],
        f"socat -b {size}": ["socat", "-u", "-b", str(size), "STDIN", "UDP:127.0.0.1:PORT"],
        "socat (default -b 8192)": ["socat", "-u", "STDIN", "UDP:127.0.0.1:PORT"],
    }
    echo_tools = {
        "tcpcli -u": [PYTHON, "-m", "tcpcli", "-u", "-q", "2", "127.0.0.1", "PORT"],
        f"socat -b {size}": ["socat", "-t", "2", "-b", str(size), "-", "UDP:127.0.0.1:PORT"],
    }
    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory) / "lines"
        line = b"%0*d\n"
        data.write_bytes(b"".join(line % (size - 1, index) for index in range(n)))
        sends: dict[str, list[dict[str, float]]] = {name: [] for name in tools}
        echoes: dict[str, list[dict[str, float]]] = {name: [] for name in echo_tools}
        for run in range(options.runs):
            order = list(tools) if run % 2 == 0 else list(reversed(tools))
            for name in order:
                sends[name].append(send_run(tools[name], data, n * size))
                print(f"run {run + 1} send {name}: {sends[name][-1]}", file=sys.stderr)
            order = list(echo_tools) if run % 2 == 0 else list(reversed(echo_tools))
            for name in order:
                echoes[name].append(echo_run(echo_tools[name], data, n))
                print(f"run {run + 1} echo {name}: {echoes[name][-1]}", file=sys.stderr)
    print(f"## UDP: {n:,} datagrams of {size} bytes on 127.0.0.1, {options.runs} runs, medians\n")
    print(
        "| sender | datagrams received (min) | lines received (min) | datagrams/s at the receiver | whole |"
    )
    print("|---|---|---|---|---|")
    rates: dict[str, float] = {}
    for name, reports in sends.items():
        rate = statistics.median(r["datagrams"] / r["seconds"] if r["seconds"] else 0.0 for r in reports)
        rates[name] = rate
        whole = statistics.median(r["whole"] for r in reports)
        got = min(int(r["datagrams"]) for r in reports)
        lines = min(int(r["lines"]) for r in reports)
        print(f"| {name} | {got:,} | {lines:,} | {rate:,.0f} | {whole:.3f} s |")
    fair = f"socat -b {size}"
    print(f"\nratio tcpcli / {fair} (datagrams/s): {rates['tcpcli -u'] / rates[fair]:.2f}\n")
    print("| echo client | replies (min) | round trips/s (spawn to last reply) |")
    print("|---|---|---|")
    trips: dict[str, float] = {}
    for name, reports in echoes.items():
        trips[name] = statistics.median(r["lines"] / r["seconds"] if r["seconds"] else 0.0 for r in reports)
        got = min(int(r["lines"]) for r in reports)
        print(f"| {name} | {got:,} | {trips[name]:,.0f} |")
    print(f"\nratio tcpcli / {fair} (round trips/s): {trips['tcpcli -u'] / trips[fair]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
