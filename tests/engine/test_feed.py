"""engine.feed: --reconnect's stdin, read once, handed to one connection at a time, never lost or mixed up."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import pytest

from tcpcli.engine.feed import Detached, StdinFeed


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A pipe as stdin. At the end the write end closes first and the feed's reader thread is awaited, then
    the read end closes: a reader still looping would otherwise read the next test's pipe (it gets the same
    descriptor number) and steal its bytes, as seen in CI as a take() that waited forever."""
    read_end, write_end = os.pipe()
    pipe_inode = os.fstat(read_end).st_ino
    yield read_end, write_end
    for fd in (write_end, read_end):  # EOF first: the reader thread ends
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_ino == pipe_inode:  # still ours (a test may have closed it already)
                os.close(fd)
        if fd == write_end:
            for thread in threading.enumerate():
                if thread.name == "tcpcli-stdin-feed":
                    thread.join(5)


def test_a_chunk_given_back_goes_first_to_the_next_owner(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    feed = StdinFeed(read_end)
    feed.start()
    os.write(write_end, b"abcdef")
    first = feed.attach()
    chunk = feed.take(first)
    assert chunk == b"abcdef"
    feed.settle(first, chunk[2:])  # the kernel took "ab", then the connection died
    second = feed.attach()
    os.write(write_end, b"gh")
    assert feed.take(second) == b"cdef"
    feed.settle(second)
    assert feed.take(second) == b"gh"
    feed.settle(second)
    os.close(write_end)
    assert feed.take(second) == b""
    assert feed.ended


def test_a_replaced_owner_waiting_for_input_is_detached_and_takes_nothing(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    feed = StdinFeed(read_end)
    feed.start()
    old = feed.attach()
    outcome: list[object] = []

    def wait_old() -> None:
        try:
            outcome.append(feed.take(old))
        except Detached as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait_old)
    waiter.start()
    new = feed.attach()
    waiter.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], Detached)
    os.write(write_end, b"for the new one")
    assert feed.take(new) == b"for the new one"


def test_crlf_is_applied_once_as_read(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    feed = StdinFeed(read_end, crlf=True)
    feed.start()
    os.write(write_end, b"a\nb\n")
    owner = feed.attach()
    chunk = feed.take(owner)
    feed.settle(owner, chunk)  # given back whole: not translated again
    assert feed.take(feed.attach()) == b"a\r\nb\r\n"
