"""Shared pieces of the benchmarks: a sink server written in C, for runs where the sink must cost nothing.

The Python sink of bench_stream.py reads 1 MiB per `recv_into`, but each call still pays the interpreter's
few microseconds; a small-write sender (socat's 8 KiB) makes it wake up often, and that shows in the ratios.
`--sink c` swaps in this C program: same job (accept one client on an inherited listening socket, read 1 MiB
blocks until end of stream, report byte count and the monotonic times of the first and last byte), no
interpreter. It needs a C compiler (`cc`); `build_c_sink` returns None when there is none.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

__all__ = ["C_SINK_SOURCE", "SinkReport", "build_c_program", "build_c_sink", "run_c_sink"]

C_SINK_SOURCE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char buffer[1 << 20];

static double seconds(struct timespec t) { return t.tv_sec + t.tv_nsec / 1e9; }

/* argv: listening fd, timeout in seconds. stdout: "bytes first last" (CLOCK_MONOTONIC, as Python's). */
int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: sink FD TIMEOUT\n"); return 2; }
    int listener = atoi(argv[1]);
    double timeout = atof(argv[2]);
    struct timeval limit = { (time_t)timeout, (suseconds_t)((timeout - (time_t)timeout) * 1e6) };
    setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);  /* bounds accept() too */
    int conn = accept(listener, NULL, NULL);
    if (conn < 0) { perror("accept"); return 1; }
    close(listener);
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    long long total = 0;
    struct timespec first = {0, 0}, last;
    for (;;) {
        ssize_t got = recv(conn, buffer, sizeof buffer, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            perror("recv");
            return 1;
        }
        if (got == 0) break;
        if (total == 0) clock_gettime(CLOCK_MONOTONIC, &first);
        total += got;
    }
    clock_gettime(CLOCK_MONOTONIC, &last);
    printf("%lld %.9f %.9f\n", total, seconds(first), seconds(last));
    close(conn);
    return 0;
}
"""


class SinkReport(NamedTuple):
    nbytes: int
    first: float  # time.monotonic() of the first byte
    last: float  # time.monotonic() of the end of stream
    error: str = ""


def build_c_sink(directory: Path | None = None) -> Path | None:
    """Compile the C sink into `directory` (a new temporary one by default); None without a C compiler."""
    return build_c_program("sink", C_SINK_SOURCE, directory)


def build_c_program(name: str, source_text: str, directory: Path | None = None) -> Path | None:
    """Compile one C file into `directory`/`name` (a new temporary directory by default); None without a
    C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    where = directory or Path(tempfile.mkdtemp(prefix="tcpcli-bench-"))
    source = where / f"{name}.c"
    source.write_text(source_text)
    program = where / name
    subprocess.run([compiler, "-O2", "-o", str(program), str(source)], check=True, timeout=60)
    return program


def run_c_sink(program: Path, listener_fd: int, timeout: float) -> SinkReport:
    """Run the C sink on an inherited listening socket until its one client has sent everything."""
    try:
        done = subprocess.run(
            [str(program), str(listener_fd), f"{timeout:g}"],
            pass_fds=(listener_fd,),
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return SinkReport(0, 0.0, 0.0, f"C sink still running after {timeout + 5:g} s")
    if done.returncode != 0:
        return SinkReport(0, 0.0, 0.0, f"C sink failed ({done.returncode}): {done.stderr.strip()}")
    nbytes, first, last = done.stdout.split()
    return SinkReport(int(nbytes), float(first), float(last))
