"""--reconnect in connect mode: connect, run the stream session, and connect again while stdin goes on.

A loop around the engine: the stdin reader (`engine.feed.StdinFeed`) belongs to the loop, not to one
connection, so the bytes read but not yet sent go to the next connection. The schedule is `core.backoff`;
which failures are worth another attempt is decided here (`RETRIED`), the wording of each in its error.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from tcpcli.connection import Connection
from tcpcli.core.backoff import Backoff
from tcpcli.core.events import Reconnecting, format_address
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.net.connect import target_label
from tcpcli.report import Reporter
from tcpcli.settings import ConnectSettings, Settings

__all__ = ["RETRIED", "Retrying", "peer_of", "probe_until_open", "run_reconnecting"]

# Failures another attempt may cure: refused or unreachable (69), timed out (75), reset (74). Never: a name
# that does not resolve (68), TLS verification (76), permission (77), usage errors, files.
RETRIED = (ExitCode.UNAVAILABLE, ExitCode.TIMEOUT, ExitCode.IO_ERROR)

Opener = Callable[[], Connection]


class Retrying:
    """The schedule of one run and its stderr line (`-v`, or always in a terminal)."""

    def __init__(self, connect: ConnectSettings, reporter: Reporter, always: bool = False) -> None:
        assert connect.reconnect is not None
        self._backoff = Backoff(connect.reconnect_delay, connect.reconnect, random.random)
        self._target = target_label(connect)
        self._reporter = reporter
        self._always = always

    def wait(self, lasted: float | None) -> bool:
        """The attempt ended (`lasted` s connected, None: connecting failed): sleep before the next one.

        SIGINT/SIGTERM end the sleep at once (the face's handlers raise in the main thread). Returns False,
        without waiting, when no attempt is left.
        """
        wait = self._backoff.after(lasted)
        if wait is None:
            return False
        event = Reconnecting(self._target, wait, self._backoff.attempt)
        if self._always:
            self._reporter.always(event)
        else:
            self._reporter.event(event)
        time.sleep(wait)
        return True


def run_reconnecting(open_conn: Opener, settings: Settings, reporter: Reporter) -> int:
    """Stream mode with --reconnect: the exit status of the last connection, or its failure raised.

    A connection that ends before stdin does (the peer's FIN or RST) and a failed connect lead to another
    attempt while the schedule allows; once stdin has ended and was sent, the connection ends as usual.
    """
    from tcpcli.engine.feed import StdinFeed
    from tcpcli.engine.pair import FdPair

    connect = settings.connect
    assert connect is not None
    retrying = Retrying(connect, reporter)
    renderer = None
    if settings.view.view.value in ("hex", "struct"):
        from tcpcli.fronts.pipes.render import make_renderer

        renderer = make_renderer(settings.view)  # one rendering across connections: offsets run on
    feed = StdinFeed(0, settings.session.crlf)
    feed.start()
    while True:
        lasted: float | None = None
        failure: TcpcliError | None = None
        code: int = ExitCode.OK
        try:
            conn = open_conn()
        except TcpcliError as exc:
            if exc.exit_code not in RETRIED:
                raise
            failure = exc
        else:
            started = time.monotonic()
            peer = peer_of(conn, connect)
            pair = FdPair(
                conn, settings.session, settings.view, reporter, peer=peer, renderer=renderer, feed=feed
            )
            try:
                code = pair.run()
                # "peer left" may race with the end of stdin (its FIN crossing ours): the feed knows
                if pair.ended_by != "peer left" or feed.ended:
                    return code  # stdin ended and was sent, or -q, or stdout went away: done
            except TcpcliError as exc:
                # a reset while stdin still flows is worth another connection; -i, stdout and disk are not
                if exc.exit_code is not ExitCode.IO_ERROR or pair.link.input_ended_at is not None:
                    raise
                if exc.message.startswith("writing to stdout"):  # paths.CopyDownlink: not the peer's doing
                    raise
                failure = exc
            finally:
                feed.detach()  # this connection's uplink thread takes no more of stdin
            lasted = time.monotonic() - started
        if not retrying.wait(lasted):
            if failure is not None:
                raise failure
            return code


def peer_of(conn: Connection, connect: ConnectSettings) -> str:
    """The label of one connection's peer: its address, or what the user named for -U and --proxy (there the
    socket's peer is a path-less Unix socket or the proxy, not the target)."""
    target = target_label(connect)
    if connect.unix is not None or connect.proxy is not None:
        return target
    try:
        remote = conn.getpeername()
    except OSError:
        return target
    return format_address(remote[0], remote[1])


def probe_until_open(open_conn: Opener, connect: ConnectSettings, reporter: Reporter, verbose: bool) -> int:
    """`-z --reconnect N`: 0 as soon as the port accepts, 1 when every attempt failed; 68, 76, 77 at once."""
    retrying = Retrying(connect, reporter)
    while True:
        try:
            conn = open_conn()
        except TcpcliError as exc:
            if exc.exit_code not in RETRIED:
                raise
            if not retrying.wait(None):
                if verbose:
                    reporter.error(exc.message)
                return ExitCode.PORT_CLOSED
            continue
        conn.close()
        return ExitCode.OK
