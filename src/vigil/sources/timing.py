"""Timing policies of the supervisor: reconnect backoff and monotonic timestamps across reconnects."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Reconnect delays: ``initial_s * factor**n``, capped at ``max_s``, minus up to ``jitter`` of it.

    Jitter spreads the reconnects of many cameras that lost the same switch or
    NVR, so they do not all hammer it at the same instant. It only shortens a
    delay, so ``max_s`` is a true upper bound.
    """

    def __init__(
        self,
        max_s: float,
        initial_s: float = 0.5,
        factor: float = 2.0,
        jitter: float = 0.25,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if max_s <= 0 or initial_s <= 0 or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("need max_s > 0, initial_s > 0, factor >= 1 and 0 <= jitter < 1")
        self.max_s, self.initial_s, self.factor, self.jitter = max_s, initial_s, factor, jitter
        self._rng = rng
        self.attempts = 0

    def next_delay(self) -> float:
        base = min(self.max_s, self.initial_s * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        return base * (1.0 - self.jitter * self._rng())

    def reset(self) -> None:
        self.attempts = 0


class MonotonicPts:
    """Puts the timestamps of successive connections on one increasing timeline.

    A restarted RTSP session (or MJPEG connection) starts its clock near 0
    again. Rules that measure durations (a vehicle stopped for 30 s) need time
    that never goes back, and that also counts the outage: so the first frame
    of a new connection is placed after the last frame by the real time that
    passed in between (at least one frame interval), and later frames keep the
    stream's own spacing. Within a connection a backwards jump (a timestamp
    wrap, a broken muxer) is absorbed the same way.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._last: float | None = None
        self._last_at = 0.0
        self._interval = 0.04
        self._new_connection = False

    def new_connection(self) -> None:
        self._new_connection = True

    def __call__(self, pts: float, now: float) -> float:
        if self._last is None:
            out = pts
        else:
            out = pts + self._offset
            if self._new_connection or out <= self._last:
                gap = max(self._interval, now - self._last_at) if self._new_connection else self._interval
                self._offset = self._last + gap - pts
                out = self._last + gap
            elif out - self._last < 10 * self._interval + 1.0:
                self._interval = 0.9 * self._interval + 0.1 * (out - self._last)
        self._new_connection = False
        self._last, self._last_at = out, now
        return out
