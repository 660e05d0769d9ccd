#!/usr/bin/env python3
"""Unix sockets and proxies: stream throughput over a Unix socket (tcpcli vs socat), and what --proxy adds to
the start of a one-shot exchange (through microsocks vs direct).

    .venv/bin/python bench/bench_unix.py [--size 1G] [--runs 5] [--oneshots 20] [--quick]

Throughput: `socat UNIX-LISTEN` is the far end in both directions (a 1 MiB-buffer sink to /dev/null, or a
1 MiB-buffer source of a SIZE file); the client is tcpcli (`-U PATH`) or socat (`UNIX-CONNECT:PATH`), fed by
`head -c SIZE /dev/zero` or read by `dd bs=1M of=/dev/null`. Runs are paired and interleaved (the order flips
every run), reported as medians and the ratio tcpcli/socat of throughput. Start-up: `printf 'hi\\n' | tcpcli
127.0.0.1 PORT` against a one-line reply server, with and without `--proxy socks5://` through microsocks,
interleaved; the medians and their difference. Markdown on stdout, progress on stderr.
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
from pathlib import Path

MiB = 1 << 20
RUN_TIMEOUT = 300.0


def tcpcli_command() -> list[str]:
    script = Path(sys.executable).parent / "tcpcli"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "tcpcli"]


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1].upper() in units else int(text)


def wait_for_socket(path: Path, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while not path.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"socat did not bind {path}")
        time.sleep(0.005)


def upload(client: str, path: Path, size: int) -> float:
    """head -c SIZE /dev/zero | CLIENT -> socat sink: seconds until both ends are done."""
    server = subprocess.Popen(["socat", "-u", "-b", str(MiB), f"UNIX-LISTEN:{path}", "OPEN:/dev/null"])
    wait_for_socket(path, server)
    argv = (
        [*tcpcli_command(), "-U", str(path)]
        if client == "tcpcli"
        else ["socat", "-u", "-", f"UNIX-CONNECT:{path}"]
    )
    started = time.perf_counter()
    head = subprocess.Popen(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE)
    tool = subprocess.Popen(argv, stdin=head.stdout, stdout=subprocess.DEVNULL)
    assert head.stdout is not None
    head.stdout.close()
    codes = (tool.wait(RUN_TIMEOUT), server.wait(RUN_TIMEOUT), head.wait(RUN_TIMEOUT))
    elapsed = time.perf_counter() - started
    if any(codes):
        raise RuntimeError(f"upload with {client}: exit statuses {codes}")
    return elapsed


def download(client: str, path: Path, payload: Path, size: int) -> float:
    """socat source of a SIZE file -> CLIENT -> dd of=/dev/null: seconds, and the byte count is checked."""
    server = subprocess.Popen(["socat", "-u", "-b", str(MiB), f"OPEN:{payload}", f"UNIX-LISTEN:{path}"])
    wait_for_socket(path, server)
    argv = (
        [*tcpcli_command(), "-U", str(path)]
        if client == "tcpcli"
        else ["socat", "-u", f"UNIX-CONNECT:{path}", "-"]
    )
    started = time.perf_counter()
    tool = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert tool.stdout is not None
    reader = subprocess.run(
        ["dd", f"bs={MiB}", "of=/dev/null", "iflag=fullblock"],
        stdin=tool.stdout,
        capture_output=True,
        timeout=RUN_TIMEOUT,
    )
    tool.stdout.close()
    codes = (tool.wait(RUN_TIMEOUT), server.wait(RUN_TIMEOUT), reader.returncode)
    elapsed = time.perf_counter() - started
    if any(codes) or f"{size} bytes".encode() not in reader.stderr:
        raise RuntimeError(f"download with {client}: exit statuses {codes}, dd said {reader.stderr!r}")
    return elapsed


def throughput(size: int, runs: int, workdir: Path) -> list[str]:
    payload = workdir / "payload"
    with open(payload, "wb") as handle:
        handle.truncate(size)  # a sparse file: the source reads zeros from the page cache
    rows = ["| direction | tcpcli median | socat median | tcpcli / socat (throughput) |", "|---|---|---|---|"]
    for name, job in (("stdin pipe -> unix socket", upload), ("unix socket -> stdout pipe", download)):
        times: dict[str, list[float]] = {"tcpcli": [], "socat": []}
        for run in range(runs):
            order = ("tcpcli", "socat") if run % 2 == 0 else ("socat", "tcpcli")
            for client in order:
                path = workdir / f"bench-{run}-{client}.sock"
                seconds = job(client, path, payload, size) if job is download else job(client, path, size)  # type: ignore[call-arg, arg-type]
                times[client].append(seconds)
                print(f"{name}: {client} run {run + 1}: {size / seconds / MiB:,.0f} MiB/s", file=sys.stderr)
        tcpcli, socat = statistics.median(times["tcpcli"]), statistics.median(times["socat"])
        shown = f"{size / tcpcli / MiB:,.0f} MiB/s | {size / socat / MiB:,.0f} MiB/s"
        rows.append(f"| {name} | {shown} | {socat / tcpcli:.2f} |")
    return rows


def reply_server() -> tuple[socket.socket, int]:
    """Answers each client's first line with `hi\\n` and closes (a thread per client)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\n" not in data and (chunk := conn.recv(4096)):
                data += chunk
            conn.sendall(b"hi\n")

    threading.Thread(target=serve, daemon=True).start()
    return listener, int(listener.getsockname()[1])


