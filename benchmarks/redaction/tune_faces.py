#!/usr/bin/env python3
"""Face-search tuning on the dev photos, with a held-out half.

A script, not a test. Detections are made once and cached (CenterFace at a low
threshold at several scales, NanoDet people and vehicles, plate boxes); each
variant then builds its regions from the cache, obscures them with Vigil's own
``obscure_boxes``, encodes the result as JPEG q95 (as ``vigil redact`` does)
and scores it with the functions of ``../shared/tools/redaction_score.py``.

Photos: ``faces_kaggle`` (427, VOC) and ``dlib_faces_voc`` (11, dlib imglab
XML). Split: the photos of each set sorted by name; odd positions are the
tuning half, even positions the held-out half. Figures are printed for both
halves and for the whole of ``faces_kaggle`` (the set the redaction benchmark
reports). Regions of the final choice must match what ``vigil redact`` does:
the closing check is ``bench_redaction.py``, not this script.

    .venv/bin/python benchmarks/redaction/tune_faces.py [--variants NAME ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import pickle
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vigil.core import boxes
from vigil.detection.coco import PERSON_CLASSES, VEHICLE_CLASSES
from vigil.redaction.heads import covered_share, head_boxes, uncovered_heads
from vigil.redaction.obscure import obscure_boxes

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
SCORER = ROOT.parent / "shared" / "tools" / "redaction_score.py"
CACHE = ROOT / ".bench" / "tune_faces_cache.pkl"
SCALES = (0, 640, 800, 960, 1120)  # long side searched; 0 = the image's own size
RAW_THRESHOLD = 0.05


def _scorer():
    spec = importlib.util.spec_from_file_location("redaction_score", SCORER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


SC = _scorer()


# --------------------------------------------------------------------------- data
def load_items() -> list[dict]:
    """Annotated photos of both sets, each with its split ("tune" or "held")."""
    items = []
    kaggle = DATA / "faces_kaggle"
    gt = SC.load_voc(str(kaggle / "annotations"))
    for i, stem in enumerate(sorted(gt)):
        path = SC.find_image(str(kaggle / "images"), stem)
        if path and gt[stem]:
            items.append(
                {"set": "kaggle", "stem": stem, "path": path, "boxes": gt[stem], "split": "tune" if i % 2 else "held"}
            )
    dlib = DATA / "dlib_faces_voc"
    dl: dict[str, list] = {}
    for xml in ("training.xml", "testing.xml"):
        if not (dlib / xml).is_file():
            continue
        for im in ET.parse(dlib / xml).getroot().iter("image"):
            for b in im.iter("box"):
                if b.get("ignore") == "1":
                    continue
                x, y, w, h = (int(b.get(k)) for k in ("left", "top", "width", "height"))
                dl.setdefault(im.get("file"), []).append((x, y, x + w, y + h, "face"))
    for i, name in enumerate(sorted(dl)):
        items.append(
            {
                "set": "dlib",
                "stem": Path(name).stem,
                "path": str(dlib / name),
                "boxes": dl[name],
                "split": "tune" if i % 2 else "held",
            }
        )
    return items


# --------------------------------------------------------------------------- cache
def build_cache(items: list[dict]) -> dict:
    """Raw detections per photo: faces per searched scale, objects, plate boxes."""
    from vigil.detection.base import build_detector
    from vigil.detection.centerface import CenterFace
    from vigil.detection.config import ObjectDetectorConfig
    from vigil.redaction.plates import PlateLocator

    faces = CenterFace(threshold=RAW_THRESHOLD)
    objects = build_detector(ObjectDetectorConfig())
    plates = PlateLocator()
    cache = {}
    for n, it in enumerate(items):
        img = cv2.imread(it["path"])
        h, w = img.shape[:2]
        entry: dict = {"faces": {}}
        for long_side in SCALES:
            s = 1.0 if long_side == 0 else long_side / max(h, w)
            d = faces.detect(img, s)
            entry["faces"][long_side] = (d.xyxy, d.confidence)
        o = objects.detect(img)
        entry["objects"] = (o.xyxy, o.confidence, np.asarray(o.data["label"]))
        veh = o[np.isin(o.data["label"], list(VEHICLE_CLASSES)) & (o.confidence >= 0.3)]
        entry["plates"] = plates.locate(img, veh.xyxy) if len(veh) else np.zeros((0, 4), np.float32)
        cache[(it["set"], it["stem"])] = entry
        if n % 50 == 0:
            print(f"cached {n}/{len(items)}", file=sys.stderr, flush=True)
    return cache


# --------------------------------------------------------------------------- variants
BASE = {
    "threshold": 0.1,
    "scales": (800, 0),  # long sides searched (0 = own size); merged by NMS
    "max_upscale": 3.0,
    "nms": 0.3,
    "pad": 0.2,
    "pad_small": None,  # (min side px, pad) for faces smaller than that
    "heads": True,
    "person_threshold": 0.3,
    "head_pad": 0.15,
    "head_shape": (0.55, 0.4, 1.2),  # width share, height share, drop: see heads.head_boxes
    "skip_if_face_score": 0.5,  # a face this sure with its centre inside a head box explains it
    "explain_cover": None,  # or: faces (any score) covering this share of a head box explain it
    "plates": True,
}


def faces_of(entry: dict, shape: tuple[int, int], p: dict) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    parts_x, parts_s = [], []
    for long_side in p["scales"]:
        if long_side and long_side / max(h, w) > p["max_upscale"]:
            continue
        if long_side and long_side / max(h, w) <= 1.25:  # as the engine: a slight enlargement is not searched
            continue
        xyxy, sc = entry["faces"][long_side]
        keep = sc >= p["threshold"]
        parts_x.append(xyxy[keep])
        parts_s.append(sc[keep])
    if not parts_x:
        xyxy, sc = entry["faces"][0]
        keep = sc >= p["threshold"]
        parts_x, parts_s = [xyxy[keep]], [sc[keep]]
    xyxy, sc = np.concatenate(parts_x), np.concatenate(parts_s)
    if len(parts_x) > 1 and len(xyxy):
        k = boxes.nms(xyxy, sc, p["nms"])
        xyxy, sc = xyxy[k], sc[k]
    return xyxy, sc


def pad_faces(xyxy: np.ndarray, p: dict) -> np.ndarray:
    if p.get("pad_sides"):
        w = (xyxy[:, 2] - xyxy[:, 0])[:, None]
        h = (xyxy[:, 3] - xyxy[:, 1])[:, None]
        f = np.asarray(p["pad_sides"], np.float32)[None, :] * np.concatenate([w, h, w, h], axis=1)
        f += np.asarray(p.get("pad_px", (0, 0, 0, 0)), np.float32)[None, :]
        return xyxy + f * np.array([-1, -1, 1, 1], np.float32)
    out = boxes.pad(xyxy, p["pad"], min_px=2.0)
    if p["pad_small"] and len(xyxy):
        lim, pad_s = p["pad_small"]
        small = np.minimum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]) < lim
        out[small] = boxes.pad(xyxy[small], pad_s, min_px=2.0)
    return out


def regions(entry: dict, shape: tuple[int, int], p: dict) -> np.ndarray:
    xyxy, sc = faces_of(entry, shape, p)
    padded = pad_faces(xyxy, p)
    parts = [padded]
    if p["heads"]:
        ox, oc, ol = entry["objects"]
        people = ox[np.isin(ol, list(PERSON_CLASSES)) & (oc >= p["person_threshold"])]
        if len(people):
            heads = head_boxes(people, p["head_pad"], *p["head_shape"])
            keep = uncovered_heads(heads, padded[sc >= p["skip_if_face_score"]])
            if p["explain_cover"] is not None:
                keep &= covered_share(heads, padded) < p["explain_cover"]
            parts.append(heads[keep])
    if p["plates"]:
        parts.append(entry["plates"])
    out = np.concatenate(parts) if parts else np.zeros((0, 4), np.float32)
    h, w = shape
    return boxes.clip(out, w, h)


# --------------------------------------------------------------------------- scoring
_G: dict = {}


def _score_one(args: tuple[dict, dict]) -> dict:
    it, p = args
    entry = _G["cache"][(it["set"], it["stem"])]
    img = cv2.imread(it["path"])
    reg = regions(entry, img.shape[:2], p)
    red = obscure_boxes(img, reg, "blur", 5)
    _ok, buf = cv2.imencode(".jpg", red, [cv2.IMWRITE_JPEG_QUALITY, 95])
    y0 = SC.luma(it["path"])
    a = np.asarray(Image.open(io.BytesIO(buf.tobytes())).convert("RGB"), dtype=np.float32)
    y1 = 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]
    H, W = y0.shape  # noqa: N806 (the scorer's names)
    allowed = np.zeros((H, W), bool)
    for b in it["boxes"]:
        bw, bh = b[2] - b[0], b[3] - b[1]
        dx, dy = int(np.ceil(0.1 * bw)), int(np.ceil(0.1 * bh))
        x1, y1_, x2, y2 = SC.clip_box((b[0] - dx, b[1] - dy, b[2] + dx, b[3] + dy), W, H)
        allowed[y1_:y2, x1:x2] = True
    chg = SC.change_map(y0, y1)
    cov = []
    for b in it["boxes"]:
        frac, _ = SC.box_fraction(chg, y0, b, W, H)
        cov.append((min(b[2] - b[0], b[3] - b[1]), frac >= SC.COVER_FRAC))
    out = ~allowed
    return {"cov": cov, "out_px": int(out.sum()), "out_ch": int((chg & out).sum()), "regions": len(reg)}


def summarise(rows: list[dict]) -> dict:
    cov = [c for r in rows for c in r["cov"]]
    side = np.array([s for s, _ in cov])
    hit = np.array([h for _, h in cov], bool)
    res = {"boxes": len(cov), "recall": round(float(hit.mean()), 4)}
    for name, lo, hi in SC.BUCKETS:
        m = (side >= lo) & (side < hi)
        res[name] = round(float(hit[m].mean()), 4) if m.any() else None
    res["over"] = round(sum(r["out_ch"] for r in rows) / max(1, sum(r["out_px"] for r in rows)), 4)
    res["missed"] = int((~hit).sum())
    return res


def evaluate(items: list[dict], p: dict, pool: ProcessPoolExecutor) -> dict:
    rows = list(pool.map(_score_one, [(it, p) for it in items], chunksize=8))
    out = {}
    for key, sel in (
        ("kaggle tune", lambda it: it["set"] == "kaggle" and it["split"] == "tune"),
        ("kaggle held", lambda it: it["set"] == "kaggle" and it["split"] == "held"),
        ("kaggle all", lambda it: it["set"] == "kaggle"),
        ("dlib all", lambda it: it["set"] == "dlib"),
    ):
        out[key] = summarise([r for r, it in zip(rows, items, strict=True) if sel(it)])
    return out


PAD = {"pad_sides": (0.12, 0.05, 0.12, 0.2), "pad_px": (1, 1, 2, 2)}
CHOSEN = {**PAD, "threshold": 0.085, "person_threshold": 0.4}
VARIANTS: dict[str, dict] = {
    "1 before (threshold 0.1, pad 0.2 all sides, persons >= 0.3)": {},
    "  faces only (no heads, no plates)": {"heads": False, "plates": False},
    "  pad 0.15 all sides": {"pad": 0.15},
    "  threshold 0.2": {"threshold": 0.2},
    "2 pad per side (0.12, 0.05, 0.12, 0.2) + (1, 1, 2, 2) px": PAD,
    "3 + threshold 0.085": {**PAD, "threshold": 0.085},
    "4 + head boxes only for persons >= 0.4 (chosen)": CHOSEN,
    "  chosen, threshold 0.06": {**CHOSEN, "threshold": 0.06},
    "  chosen, threshold 0.1": {**CHOSEN, "threshold": 0.1},
    "  chosen, searched at 960 px + own size": {**CHOSEN, "scales": (960, 0)},
    "  chosen, searched at 960 + 640 px + own size": {**CHOSEN, "scales": (960, 640, 0)},
    "  chosen, persons >= 0.5": {**CHOSEN, "person_threshold": 0.5},
    "  chosen, head explained by faces covering >= 0.5 of it": {**CHOSEN, "explain_cover": 0.5},
    "  chosen, smaller heads (0.45 w, 0.35 h)": {**CHOSEN, "head_shape": (0.45, 0.35, 1.2)},
    "  chosen, head pad 0.1": {**CHOSEN, "head_pad": 0.1},
    "  chosen, no heads": {**CHOSEN, "heads": False},
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="*", help="names (substrings) of variants to run; default all")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="ad-hoc variant from BASE")
    ap.add_argument("--grid", metavar="JSON", help='sweep: {"key": [values, ...], ...} over BASE (all combinations)')
    ap.add_argument("--json", help="write all figures here")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    items = load_items()
    cache = pickle.loads(CACHE.read_bytes()) if CACHE.is_file() else {}
    missing = [it for it in items if (it["set"], it["stem"]) not in cache]
    if missing:
        cache.update(build_cache(missing))
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_bytes(pickle.dumps(cache))
    _G["cache"] = cache
    variants = dict(VARIANTS)
    if a.set:
        extra = {}
        for kv in a.set:
            k, v = kv.split("=", 1)
            extra[k] = json.loads(v)
        extra = {k: tuple(v) if isinstance(v, list) else v for k, v in extra.items()}
        variants = {"custom " + json.dumps(extra): extra}
    if a.grid:
        import itertools

        grid = json.loads(a.grid)
        variants = {
            json.dumps(dict(zip(grid, combo, strict=True))): {
                k: tuple(v) if isinstance(v, list) else v for k, v in zip(grid, combo, strict=True)
            }
            for combo in itertools.product(*grid.values())
        }
    elif a.variants:
        variants = {k: v for k, v in variants.items() if any(s in k for s in a.variants)}
    results = {}
    with ProcessPoolExecutor(a.jobs) as pool:
        for name, change in variants.items():
            p = {**BASE, **change}
            results[name] = r = evaluate(items, p, pool)
            print(f"\n{name}")
            for key, s in r.items():
                buckets = " ".join(f"{b}:{s[b]:.3f}" if s[b] is not None else f"{b}:-" for b, _, _ in SC.BUCKETS)
                print(
                    f"  {key:<12} R {s['recall']:.4f}  {buckets}  over {s['over']:.4f}"
                    f"  missed {s['missed']}/{s['boxes']}"
                )
            sys.stdout.flush()
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
