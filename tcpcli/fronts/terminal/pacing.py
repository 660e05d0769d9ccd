"""How many received bytes to draw per frame, learnt from what the last frames cost.

Drawing cost per byte varies a hundredfold: plain text lines are one styled run each, random bytes become
a styled escape every few bytes. A fixed byte budget would either crawl through text or block the keys for
a quarter of a second on binary junk; a budget that keeps each frame's drawing near a time target does
neither.
"""

from __future__ import annotations

# Drawing time aimed at per frame: well inside the 100 ms a typed key may wait, leaving the loop idle most of
# each 30 ms frame.
TARGET_SECONDS = 0.012
MIN_BUDGET = 1024
MAX_BUDGET = 64 * 1024
START_BUDGET = 16 * 1024
# Frames smaller than this say little about the cost per byte (fixed costs dominate): ignored.
MIN_SAMPLE = 512


class FramePacer:
    """`budget` bytes per frame; `record()` after each frame adjusts it toward TARGET_SECONDS."""

    def __init__(self) -> None:
        self.budget = START_BUDGET

    def record(self, drawn: int, seconds: float) -> None:
        if drawn < MIN_SAMPLE:
            return
        per_second = drawn / max(seconds, 1e-6)
        wanted = int(per_second * TARGET_SECONDS)
        # Move halfway: one odd frame (a GC pause, a burst of escapes) does not swing the budget alone.
        self.budget = max(MIN_BUDGET, min(MAX_BUDGET, (self.budget + wanted) // 2))
