#!/usr/bin/env python3
"""Stream-mode benchmark: the same work through tcpcli, socat, nc and ncat, as medians and ratios to socat.

    .venv/bin/python bench/bench_stream.py [--size 1G] [--runs 5] [--tools tcpcli,socat,nc,ncat] [--quick]

Every tool runs the same job in turn, run by run (the tool order rotates each run), against helper servers
and readers that live in their own processes and move 1 MiB blocks, so they never set the pace. The report
is Markdown on stdout (progress goes to stderr); bench/README.md explains each row.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling modules
from harness import build_c_sink, run_c_sink

HOST = "127.0.0.1"
MiB = 1 << 20
GiB = 1 << 30
BLOCK = MiB  # read size of the helpers, and the unit of the payload file
REQUEST = b"hi\n"  # the one-shot request, sent by the tool from its stdin
REPLY = b"hi\n"  # the one-shot reply, expected on the tool's stdout
REPORT_GRACE = 5.0  # seconds a helper may take to report once the tool has exited
SAMPLE_EVERY = 0.01  # seconds between two reads of the tool's VmHWM
BASELINE = "socat"
JOBS = ("send", "recv", "oneshot")  # a tool's command lines, as named in Tool
REPO = Path(__file__).resolve().parent.parent

_FORK = multiprocessing.get_context("fork")


# ---------------------------------------------------------------------------------------------- the tools


@dataclass(frozen=True)
class Tool:
    """One contender: its command line for each job ({host} and {port} are filled in per run)."""

    name: str
    send: tuple[str, ...]  # stdin (pipe or file) -> socket, must exit by itself at stdin EOF
    recv: tuple[str, ...]  # socket -> stdout, stdin is /dev/null, must exit when the server closes
    oneshot: tuple[str, ...]  # a request from stdin, the reply to stdout
    version: str

    def argv(self, job: str, port: int | str) -> list[str]:
        template: tuple[str, ...] = getattr(self, job)
        return [part.replace("{host}", HOST).replace("{port}", str(port)) for part in template]


def tcpcli_command() -> tuple[list[str], str]:
    """The tcpcli of the Python environment running this script, and how it was found."""
    script = Path(sys.executable).parent / "tcpcli"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], f"console script `{script}` (next to sys.executable)"
    return [sys.executable, "-m", "tcpcli"], f"`{sys.executable} -m tcpcli` (no console script found)"


def probe(argv: Sequence[str]) -> str:
    """stdout and stderr of a short command (version probes), or '' if it cannot run."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


