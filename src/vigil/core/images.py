"""Image helpers shared by the stages that work on reduced copies of a frame."""

from __future__ import annotations

import cv2
import numpy as np


def shrink(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Reduce without aliasing, fast: area averaging by a whole factor, then linear to the exact size.

    OpenCV's area resampling is ~3x slower at fractional factors (768 -> 320),
    and plain linear resampling aliases fine texture (into false flicker, or
    false motion).
    """
    h, w = image.shape[:2]
    k = min(w // width, h // height)
    if k < 2:  # under twice the size: area resampling is cheap enough
        return image if (w, h) == (width, height) else cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    image = cv2.resize(image, (w // k, h // k), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a single-channel mask: count (background included), labels and stats.

    The same labels and stats as ``cv2.connectedComponentsWithStats`` (whose
    default is Spaghetti), from Grana's block-based algorithm (BBDT), which took
    0.63-0.82 ms against 1.57-1.93 ms on the stationary-object masks of
    car-detection (640x360, one OpenCV thread), and 1.04 against 1.68 ms on a
    dense mask of that size.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return n, labels, stats
