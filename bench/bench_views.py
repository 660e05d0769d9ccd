#!/usr/bin/env python3
"""Views benchmark (issue 5, item 7): `tcpcli -x` and `tcpcli --struct` end to end, beside xxd and hexdump.

    .venv/bin/python bench/bench_views.py [--size 100M] [--records 1000000] [--runs 3] [--quick]

Targets of issue 5:
- `tcpcli -x` over 100 MiB of random bytes received from a loopback peer at least as fast as `xxd` on the
  same bytes (which makes it about 10x `hexdump -C`);
- `tcpcli --struct '<HI'` at least 1,000,000 records/s to valid JSON Lines, end to end.

What runs, run by run (the order of the commands rotates each run, so a noisy moment is spread over all):
- hex: a source server (its own forked process, all on 127.0.0.1) accepts one client, sends SIZE seeded random
  bytes with one large `sendall`, then FIN; `tcpcli -x 127.0.0.1 PORT < /dev/null > /dev/null` receives them.
  Beside it `xxd FILE`, `hexdump -C FILE` (the same bytes from a file in the page cache), `socat ... | xxd`
  (the same server) and plain `tcpcli` without a view (the I/O ceiling), all with stdout on /dev/null.
- struct: the same kind of server sends RECORDS records of `<HI` (id = index mod 65536, len = a seeded random
  uint32); `tcpcli --struct '<HI' --fields id,len` writes JSON Lines to a file that is validated after every
  run (line count, every line parsed, every value compared with what was sent, a sample of lines parsed one
  by one); plain `tcpcli` on the same records for the I/O and start-up cost.
- core: HexDumper.feed_bytes over the SIZE bytes in 64 KiB chunks, and RecordCutter.feed + format_json_lines
  over the records in 64 KiB chunks, in this process: the formatting cost alone, without I/O or start-up.

Before the timed runs, one `tcpcli -x` run over the first CHECK bytes is parsed back and compared with what
was sent (bytes, offsets running on across chunks, ASCII column), so a fast but wrong dump cannot pass.

Rates are decimal (MB = 10^6 bytes), medians over the runs. "whole process" is spawn to exit (Python start-up
included); "from connect" is from the server's accept to the tool's exit. Every run is bounded by a timeout
and killed past it. The report is Markdown on stdout; progress goes to stderr. Exit status 1 if a run failed.
Needs Python 3.11+ on Linux; xxd, hexdump and socat are optional (skipped with a note when missing).
"""

from __future__ import annotations

import argparse
import array
import json
import multiprocessing
import os
import platform
import random
import re
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

HOST = "127.0.0.1"
MiB = 1 << 20
MB = 1_000_000
FORMAT = "<HI"
FIELDS = ("id", "len")
CORE_CHUNK = 64 * 1024
REPORT_GRACE = 5.0  # seconds the server may take to report once the tool has exited
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the core figures import tcpcli from this tree

_FORK = multiprocessing.get_context("fork")


# ---------------------------------------------------------------------------------------------- the server


@dataclass
class Served:
    """What the source server saw (CLOCK_MONOTONIC, shared by all processes), or an error."""

    accepted: float = 0.0
    sent: float = 0.0
    nbytes: int = 0
    error: str = ""


def _serve_once(listener: socket.socket, payload: bytes, timeout: float, report: Connection) -> None:
    try:
        listener.settimeout(timeout)
        conn, _ = listener.accept()
        with conn:
            served = Served(accepted=time.monotonic())
            conn.settimeout(timeout)  # since 3.5: a bound on the whole sendall, not on each piece
            conn.sendall(payload)  # one large sendall
            served.sent = time.monotonic()
            served.nbytes = len(payload)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):  # until the client closes: closing first could reset the connection
                pass
    except Exception as exc:  # reported to the parent, which marks the run failed
        served = Served(error=f"{type(exc).__name__}: {exc}")
    report.send(served)


