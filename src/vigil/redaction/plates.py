"""Licence-plate regions without a plate model.

No licence-plate detector with a usable licence ships in any package registry,
so plates are found the classical way: a plate is a row of three or more
character blobs of one height, aligned on a common top and bottom line, with a
clear contrast to the plate background. Per level of a two-level pyramid
(characters 6-24 px tall at 1x, 12-48 px at 2x): adaptive (local-mean)
threshold for dark ink and its complement (which also separates dark characters
touching each other or the plate frame); horizontal runs >= 20 px (frame edges,
bumper lines) removed; blobs shaped like characters linked to right-hand
neighbours of similar height on the same line; rows kept by their alignment,
contrast and clutter (texture such as asphalt or foliage makes many blobs around
a chance alignment). Each row becomes a box with a plate's proportions, so that
blurring it covers the whole plate. With vehicle boxes, the lower part of each
vehicle is searched, rescaled to about ``vehicle_width`` px (small ones upscaled
up to 2x), and a vehicle with no row gets a prior box at its bottom centre.
Measured figures, and the script that makes them: ``benchmarks/plates/``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_LINK_NEIGHBOURS = 8  # candidates (in x order) tested as the next character of a row


@dataclass(frozen=True)
class PlateLocatorConfig:
    """Settings of :class:`PlateLocator`; sizes in px are at the searched scale.

    Attributes
    ----------
    work_long_side, max_upscale : int, float
        A frame searched whole is scaled to this long side, at most by ``max_upscale``.
    levels, light_ink_levels : int
        Pyramid levels searched (each half the previous), and how many of them
        (from the finest) are also searched in the complement of the dark ink.
    block, offset : int, float
        Adaptive threshold window (odd, px) and how much darker than the local
        mean (grey levels) a pixel must be to count as ink.
    line_len : int
        Horizontal ink runs at least this long are removed (frame edges).
    char_h_min, char_h_max, min_chars : int
        Character heights searched at each level; characters a row needs.
    max_gap : float
        Largest gap between neighbouring characters, in character heights.
    min_contrast : float
        Least grey difference between ink and background inside a row.
    max_char_aspect, max_line_dev, max_height_dev : float
        Largest mean width / height of a row's characters; mean deviation of their
        tops and bottoms from straight lines (in character heights); standard
        deviation of their heights (relative to the mean).
    max_clutter : float
        Largest number of other blobs within 0.6 character heights of a row, per character.
    plate_w, plate_h, row_pad, row_span, plate_dy : float
        Box from a row, in character heights: at least ``plate_w`` x ``plate_h``,
        the row plus ``row_pad`` on each side, a row shorter than ``row_span``
        widened by the missing width on both sides, centred ``plate_dy`` above the row.
    vehicle_top, vehicle_margin : float
        Vehicle search region: from this fraction of the box height down (to 5 %
        below the box), widened by this fraction of its width on each side.
    vehicle_width, vehicle_max_upscale, vehicle_pixel_budget : int, float, int
        Vehicles are rescaled to ``vehicle_width`` px wide (upscaled at most by
        ``vehicle_max_upscale``); all of them coarser when the searched pixels
        would exceed the budget.
    vehicle_min_w, max_vehicles : float, int
        Vehicles narrower than ``vehicle_min_w`` px (their plates would be under
        ~10 px wide), and all but the ``max_vehicles`` widest, only get the prior.
    vehicle_prior : bool
        Return a prior box for a vehicle in which no row was found.
    prior_w, prior_h, prior_cy, prior_min_w : float
        Prior size and centre height as fractions of the vehicle box; vehicles
        narrower than ``prior_min_w`` px get none.
    max_boxes, max_boxes_per_vehicle : int
        Most plate-like rows kept per frame searched whole, and per vehicle.
    """

    work_long_side: int = 960
    max_upscale: float = 1.0
    levels: int = 2
    light_ink_levels: int = 1
    block: int = 15
    offset: float = 5.0
    line_len: int = 20
    char_h_min: int = 6
    char_h_max: int = 24
    min_chars: int = 3
    max_gap: float = 1.2
    min_contrast: float = 10.0
    max_char_aspect: float = 1.1
    max_line_dev: float = 0.18
    max_height_dev: float = 0.3
    max_clutter: float = 12.0
    plate_w: float = 4.8
    plate_h: float = 2.5
    row_pad: float = 0.6
    row_span: float = 3.6
    plate_dy: float = 0.1
    vehicle_top: float = 0.25
    vehicle_margin: float = 0.05
    vehicle_width: int = 480
    vehicle_max_upscale: float = 2.0
    vehicle_pixel_budget: int = 600_000
    vehicle_min_w: float = 64.0
    max_vehicles: int = 12
    vehicle_prior: bool = True
    prior_w: float = 0.5
    prior_h: float = 0.3
    prior_cy: float = 0.72
    prior_min_w: float = 24.0
    max_boxes: int = 16
    max_boxes_per_vehicle: int = 3


def _groups(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Component label (smallest member index) of each of ``n`` nodes linked by edges i-j."""
    lab = np.arange(n)
    while True:
        m = np.minimum(lab[i], lab[j])
        new = lab.copy()
        np.minimum.at(new, i, m)
        np.minimum.at(new, j, m)
        new = new[new]
        if np.array_equal(new, lab):
            return lab
        lab = new


