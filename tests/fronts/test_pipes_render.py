"""fronts.pipes.render in-process: one rendering for one peer and many; a client label is the difference."""

from __future__ import annotations

from typing import NamedTuple

from tcpcli.fronts.pipes.render import ClientViews, make_renderer
from tcpcli.settings import View, ViewSettings


class FakePeer(NamedTuple):
    """A client as the front sees it (seam.Peer): a label and counts."""

    peer: str
    sent: int = 0
    received: int = 0


def _one_peer(view: ViewSettings, chunks: list[bytes]) -> bytes:
    renderer = make_renderer(view)
    assert renderer is not None
    return b"".join(
        bytes(renderer.feed(chunk, "12:00:00.000000" if view.timestamps else None)) for chunk in chunks
    )


def test_a_hex_dump_with_many_peers_is_the_one_peer_dump_after_the_client_line() -> None:
    view = ViewSettings(view=View.HEX, timestamps=True)
    chunks = [b"hello ", b"\x00\x01\x02" * 7, b"end"]
    written: list[bytes] = []
    views = ClientViews(view, written.append, lambda: "12:00:00.000000")
    client = FakePeer("127.0.0.1:5555")
    for chunk in chunks:
        views.received(client, chunk)
    assert b"".join(written) == b"# 127.0.0.1:5555\n" + _one_peer(view, chunks)


def test_struct_records_with_many_peers_are_the_one_peer_records_with_the_client_first() -> None:
    view = ViewSettings(view=View.STRUCT, struct_format=">H", fields=("n",))
    written: list[bytes] = []
    views = ClientViews(view, written.append, lambda: "unused")
    client = FakePeer("[::1]:7")
    views.received(client, b"\x00\x01\x00")
    views.received(client, b"\x02")
    assert _one_peer(view, [b"\x00\x01\x00", b"\x02"]) == b'{"n":1}\n{"n":2}\n'
    assert b"".join(written) == b'{"client":"[::1]:7","n":1}\n{"client":"[::1]:7","n":2}\n'
    views.received(client, b"\x07")
    assert views.left(client) == "[::1]:7: 1 trailing byte did not make a whole 2-byte record: 07"


def test_raw_bytes_binary_and_timestamps_alone_keep_the_fast_path() -> None:
    for view in (ViewSettings(), ViewSettings(view=View.BINARY), ViewSettings(timestamps=True)):
        assert make_renderer(view) is None
        assert not ClientViews.wanted(view)