class SourceServer:
    """A one-connection server on a free loopback port, in its own forked process."""

    def __init__(self, payload: bytes, timeout: float) -> None:
        listener = socket.create_server((HOST, 0))
        self.port: int = listener.getsockname()[1]
        self._reports, writer = _FORK.Pipe(duplex=False)
        # fork: the payload is shared with the child, not copied or pickled
        self._process = _FORK.Process(
            target=_serve_once, args=(listener, payload, timeout, writer), daemon=True
        )
        self._process.start()
        writer.close()
        listener.close()

    def result(self) -> Served:
        try:
            if not self._reports.poll(REPORT_GRACE):
                return Served(error=f"server gave no report within {REPORT_GRACE:g} s")
            report: Served = self._reports.recv()
            return report
        except EOFError:
            return Served(error="server died without a report")
        finally:
            self._process.join(1.0)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._reports.close()


# ------------------------------------------------------------------------------------ running a command


@dataclass
class Exit:
    code: int  # exit status, or minus the signal number
    timed_out: bool
    started: float
    ended: float
    cpu: float  # user + system seconds of the process (and of the children it waited for)
    stderr: str

    @property
    def wall(self) -> float:
        return self.ended - self.started


def run_command(argv: Sequence[str], stdout_fd: int, timeout: float) -> Exit:
    """Run argv with stdin /dev/null and stdout on stdout_fd; the exit time is seen through a pidfd."""
    with tempfile.TemporaryFile() as errors, open(os.devnull, "rb") as devnull:
        actions = [
            (os.POSIX_SPAWN_DUP2, devnull.fileno(), 0),
            (os.POSIX_SPAWN_DUP2, stdout_fd, 1),
            (os.POSIX_SPAWN_DUP2, errors.fileno(), 2),
        ]
        started = time.monotonic()
        pid = os.posix_spawnp(argv[0], list(argv), os.environ, file_actions=actions)
        pidfd = os.pidfd_open(pid)
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            timed_out = not poller.poll(timeout * 1000)
            if timed_out:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                poller.poll()
            ended = time.monotonic()
        finally:
            os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        errors.seek(0)
        stderr = errors.read(4000).decode(errors="replace")
    return Exit(
        os.waitstatus_to_exitcode(status), timed_out, started, ended, usage.ru_utime + usage.ru_stime, stderr
    )


@dataclass(frozen=True)
class Command:
    """One contender: argv with {port} (the run's server) and {file} (the payload file) filled in per run."""

    name: str
    argv: tuple[str, ...]
    server: bool  # receives from the source server (else reads the payload file)
    to_file: bool = False  # stdout to a temp file that `check` validates (else /dev/null)
    shown: str = ""  # the command line as the report shows it

    @property
    def label(self) -> str:
        return self.shown or " ".join(self.argv)

    def fill(self, port: int, file: Path) -> list[str]:
        return [part.replace("{port}", str(port)).replace("{file}", str(file)) for part in self.argv]


@dataclass
class Sample:
    command: str
    wall: float  # spawn to exit
    connected: float  # server's accept to exit (0 without a server)
    cpu: float
    problem: str  # empty when the run was right


Check = Callable[[bytes], str]  # the tool's stdout -> what is wrong with it ('' if right)


def run_one(command: Command, payload: bytes, file: Path, timeout: float, check: Check | None) -> Sample:
    server = SourceServer(payload, timeout) if command.server else None
    argv = command.fill(server.port if server else 0, file)
    with tempfile.TemporaryFile() if command.to_file else open(os.devnull, "wb") as out:
        exit = run_command(argv, out.fileno(), timeout)
        problems = []
        if exit.timed_out:
            problems.append(f"killed after {timeout:g} s")
        elif exit.code != 0:
            problems.append(f"exit status {exit.code}")
        if exit.stderr.strip():
            problems.append(f"stderr: {exit.stderr.strip()[:300]!r}")
        connected = 0.0
        if server is not None:
            served = server.result()
            if served.error:
                problems.append(f"server: {served.error}")
            elif served.nbytes != len(payload):
                problems.append(f"server sent {served.nbytes} of {len(payload)} bytes")
            else:
                connected = exit.ended - served.accepted
        if check is not None and command.to_file and not problems:
            out.seek(0)
            problem = check(out.read())
            if problem:
                problems.append(problem)
    return Sample(command.name, exit.wall, connected, exit.cpu, "; ".join(problems))