class PlateLocator:
    """Find likely licence-plate regions in a BGR frame.

    Parameters
    ----------
    config : PlateLocatorConfig, optional
        Thresholds; the defaults were measured on US plates (see benchmarks/plates).
    """

    def __init__(self, config: PlateLocatorConfig | None = None) -> None:
        self.config = config or PlateLocatorConfig()
        self._line_kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (self.config.line_len, 1))

    def locate(self, image_bgr: np.ndarray, vehicle_xyxy: np.ndarray | None = None) -> np.ndarray:
        """Return (M, 4) float32 xyxy boxes of likely plate regions.

        Parameters
        ----------
        image_bgr : np.ndarray
            HxWx3 BGR (or HxW grey) uint8 frame.
        vehicle_xyxy : np.ndarray, optional
            (N, 4) car / bus / truck / motorcycle boxes in frame pixels. When
            absent or empty the whole frame is searched.

        Returns
        -------
        np.ndarray
            Boxes in pixel coordinates of ``image_bgr``, clipped to it and already
            padded so that obscuring the box covers the whole plate.
        """
        grey = image_bgr if image_bgr.ndim == 2 else cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        h, w = grey.shape
        vehicles = None if vehicle_xyxy is None else np.asarray(vehicle_xyxy, np.float32).reshape(-1, 4)
        if vehicles is None or len(vehicles) == 0:
            s = min(self.config.max_upscale, self.config.work_long_side / max(h, w))
            found = self._search(grey, s, 0.0, 0.0, self.config.max_boxes)
        else:
            c = self.config
            vw = np.maximum(vehicles[:, 2] - vehicles[:, 0], 1.0)
            vh = np.maximum(vehicles[:, 3] - vehicles[:, 1], 1.0)
            scales = np.minimum(c.vehicle_max_upscale, c.vehicle_width / vw)
            scales[vw < c.vehicle_min_w] = 0.0  # not searched: prior only
            scales[np.argsort(-vw, kind="stable")[c.max_vehicles :]] = 0.0
            searched = float((scales**2 * vw * vh * (1.0 - c.vehicle_top)).sum())
            if searched > c.vehicle_pixel_budget:  # many / large vehicles: search all of them coarser
                scales *= np.sqrt(c.vehicle_pixel_budget / searched)
            found = np.concatenate([self._search_vehicle(grey, v, s) for v, s in zip(vehicles, scales, strict=True)])
        if len(found) == 0:
            return np.zeros((0, 4), np.float32)
        out = _merge(found)[:, :4]
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, w)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, h)
        keep = (out[:, 2] - out[:, 0] >= 1) & (out[:, 3] - out[:, 1] >= 1)
        return out[keep].astype(np.float32)

    def prior_box(self, vehicle: np.ndarray) -> np.ndarray:
        """Geometric prior (4,) for one vehicle box: a box at its bottom centre."""
        c = self.config
        x1, y1, x2, y2 = (float(v) for v in vehicle)
        vw, vh = x2 - x1, y2 - y1
        cx, cy = (x1 + x2) / 2, y1 + c.prior_cy * vh
        bw, bh = c.prior_w * vw, c.prior_h * vh
        top, bottom = max(y1, cy - bh / 2), min(y2, cy + bh / 2)
        return np.array([cx - bw / 2, top, cx + bw / 2, bottom], np.float32)

    def _search_vehicle(self, grey: np.ndarray, vehicle: np.ndarray, scale: float) -> np.ndarray:
        c = self.config
        h, w = grey.shape
        x1, y1, x2, y2 = (float(v) for v in vehicle)
        vw, vh = x2 - x1, y2 - y1
        cx1 = int(max(0, np.floor(x1 - c.vehicle_margin * vw)))
        cx2 = int(min(w, np.ceil(x2 + c.vehicle_margin * vw)))
        cy1 = int(max(0, np.floor(y1 + c.vehicle_top * vh)))
        cy2 = int(min(h, np.ceil(y2 + 0.05 * vh)))
        found = np.zeros((0, 5), np.float32)
        if scale > 0 and min(cx2 - cx1, cy2 - cy1) >= c.char_h_min:
            found = self._search(grey[cy1:cy2, cx1:cx2], float(scale), cx1, cy1, c.max_boxes_per_vehicle)
        if len(found) == 0 and c.vehicle_prior and vw >= c.prior_min_w:
            found = np.append(self.prior_box(vehicle), np.float32(0))[None]
        return found

    def _search(self, grey: np.ndarray, scale: float, ox: float, oy: float, max_boxes: int) -> np.ndarray:
        """Rows in ``grey`` (searched at ``scale``) as (K, 5) boxes + score, offset by (ox, oy)."""
        c = self.config
        level = grey
        if scale != 1.0:
            size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
            level = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        rows = []
        for k in range(c.levels):
            if k:
                if min(level.shape) < 2 * c.char_h_min:
                    break
                level = cv2.pyrDown(level)
            f = np.array([2.0**k / scale] * 5 + [1.0])  # to input pixels; the score stays
            for ink in self._inks(level, k):
                rows += [np.array(r) * f for r in self._rows(level, ink)]
        if not rows:
            return np.zeros((0, 5), np.float32)
        x1, y1, x2, y2, hc, score = np.array(rows).T
        rw = x2 - x1
        bw = np.maximum(rw + 2 * np.maximum(0.0, c.row_span * hc - rw) + 2 * c.row_pad * hc, c.plate_w * hc)
        cx, cy, bh = (x1 + x2) / 2 + ox, (y1 + y2) / 2 - c.plate_dy * hc + oy, c.plate_h * hc
        out = _merge(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, score], 1).astype(np.float32))
        return out[np.argsort(-out[:, 4])[:max_boxes]]

    def _inks(self, g: np.ndarray, level: int) -> list[np.ndarray]:
        """Binary ink images of one level, horizontal runs removed: dark ink, then its complement."""
        c = self.config
        if min(g.shape) < c.block:
            return []
        dark = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, c.block, c.offset)
        inks = [dark] if level >= c.light_ink_levels else [dark, cv2.bitwise_not(dark)]
        return [cv2.subtract(i, cv2.morphologyEx(i, cv2.MORPH_OPEN, self._line_kernel)) for i in inks]

    def _rows(self, g: np.ndarray, ink: np.ndarray) -> list[tuple[float, float, float, float, float, float]]:
        """Accepted character rows of one ink image: (x1, y1, x2, y2, char height, score)."""
        c = self.config
        st = _blob_stats(ink)
        x, y, w, h, a = st.T
        is_char = (
            (h >= c.char_h_min)
            & (h <= c.char_h_max)
            & (w <= 1.2 * h)
            & (8 * w >= h)
            & (a >= 0.18 * w * h)
            & (a <= 0.9 * w * h)
        )
        idx = np.flatnonzero(is_char)
        if len(idx) < c.min_chars:
            return []
        idx = idx[np.argsort(x[idx], kind="stable")]
        lab = _link(x[idx], y[idx], w[idx], h[idx], c.max_gap)
        # characters of rows long enough, sorted by row then x
        labels, counts = np.unique(lab, return_counts=True)
        long_rows = labels[counts >= c.min_chars]
        if len(long_rows) == 0:
            return []
        sel = np.flatnonzero(np.isin(lab, long_rows))
        sel = sel[np.argsort(lab[sel], kind="stable")]
        _, starts, n = np.unique(lab[sel], return_index=True, return_counts=True)
        m = idx[sel]
        rx, ry, rw, rh = x[m], y[m], w[m], h[m]
        grp = np.repeat(np.arange(len(n)), n)
        hc = np.add.reduceat(rh, starts) / n
        x1 = np.minimum.reduceat(rx, starts)
        x2 = np.maximum.reduceat(rx + rw, starts)
        y1 = np.minimum.reduceat(ry, starts)
        y2 = np.maximum.reduceat(ry + rh, starts)
        aspect = np.add.reduceat(rw / rh, starts) / n
        h_dev = np.sqrt(np.maximum(np.add.reduceat(rh * rh, starts) / n - hc * hc, 0)) / hc
        xc = rx + rw / 2
        line_dev = (_group_line_dev(xc, ry, grp, starts, n) + _group_line_dev(xc, ry + rh, grp, starts, n)) / (2 * hc)
        ok = (
            (x2 - x1 >= 1.3 * hc)
            & (x2 - x1 <= 8 * hc)
            & (aspect <= c.max_char_aspect)
            & (h_dev <= c.max_height_dev)
            & (line_dev <= c.max_line_dev)
        )
        if not ok.any():
            return []
        # clutter: other blobs (>= 2 px) whose centre lies within 0.6 hc of the row's box
        blobs = a >= 2
        counts_map = _count_grid(x[blobs] + w[blobs] / 2, y[blobs] + h[blobs] / 2, g.shape)
        out = []
        for i in np.flatnonzero(ok):
            mgn = 0.6 * hc[i]
            near = _box_count(counts_map, x1[i] - mgn, y1[i] - mgn, x2[i] + mgn, y2[i] + mgn)
            clutter = (near - n[i]) / n[i]
            if clutter > c.max_clutter:
                continue
            win = np.s_[int(y1[i]) : int(y2[i]), int(x1[i]) : int(x2[i])]
            fg = ink[win] > 0
            if fg.all() or not fg.any():
                continue
            contrast = abs(float(g[win][fg].mean()) - float(g[win][~fg].mean()))
            if contrast < c.min_contrast:
                continue
            score = n[i] + contrast / 20.0 - clutter / 2.0 - 10.0 * line_dev[i]
            out.append((float(x1[i]), float(y1[i]), float(x2[i]), float(y2[i]), float(hc[i]), float(score)))
        return out


