"""NanoDet-g 416 (Apache-2.0, COCO-80), the bundled object detector.

The model's heads give, per cell of the stride 8/16/32 grids, 80 sigmoid class
scores and 4 x 11 distribution logits (GFL): the distance from the cell centre
to each side is the expectation of a softmax over 11 bins, times the stride.
See assets/models/nanodet/PROVENANCE.md for how the file was made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vigil.core import Detections, boxes
from vigil.detection.base import Resize, fit_image, make_detections, register_detector, to_planar
from vigil.detection.coco import COCO80
from vigil.detection.config import ObjectDetectorConfig
from vigil.runtime import create_session

_MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)  # BGR
_STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
# (pixel - mean) / std as pixel * scale + offset, for to_planar.
_SCALE = tuple(float(v) for v in 1.0 / _STD)
_OFFSET = tuple(float(v) for v in -_MEAN / _STD)
STRIDES = (8, 16, 32)
REG_BINS = 11


def center_priors(width: int, height: int, strides: Sequence[int] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (x, y) and their strides for all levels, in level order."""
    centres, level_strides = [], []
    for stride in strides:
        gw, gh = int(np.ceil(width / stride)), int(np.ceil(height / stride))
        xs, ys = np.meshgrid(np.arange(gw), np.arange(gh))
        pts = (np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32) + 0.5) * stride
        centres.append(pts)
        level_strides.append(np.full(len(pts), stride, dtype=np.float32))
    return np.concatenate(centres), np.concatenate(level_strides)


def decode_distributions(dist: np.ndarray, centres: np.ndarray, strides: np.ndarray) -> np.ndarray:
    """(N, 44) bin logits -> (N, 4) xyxy boxes around the cell centres."""
    logits = dist.reshape(-1, 4, REG_BINS)
    logits = logits - logits.max(axis=2, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=2, keepdims=True)
    dist_ltrb = (prob @ np.arange(REG_BINS, dtype=np.float32)) * strides[:, None]
    return np.concatenate([centres - dist_ltrb[:, :2], centres + dist_ltrb[:, 2:]], axis=1)


class NanoDet:
    """COCO-80 object detector with the Vigil :class:`~vigil.detection.base.Detector` interface."""

    def __init__(self, config: ObjectDetectorConfig | None = None) -> None:
        self.config = config or ObjectDetectorConfig()
        self.labels = tuple(self.config.labels or COCO80)
        self._session = create_session(
            self.config.resolved_model_path(), device=self.config.device, threads=self.config.threads
        )
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        shape_hw = inp.shape[2:4]
        # A model with free input dims is fed the smallest multiple-of-32 canvas
        # that holds the letterboxed frame (416x256 for 16:9), not a 416 square.
        self._dynamic = not all(isinstance(d, int) for d in shape_hw)
        self._batched = not isinstance(inp.shape[0], int)  # a model exported with batch 1 runs frames one by one
        self.width, self.height = self.config.input_size or (
            (416, 416) if self._dynamic else (shape_hw[1], shape_hw[0])
        )
        self._letterbox = True if self.config.letterbox is None else self.config.letterbox
        self._priors: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._score_out, self._dist_out = self._pair_outputs()

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        """Network input (w, h) for a frame: the configured square, trimmed to the frame's aspect."""
        if not (self._dynamic and self._letterbox) or self.config.input_size is not None:
            return self.width, self.height
        side = max(self.width, self.height)
        if width >= height:
            return side, min(side, int(np.ceil(side * height / width / 32) * 32))
        return min(side, int(np.ceil(side * width / height / 32) * 32)), side

    def _priors_for(self, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        if (w, h) not in self._priors:
            self._priors[(w, h)] = center_priors(w, h)
        return self._priors[(w, h)]

    def _pair_outputs(self) -> tuple[list[str], list[str]]:
        """Order score and distribution outputs by level (largest grid first)."""
        scores: list[tuple[int, str]] = []
        dists: list[tuple[int, str]] = []
        for out in self._session.get_outputs():
            n, c = out.shape[-2], out.shape[-1]
            if c == len(self.labels):
                scores.append((n, out.name))
            elif c == 4 * REG_BINS:
                dists.append((n, out.name))
        if not scores or len(scores) != len(dists):
            raise ValueError("NanoDet model outputs do not match [1,N,classes] + [1,N,44] per level")
        scores.sort(key=lambda t: -t[0] if isinstance(t[0], int) else 0)
        dists.sort(key=lambda t: -t[0] if isinstance(t[0], int) else 0)
        return [name for _, name in scores], [name for _, name in dists]

    def _preprocess(
        self, image: np.ndarray, w: int, h: int, out: np.ndarray | None = None
    ) -> tuple[np.ndarray, Resize]:
        """The image fitted to (w, h) and normalised, as 3xHxW float32 (into ``out`` when given)."""
        fitted, resize = fit_image(image, w, h, self._letterbox, pad_value=0, centred=True)
        return to_planar(fitted, _SCALE, _OFFSET, out), resize

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray], max_batch: int = 8) -> list[Detections]:
        """Detect in several images; images that share an input size run as one batch.

        The model has a free batch axis (``tools/convert_nanodet/make_dynamic.py``),
        so frames of one size from several cameras, or the detail windows of one
        frame, cost one session call.
        """
        results: list[Detections | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            groups.setdefault(self.input_size_for(image.shape[1], image.shape[0]), []).append(i)
        k = len(self._score_out)
        for (w, h), members in groups.items():
            centres, strides = self._priors_for(w, h)
            for start in range(0, len(members), max_batch if self._batched else 1):
                chunk = members[start : start + (max_batch if self._batched else 1)]
                x = np.empty((len(chunk), 3, h, w), np.float32)
                prepared = [self._preprocess(images[i], w, h, x[j]) for j, i in enumerate(chunk)]
                outs = self._session.run(self._score_out + self._dist_out, {self._input: x})
                for j, i in enumerate(chunk):
                    scores = np.concatenate([o[j].reshape(-1, o.shape[-1]) for o in outs[:k]])
                    dists = np.concatenate([o[j].reshape(-1, o.shape[-1]) for o in outs[k:]])
                    image = images[i]
                    results[i] = self._postprocess(
                        scores, dists, centres, strides, prepared[j][1], image.shape[1], image.shape[0]
                    )
        return results  # type: ignore[return-value]

    def _postprocess(
        self,
        scores: np.ndarray,
        dists: np.ndarray,
        centres: np.ndarray,
        strides: np.ndarray,
        resize: Resize,
        w: int,
        h: int,
    ) -> Detections:
        cls = scores.argmax(axis=1)
        best = scores[np.arange(len(scores)), cls]
        keep = best >= self.config.score_threshold
        if not keep.any():
            return make_detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int32), self.labels)
        xyxy = decode_distributions(dists[keep], centres[keep], strides[keep])
        xyxy = resize.to_image(xyxy, w, h)
        best, cls = best[keep], cls[keep]
        kept = boxes.batched_nms(xyxy, best, cls, self.config.nms_iou)
        return make_detections(xyxy[kept], best[kept], cls[kept], self.labels)


@register_detector("nanodet")
def _build(config: ObjectDetectorConfig) -> NanoDet:
    return NanoDet(config)
