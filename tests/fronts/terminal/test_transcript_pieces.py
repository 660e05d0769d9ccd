"""The relay's terminal transcript in-process: the pipes transcript's lines styled by kind, above the
input line, typed lines to the relay's outbox, a slow screen holding the relay back (no line dropped).

Keys go in through prompt_toolkit's pipe input, the input line draws to DummyOutput, what is printed above it
lands in a StringIO; the relay is a recorder of Controls calls. The real program in a real pty is in
test_relay_terminal.py.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Collection, Iterator

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from tcpcli.engine.seam import Peer
from tcpcli.errors import TcpcliError
from tcpcli.fronts.terminal.transcript import TRANSCRIPT_HIGH_WATER, TerminalTranscript, styled_lines
from tcpcli.settings import Mode, SessionSettings, Settings, View, ViewSettings

ENTER, CTRL_D = "\r", "\x04"
WAIT = 10.0


class RecordingControls:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.holds: list[bool] = []
        self.interrupted = False
        self.changed = asyncio.Event()

    @property
    def outbox(self) -> RecordingControls:
        return self

    @property
    def clients(self) -> Collection[Peer]:
        return ()

    def from_local(self, data: bytes) -> None:
        self.sent.append(data)
        self.changed.set()

    def hold_reading(self, hold: bool) -> None:
        self.holds.append(hold)
        self.changed.set()

    def front_failed(self, error: TcpcliError | None) -> None:
        raise AssertionError(f"the terminal transcript failed: {error}")

    def interrupt(self) -> None:
        self.interrupted = True

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def poll_until(condition: Callable[[], bool]) -> None:
    """For what nothing signals (the screen's text): look again every 10 ms, for at most WAIT seconds."""
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
def keys() -> Iterator[PipeInput]:
    with create_pipe_input() as pipe:
        yield pipe


def settings(view: View = View.TEXT, color: str = "never", timestamps: bool = False) -> Settings:
    return Settings(
        mode=Mode.LISTEN,
        session=SessionSettings(history=False),
        view=ViewSettings(view=view, color=color, timestamps=timestamps),
    )


def make(config: Settings, keys: PipeInput) -> tuple[TerminalTranscript, RecordingControls, io.StringIO]:
    controls = RecordingControls()
    screen = io.StringIO()
    front = TerminalTranscript(
        config, ":6380 -> 127.0.0.1:6379", controls, False, keys, DummyOutput(), screen
    )
    return front, controls, screen


def run(body: Callable[[], object]) -> None:
    async def main() -> None:
        await asyncio.wait_for(body(), WAIT)  # type: ignore[arg-type]

    asyncio.run(main())


def test_the_transcript_lines_show_as_on_pipes_and_peer_markup_and_escapes_stay_inert(
    keys: PipeInput,
) -> None:
    async def body() -> None:
        front, _controls, screen = make(settings(), keys)
        front.start()
        front.opened(1, "127.0.0.1:40000", "127.0.0.1:6379", 1.0)
        front.data(1, ">", b"[bold]hi[/bold]\x1b[2J\r\n", 1.0)
        front.data(1, "<", b"RST", 1.0)
        front.event(1, "<", b"FIN", 1.0)
        front.closed(1, 24, 3, 0.5, 1.0)
        front.warning("#2 upstream 127.0.0.1:9: connection refused")
        assert await front.close(1.0) is None
        text = screen.getvalue()
        assert "\x1b" not in text  # colour is off, and the peer's escape is shown as \x1b
        assert (
            "#1 open 127.0.0.1:40000 -> 127.0.0.1:6379\n"
            "#1 > [bold]hi[/bold]\\x1b[2J\\r\\n\n"
            "#1 < \\x52ST\n"
            "#1 < FIN\n"
            "#1 closed: 24 bytes >, 3 bytes <, 0.500 s\n"
            "-- #2 upstream 127.0.0.1:9: connection refused\n"
        ) in text

    run(body)


def test_client_and_upstream_lines_and_events_have_distinct_styles(keys: PipeInput) -> None:
    async def body() -> None:
        front, _controls, screen = make(settings(color="always"), keys)
        front.start()
        front.data(1, ">", b"up\n", 1.0)
        front.data(1, "<", b"down\n", 1.0)
        front.event(1, ">", b"FIN", 1.0)
        await front.close(1.0)
        text = screen.getvalue()
        assert "\x1b[32m#1 > up\\n" in text  # green
        assert "#1 < down\\n\n" in text and "m#1 < down" not in text  # the terminal's own colour
        assert "\x1b[2m#1 > FIN" in text  # dim

    run(body)


def test_a_typed_line_goes_to_the_relay_outbox_and_ctrl_d_ends_input(keys: PipeInput) -> None:
    async def body() -> None:
        front, controls, screen = make(settings(), keys)
        front.start()
        keys.send_text("PING" + ENTER)
        await controls.until(lambda: controls.sent == [b"PING\n"])
        keys.send_text(CTRL_D)
        await poll_until(lambda: "input ended" in screen.getvalue())
        keys.send_text("more" + ENTER)
        await asyncio.sleep(0.1)  # a line typed after Ctrl-D is never sent (nothing to wait for)
        await front.close(1.0)
        assert controls.sent == [b"PING\n"]
        assert "> PING\n" in screen.getvalue()

    run(body)


def test_a_slow_screen_holds_the_relay_and_shows_every_line(keys: PipeInput) -> None:
    async def body() -> None:
        front, controls, screen = make(settings(view=View.HEX, timestamps=True), keys)
        front.start()
        chunk = bytes(range(256)) * 16
        sent = 0
        while not controls.holds:  # the relay stops calling once held
            front.data(3, "<", chunk, 1_700_000_000.5)
            sent += len(chunk)
            assert sent < 4 * TRANSCRIPT_HIGH_WATER
        await controls.until(lambda: controls.holds == [True, False])  # drawn: the relay goes on
        await front.close(1.0)
        lines = [line for line in screen.getvalue().splitlines() if " #3 < " in line]
        assert len(lines) * 16 == sent  # no line skipped
        assert all(line[8:16] == ".500000 " for line in lines)
        assert lines[-1].endswith(
            "|"
            + bytes(range(0xF0, 0x100)).decode("latin-1").translate({c: "." for c in range(0x7F, 0x100)})
            + "|"
        )

    run(body)


def test_styled_lines_make_anything_unprintable_visible() -> None:
    assert styled_lines(b"#1 > ok\n", "green").plain == "#1 > ok\n"
    assert styled_lines(b"#1 open a\x1b[31m -> b\n", "dim").plain == "#1 open a\\x1b[31m -> b\n"
