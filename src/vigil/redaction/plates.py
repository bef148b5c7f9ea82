"""Licence-plate regions without a plate model.

No licence-plate detector with a usable licence ships in any package registry,
so plates are found the classical way: a plate is a short row of three or more
dark-on-light (or light-on-dark) character blobs of the same height, aligned on
a common top and bottom line, with a clear contrast to the plate background.

Search, per level of a small image pyramid (so characters of 6 to 24 px tall
are looked for at 1x, 2x and 4x that size):

1. adaptive (local-mean) threshold, once per polarity;
2. long horizontal runs (plate frame edges, bumper lines) are removed so that
   characters touching the frame come apart from it;
3. connected components with a character's shape are kept and linked to their
   right-hand neighbours of similar height on the same line;
4. rows of linked characters are accepted by their alignment, contrast and
   how cluttered their surroundings are (random texture such as asphalt or
   foliage makes plenty of blobs that are neither aligned nor alone).

Every accepted row becomes a padded box with a plate's proportions (about 4.8 x
2.5 character heights), so that blurring the box covers the plate's border too.

When vehicle boxes are given, only their lower part is searched, each crop
rescaled so the vehicle is at most ``vehicle_width`` px wide, and a vehicle in
which nothing is found gets a geometric prior box at its bottom centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_LINK_NEIGHBOURS = 8  # candidates (in x order) tested as the next character of a row


@dataclass(frozen=True)
class PlateLocatorConfig:
    """Thresholds of :class:`PlateLocator`; sizes are in pixels of a pyramid level.

    Attributes
    ----------
    work_long_side : int
        Frames with a longer side are downscaled to it before the whole-image search.
    levels : int
        Pyramid levels (each half the size of the previous one).
    light_ink_levels : int
        Levels (from the finest) also searched for light characters on a dark plate.
    connectivity : int
        Pixel connectivity (4 or 8) of character blobs.
    block : int
        Window (odd, px) of the adaptive threshold.
    offset : float
        Grey levels a pixel must differ from its local mean to be ink.
    line_len : int
        Horizontal runs of ink at least this long are frame edges, not characters.
    char_h_min, char_h_max : int
        Character heights searched at every level.
    min_chars : int
        Characters a row needs.
    max_gap : float
        Largest gap between neighbouring characters, in character heights.
    min_contrast : float
        Least mean grey difference between ink and background within the row.
    max_char_aspect : float
        Largest median width / height of the row's characters.
    max_line_dev : float
        Largest mean deviation of the characters' tops and bottoms from a straight
        line, in character heights.
    max_height_dev : float
        Largest standard deviation of the character heights, relative to their median.
    max_clutter : float
        Largest number of other blobs around the row, per character.
    plate_w, plate_h : float
        Size of the returned box in character heights (the row widened by
        ``row_pad`` character heights if that is wider).
    row_pad : float
        Margin added to the row's width, in character heights.
    row_span : float
        Width of a full row, in character heights: a shorter row may be part of
        one, so the box is widened by the missing width on both sides.
    plate_dy : float
        Upward shift of the box centre from the row centre, in character heights.
    vehicle_top : float
        Part of a vehicle box above this fraction of its height is not searched.
    vehicle_margin : float
        Margin added on each side of a vehicle box, fraction of its width.
    vehicle_width : int
        Vehicle crops are downscaled so the vehicle is at most this wide.
    vehicle_prior : bool
        Return a prior box for a vehicle in which nothing was found.
    prior_w, prior_h : float
        Prior box size, fractions of the vehicle's width and height.
    prior_cy : float
        Prior box centre, fraction of the vehicle's height from its top.
    prior_min_w : float
        Vehicles narrower than this (px) get no prior (too small to carry a legible plate).
    max_boxes : int
        At most this many boxes (the most plate-like rows) per frame searched whole.
    max_boxes_per_vehicle : int
        At most this many boxes per vehicle.
    """

    work_long_side: int = 960
    levels: int = 2
    light_ink_levels: int = 1
    connectivity: int = 4
    block: int = 15
    offset: float = 5.0
    line_len: int = 20
    char_h_min: int = 6
    char_h_max: int = 24
    min_chars: int = 3
    max_gap: float = 1.2
    min_contrast: float = 20.0
    max_char_aspect: float = 0.9
    max_line_dev: float = 0.12
    max_height_dev: float = 0.22
    max_clutter: float = 8.0
    plate_w: float = 4.8
    plate_h: float = 2.5
    row_pad: float = 0.6
    row_span: float = 3.6
    plate_dy: float = 0.1
    vehicle_top: float = 0.35
    vehicle_margin: float = 0.05
    vehicle_width: int = 400
    vehicle_prior: bool = True
    prior_w: float = 0.5
    prior_h: float = 0.25
    prior_cy: float = 0.78
    prior_min_w: float = 24.0
    max_boxes: int = 16
    max_boxes_per_vehicle: int = 3


def _groups(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Component label (smallest member index) of each of ``n`` nodes linked by edges i-j."""
    lab = np.arange(n)
    if len(i) == 0:
        return lab
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

    # -- public ------------------------------------------------------------------
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
            s = min(1.0, self.config.work_long_side / max(h, w))
            found = self._search(grey, s, 0.0, 0.0, self.config.max_boxes)
        else:
            found = np.concatenate([self._search_vehicle(grey, v) for v in vehicles])
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

    # -- search ------------------------------------------------------------------
    def _search_vehicle(self, grey: np.ndarray, vehicle: np.ndarray) -> np.ndarray:
        c = self.config
        h, w = grey.shape
        x1, y1, x2, y2 = (float(v) for v in vehicle)
        vw, vh = x2 - x1, y2 - y1
        if vw < 2 or vh < 2:
            return np.zeros((0, 5), np.float32)
        cx1 = int(max(0, np.floor(x1 - c.vehicle_margin * vw)))
        cx2 = int(min(w, np.ceil(x2 + c.vehicle_margin * vw)))
        cy1 = int(max(0, np.floor(y1 + c.vehicle_top * vh)))
        cy2 = int(min(h, np.ceil(y2 + 0.05 * vh)))
        found = np.zeros((0, 5), np.float32)
        if cx2 - cx1 >= c.char_h_min * 3 and cy2 - cy1 >= c.char_h_min:
            s = min(1.0, c.vehicle_width / max(vw, 1.0))
            found = self._search(grey[cy1:cy2, cx1:cx2], s, cx1, cy1, c.max_boxes_per_vehicle)
        if len(found) == 0 and c.vehicle_prior and vw >= c.prior_min_w:
            found = np.append(self.prior_box(vehicle), np.float32(0))[None]
        return found

    def _search(self, grey: np.ndarray, scale: float, ox: float, oy: float, max_boxes: int) -> np.ndarray:
        """Rows in ``grey`` (searched at ``scale``) as (K, 5) boxes + score, offset by (ox, oy)."""
        c = self.config
        level = grey
        if scale < 1.0:
            size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
            level = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        rows = []
        for k in range(c.levels):
            if k:
                if min(level.shape) < 2 * c.char_h_min:
                    break
                level = cv2.pyrDown(level)
            f = 2.0**k / scale
            for ink in self._inks(level, k):
                for x1, y1, x2, y2, hc, score in self._rows(level, ink):
                    rows.append(self._plate_box(x1 * f, y1 * f, x2 * f, y2 * f, hc * f, score))
        if not rows:
            return np.zeros((0, 5), np.float32)
        out = np.array(rows, np.float32)
        out[:, [0, 2]] += ox
        out[:, [1, 3]] += oy
        out = _merge(out)
        return out[np.argsort(-out[:, 4])[:max_boxes]]

    def _plate_box(self, x1: float, y1: float, x2: float, y2: float, hc: float, score: float) -> list[float]:
        c = self.config
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 - c.plate_dy * hc
        rw = x2 - x1
        bw = max(rw + 2 * max(0.0, c.row_span * hc - rw) + 2 * c.row_pad * hc, c.plate_w * hc)
        bh = c.plate_h * hc
        return [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, score]

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
        st = _blob_stats(ink, c.connectivity)
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
            ix1, iy1, ix2, iy2 = int(x1[i]), int(y1[i]), int(x2[i]), int(y2[i])
            crop = g[iy1:iy2, ix1:ix2]
            fg = ink[iy1:iy2, ix1:ix2] > 0
            n_fg = int(np.count_nonzero(fg))
            if n_fg == 0 or n_fg == fg.size:
                continue
            sum_fg = float(crop[fg].sum())
            mean_fg = sum_fg / n_fg
            mean_bg = (float(crop.sum()) - sum_fg) / (fg.size - n_fg)
            contrast = abs(mean_fg - mean_bg)
            if contrast < c.min_contrast:
                continue
            score = n[i] + contrast / 20.0 - clutter / 2.0 - 10.0 * line_dev[i]
            out.append((float(x1[i]), float(y1[i]), float(x2[i]), float(y2[i]), float(hc[i]), float(score)))
        return out


