"""The dialogue matcher: a verdict that never depends on how TCP cut the stream."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tcpcli.core.matcher import Hit, Matcher, looks_past_its_end

# Patterns of every kind the matcher treats differently: literals, greedy ends, captures, anchors,
# lookahead, word boundaries, atomic groups and possessive quantifiers (these look past their own end).
PATTERNS = [
    rb"ab",
    rb"a+b",
    rb"(?P<n>a+)",
    rb"(?P<n>[ab]+)\r\n",
    rb"^a",
    rb"b$",
    rb"a(?=b)",
    rb"a\b",
    rb"\x00a",
    rb"(?>a+)b",
    rb"a*+\n",
    rb"(?:ab|ba)\0",
    rb"",
]
ALPHABET = b"ab\r\n\x00 "


def run(chunks: list[bytes], expects: list[bytes], fail_on: bytes | None) -> list[tuple[object, ...]]:
    """Feed the chunks in order; the hits in order (kind, consumed, seen, groups) and the leftover."""
    matcher = Matcher()
    pending = [re.compile(p) for p in expects]
    fails = [] if fail_on is None else [re.compile(fail_on)]
    outcome: list[tuple[object, ...]] = []
    for chunk in [b"", *chunks]:  # the driver asks before anything arrived too
        matcher.feed(chunk)
        while pending:
            hit = matcher.advance(pending[0], fails)
            if hit is None:
                break
            outcome.append(tuple(hit))
            if hit.fail_on is not None:
                return outcome
            pending.pop(0)
    outcome.append(("left", matcher.unmatched, len(pending)))
    return outcome


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


@settings(max_examples=400, deadline=None)
@given(
    data=st.binary(max_size=40).map(lambda raw: bytes(ALPHABET[b % len(ALPHABET)] for b in raw)),
    expects=st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3),
    fail_on=st.none() | st.sampled_from(PATTERNS[:-1]),
    cuts=st.lists(st.integers(min_value=0, max_value=100), max_size=8),
)
def test_whole_byte_by_byte_and_random_splits_give_the_same_verdict_and_captures(
    data: bytes, expects: list[bytes], fail_on: bytes | None, cuts: list[int]
) -> None:
    whole = run([data], expects, fail_on)
    assert run([bytes([b]) for b in data], expects, fail_on) == whole
    assert run(split(data, cuts), expects, fail_on) == whole


def test_a_prompt_without_newline_matches() -> None:
    matcher = Matcher()
    matcher.feed(b"login: ")
    hit = matcher.advance(re.compile(rb"login: "), [])
    assert hit == Hit(None, b"login: ", b"login: ", {})


def test_a_pattern_split_across_chunks_matches_once_complete() -> None:
    matcher = Matcher()
    pattern = re.compile(rb"\+PONG\r\n")
    matcher.feed(b"+PO")
    assert matcher.advance(pattern, []) is None
    matcher.feed(b"NG\r")
    assert matcher.advance(pattern, []) is None
    matcher.feed(b"\n+more")
    hit = matcher.advance(pattern, [])
    assert hit is not None and hit.consumed == b"+PONG\r\n"
    assert matcher.unmatched == b"+more"


def test_a_capture_is_taken_as_soon_as_it_is_complete_so_end_it_with_a_terminator() -> None:
    matcher = Matcher()
    matcher.feed(b"v=123\r\n")
    hit = matcher.advance(re.compile(rb"v=(?P<n>\d+)"), [])
    assert hit is not None and hit.groups == {"n": b"1"}  # as if the bytes had come one at a time
    matcher = Matcher()
    matcher.feed(b"v=123\r\n")
    hit = matcher.advance(re.compile(rb"v=(?P<n>\d+)\r\n"), [])
    assert hit is not None and hit.groups == {"n": b"123"}


def test_the_next_expectation_searches_only_what_came_after_the_previous_match() -> None:
    matcher = Matcher()
    matcher.feed(b"OK 1\r\nOK 2\r\n")
    first = matcher.advance(re.compile(rb"OK \d\r\n"), [])
    second = matcher.advance(re.compile(rb"OK \d\r\n"), [])
    assert first is not None and second is not None
    assert (first.consumed, second.consumed) == (b"OK 1\r\n", b"OK 2\r\n")
    assert matcher.advance(re.compile(rb"OK"), []) is None


def test_fail_on_wins_when_it_completes_first_and_also_on_a_tie() -> None:
    matcher = Matcher()
    matcher.feed(b"-ERR nope\r\n+PONG\r\n")
    hit = matcher.advance(re.compile(rb"PONG"), [re.compile(rb"-ERR")])
    assert hit is not None and hit.fail_on == 0 and hit.seen == b"-ERR"
    matcher = Matcher()
    matcher.feed(b"+PONG -ERR")
    hit = matcher.advance(re.compile(rb"PONG"), [re.compile(rb"-ERR")])
    assert hit is not None and hit.fail_on is None  # PONG completed first
    matcher = Matcher()
    matcher.feed(b"XY")
    hit = matcher.advance(re.compile(rb"Y"), [re.compile(rb"XY")])
    assert hit is not None and hit.fail_on == 0  # both complete at the same byte: the fail-on wins


def test_nul_bytes_and_raw_bytes_match() -> None:
    matcher = Matcher()
    matcher.feed(b"\x00\x01\xff\xfe")
    hit = matcher.advance(re.compile(rb"\x00\x01\xff"), [])
    assert hit is not None and hit.consumed == b"\x00\x01\xff"


def test_memory_stays_bounded_and_dropped_bytes_are_handed_over_in_order() -> None:
    matcher = Matcher(limit=1000)
    pattern = re.compile(rb"END")
    for _ in range(50):
        matcher.feed(b"x" * 100)
        assert matcher.advance(pattern, []) is None
        assert len(matcher.unmatched) <= 1000
    assert matcher.take_dropped() == b"x" * 4000
    matcher.feed(b"END")
    hit = matcher.advance(pattern, [])
    assert hit is not None and hit.consumed == b"x" * 1000 + b"END"


def test_which_patterns_look_past_their_end() -> None:
    for source in (rb"a$", rb"\bword\b", rb"a(?=b)", rb"a(?!b)", rb"(?>a+)", rb"a++", rb"\Z"):
        assert looks_past_its_end(re.compile(source)), source
    for source in (rb"PONG", rb"(?<=a)b", rb"^220 ", rb"a+b", rb"(?P<v>\S+)\r\n"):
        assert not looks_past_its_end(re.compile(source)), source
