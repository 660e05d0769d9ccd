"""The terminal front for one peer or many: one screen, one input line, one toolbar, one frame queue.

What the peers sent waits in the Inbox and is drawn once per frame, as much as the pacer says fits in a
frame's drawing time, so a flood (from one peer or from one of many clients) costs a bounded amount of
drawing per frame and typed keys, typed lines and Ctrl-C keep their turn on the loop. With many clients each
line carries its client's label and each client has a view of its own (a split character stays whole).
Whoever drives it (one.py: a connection; many.py: the many-peer engine's Sink) says what Enter, Ctrl-D and
Ctrl-C do to the peers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

from prompt_toolkit.input import Input
from prompt_toolkit.output import Output

from tcpcli.fronts.terminal.display import flood_note
from tcpcli.fronts.terminal.front import Front
from tcpcli.fronts.terminal.inbox import Batch, Chunk, Gone, Inbox
from tcpcli.fronts.terminal.labels import LabelledFeeds, label_of
from tcpcli.fronts.terminal.pacing import FramePacer
from tcpcli.fronts.terminal.plainfront import PlainFront
from tcpcli.fronts.terminal.render import NOTE, WARNING
from tcpcli.fronts.terminal.toolbar import LinkState, Stats, toolbar_fragments
from tcpcli.fronts.terminal.typed import InputRules, Refuse, decide_line, split_lines
from tcpcli.fronts.terminal.views import make_view
from tcpcli.settings import Settings, View

__all__ = ["FLOOD_TAIL", "FRAME", "Peers", "Terminal"]

# Received data is drawn at most once per frame: what arrives meanwhile is printed in one go.
FRAME = 0.03
# After a skip, a frame shows only the newest bytes: a flood scrolls past faster than anyone reads anyway.
FLOOD_TAIL = 4 * 1024


@dataclass(frozen=True)
class Peers:
    """What the terminal needs from whoever drives it.

    `send(data)` sends a typed line's bytes (to the peer, or to every client); `counts()` is (received, sent)
    in bytes for the toolbar; `clients()` is how many clients are connected, None with one peer (no labels,
    no client count).
    """

    title: str
    send: Callable[[bytes], None]
    counts: Callable[[], tuple[int, int]]
    clients: Callable[[], int] | None = None
    tls: tuple[str, bool | None] | None = None  # (version, certificate verified) or None: plain TCP


class Terminal:
    """`start(on_eof, on_interrupt)`, `draw()` as a task, `state` set by the driver, `stop()` at the end."""

    def __init__(
        self,
        settings: Settings,
        peers: Peers,
        inbox: Inbox,
        plain: bool,
        pt_input: Input | None = None,
        pt_output: Output | None = None,
        screen: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """`plain`: a terminal that cannot be driven (plainfront.PlainFront instead of the full screen)."""
        self._settings = settings
        self._peers = peers
        self.inbox = inbox
        self.many = peers.clients is not None
        self.mode = settings.view.view
        self.state = LinkState.OPEN
        self.front: Front | PlainFront
        if plain:
            # the many-peer engine handles SIGINT itself; a lone peer's plain front turns it into Ctrl-C
            self.front = PlainFront(
                settings, lambda: self.mode, self.send_line, catch_sigint=not self.many, out=screen
            )
        else:
            self.front = Front(
                settings,
                lambda: self.mode,
                self.rules,
                self.send_line,
                lambda width: toolbar_fragments(self.stats(), self._can_toggle(), width),
                self._toggle_view if self._can_toggle() else None,
                pt_input,
                pt_output,
                screen,
                environ,
            )
        self.display = self.front.display
        self._feeds = LabelledFeeds(self.display, lambda offset: make_view(self.mode, settings.view, offset))

    # ------------------------------------------------------------ typed lines and keys

    def send_line(self, line: str, secret: bool = False) -> None:
        decision = decide_line(line, self.rules())
        if isinstance(decision, Refuse):  # the validator refuses first; the state may change in between
            self.display.event(decision.message, WARNING)
            return
        if not decision.data and self.mode in (View.BINARY, View.HEX):
            return  # an empty line of hex or escapes is nothing at all
        self._peers.send(decision.data)
        if secret:
            self.display.echo_secret()
        else:
            self.display.echo(split_lines(line) if self.mode in (View.TEXT, View.STRUCT) else [line])

    def rules(self) -> InputRules:
        view, session = self._settings.view, self._settings.session
        return InputRules(self.mode, view.encoding, session.eol, closed=self.state is not LinkState.OPEN)

    @property
    def front_toggles(self) -> bool:
        """F2 works here (a full screen, in text or hex)."""
        return isinstance(self.front, Front) and self._can_toggle()

    def _can_toggle(self) -> bool:
        return self._settings.view.view in (View.TEXT, View.HEX)

    def _toggle_view(self) -> None:
        """F2: text <-> hex, for what is shown and for how typed lines are read (each client's own offset)."""
        self.mode = View.HEX if self.mode is View.TEXT else View.TEXT
        if self.many:
            self._feeds.switch_views()
        else:
            self.display.switch_view(make_view(self.mode, self._settings.view, self.display.position))
        self.display.event(f"view: {self.mode.value} (F2 switches back)")

    def stats(self) -> Stats:
        received, sent = self._peers.counts()
        return Stats(
            peer=self._peers.title,
            mode=self.mode.value,
            encoding=self._settings.view.encoding,
            received=received,
            sent=sent,
            state=self.state,
            clients=self._peers.clients() if self._peers.clients is not None else None,
            tls=self._peers.tls,
            secret=self.front.secret.active,
            input_lines=self.front.input_lines(),
        )

    # ------------------------------------------------------------ the screen, once per frame

    async def draw(self, wake: asyncio.Event) -> Batch:
        """Draw what the inbox holds, frame by frame, until it ends (one peer); returns the last batch."""
        pacer = FramePacer()
        while True:
            await wake.wait()
            wake.clear()
            while True:
                budget = pacer.budget
                batch = self.inbox.take(budget, min(FLOOD_TAIL, budget))
                started = time.perf_counter()
                pacer.record(self.show(batch), time.perf_counter() - started)
                if batch.ended:
                    return batch
                if not batch.more:
                    break
                await asyncio.sleep(FRAME)
            await asyncio.sleep(FRAME)  # what arrives during this frame is drawn together

    def show(self, batch: Batch) -> int:
        """One frame on the screen; returns how many received bytes it drew (for the pacer)."""
        if self.many:
            drawn = self._show_labelled(batch)
        else:
            self.display.received(batch)
            drawn = sum(len(item.data) for item in batch.chunks if isinstance(item, Chunk))
        self.front.peer_said(self.display.last_line)
        self.front.redraw()
        return drawn

    def _show_labelled(self, batch: Batch) -> int:
        if batch.skipped:
            for source, count in batch.skipped_by.items():
                self._feeds.skip(source, count)
            self.display.event(flood_note(batch.skipped, self._settings.session.output), NOTE)
        drawn = 0
        stamps = self._settings.view.timestamps
        for item in batch.chunks:
            if isinstance(item, Chunk):
                stamp = item.stamp if stamps else None
                self._feeds.received(item.source, label_of(item.source), item.data, stamp)
                drawn += len(item.data)
            elif isinstance(item, Gone):
                self._feeds.finish(item.source, label_of(item.source))
            else:
                self.display.event(item.message, item.style)
        return drawn
