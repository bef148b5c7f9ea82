"""Box maths on (N, 4) xyxy arrays; pure functions that never modify inputs."""

from __future__ import annotations

import numpy as np


def clip(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip boxes to the image; returns a new float32 array."""
    out = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4).copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out


def at_border(xyxy: np.ndarray, width: float, height: float, margin: float) -> np.ndarray:
    """Whether each box (any leading shape, last axis xyxy) lies within ``margin`` px of the image border."""
    b = np.asarray(xyxy)
    return (
        (b[..., 0] <= margin) | (b[..., 1] <= margin) | (b[..., 2] >= width - margin) | (b[..., 3] >= height - margin)
    )


def pad(xyxy: np.ndarray, frac_x: float, frac_y: float | None = None, min_px: float = 0.0) -> np.ndarray:
    """Grow each box by a fraction of its size on every side (and at least ``min_px``)."""
    frac_y = frac_x if frac_y is None else frac_y
    box = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    w = box[:, 2] - box[:, 0]
    h = box[:, 3] - box[:, 1]
    dx = np.maximum(w * frac_x, min_px)
    dy = np.maximum(h * frac_y, min_px)
    return np.stack([box[:, 0] - dx, box[:, 1] - dy, box[:, 2] + dx, box[:, 3] + dy], axis=1)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union, shape (len(a), len(b))."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best first."""
    xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float32), kind="stable")
    keep: list[int] = []
    while len(order):
        best = int(order[0])
        keep.append(best)
        if len(order) == 1:
            break
        ious = iou_matrix(xyxy[best : best + 1], xyxy[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other."""
    xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    # Offset each class into its own coordinate range (the torchvision trick).
    offset = np.asarray(classes, dtype=np.float32)[:, None] * (float(xyxy.max()) + 1.0)
    return nms(xyxy + offset, scores, iou_threshold)


def hull(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest boxes that contain both a[i] and b[i] (covers motion between them)."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    return np.concatenate([np.minimum(a[:, :2], b[:, :2]), np.maximum(a[:, 2:], b[:, 2:])], axis=1)
