"""User-supplied ONNX detectors in the common export layouts.

A site with a better model (trained on its own cameras, or larger) brings the
ONNX file and names its layout in the config:

``yolov8``
    Ultralytics-style heads: one output ``[1, 4 + C, N]`` (or ``[1, N, 4 + C]``)
    of centre-xywh in input pixels and class scores; ``[1, N, 5 + C]`` with an
    objectness column (YOLOv5/v7); and NMS-free ``[1, N, 6]`` (x1, y1, x2, y2,
    score, class) exports. RGB input in 0..1, letterboxed (centred, pad 114).
``yolox``
    Megvii YOLOX: ``[1, N, 5 + C]`` with sigmoid objectness and class scores,
    boxes either already decoded or raw grid offsets (strides 8/16/32), BGR
    input in 0..255, letterboxed top-left.
``rtdetr``
    RT-DETR / D-FINE: the reference exports take ``images`` and
    ``orig_target_sizes`` and return ``labels``, ``boxes`` (xyxy in original
    pixels) and ``scores``; single-output exports ``[1, Q, 4 + C]`` give
    normalised centre-xywh and class scores. RGB input in 0..1, stretched.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vigil.core import Detections, boxes
from vigil.detection.base import Resize, make_detections, register_detector, to_planar
from vigil.detection.coco import COCO80
from vigil.detection.config import ObjectDetectorConfig
from vigil.runtime import create_session

# boxes in image pixels, scores, class ids, and whether NMS is still needed
Decoded = tuple[np.ndarray, np.ndarray, np.ndarray, bool]


class OnnxDetector:
    """Shared session handling and pre-processing; subclasses decode outputs."""

    rgb = True
    unit_scale = True  # divide pixels by 255
    letterbox = True
    centred = True
    default_size = (640, 640)

    def __init__(self, config: ObjectDetectorConfig) -> None:
        self.config = config
        self.labels = tuple(config.labels or COCO80)
        self._session = create_session(config.resolved_model_path(), device=config.device, threads=config.threads)
        inputs = self._session.get_inputs()
        self._input = inputs[0].name
        self._extra_inputs = [i.name for i in inputs[1:]]
        hw = inputs[0].shape[2:4]
        static = all(isinstance(d, int) and d > 0 for d in hw)
        self.width, self.height = config.input_size or ((hw[1], hw[0]) if static else self.default_size)
        if config.letterbox is not None:
            self.letterbox = config.letterbox

    def _preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Resize]:
        h, w = image.shape[:2]
        if self.letterbox:
            scale = min(self.width / w, self.height / h)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            px = (self.width - nw) // 2 if self.centred else 0
            py = (self.height - nh) // 2 if self.centred else 0
            canvas = np.full((self.height, self.width, 3), 114, dtype=np.uint8)
            canvas[py : py + nh, px : px + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
            resize = Resize(scale, scale, px, py)
        else:
            canvas = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
            resize = Resize(self.width / w, self.height / h)
        k = 1.0 / 255.0 if self.unit_scale else 1.0
        return to_planar(canvas, (k, k, k), reverse=self.rgb), resize

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        """Network input (w, h): fixed for these exports, whatever the frame."""
        return self.width, self.height

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        results = []
        for image in images:
            x, resize = self._preprocess(image)
            feeds = {self._input: x[None]}
            h, w = image.shape[:2]
            for name in self._extra_inputs:  # RT-DETR's orig_target_sizes
                feeds[name] = np.array([[w, h]], dtype=np.int64)
            outputs = self._session.run(None, feeds)
            xyxy, scores, cls, needs_nms = self._decode(outputs, resize, w, h)
            keep = scores >= self.config.score_threshold
            xyxy, scores, cls = xyxy[keep], scores[keep], cls[keep]
            if needs_nms and len(xyxy):
                kept = boxes.batched_nms(xyxy, scores, cls, self.config.nms_iou)
                xyxy, scores, cls = xyxy[kept], scores[kept], cls[kept]
            results.append(make_detections(boxes.clip(xyxy, w, h), scores, cls, self.labels))
        return results

    def _decode(self, outputs: list[np.ndarray], resize: Resize, w: int, h: int) -> Decoded:
        raise NotImplementedError


def _cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    half = b[:, 2:4] / 2
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


class YoloV8Detector(OnnxDetector):
    """Ultralytics-style heads (see module docstring)."""

    def _decode(self, outputs: list[np.ndarray], resize: Resize, w: int, h: int) -> Decoded:
        pred = outputs[0][0]
        nc = len(self.labels)
        if pred.shape[0] in (4 + nc, 5 + nc) and pred.shape[1] not in (4 + nc, 5 + nc, 6):
            pred = pred.T
        cols = pred.shape[1]
        if cols == 6 and nc != 2:  # NMS already inside the model
            return resize.to_image(pred[:, :4], w, h), pred[:, 4], pred[:, 5].astype(np.int32), False
        if cols == 4 + nc:
            cls_scores = pred[:, 4:]
        elif cols == 5 + nc:
            cls_scores = pred[:, 5:] * pred[:, 4:5]
        else:
            raise ValueError(f"yolov8 layout expects {4 + nc} or {5 + nc} columns, model gives {cols}")
        cls = cls_scores.argmax(axis=1).astype(np.int32)
        scores = cls_scores[np.arange(len(cls)), cls]
        return resize.to_image(_cxcywh_to_xyxy(pred[:, :4]), w, h), scores, cls, True


class YoloXDetector(OnnxDetector):
    """Megvii YOLOX heads, decoded or raw (see module docstring)."""

    rgb = False
    unit_scale = False
    centred = False
    strides = (8, 16, 32)

    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        grids, strides = [], []
        for s in self.strides:
            gw, gh = self.width // s, self.height // s
            xs, ys = np.meshgrid(np.arange(gw), np.arange(gh))
            grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
            strides.append(np.full((gw * gh, 1), s))
        return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)

    def _decode(self, outputs: list[np.ndarray], resize: Resize, w: int, h: int) -> Decoded:
        pred = outputs[0][0].astype(np.float32)
        nc = len(self.labels)
        if pred.shape[1] != 5 + nc:
            raise ValueError(f"yolox layout expects {5 + nc} columns, model gives {pred.shape[1]}")
        box = pred[:, :4]
        if np.abs(box[:, :2]).max(initial=0.0) < 8.0:  # raw grid offsets, not pixels
            grid, stride = self._grid()
            if len(grid) != len(box):
                raise ValueError(
                    f"yolox raw output has {len(box)} rows, grid of {self.width}x{self.height} has {len(grid)}"
                )
            box = np.concatenate([(box[:, :2] + grid) * stride, np.exp(box[:, 2:4]) * stride], axis=1)
        cls_scores = pred[:, 5:] * pred[:, 4:5]
        cls = cls_scores.argmax(axis=1).astype(np.int32)
        scores = cls_scores[np.arange(len(cls)), cls]
        return resize.to_image(_cxcywh_to_xyxy(box), w, h), scores, cls, True


class RtDetrDetector(OnnxDetector):
    """RT-DETR / D-FINE transformer heads (see module docstring)."""

    letterbox = False

    def _decode(self, outputs: list[np.ndarray], resize: Resize, w: int, h: int) -> Decoded:
        names = [o.name for o in self._session.get_outputs()]
        if {"labels", "boxes", "scores"} <= set(names):
            by_name = dict(zip(names, outputs, strict=True))
            xyxy = by_name["boxes"][0].astype(np.float32)
            return xyxy, by_name["scores"][0].astype(np.float32), by_name["labels"][0].astype(np.int32), False
        pred = outputs[0][0].astype(np.float32)
        nc = len(self.labels)
        if pred.shape[1] != 4 + nc:
            raise ValueError(f"rtdetr layout expects labels/boxes/scores outputs or {4 + nc} columns")
        xyxy = _cxcywh_to_xyxy(pred[:, :4]) * np.array([w, h, w, h], np.float32)
        cls = pred[:, 4:].argmax(axis=1).astype(np.int32)
        return xyxy, pred[np.arange(len(cls)), 4 + cls], cls, False


register_detector("yolov8")(YoloV8Detector)
register_detector("yolox")(YoloXDetector)
register_detector("rtdetr")(RtDetrDetector)
