"""Simpler plate locators, measured against PlateLocator by eval_plates.py --locator.

morph  the textbook localisation: horizontal Sobel gradient (or black-hat),
       Otsu threshold, horizontal closing, contours filtered by aspect ratio
       1.5-6, height and fill ratio, on two pyramid levels; boxes padded.
mser   MSER text-like blobs grouped into rows (OpenCV's MSER, then the same
       row linking and box geometry as PlateLocator, without its row checks).
prior  only the geometric prior of each vehicle box (needs vehicle boxes).
"""

from __future__ import annotations

import cv2
import numpy as np

from vigil.redaction.plates import PlateLocator, PlateLocatorConfig, _link


class MorphLocator:
    def __init__(self, mode: str = "sobel", close_w: int = 15, work_long_side: int = 960) -> None:
        self.mode, self.close_w, self.work = mode, close_w, work_long_side

    def _level(self, g: np.ndarray) -> list[tuple[int, int, int, int]]:
        if self.mode == "sobel":
            e = cv2.convertScaleAbs(cv2.Sobel(g, cv2.CV_16S, 1, 0, ksize=3))
        else:
            e = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (13, 5)))
        _, b = cv2.threshold(e, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        b = cv2.morphologyEx(b, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (self.close_w, 3)))
        b = cv2.morphologyEx(b, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5)))
        contours, _ = cv2.findContours(b, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        out = []
        for cnt in contours:
            x, y, w, h = cv2.boundingRect(cnt)
            if 8 <= h <= 80 and 1.5 <= w / h <= 6 and cv2.contourArea(cnt) >= 0.45 * w * h:
                out.append((x, y, x + w, y + h))
        return out

    def locate(self, image: np.ndarray, vehicle_xyxy: np.ndarray | None = None) -> np.ndarray:
        g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        s = min(1.0, self.work / max(g.shape))
        if s < 1:
            g = cv2.resize(g, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        boxes = []
        for k in range(2):
            if k:
                g = cv2.pyrDown(g)
            for x1, y1, x2, y2 in self._level(g):
                w, h = x2 - x1, y2 - y1
                boxes.append(np.array([x1 - 0.25 * w, y1 - 0.6 * h, x2 + 0.25 * w, y2 + 0.6 * h]) * 2**k / s)
        return np.array(boxes, np.float32).reshape(-1, 4)


class MserLocator:
    def __init__(self, work_long_side: int = 960) -> None:
        self.work = work_long_side
        self.mser = cv2.MSER_create(delta=5, min_area=20, max_area=3000)
        self.geom = PlateLocator(PlateLocatorConfig())

    def locate(self, image: np.ndarray, vehicle_xyxy: np.ndarray | None = None) -> np.ndarray:
        c = self.geom.config
        g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        s = min(1.0, self.work / max(g.shape))
        if s < 1:
            g = cv2.resize(g, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        _, bbs = self.mser.detectRegions(g)
        if len(bbs) < 3:
            return np.zeros((0, 4), np.float32)
        x, y, w, h = (bbs[:, i].astype(np.float32) for i in range(4))
        ok = (h >= 6) & (h <= 60) & (w <= 1.2 * h) & (8 * w >= h)
        x, y, w, h = x[ok], y[ok], w[ok], h[ok]
        o = np.argsort(x, kind="stable")
        x, y, w, h = x[o], y[o], w[o], h[o]
        lab = _link(x, y, w, h, c.max_gap)
        boxes = []
        for g_ in np.unique(lab):
            m = lab == g_
            if m.sum() < c.min_chars:
                continue
            hc = float(np.median(h[m]))
            x1, x2 = float(x[m].min()), float((x[m] + w[m]).max())
            y1, y2 = float(y[m].min()), float((y[m] + h[m]).max())
            if not (1.3 * hc <= x2 - x1 <= 8 * hc):
                continue
            rw = x2 - x1
            bw = max(rw + 2 * max(0.0, c.row_span * hc - rw) + 2 * c.row_pad * hc, c.plate_w * hc)
            cx, cy, bh = (x1 + x2) / 2, (y1 + y2) / 2 - c.plate_dy * hc, c.plate_h * hc
            boxes.append(np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]) / s)
        return np.array(boxes, np.float32).reshape(-1, 4)


class PriorLocator:
    def __init__(self) -> None:
        self.geom = PlateLocator()

    def locate(self, image: np.ndarray, vehicle_xyxy: np.ndarray | None = None) -> np.ndarray:
        if vehicle_xyxy is None or len(vehicle_xyxy) == 0:
            return np.zeros((0, 4), np.float32)
        return np.array([self.geom.prior_box(v) for v in vehicle_xyxy], np.float32)


def build(name: str) -> object:
    return {
        "morph": MorphLocator,
        "morph-blackhat": lambda: MorphLocator("blackhat"),
        "mser": MserLocator,
        "prior": PriorLocator,
    }[name]()
