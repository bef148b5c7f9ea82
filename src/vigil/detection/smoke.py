"""The smoke branch of the classical fire detector: a veil that moves, rises and grows.

Smoke is the costlier false alarm (a fire engine sent to a dust cloud), and
many things look grey and new against a background model, so every cue below
is physical and each one alone rejects a known look-alike:

Veil (per pixel, 7x7 windows against a slow background model)
    Smoke is translucent: the background's texture still shows through (its
    local correlation with the background stays high) but it is *attenuated*
    (the gain of the fit frame = gain x background + offset is below
    ``smoke_max_transmission``) and *washed out* (relative contrast falls, so
    the veil adds light of its own). Vehicles and people hide the texture
    (no correlation); shadows and dimming scale it (no relative loss);
    headlight beams, glare and sun patches add light without attenuating it.
    Flat, untextured areas (smooth asphalt, a white wall) are not claimed.
Low saturation
    Smoke is grey, or washes out the colour behind it. A veil whose tint moves
    toward brown (Cr - Cb up against the background by ``smoke_max_warm_shift``)
    is *dust* (earth thrown up by a crash, a truck on a dirt verge); its pixels
    are counted apart, and a region mostly of them is turned down for good.
Moving texture
    Smoke is never still: the local mean under it keeps changing between frames
    ~0.2 s apart (``smoke_min_motion``) in a share of recent frames
    (``smoke_min_moving``). A static veil-like change (a poster, a wet patch, a
    dirty lens, compression smoothing a texture) does not move.
Growth from a base, over seconds (per region, over ``smoke_confirm_s``)
    A fire feeds its smoke from a fixed place: the region must persist, grow
    (``smoke_min_growth``), keep its bottom in place and climb
    (``smoke_min_rise``), climbing at least ``smoke_min_rise_per_spread`` of
    what it spreads sideways (a plume rises; dust and fog spread along the
    ground and drift with the wind).
No burst
    Dust thrown up by an impact appears suddenly: a region that covers
    ``smoke_burst_area`` of the frame within ``smoke_burst_s`` of first being
    seen is a burst (dust, a steam cloud, a cut), and stays rejected. A fire's
    smoke starts small. Dust that then *settles* shrinks and thins, which the
    growth cue turns down.

Everything runs at half the fire branch's working width. Smoke that starts
large, enters from outside the view, lies flat in strong wind or is black
(dark pixels are outside ``smoke_luma_range``) is missed by design: the
branch trades those for no false alarm; a site with a trained model can bring
it through :mod:`vigil.detection.fire_onnx`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vigil.core import Detections
from vigil.core.images import components
from vigil.detection.fire_onnx import RegionTracker, Track, to_detections

if TYPE_CHECKING:
    from vigil.detection.fire import FireDetectorConfig

_KERNEL5 = np.ones((5, 5), np.uint8)
_WINDOW = (7, 7)
# Stats the smoke tracks keep per frame (pixel counts in the region): smoke-like and dust-like.
SMOKE_PX, DUST_PX = 0, 1


def regions(
    mask: np.ndarray, weight: np.ndarray, min_px: int, join: np.ndarray, counts: tuple[np.ndarray, ...] = ()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regions of ``mask`` (fragments within the ``join`` kernel merged).

    Returns
    -------
    xyxy : (N, 4) float32
        Tight box of each region's own pixels, not of the dilation.
    strength : (N,) float32
        Mean ``weight`` over the region's pixels.
    stats : (N, len(counts)) float32
        For each mask in ``counts``, its pixels inside the region's joined area.
    """
    n = 0
    if cv2.countNonZero(mask):  # most frames of most cameras have none: no dilation and labelling for nothing
        n, labels, stats = components(cv2.dilate(mask, join))
    if n <= 1:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, len(counts)), np.float32)
    on = mask.astype(bool)
    count = np.bincount(labels[on], minlength=n)
    total = np.bincount(labels[on], weights=weight[on], minlength=n)
    keep = np.nonzero(count[1:] >= min_px)[0] + 1
    xyxy = np.zeros((len(keep), 4), np.float32)
    for row, k in enumerate(keep):
        x, y, w, h = stats[k, :4]
        ys, xs = np.nonzero(on[y : y + h, x : x + w] & (labels[y : y + h, x : x + w] == k))
        xyxy[row] = (x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1)
    extra = np.zeros((len(keep), len(counts)), np.float32)
    for col, m in enumerate(counts):
        extra[:, col] = np.bincount(labels[m.astype(bool)], minlength=n)[keep]
    return xyxy, (total[keep] / count[keep]).astype(np.float32), extra