def first_match(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    return found.group(1).strip() if found else "unknown version"


def discover_tools(wanted: Sequence[str], before: str | None = None) -> tuple[list[Tool], list[str]]:
    """The wanted tools that are installed, and a note for each one that is skipped.

    `before`: another tcpcli command (an install of the code before a change), run as the extra tool
    `tcpcli-before` interleaved with the others, so a before/after comparison shares the machine's noise.
    """
    tools: list[Tool] = []
    notes: list[str] = []
    for name in wanted:
        tool_or_note = make_tool(name)
        if isinstance(tool_or_note, Tool):
            tools.append(tool_or_note)
        else:
            notes.append(tool_or_note)
    if before is not None:
        tool_or_note = tcpcli_tool("tcpcli-before", [before])
        if isinstance(tool_or_note, Tool):
            tools.append(tool_or_note)
        else:
            notes.append(tool_or_note)
    return tools, notes


def tcpcli_tool(name: str, command: list[str]) -> Tool | str:
    version = probe([*command, "--version"]).strip()
    if not version.startswith("tcpcli"):
        return f"{name} skipped: `{' '.join(command)} --version` failed: {version[:200]!r}"
    every = (*command, "{host}", "{port}")
    return Tool(name, every, every, every, version.removeprefix("tcpcli").strip())


def make_tool(name: str) -> Tool | str:
    """A Tool, or why it is skipped."""
    target = ("{host}", "{port}")
    if name == "tcpcli":
        command, _how = tcpcli_command()
        return tcpcli_tool(name, command)
    binary = {"socat": "socat", "socat-b256k": "socat", "nc": "nc", "ncat": "ncat"}.get(name)
    if binary is None:
        return f"{name} skipped: unknown tool (known: tcpcli, socat, socat-b256k, nc, ncat)"
    if shutil.which(binary) is None:
        return f"{name} skipped: `{binary}` is not installed"
    if binary == "socat":
        socat = ("socat", "-b", "262144") if name == "socat-b256k" else ("socat",)
        tcp = "TCP:{host}:{port}"
        version = first_match(r"socat version (\S+)", probe(["socat", "-V"]))
        return Tool(name, (*socat, "-u", "-", tcp), (*socat, "-u", tcp, "-"), (*socat, "-", tcp), version)
    if binary == "nc":
        version = first_match(r"(?m)^(.*netcat.*)$", probe(["nc", "-h"]))
        return Tool(name, ("nc", "-N", *target), ("nc", "-d", *target), ("nc", "-N", *target), version)
    version = first_match(r"Version (\S+)", probe(["ncat", "--version"]))
    return Tool(
        name,
        ("ncat", "--send-only", *target),
        ("ncat", "--recv-only", *target),
        ("ncat", *target),
        version,
    )


# ------------------------------------------------------------------------------- helper processes


@dataclass
class Count:
    """What a helper saw: bytes, first byte and end-of-stream times (CLOCK_MONOTONIC), or an error."""

    nbytes: int = 0
    first: float = 0.0
    last: float = 0.0
    data: bytes = b""  # the one-shot server keeps the request it read
    error: str = ""

    @property
    def seconds(self) -> float:
        return self.last - self.first


def bound(sock: socket.socket, timeout: float) -> None:
    """Keep the socket blocking (so os.sendfile works) but make every call give up after `timeout`."""
    limit = struct.pack("ll", int(timeout), int(timeout % 1 * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)


def accept_one(listener: socket.socket, timeout: float) -> socket.socket:
    listener.settimeout(timeout)
    try:
        conn, _ = listener.accept()
    except TimeoutError as exc:
        raise TimeoutError(f"no client connected within {timeout:g} s") from exc
    listener.close()
    conn.setblocking(True)
    bound(conn, timeout)
    return conn


def read_all(conn: socket.socket) -> Count:
    """Count bytes until end of stream, 1 MiB at a time."""
    count = Count()
    buffer = bytearray(BLOCK)
    while received := conn.recv_into(buffer):
        if not count.nbytes:
            count.first = time.monotonic()
        count.nbytes += received
    count.last = time.monotonic()
    return count


def sink_server(listener: socket.socket, timeout: float, program: Path | None = None) -> Count:
    """Read everything the client sends, then close (the client sees our FIN once its own is in).

    `program`: the C sink of harness.py does the reading instead (`--sink c`).
    """
    if program is not None:
        report = run_c_sink(program, listener.fileno(), timeout)
        return Count(report.nbytes, report.first, report.last, error=report.error)
    with accept_one(listener, timeout) as conn:
        return read_all(conn)


def source_server(listener: socket.socket, payload: Path, timeout: float) -> Count:
    """Send the payload file with os.sendfile, send FIN, wait for the client to close."""
    with accept_one(listener, timeout) as conn, payload.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        count = Count(first=time.monotonic())
        while count.nbytes < size:
            sent = os.sendfile(conn.fileno(), file.fileno(), count.nbytes, size - count.nbytes)
            if not sent:
                break
            count.nbytes += sent
        count.last = time.monotonic()
        conn.shutdown(socket.SHUT_WR)
        read_all(conn)  # the client's FIN (or its exit) ends the exchange; closing earlier could reset it
        return count


def reply_server(listener: socket.socket, timeout: float) -> Count:
    """Read one line, answer it, close."""
    with accept_one(listener, timeout) as conn:
        request = b""
        while not request.endswith(b"\n") and (chunk := conn.recv(4096)):
            request += chunk
        conn.sendall(REPLY)
        conn.shutdown(socket.SHUT_WR)
        return Count(nbytes=len(request), data=request)


def pipe_reader(read_fd: int, write_fd: int) -> Count:
    """The fast consumer of the tool's stdout: readv into 1 MiB until EOF, counting bytes."""
    os.close(write_fd)  # our copy of the write end would keep the pipe from ever reaching EOF
    count = Count()
    buffer = bytearray(BLOCK)
    while received := os.readv(read_fd, [buffer]):
        if not count.nbytes:
            count.first = time.monotonic()
        count.nbytes += received
    count.last = time.monotonic()
    return count


def _helper_main(report: Connection, body: Callable[[], Count]) -> None:
    try:
        result = body()
    except Exception as exc:  # reported to the parent, which turns it into a failed run
        result = Count(error=f"{type(exc).__name__}: {exc}")
    report.send(result)


class Helper:
    """A forked process that runs one body (a server or a reader) and reports its Count."""

    def __init__(self, body: Callable[[], Count]) -> None:
        self._reports, writer = _FORK.Pipe(duplex=False)
        self._process = _FORK.Process(target=_helper_main, args=(writer, body), daemon=True)
        self._process.start()
        writer.close()

    def result(self, timeout: float = REPORT_GRACE) -> Count:
        try:
            if not self._reports.poll(timeout):
                return Count(error=f"helper gave no report within {timeout:g} s")
            report = self._reports.recv()
            return report if isinstance(report, Count) else Count(error=f"bad report {report!r}")
        except EOFError:
            return Count(error="helper died without a report")
        finally:
            self.stop()

    def stop(self) -> None:
        self._process.join(1.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._reports.close()


def start_server(body: Callable[[socket.socket], Count]) -> tuple[Helper, int]:
    """A one-connection server on a free loopback port, in its own process."""
    listener = socket.create_server((HOST, 0))
    port: int = listener.getsockname()[1]
    helper = Helper(partial(body, listener))
    listener.close()
    return helper, port


# ------------------------------------------------------------------------------- running one tool


@dataclass
class Exit:
    """How one tool process ended, from wait4 and /proc."""

    code: int  # exit status, or minus the signal number
    timed_out: bool
    wall: float  # seconds from spawn to exit
    cpu: float  # user + system seconds of the tool process (all its threads)
    peak_rss_kib: int
    stderr: str


def spawn(argv: Sequence[str], stdin: int, stdout: int, stderr: int) -> int:
    actions = [
        (os.POSIX_SPAWN_DUP2, stdin, 0),
        (os.POSIX_SPAWN_DUP2, stdout, 1),
        (os.POSIX_SPAWN_DUP2, stderr, 2),
    ]
    return os.posix_spawnp(argv[0], list(argv), os.environ, file_actions=actions)


def vm_hwm_kib(pid: int) -> int:
    """The process's own resident-memory high-water mark (0 once it has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else 0


def peak_rss_kib(ru_maxrss: int, sampled: int) -> int:
    """ru_maxrss of a child spawned from this process also counts the memory image it replaced at exec,
    which is ours: trust it only when it is above our own peak, otherwise use the sampled VmHWM."""
    ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(ru_maxrss, sampled) if ru_maxrss > ours else sampled


def wait_for(pid: int, started: float, timeout: float) -> tuple[float, bool, int]:
    """Wait until the process exits (killing it at the deadline): exit time, timed out, sampled VmHWM."""
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    sampled, timed_out = 0, False
    try:
        while not poller.poll(SAMPLE_EVERY * 1000):
            sampled = max(sampled, vm_hwm_kib(pid))
            if not timed_out and time.monotonic() - started > timeout:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                timed_out = True
        return time.monotonic(), timed_out, sampled
    finally:
        os.close(pidfd)


def run_tool(argv: Sequence[str], stdin: int, stdout: int, timeout: float, close: Iterable[int] = ()) -> Exit:
    """Run one tool to its end; `close` are this process's copies of the tool's pipe ends."""
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        pid = spawn(argv, stdin, stdout, errors.fileno())
        for fd in close:
            os.close(fd)
        ended, timed_out, sampled = wait_for(pid, started, timeout)
        _, status, usage = os.wait4(pid, 0)
        errors.seek(0)
        stderr = errors.read(4000).decode(errors="replace")
    return Exit(
        code=os.waitstatus_to_exitcode(status),
        timed_out=timed_out,
        wall=ended - started,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_kib=peak_rss_kib(usage.ru_maxrss, sampled),
        stderr=stderr,
    )


def finish_process(pid: int, timeout: float) -> None:
    """Reap a side process (the stdin generator), killing it if it outlives `timeout`."""
    wait_for(pid, time.monotonic(), timeout)
    os.waitpid(pid, 0)


# ------------------------------------------------------------------------------------ the jobs


@dataclass
class Sample:
    """One run of one tool in one scenario."""

    scenario: str
    tool: str
    run: int
    command: str
    exit_code: int
    wall: float
    cpu: float
    peak_rss_kib: int
    nbytes: int
    transfer: float  # first byte to end of stream, seen at the far end
    problem: str  # empty when the run was right

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class Job:
    """What one run needs: the tool, the payload size and file, the run number, a time limit."""

    tool: Tool
    size: int
    payload: Path
    run: int
    timeout: float
    sink: Path | None = None  # the C sink program (`--sink c`), or None for the Python sink


def problem_of(exit: Exit, count: Count, expected: int) -> str:
    """Everything wrong with a run, or '' when it is right."""
    problems = []
    if exit.timed_out:
        problems.append("timed out (killed)")
    elif exit.code != 0:
        last = exit.stderr.strip().splitlines()[-1:] or ["(nothing on stderr)"]
        problems.append(f"exit status {exit.code}: {last[0]}")
    if count.error:
        problems.append(f"helper: {count.error}")
    elif count.nbytes != expected:
        problems.append(f"{count.nbytes} bytes arrived, expected {expected}")
    return "; ".join(problems)


def sample(scenario: str, job: Job, argv: Sequence[str], exit: Exit, count: Count, problem: str) -> Sample:
    return Sample(
        scenario=scenario,
        tool=job.tool.name,
        run=job.run,
        command=" ".join(argv),
        exit_code=exit.code,
        wall=exit.wall,
        cpu=exit.cpu,
        peak_rss_kib=exit.peak_rss_kib,
        nbytes=count.nbytes,
        transfer=count.seconds,
        problem=problem,
    )


def stdin_pipe_to_socket(job: Job) -> Sample:
    """`head -c SIZE /dev/zero | TOOL host port` into the sink server."""
    server, port = start_server(partial(sink_server, timeout=job.timeout, program=job.sink))
    argv = job.tool.argv("send", port)
    read_end, write_end = os.pipe()
    with open(os.devnull, "r+b") as devnull:
        generator = spawn(["head", "-c", str(job.size), "/dev/zero"], devnull.fileno(), write_end, 2)
        exit = run_tool(argv, read_end, devnull.fileno(), job.timeout, close=(read_end, write_end))
    finish_process(generator, REPORT_GRACE)
    count = server.result()
    shown = ["head", "-c", str(job.size), "/dev/zero", "|", *argv]
    return sample("stdin-pipe", job, shown, exit, count, problem_of(exit, count, job.size))


def file_to_socket(job: Job) -> Sample:
    """`TOOL host port < FILE` into the sink server."""
    server, port = start_server(partial(sink_server, timeout=job.timeout, program=job.sink))
    argv = job.tool.argv("send", port)
    with job.payload.open("rb") as file, open(os.devnull, "wb") as devnull:
        exit = run_tool(argv, file.fileno(), devnull.fileno(), job.timeout)
    count = server.result()
    return sample("file", job, [*argv, "<", str(job.payload)], exit, count, problem_of(exit, count, job.size))


def socket_to_stdout_pipe(job: Job) -> Sample:
    """`TOOL host port < /dev/null | reader` from the source server."""
    server, port = start_server(partial(source_server, payload=job.payload, timeout=job.timeout))
    argv = job.tool.argv("recv", port)
    read_end, write_end = os.pipe()
    reader = Helper(partial(pipe_reader, read_end, write_end))
    with open(os.devnull, "rb") as devnull:
        exit = run_tool(argv, devnull.fileno(), write_end, job.timeout, close=(read_end, write_end))
    count = reader.result()
    sent = server.result()
    problem = problem_of(exit, count, job.size)
    if not problem and (sent.error or sent.nbytes != job.size):
        problem = f"source server: {sent.error or f'sent {sent.nbytes} bytes'}"
    shown = [*argv, "<", "/dev/null", "|", "reader"]
    return sample("socket-stdout", job, shown, exit, count, problem)


def oneshot(job: Job) -> Sample:
    """`printf 'hi\\n' | TOOL host port` against a server that replies and closes."""
    server, port = start_server(partial(reply_server, timeout=job.timeout))
    argv = job.tool.argv("oneshot", port)
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    os.write(in_write, REQUEST)
    os.close(in_write)
    exit = run_tool(argv, in_read, out_write, job.timeout, close=(in_read, out_write))
    with open(out_read, "rb") as out:
        reply = out.read()
    request = server.result()
    problem = problem_of(exit, Count(nbytes=len(reply)), len(REPLY))
    if not problem and reply != REPLY:
        problem = f"stdout was {reply!r}, expected {REPLY!r}"
    if not problem and (request.error or request.data != REQUEST):
        problem = f"server: {request.error or f'request was {request.data!r}'}"
    shown = ["printf", "'hi\\n'", "|", *argv]
    return sample("oneshot", job, shown, exit, Count(nbytes=len(reply)), problem)


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    target: str  # the tcpcli target from the issues, as shown in the report
    target_ratio: float  # tcpcli transfer rate / socat's must be at least this
    run: Callable[[Job], Sample]


THROUGHPUT = (
    Scenario("stdin-pipe", "stdin pipe -> socket", ">= 1.7x socat", 1.7, stdin_pipe_to_socket),
    Scenario("socket-stdout", "socket -> stdout pipe", ">= 4x socat", 4.0, socket_to_stdout_pipe),
    Scenario("file", "regular file -> socket", ">= 2x socat", 2.0, file_to_socket),
)
ONESHOT = Scenario("oneshot", "one-shot `printf 'hi\\n' | tool`", "<= ncat (aim 40 ms)", 0.0, oneshot)
RSS_TARGET_MIB = 25


def rotated(tools: Sequence[Tool], run: int) -> list[Tool]:
    """The tool order for one run: rotated each run, so that no tool always goes first."""
    shift = run % len(tools)
    return [*tools[shift:], *tools[:shift]]


def run_scenario(
    scenario: Scenario, tools: Sequence[Tool], runs: int, size: int, payload: Path, sink: Path | None = None
) -> list[Sample]:
    timeout = 30 + size / (20 * MiB)
    samples: list[Sample] = []
    for run in range(runs):
        for tool in rotated(tools, run):
            result = scenario.run(Job(tool, size, payload, run, timeout, sink))
            samples.append(result)
            progress(result)
    return samples


def progress(result: Sample) -> None:
    verdict = "ok" if result.ok else f"FAILED: {result.problem}"
    rate = f"{result.nbytes / MiB / result.transfer:8.0f} MiB/s" if result.transfer > 0 else " " * 14
    rss = f"rss {result.peak_rss_kib / 1024:6.1f} MiB" if result.peak_rss_kib else " " * 14
    print(
        f"  {result.scenario:13} run {result.run + 1:2}  {result.tool:11} wall {result.wall * 1000:8.1f} ms"
        f"  {rate}  cpu {result.cpu:6.3f} s  {rss}  {verdict}",
        file=sys.stderr,
        flush=True,
    )


# -------------------------------------------------------------------------------------- set-up


def parse_size(text: str) -> int:
    """'1G', '64M', '512K' (binary units) or a number of bytes."""
    found = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if not found:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 1G, 64M or 1048576)")
    number, unit = int(found.group(1)), found.group(2).upper()
    size = number * {"": 1, "K": 1 << 10, "M": MiB, "G": GiB}[unit]
    if size <= 0:
        raise argparse.ArgumentTypeError("the size must be positive")
    return size


def make_payload(size: int) -> Path:
    """A SIZE file in /tmp with real (non-sparse, incompressible) blocks, flushed to disk so writeback
    does not run during the measurements; it stays in the page cache."""
    fd, name = tempfile.mkstemp(prefix="tcpcli-bench-", suffix=".bin", dir="/tmp")
    block = os.urandom(BLOCK)
    with os.fdopen(fd, "wb") as file:
        for _ in range(size // BLOCK):
            file.write(block)
        file.write(block[: size % BLOCK])
        file.flush()
        os.fsync(file.fileno())
    return Path(name)


def human_size(size: int) -> str:
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def tcpcli_origin() -> dict[str, str]:
    """Which tcpcli runs, from which commit, and whether its source has uncommitted changes."""
    _, how = tcpcli_command()
    head = probe(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]).strip() or "unknown"
    dirty = probe(["git", "-C", str(REPO), "status", "--porcelain", "--", "tcpcli", "pyproject.toml"]).strip()
    return {
        "tcpcli source": f"git {head}" + (" + uncommitted changes in tcpcli/" if dirty else ""),
        "tcpcli is run as": how,
    }


def environment(tools: Sequence[Tool], notes: Sequence[str], args: argparse.Namespace) -> dict[str, str]:
    info = {
        "machine": f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()} {platform.machine()}",
        "python": f"{platform.python_version()} (`{sys.executable}`)",
        "load average at start": load_average(),
    }
    if any(tool.name == "tcpcli" for tool in tools):
        info |= tcpcli_origin()
    for tool in tools:
        jobs = (" ".join(tool.argv(job, "PORT")) for job in JOBS)
        info[tool.name] = f"{tool.version}: " + " / ".join(f"`{command}`" for command in jobs)
    for note in notes:
        info[note.split()[0]] = note
    info["work"] = (
        f"{human_size(args.size)} per throughput run, {args.runs} runs, one-shot {args.oneshot_runs} runs; "
        "tools interleaved run by run (order rotates); medians"
    )
    return info


# ------------------------------------------------------------------------------------- the report


def median_of(samples: Iterable[Sample], value: Callable[[Sample], float]) -> float | None:
    values = [value(s) for s in samples if s.ok]
    return statistics.median(values) if values else None


def rate(sample: Sample) -> float:
    return sample.nbytes / MiB / sample.transfer if sample.transfer > 0 else 0.0


def wall_rate(sample: Sample) -> float:
    return sample.nbytes / MiB / sample.wall if sample.wall > 0 else 0.0


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def at_most(value: float | None, limit: float | None) -> bool | None:
    return None if value is None or limit is None else value <= limit


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "**missed**")


def table_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


@dataclass(frozen=True)
class Summary:
    """One tool in one scenario: medians over the right runs (peak RSS: the highest)."""

    tool: str
    rate: float | None  # MiB/s, first byte to end of stream
    wall_rate: float | None  # MiB/s over the whole process
    wall: float | None  # seconds
    cpu_per_gib: float | None
    peak_rss_mib: float | None
    ok: str  # right runs / runs


def summarize(samples: Sequence[Sample], tool: str, size: int) -> Summary:
    mine = [s for s in samples if s.tool == tool]
    good = [s for s in mine if s.ok]
    cpu = median_of(mine, lambda s: s.cpu)
    return Summary(
        tool=tool,
        rate=median_of(mine, rate),
        wall_rate=median_of(mine, wall_rate),
        wall=median_of(mine, lambda s: s.wall),
        cpu_per_gib=None if cpu is None else cpu / (size / GiB),
        peak_rss_mib=max((s.peak_rss_kib for s in good), default=0) / 1024 or None,  # 0: exited unsampled
        ok=f"{len(good)}/{len(mine)}",
    )


def throughput_table(
    scenario: Scenario, samples: Sequence[Sample], tools: Sequence[Tool], size: int
) -> list[str]:
    rows = [summarize(samples, tool.name, size) for tool in tools]
    base = summarize(samples, BASELINE, size)
    header = [
        "tool",
        "MiB/s transfer",
        "x socat",
        "MiB/s whole process",
        "x socat",
        "CPU s/GiB",
        "peak RSS MiB",
    ]
    lines = [
        f"#### {scenario.title}: {human_size(size)} (tcpcli target {scenario.target})",
        "",
        table_row([*header, "ok"]),
        table_row(["---", *["---:"] * len(header)]),
    ]
    for row in rows:
        cells = [
            row.tool,
            fmt(row.rate, ".0f"),
            fmt(ratio(row.rate, base.rate), ".2f", "x"),
            fmt(row.wall_rate, ".0f"),
            fmt(ratio(row.wall_rate, base.wall_rate), ".2f", "x"),
            fmt(row.cpu_per_gib, ".2f"),
            fmt(row.peak_rss_mib, ".1f"),
            row.ok,
        ]
        lines.append(table_row(cells))
    return [*lines, ""]


def oneshot_table(samples: Sequence[Sample], tools: Sequence[Tool]) -> list[str]:
    header = ["tool", "median ms", "min ms", "max ms", "x ncat", "x socat"]
    lines = [
        f"#### {ONESHOT.title}: whole-process wall time (tcpcli target {ONESHOT.target})",
        "",
        table_row([*header, "ok"]),
        table_row(["---", *["---:"] * len(header)]),
    ]
    ncat, socat = (summarize(samples, name, 1).wall for name in ("ncat", BASELINE))
    for tool in tools:
        row = summarize(samples, tool.name, 1)
        walls = [s.wall * 1000 for s in samples if s.tool == tool.name and s.ok]
        cells = [
            tool.name,
            fmt(None if row.wall is None else row.wall * 1000, ".1f"),
            fmt(min(walls, default=None), ".1f"),
            fmt(max(walls, default=None), ".1f"),
            fmt(ratio(row.wall, ncat), ".2f", "x"),
            fmt(ratio(row.wall, socat), ".2f", "x"),
            row.ok,
        ]
        lines.append(table_row(cells))
    return [*lines, ""]


def throughput_target(scenario: Scenario, samples: Sequence[Sample], size: int) -> str:
    mine, base = summarize(samples, "tcpcli", size), summarize(samples, BASELINE, size)
    fast = ratio(mine.rate, base.rate)
    fast_enough = None if fast is None else fast >= scenario.target_ratio
    return (
        f"- {scenario.title} {scenario.target}: {fmt(fast, '.2f', 'x')} "
        f"(whole process {fmt(ratio(mine.wall_rate, base.wall_rate), '.2f', 'x')}): {verdict(fast_enough)}; "
        f"CPU per GiB <= socat's: {fmt(mine.cpu_per_gib, '.2f')} s vs {fmt(base.cpu_per_gib, '.2f')} s: "
        f"{verdict(at_most(mine.cpu_per_gib, base.cpu_per_gib))}"
    )


def targets(results: dict[str, list[Sample]], size: int) -> list[str]:
    """tcpcli against the targets of issue 7 (ratios judged on the transfer rate)."""
    lines = ["#### tcpcli against the targets", ""]
    peaks: list[float] = []
    for scenario in THROUGHPUT:
        if samples := results.get(scenario.key):
            lines.append(throughput_target(scenario, samples, size))
            peak = summarize(samples, "tcpcli", size).peak_rss_mib
            peaks += [] if peak is None else [peak]
    if shots := results.get(ONESHOT.key):
        mine, ncat = (summarize(shots, name, 1).wall for name in ("tcpcli", "ncat"))
        lines.append(
            f"- one-shot <= ncat (aim 40 ms; issue 3: < 150 ms): {fmt(mine and mine * 1000, '.1f', ' ms')} "
            f"vs ncat {fmt(ncat and ncat * 1000, '.1f', ' ms')}: {verdict(at_most(mine, ncat))}"
        )
    if peaks:
        met = verdict(max(peaks) < RSS_TARGET_MIB)
        lines.append(f"- peak RSS < {RSS_TARGET_MIB} MiB in stream mode: {max(peaks):.1f} MiB: {met}")
    return [*lines, ""]


def failures(results: dict[str, list[Sample]]) -> list[str]:
    bad = [s for samples in results.values() for s in samples if not s.ok]
    if not bad:
        return []
    lines = ["#### Failed runs (left out of the medians)", ""]
    lines += [f"- {s.scenario} run {s.run + 1}, {s.tool}: {s.problem}; `{s.command}`" for s in bad]
    return [*lines, ""]


def report(info: dict[str, str], results: dict[str, list[Sample]], tools: Sequence[Tool], size: int) -> str:
    lines = ["### tcpcli stream-mode benchmark (`bench/bench_stream.py`)", "", "| | |", "|---|---|"]
    lines += [table_row([key, value]) for key, value in info.items()]
    lines += [
        "",
        "Transfer = first byte to end of stream at the far end (sink server or stdout reader); "
        "whole process = tool start to tool exit. CPU = user + system time of the tool process; "
        "peak RSS = its own VmHWM, highest of all runs. See bench/README.md.",
        "",
    ]
    for scenario in THROUGHPUT:
        if scenario.key in results:
            lines += throughput_table(scenario, results[scenario.key], tools, size)
    if ONESHOT.key in results:
        lines += oneshot_table(results[ONESHOT.key], tools)
    if any(tool.name == "tcpcli" for tool in tools):
        lines += targets(results, size)
    return "\n".join([*lines, *failures(results)])


# ------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, help="bytes per throughput run (default 1G; --quick 64M)")
    parser.add_argument(
        "--runs", type=int, help="runs per tool and throughput scenario (default 5; --quick 2)"
    )
    parser.add_argument("--oneshot-runs", type=int, help="one-shot runs per tool (default 30; --quick 10)")
    parser.add_argument(
        "--tools", default="tcpcli,socat,socat-b256k,nc,ncat", help="comma-separated (default: %(default)s)"
    )
    parser.add_argument(
        "--scenarios",
        default="stdin-pipe,socket-stdout,file,oneshot",
        help="comma-separated subset of %(default)s",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 MiB, 2 runs, 10 one-shots")
    parser.add_argument(
        "--tcpcli-before",
        metavar="COMMAND",
        help="also run this tcpcli (e.g. /tmp/before/bin/tcpcli) as `tcpcli-before`, interleaved",
    )
    parser.add_argument(
        "--sink",
        choices=("python", "c"),
        default="python",
        help="the sink server's reader: Python recv_into (default) or the C program of bench/harness.py",
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="also write the environment and every run here"
    )
    args = parser.parse_args(argv)
    args.size = args.size or (64 * MiB if args.quick else GiB)
    args.runs = args.runs or (2 if args.quick else 5)
    args.oneshot_runs = args.oneshot_runs or (10 if args.quick else 30)
    if args.runs < 1 or args.oneshot_runs < 1:
        parser.error("run counts must be at least 1")
    known = {s.key for s in (*THROUGHPUT, ONESHOT)}
    args.scenarios = [key.strip() for key in args.scenarios.split(",") if key.strip()]
    if unknown := set(args.scenarios) - known:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = [name.strip() for name in args.tools.split(",") if name.strip()]
    tools, notes = discover_tools(wanted, args.tcpcli_before)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not tools:
        print("no tool to benchmark", file=sys.stderr)
        return 1
    info = environment(tools, notes, args)
    needs_file = any(key in args.scenarios for key in ("file", "socket-stdout"))
    payload = make_payload(args.size) if needs_file else Path(os.devnull)
    results: dict[str, list[Sample]] = {}
    sink = build_c_sink() if args.sink == "c" else None
    if args.sink == "c" and sink is None:
        print("--sink c needs a C compiler (cc)", file=sys.stderr)
        return 1
    info["sink"] = f"C program `{sink}` (bench/harness.py)" if sink else "Python recv_into"
    try:
        for scenario in (*THROUGHPUT, ONESHOT):
            if scenario.key not in args.scenarios:
                continue
            print(f"{scenario.title}:", file=sys.stderr, flush=True)
            runs = args.oneshot_runs if scenario is ONESHOT else args.runs
            results[scenario.key] = run_scenario(scenario, tools, runs, args.size, payload, sink)
    finally:
        if needs_file:
            with suppress(OSError):
                payload.unlink()
    info["load average at end"] = load_average()
    print(report(info, results, tools, args.size))
    if args.json:
        raw = {"environment": info, "samples": [asdict(s) for samples in results.values() for s in samples]}
        args.json.write_text(json.dumps(raw, indent=2) + "\n")
    failed = any(not s.ok for samples in results.values() for s in samples)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
