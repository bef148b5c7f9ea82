"""Prove that a frame between two detection frames shows nothing the detections missed.

Temporal redaction runs the detectors on every Nth frame ("keys") and covers
the frames between them with the keys' regions. That is only safe where the
in-between frame shows what a key showed: after a cut, a pan or a fast motion
close to the lens it can hold a face that neither key had. :class:`ChangeCheck`
compares a small grey signature of the in-between frame with both keys, cell
by cell. A cell that differs from *both* keys and is not already covered by the
regions obscured on that frame is unexplained; the frame then gets a detection
of its own, inside windows around the unexplained cells (cheap, the common case
of a person walking) or over the whole frame (a cut or a pan).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vigil.core.images import components


@dataclass(frozen=True)
class Signature:
    """A frame reduced to cell means of its grey levels (int16, so differences do not wrap)."""

    cells: np.ndarray
    cell: int
    width: int
    height: int


class ChangeCheck:
    """Cell-wise comparison of a frame with the two keys around it.

    Parameters
    ----------
    threshold : int
        Mean grey-level difference of a cell (against both keys) above which it
        counts as changed. Compression noise and sensor noise stay well below 15
        on 4-8 px cells of real CCTV.
    target_cells : int
        Cells along the long side of the frame; the cell side is
        ``long_side / target_cells`` px, never under ``min_cell``.
    min_cell : int
        Smallest cell side in px.
    window_pad : float
        Search windows grow by this share of their size on every side (and at
        least ``min_pad_px``), so that a face only partly inside the changed cells
        is searched whole.
    min_pad_px : int
        Least padding of a window, in px.
    full_frame_share : float
        When the windows would cover more than this share of the frame, the whole
        frame is searched instead (a cut, a pan, a change of exposure).
    """

    def __init__(
        self,
        threshold: int = 15,
        target_cells: int = 200,
        min_cell: int = 4,
        window_pad: float = 0.5,
        min_pad_px: int = 24,
        full_frame_share: float = 0.4,
    ) -> None:
        self.threshold = threshold
        self.target_cells = target_cells
        self.min_cell = min_cell
        self.window_pad = window_pad
        self.min_pad_px = min_pad_px
        self.full_frame_share = full_frame_share

    def signature(self, image: np.ndarray) -> Signature:
        """The frame's cell means (about 1 ms at 1080p)."""
        h, w = image.shape[:2]
        cell = max(self.min_cell, round(max(h, w) / self.target_cells))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        small = cv2.resize(grey, (max(1, w // cell), max(1, h // cell)), interpolation=cv2.INTER_AREA)
        return Signature(small.astype(np.int16), cell, w, h)

    def changed(self, frame: Signature, before: Signature, after: Signature) -> np.ndarray:
        """(rows, cols) bool: cells of ``frame`` that differ from both keys.

        A key of another size (the stream changed) explains nothing.
        """
        changed = np.ones(frame.cells.shape, dtype=bool)
        for key in (before, after):
            if key.cells.shape == frame.cells.shape and key.cell == frame.cell:
                changed &= np.abs(frame.cells - key.cells) > self.threshold
        return changed

    @staticmethod
    def cells_inside(sig: Signature, xyxy: np.ndarray) -> np.ndarray:
        """Cells lying wholly inside one of the boxes (px, xyxy)."""
        mask = np.zeros(sig.cells.shape, dtype=bool)
        c = sig.cell
        for x1, y1, x2, y2 in np.asarray(xyxy, np.float32).reshape(-1, 4):
            c1, r1 = int(np.ceil(x1 / c)), int(np.ceil(y1 / c))
            c2, r2 = int(np.floor(x2 / c)), int(np.floor(y2 / c))
            if c2 > c1 and r2 > r1:
                mask[max(r1, 0) : r2, max(c1, 0) : c2] = True
        return mask

    @staticmethod
    def cells_touching(sig: Signature, xyxy: np.ndarray) -> np.ndarray:
        """Cells that overlap one of the boxes at all (px, xyxy)."""
        mask = np.zeros(sig.cells.shape, dtype=bool)
        c = sig.cell
        for x1, y1, x2, y2 in np.asarray(xyxy, np.float32).reshape(-1, 4):
            c1, r1 = int(np.floor(x1 / c)), int(np.floor(y1 / c))
            c2, r2 = int(np.ceil(x2 / c)), int(np.ceil(y2 / c))
            mask[max(r1, 0) : max(r2, 0), max(c1, 0) : max(c2, 0)] = True
        return mask

    def windows(self, sig: Signature, unexplained: np.ndarray) -> np.ndarray | None:
        """(K, 4) px windows to search around the unexplained cells; ``None`` for the whole frame.

        Returns an empty array when nothing is unexplained.
        """
        if not unexplained.any():
            return np.zeros((0, 4), np.float32)
        n, _, stats = components(unexplained.astype(np.uint8))
        c = sig.cell
        xywh = stats[1:n, :4].astype(np.float32) * c
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        size = np.maximum(xywh[:, 2:], 1.0)
        pad = np.maximum(size * self.window_pad, self.min_pad_px)
        boxes = np.concatenate([boxes[:, :2] - pad, boxes[:, 2:] + pad], axis=1)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, sig.width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, sig.height)
        boxes = merge_overlapping(boxes)
        area = float(((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).sum())
        if area > self.full_frame_share * sig.width * sig.height:
            return None
        return boxes


def merge_overlapping(boxes: np.ndarray) -> np.ndarray:
    """Replace boxes that intersect by their enclosing box until none intersect."""
    out = [b for b in np.asarray(boxes, np.float32).reshape(-1, 4)]
    merged = True
    while merged and len(out) > 1:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                a, b = out[i], out[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    out[i] = np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return np.asarray(out, np.float32).reshape(-1, 4)
