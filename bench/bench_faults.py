#!/usr/bin/env python3
"""Faults benchmark: `--rate 10M` holds its rate, and a relay without faults is not slowed by them.

    .venv/bin/python bench/bench_faults.py [--runs 5] [--base-ref REF] [--parts rate,plain] [--quick]

- rate: one client pushes 100 MiB through `tcpcli -l P --to H:Q --no-transcript --rate 10M` to the C sink
  (bench_relay's throughput run: client connect to the sink's last byte); the measured rate beside 10 MiB/s.
- plain: the relay without fault options, before and after the faults (REF: the commit the faults branch
  started from, checked out in a temporary git worktree) vs this tree, both run as `python -m tcpcli` from
  their own source: the kernel path (--no-transcript, 1 GiB) and the copy path (transcript to /dev/null,
  256 MiB); paired (one of each per run, the order alternating), medians and the after/before ratio.

Loopback only; every wait is bounded (bench_relay's). Markdown on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling modules
from bench_relay import HOST, MiB, Relay, Result, one_throughput_run
from bench_stream import parse_size
from harness import build_c_sink

ROOT = Path(__file__).resolve().parent.parent
BASE_REF = "e4dba3a"  # main when the faults branch started (issue 14's relay with its benchmark)
RATE = 10 * MiB


def relay(name: str, source: Path, *extra: str) -> Relay:
    """tcpcli from the source tree `source` (PYTHONPATH first, so its package wins over the installed one)."""
    argv = ("env", f"PYTHONPATH={source}", sys.executable, "-m", "tcpcli", "-l", HOST, "{port}")
    return Relay(name, (*argv, "--to", "{target}", *extra))


@contextlib.contextmanager
def base_tree(ref: str) -> Iterator[Path]:
    """A temporary git worktree of `ref` (removed at the end)."""
    where = Path(tempfile.mkdtemp(prefix="tcpcli-base-"))
    add = ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), ref]
    subprocess.run(add, check=True, stdout=sys.stderr)  # git's chatter is progress, not the report
    try:
        yield where
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], check=False)


def run(contender: Relay, size: int, sink: Path) -> Result:
    result = one_throughput_run(contender, size, "text", sink)
    print(
        f"{contender.name:44} {result.rate:9.1f} MiB/s cpu {result.cpu:6.2f} s"
        + (f"  FAILED: {result.error}" if result.error else ""),
        file=sys.stderr,
    )
    return result


def rate_part(runs: int, size: int, sink: Path, out: Callable[[str], None]) -> bool:
    contender = relay("tcpcli --no-transcript --rate 10M", ROOT, "--no-transcript", "--rate", "10M")
    results = [run(contender, size, sink) for _ in range(runs)]
    good = [result.rate for result in results if not result.error]
    out(f"## (a) `--rate 10M`: {size // MiB} MiB through the relay, {runs} runs\n")
    out("| run | MiB/s | off 10 MiB/s | relay CPU s |")
    out("|---|---|---|---|")
    for index, result in enumerate(results, 1):
        off = f"{(result.rate * MiB / RATE - 1) * 100:+.2f} %" if not result.error else result.error
        out(f"| {index} | {result.rate:.3f} | {off} | {result.cpu:.2f} |")
    if good:
        middle = statistics.median(good)
        out(f"| median | {middle:.3f} | {(middle * MiB / RATE - 1) * 100:+.2f} % | |")
    return all(not result.error and abs(result.rate * MiB / RATE - 1) <= 0.10 for result in results)


def plain_part(runs: int, sizes: dict[str, int], base: Path, sink: Path, out: Callable[[str], None]) -> bool:
    ok = True
    out(f"## (b) The relay without faults, before and after them ({runs} paired runs, medians)\n")
    out("| path | size | before MiB/s | after MiB/s | after/before | before CPU s | after CPU s |")
    out("|---|---|---|---|---|---|---|")
    for path, extra in (("kernel (--no-transcript)", ("--no-transcript",)), ("copy (transcript)", ())):
        size = sizes[path.split()[0]]
        before = relay(f"before: {path}", base, *extra)
        after = relay(f"after:  {path}", ROOT, *extra)
        pairs: list[tuple[Result, Result]] = []
        for index in range(runs):
            order = (before, after) if index % 2 == 0 else (after, before)
            got = {contender.name: run(contender, size, sink) for contender in order}
            pairs.append((got[before.name], got[after.name]))
        ok = ok and all(not a.error and not b.error for a, b in pairs)
        rates_before = statistics.median(a.rate for a, _ in pairs)
        rates_after = statistics.median(b.rate for _, b in pairs)
        ratios = statistics.median(b.rate / a.rate for a, b in pairs if a.rate)
        cpu_before = statistics.median(a.cpu for a, _ in pairs)
        cpu_after = statistics.median(b.cpu for _, b in pairs)
        out(
            f"| {path} | {size // MiB} MiB | {rates_before:.1f} | {rates_after:.1f} | {ratios:.3f} "
            f"| {cpu_before:.2f} | {cpu_after:.2f} |"
        )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rate-runs", type=int, default=3)
    parser.add_argument("--rate-size", type=parse_size, default=100 * MiB)
    parser.add_argument("--kernel-size", type=parse_size, default=1 << 30)
    parser.add_argument("--copy-size", type=parse_size, default=256 * MiB)
    parser.add_argument("--base-ref", default=BASE_REF)
    parser.add_argument("--parts", default="rate,plain")
    parser.add_argument("--quick", action="store_true", help="20 MiB at --rate, 1 run, 256/32 MiB plain")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.rate_runs, args.rate_size = 1, 1, 20 * MiB
        args.kernel_size, args.copy_size = 256 * MiB, 32 * MiB
    out = print
    out("# Faults benchmark\n")
    ok = True
    with tempfile.TemporaryDirectory(prefix="tcpcli-bench-") as built:
        sink = build_c_sink(Path(built))
        if sink is None:
            raise SystemExit("bench_faults: a C compiler (cc) is needed for the upstream sink")
        parts = args.parts.split(",")
        if "rate" in parts:
            ok = rate_part(args.rate_runs, args.rate_size, sink, out) and ok
            out("")
        if "plain" in parts:
            sizes = {"kernel": args.kernel_size, "copy": args.copy_size}
            with base_tree(args.base_ref) as base:
                ok = plain_part(args.runs, sizes, base, sink, out) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
