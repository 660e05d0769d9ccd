"""--exec / --sh-exec: each client gets its own copy of a program, joined to it through two pipes.

Client bytes go to the program's stdin and its stdout goes to the client, verbatim, with back-pressure both
ways: a full stdin pipe pauses reading the client, a client that does not keep up pauses reading the
program's stdout (so neither side is ever buffered without bound). The program's stderr is tcpcli's stderr.

End of stream: the client's FIN closes the program's stdin; the program's stdout EOF sends FIN to the client;
once the program has exited and its output is drained the client is closed. When the client goes first the
program gets EOF on stdin (and EPIPE on stdout); if it has not exited EXIT_GRACE seconds later its process
group gets SIGTERM, then SIGKILL after KILL_GRACE. The program runs in a process group of its own, so the
signals reach what a `--sh-exec` pipeline started too, and a Ctrl-C in tcpcli's terminal does not.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence

from tcpcli.core.events import Event, ProgramEnded, ProgramStarted
from tcpcli.engine.client import Client

__all__ = [
    "EXIT_GRACE",
    "KILL_GRACE",
    "Program",
    "Programs",
    "check_program",
    "program_environment",
]

# After its client left (its stdin closed): time for the program to finish by itself, e.g. flush and exit.
EXIT_GRACE = 2.0
# After SIGTERM: time to clean up before SIGKILL (which cannot be ignored).
KILL_GRACE = 1.0
_STDIN, _STDOUT = 0, 1


def program_environment(
    base: Mapping[str, str], peer: tuple[str, int] | None, local: tuple[str, int] | None
) -> dict[str, str]:
    """tcpcli's environment plus TCPCLI_PEER_ADDR/_PORT and TCPCLI_LOCAL_ADDR/_PORT (like ncat's NCAT_*).

    Addresses are plain (no brackets); an IPv4 client of a dual-stack listener is given as its IPv4 address.
    """
    env = dict(base)
    for prefix, address in (("TCPCLI_PEER", peer), ("TCPCLI_LOCAL", local)):
        env.pop(f"{prefix}_ADDR", None)
        env.pop(f"{prefix}_PORT", None)
        if address:
            host = address[0]
            if host.startswith("::ffff:") and "." in host:
                host = host[7:]
            env[f"{prefix}_ADDR"] = host
            env[f"{prefix}_PORT"] = str(address[1])
    return env


def check_program(argv: Sequence[str]) -> str | None:
    """Why argv[0] cannot be run (not found on PATH, not executable, a directory), or None if it can."""
    import shutil

    program = argv[0]
    if os.sep in program:
        if os.path.isdir(program):
            return f"{program} is a directory"
        if not os.path.exists(program):
            return f"{program}: no such file"
        if not os.access(program, os.X_OK):
            return f"{program} is not executable"
        return None
    if shutil.which(program) is None:
        return f"{program}: not found on PATH"
    return None


class Program(asyncio.SubprocessProtocol):
    """One client's program: moves bytes between the client and the pipes, and ends it when it must."""

    def __init__(self, client: Client, ended: Callable[[Program, int | None], None]) -> None:
        self.client = client
        self._ended = ended
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.SubprocessTransport | None = None
        self.pid = 0
        self.forced = ""  # the signal tcpcli had to send, if any
        self._timer: asyncio.TimerHandle | None = None
        self._client_gone = False
        self.done = asyncio.Event()  # exited, and both pipes closed

    # ------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self.transport = transport
        self.pid = transport.get_pid()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == _STDOUT:
            self.client.send(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == _STDOUT and not self._client_gone:
            self.client.finish()  # FIN after what is queued: the program has nothing more to say

    def pause_writing(self) -> None:
        """The program's stdin pipe is full: let the client's data wait in the kernel."""
        self._client_reading(False)

    def resume_writing(self) -> None:
        self._client_reading(True)

    def process_exited(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        """Exited and its output drained: report, and close the client after what is queued for it."""
        assert self.transport is not None
        status = self.transport.get_returncode()
        self.transport.close()
        self.done.set()
        self._ended(self, status)  # None only if the transport was closed on a running program
        if not self._client_gone:
            self.client.close("program exited")

    # ------------------------------------------------------------ what the client does

    def feed(self, data: bytes) -> None:
        """Client bytes for the program's stdin (dropped once the program closed its stdin)."""
        pipe = self._pipe(_STDIN)
        if pipe is not None:
            pipe.write(data)  # type: ignore[attr-defined]

    def end_input(self) -> None:
        """The client sent FIN: the program reads EOF once the pipe's buffer is written."""
        pipe = self._pipe(_STDIN)
        if pipe is not None:
            pipe.write_eof()  # type: ignore[attr-defined]

    def client_writable(self, writable: bool) -> None:
        """The client keeps up (or not): read the program's stdout only as fast as the client takes it."""
        pipe = self._pipe(_STDOUT)
        if pipe is None:
            return
        if writable:
            pipe.resume_reading()  # type: ignore[attr-defined]
        else:
            pipe.pause_reading()  # type: ignore[attr-defined]

    def client_left(self) -> None:
        """No one to talk to: EOF on stdin, EPIPE on stdout, and the countdown to SIGTERM/SIGKILL."""
        self._client_gone = True
        for fd in (_STDIN, _STDOUT):
            if (pipe := self._pipe(fd)) is not None:
                pipe.close()
        self.stop_later()

    def stop_later(self, grace: float = EXIT_GRACE) -> None:
        """SIGTERM after `grace` seconds unless it has exited by then, then SIGKILL after KILL_GRACE."""
        if self._timer is None and not self._exited():
            self._timer = self._loop.call_later(grace, self._signal, signal.SIGTERM)

    # ------------------------------------------------------------ inside

    def _signal(self, signum: signal.Signals) -> None:
        self._timer = None
        if self._exited():
            return
        self.forced = signum.name
        try:
            os.killpg(self.pid, signum)  # the group: a --sh-exec pipeline goes too
        except (ProcessLookupError, PermissionError):
            return
        if signum == signal.SIGTERM:
            self._timer = self._loop.call_later(KILL_GRACE, self._signal, signal.SIGKILL)

    def _exited(self) -> bool:
        return self.transport is None or self.transport.get_returncode() is not None

    def _client_reading(self, reading: bool) -> None:
        self.client.hold_reading("program", not reading)

    def _pipe(self, fd: int) -> asyncio.BaseTransport | None:
        if self.transport is None:
            return None
        pipe = self.transport.get_pipe_transport(fd)
        return None if pipe is None or pipe.is_closing() else pipe


class Programs:
    """Every client's program: started when the client is admitted, all ended (bounded) when stopping."""

    def __init__(
        self,
        argv: tuple[str, ...],
        tasks: asyncio.TaskGroup,
        report: Callable[[Event], None],
        failed: Callable[[Client, str], None],
    ) -> None:
        self._argv = argv
        self._tasks = tasks
        self._report = report  # -v events: started, ended
        self._failed = failed  # a program that cannot start: the server words it (once per client)
        self.running: dict[Client, Program] = {}

    def start(self, client: Client) -> None:
        """Start the client's program; the client is not read until it runs (its data waits in the kernel)."""
        assert client.transport is not None
        client.hold_reading("program", True)
        self._tasks.create_task(self._start(client))

    async def _start(self, client: Client) -> None:
        transport = client.transport
        assert transport is not None
        program = Program(client, self._ended)
        peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
        env = program_environment(os.environ, peer, local)
        try:
            await asyncio.get_running_loop().subprocess_exec(
                lambda: program,
                *self._argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None,
                env=env,
                process_group=0,
            )
        except OSError as exc:
            self._failed(client, exc.strerror or str(exc))
            client.drop("program did not start", reset=True)  # RST: the client sees at once nothing is there
            return
        self.running[client] = program
        self._report(ProgramStarted(client.peer, self._argv[0], program.pid))
        client.on_writable = program.client_writable
        if not client.writable:  # a greeting file still streaming, or a client already behind
            program.client_writable(False)
        if transport.is_closing():  # the client left while the program was starting
            program.client_left()
            return
        client.hold_reading("program", False)

    def received(self, client: Client, data: bytes) -> None:
        if (program := self.running.get(client)) is not None:
            program.feed(data)

    def finished(self, client: Client) -> None:
        if (program := self.running.get(client)) is not None:
            program.end_input()

    def left(self, client: Client) -> None:
        if (program := self.running.get(client)) is not None:
            program.client_left()

    async def stop(self) -> None:
        """tcpcli is stopping: every program gets EOF, then (bounded) SIGTERM and SIGKILL; none is left."""
        programs = list(self.running.values())
        for program in programs:
            program.end_input()
            program.stop_later()
        try:  # SIGKILL cannot be ignored: past its grace only a pipe held open by a stray grandchild is left
            async with asyncio.timeout(EXIT_GRACE + KILL_GRACE + 1.0):
                for program in programs:
                    await program.done.wait()
        except TimeoutError:
            for program in programs:
                if program.transport is not None:
                    program.transport.close()  # closes the pipes (and kills the program if it still runs)

    def _ended(self, program: Program, status: int | None) -> None:
        self.running.pop(program.client, None)
        self._report(ProgramEnded(program.client.peer, program.pid, status, program.forced))
