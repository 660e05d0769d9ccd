"""--replace on a chunked stream: any chunking gives the output of the whole; only a match is held."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpcli.core.rewrite import Rewriter, rewrite_whole


def _chunked(pairs: list[tuple[bytes, bytes]], chunks: list[bytes]) -> bytes:
    rewriter = Rewriter(pairs)
    return b"".join(rewriter.feed(chunk) for chunk in chunks) + rewriter.finish()


def test_old_split_across_reads_is_still_replaced() -> None:
    assert _chunked([(b"PING", b"PONG")], [b"xxPI", b"N", b"Gyy"]) == b"xxPONGyy"


def test_only_a_possible_match_is_held_back() -> None:
    rewriter = Rewriter([(b"PING", b"PONG")])
    assert rewriter.feed(b"hello PI") == b"hello "
    assert rewriter.held == 2
    assert rewriter.feed(b"X") == b"PIX"  # it could not become PING: released at once
    assert rewriter.held == 0


def test_what_is_held_is_released_at_the_end() -> None:
    rewriter = Rewriter([(b"PING", b"PONG")])
    assert rewriter.feed(b"PIN") == b""
    assert rewriter.finish() == b"PIN"


def test_lengths_may_differ_and_new_may_be_empty() -> None:
    assert _chunked([(b"a", b"xyz"), (b"secret", b"")], [b"a sec", b"ret b"]) == b"xyz  b"


def test_the_longest_old_wins_at_one_position() -> None:
    pairs = [(b"ab", b"1"), (b"abc", b"2")]
    assert rewrite_whole(b"abcab", pairs) == b"21"
    assert _chunked(pairs, [b"a", b"b", b"c", b"a", b"b"]) == b"21"


def test_a_replacement_is_not_searched_again() -> None:
    assert rewrite_whole(b"aa", [(b"a", b"aa")]) == b"aaaa"


def test_empty_old_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        Rewriter([(b"", b"x")])


@given(
    pairs=st.lists(
        st.tuples(
            st.binary(min_size=1, max_size=4).map(lambda b: bytes(x % 3 + 97 for x in b)),
            st.binary(max_size=3),
        ),
        min_size=1,
        max_size=4,
    ),
    data=st.binary(max_size=60).map(lambda b: bytes(x % 4 + 97 for x in b)),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=12),
)
def test_any_chunking_gives_the_output_of_the_whole(
    pairs: list[tuple[bytes, bytes]], data: bytes, cuts: list[int]
) -> None:
    points = sorted({min(cut, len(data)) for cut in cuts})
    bounds = [0, *points, len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    assert _chunked(pairs, chunks) == rewrite_whole(data, pairs)
    assert _chunked(pairs, [bytes([byte]) for byte in data]) == rewrite_whole(data, pairs)
