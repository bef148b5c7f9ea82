"""Search large frames in overlapping tiles so that small objects keep enough pixels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vigil.core import Detections, boxes


def tile_origins(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with ``overlap``."""
    if length <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def tiled_detect(
    detect: Callable[[np.ndarray], Detections],
    image: np.ndarray,
    tile: int,
    overlap: int,
    nms_iou: float = 0.3,
) -> Detections:
    """Run ``detect`` on each tile and merge the results in image coordinates."""
    h, w = image.shape[:2]
    parts: list[Detections] = []
    for y0 in tile_origins(h, tile, overlap):
        for x0 in tile_origins(w, tile, overlap):
            found = detect(image[y0 : y0 + tile, x0 : x0 + tile])
            if len(found):
                parts.append(found.with_xyxy(found.xyxy + np.array([x0, y0, x0, y0], np.float32)))
    merged = Detections.merge(parts)
    if len(merged) == 0:
        return merged
    return merged[boxes.nms(merged.xyxy, merged.confidence, nms_iou)]
