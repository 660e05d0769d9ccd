"""The replay's turn matcher: a verdict that never depends on how the peer's bytes were split."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpcli.core.turns import MATCHED, MISMATCH, PENDING, TurnMatcher

ALPHABET = b"ab\r\n"


def verdict(
    parts: tuple[bytes | re.Pattern[bytes], ...], mode: str, chunks: list[bytes]
) -> tuple[str, bytes]:
    matcher = TurnMatcher(parts, mode)
    for chunk in chunks:
        matcher.feed(chunk)
    return matcher.verdict, matcher.surplus if matcher.verdict == MATCHED else b""


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@pytest.mark.parametrize(
    ("parts", "mode", "received", "expected"),
    [
        ((b"PONG\r\n",), "exact", b"PONG\r\n", MATCHED),
        ((b"PONG\r\n",), "exact", b"PONG\n", MISMATCH),
        ((b"PONG\r\n",), "exact", b"PON", PENDING),
        ((b"PONG\r\n",), "lines", b"PONG\n", MATCHED),
        ((b"PONG\n",), "lines", b"PONG\r\n", MATCHED),
        ((b"a\rb",), "lines", b"a\rb", MATCHED),
        ((b"a\rb",), "lines", b"ab", MISMATCH),
        ((re.compile(rb"\+PONG\r\n"),), "regex", b"+PONG\r\n", MATCHED),
        ((re.compile(rb"\d+\n"),), "exact", b"1234", PENDING),
        ((b"x",), "any", b"whatever", MATCHED),
        ((b"x",), "any", b"", PENDING),
    ],
)
def test_verdicts(
    parts: tuple[bytes | re.Pattern[bytes], ...], mode: str, received: bytes, expected: str
) -> None:
    assert verdict(parts, mode, [received])[0] == expected


def test_what_follows_the_turn_is_kept_for_the_next() -> None:
    matcher = TurnMatcher((b"+OK\r\n",), "exact")
    assert matcher.feed(b"+OK\r\n+OK") == MATCHED
    assert matcher.surplus == b"+OK" and bytes(matcher.received) == b"+OK\r\n"
    assert TurnMatcher((b"+OK\r\n",), "exact", matcher.surplus).verdict == PENDING


PARTS = st.one_of(
    st.tuples(st.binary(min_size=1, max_size=8).map(lambda b: bytes(ALPHABET[x % 4] for x in b))),
    st.just((re.compile(rb"a+b"),)),
    st.just((b"a\r\n", re.compile(rb"b\n"), b"a")),
)


@settings(max_examples=400, deadline=None)
@given(
    parts=PARTS,
    mode=st.sampled_from(["exact", "lines", "regex", "any"]),
    data=st.binary(max_size=16).map(lambda b: bytes(ALPHABET[x % 4] for x in b)),
    cuts=st.lists(st.integers(0, 16), max_size=6),
)
def test_any_split_of_the_peers_bytes_gives_the_same_verdict(
    parts: tuple[bytes | re.Pattern[bytes], ...], mode: str, data: bytes, cuts: list[int]
) -> None:
    whole = verdict(parts, mode, [data])
    one_by_one = verdict(parts, mode, [data[i : i + 1] for i in range(len(data))])
    assert verdict(parts, mode, split(data, cuts))[0] == whole[0] == one_by_one[0]
    if mode != "any":  # `any` takes what arrived so far: its surplus depends on the split by design
        assert verdict(parts, mode, split(data, cuts))[1] == whole[1] == one_by_one[1]
