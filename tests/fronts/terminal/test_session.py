"""The session's decisions, driven through prompt_toolkit's pipe input against a real loopback peer.

No terminal here: keys go in through `create_pipe_input()`, the input line draws to `DummyOutput()`, and what
would be printed above it lands in a StringIO. Fast, so the key handling can be covered case by case.
"""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from tcpcli.errors import TcpcliError
from tcpcli.fronts.terminal.one import InteractiveSession
from tcpcli.modes.terminal import start_channel
from tcpcli.settings import Mode, SessionSettings, Settings, View, ViewSettings
from tests.fronts.terminal.conftest import read_until

ENTER, CTRL_C, CTRL_D, F2 = "\r", "\x03", "\x04", "\x1bOQ"
Pair = tuple[socket.socket, socket.socket]
T = TypeVar("T")


@pytest.fixture
def pair() -> Iterator[Pair]:
    """(ours, theirs): a real TCP connection on loopback."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        theirs, _ = listener.accept()
    theirs.settimeout(5)
    yield ours, theirs
    ours.close()
    theirs.close()


@pytest.fixture
def keys() -> Iterator[PipeInput]:
    with create_pipe_input() as pipe:
        yield pipe


def settings(view: View = View.TEXT, **session: Any) -> Settings:
    return Settings(
        mode=Mode.CONNECT,
        session=SessionSettings()._replace(**session),
        view=ViewSettings(view=view, color="never"),
    )


class Run:
    """One session on `ours`, with the peer's socket and the text printed above the input line."""

    def __init__(self, ours: socket.socket, keys: PipeInput, tmp_path: Path, config: Settings) -> None:
        self.screen = io.StringIO()
        self.session = InteractiveSession(
            start_channel(ours, config, "127.0.0.1:9"),
            config,
            "127.0.0.1:9",
            pt_input=keys,
            pt_output=DummyOutput(),
            screen=self.screen,
            environ={"XDG_STATE_HOME": str(tmp_path / "state")},
        )