def _blob_stats(ink: np.ndarray, connectivity: int) -> np.ndarray:
    """(K, 5) float32 x, y, w, h, area of the ink blobs (16-bit labels when they fit: faster)."""
    try:
        _, _, st, _ = cv2.connectedComponentsWithStatsWithAlgorithm(ink, connectivity, cv2.CV_16U, cv2.CCL_DEFAULT)
    except cv2.error:  # more than 65535 blobs
        _, _, st, _ = cv2.connectedComponentsWithStats(ink, connectivity=connectivity)
    return st[1:].astype(np.float32)


def _link(x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, max_gap: float) -> np.ndarray:
    """Row label of each blob (blobs sorted by x): neighbours of similar height on one line are linked."""
    n = len(x)
    cy = y + h / 2
    ii, jj = [], []
    for k in range(1, min(_LINK_NEIGHBOURS, n - 1) + 1):
        a_, b_ = np.arange(n - k), np.arange(k, n)
        hm = np.maximum(h[a_], h[b_])
        gap = x[b_] - (x[a_] + w[a_])
        link = (
            (hm < 1.5 * np.minimum(h[a_], h[b_]))
            & (np.abs(cy[a_] - cy[b_]) < 0.35 * hm)
            & (gap > -0.3 * hm)
            & (gap < max_gap * hm)
        )
        ii.append(a_[link])
        jj.append(b_[link])
    return _groups(n, np.concatenate(ii), np.concatenate(jj))


