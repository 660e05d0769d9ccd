"""core.fanout: every recipient gets the batch in order; a sender gets it without its own pieces."""

from __future__ import annotations

import random

from tcpcli.core.fanout import FanOut


def _check(batch: list[tuple[str | None, bytes]]) -> None:
    """Against the obvious (slow) rule."""
    fan_out = FanOut(batch)
    assert fan_out.everything == b"".join(data for _, data in batch)
    senders = {sender for sender, _ in batch if sender is not None}
    assert set(fan_out.runs) == senders
    for sender in senders:
        assert fan_out.without(sender) == b"".join(d for who, d in batch if who != sender)
    assert fan_out.without("nobody") == fan_out.everything


def test_one_piece_from_a_client_or_from_stdin() -> None:
    assert FanOut([("a", b"x")]).without("a") == b""
    only_typed = FanOut([(None, b"typed")])
    assert (only_typed.everything, only_typed.runs) == (b"typed", {})


def test_adjacent_and_separate_runs_of_one_sender() -> None:
    batch: list[tuple[str | None, bytes]] = [("a", b"1"), ("a", b"2"), ("b", b"3"), (None, b"4"), ("a", b"5")]
    fan_out = FanOut(batch)
    assert fan_out.runs["a"] == [[0, 2], [4, 5]]
    assert (fan_out.without("a"), fan_out.without("b")) == (b"34", b"1245")


def test_random_batches_match_the_obvious_rule() -> None:
    rng = random.Random(12)
    for _ in range(500):
        _check(
            [
                (rng.choice([None, "a", "b", "c", "d"]), rng.randbytes(rng.randrange(0, 5)))
                for _ in range(rng.randrange(1, 12))
            ]
        )


def test_a_thousand_senders_in_one_turn() -> None:
    batch: list[tuple[str | None, bytes]] = [(f"c{n}", f"line {n}\n".encode()) for n in range(1000)]
    fan_out = FanOut(batch)
    assert fan_out.without("c0") == fan_out.everything[len(b"line 0\n") :]
    assert fan_out.without("c999") == fan_out.everything[: -len(b"line 999\n")]
