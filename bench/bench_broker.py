#!/usr/bin/env python3
"""Listen-mode benchmark: tcpcli's chat relay beside `ncat --broker`, and many idle clients held with -k.

    .venv/bin/python bench/bench_broker.py [--clients 1000] [--lines 10] [--idle 10000] [--runs 1]
                                           [--tools tcpcli,ncat] [--skip-idle] [--skip-broadcast]

broadcast: CLIENTS clients connect (the run waits until the server has announced every one on stderr with
-v), then each sends LINES lines of 32 bytes, one line per round, every client's line of a round sent before
the next round. A line must reach every *other* client: each client counts the newlines it receives, and the
run is complete when every client has (CLIENTS - 1) * LINES of them. Time is from the first line sent to the
last line received; peak RSS is the server's VmHWM; CPU is the server's user + system time for the whole run.

idle: IDLE clients connect and stay silent; the run reports how long until the server announced all of them,
and its peak RSS. ncat's broker uses select(), which cannot watch descriptors past FD_SETSIZE (1024), so it
cannot hold 10,000 clients: the report says how many it got to.

Everything is on 127.0.0.1; every wait is bounded (--timeout). The open-file soft limit of this process is
raised to the hard limit (it holds every client socket); tcpcli raises its own. The report is Markdown on
stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
LINE = 32  # bytes per chat line, newline included
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Tool:
    name: str
    argv: Callable[[int, int, str], list[str]]  # (port, max clients, scenario) -> command line
    connected: re.Pattern[str]  # one stderr line per accepted client (with -v)
    listening: re.Pattern[str]


def _tcpcli_argv(port: int, clients: int, scenario: str) -> list[str]:
    relay = ["--broadcast"] if scenario == "broadcast" else []
    return [sys.executable, "-m", "tcpcli", "-l", "-k", "-v", *relay, HOST, str(port)]


def _ncat_argv(port: int, clients: int, scenario: str) -> list[str]:
    # --max-conns: ncat's default is 100. --broker relays every client's data to all the others.
    return ["ncat", "-l", "-k", "-v", "--broker", "--max-conns", str(clients + 10), HOST, str(port)]


TOOLS = {
    "tcpcli": Tool("tcpcli", _tcpcli_argv, re.compile(r"client \S+ connected"), re.compile("listening on")),
    "ncat": Tool("ncat", _ncat_argv, re.compile(r"Connection from \S+:\d+\."), re.compile("Listening on")),
}


@dataclass
class Outcome:
    tool: str
    scenario: str
    clients: int
    ok: bool
    seconds: float | None = None
    delivered: int = 0
    expected: int = 0
    peak_rss_kib: int = 0
    cpu_seconds: float = 0.0
    note: str = ""


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """The server under test; a thread counts its `connected` lines so its stderr never fills up."""

    def __init__(self, tool: Tool, clients: int, scenario: str) -> None:
        self.tool = tool
        self.port = free_port()
        self.connected = 0
        self.listening = threading.Event()
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            tool.argv(self.port, clients, scenario),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=REPO,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            if self.tool.listening.search(line):
                self.listening.set()
            elif self.tool.connected.search(line):
                with self._changed:
                    self.connected += 1
                    self._changed.notify_all()

    def wait_connected(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.connected < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.proc.poll() is not None:
                    return False
                self._changed.wait(min(remaining, 0.5))
        return True

    def peak_rss_kib(self) -> int:
        with contextlib.suppress(OSError), open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        with contextlib.suppress(OSError), open(f"/proc/{self.proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def connect_clients(port: int, count: int, deadline: float) -> list[socket.socket]:
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((HOST, port), timeout=max(0.1, deadline - time.monotonic()))
            sock.setblocking(False)
            socks.append(sock)
    except OSError:
        close_all(socks)
        raise
    return socks


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.close()


class ChatClients:
    """All the chat clients in this one process: non-blocking sends, an epoll loop counting newlines."""

    def __init__(self, socks: list[socket.socket]) -> None:
        self.socks = socks
        self.lines = [0] * len(socks)
        self._unsent: dict[int, bytes] = {}
        self._selector = selectors.DefaultSelector()
        for index, sock in enumerate(socks):
            self._selector.register(sock, selectors.EVENT_READ, index)

    def send(self, index: int, data: bytes) -> None:
        data = self._unsent.pop(index, b"") + data
        try:
            sent = self.socks[index].send(data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self._unsent[index] = data[sent:]

    def retry_unsent(self) -> None:
        for index in list(self._unsent):
            self.send(index, b"")

    def read_ready(self, timeout: float) -> None:
        for key, _mask in self._selector.select(timeout):
            try:
                chunk = key.fileobj.recv(1 << 18)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno == errno.ECONNRESET:
                    self._selector.unregister(key.fileobj)
                    continue
                raise
            if not chunk:
                self._selector.unregister(key.fileobj)
                continue
            self.lines[key.data] += chunk.count(b"\n")

    def close(self) -> None:
        self._selector.close()
        close_all(self.socks)


def chat_line(client: int, round_: int) -> bytes:
    text = f"client {client:05d} line {round_:03d} "
    return text.ljust(LINE - 1, ".").encode() + b"\n"


def run_broadcast(tool: Tool, clients: int, lines: int, timeout: float) -> Outcome:
    outcome = Outcome(tool.name, "broadcast", clients, ok=False, expected=clients * (clients - 1) * lines)
    server = ServerProcess(tool, clients, "broadcast")
    chat: ChatClients | None = None
    try:
        deadline = time.monotonic() + timeout
        if not server.listening.wait(10):
            outcome.note = "server did not start"
            return outcome
        socks = connect_clients(server.port, clients, deadline)
        chat = ChatClients(socks)
        if not server.wait_connected(clients, deadline - time.monotonic()):
            outcome.note = f"server announced {server.connected} of {clients} clients"
            return outcome
        target = (clients - 1) * lines
        started = time.perf_counter()
        for round_ in range(lines):
            for index in range(clients):
                chat.send(index, chat_line(index, round_))
                if index % 64 == 63:
                    chat.read_ready(0)  # keep reading while sending: a blocking relay waits on us
            chat.read_ready(0)
        while min(chat.lines) < target and time.monotonic() < deadline:
            chat.retry_unsent()
            chat.read_ready(0.2)
        elapsed = time.perf_counter() - started
        outcome.delivered = sum(chat.lines)
        outcome.ok = all(count == target for count in chat.lines)
        outcome.seconds = elapsed if outcome.ok else None
        if not outcome.ok:
            short = sum(1 for count in chat.lines if count < target)
            outcome.note = f"{short} clients short of {target} lines after {timeout:g} s"
        return outcome
    finally:
        outcome.peak_rss_kib = server.peak_rss_kib()
        outcome.cpu_seconds = server.cpu_seconds()
        if chat is not None:
            chat.close()
        server.stop()


def run_idle(tool: Tool, clients: int, timeout: float) -> Outcome:
    outcome = Outcome(tool.name, "idle", clients, ok=False, expected=clients)
    server = ServerProcess(tool, clients, "idle")
    socks: list[socket.socket] = []
    try:
        deadline = time.monotonic() + timeout
        if not server.listening.wait(10):
            outcome.note = "server did not start"
            return outcome
        started = time.perf_counter()
        try:
            for _ in range(clients):
                socks.append(socket.create_connection((HOST, server.port), timeout=5))
        except OSError as exc:
            outcome.note = f"connect {len(socks) + 1} failed: {exc}"
        held = server.wait_connected(len(socks), max(0.1, deadline - time.monotonic()))
        outcome.delivered = server.connected
        outcome.seconds = time.perf_counter() - started
        outcome.ok = held and len(socks) == clients and server.proc.poll() is None
        if server.proc.poll() is not None:
            outcome.note = (
                outcome.note + "; " if outcome.note else ""
            ) + f"server exited ({server.proc.returncode})"
        elif not outcome.ok and not outcome.note:
            outcome.note = f"server announced {server.connected} of {clients}"
        return outcome
    finally:
        outcome.peak_rss_kib = server.peak_rss_kib()
        outcome.cpu_seconds = server.cpu_seconds()
        close_all(socks)
        server.stop()


def run_scenario(tool: Tool, scenario: str, args: argparse.Namespace) -> Outcome:
    if scenario == "broadcast":
        return run_broadcast(tool, args.clients, args.lines, args.timeout)
    return run_idle(tool, args.idle, args.timeout)


def report(results: list[Outcome], args: argparse.Namespace, fd_limit: int) -> str:
    out = ["# Listen-mode benchmark", ""]
    out.append(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, open-file limit {fd_limit}, "
        f"{args.runs} run(s) per tool (median time, highest RSS)."
    )
    for scenario, title in (("broadcast", "Chat relay"), ("idle", "Idle clients held")):
        rows = [r for r in results if r.scenario == scenario]
        if not rows:
            continue
        out += ["", f"## {title}", ""]
        if scenario == "broadcast":
            out.append(
                f"{args.clients} clients x {args.lines} lines of {LINE} bytes, each to every other client."
            )
            head = "| tool | ok | time s | lines delivered / expected | server CPU s | peak RSS MiB | note |"
        else:
            out.append(f"{args.idle} silent clients.")
            head = "| tool | ok | time to hold all s | clients held | server CPU s | peak RSS MiB | note |"
        out += ["", head, "|---|---|---|---|---|---|---|"]
        for name in args.tools:
            mine = [r for r in rows if r.tool == name]
            if not mine:
                continue
            times = [r.seconds for r in mine if r.ok and r.seconds is not None]
            seconds = f"{statistics.median(times):.2f}" if times else "-"
            delivered = max(r.delivered for r in mine)
            counts = f"{delivered:,} / {mine[0].expected:,}"
            measured = [r for r in mine if r.peak_rss_kib]  # 0: the server was gone before it was read
            cpu = f"{statistics.median(r.cpu_seconds for r in measured):.2f}" if measured else "-"
            rss = f"{max(r.peak_rss_kib for r in measured) / 1024:.1f}" if measured else "-"
            notes = next((r.note for r in reversed(mine) if r.note), "")  # the last run's, as an example
            ok = f"{sum(r.ok for r in mine)}/{len(mine)}"
            out.append(f"| {name} | {ok} | {seconds} | {counts} | {cpu} | {rss} | {notes} |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--tools", default="tcpcli,ncat")
    parser.add_argument("--timeout", type=float, default=120.0, help="bound of each run in seconds")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--skip-broadcast", action="store_true")
    args = parser.parse_args()
    args.tools = [name for name in args.tools.split(",") if name]
    for name in args.tools:
        if name not in TOOLS:
            parser.error(f"unknown tool {name} (known: {', '.join(TOOLS)})")
        if name != "tcpcli" and shutil.which(name) is None:
            parser.error(f"{name} is not installed")
    fd_limit = raise_fd_limit()
    if fd_limit < max(args.clients, args.idle) + 64:
        parser.error(f"open-file limit {fd_limit} is too low for {max(args.clients, args.idle)} clients")
    results: list[Outcome] = []
    skips = (("broadcast", args.skip_broadcast), ("idle", args.skip_idle))
    wanted = [scenario for scenario, skipped in skips if not skipped]
    for run in range(args.runs):
        order = args.tools[run % len(args.tools) :] + args.tools[: run % len(args.tools)]
        for name in order:
            for scenario in wanted:
                outcome = run_scenario(TOOLS[name], scenario, args)
                print(
                    f"run {run + 1} {outcome.tool} {outcome.scenario}: ok={outcome.ok} "
                    f"time={outcome.seconds} delivered={outcome.delivered:,} "
                    f"rss={outcome.peak_rss_kib / 1024:.1f} MiB {outcome.note}",
                    file=sys.stderr,
                )
                results.append(outcome)
    sys.stdout.write(report(results, args, fd_limit))
    return 0 if all(r.ok for r in results if r.tool == "tcpcli") else 1


if __name__ == "__main__":
    sys.exit(main())
