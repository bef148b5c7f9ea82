"""Detail where it matters: the whole frame at the model's size, plus windows at native resolution.

A 416 px model sees an 848x480 street at half its size and a 1080p frame at a
fifth: a motorcycle 60 px long shrinks to 12-30 px, where NanoDet's scores
fall below what a tracker can use. Running every frame at native resolution
costs 4-20 times more. Like Frigate's motion regions, Vigil keeps the cheap
whole-frame pass and adds a few square windows at the frame's own resolution
of the model's input size (so each costs one whole-frame pass, and all run as
one batch) where something small moves or a small object is being tracked,
then merges the boxes of all passes.

:func:`plan_windows` chooses the windows; :func:`merge_passes` maps window
boxes back, drops those cut by a window's inner edge and suppresses duplicates
within a class group (a car and a "truck" on the same pixels are one object).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from vigil.core import Detections, boxes
from vigil.detection.coco import group_of
from vigil.detection.config import DetailConfig

EDGE_PX = 3.0  # a window box this close to an inner window edge is cut off by it
GROUP_NMS_IOU = 0.55
BIG_MOTION = 2.0  # a moving blob this many times ``small_px`` (at base scale) is a big object, seen well whole

DetectBatch = Callable[[Sequence[np.ndarray]], list[Detections]]


InputSize = Callable[[int, int], tuple[int, int]]


def base_scale(width: int, height: int, input_size: tuple[int, int]) -> float:
    """How much the whole-frame pass shrinks a frame letterboxed into the model's input."""
    return min(1.0, input_size[0] / width, input_size[1] / height)


def plan_windows(
    width: int,
    height: int,
    window: tuple[int, int],
    scale: float,
    motion: np.ndarray,
    tracked: np.ndarray,
    config: DetailConfig,
) -> np.ndarray:
    """Windows (K, 4) in frame pixels, at most ``config.max_windows``.

    Parameters
    ----------
    width, height : int
        Frame size.
    window : (int, int)
        Window width and height (the model's input size for this frame).
    scale : float
        The whole-frame pass's scale (:func:`base_scale`).
    motion : np.ndarray
        (M, 4) boxes of moving blobs in frame pixels.
    tracked : np.ndarray
        (T, 4) boxes of objects being tracked, in frame pixels.
    """
    if not config.enabled or config.max_windows == 0 or scale * config.min_gain > 1.0:
        return np.zeros((0, 4), np.float32)
    side_w, side_h = min(window[0], width), min(window[1], height)
    small = config.small_px / scale  # in frame pixels

    def long_side(b: np.ndarray) -> np.ndarray:
        return np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])

    tracked = np.asarray(tracked, np.float32).reshape(-1, 4)
    motion = np.asarray(motion, np.float32).reshape(-1, 4)
    tracked = tracked[long_side(tracked) < small]
    # Big movers (a bus, a car close to the camera) are seen well by the whole-frame pass: windows are
    # spent on small ones only (on busy scenes a window per blob would triple the detector's cost).
    motion = motion[long_side(motion) < BIG_MOTION * small]
    # Small tracked objects first (they are what the rules follow), then motion by size.
    order = np.argsort(-(motion[:, 2] - motion[:, 0]) * (motion[:, 3] - motion[:, 1]), kind="stable")
    candidates = np.concatenate([tracked, motion[order]])
    windows: list[np.ndarray] = []
    for box in candidates:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        if any(w[0] <= box[0] and w[1] <= box[1] and w[2] >= box[2] and w[3] >= box[3] for w in windows):
            continue
        if len(windows) >= config.max_windows:
            break
        x0 = float(np.clip(cx - side_w / 2, 0, width - side_w))
        y0 = float(np.clip(cy - side_h / 2, 0, height - side_h))
        windows.append(np.array([x0, y0, x0 + side_w, y0 + side_h], np.float32))
    return np.asarray(windows, np.float32).reshape(-1, 4)


def merge_passes(
    whole: Detections, parts: Sequence[Detections], windows: np.ndarray, width: int, height: int
) -> Detections:
    """The whole-frame detections and the windows' (given in window pixels), as one set in frame pixels."""
    shifted = [whole]
    for found, (x0, y0, x1, y1) in zip(parts, np.asarray(windows, np.float32).reshape(-1, 4), strict=True):
        if len(found) == 0:
            continue
        xyxy = found.xyxy + np.array([x0, y0, x0, y0], np.float32)
        cut = (
            ((xyxy[:, 0] - x0 < EDGE_PX) & (x0 > 0))
            | ((xyxy[:, 1] - y0 < EDGE_PX) & (y0 > 0))
            | ((x1 - xyxy[:, 2] < EDGE_PX) & (x1 < width))
            | ((y1 - xyxy[:, 3] < EDGE_PX) & (y1 < height))
        )
        shifted.append(found.with_xyxy(xyxy)[~cut])
    merged = Detections.merge(shifted)
    return group_nms(merged, GROUP_NMS_IOU) if len(shifted) > 1 else merged


def group_nms(found: Detections, iou: float = GROUP_NMS_IOU) -> Detections:
    """NMS within class groups (:data:`~vigil.detection.coco.CLASS_GROUPS`), best score first."""
    if len(found) < 2:
        return found
    labels = found.data.get("label")
    if labels is None:
        return found[boxes.batched_nms(found.xyxy, found.confidence, found.class_id, iou)]
    groups = group_of(labels)
    codes = {g: k for k, g in enumerate(dict.fromkeys(groups))}
    ids = np.array([codes[g] for g in groups], np.int32)
    keep = np.sort(boxes.batched_nms(found.xyxy, found.confidence, ids, iou))
    return found[keep]


class DetailDetector:
    """Runs the whole-frame pass and the detail windows of one frame as one batch.

    Parameters
    ----------
    detect_batch : callable
        Images -> detections, e.g. a detector's ``detect_batch`` or a shared
        pool's batched submit.
    input_size : callable
        Frame (width, height) -> the model's input (width, height) for it.
    config : DetailConfig
    """

    def __init__(self, detect_batch: DetectBatch, input_size: InputSize, config: DetailConfig) -> None:
        self.detect_batch = detect_batch
        self.input_size = input_size
        self.config = config
        self.windows_run = 0

    def __call__(
        self, image: np.ndarray, motion: np.ndarray | None = None, tracked: np.ndarray | None = None
    ) -> Detections:
        h, w = image.shape[:2]
        empty = np.zeros((0, 4), np.float32)
        size = self.input_size(w, h)
        windows = plan_windows(
            w,
            h,
            size,
            base_scale(w, h, size),
            empty if motion is None else motion,
            empty if tracked is None else tracked,
            self.config,
        )
        crops = [image[int(y0) : int(y1), int(x0) : int(x1)] for x0, y0, x1, y1 in windows]
        results = self.detect_batch([image, *crops])
        self.windows_run += len(crops)
        whole = results[0]
        if not crops:
            return group_nms(whole)
        return merge_passes(whole, results[1:], windows, w, h)
