"""The redaction engine: finds identifying regions and obscures them, failing closed.

Every component that writes or sends pixels goes through :class:`Redactor`
(directly, or through :class:`~vigil.redaction.temporal.TemporalRedactor` for
video). It is the only producer of :class:`~vigil.core.RedactedFrame`.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vigil.core import Detections, Frame, RedactedFrame, boxes
from vigil.core.frame import _REDACTION_STAGE
from vigil.detection.base import Detector, build_detector
from vigil.detection.coco import PERSON_CLASSES, VEHICLE_CLASSES
from vigil.detection.tiling import tiled_detect
from vigil.redaction.config import RedactionConfig
from vigil.redaction.heads import head_boxes, uncovered_heads
from vigil.redaction.obscure import obscure_boxes, obscure_frame

log = logging.getLogger(__name__)

FACE, HEAD, PLATE = "face", "head", "plate"
#: The frame size ``timeout_s`` is given for; larger frames get proportionally more time.
FULL_HD_PIXELS = 1920 * 1080


class FaceDetector(Protocol):
    def detect(self, image: np.ndarray, scale: float = 1.0) -> Detections: ...


class PlateFinder(Protocol):
    def locate(self, image_bgr: np.ndarray, vehicle_xyxy: np.ndarray | None = None) -> np.ndarray: ...


class RedactionError(RuntimeError):
    """Detection failed or ran late; the caller must not use the raw frame."""


def _regions(xyxy: np.ndarray, scores: np.ndarray, kind: str) -> Detections:
    n = len(xyxy)
    return Detections(xyxy, scores, np.zeros(n, np.int32), data={"kind": np.full(n, kind, dtype=object)})


@dataclass(frozen=True)
class Analysis:
    """What the redaction stage found in one frame.

    Attributes
    ----------
    regions : Detections
        The regions to obscure, with ``data["kind"]`` (face, head, plate).
    objects : Detections
        Every confident object the detector found (``data["label"]``), of any
        class: temporal redaction uses their motion to explain what changed
        between frames (a car seen from above is often called "cell phone", and
        its motion is still a car's).
    """

    regions: Detections
    objects: Detections


def pad_sides(
    xyxy: np.ndarray, frac: tuple[float, float, float, float], px: tuple[float, float, float, float]
) -> np.ndarray:
    """Grow boxes by ``frac`` of their width / height plus ``px`` pixels, per side (left, top, right, bottom)."""
    b = np.asarray(xyxy, np.float32).reshape(-1, 4)
    size = np.concatenate([b[:, 2:4] - b[:, 0:2]] * 2, axis=1)
    grow = size * np.asarray(frac, np.float32) + np.asarray(px, np.float32)
    return b + grow * np.array([-1, -1, 1, 1], np.float32)


def _build_plate_finder(cfg: RedactionConfig) -> PlateFinder:
    from vigil.redaction.plates import PlateLocator

    if cfg.plates.locator == "classical":
        return PlateLocator()
    from vigil.detection.text import TextDetector
    from vigil.redaction.plate_text import PlateTextConfig, TextPlateFinder

    text_cfg = PlateTextConfig(fallback="union" if cfg.plates.locator == "text+classical" else "classical")
    text = TextDetector(box_threshold=text_cfg.min_score, device=cfg.detector.device, threads=cfg.detector.threads)
    return TextPlateFinder(text, text_cfg)


class Redactor:
    """Find faces, heads and plates in a frame and obscure them.

    Parameters
    ----------
    config : RedactionConfig, optional
        Detection and obscuring settings.
    face_detector, object_detector, plate_finder : optional
        Injected components (tests, shared detectors); built from ``config`` when omitted.
    workers : int
        Threads that run checked detections (:meth:`analyse_checked`) at the
        same time: one per thread that redacts concurrently (evidence writers,
        the API), so that they do not queue behind each other's deadline.
    """

    def __init__(
        self,
        config: RedactionConfig | None = None,
        *,
        face_detector: FaceDetector | None = None,
        object_detector: Detector | None = None,
        plate_finder: PlateFinder | None = None,
        workers: int = 1,
    ) -> None:
        self.config = config or RedactionConfig()
        self.workers = workers
        cfg = self.config
        if face_detector is None and cfg.faces.enabled:
            from vigil.detection.centerface import CenterFace, model_path_for
            from vigil.runtime import ProviderUnavailableError

            try:
                face_detector = CenterFace(
                    threshold=cfg.faces.threshold,
                    model_path=model_path_for(cfg.faces.precision, cfg.detector.device),
                    device=cfg.detector.device,
                    threads=cfg.detector.threads,
                )
            except ProviderUnavailableError as exc:
                raise ProviderUnavailableError(
                    f"redaction.detector.device is {cfg.detector.device!r} but the face detector cannot use it: "
                    f"{exc}. Set redaction.detector.device: cpu, or run where onnxruntime-gpu finds the GPU"
                ) from exc
        if object_detector is None and (cfg.heads.enabled or cfg.plates.enabled):
            object_detector = build_detector(cfg.detector, "redaction.detector")
        if plate_finder is None and cfg.plates.enabled:
            plate_finder = _build_plate_finder(cfg)
        self._faces = face_detector
        self._objects = object_detector
        self._plates = plate_finder
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._late: Future[Detections] | None = None

    # -- detection ---------------------------------------------------------------
    def face_scale(self, image: np.ndarray) -> float | None:
        """Scale of the face search for a frame of this size; ``None`` when it is searched in tiles."""
        cfg = self.config.faces
        long_side = max(image.shape[:2])
        if long_side > cfg.tile_above:
            return None
        scale = min(cfg.max_upscale, max(1.0, cfg.min_long_side / long_side))
        # A slight enlargement finds little and costs as much as a second pass.
        return 1.0 if scale <= 1.25 else scale

    def _faces_in(self, image: np.ndarray, scale: float | None) -> Detections:
        """Raw (unpadded) faces in ``image`` searched at ``scale`` (``None``: tiles at full resolution)."""
        assert self._faces is not None
        cfg = self.config.faces
        if scale is None:
            return tiled_detect(self._faces.detect, image, cfg.tile_size, cfg.tile_size // 8)
        found = self._faces.detect(image, scale)
        if scale > 1.0:
            # Enlarged for small faces, and as it is for large ones (which outgrow
            # the network's receptive field when enlarged).
            found = Detections.merge([found, self._faces.detect(image, 1.0)])
            found = found[boxes.nms(found.xyxy, found.confidence, 0.3)]
        return found

    def find_faces(self, image: np.ndarray, windows: np.ndarray | None = None) -> Detections:
        """Faces at a scale (and tiling) suited to the image size, padded.

        Parameters
        ----------
        windows : np.ndarray, optional
            (K, 4) px boxes: search only inside them, at the scale the whole frame
            would be searched at (used for frames that changed only locally).
        """
        if self._faces is None:
            return Detections.empty()
        cfg = self.config.faces
        scale = self.face_scale(image)
        if windows is None:
            found = self._faces_in(image, scale)
        else:
            parts = []
            for x1, y1, x2, y2 in np.asarray(windows, np.float32).reshape(-1, 4).astype(int).tolist():
                crop = image[y1:y2, x1:x2]
                if crop.shape[0] < 2 or crop.shape[1] < 2:
                    continue
                # A tiled frame is searched at full resolution: its windows too (in tiles when large).
                crop_scale = scale if scale is not None else (None if max(crop.shape[:2]) > cfg.tile_size else 1.0)
                sub = self._faces_in(crop, crop_scale)
                if len(sub):
                    parts.append(sub.with_xyxy(sub.xyxy + np.array([x1, y1, x1, y1], np.float32)))
            found = Detections.merge(parts)
        return _regions(pad_sides(found.xyxy, cfg.pad, cfg.pad_px), found.confidence, FACE)

    def find_regions(
        self, image: np.ndarray, objects: Detections | None = None, windows: np.ndarray | None = None
    ) -> Detections:
        """All regions to obscure, in image pixels, with ``data["kind"]`` (see :meth:`analyse`)."""
        return self.analyse(image, objects, windows).regions

    def analyse(
        self, image: np.ndarray, objects: Detections | None = None, windows: np.ndarray | None = None
    ) -> Analysis:
        """The regions to obscure in a frame, and the people and vehicles they were derived from.

        Parameters
        ----------
        image : np.ndarray
            HxWx3 BGR frame.
        objects : Detections, optional
            Object detections already made for this frame (e.g. by the incident
            pipeline) with ``data["label"]``; the engine runs its own detector when omitted.
        windows : np.ndarray, optional
            (K, 4) px boxes: search only inside them, for faces and plates, and
            without the object detector (unless ``objects`` are given). Used for a
            video frame that changed only there since the frames around it, whose
            regions (heads included) it keeps.
        """
        cfg = self.config
        faces = self.find_faces(image, windows)
        parts = [faces]
        if objects is None and self._objects is not None and windows is None:
            objects = self._objects.detect(image)
        people, vehicles = self._people_and_vehicles(objects)
        if cfg.heads.enabled and len(people):
            heads = head_boxes(people.xyxy, cfg.heads.pad)
            sure = faces.xyxy[faces.confidence >= cfg.heads.skip_if_face_score]
            keep = uncovered_heads(heads, sure)
            parts.append(_regions(heads[keep], people.confidence[keep], HEAD))
        if cfg.plates.enabled and self._plates is not None:
            if windows is not None:
                parts.append(self._find_plates(image, None, windows))
            elif len(vehicles) or cfg.plates.search_whole_frame or self._objects is None:
                parts.append(self._find_plates(image, vehicles.xyxy if len(vehicles) else None, None))
        merged = Detections.merge(parts)
        h, w = image.shape[:2]
        regions = merged.with_xyxy(boxes.clip(merged.xyxy, w, h)) if len(merged) else merged
        return Analysis(regions, self._confident(objects))

    def _confident(self, objects: Detections | None) -> Detections:
        """Objects of any class at least as confident as the person or vehicle thresholds ask."""
        if objects is None or len(objects) == 0:
            return Detections.empty()
        floor = min(self.config.heads.person_threshold, self.config.plates.vehicle_threshold)
        return objects[objects.confidence >= floor]

    def _people_and_vehicles(self, objects: Detections | None) -> tuple[Detections, Detections]:
        """The confident people (for heads) and vehicles (for plates) among ``objects``."""
        if objects is None or len(objects) == 0:
            return Detections.empty(), Detections.empty()
        cfg = self.config
        labels = objects.data.get("label", np.full(len(objects), "", dtype=object))
        score = objects.confidence
        people = objects[np.isin(labels, list(PERSON_CLASSES)) & (score >= cfg.heads.person_threshold)]
        vehicles = objects[np.isin(labels, list(VEHICLE_CLASSES)) & (score >= cfg.plates.vehicle_threshold)]
        return people, vehicles

    def _find_plates(self, image: np.ndarray, vehicles: np.ndarray | None, windows: np.ndarray | None) -> Detections:
        """Plates on the vehicles, or (without vehicles) in the whole frame or only inside ``windows``."""
        assert self._plates is not None
        if vehicles is not None or windows is None:
            plates = self._plates.locate(image, vehicles)
        else:
            found = []
            for x1, y1, x2, y2 in np.asarray(windows, np.float32).reshape(-1, 4).astype(int).tolist():
                if x2 - x1 >= 8 and y2 - y1 >= 8:
                    found.append(self._plates.locate(image[y1:y2, x1:x2]) + np.array([x1, y1, x1, y1], np.float32))
            plates = np.concatenate(found) if found else np.zeros((0, 4), np.float32)
        return _regions(plates, np.ones(len(plates), np.float32), PLATE)

    # -- fail-closed wrappers ------------------------------------------------------
    def detect_checked(
        self, image: np.ndarray, objects: Detections | None = None, windows: np.ndarray | None = None
    ) -> Detections:
        """:meth:`find_regions` under the configured deadline (see :meth:`analyse_checked`)."""
        return self.analyse_checked(image, objects, windows).regions

    def analyse_checked(
        self, image: np.ndarray, objects: Detections | None = None, windows: np.ndarray | None = None
    ) -> Analysis:
        """:meth:`analyse` under the configured deadline.

        Raises
        ------
        RedactionError
            When detection raised, exceeded ``timeout_s``, or an earlier call is
            still running late (the engine has fallen behind).
        """
        timeout = self.config.timeout_s
        try:
            if timeout is None:
                return self.analyse(image, objects, windows)
            # The face search (in tiles at full resolution above faces.tile_above) costs in proportion to the
            # pixels: a 4K frame gets four times the deadline of a 1080p one, which would otherwise fail closed.
            timeout *= max(1.0, image.shape[0] * image.shape[1] / FULL_HD_PIXELS)
            if self._late is not None and not self._late.done():
                raise RedactionError("redaction is behind: the previous frame is still being analysed")
            with self._executor_lock:  # one executor, even when threads start redacting together
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="vigil-redact")
                future = self._executor.submit(self.analyse, image, objects, windows)
            try:
                return future.result(timeout=timeout)
            except FutureTimeout:
                self._late = future
                raise RedactionError(f"detection took longer than {timeout:.1f}s") from None
        except RedactionError:
            raise
        except Exception as exc:  # any detector failure must fail closed
            raise RedactionError(f"detection failed: {type(exc).__name__}: {exc}") from exc

    def apply(self, image: np.ndarray, regions: Detections) -> np.ndarray:
        """Obscure ``regions`` in a copy of ``image``."""
        return obscure_boxes(image, regions.xyxy, self.config.method, self.config.strength)

    def redact(self, frame: Frame, objects: Detections | None = None) -> RedactedFrame:
        """Redact one frame; on any failure the whole frame is obscured."""
        try:
            regions = self.detect_checked(frame.image, objects)
        except RedactionError as exc:
            log.warning("fail-closed redaction of %s frame %d: %s", frame.source_id, frame.index, exc)
            return self.fail_closed(frame)
        return self.seal(frame, regions)

    def seal(self, frame: Frame, regions: Detections) -> RedactedFrame:
        """Obscure the given regions and wrap the result as a :class:`RedactedFrame`."""
        try:
            image = self.apply(frame.image, regions)
        except Exception:
            log.exception("obscuring regions failed for %s frame %d", frame.source_id, frame.index)
            return self.fail_closed(frame)
        return RedactedFrame(image, frame.source_id, frame.index, frame.pts, regions, stage=_REDACTION_STAGE)

    @staticmethod
    def fail_closed(frame: Frame) -> RedactedFrame:
        """The whole frame obscured: what is sent when redaction cannot be trusted."""
        image = obscure_frame(frame.image)
        return RedactedFrame(image, frame.source_id, frame.index, frame.pts, fail_closed=True, stage=_REDACTION_STAGE)

    def close(self) -> None:
        """Stop the detection threads (a later checked call starts them again)."""
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