def _blob_stats(ink: np.ndarray) -> np.ndarray:
    """(K, 5) float32 x, y, w, h, area of the 4-connected ink blobs.

    Diagonal-only contacts are cut first so that the (about 40 % faster)
    8-connected labelling with 16-bit labels gives nearly the 4-connected blobs.
    """
    a, b, c, d = ink[:-1, :-1], ink[:-1, 1:], ink[1:, :-1], ink[1:, 1:]
    cut1 = cv2.bitwise_and(cv2.bitwise_and(a, d), cv2.bitwise_not(cv2.bitwise_or(b, c)))
    cut2 = cv2.bitwise_and(cv2.bitwise_and(b, c), cv2.bitwise_not(cv2.bitwise_or(a, d)))
    ink = ink.copy()
    ink[1:, 1:] = cv2.subtract(ink[1:, 1:], cut1)
    ink[1:, :-1] = cv2.subtract(ink[1:, :-1], cut2)
    try:
        _, _, st, _ = cv2.connectedComponentsWithStatsWithAlgorithm(ink, 8, cv2.CV_16U, cv2.CCL_DEFAULT)
    except cv2.error:  # more than 65535 blobs
        _, _, st, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return st[1:].astype(np.float32)


def _link(x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, max_gap: float) -> np.ndarray:
    """Row label of each blob (blobs sorted by x): neighbours of similar height on one line are linked."""
    n = len(x)
    k = min(_LINK_NEIGHBOURS, n - 1)
    a_ = np.repeat(np.arange(n), k)
    b_ = a_ + np.tile(np.arange(1, k + 1), n)
    a_, b_ = a_[b_ < n], b_[b_ < n]
    hm = np.maximum(h[a_], h[b_])
    gap = x[b_] - (x[a_] + w[a_])
    cy = y + h / 2
    link = (
        (hm < 1.5 * np.minimum(h[a_], h[b_]))
        & (np.abs(cy[a_] - cy[b_]) < 0.35 * hm)
        & (gap > -0.3 * hm)
        & (gap < max_gap * hm)
    )
    return _groups(n, a_[link], b_[link])


