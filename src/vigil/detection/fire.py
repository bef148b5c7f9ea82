"""Classical fire and smoke detection from colour, flicker and slow change.

No fire or smoke model with a usable licence ships in any registry, so the
baseline is the classical pipeline of the literature, kept deliberately strict
because a false fire alarm sends a fire engine:

Fire
    Pixels of flame colour (red >= green >= blue, the Çelik & Demirel rule
    ``Cr - Cb >= tau`` in YCbCr, or a bright yellow-white core) whose luma
    *flickers* while they stay fire-coloured. Flicker is a luma step against
    the frame ~0.2 s earlier (the previous one at 5 fps) beyond its 3x3
    min/max range (camera jitter and slow edges do not count), after removing
    the global gain change (auto-exposure does not count), averaged over ~1 s
    of ``pts``. Red cars, brick walls, sunsets, brake and traffic lights are
    fire-coloured but steady, and a beacon that blinks is not fire-coloured in
    both frames; a region is reported only after it has persisted in place for
    ``confirm_s``, which moving objects (a car with a flickering reflection)
    fail because they drift.
Smoke
    Grey (or washed-out) pixels that differ from a slow background model (a
    running median, so traffic does not pull it) where smoke acts as a veil:
    the background's texture still shows through (local correlation stays
    high) but its relative contrast drops (edges fade). Such pixels must
    persist, and their region must grow upward from a fixed base over
    ``smoke_confirm_s``. People and vehicles hide the texture behind them,
    appear at full size and move, so they fail; smoke over flat, untextured
    areas is not claimed. This is conservative on purpose.

Everything runs at ``work_width`` pixels wide (smoke at half of that) and all
windows are in seconds of ``pts``, because the detector runs at the analytic
rate (~5 fps), not at the camera's frame rate. A user ONNX model can replace
the pixel rules (:mod:`vigil.detection.fire_onnx`); the same persistence filter
then suppresses its single-frame false positives.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vigil.core import Detections, boxes
from vigil.detection.fire_onnx import FIRE_LABELS, OnnxFireDetector, RegionTracker, Track, to_detections

__all__ = ["FIRE_LABELS", "ClassicalFireDetector", "FireDetectorConfig", "OnnxFireDetector", "build_fire_detector"]
_KERNEL3 = np.ones((3, 3), np.uint8)
_KERNEL5 = np.ones((5, 5), np.uint8)


def _f(default: Any, title: str, description: str, **limits: float) -> Any:
    """A titled, described pydantic field (keeps the config below readable)."""
    return Field(default, title=title, description=description, **limits)


class FireDetectorConfig(BaseModel):
    """Settings of the fire and smoke detectors (times in seconds of ``pts``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    work_width: int = _f(320, "Working width (px)", "Frames are reduced to this width before analysis.", ge=64)
    min_red: int = _f(120, "Minimum red", "Red channel level below which no pixel is fire-coloured.", ge=0, le=255)
    min_chroma_gap: int = _f(
        30, "Cr - Cb gap", "Çelik & Demirel rule: fire pixels have Cr exceeding Cb by at least this.", ge=0, le=255
    )
    core_min_red: int = _f(
        215, "Flame core red", "Bright yellow-white flame cores (red at least this) pass with a smaller gap.", le=255
    )
    core_min_red_blue: int = _f(
        30, "Flame core red - blue", "Red must exceed blue by this in a flame core, so white walls fail.", ge=0
    )
    flicker_delta: int = _f(
        15,
        "Flicker step",
        "Luma change between analysed frames (beyond the 3x3 neighbourhood's range) that counts as flicker.",
        ge=1,
    )
    flicker_lag_s: float = _f(
        0.2,
        "Flicker lag (s)",
        "Flicker compares each frame with the latest one at least this much older (the previous at 5 fps).",
        ge=0,
    )
    flicker_tau_s: float = _f(
        1.0, "Flicker window (s)", "Time constant of the per-pixel flicker and colour averages.", gt=0
    )
    min_flicker: float = _f(
        0.25, "Minimum flicker", "Share of recent frames in which a pixel must flicker.", gt=0, le=1
    )
    min_colour_persistence: float = _f(
        0.4, "Colour persistence", "Share of recent frames in which a pixel must be fire-coloured.", ge=0, le=1
    )
    min_region_px: int = _f(
        6, "Minimum region (px)", "Fewest flickering pixels, at working width, for a fire region.", ge=1
    )
    confirm_s: float = _f(
        1.0, "Confirm after (s)", "A region must persist in place this long before it is reported.", ge=0
    )
    min_presence: float = _f(
        0.7, "Minimum presence", "Share of analysed frames within the confirm window showing the region.", gt=0, le=1
    )
    max_drift: float = _f(
        0.75,
        "Maximum drift",
        "Largest move of a region's centre over the confirm window, in region sizes; moving objects exceed it.",
        gt=0,
    )
    hold_s: float = _f(
        0.6, "Hold (s)", "A confirmed region missing from a frame is still reported for this long.", ge=0
    )
    max_global_change: float = _f(
        0.3,
        "Global change limit",
        "Share of changed pixels above which a frame is taken as camera motion or a cut and adds no flicker.",
        gt=0,
        le=1,
    )
    max_gap_s: float = _f(
        5.0, "Reset after gap (s)", "A pts gap longer than this (or pts going back) restarts the history.", gt=0
    )
    smoke: bool = Field(True, title="Detect smoke", description="Run the smoke branch as well as the fire branch.")
    background_rate: float = _f(
        2.0,
        "Background speed (levels/s)",
        "Most the smoke background (a running median) moves per second; ten times faster while warming up.",
        gt=0,
    )
    smoke_warmup_s: float = _f(
        5.0, "Smoke warm-up (s)", "No smoke is reported until the background has seen this much video.", ge=0
    )
    smoke_min_change: float = _f(
        10.0, "Smoke luma change", "Luma difference from the background for a smoke pixel.", gt=0
    )
    smoke_max_chroma: int = _f(
        20, "Smoke maximum chroma", "Largest |Cb - 128| + |Cr - 128| of a grey smoke pixel.", ge=0, le=255
    )
    smoke_luma_range: tuple[int, int] = Field(
        (80, 235), title="Smoke luma range", description="Smoke pixels are neither dark nor saturated white."
    )
    smoke_contrast_ratio: float = _f(
        0.6,
        "Smoke contrast ratio",
        "Relative local contrast (s.d. / mean, 7x7) under smoke must fall below this share of the background's.",
        gt=0,
        le=1,
    )
    smoke_min_correlation: float = _f(
        0.5,
        "Smoke texture correlation",
        "Smoke is translucent: the background's texture must still correlate this much (7x7 windows).",
        ge=-1,
        le=1,
    )
    smoke_min_background_contrast: float = _f(
        4.0,
        "Textured background",
        "Background local grey-level s.d. needed to judge smoke; flat areas are not claimed.",
        ge=0,
    )
    smoke_min_area: float = _f(
        0.004, "Smoke minimum area", "Smallest smoke region as a share of the frame.", gt=0, le=1
    )
    smoke_max_area: float = _f(
        0.5, "Smoke maximum area", "Smoke candidates over more of the frame are a global change (focus, lens).", le=1
    )
    smoke_confirm_s: float = _f(
        3.0, "Smoke confirm after (s)", "Smoke must persist and grow this long before it is reported.", ge=0
    )
    smoke_min_growth: float = _f(
        0.3, "Smoke growth", "Required area growth over the confirm window (0.3 = +30%).", ge=0
    )
    smoke_min_rise: float = _f(
        0.1, "Smoke rise", "Required rise of the region's top over the window, in region heights.", ge=0
    )
    score_threshold: float = _f(
        0.3, "Model score threshold", "ONNX model only: boxes below this score are ignored.", ge=0, le=1
    )
    device: Literal["cpu", "cuda", "tensorrt", "auto"] = Field(
        "cpu", title="Device", description="ONNX model only: execution provider; one that does not load is an error."
    )


def _shrink(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Reduce without aliasing, fast: area averaging by a whole factor, then linear to the exact size.

    OpenCV's area resampling is ~3x slower at fractional factors (768 -> 320),
    and plain linear resampling aliases fine texture into false flicker.
    """
    h, w = image.shape[:2]
    k = min(w // width, h // height)
    if k < 2:  # under twice the size: area resampling is cheap enough
        return image if (w, h) == (width, height) else cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    image = cv2.resize(image, (w // k, h // k), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def _regions(mask: np.ndarray, weight: np.ndarray, min_px: int, join: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes of the mask's regions (fragments within the ``join`` kernel merged) and mean weight."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(mask, join), connectivity=8)
    if n <= 1:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    on = mask.astype(bool)
    count = np.bincount(labels[on], minlength=n)
    total = np.bincount(labels[on], weights=weight[on], minlength=n)
    keep = np.nonzero(count[1:] >= min_px)[0] + 1
    xyxy = np.zeros((len(keep), 4), np.float32)
    for row, k in enumerate(keep):  # tight box of the region's own pixels, not of the dilation
        x, y, w, h = stats[k, :4]
        ys, xs = np.nonzero(on[y : y + h, x : x + w] & (labels[y : y + h, x : x + w] == k))
        xyxy[row] = (x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1)
    return xyxy, (total[keep] / count[keep]).astype(np.float32)


class ClassicalFireDetector:
    """Fire and smoke from colour, flicker, slow change and persistence (one per camera).

    Stateful: call :meth:`update` with every analysed frame of one camera in
    ``pts`` order, and :meth:`reset` when the stream restarts.
    """

    labels = FIRE_LABELS

    def __init__(self, config: FireDetectorConfig | None = None) -> None:
        self.config = config or FireDetectorConfig()
        c = self.config
        self._fire_tracks = RegionTracker(c.confirm_s, c.min_presence, c.max_drift, c.hold_s)
        # Smoke is steadier than flame: it must show in 80% of the frames of its window.
        self._smoke_tracks = RegionTracker(c.smoke_confirm_s, 0.8, c.max_drift, c.hold_s, self._smoke_grows)
        self.reset()

    def reset(self) -> None:
        """Forget all history (a new stream, a seek, or a camera that moved)."""
        self._shape: tuple[int, ...] | None = None
        self._start = self._pts = -math.inf
        self._last = Detections.empty()
        self._fire_tracks.reset()
        self._smoke_tracks.reset()

    def update(self, image_bgr: np.ndarray, pts: float) -> Detections:
        """Analyse one frame taken at ``pts`` seconds; boxes are in ``image_bgr`` pixels.

        Raises
        ------
        ValueError
            When the image is not an HxWx3 uint8 BGR array.
        """
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 BGR image, got {image_bgr.shape} {image_bgr.dtype}")
        c = self.config
        if image_bgr.shape != self._shape or pts < self._pts or pts - self._pts > c.max_gap_s:
            self.reset()
        if pts == self._pts:
            return self._last
        h, w = image_bgr.shape[:2]
        ww = min(c.work_width, w)
        wh = max(1, round(h * ww / w))
        small = _shrink(image_bgr, ww, wh)
        if self._shape is None:  # flicker and change need a previous frame
            self._init_state(image_bgr.shape, small, pts)
            return self._last
        dt = pts - self._pts
        self._pts = pts
        parts = [self._fire(small, dt, pts)]
        if c.smoke:
            parts.append(self._smoke(small, dt, pts))
        found = Detections.merge(parts)
        if len(found):
            scale = np.array([w / ww, h / wh, w / ww, h / wh], np.float32)
            found = found.with_xyxy(boxes.clip(found.xyxy * scale, w, h))
        self._last = found
        return self._last

    def _init_state(self, shape: tuple[int, ...], small: np.ndarray, pts: float) -> None:
        self._shape, self._start, self._pts = shape, pts, pts
        colour, luma = self._fire_colour(small)
        self._recent: deque[tuple[float, np.ndarray, np.ndarray]] = deque([(pts, colour, luma)])
        self._flicker = np.zeros(luma.shape, np.float32)
        self._persist = colour.astype(np.float32)
        self._bg = self._smoke_features(small)
        self._smoke_persist = np.zeros(self._bg[0].shape, np.float32)

    def _fire_colour(self, small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fire-coloured mask (uint8 0/1) and luma of the working image."""
        c = self.config
        b, g, r = (small[:, :, i].astype(np.int16) for i in range(3))
        ycc = cv2.cvtColor(small, cv2.COLOR_BGR2YCrCb)
        gap = ycc[:, :, 1].astype(np.int16) - ycc[:, :, 2]
        flame = (r > c.min_red) & (r >= g) & (g >= b) & (gap >= c.min_chroma_gap)
        # Saturated cores read yellow-white or pinkish-white (green and blue close).
        core = (r >= c.core_min_red) & (r >= g) & (g + 10 >= b) & (r - b >= c.core_min_red_blue)
        return (flame | core).astype(np.uint8), np.ascontiguousarray(ycc[:, :, 0])

    def _fire(self, small: np.ndarray, dt: float, pts: float) -> Detections:
        c = self.config
        colour, luma = self._fire_colour(small)
        # Compare with the latest frame at least flicker_lag_s old, so that flicker
        # means the same at 5 fps and at 30 fps.
        _, prev_colour, prev_luma = next(
            (f for f in reversed(self._recent) if pts - f[0] >= c.flicker_lag_s - 1e-6), self._recent[0]
        )
        self._recent.append((pts, colour, luma))
        while len(self._recent) > 1 and pts - self._recent[1][0] >= c.flicker_lag_s - 1e-6:
            self._recent.popleft()
        # Compensate the global gain change, so that auto-exposure is not flicker.
        gain = (cv2.mean(luma)[0] + 1.0) / (cv2.mean(prev_luma)[0] + 1.0)
        prev = cv2.convertScaleAbs(prev_luma, alpha=min(max(gain, 0.5), 2.0))
        # Change beyond the reference frame's 3x3 range: a shifted edge is not flicker.
        up = cv2.subtract(luma, cv2.dilate(prev, _KERNEL3))
        down = cv2.subtract(cv2.erode(prev, _KERNEL3), luma)
        step = cv2.max(up, down)
        moving = float(np.count_nonzero(cv2.absdiff(luma, prev) > 2 * c.flicker_delta)) / luma.size
        flicker = (step > c.flicker_delta) & (colour > 0) & (prev_colour > 0)
        if moving > c.max_global_change:
            flicker[:] = False
        alpha = 1.0 - math.exp(-dt / c.flicker_tau_s)
        cv2.accumulateWeighted(flicker.astype(np.float32), self._flicker, alpha)
        cv2.accumulateWeighted(colour.astype(np.float32), self._persist, alpha)
        # At low frame rates one flicker event alone would pass min_flicker; ask for two.
        flickers = self._flicker >= max(c.min_flicker, 1.2 * alpha)
        cand = (flickers & (self._persist >= c.min_colour_persistence) & (colour > 0)).astype(np.uint8)
        xyxy, strength = _regions(cand, self._flicker, c.min_region_px, _KERNEL5)
        tracks = self._fire_tracks.update(xyxy, np.minimum(1.0, strength / (2 * c.min_flicker)), pts)
        return to_detections(tracks, 0, pts, c.hold_s)

    def _smoke_features(self, small: np.ndarray) -> list[np.ndarray]:
        """Grey level and chroma (|Cb - 128| + |Cr - 128|) at half the working width, float32."""
        size = (max(1, small.shape[1] // 2), max(1, small.shape[0] // 2))
        half = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
        ycc = cv2.cvtColor(half, cv2.COLOR_BGR2YCrCb)
        chroma = cv2.add(cv2.absdiff(ycc[:, :, 1], 128), cv2.absdiff(ycc[:, :, 2], 128))
        return [ycc[:, :, 0].astype(np.float32), chroma.astype(np.float32)]

    def _smoke(self, small: np.ndarray, dt: float, pts: float) -> Detections:
        c = self.config
        grey, chroma = feats = self._smoke_features(small)
        bg, bg_chroma = self._bg
        # Local statistics in 7x7 windows: smoke is translucent, so the background's
        # texture stays in place (high correlation) at lower relative contrast.
        k = (7, 7)
        mean_g, mean_b = cv2.blur(grey, k), cv2.blur(bg, k)
        var_g = np.maximum(cv2.blur(grey * grey, k) - mean_g * mean_g, 0)
        var_b = np.maximum(cv2.blur(bg * bg, k) - mean_b * mean_b, 0)
        cov = cv2.blur(grey * bg, k) - mean_g * mean_b
        lo, hi = c.smoke_luma_range
        cand = (
            (np.abs(mean_g - mean_b) >= c.smoke_min_change)
            # grey, or a veil that washes out the colour behind it
            & ((chroma <= c.smoke_max_chroma) | (chroma <= 0.7 * bg_chroma))
            & (chroma <= bg_chroma + 4)
            & (grey >= lo)
            & (grey <= hi)
            & (var_b >= c.smoke_min_background_contrast**2)
            & (cov >= c.smoke_min_correlation * np.sqrt(var_g * var_b))
            # relative contrast (sd / mean) falls: dimmer light alone keeps it
            & (var_g * mean_b * mean_b <= c.smoke_contrast_ratio**2 * var_b * mean_g * mean_g)
        )
        elapsed = pts - self._start
        # A running median: people and cars passing through do not pull it, unlike a mean.
        step = c.background_rate * dt * (10.0 if elapsed < c.smoke_warmup_s else 1.0)
        for now, model in zip(feats, self._bg, strict=True):
            model += np.clip(now - model, -step, step)
        if np.count_nonzero(cand) > c.smoke_max_area * cand.size:
            cand[:] = False  # the whole view changed: focus, exposure or a dirty lens, not a plume
        cv2.accumulateWeighted(cand.astype(np.float32), self._smoke_persist, 1.0 - math.exp(-dt / 1.0))
        if elapsed < c.smoke_warmup_s:
            return Detections.empty()
        steady = (self._smoke_persist >= 0.5).astype(np.uint8)
        min_px = max(4, round(c.smoke_min_area * steady.size))
        xyxy, strength = _regions(steady, self._smoke_persist, min_px, _KERNEL5)
        tracks = self._smoke_tracks.update(xyxy * 2, strength, pts)
        return to_detections(tracks, 1, pts, c.hold_s)

    def _smoke_grows(self, track: Track, start: float) -> bool:
        """Smoke rises from a fixed base: the top climbs, the bottom stays, the area grows."""
        c = self.config
        seen = [b for t, b in track.history if t >= start]
        first, now = seen[0], seen[-1]
        height = max(1.0, float(now[3] - now[1]))
        area0 = max(1.0, float((first[2] - first[0]) * (first[3] - first[1])))
        area1 = float((now[2] - now[0]) * (now[3] - now[1]))
        rises = first[1] - now[1] >= c.smoke_min_rise * height
        based = abs(float(now[3] - first[3])) <= 0.25 * height
        return bool(rises and based and area1 >= (1 + c.smoke_min_growth) * area0)


def build_fire_detector(
    model_path: str | None, config: FireDetectorConfig | None = None
) -> ClassicalFireDetector | OnnxFireDetector:
    """The ONNX fire/smoke model at ``model_path`` when given, else the classical baseline."""
    if model_path is None:
        return ClassicalFireDetector(config)
    return OnnxFireDetector(model_path, config)
