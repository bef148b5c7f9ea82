"""The in-memory rings of a camera's recent seconds: decoded frames (compact I420) or its compressed stream.

Memory only, a few seconds (privacy invariant 1); see :mod:`vigil.incidents.evidence`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from vigil.core import Frame
from vigil.sources.encoded import Encoded


@dataclass(slots=True)
class RingFrame:
    """A decoded raw frame kept compactly: I420 planes (half of BGR), or BGR when a side is odd."""

    pixels: np.ndarray
    source_id: str
    index: int
    pts: float
    yuv: bool

    @classmethod
    def of(cls, frame: Frame) -> RingFrame:
        h, w = frame.image.shape[:2]
        if h % 2 or w % 2:
            return cls(frame.image, frame.source_id, frame.index, frame.pts, False)
        return cls(cv2.cvtColor(frame.image, cv2.COLOR_BGR2YUV_I420), frame.source_id, frame.index, frame.pts, True)

    def frame(self, pts: float | None = None) -> Frame:
        image = cv2.cvtColor(self.pixels, cv2.COLOR_YUV2BGR_I420) if self.yuv else self.pixels
        return Frame(image, self.source_id, self.index, self.pts if pts is None else pts)


class FrameRing:
    """The last ``seconds`` of decoded raw frames, thinned to at most ``fps`` (memory only), as I420.

    Used for sources that do not hand over their compressed stream.
    """

    def __init__(self, seconds: float, fps: float) -> None:
        self.seconds = seconds
        self.period = 1.0 / fps
        self._frames: deque[RingFrame] = deque()
        self._last_pts = -float("inf")

    def due(self, pts: float) -> bool:
        """Whether a frame at ``pts`` would be kept (no side effect)."""
        return not (pts - self._last_pts < self.period - 1e-3 and pts >= self._last_pts)

    def push(self, frame: Frame) -> RingFrame | None:
        """Keep the frame if it is due at the ring's rate; returns what was kept."""
        if not self.due(frame.pts):
            return None
        self._last_pts = frame.pts
        kept = RingFrame.of(frame)
        self._frames.append(kept)
        while self._frames and frame.pts - self._frames[0].pts > self.seconds:
            self._frames.popleft()
        return kept

    def frames(self) -> list[RingFrame]:
        return list(self._frames)

    @property
    def nbytes(self) -> int:
        return sum(f.pixels.nbytes for f in self._frames)


class EncodedRing:
    """The camera's compressed stream for the last ``seconds``, from the key unit before them (memory only).

    Parameters
    ----------
    seconds : float
        Pre-roll to keep.
    fps : float
        Images (every unit a key unit: MJPEG, image folders) are thinned to this rate.
    max_bytes : int
        Bound of the ring; a stream whose key frames are too far apart for it keeps less pre-roll.
    """

    def __init__(self, seconds: float, fps: float, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.seconds = seconds
        self.period = 1.0 / fps
        self.max_bytes = max_bytes
        self._units: deque[Encoded] = deque()
        self._bytes = 0
        self._newest = -float("inf")
        self._last_image = -float("inf")

    def push(self, unit: Encoded) -> bool:
        """Keep a unit (images at the ring's rate); returns whether it was kept."""
        if unit.pts is not None:
            self._newest = max(self._newest, unit.pts)
            if unit.raw is None and unit.key:  # a still image: thinned like decoded frames
                if 0 <= unit.pts - self._last_image < self.period - 1e-3:
                    return False
                self._last_image = unit.pts
        self._units.append(unit)
        self._bytes += unit.size
        self._trim()
        return True

    def since(self, pts: float) -> list[Encoded]:
        """The units from the last key unit at or before ``pts`` (or the oldest one kept) to the newest."""
        units = list(self._units)
        start = 0
        for i, u in enumerate(units):
            if u.key and u.pts is not None and u.pts <= pts:
                start = i
        return units[start:]

    @property
    def nbytes(self) -> int:
        return self._bytes

    def _trim(self) -> None:
        """Drop whole key-to-key runs that ended before the pre-roll, and the oldest runs beyond ``max_bytes``."""
        cutoff = self._newest - self.seconds
        while True:
            nxt = next((i for i, u in enumerate(self._units) if i > 0 and u.key), None)
            if nxt is None:
                return
            second_key = self._units[nxt]
            old_enough = second_key.pts is not None and second_key.pts <= cutoff
            if not (old_enough or self._bytes > self.max_bytes):
                return
            for _ in range(nxt):
                self._bytes -= self._units.popleft().size