def oneshot(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, input=b"hi\n", capture_output=True, timeout=30)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or done.stdout != b"hi\n":
        raise RuntimeError(f"{argv}: exit {done.returncode}, stdout {done.stdout!r}, stderr {done.stderr!r}")
    return elapsed


def proxy_startup(runs: int) -> list[str]:
    if shutil.which("microsocks") is None:
        return ["(microsocks is not installed: the start-up comparison is skipped)"]
    listener, port = reply_server()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        proxy_port = free.getsockname()[1]
    proxy = subprocess.Popen(
        ["microsocks", "-i", "127.0.0.1", "-p", str(proxy_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # a line per client
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", proxy_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        # --no-half-close -q: microsocks closes both ways on the client's FIN, which would lose the reply
        direct = [*tcpcli_command(), "--no-half-close", "-q", "5", "127.0.0.1", str(port)]
        proxied = [*direct[:-2], "--proxy", f"socks5://127.0.0.1:{proxy_port}", "127.0.0.1", str(port)]
        times: dict[str, list[float]] = {"direct": [], "proxied": []}
        for run in range(runs):
            for name in ("direct", "proxied") if run % 2 == 0 else ("proxied", "direct"):
                times[name].append(oneshot(direct if name == "direct" else proxied))
        print(f"one-shots: {runs} each done", file=sys.stderr)
    finally:
        proxy.terminate()
        proxy.wait(10)
        listener.close()
    d, p = statistics.median(times["direct"]), statistics.median(times["proxied"])
    return [
        "| one-shot `printf 'hi\\n' \\| tcpcli --no-half-close -q 5 ...` | median | |",
        "|---|---|---|",
        f"| direct | {d * 1000:.1f} ms | |",
        f"| `--proxy socks5://` (microsocks) | {p * 1000:.1f} ms | +{(p - d) * 1000:.1f} ms |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--oneshots", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="64 MiB, 2 runs, 6 one-shots")
    args = parser.parse_args()
    size, runs, oneshots = parse_size(args.size), args.runs, args.oneshots
    if args.quick:
        size, runs, oneshots = 64 * MiB, 2, 6
    if shutil.which("socat") is None:
        print("socat is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="tcpcli-bench-unix-") as workdir:
        rows = throughput(size, runs, Path(workdir))
    print(f"## Unix socket stream, {size // MiB} MiB, {runs} paired runs (medians)\n")
    print("\n".join(rows))
    print(f"\n## --proxy start-up, {oneshots} interleaved one-shots each (medians)\n")
    print("\n".join(proxy_startup(oneshots)))
    print(
        f"\n{os.uname().sysname} {os.uname().release}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
