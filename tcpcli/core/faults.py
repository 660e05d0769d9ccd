"""The relay's fault engine for one direction of one connection: what to forward, when, and when to fail.

Pure and clock-free: the caller passes the time (`now`, seconds on any monotonic clock) and, for jitter,
a source of uniform numbers in [0, 1). The driver (engine.faulty) feeds each chunk read from the sender
(already rewritten), then asks `next(now)` until it gets `None` (nothing to do until more comes) or a
`Wait` (call again at `until`), doing what each answer says:
- `Write(data)`: write `data` to the receiver now, as one write (one slice with --slice);
- `Wait(until)`: nothing more before `until` (a delayed chunk, the rate's budget, a timed fault);
- `Fire(kind)`: the fault `kind` ("stall", "cut" or "reset") fires now; the line then says `None` forever;
- `End()`: forward the sender's FIN now (it comes after every byte before it, delayed like them).
Rules: order is kept (a chunk is never due before the one ahead of it); a delay is never shorter than asked
(`delay - jitter` at worst); `rate` is a token bucket refilled at `rate` bytes/s, starting empty, holding at
most a tenth of a second's worth, so over any interval from the start at most `rate * t` bytes go; a byte
trigger forwards exactly N bytes, then fires; a time trigger fires at `opened + T` whatever is queued.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from tcpcli.core.faultspec import DirectionFaults, Trigger

__all__ = ["End", "FaultLine", "Fire", "Refusals", "Wait", "Write", "draw_faulty"]

# Fault kinds, in the order they win when two fire at the same byte or the same instant.
KINDS = ("reset", "cut", "stall")
# The rate's bucket holds this many seconds of budget (so writes are at most this much of the rate).
RATE_BURST_SECONDS = 0.1
_TOKEN_SLACK = 1e-6


class Write(NamedTuple):
    data: bytes


class Wait(NamedTuple):
    until: float


class Fire(NamedTuple):
    kind: str  # "stall", "cut" or "reset"


class End(NamedTuple):
    pass


Action = Write | Wait | Fire | End | None
_END = b""  # the FIN's place in the queue (data items are never empty)


class FaultLine:
    """One direction's queue and clock decisions (see the module docstring)."""

    def __init__(self, plan: DirectionFaults, opened: float, draw: Callable[[], float]) -> None:
        self._plan = plan
        self._draw = draw
        self._queue: deque[tuple[float, bytes]] = deque()  # (due time, bytes or _END), in order
        self._last_due = opened
        self.queued = 0  # bytes waiting in the queue
        self.forwarded = 0  # bytes given out in Write actions
        self.fired: str | None = None  # the fault that fired
        self._ended = False
        # byte triggers: the smallest wins, ties in KINDS order; time triggers: absolute deadlines
        sized = [(t.size, KINDS.index(k), k) for k, t in self._triggers() if t.size is not None]
        self._size_trigger = min(sized) if sized else None
        timed = [
            (opened + t.seconds, KINDS.index(k), k) for k, t in self._triggers() if t.seconds is not None
        ]
        self._time_trigger = min(timed) if timed else None
        self._burst = max(1, int(plan.rate * RATE_BURST_SECONDS)) if plan.rate else 0
        self._tokens = 0.0
        self._refilled = opened

    def _triggers(self) -> list[tuple[str, Trigger]]:
        plan = self._plan
        found = [("reset", plan.reset), ("cut", plan.cut), ("stall", plan.stall)]
        return [(kind, trigger) for kind, trigger in found if trigger is not None]

    @property
    def done(self) -> bool:
        """A fault fired, or the FIN was given out: nothing more will come from this line."""
        return self.fired is not None or (self._ended and not self._queue)

    def feed(self, data: bytes, now: float) -> None:
        """A chunk from the sender (empty chunks are ignored); cut into slices with --slice."""
        if not data or self._ended or self.fired is not None:
            return
        plan = self._plan
        size = plan.slice or len(data)
        for start in range(0, len(data), size):
            piece = data[start : start + size]
            hold = self._hold()
            # with --slice and --delay every slice waits its delay after the one before it
            after = self._last_due + hold if plan.slice and hold else self._last_due
            due = max(now + hold, after)
            self._queue.append((due, piece))
            self._last_due = due
            self.queued += len(piece)

    def feed_end(self, now: float) -> None:
        """The sender's FIN: forwarded after everything before it, held like a chunk."""
        if self._ended or self.fired is not None:
            return
        self._ended = True
        due = max(now + self._hold(), self._last_due)
        self._queue.append((due, _END))
        self._last_due = due

    def next(self, now: float) -> Action:
        """What to do now (see the module docstring)."""
        if self.fired is not None:
            return None
        timed = self._time_trigger
        if timed is not None and now >= timed[0]:
            return self._fire(timed[2])
        sized = self._size_trigger
        if sized is not None and self.forwarded >= sized[0]:
            return self._fire(sized[2])
        deadline = timed[0] if timed is not None else None
        if not self._queue:
            return None if deadline is None else Wait(deadline)
        due, item = self._queue[0]
        if due > now:
            return Wait(due if deadline is None else min(due, deadline))
        if item is _END or not item:
            self._queue.popleft()
            return End()
        want = len(item)
        if sized is not None:
            want = min(want, sized[0] - self.forwarded)
        if self._plan.rate:
            want = min(want, self._burst)
            self._refill(now)
            if self._tokens < want - _TOKEN_SLACK:  # float rounding must not make a wake-up wait again
                until = now + (want - self._tokens) / self._plan.rate
                return Wait(until if deadline is None else min(until, deadline))
            self._tokens -= want
        if want < len(item):
            self._queue[0] = (due, item[want:])
            item = item[:want]
        else:
            self._queue.popleft()
        self.queued -= want
        self.forwarded += want
        return Write(item)

    def _fire(self, kind: str) -> Fire:
        self.fired = kind
        self._queue.clear()
        self.queued = 0
        return Fire(kind)

    def _hold(self) -> float:
        """This chunk's delay: the delay plus a uniform jitter in [-J, +J], never below 0."""
        plan = self._plan
        if not plan.jitter:
            return plan.delay
        return max(0.0, plan.delay + plan.jitter * (2.0 * self._draw() - 1.0))

    def _refill(self, now: float) -> None:
        assert self._plan.rate
        if now > self._refilled:
            self._tokens = min(float(self._burst), self._tokens + (now - self._refilled) * self._plan.rate)
            self._refilled = now


def draw_faulty(fault_rate: float, draw: Callable[[], float]) -> bool:
    """--fault-rate: is this connection faulty? `draw` gives uniform numbers in [0, 1); 0 never, 1 always."""
    if fault_rate >= 1.0:
        return True
    if fault_rate <= 0.0:
        return False
    return draw() < fault_rate


class Refusals:
    """--refuse-first N: the first N clients are refused (reset right after accept), the rest served."""

    __slots__ = ("limit", "refused")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refused = 0

    def refuse(self) -> bool:
        """Called once per accepted client, in order of accept: True for the first `limit` of them."""
        if self.refused >= self.limit:
            return False
        self.refused += 1
        return True
