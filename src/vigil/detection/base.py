"""The detector interface, the plugin registry and shared pre-processing.

Detectors are plugins chosen by ``type`` in the config (as in Frigate). Each
returns :class:`~vigil.core.Detections` in the pixel coordinates of the image it
was given, with ``data["label"]`` naming the class, so later stages never need
to know which model produced a box.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import cv2
import numpy as np

from vigil.core import Detections

if TYPE_CHECKING:
    from vigil.detection.config import ObjectDetectorConfig


@runtime_checkable
class Detector(Protocol):
    """Anything that turns BGR images into detections."""

    labels: tuple[str, ...]

    def detect(self, image: np.ndarray) -> Detections:
        """Detect objects in one HxWx3 BGR uint8 image."""
        ...

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Detect objects in several images (batched when the model allows)."""
        ...

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        """The network input (w, h) a frame of this size is fitted into (windows at native resolution use it)."""
        ...


DetectorFactory = Callable[["ObjectDetectorConfig"], Detector]
_REGISTRY: dict[str, DetectorFactory] = {}


def register_detector(type_name: str) -> Callable[[DetectorFactory], DetectorFactory]:
    """Decorator that makes a detector selectable by ``type`` in the config."""

    def wrap(factory: DetectorFactory) -> DetectorFactory:
        _REGISTRY[type_name] = factory
        return factory

    return wrap


def build_detector(config: ObjectDetectorConfig, field: str = "detector") -> Detector:
    """Instantiate the detector plugin named by ``config.type``; ``field`` names the config in errors."""
    # Importing the modules registers the built-in plugins.
    from vigil.detection import nanodet, onnx_layouts  # noqa: F401
    from vigil.runtime import ProviderUnavailableError

    try:
        factory = _REGISTRY[config.type]
    except KeyError:
        raise ValueError(f"unknown detector type {config.type!r}; known: {sorted(_REGISTRY)}") from None
    try:
        return factory(config)
    except ProviderUnavailableError as exc:
        # Never a silent CPU fallback: name the field, so that the operator sees what to change.
        raise ProviderUnavailableError(
            f"{field}.device is {config.device!r} but it cannot be used here: {exc}. Install onnxruntime-gpu "
            f"with a matching CUDA (and TensorRT) on a machine with an NVIDIA GPU, or set {field}.device: cpu"
        ) from exc


@dataclass(frozen=True)
class Resize:
    """How an image was mapped onto the network input, to map boxes back."""

    scale_x: float
    scale_y: float
    pad_x: float = 0.0
    pad_y: float = 0.0

    def to_image(self, xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
        """Map network-input boxes back to the original image, clipped."""
        out = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale_x
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale_y
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
        return out


def fit_image(
    image: np.ndarray, width: int, height: int, letterbox: bool, pad_value: int = 114, centred: bool = False
) -> tuple[np.ndarray, Resize]:
    """Resize to the network size, either stretched or letterboxed (top-left or centred)."""
    h, w = image.shape[:2]
    if not letterbox:
        resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        return resized, Resize(width / w, height / h)
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    px, py = ((width - nw) // 2, (height - nh) // 2) if centred else (0, 0)
    canvas = np.full((height, width, 3), pad_value, dtype=np.uint8)
    canvas[py : py + nh, px : px + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, Resize(scale, scale, px, py)


def to_planar(
    image: np.ndarray,
    scale: Sequence[float] = (1.0, 1.0, 1.0),
    offset: Sequence[float] = (0.0, 0.0, 0.0),
    out: np.ndarray | None = None,
    reverse: bool = False,
) -> np.ndarray:
    """An HxWx3 uint8 image as a 3xHxW float32 network input: channel ``c`` is ``pixel * scale[c] + offset[c]``.

    One OpenCV pass per channel, written straight into ``out`` (a slot of a
    batch tensor, say): about a tenth of the CPU of numpy's cast, subtract,
    divide and transpose, which took 2.3 ms of a 416x256 input on every
    analysed frame and every detail window. ``reverse`` takes the channels in
    reverse order (BGR frames for an RGB model).
    """
    h, w = image.shape[:2]
    if out is None:
        out = np.empty((3, h, w), np.float32)
    planes = cv2.split(image)
    if reverse:
        planes = planes[::-1]
    for c, plane in enumerate(planes):
        cv2.addWeighted(plane, float(scale[c]), plane, 0.0, float(offset[c]), dst=out[c], dtype=cv2.CV_32F)
    return out


def make_detections(xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, labels: Sequence[str]) -> Detections:
    """Build detections with a ``label`` column from class indices."""
    class_ids = np.asarray(class_ids, dtype=np.int32)
    names = np.asarray([labels[i] if 0 <= i < len(labels) else str(i) for i in class_ids], dtype=object)
    return Detections(xyxy, scores, class_ids, data={"label": names})
