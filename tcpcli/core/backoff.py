"""The reconnect schedule (`--reconnect N`, `--reconnect-delay S`): when to try again, and when to give up.

Pure: the caller says how each attempt ended and supplies the randomness; this decides the wait.
- Waits start at `first_delay` seconds and double after each failed attempt, up to CAP (30 s).
- Each wait gets a uniform jitter of +-20 %, so many clients cut off together do not come back together
  (the idea of AWS's "exponential backoff and jitter", bounded here to keep the wait predictable).
- A connection that lasted HEALTHY seconds (10) resets the wait to `first_delay`; one that ended sooner,
  a reset right after accept included, counts as a failed attempt, so a server that accepts and drops at once
  cannot make us spin.
- `retries` more attempts after the first (0 = without limit); attempts are numbered from 1.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["CAP", "HEALTHY", "JITTER", "Backoff"]

CAP = 30.0  # seconds: the longest wait before jitter
JITTER = 0.2  # +-20 %
HEALTHY = 10.0  # seconds connected after which the next wait starts from the beginning again


class Backoff:
    """One run's reconnect schedule. `attempt` is the number of the attempt in progress (1 = the first)."""

    __slots__ = ("_base", "_first", "_random", "_retries", "attempt")

    def __init__(self, first_delay: float, retries: int, random: Callable[[], float]) -> None:
        """`first_delay` seconds (> 0); `retries` >= 0 (0: without limit); `random()` returns [0, 1).

        Raises ValueError for a delay <= 0 or a negative retry count.
        """
        if first_delay <= 0 or retries < 0:  # a zero delay would never grow: a busy loop
            raise ValueError("first_delay must be > 0 and retries >= 0")
        self._first = first_delay
        self._base = first_delay  # the wait before jitter for the next failed attempt
        self._retries = retries
        self._random = random
        self.attempt = 1

    def after(self, lasted: float | None) -> float | None:
        """The attempt in progress ended: `lasted` seconds connected, or None when connecting failed.

        Returns the wait in seconds before the next attempt (and counts it), or None when no attempt is left.
        """
        if self._retries and self.attempt > self._retries:
            return None
        if lasted is not None and lasted >= HEALTHY:
            self._base = self._first
        wait = self._base * (1 + JITTER * (2 * self._random() - 1))
        self._base = min(CAP, self._base * 2)
        self.attempt += 1
        return wait
