"""Classical fire and smoke detection from colour, flicker and slow change.

No fire or smoke model with a usable licence ships in any registry, so the
baseline is the classical pipeline of the literature, kept deliberately strict
because a false fire alarm sends a fire engine. The cues, and why:

Flame colour
    Red >= green >= blue with the Çelik & Demirel rule ``Cr - Cb >= tau`` in
    YCbCr, or a bright yellow-white core. Cameras clip the core of a large
    flame to plain white (above all at night), so a *white-hot* blob (luma
    ``hot_min_luma`` or more, not bluish) counts too where it touches flame
    colour: a white flame body ringed by orange. A white headlight or lamp
    with no orange around it does not.
Flicker
    A flame's luma keeps changing while it stays fire-coloured, and its outline
    keeps moving: each pixel is compared with the frame ~0.2 s earlier (the
    previous one at 5 fps). A luma step beyond that frame's 3x3 min/max range
    (camera jitter and slow edges do not count; the global gain change is
    removed, so auto-exposure does not count), or the pixel joining or leaving
    the fire-coloured area beyond one pixel, is a flicker event; events are
    averaged over ~1 s of ``pts``. Red cars, brick walls, sunsets, brake and
    traffic lights and sodium lamps are fire-coloured but steady.
Two-sided flicker (per region, over the confirm window)
    Flames move: in one step some of a region's pixels brighten or join while
    others darken or leave. A light that blinks (an indicator, a beacon), a
    lamp under auto-exposure, or a scene lit up by a passing headlight changes
    all of its pixels the same way, so a region needs ``min_two_sided`` of its
    events on the rarer side.
Persistence in place
    A region is reported only after it has persisted for ``confirm_s`` within
    ``max_drift`` region sizes; moving objects (a car with a flickering
    reflection, headlight glare on a wet road that travels with the car) drift.

Smoke is :mod:`vigil.detection.smoke` (a translucent, attenuating, moving,
low-saturation veil that grows and rises from a fixed base, with dust thrown up
by a crash turned down).

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
from vigil.core.images import shrink
from vigil.detection.fire_onnx import FIRE_LABELS, OnnxFireDetector, RegionTracker, Track, to_detections
from vigil.detection.smoke import SmokeBranch, regions

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
    hot_min_luma: int = _f(
        200,
        "White-hot core luma",
        "Near-white pixels at least this bright count as flame where their blob touches flame colour.",
        ge=0,
        le=255,
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
    min_two_sided: float = _f(
        0.1,
        "Two-sided flicker",
        "Share of a region's flicker events (over the confirm window) that must go the rarer way: "
        "brightening/joining against darkening/leaving. Blinking lights and exposure swings are one-sided.",
        ge=0,
        le=0.5,
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
        2.0, "Smoke warm-up (s)", "No smoke is reported until the background has seen this much video.", ge=0
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
    smoke_max_transmission: float = _f(
        0.9,
        "Smoke transmission",
        "Gain of the fit frame = gain x background + offset (7x7) must be at most this: smoke attenuates the "
        "texture behind it; added light (headlight beams, glare, sun patches) does not.",
        gt=0,
        le=1,
    )
    smoke_max_warm_shift: float = _f(
        8.0,
        "Dust tint",
        "A veil whose Cr - Cb rose by this much against the background is brownish: dust, not smoke.",
        gt=0,
    )
    smoke_max_dust_share: float = _f(
        0.3,
        "Dust share",
        "A region with more of its veil pixels brownish than this is dust (rejected for good).",
        ge=0,
        le=1,
    )
    smoke_min_motion: float = _f(
        3.0,
        "Smoke motion step",
        "Change of the 7x7 mean grey level between frames ~0.2 s apart that counts as moving texture.",
        gt=0,
    )
    smoke_min_moving: float = _f(
        0.3,
        "Smoke moving share",
        "Share of recent frames (~1 s) in which a smoke pixel's texture must move.",
        ge=0,
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
    smoke_min_rise_per_spread: float = _f(
        0.5,
        "Smoke rise per spread",
        "The top must climb at least this share of the region's gain in width: a plume rises, dust and fog spread.",
        ge=0,
    )
    smoke_burst_s: float = _f(
        1.0, "Burst window (s)", "Time after a smoke region is first seen in which it must still be small.", gt=0
    )
    smoke_burst_area: float = _f(
        0.04,
        "Burst area",
        "A region covering more of the frame within the burst window appeared suddenly (crash dust, steam, a cut).",
        gt=0,
        le=1,
    )
    score_threshold: float = _f(
        0.3, "Model score threshold", "ONNX model only: boxes below this score are ignored.", ge=0, le=1
    )
    device: Literal["cpu", "cuda", "tensorrt", "auto"] = Field(
        "cpu", title="Device", description="ONNX model only: execution provider; one that does not load is an error."
    )


class ClassicalFireDetector:
    """Fire and smoke from colour, flicker, slow change and persistence (one per camera).

    Stateful: call :meth:`update` with every analysed frame of one camera in
    ``pts`` order, and :meth:`reset` when the stream restarts.
    """

    labels = FIRE_LABELS

    def __init__(self, config: FireDetectorConfig | None = None) -> None:
        self.config = c = config or FireDetectorConfig()
        self._fire_tracks = RegionTracker(c.confirm_s, c.min_presence, c.max_drift, c.hold_s, self._two_sided)
        self._smoke = SmokeBranch(c)
        self.reset()

    def reset(self) -> None:
        """Forget all history (a new stream, a seek, or a camera that moved)."""
        self._shape: tuple[int, ...] | None = None
        self._start = self._pts = -math.inf
        self._last = Detections.empty()
        self._fire_tracks.reset()
        self._smoke.tracks.reset()

    @property
    def veil_px(self) -> int:
        """Smoke- or dust-like veil pixels (at half working width) in the last frame, for diagnosis."""
        return self._smoke.veil_px

    @property
    def tracks(self) -> dict[str, list[Track]]:
        """Current candidate regions per label, confirmed or not (with ``rejected`` reasons), for diagnosis."""
        return {"fire": list(self._fire_tracks.tracks), "smoke": list(self._smoke.tracks.tracks)}

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
        small = shrink(image_bgr, ww, wh)
        if self._shape is None:  # flicker and change need a previous frame
            self._init_state(image_bgr.shape, small, pts)
            return self._last
        dt = pts - self._pts
        self._pts = pts
        parts = [self._fire(small, dt, pts)]
        if c.smoke:
            parts.append(self._smoke.update(small, dt, pts))
        found = Detections.merge(parts)
        if len(found):
            scale = np.array([w / ww, h / wh, w / ww, h / wh], np.float32)
            found = found.with_xyxy(boxes.clip(found.xyxy * scale, w, h))
        self._last = found
        return self._last

    def _init_state(self, shape: tuple[int, ...], small: np.ndarray, pts: float) -> None:
        self._shape, self._start, self._pts = shape, pts, pts
        colour, white, luma = self._fire_colour(small)
        self._recent: deque[tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = deque(
            [(pts, small, colour, white, luma)]
        )
        self._flicker = np.zeros(luma.shape, np.float32)
        self._persist = colour.astype(np.float32)
        self._smoke.reset(small, pts)

    def _fire_colour(self, small: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fire-coloured mask (uint8 0/1: flame colour, or white-hot blobs ringed by it), the white-hot part, luma."""
        c = self.config
        b, g, r = (small[:, :, i].astype(np.int16) for i in range(3))
        ycc = cv2.cvtColor(small, cv2.COLOR_BGR2YCrCb)
        luma = np.ascontiguousarray(ycc[:, :, 0])
        gap = ycc[:, :, 1].astype(np.int16) - ycc[:, :, 2]
        flame = (r > c.min_red) & (r >= g) & (g >= b) & (gap >= c.min_chroma_gap)
        # Saturated cores read yellow-white or pinkish-white (green and blue close).
        core = (r >= c.core_min_red) & (r >= g) & (g + 10 >= b) & (r - b >= c.core_min_red_blue)
        colour = (flame | core).astype(np.uint8)
        hot = ((luma >= c.hot_min_luma) & (r + 8 >= b) & (colour == 0)).astype(np.uint8)
        white = np.zeros_like(colour)
        if colour.any() and hot.any():
            # A clipped white flame body counts where its blob touches flame colour.
            n, labels = cv2.connectedComponents(hot, connectivity=8)
            rim = (hot > cv2.erode(hot, _KERNEL3)).ravel()
            near = (cv2.dilate(colour, _KERNEL5) > 0).ravel()
            flat = labels.ravel()
            rim_px = np.bincount(flat[rim], minlength=n)
            inner_px = np.bincount(flat, minlength=n) - rim_px
            # ringed: half of the blob's rim lies beside flame colour, and the blob is a
            # body with an inside, not a thin white edge (a sill on a brick wall)
            ringed = (np.bincount(flat[rim & near], minlength=n) >= np.maximum(3, 0.5 * rim_px)) & (
                inner_px >= np.maximum(4, 0.5 * rim_px)
            )
            ringed[0] = False
            white = ringed[labels].astype(np.uint8)
            colour |= white
        return colour, white, luma

    def _fire(self, small: np.ndarray, dt: float, pts: float) -> Detections:
        c = self.config
        colour, white, luma = self._fire_colour(small)
        # Compare with the latest frame at least flicker_lag_s old, so that flicker
        # means the same at 5 fps and at 30 fps.
        _, prev_small, prev_colour, prev_white, prev_luma = next(
            (f for f in reversed(self._recent) if pts - f[0] >= c.flicker_lag_s - 1e-6), self._recent[0]
        )
        self._recent.append((pts, small, colour, white, luma))
        while len(self._recent) > 1 and pts - self._recent[1][0] >= c.flicker_lag_s - 1e-6:
            self._recent.popleft()
        # Compensate the global gain change, so that auto-exposure is not flicker: the
        # reference frame is scaled to this frame's exposure before it is judged.
        gain = min(max((cv2.mean(luma)[0] + 1.0) / (cv2.mean(prev_luma)[0] + 1.0), 0.5), 2.0)
        prev = prev_luma
        if abs(gain - 1) > 0.02:  # steady exposure (most frames): the stored masks stand
            scaled = cv2.convertScaleAbs(prev_small, alpha=gain)
            if gain < 1:  # a clipped pixel was at least that bright: it stays clipped
                clipped = prev_luma >= _top(prev_luma)
                scaled[clipped] = prev_small[clipped]
            prev_colour, prev_white, prev = self._fire_colour(scaled)
        # Change beyond the reference frame's 3x3 range: a shifted edge is not flicker.
        # Clipped pixels (near either frame's top level) carry no luma: after gain
        # compensation a clipped lamp would seem to brighten when the exposure drops.
        both = colour & prev_colour
        both[(luma >= _top(luma)) | (prev >= _top(prev))] = 0
        brighter = (cv2.subtract(luma, cv2.dilate(prev, _KERNEL3)) > c.flicker_delta) & (both > 0)
        darker = (cv2.subtract(cv2.erode(prev, _KERNEL3), luma) > c.flicker_delta) & (both > 0)
        # A clipped white flame body has no luma to flicker: its outline moving by
        # more than a pixel is the flicker (it grows here and shrinks there).
        joined = white > cv2.dilate(prev_white, _KERNEL3)
        left = prev_white > cv2.dilate(white, _KERNEL3)
        joined |= brighter
        left |= darker
        moving = float(np.count_nonzero(cv2.absdiff(luma, prev) > 2 * c.flicker_delta)) / luma.size
        flicker = (joined | left).astype(np.uint8)
        if moving > c.max_global_change:
            flicker[:] = 0
            joined[:] = left[:] = False
        alpha = 1.0 - math.exp(-dt / c.flicker_tau_s)
        cv2.accumulateWeighted(flicker.astype(np.float32), self._flicker, alpha)
        cv2.accumulateWeighted(colour.astype(np.float32), self._persist, alpha)
        # At low frame rates one flicker event alone would pass min_flicker; ask for two.
        flickers = self._flicker >= max(c.min_flicker, 1.2 * alpha)
        cand = (flickers & (self._persist >= c.min_colour_persistence) & (colour > 0)).astype(np.uint8)
        # For the two-sided test the whole outline counts: tongues that rise and fall.
        grew = joined | (colour > cv2.dilate(prev_colour, _KERNEL3))
        shrank = left | (prev_colour > cv2.dilate(colour, _KERNEL3))
        if moving > c.max_global_change:
            grew[:] = shrank[:] = False
        xyxy, strength, stats = regions(cand, self._flicker, c.min_region_px, _KERNEL5, (grew, shrank))
        tracks = self._fire_tracks.update(xyxy, np.minimum(1.0, strength / (2 * c.min_flicker)), pts, stats)
        return to_detections(tracks, 0, pts, c.hold_s)

    def _two_sided(self, track: Track, start: float) -> bool:
        """Flames grow here while they shrink there: events of both signs in the same steps."""
        steps = np.array([v for t, v in track.stats if t >= start], np.float32).reshape(-1, 2)
        events = float(steps.max(1).sum())
        return events > 0 and float(steps.min(1).sum()) >= self.config.min_two_sided * events


def _top(luma: np.ndarray) -> float:
    """The level from which a frame's pixels count as clipped (its maximum, less a margin)."""
    return cv2.minMaxLoc(luma)[1] - 8.0


def build_fire_detector(
    model_path: str | None, config: FireDetectorConfig | None = None
) -> ClassicalFireDetector | OnnxFireDetector:
    """The ONNX fire/smoke model at ``model_path`` when given, else the classical baseline."""
    if model_path is None:
        return ClassicalFireDetector(config)
    return OnnxFireDetector(model_path, config)
