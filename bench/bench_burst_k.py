"""Issue 12 fault 2: one 256 KiB burst of short lines into the `-l -k` terminal.

Runs `tcpcli -l -k` in a pty (pexpect, its output read as fast as a terminal would), connects a receiver and
a sender, sends the burst, then types a line: prints how long the line took to reach the receiver, how long
Ctrl-C took to end the program, and the peak RSS (VmHWM) of the program.
Usage: bench_burst_k.py [RUNS [BURSTS]]: BURSTS > 1 sends that many bursts back to back (a sustained flood,
from a thread) while the line is typed.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

import pexpect
import pyte

BURST = b"".join(b"line %06d of the burst\n" % n for n in range(11_000))[: 256 * 1024]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def once(bursts: int = 1) -> tuple[float, float, float]:
    port = free_port()
    env = {**os.environ, "TERM": "xterm-256color", "XDG_STATE_HOME": "/tmp/q2-state"}
    child = pexpect.spawn(
        sys.executable, ["-m", "tcpcli", "-l", "-k", "127.0.0.1", str(port)], dimensions=(30, 100), env=env
    )
    seen = bytearray()
    stop = threading.Event()
    screen = pyte.Screen(100, 30)
    stream = pyte.ByteStream(screen)  # a terminal emulator reads the output, at a terminal's pace

    def drain() -> None:
        while not stop.is_set():
            try:
                data = child.read_nonblocking(65536, timeout=0.05)
                seen.extend(data[-64:])
                stream.feed(data)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    deadline = time.monotonic() + 10
    while b"0 clients" not in seen and time.monotonic() < deadline:
        time.sleep(0.02)
    receiver = socket.create_connection(("127.0.0.1", port))
    sender = socket.create_connection(("127.0.0.1", port))
    time.sleep(0.3)
    flooding = threading.Thread(target=lambda: sender.sendall(BURST * bursts), daemon=True)
    flooding.start()
    time.sleep(0.05)
    child.send("ping\r")
    typed = time.monotonic()
    receiver.settimeout(30)
    got = b""
    while b"ping\n" not in got:
        got += receiver.recv(4096)
    latency = time.monotonic() - typed
    flooding.join(60)
    time.sleep(0.5)
    rss = peak_rss_mib(child.pid)
    sender.sendall(BURST)
    child.sendcontrol("c")
    pressed = time.monotonic()
    child.expect(pexpect.EOF, timeout=30) if not reader.is_alive() else reader.join(30)
    child.wait()
    ended = time.monotonic() - pressed
    stop.set()
    receiver.close()
    sender.close()
    return latency, ended, rss


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    bursts = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for _ in range(runs):
        latency, ended, rss = once(bursts)
        print(
            f"typed line {latency * 1000:7.0f} ms   Ctrl-C {ended * 1000:7.0f} ms   peak RSS {rss:6.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
