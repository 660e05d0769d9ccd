#!/usr/bin/env python3
"""Relay benchmark: tcpcli's relay (`-l P --to H:Q`) beside socat and ncat doing the same forwarding.

    .venv/bin/python bench/bench_relay.py [--size 1G] [--runs 3] [--parts throughput,many,slow] [--quick]

- throughput: one client pushes SIZE bytes through the relay to an upstream sink (a small C program) and waits
  for the relayed FIN back; the time is from the client's connect to the sink's last byte. The tools run in
  turn, run by run, their order rotating each run (paired, interleaved), medians and ratios to socat.
- many: 1,000 concurrent relayed connections, each sending 1 MiB (its own bytes) that an upstream echo server
  (C, epoll, its own process) sends back; every byte is checked. Total CPU (user+sys, the relay's process
  and every child it reaped) and peak memory (the relay's process tree, sampled: RSS and PSS summed).
- slow: a client pushes 300 MiB into an upstream that reads ~40 MiB/s; peak RSS (VmHWM) of the relay.

Loopback only; every wait is bounded. Markdown on stdout, progress on stderr; bench/README.md has the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling modules
from bench_stream import first_match, parse_size, probe, tcpcli_command
from harness import SinkReport, build_c_program, build_c_sink, run_c_sink

HOST = "127.0.0.1"
MiB = 1 << 20
BLOCK = MiB
_FORK = multiprocessing.get_context("fork")
SAMPLE_EVERY = 0.05  # seconds between two samples of a process tree's memory
READY_WAIT = 10.0  # seconds a tool may take to listen
ECHO_STALL = 120.0  # seconds an echoed connection may go without a byte back before it counts as failed

# An upstream that sends every byte back: epoll, non-blocking, 256 KiB per connection, FIN after the echo.
C_ECHO_SOURCE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (256 * 1024)
struct conn { int fd; char *buf; size_t len, off; int eof; unsigned want; };

static void want(int ep, struct conn *c, unsigned events) {
    if (c->want == events) return;
    struct epoll_event e = { .events = events, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->want = events;
}

/* argv: listening fd. Runs until killed. */
int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: echo FD\n"); return 2; }
    int listener = atoi(argv[1]);
    fcntl(listener, F_SETFL, O_NONBLOCK);
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    c = calloc(1, sizeof *c);
                    c->fd = fd; c->buf = malloc(BUF); c->want = EPOLLIN;
                    struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            for (;;) {
                if (c->off < c->len) {
                    ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
                    if (w < 0) { if (errno == EAGAIN) { want(ep, c, EPOLLOUT); break; } goto drop; }
                    c->off += w;
                    continue;
                }
                c->len = c->off = 0;
                if (c->eof) goto drop;  /* everything echoed: close (FIN) */
                ssize_t r = read(c->fd, c->buf, BUF);
                if (r > 0) { c->len = r; continue; }
                if (r == 0) { c->eof = 1; continue; }
                if (errno == EAGAIN) { want(ep, c, EPOLLIN); break; }
                goto drop;
            }
            continue;
        drop:
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd); free(c->buf); free(c);
        }
    }
}
"""


# ---------------------------------------------------------------------------------------------- the tools


@dataclass(frozen=True)
class Relay:
    """One contender: its command line ({port} listens on HOST, {target} is HOST:PORT of the upstream)."""

    name: str
    argv: tuple[str, ...]
    note: str = ""

    def command(self, port: int, target_port: int) -> list[str]:
        target = f"{HOST}:{target_port}"
        return [
            part.replace("{port}", str(port)).replace("{target}", target).replace("{tport}", str(target_port))
            for part in self.argv
        ]


def relays(keep_open: bool) -> dict[str, Relay]:
    """Every contender by name; `keep_open`: many clients (tcpcli -k, socat fork, ncat -k)."""
    tcpcli = [*tcpcli_command()[0], "-l", HOST, "{port}", "--to", "{target}"]
    if keep_open:
        tcpcli.append("-k")
    fork = ",fork" if keep_open else ""
    listen = f"TCP-LISTEN:{{port}},bind={HOST},reuseaddr,backlog=1024{fork}"
    ncat_k = ["-k", "-m", "4000"] if keep_open else []
    return {
        "tcpcli --no-transcript": Relay("tcpcli --no-transcript", (*tcpcli, "--no-transcript")),
        "tcpcli": Relay("tcpcli", tuple(tcpcli), "transcript on stdout, to /dev/null"),
        "socat": Relay("socat", ("socat", listen, f"TCP:{HOST}:{{tport}}")),
        "socat -v": Relay("socat -v", ("socat", "-v", listen, f"TCP:{HOST}:{{tport}}"), "log to /dev/null"),
        "ncat": Relay(
            "ncat", ("ncat", "-l", HOST, "{port}", *ncat_k, "--sh-exec", f"exec ncat {HOST} {{tport}}")
        ),
    }


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind((HOST, 0))
        return int(probe_socket.getsockname()[1])


