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