def _group_line_dev(xc: np.ndarray, v: np.ndarray, grp: np.ndarray, starts: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per group: mean absolute residual of ``v`` from its least-squares line over ``xc``."""
    xm = xc - (np.add.reduceat(xc, starts) / n)[grp]
    vm = v - (np.add.reduceat(v, starts) / n)[grp]
    den = np.add.reduceat(xm * xm, starts)
    slope = np.divide(np.add.reduceat(xm * vm, starts), den, out=np.zeros_like(den), where=den > 0)
    return np.add.reduceat(np.abs(vm - slope[grp] * xm), starts) / n


_GRID = 4  # cell size (px) of the blob-count grid


def _count_grid(cx: np.ndarray, cy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Integral image (cells of _GRID px) of the number of blob centres."""
    gh, gw = shape[0] // _GRID + 1, shape[1] // _GRID + 1
    cell = (cy // _GRID).astype(np.int64) * gw + (cx // _GRID).astype(np.int64)
    grid = np.bincount(cell, minlength=gh * gw).reshape(gh, gw)
    integral = np.zeros((gh + 1, gw + 1), np.int64)
    integral[1:, 1:] = grid.cumsum(0).cumsum(1)
    return integral


def _box_count(integral: np.ndarray, x1: float, y1: float, x2: float, y2: float) -> int:
    """Blob centres counted in the cells overlapping the box."""
    gh, gw = integral.shape[0] - 1, integral.shape[1] - 1
    c1 = int(np.clip(x1 // _GRID, 0, gw))
    r1 = int(np.clip(y1 // _GRID, 0, gh))
    c2 = int(np.clip(x2 // _GRID + 1, 0, gw))
    r2 = int(np.clip(y2 // _GRID + 1, 0, gh))
    return int(integral[r2, c2] - integral[r1, c2] - integral[r2, c1] + integral[r1, c1])


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
