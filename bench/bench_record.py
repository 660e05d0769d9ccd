#!/usr/bin/env python3
"""Recording benchmark: a relay with and without `--record FILE` (a file on disk), paired and interleaved.

    .venv/bin/python bench/bench_record.py [--size 1G] [--runs 5] [--payloads text,random] [--quick]

One client pushes SIZE bytes through `tcpcli -l P --to H:Q` to an upstream sink (bench_relay's C sink) and
waits for the relayed FIN; the time runs from the client's connect to the sink's last byte. Contenders:
- `--no-transcript` (the kernel path: the baseline a user has without recording),
- `--no-transcript --record FILE` (recording takes the copy path: every chunk through Python, base64 + JSON by
  the writer thread, written to FILE on the same disk as the bench's directory),
- with `--with-transcript`: `--record FILE` beside the transcript (to /dev/null), for reference.
Each run rotates the order. Medians, the ratio to the baseline, the recording's size per byte relayed. The
issue's bar: recording keeps at least 300 MiB/s. Markdown on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling modules
from bench_relay import HOST, MiB, Relay, one_throughput_run
from bench_stream import parse_size, probe, tcpcli_command
from harness import build_c_sink

BAR = 300.0  # MiB/s the issue asks recording to keep


def contenders(record_path: Path, with_transcript: bool) -> dict[str, Relay]:
    base = [*tcpcli_command()[0], "-l", HOST, "{port}", "--to", "{target}"]
    table = {
        "--no-transcript": Relay("--no-transcript", (*base, "--no-transcript")),
        "--no-transcript --record": Relay(
            "--no-transcript --record", (*base, "--no-transcript", "--record", str(record_path))
        ),
    }
    if with_transcript:  # the transcript's own cost dominates (~30 MiB/s here): off by default
        name = "--record (transcript to /dev/null)"
        table[name] = Relay(name, (*base, "--record", str(record_path)))
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, default=None, help="bytes per run (1G)")
    parser.add_argument("--runs", type=int, default=None, help="runs per contender (5)")
    parser.add_argument("--payloads", default="text,random", help="text (Redis-like lines) and/or random")
    parser.add_argument("--dir", default=None, help="where the recording is written (default: a temp dir)")
    parser.add_argument("--with-transcript", action="store_true", help="also --record beside the transcript")
    parser.add_argument("--quick", action="store_true", help="64M, 1 run")
    args = parser.parse_args(argv)
    size = args.size or (64 * MiB if args.quick else 1 << 30)
    runs = args.runs or (1 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="tcpcli-bench-record-", dir=args.dir) as where:
        return _run(Path(where), size, runs, args.payloads.split(","), args.with_transcript)


def _run(where: Path, size: int, runs: int, kinds: list[str], with_transcript: bool) -> int:
    sink = build_c_sink(where)
    if sink is None:
        raise SystemExit("bench_record: a C compiler (cc) is needed for the upstream sink")
    record_path = where / "recording.jsonl"
    table = contenders(record_path, with_transcript)
    rates: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    file_sizes: dict[str, list[int]] = {}
    failed = False
    for run in range(runs):
        for kind in kinds:
            names = list(table)
            names = names[run % len(names) :] + names[: run % len(names)]  # rotate: spread the noise
            for name in names:
                record_path.unlink(missing_ok=True)
                result = one_throughput_run(table[name], size, kind, sink)
                if "--record" in name and record_path.exists():
                    file_sizes.setdefault(kind, []).append(record_path.stat().st_size)
                failed |= bool(result.error)
                rates.setdefault((kind, name), []).append(result.rate)
                cpus.setdefault((kind, name), []).append(result.cpu)
                print(
                    f"run {run + 1}/{runs} {kind:6} {name:36} {result.rate:8.1f} MiB/s"
                    f" cpu {result.cpu:6.2f} s" + (f"  FAILED: {result.error}" if result.error else ""),
                    file=sys.stderr,
                )
    record_path.unlink(missing_ok=True)
    command, how = tcpcli_command()
    print("# Recording benchmark (`--record` on a relay)\n")
    print(f"- tcpcli: {how}; {probe([*command, '--version']).strip()}")
    print(
        f"- {os.cpu_count()} CPUs; loopback; {size // MiB} MiB per run, {runs} runs, medians; file on disk\n"
    )
    print(
        "| payload | relay | MiB/s (median) | vs --no-transcript | CPU s (median) | recording bytes / byte |"
    )
    print("|---|---|---|---|---|---|")
    for kind in kinds:
        base = statistics.median(rates[(kind, "--no-transcript")])
        for name in table:
            rate = statistics.median(rates[(kind, name)])
            cpu = statistics.median(cpus[(kind, name)])
            ratio = f"{rate / base:.2f}x" if base else "-"
            per_byte = f"{statistics.median(file_sizes[kind]) / size:.2f}" if "--record" in name else "-"
            print(f"| {kind} | tcpcli {name} | {rate:.0f} | {ratio} | {cpu:.2f} | {per_byte} |")
    worst = min(statistics.median(rates[(kind, "--no-transcript --record")]) for kind in kinds)
    verdict = "keeps" if worst >= BAR else "does NOT keep"
    print(f"\nRecording ({worst:.0f} MiB/s at worst) {verdict} the bar of {BAR:.0f} MiB/s.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
