"""Irreversible obscuring of image regions.

Every method first throws information away (the region is reduced to a few
cells per side) and only then smooths the result, so no deconvolution can bring
the original back. ``strength`` is the number of cells across the region's
shorter side: lower is stronger.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

Method = Literal["blur", "pixelate", "fill"]

MIN_CELL_PX = 3  # a cell narrower than this would leave small faces legible


def _cells(w: int, h: int, strength: int) -> tuple[int, int]:
    short = min(w, h)
    n_short = max(1, min(strength, short // MIN_CELL_PX))
    cell = short / n_short
    return max(1, round(w / cell)), max(1, round(h / cell))


def obscure_region(roi: np.ndarray, method: Method, strength: int) -> np.ndarray:
    """Return an obscured copy of ``roi`` (HxWx3 uint8)."""
    h, w = roi.shape[:2]
    if h == 0 or w == 0:
        return roi.copy()
    if method == "fill":
        return np.zeros_like(roi)
    cw, ch = _cells(w, h, strength)
    small = cv2.resize(roi, (cw, ch), interpolation=cv2.INTER_AREA)
    if method == "pixelate":
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    k = max(3, (min(w, h) // max(1, min(cw, ch))) | 1)
    return cv2.GaussianBlur(out, (k, k), 0)


def obscure_boxes(image: np.ndarray, xyxy: np.ndarray, method: Method, strength: int) -> np.ndarray:
    """Return a copy of ``image`` with every box obscured (boxes are clipped).

    Each box is obscured from the original pixels, so where boxes overlap the
    result is still an obscured version of the original, whichever box wins.
    """
    out = image.copy()
    h, w = image.shape[:2]
    for x1, y1, x2, y2 in np.asarray(xyxy, dtype=np.float32).reshape(-1, 4):
        ix1, iy1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        ix2, iy2 = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
        if ix2 - ix1 < 1 or iy2 - iy1 < 1:
            continue
        out[iy1:iy2, ix1:ix2] = obscure_region(image[iy1:iy2, ix1:ix2], method, strength)
    return out


def obscure_frame(image: np.ndarray) -> np.ndarray:
    """Obscure a whole frame beyond recognition (the fail-closed path).

    The frame keeps only a 16-cell-wide colour sketch, enough for an operator to
    see that something is there, never who.
    """
    h, w = image.shape[:2]
    cw = 16
    ch = max(1, round(h * cw / max(w, 1)))
    small = cv2.resize(image, (cw, ch), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