# ------------------------------------------------------------------------------------------- the payloads


def hex_payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def record_values(count: int, seed: int) -> tuple[array.array[int], array.array[int]]:
    ids = array.array("H", (index & 0xFFFF for index in range(count)))
    lens = array.array("I")
    lens.frombytes(random.Random(seed + 1).randbytes(4 * count))
    if sys.byteorder == "big":
        lens.byteswap()
    return ids, lens


def record_payload(ids: array.array[int], lens: array.array[int]) -> bytes:
    return b"".join(map(struct.Struct(FORMAT).pack, ids, lens))


def write_file(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())  # no writeback during the measurements
    return path


# ------------------------------------------------------------------------------------------ the checks

_DUMP_LINE = re.compile(rb"([0-9a-f]{8,})  ([0-9a-f ]{23})  ([0-9a-f ]{23})  \|([ -~]{1,16})\|\n")
_ASCII = bytes(b if 0x20 <= b <= 0x7E else 0x2E for b in range(256))


def parse_dump(dump: bytes) -> tuple[bytes, str]:
    """The bytes a `-x` dump shows, and what is wrong with its layout or offsets ('' if nothing)."""
    data = bytearray()
    pos = 0
    lines = 0
    while pos < len(dump):
        line = _DUMP_LINE.match(dump, pos)
        if line is None:
            return bytes(data), f"line {lines + 1} is not a hexdump -C line: {dump[pos : pos + 80]!r}"
        offset, left, right, text = line.groups()
        chunk = bytes.fromhex((left + right).decode())
        if int(offset, 16) != len(data):
            return bytes(data), f"line {lines + 1} has offset {offset.decode()}, expected {len(data):08x}"
        if chunk.translate(_ASCII) != text:
            return bytes(data), f"line {lines + 1}: ASCII column {text!r} does not match its bytes"
        data += chunk
        pos = line.end()
        lines += 1
    return bytes(data), ""


def hex_check(sent: bytes) -> Check:
    def check(dump: bytes) -> str:
        shown, problem = parse_dump(dump)
        if problem:
            return problem
        if shown != sent:
            return f"the dump shows {len(shown)} bytes that differ from the {len(sent)} sent"
        return ""

    return check


def struct_check(ids: array.array[int], lens: array.array[int]) -> Check:
    expected = list(zip(ids, lens, strict=True))
    sample_every = max(1, len(expected) // 1000)

    def check(output: bytes) -> str:
        lines = output.split(b"\n")
        if lines[-1] != b"":
            return "output does not end in a newline"
        del lines[-1]
        if len(lines) != len(expected):
            return f"{len(lines)} JSON lines for {len(expected)} records"
        try:
            for index in [*range(0, len(lines), sample_every), len(lines) - 1]:  # lines parsed one by one
                row = json.loads(lines[index])
                if row != {"id": expected[index][0], "len": expected[index][1]}:
                    return f"line {index + 1} is {row!r}, expected id={expected[index][0]}"
            rows = json.loads(b"[" + b",".join(lines) + b"]")  # every line, in one C-level parse
        except ValueError as exc:
            return f"not JSON Lines: {exc}"
        got = [
            tuple(row.values()) if isinstance(row, dict) and list(row) == [*FIELDS] else row for row in rows
        ]
        if got != expected:
            first = next(index for index, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b)
            return f"line {first + 1} is {lines[first][:100]!r}, expected {expected[first]}"
        return ""

    return check


# ------------------------------------------------------------------------------------- the core figures


def core_hex(payload: bytes) -> float:
    """Seconds for HexDumper.feed_bytes over the payload in 64 KiB chunks."""
    from tcpcli.core.hexdump import HexDumper

    dumper = HexDumper()
    view = memoryview(payload)
    started = time.perf_counter()
    for at in range(0, len(payload), CORE_CHUNK):
        dumper.feed_bytes(bytes(view[at : at + CORE_CHUNK]))
    return time.perf_counter() - started


def core_struct(payload: bytes) -> float:
    """Seconds for RecordCutter.feed + format_json_lines (+ encode) over the records in 64 KiB chunks."""
    from tcpcli.core.records import RecordCutter, format_json_lines

    cutter = RecordCutter(FORMAT, FIELDS)
    view = memoryview(payload)
    started = time.perf_counter()
    for at in range(0, len(payload), CORE_CHUNK):
        format_json_lines(cutter.field_names, cutter.feed(bytes(view[at : at + CORE_CHUNK]))).encode()
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------- reporting


def tcpcli_command() -> list[str]:
    script = Path(sys.executable).parent / "tcpcli"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "tcpcli"]