def _features(small: np.ndarray) -> list[np.ndarray]:
    """Grey level, chroma (|Cb - 128| + |Cr - 128|) and tint (Cr - Cb) at half size, float32."""
    size = (max(1, small.shape[1] // 2), max(1, small.shape[0] // 2))
    ycc = cv2.cvtColor(cv2.resize(small, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YCrCb)
    cr, cb = ycc[:, :, 1].astype(np.float32), ycc[:, :, 2].astype(np.float32)
    return [ycc[:, :, 0].astype(np.float32), np.abs(cr - 128) + np.abs(cb - 128), cr - cb]


class SmokeBranch:
    """State and decision of the smoke cues for one camera (see the module docstring)."""

    def __init__(self, config: FireDetectorConfig) -> None:
        self.config = c = config
        # Smoke is steadier than flame: it must show in 80% of the frames of its window.
        self.tracks = RegionTracker(c.smoke_confirm_s, 0.8, c.max_drift, c.hold_s, self._accept)
        self._size = (1, 1)
        self.veil_px = 0  # veil pixels (smoke- or dust-like) in the last frame, for diagnosis

    def reset(self, small: np.ndarray, pts: float) -> None:
        """Start again from this frame: it becomes the background."""
        self.tracks.reset()
        self._bg = _features(small)
        self._start = self._lag_pts = pts
        self._lag_mean = cv2.blur(self._bg[0], _WINDOW)
        self._persist = np.zeros(self._bg[0].shape, np.float32)
        self._moving = np.zeros(self._bg[0].shape, np.float32)
        self._size = (small.shape[1], small.shape[0])

    def update(self, small: np.ndarray, dt: float, pts: float) -> Detections:
        """Smoke boxes (in ``small`` pixels) of one working frame."""
        c = self.config
        grey, chroma, tint = feats = _features(small)
        bg, bg_chroma, bg_tint = self._bg
        mean_g, mean_b = cv2.blur(grey, _WINDOW), cv2.blur(bg, _WINDOW)
        var_g = np.maximum(cv2.blur(grey * grey, _WINDOW) - mean_g * mean_g, 0)
        var_b = np.maximum(cv2.blur(bg * bg, _WINDOW) - mean_b * mean_b, 0)
        cov = cv2.blur(grey * bg, _WINDOW) - mean_g * mean_b
        lo, hi = c.smoke_luma_range
        veil = (
            (np.abs(mean_g - mean_b) >= c.smoke_min_change)
            & ((chroma <= c.smoke_max_chroma) | (chroma <= 0.7 * bg_chroma))
            & (chroma <= bg_chroma + 4)
            & (grey >= lo)
            & (grey <= hi)
            & (var_b >= c.smoke_min_background_contrast**2)
            # translucent: the background's texture still shows through ...
            & (cov >= c.smoke_min_correlation * np.sqrt(var_g * var_b))
            # ... attenuated (gain cov / var_b below the transmission limit) ...
            & (cov <= c.smoke_max_transmission * var_b)
            # ... and washed out: relative contrast (sd / mean) falls
            & (var_g * mean_b * mean_b <= c.smoke_contrast_ratio**2 * var_b * mean_g * mean_g)
        )
        brown = (cv2.blur(tint, _WINDOW) - cv2.blur(bg_tint, _WINDOW)) >= c.smoke_max_warm_shift
        dust, smoke = veil & brown, veil & ~brown
        self.veil_px = int(np.count_nonzero(veil))
        # Moving texture: the local mean changed against the frame ~flicker_lag_s before.
        alpha = 1.0 - math.exp(-dt / 1.0)
        if pts - self._lag_pts >= c.flicker_lag_s - 1e-6:
            moved = (np.abs(mean_g - self._lag_mean) >= c.smoke_min_motion).astype(np.float32)
            cv2.accumulateWeighted(moved, self._moving, 1.0 - math.exp(-(pts - self._lag_pts) / 1.0))
            self._lag_mean, self._lag_pts = mean_g, pts
        elapsed = pts - self._start
        # A running median: people and cars passing through do not pull it, unlike a mean.
        step = c.background_rate * dt * (10.0 if elapsed < c.smoke_warmup_s else 1.0)
        for now, model in zip(feats, self._bg, strict=True):
            model += np.clip(now - model, -step, step)
        if np.count_nonzero(veil) > c.smoke_max_area * veil.size:
            smoke[:] = dust[:] = False  # the whole view changed: focus, exposure or a dirty lens, not a plume
        cv2.accumulateWeighted(smoke.astype(np.float32), self._persist, alpha)
        if elapsed < c.smoke_warmup_s:
            return Detections.empty()
        steady = ((self._persist >= 0.5) & (self._moving >= c.smoke_min_moving)).astype(np.uint8)
        min_px = max(4, round(c.smoke_min_area * steady.size))
        xyxy, strength, stats = regions(steady, self._persist, min_px, _KERNEL5, (smoke, dust))
        tracks = self.tracks.update(xyxy * 2, strength, pts, stats)
        return to_detections(tracks, 1, pts, c.hold_s)

    def _accept(self, track: Track, start: float) -> bool:
        """Region-level cues: no burst, not dust, and growth that rises from a fixed base."""
        c = self.config
        frame_area = float(self._size[0] * self._size[1])
        early = [b for t, b in track.history if t <= track.first + c.smoke_burst_s + 1e-6]
        if early and max(float((b[2] - b[0]) * (b[3] - b[1])) for b in early) >= c.smoke_burst_area * frame_area:
            track.rejected = "burst"
            return False
        counts = np.sum([v for t, v in track.stats if t >= start], axis=0)
        if counts[DUST_PX] > c.smoke_max_dust_share * max(1.0, counts[SMOKE_PX] + counts[DUST_PX]):
            track.rejected = "dust"
            return False
        return self._rises(track, start)

    def _rises(self, track: Track, start: float) -> bool:
        """Smoke rises from a fixed base: the top climbs, more than the sides spread; the area grows.

        The region's outline jitters from frame to frame, so the start and the end
        of the window are the median boxes of its first and last thirds.
        """
        c = self.config
        seen = np.array([b for t, b in track.history if t >= start], np.float32)
        third = max(1, len(seen) // 3)
        first, now = np.median(seen[:third], axis=0), np.median(seen[-third:], axis=0)
        height = max(1.0, float(now[3] - now[1]))
        area0 = max(1.0, float((first[2] - first[0]) * (first[3] - first[1])))
        area1 = float((now[2] - now[0]) * (now[3] - now[1]))
        rise = float(first[1] - now[1])
        spread = float((now[2] - now[0]) - (first[2] - first[0]))
        return bool(
            rise >= c.smoke_min_rise * height
            and rise >= c.smoke_min_rise_per_spread * spread
            and abs(float(now[3] - first[3])) <= 0.25 * height
            and area1 >= (1 + c.smoke_min_growth) * area0
        )
