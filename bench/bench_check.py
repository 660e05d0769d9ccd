"""A one-step health check against the plain one-shot pipe of the same exchange: whole-process times.

    check:  tcpcli 127.0.0.1 PORT --send 'PING\\r\\n' --expect PONG
    pipe:   printf 'PING\\r\\n' | tcpcli 127.0.0.1 PORT        (stdin given by this script, no printf process)

The server (a thread here) answers `+PONG\\r\\n` to `PING\\r\\n`, closes after the client's FIN: the fairest
plain equivalent, since the pipe then needs no -q guess (it ends when the server closes after stdin's EOF),
while the check ends right after its match. Each command must exit 0 (and the pipe print +PONG). Runs are
interleaved (the order alternates) and reported as medians; modules are compiled first (see bench/README.md).

Run: .venv/bin/python bench/bench_check.py [--runs 40] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 20.0


def tcpcli_command() -> list[str]:
    """The console script next to the running Python (what users run), else `python -m tcpcli`."""
    script = Path(sys.executable).with_name("tcpcli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tcpcli"]


class PongServer:
    """PING -> +PONG, then read until the client's FIN and close; one thread per client."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(TIMEOUT)
            data = b""
            try:
                while b"PING\r\n" not in data:
                    chunk = conn.recv(1024)
                    if not chunk:
                        return
                    data += chunk
                conn.sendall(b"+PONG\r\n")
                while conn.recv(1024):
                    pass
            except OSError:
                pass


def timed(argv: list[str], stdin: bytes) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=TIMEOUT)
    return time.perf_counter() - started, proc.returncode, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--json", help="also write every run to this file")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "tcpcli")], check=True)
    server = PongServer()
    base = [*tcpcli_command(), "127.0.0.1", str(server.port)]
    commands = {
        "check": ([*base, "--send", "PING\\r\\n", "--expect", "PONG"], b"", b""),
        "pipe": (base, b"PING\r\n", b"+PONG\r\n"),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    failures: list[str] = []
    for _ in range(3):  # warm the page cache and the kernel's socket paths; not counted
        for argv, stdin, _expected in commands.values():
            timed(argv, stdin)
    for run in range(args.runs):
        order = list(commands) if run % 2 == 0 else list(reversed(commands))
        for name in order:
            argv, stdin, expected = commands[name]
            seconds, code, out = timed(argv, stdin)
            if code != 0 or out != expected:
                failures.append(f"{name} run {run}: exit {code}, stdout {out!r}")
                continue
            times[name].append(seconds)
        print(f"run {run + 1}/{args.runs}", file=sys.stderr, end="\r")
    medians = {name: statistics.median(values) * 1000 for name, values in times.items() if values}
    print(f"\nOne-step check vs plain one-shot pipe ({args.runs} interleaved runs each, medians, ms)\n")
    print("| command | median ms | min ms | ratio to pipe |")
    print("|---|---|---|---|")
    for name, values in times.items():
        if values:
            ratio = medians[name] / medians["pipe"] if "pipe" in medians else float("nan")
            print(f"| {name} | {medians[name]:.1f} | {min(values) * 1000:.1f} | {ratio:.2f} |")
    bytecode = os.environ.get("PYTHONDONTWRITEBYTECODE")
    print(
        f"\ntcpcli: {' '.join(tcpcli_command())}; PYTHONDONTWRITEBYTECODE={bytecode} (modules compiled first)"
    )
    for failure in failures:
        print(f"FAILED: {failure}")
    if args.json:
        Path(args.json).write_text(json.dumps({"times": times, "failures": failures}, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
