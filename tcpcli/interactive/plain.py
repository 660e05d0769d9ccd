"""Line mode for a terminal that cannot be driven (`TERM=dumb`, `unknown` or unset: Emacs shell buffers,
serial consoles, some CI logs): no cursor moves, no colour, no toolbar, the terminal's own line editing.

The terminal stays in its normal (cooked) mode, so it echoes what is typed and Enter hands over a line;
Ctrl-D on an empty line ends input (FIN), Ctrl-C quits (130). Received data goes through the same views as
the full screen (controls and escapes made visible) and is printed as it arrives, partial lines included;
events are `-- ` lines, and every ending prints the closing line.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
from collections.abc import Mapping
from typing import TextIO

from tcpcli.core.events import Closed, InputEnded, PeerFinished, SessionOpened, describe
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.interactive.channel import Channel
from tcpcli.interactive.clock import Ending, check_clock
from tcpcli.interactive.inbox import Chunk
from tcpcli.interactive.render import EVENT_PREFIX, stamp_text
from tcpcli.interactive.session import BACKLOG
from tcpcli.interactive.typed import InputRules, Refuse, decide_line
from tcpcli.interactive.views import make_view
from tcpcli.settings import Settings

__all__ = ["DUMB_TERMINALS", "PlainSession", "terminal_can_be_driven"]

# TERM values that promise no cursor addressing (prompt_toolkit's own list, plus unset).
DUMB_TERMINALS = frozenset({"", "dumb", "unknown"})
# How often the typing loop looks at the clock (-i, -q) and at the screen thread's news while no key comes.
TICK = 0.1


def terminal_can_be_driven(environ: Mapping[str, str]) -> bool:
    """False for a terminal that cannot move its cursor: the full screen would garble it."""
    return environ.get("TERM", "").strip().lower() not in DUMB_TERMINALS


class PlainSession:
    """`run()` returns the exit status or raises TcpcliError, as the full-screen session does."""

    def __init__(
        self,
        channel: Channel,
        settings: Settings,
        peer: str,
        started: float,
        tls: tuple[str, bool | None] | None = None,
        stdin_fd: int = 0,
        out: TextIO | None = None,
    ) -> None:
        self._channel = channel
        self._settings = settings
        self._peer = peer
        self._started = started
        self._tls = tls
        self._stdin_fd = stdin_fd
        self._out = out or sys.stdout
        self._lock = threading.Lock()  # one writer at a time: the screen thread and the typing loop
        self._wake = threading.Event()
        self._ended = threading.Event()  # the peer closed or the read failed
        self._error: TcpcliError | None = None
        self._input_open = True
        self._input_ended_at: float | None = None
        self._view = make_view(settings.view.view, settings.view)
        self._at_line_start = True

    def run(self) -> int:
        opened = SessionOpened(self._peer, *self._tls) if self._tls else SessionOpened(self._peer)
        self._event(describe(opened))
        self._event("plain line mode (TERM cannot be driven): Enter sends, Ctrl-D: FIN, Ctrl-C: quit")
        screen = threading.Thread(target=self._show_received, name="tcpcli-plain-screen", daemon=True)
        self._channel.inbox.listen(self._wake.set)
        screen.start()
        ending = ""
        try:
            code, ending = self._type_lines()
        except KeyboardInterrupt:
            code, ending = ExitCode.INTERRUPTED, "interrupted (Ctrl-C)"
        finally:
            self._ended.set()
            self._wake.set()
            screen.join(1.0)
            if ending:
                self._event(ending)
            self._event(describe(self._closed()))
            self._channel.close()
        if self._error is not None:
            raise self._error
        return code

    # ------------------------------------------------------------ typed lines, in the main thread

    def _type_lines(self) -> tuple[int, str]:
        """Until the peer closes, a timer fires or Ctrl-C: (exit status, what ended it)."""
        pending = b""
        while True:
            if self._ended.is_set():
                return ExitCode.OK, "" if self._error else describe(PeerFinished())
            if (timeout := self._check_clock()) is not None:
                return timeout
            readable = self._input_open and select.select([self._stdin_fd], [], [], TICK)[0]
            if not readable:
                if not self._input_open:
                    self._ended.wait(TICK)
                continue
            data = os.read(self._stdin_fd, 4096)
            if not data:  # Ctrl-D on an empty line
                self._end_input()
                continue
            pending += data
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                self._send(raw.decode(self._settings.view.encoding, "replace"))

    def _send(self, line: str) -> None:
        session, view = self._settings.session, self._settings.view
        decision = decide_line(line, InputRules(view.view, view.encoding, session.eol))
        if isinstance(decision, Refuse):
            self._event(f"not sent: {decision.message}")
        else:
            self._channel.send(decision.data)
        self._at_line_start = True  # the terminal echoed the line and its Enter

    def _end_input(self) -> None:
        half_close = self._settings.session.half_close
        if half_close:
            self._channel.half_close()
        self._input_open = False
        self._input_ended_at = time.monotonic()
        self._event(describe(InputEnded(sent_fin=half_close)))

    def _check_clock(self) -> tuple[int, str] | None:
        """-i and -q, decided as the full screen decides them."""
        session = self._settings.session
        verdict = check_clock(session, self._channel.last_traffic, self._input_ended_at, time.monotonic())
        if not isinstance(verdict, Ending):
            return None
        if verdict.error is not None:
            self._error = verdict.error
            return verdict.error.exit_code, ""
        return ExitCode.OK, verdict.message

    # ------------------------------------------------------------ received data, in a thread

    def _show_received(self) -> None:
        inbox = self._channel.inbox
        while True:
            self._wake.wait()
            self._wake.clear()
            batch = inbox.take(BACKLOG, BACKLOG)
            text = "".join(self._render(chunk) for chunk in batch.chunks)
            if batch.ended:
                text += self._view.finish().plain
            if text:
                self._write(text)
            if batch.ended:
                self._error = batch.error
                self._ended.set()
                return
            if self._ended.is_set():
                return

    def _render(self, chunk: Chunk) -> str:
        shown = self._view.feed(chunk.data).plain
        if chunk.stamp is None or not self._settings.view.timestamps:
            return shown
        return stamp_text(chunk.stamp, own_line=self._view.line_based).plain + shown

    def _event(self, message: str) -> None:
        self._write(("" if self._at_line_start else "\n") + EVENT_PREFIX + message + "\n")

    def _write(self, text: str) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._out.write(text)
            self._out.flush()
            self._at_line_start = text.endswith("\n")

    def _closed(self) -> Closed:
        return Closed(self._channel.sent, self._channel.received, time.monotonic() - self._started)
