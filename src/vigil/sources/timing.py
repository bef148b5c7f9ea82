"""Timing policies of the supervisor: reconnect backoff and monotonic timestamps across reconnects."""

from __future__ import annotations

from vigil.core.backoff import Backoff

__all__ = ["Backoff", "MonotonicPts"]


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