def probe(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout + done.stderr).strip()


def parse_size(text: str) -> int:
    found = re.fullmatch(r"(\d+)([KMG]?)", text.strip().upper())
    if not found:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 100M, 512K, 1G)")
    return int(found.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[found.group(2)]


def human(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size:,} bytes"


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


@dataclass
class Scenario:
    title: str
    unit: str  # "MB/s" or "records/s"
    amount: float  # MB or records per run
    commands: list[Command]
    payload: bytes
    file: Path
    check: Check | None
    baseline: str | None  # the command the "x" column compares with
    samples: list[Sample] = field(default_factory=list)

    def ok(self, name: str) -> list[Sample]:
        return [s for s in self.samples if s.command == name and not s.problem]

    def rate(self, name: str, which: str = "wall") -> float | None:
        times = [s.wall if which == "wall" else s.connected for s in self.ok(name)]
        value = median(times)
        return self.amount / value if value else None

    def table(self) -> list[str]:
        spec = ",.0f" if self.unit == "records/s" else ".1f"
        head = f"| command | {self.unit} whole process | {self.unit} from connect |"
        head += f" x {self.baseline} |" if self.baseline else ""
        rows = [head + " CPU s | ok |", "|" + "---|" * (head.count("|") + 1)]
        base = self.rate(self.baseline) if self.baseline else None
        for command in self.commands:
            samples = [s for s in self.samples if s.command == command.name]
            whole = self.rate(command.name)
            connected = self.rate(command.name, "connect") if command.server else None
            cell = command.label.replace("|", "\\|")  # a pipe inside a table cell
            row = f"| `{cell}` | {fmt(whole, spec)} | {fmt(connected, spec)} |"
            if self.baseline:
                row += f" {fmt(whole / base if whole and base else None, '.2f')} |"
            cpu = median([s.cpu for s in self.ok(command.name)])
            rows.append(row + f" {fmt(cpu, '.2f')} | {len(self.ok(command.name))}/{len(samples)} |")
        return rows


def progress(sample: Sample, scenario: Scenario, run: int) -> None:
    rate = scenario.amount / sample.wall if sample.wall else 0
    status = f"FAILED: {sample.problem}" if sample.problem else "ok"
    print(
        f"run {run + 1} {sample.command:<24} {sample.wall:7.3f} s {rate:14,.1f} {scenario.unit} {status}",
        file=sys.stderr,
        flush=True,
    )


def rotated(items: Sequence[Command], run: int) -> list[Command]:
    shift = run % len(items) if items else 0
    return [*items[shift:], *items[:shift]]


# ----------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=None, help="hex payload (default 100M)")
    parser.add_argument("--records", type=int, default=None, help="records for --struct (default 1000000)")
    parser.add_argument("--runs", type=int, default=None, help="runs per command (default 3)")
    parser.add_argument("--check", type=parse_size, default=parse_size("8M"), help="-x output check size")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--no-hexdump", action="store_true", help="skip hexdump -C (about 10 s a run)")
    parser.add_argument("--quick", action="store_true", help="16M, 200000 records, 1 run, no hexdump")
    args = parser.parse_args()
    size = args.size or (16 * MiB if args.quick else 100 * MiB)
    count = args.records or (200_000 if args.quick else 1_000_000)
    runs = args.runs or (1 if args.quick else 3)
    skip_hexdump = args.no_hexdump or args.quick

    tcpcli = tcpcli_command()
    version = probe([*tcpcli, "--version"])
    if not version.startswith("tcpcli"):
        print(f"bench_views: `{' '.join(tcpcli)} --version` failed: {version[:200]!r}", file=sys.stderr)
        return 1
    notes: list[str] = []
    have = {tool: shutil.which(tool) is not None for tool in ("xxd", "hexdump", "socat")}
    for tool, present in have.items():
        if not present:
            notes.append(f"`{tool}` is not installed: its rows are skipped")
    if skip_hexdump and have["hexdump"]:
        notes.append("`hexdump -C` skipped (--no-hexdump / --quick)")
        have["hexdump"] = False

    load_before = " ".join(f"{load:.2f}" for load in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench_views.") as tmp:
        print(f"generating {human(size)} of random bytes and {count:,} records...", file=sys.stderr)
        hex_bytes = hex_payload(size, args.seed)
        hex_file = write_file(Path(tmp), "random.bin", hex_bytes)
        ids, lens = record_values(count, args.seed)
        rec_bytes = record_payload(ids, lens)
        rec_file = write_file(Path(tmp), "records.bin", rec_bytes)

        x = (*tcpcli, "-x", HOST, "{port}")
        raw = (*tcpcli, HOST, "{port}")
        sink = "< /dev/null > /dev/null"
        hex_commands = [
            Command("tcpcli -x", x, server=True, shown=f"tcpcli -x {HOST} PORT {sink}"),
            Command("tcpcli (raw)", raw, server=True, shown=f"tcpcli {HOST} PORT {sink}  (no view)"),
        ]
        if have["xxd"]:
            hex_commands.append(Command("xxd", ("xxd", "{file}"), server=False, shown="xxd FILE > /dev/null"))
        if have["hexdump"]:
            shown = "hexdump -C FILE > /dev/null"
            hex_commands.append(Command("hexdump -C", ("hexdump", "-C", "{file}"), server=False, shown=shown))
        if have["socat"] and have["xxd"]:
            pipeline = ("sh", "-c", f"socat -u TCP:{HOST}:{{port}} - | xxd")
            shown = f"socat -u TCP:{HOST}:PORT - | xxd > /dev/null"
            hex_commands.append(Command("socat | xxd", pipeline, server=True, shown=shown))
        struct_argv = (*tcpcli, "--struct", FORMAT, "--fields", ",".join(FIELDS), HOST, "{port}")
        struct_commands = [
            Command(
                "tcpcli --struct",
                struct_argv,
                server=True,
                to_file=True,
                shown=f"tcpcli --struct '{FORMAT}' --fields id,len {HOST} PORT < /dev/null > FILE",
            ),
            Command("tcpcli (raw)", raw, server=True, shown=f"tcpcli {HOST} PORT {sink}  (no view)"),
        ]
        hex_scenario = Scenario(
            f"`-x`: {human(size)} of random bytes",
            "MB/s",
            size / MB,
            hex_commands,
            hex_bytes,
            hex_file,
            None,
            "xxd" if have["xxd"] else None,
        )
        struct_scenario = Scenario(
            f"`--struct '{FORMAT}' --fields id,len`: {count:,} records ({len(rec_bytes):,} bytes)",
            "records/s",
            count,
            struct_commands,
            rec_bytes,
            rec_file,
            struct_check(ids, lens),
            None,
        )
        hex_timeout = 60 + size / (2 * MB)  # hexdump -C runs at about 10 MB/s
        struct_timeout = 60 + count / 50_000

        # A correctness gate first: a -x dump of the first CHECK bytes must parse back to exactly them.
        check_bytes = hex_bytes[: args.check]
        gate = run_one(
            Command("tcpcli -x (check)", x, server=True, to_file=True),
            check_bytes,
            hex_file,
            hex_timeout,
            hex_check(check_bytes),
        )
        print(f"check: tcpcli -x over {human(len(check_bytes))}: {gate.problem or 'ok'}", file=sys.stderr)

        core_hex_times: list[float] = []
        core_struct_times: list[float] = []
        for run in range(runs):
            for scenario, timeout in ((hex_scenario, hex_timeout), (struct_scenario, struct_timeout)):
                for command in rotated(scenario.commands, run):
                    sample = run_one(command, scenario.payload, scenario.file, timeout, scenario.check)
                    scenario.samples.append(sample)
                    progress(sample, scenario, run)
            core_hex_times.append(core_hex(hex_bytes))
            core_struct_times.append(core_struct(rec_bytes))
            print(
                f"run {run + 1} core: hex {size / MB / core_hex_times[-1]:.1f} MB/s,"
                f" struct {count / core_struct_times[-1]:,.0f} records/s",
                file=sys.stderr,
            )

    # ------------------------------------------------------------------------------------------ report
    head = probe(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]) or "unknown"
    socat_version = (re.findall(r"socat version (\S+)", probe(["socat", "-V"])) or ["missing"])[0]
    dirty = probe(["git", "-C", str(REPO), "status", "--porcelain", "--", "tcpcli"])
    out = [
        "# tcpcli views benchmark (issue 5)",
        "",
        "Targets: `-x` at least as fast as `xxd` on the same bytes (whole process, both);"
        " `--struct '<HI'` at least 1,000,000 records/s to valid JSON Lines, end to end.",
        "",
        f"- {platform.node()}, {platform.system()} {platform.release()}, {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}; load {load_before} -> "
        + " ".join(f"{load:.2f}" for load in os.getloadavg()),
        f"- {version} (`{' '.join(tcpcli)}`), git {head}"
        + (" + uncommitted changes in tcpcli/" if dirty else ""),
        f"- xxd: {probe(['xxd', '--version']) or 'missing'};"
        f" hexdump: {probe(['hexdump', '--version']) or 'missing'}; socat: {socat_version}",
        f"- {runs} run(s) per command, interleaved (order rotates), medians; all traffic on {HOST};"
        f" stdout on /dev/null except `--struct` (a temp file, validated every run); MB = 10^6 bytes",
        f"- `-x` output check ({human(len(check_bytes))} parsed back: bytes, offsets, ASCII column):"
        f" {'ok' if not gate.problem else 'FAILED: ' + gate.problem}",
        *[f"- note: {note}" for note in notes],
        "",
        f"## {hex_scenario.title}",
        "",
        *hex_scenario.table(),
        "",
        f"## {struct_scenario.title}",
        "",
        *struct_scenario.table(),
        "",
        f"## Pure core, in this process ({CORE_CHUNK // 1024} KiB chunks, no I/O, no start-up)",
        "",
        "| what | rate |",
        "|---|---|",
        f"| `HexDumper.feed_bytes`, {human(size)}"
        f" | {size / MB / statistics.median(core_hex_times):.1f} MB/s |",
        f"| `RecordCutter.feed` + `format_json_lines` + encode, {count:,} records"
        f" | {count / statistics.median(core_struct_times):,.0f} records/s |",
        "",
        "## Targets",
        "",
    ]
    tx, xxd = hex_scenario.rate("tcpcli -x"), hex_scenario.rate("xxd")
    if tx is not None and xxd is not None:
        verdict = "met" if tx >= xxd else "MISSED"
        out.append(
            f"- `-x` >= `xxd`: {tx:.1f} vs {xxd:.1f} MB/s whole process ({tx / xxd:.2f}x): **{verdict}**"
        )
    else:
        out.append("- `-x` >= `xxd`: not measured (a run failed or xxd is missing)")
    ts = struct_scenario.rate("tcpcli --struct")
    if ts is not None:
        verdict = "met" if ts >= 1_000_000 else "MISSED"
        out.append(f"- `--struct` >= 1,000,000 records/s: {ts:,.0f} records/s whole process: **{verdict}**")
    else:
        out.append("- `--struct` >= 1,000,000 records/s: not measured (its runs failed)")
    failed = [s for s in (gate, *hex_scenario.samples, *struct_scenario.samples) if s.problem]
    if failed:
        out += ["", "## Failed runs (left out of the medians)", ""]
        out += [f"- {s.command}: {s.problem}" for s in failed]
    print("\n".join(out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
