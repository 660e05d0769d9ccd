"""Interactive mode under a flood, measured the way a person sees it: in a real 120x30 tmux pane.

Three figures, each against a local flood server:
  1. flood: time from connect until the last line of a 20 MB text flood is on screen, for nc (and socat when
     installed) and tcpcli in the same pane, one after the other;
  2. keys: how long a typed key takes to appear on tcpcli's input line while an endless flood runs;
  3. start: time from connect until tcpcli's input line and toolbar are on screen.

Run: .venv/bin/python bench/bench_interactive.py [--mb 20] [--keys 20]. Needs tmux; uses a private tmux
server (-L) that it kills at the end. Each figure is read by polling `tmux capture-pane`, which adds a few ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLS, ROWS = 120, 30
TMUX = ["tmux", "-L", f"tcpcli-bench-{os.getpid()}"]
POLL = 0.005
LINE = b"flood line %08d the quick brown fox jumps over the lazy dog, again and again\n"


def flood_payload(megabytes: int, marker: bytes) -> bytes:
    count = megabytes * 1024 * 1024 // len(LINE % 0)
    return b"".join(LINE % i for i in range(count)) + marker + b"\n"


class FloodServer:
    """Serves one client: sends `payload` (or floods until stopped), then holds the connection open."""

    def __init__(self, payload: bytes | None, junk: bool = False) -> None:
        self._payload = payload
        self._junk = junk
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.accepted_at = 0.0
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        self.accepted_at = time.monotonic()
        try:
            if self._payload is not None:
                conn.sendall(self._payload)
            else:
                block = os.urandom(256 * 1024) if self._junk else b"".join(LINE % i for i in range(2000))
                while not self.stop.is_set():
                    conn.sendall(block)
            self.stop.wait(60)
        except OSError:
            pass
        finally:
            conn.close()
            self._listener.close()

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5)


def tmux(*args: str) -> str:
    return subprocess.run([*TMUX, *args], capture_output=True, text=True, check=True).stdout


def screen() -> list[str]:
    return tmux("capture-pane", "-p", "-t", "bench").splitlines()


def wait_until(check: Callable[[list[str]], bool], timeout: float) -> float | None:
    """Monotonic time when `check(screen rows)` first held, None after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(screen()):
            return time.monotonic()
        time.sleep(POLL)
    return None


def run_in_pane(command: str, env: dict[str, str]) -> None:
    exports = " ".join(f"{key}={value}" for key, value in env.items())
    tmux("respawn-pane", "-k", "-t", "bench", "-c", str(REPO), f"env {exports} {command}")


def tcpcli_command(port: int) -> str:
    return f"{sys.executable} -m tcpcli --no-history 127.0.0.1 {port}"


def time_flood(command: Callable[[int], str], megabytes: int, env: dict[str, str]) -> float | None:
    marker = f"END-OF-FLOOD-{time.monotonic_ns()}".encode()
    server = FloodServer(flood_payload(megabytes, marker))
    try:
        run_in_pane(command(server.port), env)
        seen = wait_until(lambda rows: any(marker.decode() in row for row in rows), 60)
        return None if seen is None else seen - server.accepted_at
    finally:
        server.close()


def time_start(env: dict[str, str]) -> float | None:
    server = FloodServer(b"")
    try:
        run_in_pane(tcpcli_command(server.port), env)
        seen = wait_until(lambda rows: any("| open |" in row for row in rows), 10)
        return None if seen is None else seen - server.accepted_at
    finally:
        server.close()


def time_keys(count: int, env: dict[str, str], junk: bool = False) -> list[float]:
    """Type letters of a probe word one at a time during an endless flood; time until each shows."""
    server = FloodServer(None, junk)
    probe = "KEYPROBE" * (count // 8 + 1)
    latencies: list[float] = []
    try:
        run_in_pane(tcpcli_command(server.port), env)
        if wait_until(lambda rows: any("| open |" in row for row in rows), 10) is None:
            return latencies
        time.sleep(1.0)  # let the flood get going
        for typed in range(1, count + 1):
            sent = time.monotonic()
            tmux("send-keys", "-t", "bench", "-l", probe[typed - 1])
            seen = wait_until(lambda rows, n=typed: input_line(rows).endswith(probe[:n]), 5)
            if seen is None:
                print(f"  key {typed} never appeared", file=sys.stderr)
                break
            latencies.append(seen - sent)
            time.sleep(0.05)
    finally:
        server.close()
    return latencies


def input_line(rows: list[str]) -> str:
    """The input line and the row before it (a long partial line can wrap it), joined, right-stripped."""
    body = [row.rstrip() for row in rows[:-1]]  # the last row is the toolbar
    return "".join(body[-2:])


def ms(seconds: float | None) -> str:
    return "did not finish" if seconds is None else f"{seconds * 1000:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=20, help="flood size in MiB (default 20)")
    parser.add_argument("--keys", type=int, default=20, help="keystrokes to time under flood (default 20)")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is needed for this benchmark", file=sys.stderr)
        return 1
    env = {"XDG_STATE_HOME": tempfile.mkdtemp(prefix="tcpcli-bench-"), "TERM": "tmux-256color"}
    tmux("new-session", "-d", "-s", "bench", "-x", str(COLS), "-y", str(ROWS), "sleep 600")
    try:
        print(f"{args.mb} MiB text flood in a {COLS}x{ROWS} tmux pane: time until its last line is on screen")
        clients: list[tuple[str, Callable[[int], str]]] = [("nc", lambda port: f"nc 127.0.0.1 {port}")]
        if shutil.which("socat"):
            clients.append(("socat", lambda port: f"socat - TCP:127.0.0.1:{port}"))
        clients.append(("tcpcli", tcpcli_command))
        results = {name: time_flood(command, args.mb, env) for name, command in clients}
        for name, seconds in results.items():
            print(f"  {name:8} {ms(seconds)}")
        nc_time, ours = results.get("nc"), results.get("tcpcli")
        if nc_time and ours:
            print(f"  tcpcli / nc = {ours / nc_time:.2f}x (goal: <= 3x)")
        print(f"keystroke echo under an endless flood ({args.keys} keys, capture-pane polling included):")
        for kind, junk in (("text lines", False), ("random bytes", True)):
            latencies = time_keys(args.keys, env, junk)
            if latencies:
                print(
                    f"  {kind:12} median {ms(statistics.median(latencies))}, max {ms(max(latencies))}"
                    f" (goal: <= 100 ms), {len(latencies)} keys"
                )
        starts = [time_start(env) for _ in range(3)]
        shown = [value for value in starts if value is not None]
        if shown:
            print(f"start-up: connect -> input line on screen: median {ms(statistics.median(shown))}")
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
