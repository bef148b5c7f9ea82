"""Licence plates found as text: a text detector's boxes, kept where a plate can be.

A plate is a short line of large characters low on a vehicle. The lower part
of every vehicle box is cropped, rescaled to about ``vehicle_width`` px and
searched by the text detector (:class:`vigil.detection.text.TextDetector`,
detection only: nothing is ever read). Text boxes are kept when they are
plate-like: a line of plausible aspect ratio, width relative to the vehicle,
and position (in the lower part of the vehicle or just below it, not far off
its centre line). Each kept box is grown to a plate's outline (the text region
leaves out the plate's frame and the state name above the characters).
The classical locator (:mod:`vigil.redaction.plates`) runs on every vehicle
as well (``fallback="union"``, the default: on the OpenALPR photos each finds
plates the other misses), or only on vehicles where no plate-like text was
found; it also gives far vehicles a prior box.
Measured figures: ``benchmarks/plates/README.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from vigil.redaction.plates import PlateLocator, _merge


class _Text(Protocol):
    def detect(self, image: np.ndarray, long_side: int = 960) -> tuple[np.ndarray, np.ndarray]: ...


Fallback = Literal["classical", "prior", "none", "union"]


@dataclass(frozen=True)
class PlateTextConfig:
    """Settings of :class:`TextPlateFinder`; fractions are of the vehicle box unless said otherwise.

    Attributes
    ----------
    vehicle_top, vehicle_margin : float
        Search region: from this fraction of the box height down to 10% below
        the box, widened by ``vehicle_margin`` of its width on each side.
    vehicle_width, max_upscale, pixel_budget, max_vehicles, min_vehicle_w : int, float, int, int, float
        Each region is rescaled so the vehicle is ``vehicle_width`` px wide
        (enlarged at most ``max_upscale`` times); all coarser when the searched
        pixels would exceed ``pixel_budget``; only the ``max_vehicles`` widest
        vehicles at least ``min_vehicle_w`` px wide are searched for text.
    min_score : float
        Least mean text probability of a box.
    min_aspect, max_aspect : float
        Width / height of a plate-like text box.
    min_rel_w, max_rel_w : float
        Text box width as a share of the vehicle width.
    min_cy, max_cy, max_dx : float
        Text centre height (from the vehicle top, share of its height) and
        horizontal offset from the vehicle centre (share of its width).
    min_h_px : float
        Least text box height in frame pixels.
    grow_x, grow_top, grow_bottom : float
        Plate box from a text box: each side grown by this share of the text box width / height.
    max_per_vehicle : int
        Most plate boxes per vehicle (best scores first).
    fallback : str
        For vehicles with no plate-like text: ``classical`` (the classical
        locator, with its prior), ``prior`` (the prior box only), ``none``;
        ``union`` runs the classical locator on every vehicle as well.
    """

    vehicle_top: float = 0.3
    vehicle_margin: float = 0.05
    vehicle_width: int = 320
    max_upscale: float = 2.0
    pixel_budget: int = 400_000
    max_vehicles: int = 8
    min_vehicle_w: float = 48.0
    min_score: float = 0.4
    min_aspect: float = 1.2
    max_aspect: float = 6.0
    min_rel_w: float = 0.05
    max_rel_w: float = 0.45
    min_cy: float = 0.35
    max_cy: float = 1.05
    max_dx: float = 0.4
    min_h_px: float = 4.0
    grow_x: float = 0.15
    grow_top: float = 0.35
    grow_bottom: float = 0.2
    max_per_vehicle: int = 2
    fallback: Fallback = "union"


def plate_like(text_xyxy: np.ndarray, scores: np.ndarray, vehicle: np.ndarray, c: PlateTextConfig) -> np.ndarray:
    """Mask of the text boxes (frame pixels) that could be the plate of ``vehicle`` (4,)."""
    t = np.asarray(text_xyxy, np.float32).reshape(-1, 4)
    vx1, vy1, vx2, vy2 = (float(v) for v in vehicle)
    vw, vh = max(vx2 - vx1, 1.0), max(vy2 - vy1, 1.0)
    tw, th = t[:, 2] - t[:, 0], t[:, 3] - t[:, 1]
    cx, cy = (t[:, 0] + t[:, 2]) / 2, (t[:, 1] + t[:, 3]) / 2
    aspect = tw / np.maximum(th, 1e-3)
    return (
        (np.asarray(scores) >= c.min_score)
        & (th >= c.min_h_px)
        & (aspect >= c.min_aspect)
        & (aspect <= c.max_aspect)
        & (tw >= c.min_rel_w * vw)
        & (tw <= c.max_rel_w * vw)
        & ((cy - vy1) / vh >= c.min_cy)
        & ((cy - vy1) / vh <= c.max_cy)
        & (np.abs(cx - (vx1 + vx2) / 2) <= c.max_dx * vw)
    )


def grow_to_plate(text_xyxy: np.ndarray, c: PlateTextConfig) -> np.ndarray:
    """Plate outlines (N, 4) around text boxes (N, 4)."""
    t = np.asarray(text_xyxy, np.float32).reshape(-1, 4)
    tw, th = t[:, 2] - t[:, 0], t[:, 3] - t[:, 1]
    return np.stack(
        [t[:, 0] - c.grow_x * tw, t[:, 1] - c.grow_top * th, t[:, 2] + c.grow_x * tw, t[:, 3] + c.grow_bottom * th],
        axis=1,
    ).astype(np.float32)


class TextPlateFinder:
    """Plate regions from text detection inside vehicles, with a classical fallback.

    Parameters
    ----------
    text_detector
        A :class:`vigil.detection.text.TextDetector` (or a stand-in with its ``detect``).
    config : PlateTextConfig, optional
        Filter and search settings.
    classical : PlateLocator, optional
        The fallback locator (also used for frames searched without vehicles).
    """

    def __init__(
        self, text_detector: _Text, config: PlateTextConfig | None = None, classical: PlateLocator | None = None
    ) -> None:
        self.text = text_detector
        self.config = config or PlateTextConfig()
        self.classical = classical or PlateLocator()
        # Where text already gave a plate, the classical search adds its rows but not its prior box.
        self._classical_rows = PlateLocator(dataclasses.replace(self.classical.config, vehicle_prior=False))

    def locate(self, image_bgr: np.ndarray, vehicle_xyxy: np.ndarray | None = None) -> np.ndarray:
        """Return (M, 4) float32 xyxy plate boxes, clipped to the frame.

        Without vehicle boxes the classical locator searches the whole frame
        (text there is mostly signs and shop fronts, not plates).
        """
        h, w = image_bgr.shape[:2]
        vehicles = None if vehicle_xyxy is None else np.asarray(vehicle_xyxy, np.float32).reshape(-1, 4)
        if vehicles is None or len(vehicles) == 0:
            return self.classical.locate(image_bgr, None)
        c = self.config
        vw = np.maximum(vehicles[:, 2] - vehicles[:, 0], 1.0)
        vh = np.maximum(vehicles[:, 3] - vehicles[:, 1], 1.0)
        scales = np.minimum(c.max_upscale, c.vehicle_width / vw)
        scales[vw < c.min_vehicle_w] = 0.0
        scales[np.argsort(-vw, kind="stable")[c.max_vehicles :]] = 0.0
        searched = float((scales**2 * vw * vh * (1.1 - c.vehicle_top)).sum())
        if searched > c.pixel_budget:
            scales *= np.sqrt(c.pixel_budget / searched)
        found, plated, unplated = [], [], []
        for v, s in zip(vehicles, scales, strict=True):
            plates = self._search(image_bgr, v, float(s)) if s > 0 else np.zeros((0, 4), np.float32)
            if len(plates):
                found.append(plates)
                plated.append(v)
            elif c.fallback != "none":
                unplated.append(v)
        if plated and c.fallback == "union":
            found.append(self._classical_rows.locate(image_bgr, np.array(plated, np.float32)))
        if unplated and c.fallback in ("classical", "union"):
            found.append(self.classical.locate(image_bgr, np.array(unplated, np.float32)))
        elif unplated and c.fallback == "prior":
            found.append(np.array([self.classical.prior_box(v) for v in unplated], np.float32))
        found = [f for f in found if len(f)]
        if not found:
            return np.zeros((0, 4), np.float32)
        allb = np.concatenate(found).astype(np.float32)
        out = _merge(np.concatenate([allb, np.zeros((len(allb), 1), np.float32)], axis=1))[:, :4]
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, w)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, h)
        keep = (out[:, 2] - out[:, 0] >= 1) & (out[:, 3] - out[:, 1] >= 1)
        return out[keep].astype(np.float32)

    def _search(self, image: np.ndarray, vehicle: np.ndarray, scale: float) -> np.ndarray:
        c = self.config
        h, w = image.shape[:2]
        x1, y1, x2, y2 = (float(v) for v in vehicle)
        vw, vh = x2 - x1, y2 - y1
        cx1, cx2 = int(max(0, np.floor(x1 - c.vehicle_margin * vw))), int(min(w, np.ceil(x2 + c.vehicle_margin * vw)))
        cy1, cy2 = int(max(0, np.floor(y1 + c.vehicle_top * vh))), int(min(h, np.ceil(y2 + 0.1 * vh)))
        if cx2 - cx1 < 8 or cy2 - cy1 < 8:
            return np.zeros((0, 4), np.float32)
        crop = image[cy1:cy2, cx1:cx2]
        long_side = max(32, round(max(crop.shape[:2]) * scale))
        text, scores = self.text.detect(crop, long_side)
        if len(text) == 0:
            return np.zeros((0, 4), np.float32)
        text = text + np.array([cx1, cy1, cx1, cy1], np.float32)
        keep = plate_like(text, scores, vehicle, c)
        text, scores = text[keep], scores[keep]
        best = np.argsort(-scores)[: c.max_per_vehicle]
        return grow_to_plate(text[best], c)
