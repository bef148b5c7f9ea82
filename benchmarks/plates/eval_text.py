#!/usr/bin/env python3
"""Plates as text vs the classical locator, and their combinations, on OpenALPR US.

A script, not a test. For each photo of ``../shared/data/openalpr_us/us`` (AGPL
data, read in place, never copied) NanoDet's vehicle boxes (score >= 0.3 as
the engine uses them, or ``--vehicle-threshold``) are made once; each variant's plate boxes are obscured
with Vigil's own ``obscure_boxes`` (blur, strength 5), encoded as JPEG q95 as
``vigil redact`` writes them, and scored with the functions of
``../shared/tools/redaction_score.py``. Figures are printed for the even and
odd photos (by sorted name) and for all of them; ``ms`` is the median time of
``locate`` per photo (one run each, on whatever the machine was doing).

    .venv/bin/python benchmarks/plates/eval_text.py [--variants NAME ...] [--threads N] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import io
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vigil.detection.coco import VEHICLE_CLASSES
from vigil.detection.nanodet import NanoDet
from vigil.detection.text import TextDetector
from vigil.redaction.obscure import obscure_boxes
from vigil.redaction.plate_text import PlateTextConfig, TextPlateFinder
from vigil.redaction.plates import PlateLocator

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "openalpr_us" / "us"
SCORER = ROOT.parent / "shared" / "tools" / "redaction_score.py"

_spec = importlib.util.spec_from_file_location("redaction_score", SCORER)
SC = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(SC)  # type: ignore[union-attr]

VARIANTS: dict[str, dict | None] = {
    "classical only (before)": None,
    "text, classical fallback": {"fallback": "classical"},
    "text, prior fallback": {"fallback": "prior"},
    "text only": {"fallback": "none"},
    "text + classical on every vehicle": {"fallback": "union"},
    "text at 480 px, classical fallback": {"fallback": "classical", "vehicle_width": 480},
    "text at 240 px, classical fallback": {"fallback": "classical", "vehicle_width": 240},
}


def score(path: Path, gt: list, red: np.ndarray) -> tuple[bool, int, int]:
    _ok, buf = cv2.imencode(".jpg", red, [cv2.IMWRITE_JPEG_QUALITY, 95])
    y0 = SC.luma(str(path))
    a = np.asarray(Image.open(io.BytesIO(buf.tobytes())).convert("RGB"), dtype=np.float32)
    y1 = 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]
    H, W = y0.shape  # noqa: N806 (the scorer's names)
    chg = SC.change_map(y0, y1)
    allowed = np.zeros((H, W), bool)
    hits = []
    for b in gt:
        dx, dy = int(np.ceil(0.1 * (b[2] - b[0]))), int(np.ceil(0.1 * (b[3] - b[1])))
        x1, y1_, x2, y2 = SC.clip_box((b[0] - dx, b[1] - dy, b[2] + dx, b[3] + dy), W, H)
        allowed[y1_:y2, x1:x2] = True
        hits.append(SC.box_fraction(chg, y0, b, W, H)[0] >= SC.COVER_FRAC)
    return all(hits), int((~allowed).sum()), int((chg & ~allowed).sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="*", help="substrings of variant names; default all")
    ap.add_argument("--config", action="append", default=[], help="ad-hoc variant: JSON of PlateTextConfig fields")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default all cores)")
    ap.add_argument("--vehicle-threshold", type=float, default=0.3, help="least NanoDet score of a vehicle")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args(argv)
    gt = SC.load_openalpr(str(DATA))
    stems = sorted(gt)
    nanodet = NanoDet()
    photos = []
    for stem in stems:
        path = Path(SC.find_image(str(DATA), stem))
        img = cv2.imread(str(path))
        o = nanodet.detect(img)
        keep = np.isin(o.data["label"], list(VEHICLE_CLASSES)) & (o.confidence >= a.vehicle_threshold)
        photos.append((path, img, o.xyxy[keep], gt[stem]))
    text = TextDetector(box_threshold=0.35, threads=a.threads)
    variants = dict(VARIANTS)
    if a.config:
        variants = {f"custom {c}": json.loads(c) for c in a.config}
    elif a.variants:
        variants = {k: v for k, v in variants.items() if any(s in k for s in a.variants)}
    results = {}
    for name, change in variants.items():
        finder = (
            PlateLocator()
            if change is None
            else TextPlateFinder(text, dataclasses.replace(PlateTextConfig(), **change))
        )
        rows, ts = [], []
        for path, img, veh, boxes in photos:
            t = time.perf_counter()
            found = finder.locate(img, veh if len(veh) else None) if len(veh) else np.zeros((0, 4), np.float32)
            ts.append(time.perf_counter() - t)
            rows.append((*score(path, boxes, obscure_boxes(img, found, "blur", 5)), len(found)))
        r = {}
        for key, sel in (("even", slice(0, None, 2)), ("odd", slice(1, None, 2)), ("all", slice(None))):
            part = rows[sel]
            r[key] = {
                "recall": round(float(np.mean([p[0] for p in part])), 4),
                "over": round(sum(p[2] for p in part) / max(1, sum(p[1] for p in part)), 4),
                "boxes_per_image": round(float(np.mean([p[3] for p in part])), 2),
            }
        r["ms_median"] = round(1000 * float(np.median(ts)), 1)
        results[name] = r
        print(
            f"{name:<40} "
            + "  ".join(f"{k}: R {r[k]['recall']:.3f} over {r[k]['over']:.4f}" for k in ("even", "odd", "all"))
            + f"  boxes/img {r['all']['boxes_per_image']:.2f}  ms {r['ms_median']}",
            flush=True,
        )
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