def listening(port: int) -> bool:
    """True once something listens on HOST:port (read from /proc: a probe connection would be relayed)."""
    wanted = f"0100007F:{port:04X}"
    with contextlib.suppress(OSError), open("/proc/net/tcp") as table:
        return any(f" {wanted} 00000000:0000 0A " in line for line in table)
    return False


class Running:
    """A relay process: started with stdout and stderr to /dev/null, ready once it listens."""

    def __init__(self, relay: Relay, port: int, target_port: int) -> None:
        self.argv = relay.command(port, target_port)
        self.cpu: float | None = None
        # kept for the failure message (closed in stop); the transcript goes to /dev/null
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr
        )
        deadline = time.monotonic() + READY_WAIT
        while not listening(port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stderr.seek(0)
                said = self.stderr.read()[-300:].decode(errors="replace").strip()
                self.stop()
                raise RuntimeError(f"{' '.join(self.argv)} did not listen on {port}: {said}")
            time.sleep(0.005)

    def reap(self, timeout: float) -> bool:
        """Wait at most `timeout` s for the relay to exit; keeps its CPU time (user+sys, with the children
        it reaped: socat's and ncat's forks) and exit status."""
        deadline = time.monotonic() + timeout
        while self.cpu is None:
            try:
                pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            except ChildProcessError:  # Popen.poll reaped it (it died before listening): no usage known
                self.cpu = 0.0
                break
            if pid:
                self.cpu = usage.ru_utime + usage.ru_stime
                self.process.returncode = os.waitstatus_to_exitcode(status)
            elif time.monotonic() > deadline:
                return False
            else:
                time.sleep(0.01)
        return True

    def stop(self, timeout: float = 10.0) -> float:
        """SIGTERM if still running (SIGKILL after `timeout` s), reaped; returns its CPU seconds."""
        if self.cpu is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            if not self.reap(timeout):
                self.process.kill()
                self.reap(timeout)
        self.stderr.close()
        return self.cpu or 0.0


def tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc/*/stat parents)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parent = int(stat[stat.rindex(")") + 2 :].split()[1])
                children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def status_kib(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


@dataclass
class Peaks:
    """Peak memory of a process tree, sampled: summed RSS and PSS, and the top process's own VmHWM."""

    rss_kib: int = 0
    pss_kib: int = 0
    hwm_kib: int = 0
    processes: int = 0


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peaks = Peaks()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_EVERY):
            self.sample()

    def sample(self) -> None:
        pids = tree(self.pid)
        peaks = self.peaks
        peaks.rss_kib = max(peaks.rss_kib, sum(status_kib(pid, "VmRSS") for pid in pids))
        peaks.pss_kib = max(peaks.pss_kib, sum(pss_kib(pid) for pid in pids))
        peaks.hwm_kib = max(peaks.hwm_kib, status_kib(self.pid, "VmHWM"))
        peaks.processes = max(peaks.processes, len(pids))

    def finish(self) -> Peaks:
        self.sample()
        self.done.set()
        self.join(5)
        return self.peaks


# ------------------------------------------------------------------------------------------ the payloads


def payload(kind: str) -> bytes:
    """One 1 MiB block, sent over and over: Redis-like text lines, or random bytes."""
    if kind == "random":
        return random.Random(7).randbytes(BLOCK)
    line = b"*3\r\n$3\r\nSET\r\n$8\r\nkey:0042\r\n$24\r\nvalue-abcdefghijklmnopqr\r\n"
    return (line * (BLOCK // len(line) + 1))[:BLOCK]


def push(port: int, size: int, kind: str, timeout: float, report: Connection) -> None:
    """The client process: connect, send `size` bytes, FIN, wait for the relayed FIN; reports its start."""
    try:
        block = payload(kind)
        start = time.monotonic()
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            left = size
            while left > 0:
                sent = sock.send(block[: min(left, BLOCK)])
                left -= sent
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        report.send((start, ""))
    except OSError as exc:
        report.send((0.0, f"client: {exc}"))


# ------------------------------------------------------------------------------------------- throughput


@dataclass
class Result:
    relay: str
    payload: str
    size: int
    seconds: float = 0.0
    cpu: float = 0.0
    error: str = ""

    @property
    def rate(self) -> float:
        return self.size / self.seconds / MiB if self.seconds else 0.0


def one_throughput_run(relay: Relay, size: int, kind: str, sink: Path) -> Result:
    result = Result(relay.name, kind, size)
    timeout = 30 + size / (256 * 1024)  # at least 256 KiB/s: socat -v makes 1-3 MiB/s on a busy machine
    with socket.create_server((HOST, 0)) as upstream:
        port = free_port()
        running = Running(relay, port, upstream.getsockname()[1])
        reports: list[SinkReport] = []
        sink_thread = threading.Thread(
            target=lambda: reports.append(run_c_sink(sink, upstream.fileno(), timeout)), daemon=True
        )
        sink_thread.start()
        ours, theirs = _FORK.Pipe(duplex=False)
        client = _FORK.Process(target=push, args=(port, size, kind, timeout, theirs))
        client.start()
        got = ours.poll(timeout + 5)
        start, error = ours.recv() if got else (0.0, "client: no report")
        client.join(5)
        sink_thread.join(timeout + 10)
        exited = running.reap(10)
        cpu = running.stop()
    result.cpu = cpu
    sink_report = reports[0] if reports else SinkReport(0, 0.0, 0.0, "no report from the sink")
    if error or sink_report.error:
        result.error = error or sink_report.error
    elif sink_report.nbytes != size:
        result.error = f"upstream got {sink_report.nbytes} bytes, not {size}"
    elif not exited:
        result.error = "the relay did not exit after its one client"
    else:
        result.seconds = sink_report.last - start
    return result


def throughput(
    names: Sequence[str], size: int, slow_size: int, runs: int, kinds: Sequence[str], where: Path
) -> list[Result]:
    sink = build_c_sink(where)
    if sink is None:
        raise SystemExit("bench_relay: a C compiler (cc) is needed for the upstream sink")
    table = relays(keep_open=False)
    results = []
    for run in range(runs):
        for kind in kinds:
            # the data's kind matters to transcripts only: random data goes through those alone
            order = [name for name in names if kind == "text" or name in ("tcpcli", "socat -v")]
            order = order[run % len(order) :] + order[: run % len(order)]  # rotate: spread the noise
            for name in order:
                this_size = slow_size if name == "socat -v" else size
                result = one_throughput_run(table[name], this_size, kind, sink)
                results.append(result)
                print(
                    f"run {run + 1}/{runs} {kind:6} {name:24} {result.rate:9.1f} MiB/s"
                    f" cpu {result.cpu:6.2f} s" + (f"  FAILED: {result.error}" if result.error else ""),
                    file=sys.stderr,
                )
    return results


# ----------------------------------------------------------------------------------------- many clients


async def echo_clients(port: int, clients: int, size: int, stall: float) -> tuple[int, list[str]]:
    """`clients` connections at once, each sending `size` bytes of its own and checking every byte back."""
    base = random.Random(11).randbytes(size + clients)
    loop = asyncio.get_running_loop()
    errors: list[str] = []

    async def one(index: int) -> int:
        expected = base[index : index + size]
        sock = socket.socket()
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), stall)

            # no FIN after sending: ncat -k --sh-exec ends the connection at the client's FIN, before the
            # echo is back; every client closes once it has its bytes back instead
            sender = asyncio.create_task(loop.sock_sendall(sock, expected))
            got = 0
            buffer = bytearray(256 * 1024)
            while got < size:
                try:
                    count = await asyncio.wait_for(loop.sock_recv_into(sock, buffer), stall)
                except TimeoutError:
                    raise TimeoutError(f"no byte back for {stall:g} s") from None
                if not count:
                    break
                if buffer[:count] != expected[got : got + count]:
                    raise ValueError(f"connection {index}: wrong bytes at {got}")
                got += count
            await sender
            if got != size:
                raise ValueError(f"connection {index}: {got} bytes back, not {size}")
            return got
        finally:
            sock.close()

    # a connection fails when nothing comes back for `stall` seconds (ncat -k --sh-exec stalls full-duplex
    # connections): it fails alone, the others still count, and a slow relay is not a stalled one
    outcomes = await asyncio.gather(*(one(index) for index in range(clients)), return_exceptions=True)
    exact = 0
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            errors.append(str(outcome) or type(outcome).__name__)
        else:
            exact += 1
    return exact, errors


@dataclass
class ManyResult:
    relay: str
    clients: int
    exact: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    peaks: Peaks = field(default_factory=Peaks)
    errors: list[str] = field(default_factory=list)


def many_run(relay: Relay, clients: int, size: int, echo: Path, stall: float) -> ManyResult:
    result = ManyResult(relay.name, clients)
    with socket.create_server((HOST, 0), backlog=4096) as upstream:
        echo_process = subprocess.Popen([str(echo), str(upstream.fileno())], pass_fds=(upstream.fileno(),))
        try:
            port = free_port()
            running = Running(relay, port, upstream.getsockname()[1])
            sampler = Sampler(running.process.pid)
            sampler.start()
            start = time.monotonic()
            try:
                result.exact, result.errors = asyncio.run(echo_clients(port, clients, size, stall))
            except OSError as exc:
                result.errors = [str(exc)]
            result.seconds = time.monotonic() - start
            time.sleep(0.5)  # forked relays reap their last children
            result.peaks = sampler.finish()
            result.cpu = running.stop()
        finally:
            echo_process.kill()
            echo_process.wait(10)
    return result


# -------------------------------------------------------------------------------------------- slow upstream


def slow_reader(listener_fd: int, rate: int, timeout: float, report: Connection) -> None:
    """Accept one connection and read it at about `rate` bytes/s until end of stream; reports the count."""
    listener = socket.socket(fileno=listener_fd)
    listener.settimeout(timeout)
    total = 0
    try:
        conn, _ = listener.accept()
        conn.settimeout(timeout)
        start = time.monotonic()
        while chunk := conn.recv(64 * 1024):
            total += len(chunk)
            ahead = total / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        conn.close()
        report.send((total, ""))
    except OSError as exc:
        report.send((total, str(exc)))


def slow_run(relay: Relay, size: int, rate: int) -> tuple[Peaks, str]:
    timeout = 60 + size / rate
    with socket.create_server((HOST, 0)) as upstream:
        ours, theirs = _FORK.Pipe(duplex=False)
        reader = _FORK.Process(target=slow_reader, args=(upstream.fileno(), rate, timeout, theirs))
        reader.start()
        port = free_port()
        running = Running(relay, port, upstream.getsockname()[1])
        sampler = Sampler(running.process.pid)
        sampler.start()
        c_ours, c_theirs = _FORK.Pipe(duplex=False)
        client = _FORK.Process(target=push, args=(port, size, "text", timeout, c_theirs))
        client.start()
        error = c_ours.recv()[1] if c_ours.poll(timeout + 5) else "client: no report"
        got, reader_error = ours.recv() if ours.poll(15) else (0, "reader: no report")
        peaks = sampler.finish()
        running.stop()
        client.join(5)
        reader.join(5)
    if not error and (reader_error or got != size):
        error = reader_error or f"upstream got {got} bytes, not {size}"
    return peaks, error


# ---------------------------------------------------------------------------------------------- report


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def report_throughput(results: list[Result], out: Callable[[str], None]) -> None:
    out("| relay | data | size | runs | median MiB/s | ratio to socat | median CPU s (relay) |")
    out("|---|---|---|---|---|---|---|")
    good = [result for result in results if not result.error]
    socat = median([result.rate for result in good if result.relay == "socat" and result.payload == "text"])
    seen: list[tuple[str, str]] = []
    for result in results:
        if (result.relay, result.payload) not in seen:
            seen.append((result.relay, result.payload))
    for name, kind in seen:
        rows = [result for result in good if result.relay == name and result.payload == kind]
        if not rows:
            continue
        rate = median([row.rate for row in rows])
        ratio = f"{rate / socat:.2f}x" if socat else "-"
        out(
            f"| `{name}` | {kind} | {rows[0].size // MiB} MiB | {len(rows)} | {rate:.1f} | {ratio} |"
            f" {median([row.cpu for row in rows]):.2f} |"
        )
    for result in results:
        if result.error:
            out(f"\nFAILED: {result.relay} ({result.payload}): {result.error}")


def report_many(results: list[ManyResult], out: Callable[[str], None]) -> None:
    out(
        "| relay | clients byte-exact | wall s | CPU s (user+sys, with children) | peak RSS sum MiB |"
        " peak PSS sum MiB | processes |"
    )
    out("|---|---|---|---|---|---|---|")
    for result in results:
        peaks = result.peaks
        out(
            f"| `{result.relay}` | {result.exact}/{result.clients} | {result.seconds:.1f} |"
            f" {result.cpu:.2f} |"
            f" {peaks.rss_kib / 1024:.0f} | {peaks.pss_kib / 1024:.0f} | {peaks.processes} |"
        )
    for result in results:
        for error in sorted(set(result.errors))[:5]:
            out(f"\n{result.relay}: {error} ({result.errors.count(error)}x)")


def main(argv: Sequence[str] | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="tcpcli-bench-") as built:
        return run_parts(argv, Path(built))  # the C helpers are compiled into `built`, removed at the end


def run_parts(argv: Sequence[str] | None, where: Path) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, default=None, help="bytes per throughput run (1G)")
    parser.add_argument("--slow-size", type=parse_size, default=None, help="bytes for socat -v (16M)")
    parser.add_argument("--runs", type=int, default=None, help="throughput runs per relay (3)")
    parser.add_argument("--parts", default="throughput,many,slow")
    parser.add_argument("--relays", default="tcpcli --no-transcript,tcpcli,socat,socat -v,ncat")
    parser.add_argument("--payloads", default="text,random", help="throughput data: text and/or random")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument(
        "--stall", type=float, default=ECHO_STALL, help="seconds without a byte back: a failed connection"
    )
    parser.add_argument("--echo-size", type=parse_size, default=MiB)
    parser.add_argument("--slow-total", type=parse_size, default=300 * MiB)
    parser.add_argument("--quick", action="store_true", help="64M, 1 run, 100 clients, 64M slow")
    args = parser.parse_args(argv)
    size = args.size or (64 * MiB if args.quick else 1 << 30)
    slow_size = args.slow_size or (4 * MiB if args.quick else 16 * MiB)
    runs = args.runs or (1 if args.quick else 3)
    clients = 100 if args.quick and args.clients == 1000 else args.clients
    slow_total = 64 * MiB if args.quick and args.slow_total == 300 * MiB else args.slow_total
    parts = args.parts.split(",")
    names = [name.strip() for name in args.relays.split(",")]
    out = print
    out("# Relay benchmark\n")
    command, how = tcpcli_command()
    out(f"- tcpcli: {how}; {probe([*command, '--version']).strip()}")
    socat = first_match(r"socat version (\S+)", probe(["socat", "-V"]))
    ncat = first_match(r"Version (\S+)", probe(["ncat", "--version"]))
    out(f"- socat {socat}; ncat {ncat}")
    out(f"- {os.cpu_count()} CPUs; loopback; python {sys.version.split()[0]}\n")
    status = 0
    if "throughput" in parts:
        results = throughput(names, size, slow_size, runs, args.payloads.split(","), where)
        out("## (a) One client, bytes through the relay to an upstream sink\n")
        report_throughput(results, out)
        out("")
        status |= any(result.error for result in results)
    if "many" in parts:
        echo = build_c_program("echo", C_ECHO_SOURCE, where)
        if echo is None:
            raise SystemExit("bench_relay: a C compiler (cc) is needed for the echo upstream")
        table = relays(keep_open=True)
        many = []
        for name in [n for n in names if n in ("tcpcli --no-transcript", "tcpcli", "socat", "ncat")]:
            print(f"many: {name} ...", file=sys.stderr)
            many.append(many_run(table[name], clients, args.echo_size, echo, args.stall))
        out(f"## (b) {clients} concurrent connections, each echoing {args.echo_size // MiB} MiB upstream\n")
        report_many(many, out)
        out("")
        status |= any(result.exact != result.clients for result in many)
    if "slow" in parts:
        table = relays(keep_open=False)
        out(f"## (c) A client pushing {slow_total // MiB} MiB into an upstream reading ~40 MiB/s\n")
        out("| relay | peak RSS (VmHWM) MiB | outcome |")
        out("|---|---|---|")
        for name in ("tcpcli --no-transcript", "tcpcli"):
            print(f"slow: {name} ...", file=sys.stderr)
            peaks, error = slow_run(table[name], slow_total, 40 * MiB)
            out(f"| `{name}` | {peaks.hwm_kib / 1024:.1f} | {error or 'all bytes relayed'} |")
            status |= bool(error)
    return 1 if status else 0


if __name__ == "__main__":
    sys.exit(main())
