"""Consumer health of a supervised camera: failures logged without flooding the log."""

from __future__ import annotations

import logging

from vigil.core import Frame
from vigil.sources.base import Clock

log = logging.getLogger(__name__)


class FailureLog:
    """Logs a failing consumer without flooding: a failure with its traceback, then at most one per ``every_s``.

    At 25 fps a consumer that fails on every frame (or on every other one) would
    otherwise write 25 tracebacks a second; each message counts the failures
    that were not logged since the previous one.
    """

    def __init__(self, camera_id: str, every_s: float, clock: Clock) -> None:
        self.camera_id, self.every_s, self._clock = camera_id, every_s, clock
        self.total = 0
        self._run = 0  # failures in a row
        self._logged_at: float | None = None
        self._unlogged = 0

    def failed(self, frame: Frame) -> None:
        """Call inside the ``except`` block (the traceback is taken from there)."""
        self.total += 1
        self._run += 1
        now = self._clock()
        if self._logged_at is None or now - self._logged_at >= self.every_s:
            more = f"; {self._unlogged} more failed since the last report" if self._unlogged else ""
            log.exception(
                "camera %s: processing frame %d failed (%d in a row%s)", self.camera_id, frame.index, self._run, more
            )
            self._logged_at, self._unlogged = now, 0
        else:
            self._unlogged += 1

    def succeeded(self) -> None:
        self._run = 0
