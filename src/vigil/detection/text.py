"""Text detection (PP-OCRv6 small, DBNet; Apache-2.0, see assets/models/ppocr_det).

Only where text is, never what it says: Vigil ships the detection network
alone, and no recognition model, so no text is ever read. The network maps an
image to a per-pixel text probability at the input resolution; the boxes are
the connected regions above a threshold, grown back by the margin that DBNet
shrinks text regions by during training (the "unclip" step of PaddleOCR's
DB post-processing, here on axis-aligned boxes).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vigil.assets import PPOCR_DET_PATH
from vigil.runtime import create_session

_DILATE = np.ones((2, 2), np.uint8)


class TextDetector:
    """Boxes of text lines in a BGR image.

    Parameters
    ----------
    bin_threshold : float
        Probability above which a pixel counts as text (PaddleOCR's ``thresh``).
    box_threshold : float
        Least mean probability of a region's pixels to keep it (``box_thresh``).
    unclip : float
        Growth of a region, as DBNet's ``unclip_ratio``: each side moves out by
        ``area * unclip / perimeter``.
    model_path, device, threads
        Passed to :func:`vigil.runtime.create_session`.
    """

    def __init__(
        self,
        bin_threshold: float = 0.3,
        box_threshold: float = 0.5,
        unclip: float = 1.6,
        model_path: Path | str = PPOCR_DET_PATH,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        self.bin_threshold = bin_threshold
        self.box_threshold = box_threshold
        self.unclip = unclip
        self._session = create_session(model_path, device=device, threads=threads)
        self._input = self._session.get_inputs()[0].name

    def probability(self, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Text probability map (H, W) of ``image`` resized to ``size`` (width, height; multiples of 32)."""
        net = cv2.resize(image, size, interpolation=cv2.INTER_AREA if size[0] < image.shape[1] else cv2.INTER_LINEAR)
        blob = cv2.dnn.blobFromImage(net, 2.0 / 255.0, size, (127.5, 127.5, 127.5), swapRB=False, crop=False)
        (prob,) = self._session.run(None, {self._input: blob})
        return prob[0, 0]

    def detect(self, image: np.ndarray, long_side: int = 960) -> tuple[np.ndarray, np.ndarray]:
        """Text boxes (N, 4) xyxy in image pixels and their scores (N,).

        Parameters
        ----------
        image : np.ndarray
            HxWx3 BGR uint8.
        long_side : int
            The image is resized so that its long side is about this (rounded
            to multiples of 32, never below 32) before the network runs.
        """
        h, w = image.shape[:2]
        s = long_side / max(h, w)
        size = (max(32, round(w * s / 32) * 32), max(32, round(h * s / 32) * 32))
        prob = self.probability(image, size)
        xyxy, scores = self.boxes(prob)
        if len(xyxy):
            xyxy[:, [0, 2]] *= w / size[0]
            xyxy[:, [1, 3]] *= h / size[1]
            xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w)
            xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h)
        return xyxy, scores

    def boxes(self, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Regions of a probability map as unclipped xyxy boxes (map pixels) and mean probabilities."""
        mask = cv2.dilate((prob > self.bin_threshold).astype(np.uint8), _DILATE)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
        if n <= 1:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        stats = stats[1:]
        sums = np.bincount(labels.ravel(), weights=prob.ravel(), minlength=n)[1:]
        mean = sums / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
        x, y = stats[:, cv2.CC_STAT_LEFT].astype(np.float32), stats[:, cv2.CC_STAT_TOP].astype(np.float32)
        bw, bh = stats[:, cv2.CC_STAT_WIDTH].astype(np.float32), stats[:, cv2.CC_STAT_HEIGHT].astype(np.float32)
        keep = (np.minimum(bw, bh) >= 3) & (mean >= self.box_threshold)
        x, y, bw, bh, mean = x[keep], y[keep], bw[keep], bh[keep], mean[keep]
        d = bw * bh * self.unclip / (2 * (bw + bh))
        xyxy = np.stack([x - d, y - d, x + bw + d, y + bh + d], axis=1).astype(np.float32)
        return xyxy, mean.astype(np.float32)