def _group_line_dev(xc: np.ndarray, v: np.ndarray, grp: np.ndarray, starts: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per group: mean absolute residual of ``v`` from its least-squares line over ``xc``."""
    xm = xc - (np.add.reduceat(xc, starts) / n)[grp]
    vm = v - (np.add.reduceat(v, starts) / n)[grp]
    den = np.add.reduceat(xm * xm, starts)
    slope = np.divide(np.add.reduceat(xm * vm, starts), den, out=np.zeros_like(den), where=den > 0)
    return np.add.reduceat(np.abs(vm - slope[grp] * xm), starts) / n


_GRID = 4  # cell size (px) of the blob-count grid


def _count_grid(cx: np.ndarray, cy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Integral image, over cells of _GRID px, of the number of blob centres."""
    gh, gw = shape[0] // _GRID + 1, shape[1] // _GRID + 1
    cells = (cy // _GRID).astype(np.int64) * gw + (cx // _GRID).astype(np.int64)
    return cv2.integral(np.bincount(cells, minlength=gh * gw).reshape(gh, gw).astype(np.float64))


def _box_count(integral: np.ndarray, x1: float, y1: float, x2: float, y2: float) -> float:
    """Blob centres in the cells that the box overlaps."""
    gh, gw = integral.shape[0] - 1, integral.shape[1] - 1
    c1, c2 = (min(max(int(v // _GRID), 0), gw) for v in (x1, x2 + _GRID))
    r1, r2 = (min(max(int(v // _GRID), 0), gh) for v in (y1, y2 + _GRID))
    return float(integral[r2, c2] - integral[r1, c2] - integral[r2, c1] + integral[r1, c1])


def _merge(found: np.ndarray) -> np.ndarray:
    """Merge (K, 5) boxes + scores lying mostly (> 60 %) inside a larger one into it (keeping the best score)."""
    area = (found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1])
    kept: list[np.ndarray] = []
    for i in np.argsort(-area):
        b = found[i]
        for k in kept:
            iw = min(k[2], b[2]) - max(k[0], b[0])
            ih = min(k[3], b[3]) - max(k[1], b[1])
            if iw > 0 and ih > 0 and iw * ih > 0.6 * area[i]:
                k[:2] = np.minimum(k[:2], b[:2])
                k[2:4] = np.maximum(k[2:4], b[2:4])
                k[4] = max(k[4], b[4])
                break
        else:
            kept.append(b.copy())
    return np.array(kept, np.float32).reshape(-1, 5)
