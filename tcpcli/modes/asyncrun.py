"""Running an asyncio engine (the -k hub, the relay) to its end, and turning how it ended into an outcome."""

from __future__ import annotations

import asyncio
import signal
from typing import Protocol

from tcpcli.engine.stderr import bounded_stderr
from tcpcli.errors import TcpcliError

__all__ = ["AsyncEngine", "run_async_engine"]


class AsyncEngine(Protocol):
    """What the hub and the relay share: `run()` returns the exit status; `signal` and `error` say why it
    stopped when a signal or a failure ended it."""

    signal: int | None
    error: TcpcliError | None

    async def run(self) -> int: ...


def run_async_engine(engine: AsyncEngine, interactive: bool) -> int:
    """Run `engine` on a new event loop; its exit status, or KeyboardInterrupt / Terminated / its error raised
    for cli.py to map (130, 143, the error's code)."""
    if interactive:
        code = asyncio.run(engine.run())
    else:
        with bounded_stderr():  # the loop never waits for a stderr nobody reads
            code = asyncio.run(engine.run())
    if engine.signal == signal.SIGINT:
        raise KeyboardInterrupt
    if engine.signal == signal.SIGTERM:
        from tcpcli.errors import Terminated

        raise Terminated
    if engine.error is not None:
        raise engine.error
    return code