async def in_thread(function: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_enter_sends_the_line_with_its_ending_and_echoes_it(
    pair: Pair, keys: PipeInput, tmp_path: Path
) -> None:
    ours, theirs = pair
    session = Run(ours, keys, tmp_path, settings(eol=b"\r\n"))

    async def scenario() -> tuple[bytes, int]:
        task = asyncio.create_task(session.session.run())
        keys.send_text("EHLO me" + ENTER)
        received = await in_thread(read_until, theirs, b"\n")
        keys.send_text(CTRL_C)
        return received, await task

    assert run(scenario()) == (b"EHLO me\r\n", 130)
    # Ctrl-C ends with the same closing line as every other ending (issue 11 item 10)
    assert (
        "Ctrl-Z: suspend\n> EHLO me\n-- interrupted (Ctrl-C)\n-- closed: sent 9 bytes, received 0 bytes in "
        in (session.screen.getvalue())
    )


def test_ctrl_d_sends_fin_then_the_late_reply_shows_and_peer_close_exits_0(
    pair: Pair, keys: PipeInput, tmp_path: Path
) -> None:
    ours, theirs = pair
    session = Run(ours, keys, tmp_path, settings())

    async def scenario() -> tuple[bytes, int]:
        task = asyncio.create_task(session.session.run())
        keys.send_text(CTRL_D)
        fin = await in_thread(theirs.recv, 10)
        theirs.sendall(b"late reply\n")
        theirs.close()
        return fin, await task

    assert run(scenario()) == (b"", 0)
    screen = session.screen.getvalue()
    assert screen.index("sent FIN") < screen.index("late reply") < screen.index("peer closed its side")


def test_refused_hex_sends_nothing_and_good_hex_has_no_line_ending(
    pair: Pair, keys: PipeInput, tmp_path: Path
) -> None:
    ours, theirs = pair
    session = Run(ours, keys, tmp_path, settings(View.HEX))

    async def scenario() -> tuple[bytes, int]:
        task = asyncio.create_task(session.session.run())
        keys.send_text("0x4g" + ENTER)  # refused: stays in the line
        keys.send_text("\x01\x0b" + "41 42" + ENTER)  # Ctrl-A Ctrl-K clears it
        received = await in_thread(read_until, theirs, b"B")
        keys.send_text(CTRL_C)
        return received, await task

    assert run(scenario()) == (b"AB", 130)


def test_binary_escapes_and_f2_toggle(pair: Pair, keys: PipeInput, tmp_path: Path) -> None:
    ours, theirs = pair
    session = Run(ours, keys, tmp_path, settings())

    async def scenario() -> tuple[bytes, int]:
        task = asyncio.create_task(session.session.run())
        keys.send_text(F2 + "ff 00" + ENTER)
        received = await in_thread(read_until, theirs, b"\x00")
        theirs.sendall(b"\x01\x02")
        await asyncio.sleep(0.3)
        keys.send_text(CTRL_C)
        return received, await task

    assert run(scenario()) == (b"\xff\x00", 130)
    assert "00000000  01 02" in session.screen.getvalue()


def test_reset_by_peer_is_exit_74(pair: Pair, keys: PipeInput, tmp_path: Path) -> None:
    ours, theirs = pair
    session = Run(ours, keys, tmp_path, settings())
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    theirs.close()
    with pytest.raises(TcpcliError) as caught:
        run(session.session.run())
    assert caught.value.exit_code == 74


def test_idle_timeout_is_exit_75(pair: Pair, keys: PipeInput, tmp_path: Path) -> None:
    ours, _theirs = pair
    session = Run(ours, keys, tmp_path, settings(idle_timeout=0.3))
    with pytest.raises(TcpcliError) as caught:
        run(session.session.run())
    assert caught.value.exit_code == 75
    assert "-i 0.3" in caught.value.message


def test_quit_after_eof_ends_with_0_while_the_peer_stays(pair: Pair, keys: PipeInput, tmp_path: Path) -> None:
    ours, _theirs = pair
    session = Run(ours, keys, tmp_path, settings(quit_after_eof=0.2))
    keys.send_text(CTRL_D)
    assert run(session.session.run()) == 0
    assert "-q: peer still open" in session.screen.getvalue()


def test_flood_is_shown_in_part_and_kept_whole_in_the_output_file(
    pair: Pair, keys: PipeInput, tmp_path: Path
) -> None:
    ours, theirs = pair
    out = tmp_path / "all.bin"
    session = Run(ours, keys, tmp_path, settings(output=str(out)))
    payload = b"".join(b"line %07d of a flood\n" % i for i in range(200_000))  # 4.2 MB

    async def scenario() -> int:
        task = asyncio.create_task(session.session.run())
        await in_thread(theirs.sendall, payload)
        theirs.close()
        return await task

    assert run(scenario()) == 0
    screen = session.screen.getvalue()
    assert "not shown (flood); all of them are in" in screen
    assert "line 0199999 of a flood\n" in screen  # the end is always on screen
    assert len(screen) < len(payload) // 4
    assert out.read_bytes() == payload


def test_ctrl_d_with_no_half_close_sends_no_fin_and_refuses_more_input(
    pair: Pair, keys: PipeInput, tmp_path: Path
) -> None:
    ours, theirs = pair
    session = Run(ours, keys, tmp_path, settings(half_close=False))

    async def scenario() -> tuple[bytes, int]:
        task = asyncio.create_task(session.session.run())
        keys.send_text(CTRL_D + "more" + ENTER)
        await asyncio.sleep(0.3)
        assert session.session.stats().state.value == "input ended"
        theirs.setblocking(False)
        with pytest.raises(BlockingIOError):  # neither FIN nor "more" arrived
            theirs.recv(10)
        theirs.sendall(b"still here\n")
        theirs.close()
        return b"", await task

    assert run(scenario()) == (b"", 0)
    screen = session.screen.getvalue()
    assert "input ended (no FIN: --no-half-close)" in screen and "still here" in screen
